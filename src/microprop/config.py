"""Checks across config fields that a JSON Schema cannot express.

``workflow/schemas/config.schema.yaml`` types every key; :func:`check_config` then
checks how keys relate (a test split smaller than the data set, a figure run that exists,
ranges in increasing order, ...). ``rules/common.smk`` calls it right after the schema
validation, so a bad config stops the run before any job starts, naming the keys.
"""

from __future__ import annotations

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
    return problems


def check_config(config: Mapping) -> None:
    """Raise :class:`ConfigError` naming every contradiction :func:`config_problems` finds."""
    problems = config_problems(config)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(f"invalid config (no job was started):\n{lines}")
