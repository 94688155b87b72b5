"""Assembly of shards into a dataset: content, split, provenance and refusal of bad input."""

import h5py
import numpy as np
import pytest

from microprop.dataset import (
    SimulationFileError,
    assemble_ising,
    dataset_card,
    stratified_test_split,
    write_dataset,
)
from microprop.io import (
    TEST,
    DataFileError,
    load_dataset,
    load_features,
    write_features,
    write_h5,
)
from microprop.ising import simulate_shard


@pytest.fixture
def shards(tmp_path):
    paths = []
    for i in range(3):
        shard = simulate_shard(i * 40, 40, seed=5, attempts_per_image=2000)
        shard.pop("attempts")
        path = tmp_path / f"shard_{i}.h5"
        attrs = {"label_max": 255, "lattice_size": 64, "attempts_per_image": 2000, "seed": 5}
        write_h5(path, shard, attrs)
        paths.append(path)
    return paths


def test_assembled_dataset_round_trips(shards, tmp_path):
    arrays, attrs = assemble_ising(shards, n_test=20, seed=0, image_size=64)
    out = tmp_path / "ising.h5"
    attrs = write_dataset(out, arrays, attrs, {"ising": {"n_images": 120}})
    ds = load_dataset(out)
    assert ds.images.shape == (120, 64, 64) and ds.images.dtype == np.uint8
    assert len(ds.test_idx) == 20
    assert np.array_equal(ds.extra["sample_index"], np.arange(120))
    assert ds.attrs["checksum"] == attrs["checksum"] and len(attrs["checksum"]) == 64
    assert ds.attrs["config"] == {"ising": {"n_images": 120}}
    assert "temperature" in ds.attrs["property_units"]
    card = dataset_card(arrays, attrs, shards)
    assert "| samples | 120 |" in card and "shard_2.h5" in card


def test_test_split_covers_the_label_range():
    labels = np.random.default_rng(0).integers(0, 256, 50_000)
    mask = stratified_test_split(labels, 1000, seed=0)
    assert mask.sum() == 1000
    counts = np.bincount(labels[mask] // 32, minlength=8)
    assert counts.min() >= 110  # ~125 per eighth of the label range
    assert labels[mask].min() <= 1 and labels[mask].max() >= 254
    assert np.array_equal(mask, stratified_test_split(labels, 1000, seed=0))


def test_missing_shard_is_named(shards):
    shards[1].unlink()
    with pytest.raises(SimulationFileError, match="shard_1.h5.*missing"):
        assemble_ising(shards, n_test=20, seed=0)


def test_truncated_shard_is_named(shards):
    data = shards[2].read_bytes()
    shards[2].write_bytes(data[: len(data) // 2])
    with pytest.raises(SimulationFileError, match="shard_2.h5"):
        assemble_ising(shards, n_test=20, seed=0)


def test_shard_without_an_array_is_named(shards):
    with h5py.File(shards[0], "a") as f:
        del f["temperature"]
    with pytest.raises(SimulationFileError, match="shard_0.h5.*temperature"):
        assemble_ising(shards, n_test=20, seed=0)


def test_shard_of_the_wrong_shape_is_named(shards, tmp_path):
    shard = simulate_shard(40, 40, lattice_size=32, seed=5, attempts_per_image=100)
    shard.pop("attempts")
    write_h5(shards[1], shard)
    with pytest.raises(
        SimulationFileError, match=r"shard_1.h5.*\(N, 64, 64\).*got shape \(40, 32, 32\)"
    ):
        assemble_ising(shards, n_test=20, seed=0, image_size=64)


def test_shards_out_of_order_are_refused(shards):
    with pytest.raises(SimulationFileError, match="indices"):
        assemble_ising([shards[1], shards[0], shards[2]], n_test=20, seed=0)


def test_a_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "data.h5"

    class Unwritable:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_h5(target, {"images": np.zeros((2, 4, 4), np.uint8), "bad": Unwritable()})
    assert list(tmp_path.iterdir()) == []


def test_split_values_are_train_and_test(shards):
    arrays, _ = assemble_ising(shards, n_test=20, seed=0)
    assert set(np.unique(arrays["split"])) == {b"train", TEST}


@pytest.fixture
def dataset_file(shards, tmp_path):
    arrays, attrs = assemble_ising(shards, n_test=20, seed=0, image_size=64)
    out = tmp_path / "ising.h5"
    write_dataset(out, arrays, attrs, {})
    return out


def test_a_modified_dataset_fails_its_checksum_naming_the_file(dataset_file):
    with h5py.File(dataset_file, "r+") as f:
        f["property"][3] += 1.0  # one label changed after assembly
    for images in (True, False):
        with pytest.raises(DataFileError, match=f"{dataset_file}: content checksum mismatch"):
            load_dataset(dataset_file, images=images)


def test_a_corrupted_dataset_is_named_not_a_raw_hdf5_error(dataset_file):
    data = bytearray(dataset_file.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4096] = bytes(4096)  # zeroes inside the images
    dataset_file.write_bytes(data)
    with pytest.raises(DataFileError, match=str(dataset_file)):
        load_dataset(dataset_file)
    dataset_file.write_bytes(data[: len(data) // 3])  # truncated
    with pytest.raises(DataFileError, match=f"{dataset_file}: cannot be read"):
        load_dataset(dataset_file)


def test_a_modified_feature_file_fails_its_checksum(dataset_file, tmp_path):
    ds = load_dataset(dataset_file)
    path = tmp_path / "grad.h5"
    write_features(path, np.arange(len(ds), dtype=float)[:, None], ds, {"feature": "grad"})
    assert load_features(path).images.shape == (len(ds), 1)
    with h5py.File(path, "r+") as f:
        f["features"][0, 0] = -1.0
    with pytest.raises(DataFileError, match=f"{path}: content checksum mismatch"):
        load_features(path)
    path.write_bytes(b"not an HDF5 file")
    with pytest.raises(DataFileError, match=f"{path}: cannot be read"):
        load_features(path)
