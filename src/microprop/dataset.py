"""Assembly of simulation files into one dataset file with a fixed test split.

Ising and CFD (Kolmogorov flow): shards of images; the test split is ``n_test`` images
stratified over the label range (temperature label, Reynolds number). Cahn-Hilliard:
whole runs; the last ``n_test_runs`` runs are the test split.
Every input file is checked (present, readable, complete, right shapes) and a bad one
stops the assembly with a message naming it; the output is written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from microprop import __version__
from microprop.images import check_images
from microprop.io import SPLIT_DTYPE, TEST, TRAIN, UNUSED, checksum, decode_attr, write_h5
from microprop.splits import stratified_test_split, training_pool

SHARD_ARRAYS = ("images", "label", "image_seed", "index")
ISING_ARRAYS = (*SHARD_ARRAYS, "temperature")
CFD_ARRAYS = (*SHARD_ARRAYS, "max_speed", "courant")
CH_ARRAYS = (
    "images",
    "energy",
    "energy_bulk",
    "energy_grad",
    "energy_elastic",
    "time",
    "step",
    "mean_c",
)


class SimulationFileError(ValueError):
    """A simulation file is missing, truncated or malformed."""


def _read_checked(path: str | Path, names: tuple[str, ...], image_size: int | None):
    """Arrays ``names`` and the attributes of one simulation file, validated."""
    path = Path(path)
    if not path.is_file():
        raise SimulationFileError(f"{path}: simulation file is missing")
    try:
        with h5py.File(path, "r") as f:
            missing = [n for n in names if n not in f]
            if missing:
                raise SimulationFileError(f"{path}: truncated or malformed, no {missing}")
            arrays = {n: f[n][()] for n in names}
            attrs = dict(f.attrs)
    except OSError as err:
        raise SimulationFileError(f"{path}: unreadable HDF5 file ({err})") from err
    shape = None if image_size is None else (image_size, image_size)
    try:
        arrays["images"] = check_images(
            arrays["images"], str(path), shape=shape, uint8=True, min_count=1
        )
    except ValueError as err:
        raise SimulationFileError(str(err)) from None
    n = len(arrays["images"])
    bad = [k for k, v in arrays.items() if len(v) != n]
    if bad:
        raise SimulationFileError(f"{path}: arrays {bad} do not have {n} rows like 'images'")
    return arrays, attrs


def assemble_shards(shard_paths, names, n_test: int, seed: int, image_size: int | None):
    """Concatenated arrays ``names`` of image shards (Ising, CFD), checked to cover image
    indices 0..N-1 in order, the stratified test mask and the first shard's attributes."""
    parts = [_read_checked(p, names, image_size) for p in shard_paths]
    if not parts:
        raise SimulationFileError("no shard files given")
    cat = {k: np.concatenate([a[k] for a, _ in parts]) for k in names}
    if not np.array_equal(cat["index"], np.arange(len(cat["index"]))):
        raise SimulationFileError(
            "shards do not cover image indices 0..N-1 in order: "
            + ", ".join(str(p) for p in shard_paths)
        )
    return cat, stratified_test_split(cat["label"], n_test, seed), parts[0][1]


def _shard_arrays(cat: dict, is_test: np.ndarray, extra: tuple[str, ...]) -> dict:
    """Dataset arrays of a sharded dataset: images, property (the label), split, seeds."""
    return {
        "images": cat["images"],
        "property": cat["label"].astype(np.float64),
        "split": np.where(is_test, TEST, TRAIN).astype(SPLIT_DTYPE),
        "image_seed": cat["image_seed"],
        "sample_index": cat["index"],
        **{k: cat[k] for k in extra},
    }


def assemble_ising(shard_paths, n_test: int, seed: int, image_size: int | None = None):
    """Arrays and attributes of the Ising dataset from its shard files (in order)."""
    cat, is_test, first = assemble_shards(shard_paths, ISING_ARRAYS, n_test, seed, image_size)
    arrays = _shard_arrays(cat, is_test, ("temperature",))
    attrs = {
        "dataset": "ising",
        "property_name": "temperature label",
        "property_units": f"label 0..{int(first['label_max'])} = temperature 0..2Tc (J/k_B)",
        "label_max": int(first["label_max"]),
        "lattice_size": int(first["lattice_size"]),
        "attempts_per_image": int(first["attempts_per_image"]),
        "seed": int(first["seed"]),
        "split_seed": seed,
        "n_test": int(is_test.sum()),
    }
    return arrays, attrs


def assemble_cfd(shard_paths, n_test: int, seed: int, image_size: int | None = None):
    """Arrays and attributes of the Kolmogorov-flow dataset (label Re) from its shards;
    the test split is spread over Re like Ising's over the temperature."""
    cat, is_test, first = assemble_shards(shard_paths, CFD_ARRAYS, n_test, seed, image_size)
    arrays = _shard_arrays(cat, is_test, ("max_speed", "courant"))
    attrs = {
        "dataset": "cfd",
        "property_name": "Reynolds number",
        "property_units": "Re = 1/nu (unit forcing amplitude and length)",
        "seed": int(first["seed"]),
        "split_seed": seed,
        "n_test": int(is_test.sum()),
        "simulation": {
            k: (v.item() if hasattr(v, "item") else v)
            for k, v in first.items()
            if k not in ("first_index", "seed", "kind")
        },
    }
    return arrays, attrs


def run_backend(attrs: dict) -> str:
    """The backend that wrote a CH run file (files without the attribute predate the
    spectral backend: FEM)."""
    b = attrs.get("backend", "fem")
    return b.decode() if isinstance(b, bytes) else str(b)


def _seed_sequence(attrs: dict) -> list[int]:
    """A run's random stream, numpy's SeedSequence entropy [seed, run] (its ``seed`` alone
    is the workflow's base seed, the same for every run).

    >>> _seed_sequence({"seed": 3, "run": 1, "seed_sequence": "[3, 1]"})
    [3, 1]
    >>> _seed_sequence({"seed": 3, "run": 1})  # a run file from before the attribute
    [3, 1]
    """
    value = attrs.get("seed_sequence")
    if value is None:
        return [int(attrs.get("seed", -1)), int(attrs.get("run", -1))]
    return [int(v) for v in decode_attr(value)]


def assemble_ch(
    run_paths, n_test_runs: int, image_size: int | None = None, max_train: int = 0, seed: int = 0
):
    """Arrays and attributes of the Cahn-Hilliard dataset; the last runs are the test.
    All runs must come from one backend (:func:`run_backend`). ``max_train`` > 0 caps the
    training split at a seeded uniform draw of that many of the training runs' images
    (:func:`microprop.splits.training_pool`); the others are marked ``unused``."""
    parts = [_read_checked(p, CH_ARRAYS, image_size) for p in run_paths]
    backends: dict[str, list[str]] = {}
    for path, (_, a) in zip(run_paths, parts, strict=True):
        backends.setdefault(run_backend(a), []).append(str(path))
    if len(backends) > 1:
        raise SimulationFileError(
            "Cahn-Hilliard runs of different backends cannot form one dataset: "
            + "; ".join(f"{b}: {', '.join(paths)}" for b, paths in sorted(backends.items()))
            + ". Rerun them with one ch.backend."
        )
    if not 0 < n_test_runs < len(parts):
        raise ValueError(f"n_test_runs must be between 1 and {len(parts) - 1}, got {n_test_runs}")
    runs = np.concatenate(
        [np.full(len(a["energy"]), i, np.int64) for i, (a, _) in enumerate(parts)]
    )
    cat = {k: np.concatenate([a[k] for a, _ in parts]) for k in CH_ARRAYS}
    is_test = runs >= len(parts) - n_test_runs
    split = np.where(is_test, TEST, UNUSED).astype(SPLIT_DTYPE)
    split[training_pool(np.flatnonzero(~is_test), max_train, seed)] = TRAIN
    first = parts[0][1]
    arrays = {
        "images": cat["images"],
        "property": cat["energy"].astype(np.float64),
        "split": split,
        "run": runs,
        **{k: cat[k] for k in CH_ARRAYS if k not in ("images", "energy")},
    }
    attrs = {
        "dataset": "ch",
        "backend": next(iter(backends), "fem"),
        "property_name": "total free energy",
        "property_units": str(first.get("energy_units", "")),
        "run_seed_sequences": [_seed_sequence(a) for _, a in parts],
        "test_runs": sorted({int(r) for r in runs[is_test]}),
        "max_train": int(max_train),
        "simulation": {
            k: (v.item() if hasattr(v, "item") else v)
            for k, v in first.items()
            if k not in ("run", "seed", "seed_sequence")
        },
    }
    return arrays, attrs


def write_dataset(path, arrays: dict, attrs: dict, config: dict) -> dict:
    """Write a dataset file (with checksum, config and code version) and return its attrs."""
    attrs = {
        **attrs,
        "n_samples": len(arrays["property"]),
        "config": config,
        "code_version": __version__,
        "checksum": checksum(arrays["images"], arrays["property"], arrays["split"]),
    }
    write_h5(path, arrays, attrs)
    return attrs


def dataset_card(arrays: dict, attrs: dict, sources) -> str:
    """A markdown description of a dataset: counts, label histogram, provenance."""
    y, split = arrays["property"], arrays["split"]
    n_test, n_unused = int(np.sum(split == TEST)), int(np.sum(split == UNUSED))
    counts, edges = np.histogram(y, bins=16)
    rows = "\n".join(
        f"| {lo:.4g} .. {hi:.4g} | {c} | {'#' * int(40 * c / max(counts.max(), 1))} |"
        for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)
    )
    provenance = "\n".join(f"- `{s}`" for s in sources)
    settings = {k: v for k, v in attrs.items() if k not in ("config", "checksum")}
    backend = f"\n| simulation backend | {attrs['backend']} |" if "backend" in attrs else ""
    unused = (
        f"\n| unused training-run images | {n_unused} (a training split capped at "
        f"{attrs.get('max_train')}) |"
        if n_unused
        else ""
    )
    return f"""# Dataset `{attrs["dataset"]}`

| | |
|---|---|
| samples | {len(y)} |
| train / test | {len(y) - n_test - n_unused} / {n_test} |{unused}
| image shape | {tuple(arrays["images"].shape[1:])} uint8 |
| property | {attrs["property_name"]} ({attrs["property_units"]}) |
| property range | {y.min():.6g} .. {y.max():.6g} (mean {y.mean():.6g}) |{backend}
| content checksum (SHA-256) | `{attrs["checksum"]}` |
| microprop version | {attrs["code_version"]} |

## Property histogram

| bin | count | |
|---|---|---|
{rows}

## Provenance

Assembled from:
{provenance}

Settings:

```json
{json.dumps(settings, indent=2, sort_keys=True, default=str)}
```

Config that made it:

```json
{json.dumps(attrs["config"], indent=2, sort_keys=True, default=str)}
```
"""
