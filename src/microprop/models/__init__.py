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


def capped_subset(rows: np.ndarray, n: int, seed: int) -> np.ndarray:
    """At most ``n`` of ``rows``: a seeded :func:`training_subset` of them when there are
    more (a compute budget), all of them when fewer or ``n`` = 0.

    >>> capped_subset(np.arange(10), 0, 0).tolist() == list(range(10))
    True
    >>> len(capped_subset(np.arange(10), 4, 0)), len(capped_subset(np.arange(3), 4, 0))
    (4, 3)
    """
    return training_subset(rows, n / len(rows), seed) if n and len(rows) > n else rows


def evaluation_subset(
    test_idx: np.ndarray, max_test: int, runs=None, steps=None
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_test`` test indices and their weights (0: every image, weight 1).

    The weights (how many test images each scored one stands for) sum to the size of the
    test split, so weighted means estimate the means over the whole split. Deterministic:
    every model, fraction and seed is scored on the same images.

    Without ``runs``: evenly spaced over the test split, equal weights (Ising, CFD: the
    errors are spread over many images). With the run and step of every dataset row (CH,
    whose test split is whole runs and whose RMSE is dominated by the first snapshots of
    each run, where the energy falls fastest): a stratified sample. Each run's test
    images, in step order, are cut into strata of doubling length (1, 1, 2, 4, 8, ...);
    every stratum gives the same number m of evenly spaced images (all of a smaller one),
    each weighted by its stratum's size over m, with m the largest that keeps the total
    within ``max_test``. So the first snapshots are all scored, and the long late part of
    a run, where the label changes slowly, is sampled (benchmarks/test_subset.py measures
    the estimate against every test image).

    >>> idx, w = evaluation_subset(np.arange(100, 110), 4)
    >>> idx.tolist(), w.tolist()
    ([100, 103, 106, 109], [2.5, 2.5, 2.5, 2.5])
    >>> idx, w = evaluation_subset(np.arange(16), 9, runs=np.zeros(16), steps=np.arange(16))
    >>> idx.tolist(), w.tolist()
    ([0, 1, 2, 3, 4, 7, 8, 15], [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 4.0, 4.0])
    >>> len(evaluation_subset(np.arange(10), 0)[0]), len(evaluation_subset(np.arange(10), 20)[0])
    (10, 10)
    """
    test_idx = np.asarray(test_idx)
    if max_test < 0:
        raise ValueError(f"max_test must be >= 0 (0: every test image), got {max_test}")
    if (runs is None) != (steps is None):
        raise ValueError("a stratified test subset needs both the run and the step of every row")
    if not max_test or len(test_idx) <= max_test:
        return test_idx, np.ones(len(test_idx))
    if runs is None:
        picked = test_idx[np.linspace(0, len(test_idx) - 1, max_test).round().astype(int)]
        return picked, np.full(max_test, len(test_idx) / max_test)
    runs, steps = np.asarray(runs)[test_idx], np.asarray(steps)[test_idx]
    strata = []
    for run in np.unique(runs):
        in_run = runs == run
        rows = test_idx[in_run][np.argsort(steps[in_run], kind="stable")]
        position = np.arange(len(rows))
        octave = np.floor(np.log2(np.maximum(position, 1))).astype(int) + (position > 0)
        strata += [rows[octave == k] for k in np.unique(octave)]
    if len(strata) > max_test:
        raise ValueError(
            f"max_test {max_test} is below the {len(strata)} strata of the test runs: "
            "raise studies.max_test or set it to 0"
        )
    sizes = np.array([len(s) for s in strata])
    m = max(k for k in range(1, sizes.max() + 1) if np.minimum(sizes, k).sum() <= max_test)
    picks = [s[np.linspace(0, len(s) - 1, min(len(s), m)).round().astype(int)] for s in strata]
    weights = [np.full(len(p), len(s) / len(p)) for p, s in zip(picks, strata, strict=True)]
    return np.concatenate(picks), np.concatenate(weights)


__all__ = [
    "PiecewiseConstantRegressor",
    "SVRegressor",
    "capped_subset",
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
    runs=None,
    steps=None,
    fit_groups: bool = False,
):
    """Fit ``estimator`` on a training subset of a feature file and evaluate on the test split.

    ``features`` is a :class:`microprop.io.Dataset` read by ``load_features`` (or, for
    the CNNs, by ``load_dataset``). Returns the fitted estimator, a metrics dict (test
    RMSE/MAE/R², timings, sizes) and a table of test predictions (index, true, predicted).
    ``flatten=False`` passes the samples with their shape (images); ``max_train`` > 0
    caps the training subset at a seeded random subset of that size (a compute budget);
    ``max_test`` > 0 scores on at most that many test images, the same for every model
    and seed (:func:`evaluation_subset`: evenly spaced, or stratified by run and step when
    ``runs`` and ``steps`` of every row are given); the metrics are then weighted
    estimates of those on the whole test split, and the table gains ``weight``.

    ``calibration`` (keyword arguments of :func:`microprop.uncertainty.calibrate`:
    ``method`` and the :class:`~microprop.uncertainty.Conformal` options) adds conformal
    prediction intervals: the table gains ``lower`` and ``upper``, the metrics coverage
    and widths on the test split, and the estimator ``conformal_`` (its calibration sets,
    from training images only). ``method="split"`` fits on the training subset without
    its calibration part. ``groups`` (run ids per row) add a leave-runs-out calibration
    (``cv``) or make the ``split`` part whole runs; with ``fit_groups`` the fitting rows'
    groups also go to ``estimator.fit`` (the CNNs then validate, and calibrate, on whole
    runs).
    """
    import time

    import pandas as pd

    from microprop.metrics import regression_metrics

    if fit_groups and groups is None:
        raise ValueError("fit_groups needs groups (a run id per row)")
    X = features.images.reshape(len(features), -1) if flatten else features.images
    y = features.property
    train = capped_subset(training_subset(features.train_idx, frac, seed), max_train, seed)
    test, weights = evaluation_subset(features.test_idx, max_test, runs, steps)
    fit_rows = train
    if calibration and calibration["method"] == "split":
        run_of_row = None if groups is None else np.asarray(groups)[train]
        fit_rows, _ = split_rows(train, calibration["fraction"], seed, run_of_row)
    t0 = time.perf_counter()
    fit_kwargs = {"groups": np.asarray(groups)[fit_rows]} if fit_groups else {}
    estimator.fit(X[fit_rows], y[fit_rows], **fit_kwargs)
    t1 = time.perf_counter()
    pred = estimator.predict(X[test])
    t2 = time.perf_counter()
    metrics = {
        **regression_metrics(y[test], pred, weights),
        "n_test_split": int(len(features.test_idx)),
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
    if len(test) < len(features.test_idx):
        table["weight"] = weights  # how many test images each scored one stands for
    if calibration:
        options = {k: v for k, v in calibration.items() if k != "fraction"}
        conformal = calibrate(estimator, X, y, train, fit_rows, seed=seed, groups=groups, **options)
        table["lower"], table["upper"] = conformal.intervals(pred)
        metrics.update(conformal.evaluate(y[test], pred, weights))
        metrics["n_fit"] = int(len(fit_rows))
        metrics["seconds"]["calibration"] = time.perf_counter() - t2
        estimator.conformal_ = conformal
    return estimator, metrics, table
