"""Regression metrics reported for every model (on the test split)."""

from __future__ import annotations

import numpy as np

#: Where a Cahn-Hilliard model's error lies (issue 41): a run's saved steps in four groups,
#: the first images (steps 1-9, the fastest change of E), steps 10-99, the rest of part 1
#: and part 2 (an image every ``save_every`` steps).
STEP_GROUPS = ("steps 1-9", "steps 10-99", "rest of part 1", "part 2")
FIRST_STEPS = 9  # the last step of the first group


def step_groups(steps, part1_steps: int) -> np.ndarray:
    """The :data:`STEP_GROUPS` index of each image's step (1-based, after the step).

    >>> step_groups([1, 9, 10, 99, 100, 2000, 2010], 2000).tolist()
    [0, 0, 1, 1, 2, 2, 3]
    """
    s = np.asarray(steps)
    return np.select([s <= FIRST_STEPS, s < 100, s <= part1_steps], [0, 1, 2], 3)


def rmse_by_step_group(y_true, y_pred, steps, part1_steps: int, weights=None) -> dict:
    """RMSE and image count of each non-empty :data:`STEP_GROUPS` group (weighted as
    :func:`regression_metrics`), in the groups' order.

    >>> m = rmse_by_step_group([0.0, 0.0, 0.0], [3.0, 4.0, 1.0], [1, 5, 200], 100)
    >>> {k: round(v["rmse"], 4) for k, v in m.items()}
    {'steps 1-9': 3.5355, 'part 2': 1.0}
    """
    groups = rmse_by_group(y_true, y_pred, step_groups(steps, part1_steps), STEP_GROUPS, weights)
    return {name: g for name, g in groups.items() if g["n_test"]}


def rmse_by_group(y_true, y_pred, group, names, weights=None) -> dict:
    """RMSE and image count of each group ``k`` (``group == k``, named ``names[k]``),
    weighted as :func:`regression_metrics`; an empty group has ``rmse`` None.

    >>> rmse_by_group([0.0, 0.0, 0.0], [3.0, 4.0, 1.0], [0, 0, 2], ("a", "b", "c"))["a"]
    {'rmse': 3.5355339059327378, 'n_test': 2}
    """
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"shapes differ: {y_true.shape} vs {y_pred.shape}")
    w = np.ones_like(y_true) if weights is None else np.asarray(weights, float)
    group = np.asarray(group)
    out = {}
    for k, name in enumerate(names):
        rows = group == k
        err2 = (y_pred[rows] - y_true[rows]) ** 2
        rmse = float(np.sqrt(np.average(err2, weights=w[rows]))) if rows.any() else None
        out[name] = {"rmse": rmse, "n_test": int(rows.sum())}
    return out


def rmse_by_third(y_true, y_pred, edges, weights=None) -> dict:
    """RMSE and image count of each third of the property range (weighted as
    :func:`regression_metrics`).

    The thirds are :data:`microprop.uncertainty.THIRDS` of ``edges`` (4 values, e.g.
    ``np.linspace(lo, hi, 4)`` of the test labels), by the *true* label
    (:func:`microprop.uncertainty.third_index`: labels outside ``edges`` join the nearest
    third). All three keys are always present; an empty third has ``rmse`` None.

    >>> m = rmse_by_third([0.0, 1.0, 5.0, 9.0], [1.0, 2.0, 5.0, 6.0], [0, 3, 6, 9])
    >>> {k: (None if v["rmse"] is None else round(v["rmse"], 4), v["n_test"])
    ...  for k, v in m.items()}
    {'low': (1.0, 2), 'mid': (0.0, 1), 'high': (3.0, 1)}
    >>> w = rmse_by_third([0.0, 1.0], [1.0, 3.0], [0, 3, 6, 9], weights=[3.0, 1.0])
    >>> round(w["low"]["rmse"] ** 2, 4), w["mid"]  # (3 * 1 + 1 * 4) / 4
    (1.75, {'rmse': None, 'n_test': 0})
    """
    from microprop.uncertainty import THIRDS, third_index  # sklearn, not torch

    return rmse_by_group(y_true, y_pred, third_index(y_true, edges), THIRDS, weights)


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
