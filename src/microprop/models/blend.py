"""A blend of trained models (beyond the paper, issue 47): the feature SVR and a CNN know
different things about an image, and a weighted sum of their predictions can beat both.

The weights are chosen on training data only, from predictions the members made of
training images they did not train on: each member's calibration set (``conformal.npz``,
:mod:`microprop.uncertainty`): an SVR's out-of-fold predictions of every training image
(``cv``, or ``runs`` on CH), a CNN's predictions of its validation part. The blend fits on
the rows both sets hold (the CNN's validation part; below fraction 1 every family holds
out the same rows), so it learns how far each member can be trusted on images new to it.

The weights are non-negative and there is no intercept: Breiman's stacked regression
(Breiman 1996, "Stacked regressions", Mach. Learn. 24: 49-64), fitted by scikit-learn's
``LinearRegression(positive=True)``. scikit-learn's ``StackingRegressor`` would refit
every member K times to get out-of-fold predictions (K trainings of the CNN); here the
members' own held-out predictions serve, so only this last step is written out.

The blend's prediction intervals are conformal as every model's: its calibration set is
the blend's own out-of-fold predictions of those rows (weights fitted K times on the other
folds, whole runs as folds on CH), and the point model is the one fitted on all rows
(cross-conformal, as the ``cv`` calibration of PCR and SVR).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LinearRegression

from microprop.uncertainty import CalibrationSet, Conformal, out_of_fold


class Blend(RegressorMixin, BaseEstimator):
    """Non-negative weights of the member predictions (columns of ``P``), no intercept.

    >>> rng = np.random.default_rng(0); y = rng.uniform(0, 100, 4000)
    >>> a, b = y + rng.normal(0, 4, 4000), y + rng.normal(0, 8, 4000)
    >>> w = Blend().fit(np.column_stack([a, b]), y).weights_
    >>> [round(float(v), 1) for v in w]  # inverse-variance weights: 0.8 and 0.2
    [0.8, 0.2]
    """

    def __init__(self, members: tuple[str, ...] = ()):
        self.members = members

    def fit(self, P, y):
        P, y = _matrix(P), np.asarray(y, dtype=np.float64)
        if len(P) != len(y) or len(y) < 2:
            raise ValueError(f"a blend fits on at least 2 rows, got {len(P)} and {len(y)}")
        self.weights_ = LinearRegression(positive=True, fit_intercept=False).fit(P, y).coef_
        return self

    def predict(self, P) -> np.ndarray:
        return _matrix(P) @ self.weights_

    def save(self, path) -> None:
        """The weights and the member ids (.npz, plain arrays)."""
        np.savez(path, weights=self.weights_, members=np.array(list(self.members)))

    @classmethod
    def load(cls, path) -> Blend:
        with np.load(path, allow_pickle=False) as f:
            blend = cls(tuple(f["members"].tolist()))
            blend.weights_ = f["weights"]
        return blend


def _matrix(P) -> np.ndarray:
    P = np.asarray(P, dtype=np.float64)
    return P[:, None] if P.ndim == 1 else P


def member_calibration(directory) -> CalibrationSet:
    """A member's primary calibration set: its out-of-sample predictions of training rows."""
    conformal = Conformal.load(Path(directory) / "conformal.npz")
    return conformal.sets[conformal.primary]


def common_rows(sets: list[CalibrationSet]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The dataset rows every member predicted out of sample: (rows, labels, predictions
    with one column per member). Members of one dataset agree on every label."""
    rows = sets[0].index
    for s in sets[1:]:
        rows = np.intersect1d(rows, s.index)
    if len(rows) < 2:
        names = ", ".join(f"{s.name} ({len(s)} rows)" for s in sets)
        raise ValueError(f"the members' calibration sets share {len(rows)} rows: {names}")
    P, labels = [], []
    for s in sets:
        where = {int(r): i for i, r in enumerate(s.index)}
        take = np.array([where[int(r)] for r in rows])
        P.append(np.asarray(s.pred, dtype=np.float64)[take])
        labels.append(np.asarray(s.true, dtype=np.float64)[take])
    if any(not np.allclose(t, labels[0]) for t in labels[1:]):
        raise ValueError("the members' calibration labels differ: not the same dataset")
    return rows, labels[0], np.column_stack(P)


def member_tests(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """The members' test predictions side by side: the first member's table (index, true,
    step, weight, ...) without its intervals, and a ``predicted`` column per member
    (``pred_0``, ``pred_1``, ...). The members must have scored the same test images."""
    first = tables[0]
    for i, t in enumerate(tables[1:], 1):
        if len(t) != len(first) or not (t["index"].to_numpy() == first["index"].to_numpy()).all():
            raise ValueError(f"member {i} scored other test images than member 0")
    keep = [c for c in first.columns if c not in ("predicted", "lower", "upper")]
    out = first[keep].copy()
    for i, t in enumerate(tables):
        out[f"pred_{i}"] = t["predicted"].to_numpy(dtype=np.float64)
    return out


def fit_blend(
    members: tuple[str, ...],
    directories: list,
    folds: int,
    seed: int,
    runs=None,
    part1_steps: int | None = None,
    **conformal_options,
) -> tuple[Blend, dict, pd.DataFrame]:
    """Fit the blend of the trained models in ``directories`` (one per member id) and
    score it on their test predictions.

    ``runs`` (CH: a run id per dataset row) makes the out-of-fold folds whole runs;
    ``part1_steps`` (CH) adds the RMSE per step group as every CH model has it.
    Returns the fitted blend (with ``conformal_``), the metrics (test scores, weights,
    interval coverage) and the predictions table (index, true, predicted, lower, upper;
    step and weight as the members' tables have them).
    """
    from microprop.metrics import regression_metrics, rmse_by_step_group

    if len(members) != len(directories) or len(members) < 2:
        raise ValueError(f"a blend needs two members or more, got {members}")
    rows, y, P = common_rows([member_calibration(d) for d in directories])
    groups = None if runs is None else np.asarray(runs)[rows]
    # the blend's predictions of each row by weights fitted on the other folds (whole runs
    # as folds when runs are given), as the cv calibration of PCR and SVR
    oof = out_of_fold(Blend(), P, y, np.arange(len(y)), folds, seed, groups)
    blend = Blend(tuple(members)).fit(P, y)

    tests = member_tests([pd.read_csv(Path(d) / "predictions.csv") for d in directories])
    pred = blend.predict(tests[[f"pred_{i}" for i in range(len(members))]].to_numpy())
    weights = tests["weight"].to_numpy() if "weight" in tests else None
    table = tests[[c for c in tests.columns if not c.startswith("pred_")]].copy()
    table["predicted"] = pred

    conformal = Conformal([CalibrationSet("blend", rows, y, oof)], seed=seed, **conformal_options)
    table["lower"], table["upper"] = conformal.intervals(pred)
    metrics = {
        **regression_metrics(table["true"], pred, weights),
        "hyperparameters": {
            "method": "blend",
            "weights": {m: float(w) for m, w in zip(members, blend.weights_, strict=True)},
            "n_fit": int(len(rows)),  # the held-out rows the weights were fitted on
            "folds": int(folds),
        },
        # the out-of-fold RMSE on those rows, of the blend and of each member alone
        "cv_rmse": float(np.sqrt(np.mean((oof - y) ** 2))),
        "member_cv_rmse": {
            m: float(np.sqrt(np.mean((P[:, i] - y) ** 2))) for i, m in enumerate(members)
        },
        **conformal.evaluate(table["true"], pred, weights),
    }
    if part1_steps and "step" in table:
        metrics["rmse_by_step_group"] = rmse_by_step_group(
            table["true"], pred, table["step"], part1_steps, weights
        )
    blend.conformal_ = conformal
    return blend, metrics, table
