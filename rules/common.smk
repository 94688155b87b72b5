# Plumbing shared by all rules: config validation, wildcard constraints, input
# functions and the list of final targets. No science here (that is src/microprop).

import re
import sys

from snakemake.utils import validate

from microprop import options, registry
from microprop import runtime as job_times
from microprop.ch.params import without_later_defaults
from microprop.config import check_config
from microprop.resources import ch_run_minutes, cnn_train_minutes, gpus_for, per_attempt

validate(config, "../workflow/schemas/config.schema.yaml")
check_config(config)  # relations between keys that the schema cannot express

DATASETS = ["ising", "ch", "cfd"]
MODEL_IDS = config["models"]["ids"]
FEATURES = registry.feature_names()
# minutes one CH run asks for on a cluster (resources scale with the retry attempt)
CH_RUN_MINUTES = ch_run_minutes(
    config["ch"]["n_cells"], config["ch"]["part1_steps"], config["ch"]["part2_steps"]
)


def n_shards(section):
    """Shards of a sharded dataset (ising, cfd): ceil(n_images / shard_size)."""
    c = config[section]
    return -(-c["n_images"] // c["shard_size"])


def shard_images(section, shard):
    """Images in one shard: shard_size, the last one takes the remainder."""
    c = config[section]
    return min(c["shard_size"], c["n_images"] - shard * c["shard_size"])


def numbers_below(n):
    """A wildcard pattern matching exactly 0, 1, ..., n - 1."""
    return "|".join(str(i) for i in range(n)) or "(?!)"


# Wildcards take only what the config defines: shards and runs that exist, known feature
# sets, and one spelling per fraction (frac1.0, never frac1 or frac1.00).
wildcard_constraints:
    dataset="|".join(DATASETS),
    shard=numbers_below(max(n_shards("ising"), n_shards("cfd"))),
    run=numbers_below(config["ch"]["n_runs"]),
    feature="|".join(FEATURES),
    model=r"[a-z0-9_]+(-[a-z0-9_]+)*",
    frac=r"1\.0|0\.[0-9]*[1-9]",
    seed=r"\d+",


# Settings that do not change any result: they reach the jobs as resources, never as
# params (a changed param reruns a job under Snakemake's default rerun triggers).
NOT_RESULT_KEYS = {"progress_every"}


def result_config(section):
    """A config section without its NOT_RESULT_KEYS (recorded in the dataset file), and
    for ch without the keys added later at their old values (microprop.ch.params)."""
    values = {k: v for k, v in config[section].items() if k not in NOT_RESULT_KEYS}
    return without_later_defaults(values) if section == "ch" else values


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
    """Everything `snakemake` builds by default, derived from the config: the datasets,
    the trained models, the tables and the figures (every product a user keeps, so that
    a deleted one is made again by the next run)."""
    targets = [f"results/data/{dataset}.h5" for dataset in config["datasets"]]
    if "ch" in config["datasets"]:
        targets.append("results/figures/ch_energy.png")  # the paper's Fig. 1b
    return targets + model_targets() + study_targets()


def model_targets():
    """metrics.json of every model the selected studies train (exactly the models in the
    DAG of study_targets()). As targets, a deleted model folder is trained again: as
    inputs of tables that are up to date, they would not be (Snakemake does not rebuild a
    missing input of a job it does not run)."""
    chosen = set(STUDIES["targets"])
    paths = table2_metrics() if chosen & {"table2", "uncertainty"} else []
    per_dataset = {
        "metrics": all_metrics,
        "confusion": lambda d: model_metrics(d, None, "1.0", SEEDS[0]),
        "uncertainty": lambda d: model_metrics(d, None, "1.0", SEEDS[0]),
        "fraction": fraction_metrics,
        "timing": fraction_metrics,
        "symmetry": lambda d: small_data_metrics(d, "symmetry"),
        "semisupervised": lambda d: small_data_metrics(d, "semisupervised"),
        "pca_scree": lambda d: model_metrics(d, ["cnnpca-svr"], "1.0", SEEDS[0]),
        "pca_confusion": lambda d: model_metrics(d, ["cnnpca-svr"], "1.0", SEEDS[0]),
    }
    for study in STUDIES["targets"]:
        if study in per_dataset:
            for dataset in study_datasets(study):
                paths += per_dataset[study](dataset)
    return list(dict.fromkeys(paths))


# --- studies, tables and figures (rules/studies.smk, rules/figures.smk) ---------------

STUDIES = config["studies"]
SEEDS = STUDIES["seeds"]

# study -> outputs it puts into `rule all`; {dataset} is expanded over study_datasets(study)
STUDY_OUTPUTS = {
    "table2": [
        "results/tables/table2.csv",
        "results/tables/table2.md",
        "results/tables/table2.tex",
    ],
    "metrics": ["results/tables/metrics_{dataset}.csv"],
    "examples": ["results/figures/fig01_examples_{dataset}.png"],
    "histograms": ["results/figures/fig02_histograms.png"],
    "psd": ["results/figures/fig03_psd_{dataset}.png"],
    "features": ["results/figures/fig04_features_{dataset}.png"],
    "mucha": ["results/figures/fig07_mucha_{dataset}.png"],
    "confusion": ["results/figures/fig08_confusion_{dataset}.png"],
    "fraction": ["results/figures/fig09_fraction_{dataset}.png"],
    "timing": ["results/figures/fig10_timing_{dataset}.png"],
    "pixel_pca": ["results/figures/figB12_pixel_pca_{dataset}.png"],
    "pca_scree": ["results/figures/figB13_pca_scree_{dataset}.png"],
    "pca_confusion": ["results/figures/figB14_pca_confusion_{dataset}.png"],
    "zoo": ["results/figures/figD18_zoo_rmse.png", "results/figures/figD19_zoo_r2.png"],
    "symmetry": [
        "results/figures/fig_sym_fraction_{dataset}.png",
        "results/tables/symmetry_{dataset}.md",
    ],
    "uncertainty": [
        "results/tables/uncertainty.csv",
        "results/tables/uncertainty.md",
        "results/figures/uncertainty_{dataset}.png",
    ],
    "semisupervised": [
        "results/figures/latent_{dataset}.png",
        "results/figures/fig_semisupervised_{dataset}.png",
        "results/tables/semisupervised_{dataset}.md",
    ],
    "design": ["results/figures/design_ch.png", "results/tables/design_ch.md"],
    "runtime": [
        "results/tables/runtime.md",
        "results/tables/runtime.csv",
        "results/tables/runtime_jobs.csv",
    ],
}


def study_datasets(study):
    """The configured datasets a study runs on (its own `datasets` key narrows them)."""
    chosen = (STUDIES.get(study) or {}).get("datasets", config["datasets"])
    return [d for d in config["datasets"] if d in chosen]


def study_targets():
    """Tables and figures of the studies the config selects (studies.targets)."""
    targets = []
    for study in STUDIES["targets"]:
        if study == "design" and "ch" not in config["datasets"]:
            continue  # the design study searches the CH latent space
        for path in STUDY_OUTPUTS[study]:
            targets += expand(path, dataset=study_datasets(study))
    return list(dict.fromkeys(targets))


def runtime_inputs(wildcards):
    """Every other final target: the runtime tables come last, when every job of the run
    has written its benchmark file (microprop.runtime)."""
    own = set(STUDY_OUTPUTS["runtime"])
    return [t for t in final_targets() if t not in own]


# The job DAG of the latest run (every job, those up to date too), written when the run
# starts (onstart in the Snakefile); the runtime rule reads it.
DAG_RECORD = "results/benchmarks/dag.json"


def record_dag():
    """Write this invocation's job DAG to DAG_RECORD (microprop.runtime.dag_records). A
    failure is reported and never stops the run: runtime.md then says so."""
    try:
        job_times.write_dag(
            DAG_RECORD, job_times.dag_records(workflow.dag), workflow.cores
        )
    except Exception as err:  # Snakemake's DAG object is not a public API
        print(f"job DAG not recorded ({DAG_RECORD}): {err!r}", file=sys.stderr)


def frac_str(frac):
    """A fraction as its {frac} wildcard: 1 -> '1.0', 0.001 -> '0.001'."""
    return str(float(frac))


def model_predictions(dataset, models=None, frac="1.0", seed=0):
    """predictions.csv paths beside model_metrics(...)."""
    return [
        p.replace("metrics.json", "predictions.csv")
        for p in model_metrics(dataset, models, frac, seed)
    ]


def model_conformal(dataset, models=None, frac="1.0", seed=0):
    """conformal.npz paths (calibration sets of the intervals) beside model_metrics(...)."""
    return [
        p.replace("metrics.json", "conformal.npz")
        for p in model_metrics(dataset, models, frac, seed)
    ]


def table2_metrics(wildcards=None):
    """Table 2: every configured model and dataset, full training set, every seed."""
    return [
        p
        for dataset in config["datasets"]
        for seed in SEEDS
        for p in model_metrics(dataset, MODEL_IDS, "1.0", seed)
    ]


def fraction_metrics(dataset):
    """Figs. 9 and 10: the fraction-study models at every fraction and seed."""
    return [
        p
        for frac in STUDIES["fractions"]
        for seed in SEEDS
        for p in model_metrics(
            dataset, STUDIES["fraction_models"], frac_str(frac), seed
        )
    ]


def small_data_metrics(dataset, name="symmetry"):
    """A small-data study (symmetry, semisupervised): its models at its fractions
    (several seeds up to seeds_up_to) and at 1.0, the main run's models."""
    study = STUDIES[name]
    paths = [
        p
        for frac in study["fractions"]
        for seed in (study["seeds"] if frac <= study["seeds_up_to"] else SEEDS)
        for p in model_metrics(dataset, study["models"], frac_str(frac), seed)
    ]
    paths += [
        p
        for seed in SEEDS
        for p in model_metrics(dataset, study["models"], "1.0", seed)
    ]
    return list(dict.fromkeys(paths))


def all_metrics(dataset):
    """metrics_{dataset}.csv: every model the config trains on a dataset."""
    own = [p for seed in SEEDS for p in model_metrics(dataset, MODEL_IDS, "1.0", seed)]
    if "fraction" in STUDIES["targets"] or "timing" in STUDIES["targets"]:
        own += fraction_metrics(dataset)
    for name in ("symmetry", "semisupervised"):
        if name in STUDIES["targets"] and dataset in study_datasets(name):
            own += small_data_metrics(dataset, name)
    return sorted(set(own))


def zoo_results(wildcards=None):
    """Figs. D.18/D.19: the zoo results of every dataset and feature set."""
    return expand(
        "results/studies/{dataset}/zoo_{feature}.csv",
        dataset=config["datasets"],
        feature=STUDIES["zoo"]["features"],
    )


def simulation_files(wildcards):
    """Input function of `assemble`: every simulation file of a dataset."""
    if wildcards.dataset in ("ising", "cfd"):
        return [
            f"results/sims/{wildcards.dataset}/shard_{i}.h5"
            for i in range(n_shards(wildcards.dataset))
        ]
    return [f"results/sims/ch/run_{i}.h5" for i in range(config["ch"]["n_runs"])]


def property_axis(dataset):
    """Axis range (None: the data's) and name of a dataset's property in the figures."""
    return {
        "ising": {
            "limits": (0, config["ising"]["label_max"]),
            "label": "temperature label",
        },
        "ch": {"limits": None, "label": "energy"},
        "cfd": {"limits": tuple(config["cfd"]["re_range"]), "label": "Reynolds number"},
    }[dataset]


def feature_of(model):
    """The feature set a feature-based model id uses: 'physfeat2-svr' -> 'physfeat2'."""
    return registry.model(model).feature


def model_metrics(dataset, models=None, frac="1.0", seed=0):
    """metrics.json paths of the given (default: configured) models for one dataset."""
    return [
        f"{model_dir(dataset, m, frac, seed)}/metrics.json"
        for m in (models or MODEL_IDS)
    ]


def feature_options(wildcards):
    """Keyword arguments of a stateless feature's transformer (microprop.features)."""
    return options.feature_options(config, wildcards.feature, wildcards.dataset)


# --- models (rules/models.smk) ---------------------------------------------------------
# The options come from microprop.options (plain, unit-tested functions of the config);
# these wrappers give them the job's wildcards.

SVR_CONFIG = config["models"]["svr"]
CNN_CONFIG = config["models"]["cnn"]
MUCHA_CONFIG = config["models"]["mucha"]
UNCERTAINTY = config["uncertainty"]


def svr_inputs(wildcards):
    """Feature file of an SVR model; cnnpca-svr reads the embedding (its PCA is in the model)."""
    feature = registry.FEATURE_SETS[feature_of(wildcards.model)]
    return {"features": f"results/features/{wildcards.dataset}/{feature.input_file}.h5"}


def blend_inputs(wildcards):
    """The member models of a blend (microprop.registry), at the blend's fraction and seed."""
    folder = "results/models/{dataset}/{member}/frac{frac}/seed{seed}/{name}"
    members = registry.model(wildcards.model).members
    return {
        name.split(".")[0]: [
            folder.format(**wildcards, member=member, name=name) for member in members
        ]
        for name in ("metrics.json", "predictions.csv", "conformal.npz")
    }


def svr_method(wildcards):
    """How an SVR's C, gamma, epsilon are chosen: 'tpe', 'grid' (k-fold CV) or 'fixed'."""
    return options.svr_method(config, wildcards.model)


def svr_hyperparameters(wildcards):
    """C, gamma, epsilon used without search (models.svr.final or .hyperparameters)."""
    return options.svr_hyperparameters(config, wildcards.model, wildcards.dataset)


def svr_model_options(wildcards):
    """SVRegressor options: cnnpca-svr fits its PCA and feeds the components unscaled."""
    return options.svr_model_options(config, wildcards.model, wildcards.dataset)


def svr_runtime(wildcards):
    """Cluster minutes of an SVR job (a TPE search adds its trials)."""
    return options.svr_runtime_minutes(config, wildcards.model)


def timed_threads(wildcards):
    """Cores reserved by a timed job (train_pcr, train_svr): all cores of the run, so no
    other job runs beside it and its seconds (Table 2, Fig. 10) are not shared. The job
    computes with its own thread count (config). Without --cores (a cluster executor) 1;
    profiles/slurm gives those jobs a whole node (--exclusive)."""
    try:
        cores = int(workflow.cores)
    except Exception:  # no --cores given (a cluster executor)
        return 1
    return cores if 0 < cores < 4096 else 1


def max_test(wildcards):
    """Test images that score a model (0: all; microprop.options.max_test)."""
    return options.max_test(config, wildcards.dataset, wildcards.frac)


def calibration_options(family):
    """Conformal calibration of a model family (microprop.uncertainty.calibrate), a params
    function: below fraction 1 it is uncertainty.fraction_calibration's."""
    return lambda w: options.calibration_options(config, family, w.frac)


def calibration_by_run(family):
    """Whether a PCR's or SVR's calibration follows CH's runs (params function)."""
    return lambda w: options.calibration_by_run(config, family, w.frac)


def cnn_runtime(wildcards):
    """Cluster runtime (minutes) of train_cnn/train_mucha: images x epochs at the
    architecture's measured rate (microprop.resources)."""
    arch, n, epochs = options.cnn_training_plan(
        config, wildcards.model, wildcards.dataset
    )
    return cnn_train_minutes(n, epochs, arch, CNN_CONFIG["device"])


def cnn_gpus(wildcards):
    """GPUs a train_cnn/train_mucha job asks for: one where its device is CUDA (auto: where
    CUDA is present), else none, so that CPU trainings are not held to the gpu limit of
    profiles/default (one at a time) but scheduled by their threads. profiles/slurm sets
    gpu=1 itself (the login node that evaluates this need not have a GPU)."""
    return gpus_for(CNN_CONFIG["device"])


def embedding_gpus(wildcards):
    """GPUs a cnn_embedding job asks for (as cnn_gpus, for features.cnnpca.device)."""
    return gpus_for(config["features"]["cnnpca"]["device"])


def mucha_options(wildcards):
    """CNNRegressor options of a MuCha model (kind mucha) on a dataset."""
    return options.mucha_options(config, wildcards.dataset)


def symmetry_augment(dataset, family):
    """Whether a CNN family trains on a dataset's symmetry group (models.*.augment)."""
    return options.symmetry_augment(config, dataset, family)


def cnn_options(wildcards):
    """CNNRegressor options of a CNN model id (its budget, then the shared settings)."""
    return options.cnn_options(config, wildcards.model)
