# Plumbing shared by all rules: config validation, wildcard constraints, input
# functions and the list of final targets. No science here (that is src/microprop).

import re

from snakemake.utils import validate

from microprop.ch.params import without_later_defaults
from microprop.config import check_config
from microprop.resources import ch_run_minutes, cnn_train_minutes, per_attempt

validate(config, "../workflow/schemas/config.schema.yaml")
check_config(config)  # relations between keys that the schema cannot express

DATASETS = ["ising", "ch", "cfd"]
MODEL_IDS = config["models"]["ids"]
FEATURES = ["grad", "physfeat1", "physfeat2", "cnnpca", "mucha", "latent", "twopoint"]
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
    """Everything `snakemake` builds by default, derived from the config."""
    targets = [f"results/data/{dataset}.h5" for dataset in config["datasets"]]
    if "ch" in config["datasets"]:
        targets.append("results/figures/ch_energy.png")  # the paper's Fig. 1b
    return targets + study_targets()


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
    return model.split("-")[0]


def model_metrics(dataset, models=None, frac="1.0", seed=0):
    """metrics.json paths of the given (default: configured) models for one dataset."""
    return [
        f"{model_dir(dataset, m, frac, seed)}/metrics.json"
        for m in (models or MODEL_IDS)
    ]


def feature_options(wildcards):
    """Keyword arguments of a stateless feature's transformer (microprop.features)."""
    psd, mucha = config["features"]["psd"], config["features"]["mucha"]
    twopoint = config["features"]["twopoint"]
    return {
        "grad": {},
        "physfeat1": {"n_bins": psd["n_bins"], "floor": psd["floor"]},
        "physfeat2": {
            "n_bins": psd["n_bins"],
            "spectrum": psd["physfeat2_spectrum"][wildcards.dataset],
        },
        "mucha": {"wavelet": mucha["wavelet"], "rescale_image": mucha["rescale_image"]},
        "twopoint": {
            "cutoff": twopoint["cutoff"][wildcards.dataset],
            "field": twopoint["field"][wildcards.dataset],
        },
    }[wildcards.feature]


# --- models (rules/models.smk) ---------------------------------------------------------

SVR_CONFIG = config["models"]["svr"]
CNN_CONFIG = config["models"]["cnn"]
MUCHA_CONFIG = config["models"]["mucha"]


def svr_inputs(wildcards):
    """Feature file of an SVR model; cnnpca-svr reads the embedding (its PCA is in the model)."""
    feature = feature_of(wildcards.model)
    if feature == "cnnpca":
        return {"features": f"results/features/{wildcards.dataset}/cnnembed.h5"}
    return {"features": f"results/features/{wildcards.dataset}/{feature}.h5"}


def svr_method(wildcards):
    """How an SVR's C, gamma, epsilon are chosen: 'tpe', 'grid' (k-fold CV) or 'fixed'."""
    if wildcards.model == "physfeat2-svr":
        return "tpe" if SVR_CONFIG["search"] else "fixed"
    return "grid" if SVR_CONFIG["cv"] else "fixed"


def svr_hyperparameters(wildcards):
    """C, gamma, epsilon used without search: the paper's final values for physfeat2-svr."""
    if wildcards.model == "physfeat2-svr":
        return SVR_CONFIG["final"][wildcards.dataset]
    return SVR_CONFIG["hyperparameters"][wildcards.dataset]


# feature sets whose SVR fits a PCA on its training images and feeds the components
# unscaled: cnnpca (the paper), twopoint (beyond the paper, as in PyMKS)
PCA_SVR_FEATURES = ("cnnpca", "twopoint")


def svr_model_options(wildcards):
    """SVRegressor options: cnnpca- and twopoint-svr fit their PCA (features.<feature>.
    n_components) and feed the components unscaled."""
    options = {"cache_size": SVR_CONFIG["cache_size"]}
    feature = feature_of(wildcards.model)
    if feature in PCA_SVR_FEATURES:
        n = config["features"][feature]["n_components"][wildcards.dataset]
        return {**options, "standardize": False, "n_components": n}
    return {**options, "standardize": True, "n_components": 0}


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


UNCERTAINTY = config["uncertainty"]


def max_test(wildcards):
    """Test images that score a model: all in Table 2 (fraction 1), at most
    studies.max_test[dataset] at smaller fractions (models.evaluation_subset)."""
    if float(wildcards.frac) >= 1.0:
        return 0
    return STUDIES["max_test"].get(wildcards.dataset, 0)


def calibration_options(family):
    """Conformal calibration of a model family (microprop.uncertainty.calibrate)."""
    method = UNCERTAINTY["calibration"][family]
    options = {"method": method}
    if method == "cv":
        options["folds"] = UNCERTAINTY["cv_folds"]
    if method == "split":
        options["fraction"] = UNCERTAINTY["calibration_fraction"]
    keys = ("level", "score", "n_neighbors", "residual_fraction", "min_scale", "n_bins")
    return options | {k: UNCERTAINTY[k] for k in keys}


# models.cnn settings shared by mucha-resnet34
CNN_SHARED_KEYS = (
    "amp",
    "channels_last",
    "fused_optimizer",
    "bn_recalibrate",
    "min_r2",
    "clip_predictions",
)


def cnn_budget(model_id):
    """Training-image cap and epoch caps of a CNN model id (models.cnn.budget)."""
    budget = CNN_CONFIG["budget"].get(model_id) or {}
    return {
        "max_train": budget.get("max_train") or 0,
        "max_epochs": budget.get("max_epochs") or CNN_CONFIG["max_epochs"],
        "head_epochs": budget.get("head_epochs") or CNN_CONFIG["head_epochs"],
    }


def training_images(dataset):
    """Training images of a dataset as the config defines it (for cluster runtimes)."""
    if dataset in ("ising", "cfd"):
        return config[dataset]["n_images"] - config[dataset]["n_test"]
    ch = config["ch"]
    per_run = ch["part1_steps"] + ch["part2_steps"] // ch["save_every"]
    return (ch["n_runs"] - ch["n_test_runs"]) * per_run


def cnn_runtime(wildcards):
    """Cluster runtime (minutes) of train_cnn/train_mucha: images x epochs at the
    architecture's measured rate (microprop.resources)."""
    if wildcards.model == "mucha-resnet34":
        arch, cap, epochs = (
            "resnet34",
            MUCHA_CONFIG["max_train"],
            mucha_epochs(wildcards.dataset),
        )
    else:
        budget = cnn_budget(wildcards.model)
        arch, cap = wildcards.model.split("-")[0], budget["max_train"]
        epochs = budget["max_epochs"] + budget["head_epochs"]
    n = training_images(wildcards.dataset)
    n = min(n, cap) if cap else n
    if (
        wildcards.model == "mucha-resnet34"
    ):  # epochs raised to min_steps optimizer steps
        steps_per_epoch = -(-n // MUCHA_CONFIG["batch_size"])
        epochs = max(epochs, -(-MUCHA_CONFIG["min_steps"] // steps_per_epoch))
    return cnn_train_minutes(n, epochs, arch, CNN_CONFIG["device"])


def mucha_epochs(dataset):
    """MuCha's epochs on a dataset (models.mucha.epochs_by_dataset, else .epochs)."""
    return MUCHA_CONFIG["epochs_by_dataset"].get(dataset) or MUCHA_CONFIG["epochs"]


def mucha_options(wildcards):
    """CNNRegressor options of mucha-resnet34 on a dataset."""
    keys = ("min_steps", "batch_size", "lr", "momentum", "max_train", "swa_share")
    return {
        "max_epochs": mucha_epochs(wildcards.dataset),
        **{k: MUCHA_CONFIG[k] for k in keys},
        **{k: CNN_CONFIG[k] for k in CNN_SHARED_KEYS},
    }


def symmetry_augment(dataset, config_key):
    """Whether a CNN family trains on a dataset's symmetry group (models.*.augment)."""
    return dataset in config["models"][config_key]["augment"]


def cnn_options(wildcards):
    """CNNRegressor options of a CNN model id (its budget, then the shared settings)."""
    keys = ("batch_size", "min_steps", "lr", "finetune_lr", "min_lr", "plateau_factor")
    keys += ("plateau_patience", "patience", "val_fraction") + CNN_SHARED_KEYS
    options = {k: CNN_CONFIG[k] for k in keys}
    options["download"] = CNN_CONFIG["download_weights"]
    options["cpu_amp"] = wildcards.model.split("-")[0] not in CNN_CONFIG["cpu_float32"]
    options.update(cnn_budget(wildcards.model))
    return options
