"""The options a rule passes to its script, computed from the (validated) config.

Config keys do not always match the keyword arguments of the package's functions
(``models.svr.search_max_samples`` is ``tune_svr(max_samples=...)``,
``models.cnn.download_weights`` is ``CNNRegressor(download=...)``), and some options
depend on the model or dataset of a job. These translations live here, as plain
functions of the config and the job's wildcard values, so they are unit-tested
(``tests/test_options.py``); ``rules/common.smk`` keeps targets, paths and wildcards and
calls these functions from its input and params functions.
"""

from __future__ import annotations

from collections.abc import Mapping

from microprop import registry
from microprop.config import calibration_method, split_sizes

# models.cnn settings that MuCha (kind mucha) shares
CNN_SHARED_KEYS = (
    "amp",
    "channels_last",
    "fused_optimizer",
    "bn_recalibrate",
    "min_r2",
    "clip_predictions",
)


def feature_options(config: Mapping, feature: str, dataset: str) -> dict:
    """Keyword arguments of a stateless feature's transformer (microprop.features)."""
    return registry.FEATURE_SETS[feature].options(config["features"], dataset)


def max_test(config: Mapping, dataset: str, frac: str | float) -> int:
    """Test images that score a model: all (0) in Table 2 (fraction 1), at most
    studies.max_test[dataset] at smaller fractions (microprop.splits.evaluation_subset).

    >>> max_test({"studies": {"max_test": {"ch": 500}}}, "ch", "0.1")
    500
    >>> max_test({"studies": {"max_test": {"ch": 500}}}, "ch", "1.0")
    0
    """
    if float(frac) >= 1.0:
        return 0
    return config["studies"]["max_test"].get(dataset, 0)


def calibration_options(config: Mapping, family: str, frac: str | float = "1.0") -> dict:
    """Conformal calibration of a model family trained on a fraction ``frac`` of the
    training images (microprop.uncertainty.calibrate; the method:
    :func:`microprop.config.calibration_method`)."""
    uncertainty = config["uncertainty"]
    method = calibration_method(config, family, frac)
    options = {"method": method}
    if method == "cv":
        options["folds"] = uncertainty["cv_folds"]
    if method == "split":
        options["fraction"] = uncertainty["calibration_fraction"]
    return options | {k: uncertainty[k] for k in CONFORMAL_KEYS}


# the uncertainty keys that shape every model's intervals (microprop.uncertainty.Conformal)
CONFORMAL_KEYS = ("level", "score", "n_neighbors", "residual_fraction", "min_scale", "n_bins")


def blend_calibration_options(config: Mapping) -> dict:
    """A blend's intervals (microprop.models.blend): its out-of-fold predictions in
    ``uncertainty.cv_folds`` folds, the conformal options of every model.

    >>> u = {"cv_folds": 5, "level": 0.9, "score": "adaptive", "n_neighbors": 50,
    ...      "residual_fraction": 0.5, "min_scale": 0.1, "n_bins": 20}
    >>> blend_calibration_options({"uncertainty": u})["folds"]
    5
    """
    uncertainty = config["uncertainty"]
    return {"folds": uncertainty["cv_folds"]} | {k: uncertainty[k] for k in CONFORMAL_KEYS}


def calibration_by_run(config: Mapping, family: str, frac: str | float = "1.0") -> bool:
    """Whether the calibration of a PCR or SVR follows the runs of a dataset that has them
    (CH): a ``cv`` calibration adds leave-runs-out folds (``uncertainty.group_by_run``), a
    ``split`` one holds out whole runs (``uncertainty.split_by_run``, as MuCha's).

    >>> u = {"uncertainty": {"calibration": {"svr": "cv"}, "fraction_calibration":
    ...      {"svr": "split"}, "group_by_run": True, "split_by_run": False}}
    >>> calibration_by_run(u, "svr", "1.0"), calibration_by_run(u, "svr", "0.1")
    (True, False)
    """
    uncertainty = config["uncertainty"]
    if calibration_method(config, family, frac) == "split":
        return uncertainty["split_by_run"]
    return uncertainty["group_by_run"]


# --- SVR (rule train_svr) ---------------------------------------------------------------


def svr_method(config: Mapping, model_id: str) -> str:
    """How an SVR's C, gamma, epsilon are chosen: 'tpe', 'grid' (k-fold CV) or 'fixed'.

    >>> svr_method({"models": {"svr": {"search": True, "cv": False}}}, "physfeat2-svr")
    'tpe'
    >>> svr_method({"models": {"svr": {"search": True, "cv": False}}}, "grad-svr")
    'fixed'
    """
    svr = config["models"]["svr"]
    if registry.model(model_id).search == "tpe":
        return "tpe" if svr["search"] else "fixed"
    return "grid" if svr["cv"] else "fixed"


def svr_hyperparameters(config: Mapping, model_id: str, dataset: str) -> dict:
    """C, gamma, epsilon used without search: the paper's final values for a TPE model."""
    svr = config["models"]["svr"]
    if registry.model(model_id).search == "tpe":
        return svr["final"][dataset]
    return svr["hyperparameters"][dataset]


def svr_model_options(config: Mapping, model_id: str, dataset: str) -> dict:
    """SVRegressor options: cnnpca- and twopoint-svr fit their PCA
    (:attr:`microprop.registry.FeatureSet.model_pca`) and feed the components unscaled."""
    options = {"cache_size": config["models"]["svr"]["cache_size"]}
    feature = registry.model(model_id).feature
    if registry.FEATURE_SETS[feature].model_pca:
        n = config["features"][feature]["n_components"][dataset]
        return {**options, "standardize": False, "n_components": n}
    return {**options, "standardize": True, "n_components": 0}


def svr_search_options(config: Mapping) -> dict:
    """Options of the TPE search and the CV grid (microprop.models.svr.choose_hyperparameters)."""
    svr = config["models"]["svr"]
    return {
        "n_trials": svr["n_trials"],
        "n_startup_trials": svr["n_startup_trials"],
        "cv_folds": svr["cv_folds"],
        "cv_by_run": svr["cv_by_run"],
        "C_range": svr["C_range"],
        "gammas": svr["gammas"],
        "epsilon_range": svr["epsilon_range"],
        "max_samples": svr["search_max_samples"],
        "max_iter": svr["search_max_iter"],
        "grid": svr["grid"],
        "relative": svr["grid_relative"],
        "grid_max_samples": svr["grid_max_samples"],
    }


def svr_runtime_minutes(config: Mapping, model_id: str) -> int:
    """Cluster minutes of one SVR job: 60, plus a minute per trial of a TPE search."""
    n_trials = config["models"]["svr"]["n_trials"]
    return 60 + (n_trials if registry.model(model_id).search == "tpe" else 0)


# --- CNNs (rules train_cnn, train_mucha) -------------------------------------------------


def cnn_budget(config: Mapping, model_id: str) -> dict:
    """Training-image cap and epoch caps of a CNN model id (models.cnn.budget)."""
    cnn = config["models"]["cnn"]
    budget = cnn["budget"].get(model_id) or {}
    return {
        "max_train": budget.get("max_train") or 0,
        "max_epochs": budget.get("max_epochs") or cnn["max_epochs"],
        "head_epochs": budget.get("head_epochs") or cnn["head_epochs"],
    }


def cnn_options(config: Mapping, model_id: str) -> dict:
    """CNNRegressor options of a CNN model id (its budget, then the shared settings)."""
    cnn = config["models"]["cnn"]
    keys = ("batch_size", "min_steps", "lr", "finetune_lr", "min_lr", "plateau_factor")
    keys += ("plateau_patience", "patience", "val_fraction") + CNN_SHARED_KEYS
    options = {k: cnn[k] for k in keys}
    options["download"] = cnn["download_weights"]
    if registry.model(model_id).pretrained:  # no new param (no rerun) for the others
        options["weights_fallback"] = cnn["weights_fallback"]
    options["cpu_amp"] = registry.model(model_id).arch not in cnn["cpu_float32"]
    options.update(cnn_budget(config, model_id))
    return options


def mucha_epochs(config: Mapping, dataset: str) -> int:
    """MuCha's epochs on a dataset (models.mucha.epochs_by_dataset, else .epochs)."""
    mucha = config["models"]["mucha"]
    return mucha["epochs_by_dataset"].get(dataset) or mucha["epochs"]


def mucha_options(config: Mapping, dataset: str) -> dict:
    """CNNRegressor options of a MuCha model (kind mucha) on a dataset."""
    mucha, cnn = config["models"]["mucha"], config["models"]["cnn"]
    keys = ("min_steps", "batch_size", "lr", "momentum", "max_train", "swa_share")
    return {
        "max_epochs": mucha_epochs(config, dataset),
        **{k: mucha[k] for k in keys},
        **{k: cnn[k] for k in CNN_SHARED_KEYS},
    }


def symmetry_augment(config: Mapping, dataset: str, family: str) -> bool:
    """Whether a CNN family ("cnn", "mucha") trains on a dataset's symmetry group."""
    return dataset in config["models"][family]["augment"]


def training_images(config: Mapping, dataset: str) -> int:
    """Training images of a dataset as the config defines it (for cluster runtimes):
    :func:`microprop.config.split_sizes`, the rule the size checks use too."""
    return split_sizes(config, dataset)[0]


def cnn_training_plan(config: Mapping, model_id: str, dataset: str) -> tuple[str, int, int]:
    """Architecture, training images and epochs of a CNN job, for its cluster runtime
    (microprop.resources.cnn_train_minutes)."""
    model = registry.model(model_id)
    if model.kind == "mucha":
        mucha = config["models"]["mucha"]
        cap, epochs = mucha["max_train"], mucha_epochs(config, dataset)
    else:
        budget = cnn_budget(config, model_id)
        cap = budget["max_train"]
        epochs = budget["max_epochs"] + budget["head_epochs"]
    n = training_images(config, dataset)
    n = min(n, cap) if cap else n
    if model.kind == "mucha":  # epochs raised to min_steps optimizer steps
        steps_per_epoch = -(-n // mucha["batch_size"])
        epochs = max(epochs, -(-mucha["min_steps"] // steps_per_epoch))
    return model.arch, n, epochs
