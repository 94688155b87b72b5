"""Regression metrics reported for every model (on the test split)."""

from __future__ import annotations

import numpy as np


def regression_metrics(y_true, y_pred) -> dict[str, float]:
    """RMSE, MAE and R² of a prediction.

    >>> m = regression_metrics([0.0, 1.0, 2.0], [0.0, 1.0, 2.0])
    >>> m["rmse"], m["mae"], m["r2"]
    (0.0, 0.0, 1.0)
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
    err = y_pred - y_true
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    r2 = 1.0 - float(np.sum(err**2)) / ss_tot if ss_tot > 0 else float("nan")
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "r2": r2,
        "n_test": int(y_true.size),
    }
