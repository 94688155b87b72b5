"""Surrogate models of the paper (section 3.2) and the shared training protocol."""

from __future__ import annotations

import math

import numpy as np

from microprop.models.pcr import PiecewiseConstantRegressor
from microprop.models.svr import SVRegressor
from microprop.uncertainty import calibrate, split_rows


def training_subset(train_idx: np.ndarray, frac: float, seed: int) -> np.ndarray:
    """The first ceil(frac * n) of a seeded permutation of the training indices.

    Subsets of one seed are nested: a smaller fraction is a prefix of a larger one.

    >>> idx = np.arange(100)
    >>> small, large = training_subset(idx, 0.1, 0), training_subset(idx, 0.5, 0)
    >>> len(small), len(large), bool(np.isin(small, large).all())
    (10, 50, True)
    """
    if not 0.0 < frac <= 1.0:
        raise ValueError(f"training fraction must be in (0, 1], got {frac}")
    n = max(1, math.ceil(frac * len(train_idx) - 1e-9))
    perm = np.random.default_rng([seed, 1]).permutation(len(train_idx))
    return np.sort(np.asarray(train_idx)[perm[:n]])


def evaluation_subset(test_idx: np.ndarray, max_test: int) -> np.ndarray:
    """At most ``max_test`` test indices, evenly spaced over the test split (0: all).

    Not random: every model, fraction and seed is scored on the same images. Only for a
    test split whose errors are spread over many images: on CH a few images at the start
    of each test run dominate the RMSE, and any subset misjudges it (README).

    >>> evaluation_subset(np.arange(100, 110), 4).tolist()
    [100, 103, 106, 109]
    >>> len(evaluation_subset(np.arange(10), 0)), len(evaluation_subset(np.arange(10), 20))
    (10, 10)
    """
    test_idx = np.asarray(test_idx)
    if max_test < 0:
        raise ValueError(f"max_test must be >= 0 (0: every test image), got {max_test}")
    if not max_test or len(test_idx) <= max_test:
        return test_idx
    return test_idx[np.linspace(0, len(test_idx) - 1, max_test).round().astype(int)]


__all__ = [
    "PiecewiseConstantRegressor",
    "SVRegressor",
    "fit_evaluate",
    "evaluation_subset",
    "training_subset",
]


def fit_evaluate(
    estimator,
    features,
    frac: float,
    seed: int,
    flatten: bool = True,
    max_train: int = 0,
    calibration: dict | None = None,
    groups=None,
    max_test: int = 0,
):
    """Fit ``estimator`` on a training subset of a feature file and evaluate on the test split.

    ``features`` is a :class:`microprop.io.Dataset` read by ``load_features`` (or, for
    the CNNs, by ``load_dataset``). Returns the fitted estimator, a metrics dict (test
    RMSE/MAE/R², timings, sizes) and a table of test predictions (index, true, predicted).
    ``flatten=False`` passes the samples with their shape (images); ``max_train`` > 0
    caps the training subset at a seeded random subset of that size (a compute budget);
    ``max_test`` > 0 scores on an evenly spaced subset of that many test images
    (:func:`evaluation_subset`, the same for every model and seed).

    ``calibration`` (keyword arguments of :func:`microprop.uncertainty.calibrate`:
    ``method`` and the :class:`~microprop.uncertainty.Conformal` options) adds conformal
    prediction intervals: the table gains ``lower`` and ``upper``, the metrics coverage
    and widths on the test split, and the estimator ``conformal_`` (its calibration sets,
    from training images only). ``method="split"`` fits on the training subset without
    its calibration part. ``groups`` (run ids per row) add a leave-runs-out calibration.
    """
    import time

    import pandas as pd

    from microprop.metrics import regression_metrics

    X = features.images.reshape(len(features), -1) if flatten else features.images
    y = features.property
    train = training_subset(features.train_idx, frac, seed)
    if max_train and len(train) > max_train:
        train = training_subset(train, max_train / len(train), seed)
    test = evaluation_subset(features.test_idx, max_test)
    fit_rows = train
    if calibration and calibration["method"] == "split":
        fit_rows, _ = split_rows(train, calibration["fraction"], seed)
    t0 = time.perf_counter()
    estimator.fit(X[fit_rows], y[fit_rows])
    t1 = time.perf_counter()
    pred = estimator.predict(X[test])
    t2 = time.perf_counter()
    metrics = {
        **regression_metrics(y[test], pred),
        "n_train": int(len(train)),
        "n_images": int(len(features)),  # the dataset's, whose features were timed
        "frac": frac,
        "seed": seed,
        "seconds": {
            "features": float(features.attrs.get("seconds", 0.0)),
            "train": t1 - t0,
            "predict": t2 - t1,
        },
    }
    table = pd.DataFrame({"index": test, "true": y[test], "predicted": pred})
    if calibration:
        options = {k: v for k, v in calibration.items() if k != "fraction"}
        conformal = calibrate(estimator, X, y, train, fit_rows, seed=seed, groups=groups, **options)
        table["lower"], table["upper"] = conformal.intervals(pred)
        metrics.update(conformal.evaluate(y[test], pred))
        metrics["n_fit"] = int(len(fit_rows))
        metrics["seconds"]["calibration"] = time.perf_counter() - t2
        estimator.conformal_ = conformal
    return estimator, metrics, table
