"""Surrogate models of the paper (section 3.2) and the shared training protocol."""

from __future__ import annotations

import numpy as np

from microprop.models.pcr import PiecewiseConstantRegressor
from microprop.models.svr import SVRegressor
from microprop.splits import capped_subset, evaluation_subset, split_rows, training_subset
from microprop.uncertainty import calibrate

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
    part1_steps: int | None = None,
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
    runs). With ``steps`` and ``part1_steps`` (CH) the metrics gain the RMSE per step
    group (``rmse_by_step_group``, :func:`microprop.metrics.rmse_by_step_group`) and the
    table each image's ``step``.
    """
    import time

    import pandas as pd

    from microprop.metrics import regression_metrics, rmse_by_step_group

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
    if steps is not None and part1_steps:
        table["step"] = np.asarray(steps)[test]  # where the error lies (CH)
        metrics["rmse_by_step_group"] = rmse_by_step_group(
            y[test], pred, table["step"], part1_steps, weights
        )
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
