"""Regression metrics reported for every model (on the test split)."""

from __future__ import annotations

import numpy as np


def regression_metrics(y_true, y_pred, weights=None) -> dict[str, float]:
    """RMSE, MAE and R² of a prediction.

    ``weights`` (one per image, e.g. from a stratified test subset): weighted means, so
    that an image of weight 2 counts as two images. ``n_test`` counts scored images.

    >>> m = regression_metrics([0.0, 1.0, 2.0], [0.0, 1.0, 2.0])
    >>> m["rmse"], m["mae"], m["r2"]
    (0.0, 0.0, 1.0)
    >>> w = regression_metrics([0.0, 1.0, 3.0], [1.0, 1.0, 1.0], weights=[1.0, 2.0, 1.0])
    >>> w == regression_metrics([0.0, 1.0, 1.0, 3.0], [1.0, 1.0, 1.0, 1.0]) | {"n_test": 3}
    True
    >>> regression_metrics([0.0, 1.0], [0.5, float("nan")])
    Traceback (most recent call last):
    ValueError: 1 of 2 predictions are not finite (NaN or inf): the training diverged
    """
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"shapes differ or are empty: {y_true.shape} vs {y_pred.shape}")
    if bad := int(np.count_nonzero(~np.isfinite(y_pred))):
        raise ValueError(
            f"{bad} of {y_pred.size} predictions are not finite (NaN or inf): the training diverged"
        )
    w = np.ones_like(y_true) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != y_true.shape or not (w > 0).all():
        raise ValueError(f"weights must be positive, one per image: {w.shape} vs {y_true.shape}")
    err = y_pred - y_true
    ss_tot = float(np.sum(w * (y_true - np.average(y_true, weights=w)) ** 2))
    r2 = 1.0 - float(np.sum(w * err**2)) / ss_tot if ss_tot > 0 else float("nan")
    return {
        "rmse": float(np.sqrt(np.average(err**2, weights=w))),
        "mae": float(np.average(np.abs(err), weights=w)),
        "r2": r2,
        "n_test": int(y_true.size),
    }
