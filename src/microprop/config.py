"""Checks across config fields that a JSON Schema cannot express.

``workflow/schemas/config.schema.yaml`` types every key; :func:`check_config` then
checks how keys relate (a test split smaller than the data set, a figure run that exists,
ranges in increasing order, ...). ``rules/common.smk`` calls it right after the schema
validation, so a bad config stops the run before any job starts, naming the keys.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from microprop import cfd as cfd_config
from microprop import registry

DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
# keys whose values are model ids: they must be ids of microprop.registry.MODELS (the
# schema types them as strings, so a new model is one registry entry, not a schema edit)
MODEL_ID_KEYS = (
    "models.ids",
    "studies.fraction_models",
    "studies.symmetry.models",
    "studies.semisupervised.models",
    "studies.semisupervised.compared",
    "studies.semisupervised.baseline",
)


class ConfigError(ValueError):
    """A config whose fields contradict each other; the message names every bad key."""


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) for every entry of a nested mapping."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            sub = f"{path}.{key}" if path else str(key)
            yield sub, value
            yield from _walk(value, sub)


def _duplicates(values) -> list:
    seen, dups = set(), []
    for v in values:
        if v in seen and v not in dups:
            dups.append(v)
        seen.add(v)
    return dups


def config_problems(config: Mapping) -> list[str]:
    """Every contradiction in a (schema-validated) config, one line each, naming the keys.

    >>> config_problems({"ising": {"n_images": 10, "n_test": 10}})
    ['ising.n_test (10) must be smaller than ising.n_images (10)']
    >>> config_problems({"models": {"svr": {"C_range": [10.0, 1.0]}}})
    ['models.svr.C_range must be increasing, got [10.0, 1.0]']
    >>> config_problems({"datasets": ["ising"], "ising": {"n_images": 10, "n_test": 2}})
    []
    >>> config_problems({"models": {"ids": ["grad-pcr", "grad-pcx"]}})[0][:46]
    "models.ids: unknown model ids ['grad-pcx'] (mi"
    """
    problems = []
    ising, ch = config.get("ising", {}), config.get("ch", {})
    if "n_test" in ising and "n_images" in ising and ising["n_test"] >= ising["n_images"]:
        problems.append(
            f"ising.n_test ({ising['n_test']}) must be smaller than "
            f"ising.n_images ({ising['n_images']})"
        )
    if "n_runs" in ch:
        for key in ("n_test_runs", "figure_run"):
            if key in ch and ch[key] >= ch["n_runs"]:
                problems.append(
                    f"ch.{key} ({ch[key]}) must be smaller than ch.n_runs ({ch['n_runs']})"
                )
    if "cfd" in config:
        problems += cfd_config.config_problems(config["cfd"])
    latent = config.get("features", {}).get("latent", {})
    if latent.get("stage_means") and latent.get("pooling") == "none":
        problems.append(
            "features.latent.stage_means needs features.latent.pooling: orbit "
            "(the raw codes are a map); set it false with pooling: none"
        )
    models = config.get("models", {})
    studies = config.get("studies", {})
    lists = {
        "datasets": config.get("datasets"),
        "models.ids": models.get("ids"),
        "studies.seeds": studies.get("seeds"),
    }
    for key, values in lists.items():
        if values is None:
            continue
        if not values:
            problems.append(f"{key} must not be empty")
        if dups := _duplicates(values):
            problems.append(f"{key} lists {dups} more than once")
    if dups := _duplicates(float(f) for f in studies.get("fractions", [])):
        problems.append(f"studies.fractions lists {dups} more than once")
    for key, value in _walk(config):
        if key in MODEL_ID_KEYS and (unknown := registry.unknown_model_ids(value)):
            problems.append(
                f"{key}: unknown model ids {unknown} (microprop.registry.MODELS: "
                f"{', '.join(registry.MODELS)})"
            )
        leaf = key.rsplit(".", 1)[-1]
        if leaf == "device" and not (isinstance(value, str) and DEVICE.match(value)):
            problems.append(f"{key} must be auto, cpu, cuda or cuda:N, got {value!r}")
        if leaf.endswith("_range") and isinstance(value, list):
            if len(value) != 2 or not value[0] < value[1]:
                problems.append(f"{key} must be increasing, got {value}")
        if leaf == "fractions" or leaf.endswith("_fraction"):
            for f in value if isinstance(value, list) else [value]:
                if not (isinstance(f, int | float) and 0 < f <= 1):
                    problems.append(f"{key} must lie in (0, 1], got {f!r}")
    return problems + size_problems(config)


# --- sizes that cannot train ----------------------------------------------------------
# Measured on the training code (fit_evaluate with 1, 2, 3 training images): PCR and SVR
# fit on one image (the intervals are then infinite, with a warning), a CNN needs two
# (CNNRegressor.fit), R² needs two test images, and a split calibration part is held out
# of the images the model fits on. FIT_MIN: the fewest images a model kind fits on.
FIT_MIN = {"pcr": 1, "svr": 1, "cnn": 2, "mucha": 2, "blend": 2}


def images_per_run(ch: Mapping) -> int:
    """Images of one CH run: the part-1 steps and every save_every-th part-2 step."""
    return ch["part1_steps"] + ch["part2_steps"] // ch["save_every"]


def split_sizes(config: Mapping, dataset: str) -> tuple[int, int, str, str]:
    """Training and test images of a dataset, and the keys that set each.

    >>> split_sizes({"ising": {"n_images": 3, "n_test": 1}}, "ising")
    (2, 1, 'ising.n_images - ising.n_test', 'ising.n_test')
    """
    if dataset == "ch":
        ch = config["ch"]
        per_run = images_per_run(ch)
        n_train = (ch["n_runs"] - ch["n_test_runs"]) * per_run
        if ch.get("max_train"):
            n_train = min(n_train, ch["max_train"])
        return (
            n_train,
            ch["n_test_runs"] * per_run,
            "ch.n_runs - ch.n_test_runs",
            "ch.n_test_runs",
        )
    c = config[dataset]
    return (
        c["n_images"] - c["n_test"],
        c["n_test"],
        f"{dataset}.n_images - {dataset}.n_test",
        f"{dataset}.n_test",
    )


def calibration_method(config: Mapping, family: str, frac: float | str = 1.0) -> str:
    """The conformal calibration of a model family trained on a fraction of the training
    images: ``uncertainty.calibration`` at fraction 1 (Table 2), else
    ``uncertainty.fraction_calibration`` (the fraction and small-data studies; a model
    path is one job whichever studies read it, so the choice follows the fraction).

    >>> u = {"uncertainty": {"calibration": {"svr": "cv"},
    ...                      "fraction_calibration": {"svr": "split"}}}
    >>> calibration_method(u, "svr", "1.0"), calibration_method(u, "svr", 0.01)
    ('cv', 'split')
    """
    uncertainty = config.get("uncertainty", {})
    chosen = uncertainty.get("calibration", {}).get(family)
    if float(frac) < 1.0:
        chosen = uncertainty.get("fraction_calibration", {}).get(family) or chosen
    return chosen


def subset_size(n_train: int, frac: float) -> int:
    """Images of a training fraction (microprop.models.training_subset: at least one)."""
    return max(1, math.ceil(frac * n_train - 1e-9))


def _trainings(config: Mapping, dataset: str) -> Iterator[tuple[str, float, str]]:
    """(model id, fraction, key of the fraction) of every model the config trains on a
    dataset: Table 2 at 1.0, the fraction study and the small-data studies at theirs."""
    studies = config.get("studies", {})
    targets = studies.get("targets", [])
    for model in config.get("models", {}).get("ids", []):
        yield model, 1.0, "models.ids"

    def runs_on(study):
        return dataset in (studies.get(study) or {}).get("datasets", config["datasets"])

    if ("fraction" in targets and runs_on("fraction")) or (
        "timing" in targets and runs_on("timing")
    ):
        for frac in studies.get("fractions", []):
            for model in studies.get("fraction_models", []):
                yield model, float(frac), "studies.fractions"
    for name in ("symmetry", "semisupervised"):
        study = studies.get(name) or {}
        if name in targets and runs_on(name):
            for frac in study.get("fractions", []):
                for model in study.get("models", []):
                    yield model, float(frac), f"studies.{name}.fractions"


def _training_cap(config: Mapping, model: str) -> tuple[int, str]:
    """The training-image cap of a CNN model id (0: none) and its key."""
    models = config.get("models", {})
    kind = registry.model(model).kind
    if kind == "mucha":
        return (models.get("mucha") or {}).get("max_train") or 0, "models.mucha.max_train"
    if kind == "cnn":
        budget = ((models.get("cnn") or {}).get("budget") or {}).get(model) or {}
        return budget.get("max_train") or 0, f"models.cnn.budget.{model}.max_train"
    return 0, ""


def size_problems(config: Mapping) -> list[str]:
    """Sizes that cannot train or score, one line each naming the keys: a test split of
    fewer than 2 images (R² needs two), a training fraction or cap that leaves a model
    fewer images than it fits on, a split calibration part that leaves too few to fit.

    >>> size_problems({"datasets": ["ising"], "ising": {"n_images": 3, "n_test": 1},
    ...                "models": {"ids": ["grad-pcr"]}})  # doctest: +NORMALIZE_WHITESPACE
    ['ising.n_test (1): a test split of 1 image cannot score a model (R² needs at least
      2 test images)']
    """
    problems: list[str] = []
    cal_fraction = config.get("uncertainty", {}).get("calibration_fraction", 0.2)
    max_test = config.get("studies", {}).get("max_test") or {}
    for dataset in config.get("datasets", []):
        try:
            n_train, n_test, train_keys, test_key = split_sizes(config, dataset)
        except (KeyError, TypeError):
            continue  # a section the schema check reports
        if n_test < 2:
            problems.append(
                f"{test_key} ({config[dataset].get('n_test', config[dataset].get('n_test_runs'))})"
                f": a test split of {n_test} image{'s' * (n_test != 1)} cannot score a model "
                "(R² needs at least 2 test images)"
            )
        if max_test.get(dataset) == 1:
            problems.append(
                f"studies.max_test.{dataset} (1): scoring on 1 test image gives no R² "
                "(at least 2; 0 scores every test image)"
            )
        if n_train < 1:
            continue  # the n_test relation above names it
        for model, frac, frac_key in _trainings(config, dataset):
            if model not in registry.MODELS:
                continue  # named by the unknown-id check above
            family = registry.model(model).kind
            n = subset_size(n_train, frac)
            cap, cap_key = _training_cap(config, model)
            keys = f"{dataset}'s {n_train} training images ({train_keys})"
            if frac < 1:
                keys = f"{frac_key} {frac:g} of {keys}"
            if cap and cap < n:
                n, keys = cap, f"{cap_key} ({cap})"
            n_fit, why = n, ""
            if calibration_method(config, family, frac) == "split":
                n_cal = min(max(1, round(cal_fraction * n)), max(n - 1, 0))
                n_fit = n - n_cal
                key = "calibration" if frac >= 1 else "fraction_calibration"
                why = (
                    f", {n_cal} of them held out by uncertainty.{key}.{family}: split"
                    f" (uncertainty.calibration_fraction {cal_fraction:g})"
                )
            if n_fit < FIT_MIN[family]:
                problems.append(
                    f"{keys}: {n} image{'s' * (n != 1)} for {model}{why}, which fits on at "
                    f"least {FIT_MIN[family]}"
                )
    return list(dict.fromkeys(problems))  # a cap is named once, not per dataset


def check_config(config: Mapping) -> None:
    """Raise :class:`ConfigError` naming every contradiction :func:`config_problems` finds."""
    problems = config_problems(config)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(f"invalid config (no job was started):\n{lines}")
