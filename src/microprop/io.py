"""HDF5 input/output shared by every stage: atomic writes, datasets, feature files.

Every file the workflow writes goes through :func:`atomic_path`: the data is written
to a temporary name beside the target and renamed only when complete, so a crash or a
kill never leaves a partial file under the final name.

Dataset file (``results/data/{dataset}.h5``)
    ``images`` (N, H, W) uint8, ``property`` (N,) float64, ``split`` (N,) bytes
    ``b"train"``/``b"test"``, per-sample provenance arrays, and attributes (property
    name and units, config, code version, seeds, checksum).

Feature file (``results/features/{dataset}/{feature}.h5``)
    ``features`` (N, ...) float, ``property`` and ``split`` copied from the dataset,
    ``index`` (N,) int64 (row of the dataset), attributes describing the feature and a
    content checksum.

Both loaders verify the stored content checksum and turn an unreadable file into a
:class:`DataFileError` naming the file, so a corrupted input stops a rule with one clear
line instead of a raw HDF5 error or, worse, wrong numbers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np


class DataFileError(ValueError):
    """A dataset or feature file that cannot be read or fails its content checksum."""


TRAIN = b"train"
TEST = b"test"
UNUSED = b"unused"  # a training run's images left out of a capped training set (ch.max_train)
SPLIT_DTYPE = "S6"  # b"train", b"test", b"unused"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def without_nonfinite(value, path: str = "") -> tuple[object, list[str]]:
    """``value`` with every NaN or infinite float replaced by None, and the dotted keys
    replaced: what :func:`strict_json` writes as ``null``.

    >>> without_nonfinite({"a": 1.0, "b": [float("inf"), 2], "c": {"d": float("nan")}})
    ({'a': 1.0, 'b': [None, 2], 'c': {'d': None}}, ['b.0', 'c.d'])
    """
    if isinstance(value, Mapping):
        out, bad = {}, []
        for key, item in value.items():
            out[key], sub = without_nonfinite(item, f"{path}.{key}" if path else str(key))
            bad += sub
        return out, bad
    if isinstance(value, list | tuple):
        pairs = [
            without_nonfinite(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(value)
        ]
        return [v for v, _ in pairs], [k for _, sub in pairs for k in sub]
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None, [path]
    if isinstance(value, np.generic):
        return value.item(), []
    return value, []


def strict_json(value, indent: int | None = 2) -> str:
    """JSON that every parser reads (jq, JavaScript, ``json.loads(..., strict)``): NaN and
    infinities, which Python's json writes as the non-standard ``NaN``/``Infinity``, become
    ``null``. In a model's metrics.json a ``null`` width or bound therefore means an
    unbounded interval (a calibration set too small for the level,
    :meth:`microprop.uncertainty.Conformal.intervals`).

    >>> strict_json({"mean_width": float("inf"), "rmse": 1.5}, indent=None)
    '{"mean_width": null, "rmse": 1.5}'
    """
    clean, _ = without_nonfinite(value)
    return json.dumps(clean, indent=indent, allow_nan=False)


def remove_stale_partials(root: str | os.PathLike) -> list[Path]:
    """Delete the temporary files :func:`atomic_path` left under ``root`` when killed.

    Only for the start of a run: Snakemake's directory lock guarantees that no job of
    another run is writing there (the Snakefile's ``onstart`` calls it).

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "a").mkdir(); _ = (root / "a" / ".x.h5.partial-123").write_text("")
    >>> _ = (root / "a" / "x.h5").write_text("")
    >>> [p.name for p in remove_stale_partials(root)], sorted(p.name for p in root.rglob("*"))
    (['.x.h5.partial-123'], ['a', 'x.h5'])
    """
    stale = sorted(Path(root).rglob(".*.partial-*")) if Path(root).is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def _to_attr(value):
    """HDF5 attributes hold scalars, strings and arrays; anything else goes as JSON."""
    if isinstance(value, (str, bytes, int, float, np.integer, np.floating, np.ndarray)):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def write_h5(
    path: str | os.PathLike,
    arrays: Mapping[str, np.ndarray],
    attrs: Mapping[str, object] | None = None,
    compress: tuple[str, ...] = ("images",),
) -> None:
    """Write ``arrays`` and ``attrs`` to ``path`` atomically.

    Arrays named in ``compress`` are chunked per sample and gzip-compressed.
    """
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for name, arr in arrays.items():
            arr = np.asarray(arr)
            if name in compress and arr.ndim >= 2 and len(arr):
                chunks = (min(len(arr), 256), *arr.shape[1:])
                f.create_dataset(name, data=arr, chunks=chunks, compression="gzip", shuffle=True)
            else:
                f.create_dataset(name, data=arr)
        for key, value in (attrs or {}).items():
            f.attrs[key] = _to_attr(value)


def decode_attr(value):
    """An HDF5 attribute as written by :func:`write_h5`: bytes as text, JSON lists and
    objects decoded, anything else unchanged.

    >>> decode_attr(b'[3, 1]'), decode_attr("[not json"), decode_attr(2)
    ([3, 1], '[not json', 2)
    """
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "[{":
        with contextlib.suppress(json.JSONDecodeError):
            value = json.loads(value)
    return value


def read_attrs(path: str | os.PathLike) -> dict:
    """All attributes of an HDF5 file, JSON-encoded ones decoded."""
    with open_h5(path) as f:
        return {key: decode_attr(value) for key, value in f.attrs.items()}


def checksum(*arrays: np.ndarray) -> str:
    """SHA-256 over the bytes of ``arrays``, the content checksum stored with datasets."""
    h = hashlib.sha256()
    for arr in arrays:
        arr = np.ascontiguousarray(arr)
        h.update(str((arr.dtype.str, arr.shape)).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


@dataclass
class Dataset:
    """An assembled dataset held in memory.

    >>> ds = Dataset(np.zeros((4, 4, 4), np.uint8), np.arange(4.0),
    ...              np.array([TRAIN, TEST, TRAIN, UNUSED]))
    >>> ds.train_idx.tolist(), ds.test_idx.tolist()
    ([0, 2], [1])
    """

    images: np.ndarray
    property: np.ndarray
    split: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)

    @property
    def is_test(self) -> np.ndarray:
        return self.split == TEST

    @property
    def train_idx(self) -> np.ndarray:
        return np.flatnonzero(self.split == TRAIN)

    @property
    def test_idx(self) -> np.ndarray:
        return np.flatnonzero(self.is_test)

    def __len__(self) -> int:
        return len(self.property)


@contextlib.contextmanager
def open_h5(path: str | os.PathLike) -> Iterator[h5py.File]:
    """Open an HDF5 file for reading; unreadable or corrupt content raises DataFileError."""
    try:
        with h5py.File(path, "r") as f:
            yield f
    except (OSError, KeyError, RuntimeError) as err:
        raise DataFileError(
            f"{path}: cannot be read as an HDF5 file (corrupt or truncated? delete it and "
            f"rerun the rule that makes it): {err}"
        ) from err


def verify_checksum(path, attrs: Mapping, *arrays: np.ndarray) -> None:
    """Compare ``arrays`` with the checksum stored in ``attrs`` (files without one pass)."""
    stored = attrs.get("checksum")
    if stored and checksum(*arrays) != stored:
        raise DataFileError(
            f"{path}: content checksum mismatch (the file was corrupted or modified after it "
            "was written); delete it and rerun the rule that makes it"
        )


def run_steps(path: str | os.PathLike) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The run and step of every row of a dataset file ((None, None) without runs).

    The runs group CH's rows for leave-runs-out calibration; runs and steps stratify its
    test subset (:func:`microprop.splits.evaluation_subset`).
    """
    with open_h5(path) as f:
        if "run" in f and "step" in f:
            return f["run"][()], f["step"][()]
    return None, None


def part1_steps(path: str | os.PathLike) -> int | None:
    """Part 1's step count of a CH dataset's runs (None for other datasets): where the
    step groups of :func:`microprop.metrics.rmse_by_step_group` divide."""
    simulation = read_attrs(path).get("simulation")
    if isinstance(simulation, dict) and "part1_steps" in simulation:
        return int(simulation["part1_steps"])
    return None


def load_dataset(path: str | os.PathLike, images: bool = True) -> Dataset:
    """Read a dataset file and verify its content checksum.

    ``images=False`` returns no image array (they are still read once for the checksum).
    """
    with open_h5(path) as f:
        for name in ("property", "split", "images"):
            if name not in f:
                raise DataFileError(f"{path}: not a microprop dataset (no '{name}' array)")
        extra = {k: f[k][()] for k in f if k not in ("images", "property", "split")}
        ds = Dataset(f["images"][()], f["property"][()], f["split"][()], extra=extra)
    ds.attrs = read_attrs(path)
    verify_checksum(path, ds.attrs, ds.images, ds.property, ds.split)
    if not images:
        ds.images = np.empty((0,), np.uint8)
    return ds


def write_features(
    path: str | os.PathLike,
    features: np.ndarray,
    dataset: Dataset,
    attrs: Mapping[str, object] | None = None,
) -> None:
    """Write a feature file aligned with ``dataset`` (same rows, same split)."""
    if len(features) != len(dataset):
        raise ValueError(f"{len(features)} feature rows for a dataset of {len(dataset)} samples")
    write_h5(
        path,
        {
            "features": features,
            "property": dataset.property,
            "split": dataset.split,
            "index": np.arange(len(dataset), dtype=np.int64),
        },
        {
            "property_name": dataset.attrs.get("property_name", ""),
            "property_units": dataset.attrs.get("property_units", ""),
            **(attrs or {}),
            "checksum": checksum(features, dataset.property, dataset.split),
        },
        compress=("features",),
    )


def load_features(path: str | os.PathLike) -> Dataset:
    """Read a feature file as a :class:`Dataset` whose ``images`` are the features."""
    with open_h5(path) as f:
        for name in ("features", "property", "split"):
            if name not in f:
                raise DataFileError(f"{path}: not a microprop feature file (no '{name}' array)")
        ds = Dataset(f["features"][()], f["property"][()], f["split"][()])
    ds.attrs = read_attrs(path)
    verify_checksum(path, ds.attrs, ds.images, ds.property, ds.split)
    return ds
