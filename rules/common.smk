# Plumbing shared by all rules: config validation, wildcard constraints, input
# functions and the list of final targets. No science here (that is src/microprop).

import re

from snakemake.utils import validate

validate(config, "../workflow/schemas/config.schema.yaml")

DATASETS = ["ising", "ch"]
MODEL_IDS = config["models"]["ids"]


wildcard_constraints:
    dataset="|".join(DATASETS),
    shard=r"\d+",
    run=r"\d+",
    model=r"[a-z0-9_]+(-[a-z0-9_]+)*",
    frac=r"[0-9]*\.?[0-9]+",
    seed=r"\d+",


def logpath(rule, *wildcards):
    """results/logs/{rule}/{wildcard values}.log, one file per job."""
    name = "_".join(f"{{{w}}}" for w in wildcards) or rule
    return f"results/logs/{rule}/{name}.log"


def benchpath(rule, *wildcards):
    """results/benchmarks/{rule}/{wildcard values}.tsv, one file per job."""
    name = "_".join(f"{{{w}}}" for w in wildcards) or rule
    return f"results/benchmarks/{rule}/{name}.tsv"


def model_dir(dataset, model, frac, seed):
    return f"results/models/{dataset}/{model}/frac{frac}/seed{seed}"


def final_targets():
    """Everything `snakemake` builds by default, derived from the config."""
    targets = []
    for dataset in config["datasets"]:
        targets.append(f"results/data/{dataset}.h5")
        targets.append(f"results/figures/fig08_confusion_{dataset}.png")
    return targets


def ising_n_shards():
    c = config["ising"]
    return -(-c["n_images"] // c["shard_size"])


def ising_shard_size(shard):
    """Images in one shard: shard_size, the last one takes the remainder."""
    c = config["ising"]
    return min(c["shard_size"], c["n_images"] - shard * c["shard_size"])


def simulation_files(wildcards):
    """Input function of `assemble`: every simulation file of a dataset."""
    if wildcards.dataset == "ising":
        return [f"results/sims/ising/shard_{i}.h5" for i in range(ising_n_shards())]
    return [f"results/sims/ch/run_{i}.h5" for i in range(config["ch"]["n_runs"])]


def feature_of(model):
    """The feature set a feature-based model id uses: 'physfeat2-svr' -> 'physfeat2'."""
    return model.split("-")[0]


def model_metrics(dataset, models=None, frac="1.0", seed=0):
    """metrics.json paths of the given (default: configured) models for one dataset."""
    return [
        f"{model_dir(dataset, m, frac, seed)}/metrics.json"
        for m in (models or MODEL_IDS)
    ]
