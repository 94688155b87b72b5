"""The splits module: every subset draws from its named stream, the same draws as before
the streams had names (results must not change)."""

import math

import numpy as np
import pytest

from microprop import splits


def test_each_stream_keeps_its_historical_number():
    assert splits.STREAMS == {
        "training_subset": 1,
        "augmentation": 1,
        "test_split": 2,
        "search_subsample": 2,
        "calibration": 3,
        "residual_scale": 4,
        "training_pool": 5,
        "design_start": 19,
        "design_pixel": 20,
        "design_prior": 21,
    }


@pytest.mark.parametrize("seed", [0, 3])
def test_training_subset_draws_as_before(seed):
    train = np.arange(5, 505, 2)
    n = math.ceil(0.3 * len(train) - 1e-9)
    before = np.sort(train[np.random.default_rng([seed, 1]).permutation(len(train))[:n]])
    np.testing.assert_array_equal(splits.training_subset(train, 0.3, seed), before)


def test_test_split_and_search_subsample_draw_as_before():
    labels = np.linspace(0.0, 1.0, 200)
    shuffle = np.random.default_rng([7, 2]).permutation(200)
    order = shuffle[np.argsort(labels[shuffle], kind="stable")]
    picks = ((np.arange(20) + 0.5) * 200 / 20).astype(np.int64)
    mask = splits.stratified_test_split(labels, 20, seed=7)
    assert np.flatnonzero(mask).tolist() == sorted(order[picks].tolist())
    X, y = np.arange(400.0).reshape(200, 2), labels
    keep = np.sort(np.random.default_rng([7, 2]).permutation(200)[:50])
    Xs, ys, gs = splits.subsample(X, y, 50, seed=7)
    np.testing.assert_array_equal(ys, y[keep])
    assert gs is None


def test_calibration_streams_draw_as_before():
    train = np.arange(100)
    perm = np.random.default_rng([2, 3]).permutation(100)
    fit, cal = splits.split_rows(train, 0.2, seed=2)
    np.testing.assert_array_equal(cal, np.sort(train[perm[:20]]))
    res, rest = splits.residual_split(10, 0.5, seed=2)
    np.testing.assert_array_equal(res, np.random.default_rng([2, 4]).permutation(10)[:5])


def test_unknown_stream_is_an_error():
    with pytest.raises(KeyError):
        splits.stream("no such stream", 0)
