"""Conformal prediction intervals for every model (split and cross-conformal, MAPIE).

A model's intervals come from its *calibration sets*: out-of-sample predictions of
training images, i.e. of images that the model which predicted them did not train on.
No test image is ever part of one. Per model family (``method``):

``cv`` (PCR, SVR)
    K-fold out-of-fold predictions of the training subset (scikit-learn's
    ``cross_val_predict``: K extra fits on (K-1)/K of the data); the intervals are centred
    on the model fitted on the whole subset. This is the cross-conformal "CV" method
    (MAPIE's ``CrossConformalRegressor(method="base")``, Barber et al. 2021). It keeps the
    point model of Table 2 unchanged (a split would train it on fewer images) and one model
    file: CV+ would need all K fold models for every new image. A PCR fit takes
    milliseconds; K SVR fits cost less than the SVR's own hyperparameter search (a grid or
    TPE trials of K-fold fits each).
``validation`` (CNNs)
    The validation part the paper protocol already holds out (20 % of the training
    subset), predicted by the kept checkpoint: no extra training. The validation loss
    chose the checkpoint and the stopping epoch, a mild selection on the calibration set
    (the measured coverage shows what it costs).
``split`` (MuCha-CNN)
    Its protocol has no validation part, so a calibration part (``fraction`` of the
    training subset) is held out and the network trains on the rest.
``runs`` (added for grouped data, Cahn-Hilliard)
    Out-of-fold predictions with whole training runs as folds (``GroupKFold``, leave runs
    out): the CH test split is two whole held-out runs, and images of one run are strongly
    correlated, so random folds calibrate on neighbours of training images (optimistic).
    Feature models: one more fit per fold. The networks cannot afford a training per
    run left out; on CH their own held-out part is whole runs instead (the CNNs'
    validation part, ``models.cnn.val_by_run``; MuCha's ``split`` part with
    ``uncertainty.split_by_run``).

Conformity scores (``score``), computed by MAPIE on the calibration pairs
(prediction, truth) with the point predictions as the only input (:class:`PredictionColumn`):

``constant``
    |y - ŷ| (``AbsoluteConformityScore``): ŷ ± q, the same width everywhere.
``adaptive``
    |y - ŷ| / σ(ŷ) (``ResidualNormalisedScore`` with a prefit residual model): σ is the
    k-nearest-neighbour mean of |y - ŷ| against ŷ (:class:`ResidualScale`), fitted on
    ``residual_fraction`` of the calibration pairs, and the quantile is taken on the
    others. The width follows the predicted property: Ising
    labels are far noisier at low and high temperature than near Tc.
``binned``
    Split conformal per bin of the prediction (Mondrian, :class:`BinnedConformal`): the
    calibration pairs are cut into ``n_bins`` bins of equal count by ŷ, and each bin has
    its own lower and upper quantile of the signed residual y - ŷ (MAPIE's
    ``AbsoluteConformityScore(sym=False)``), so the interval need not be centred on ŷ and
    the coverage holds in every bin. It corrects a prediction that is biased as a
    function of ŷ (PCR's bands at low temperature, an under-trained CNN).

Everything needed to recompute the intervals is plain arrays (:meth:`Conformal.save`,
``conformal.npz`` beside the model): MAPIE is refitted on them, deterministically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone

from microprop.splits import fold_pairs, n_groups, residual_split

METHODS = ("cv", "validation", "split")
SCORES = ("constant", "adaptive", "binned")
THIRDS = ("low", "mid", "high")


class PredictionColumn(RegressorMixin, BaseEstimator):
    """The identity on one column of point predictions made elsewhere.

    MAPIE conformalizes an estimator; this one lets it conformalize the predictions of
    any model (a CNN, a cross-validated SVR) without calling that model again.

    >>> PredictionColumn().fit([[1.0], [2.0]]).predict([[3.0], [4.5]]).tolist()
    [3.0, 4.5]
    """

    def fit(self, X, y=None):
        self.n_features_in_ = 1
        return self

    def predict(self, X) -> np.ndarray:
        return np.asarray(X, dtype=np.float64).reshape(len(X), -1)[:, 0]


def _column(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(-1, 1)


class ResidualScale(RegressorMixin, BaseEstimator):
    """The expected residual size |y - ŷ| as a function of the prediction ŷ.

    A k-nearest-neighbour mean of |y - ŷ| over the calibration pairs nearest in ŷ
    (Lei et al. 2018's locally weighted residuals), floored at ``min_scale`` times the
    mean |y - ŷ|. A mean of |residuals| rather than MAPIE's default regression of
    log|residuals|: piecewise-constant models predict many labels exactly, and the log
    of those zero residuals would drag the scale of their neighbourhood to zero.

    >>> s = ResidualScale(n_neighbors=2).fit([[0.0], [0.1], [5.0], [5.1]], [1.0, 1.0, 0.0, 0.0])
    >>> s.predict([[0.0], [5.0]]).tolist()  # floored at 0.1 * mean |residual| = 0.05
    [1.0, 0.05]
    """

    def __init__(self, n_neighbors: int = 50, min_scale: float = 0.1):
        self.n_neighbors = n_neighbors
        self.min_scale = min_scale

    def fit(self, X, y):
        from sklearn.neighbors import KNeighborsRegressor

        y = np.abs(np.asarray(y, dtype=np.float64))
        k = min(self.n_neighbors, len(y))
        self.knn_ = KNeighborsRegressor(n_neighbors=k).fit(_column(X), y)
        self.n_features_in_ = 1
        self.floor_ = max(self.min_scale * float(y.mean()), np.finfo(float).tiny)
        return self

    def predict(self, X) -> np.ndarray:
        return np.maximum(self.knn_.predict(_column(X)), self.floor_)


def _split_conformal(pred, true, levels, conformity):
    from mapie.regression import SplitConformalRegressor

    regressor = SplitConformalRegressor(
        PredictionColumn().fit(pred),
        confidence_level=[float(v) for v in np.atleast_1d(levels)],
        conformity_score=conformity,
        prefit=True,
    )
    return regressor.conformalize(pred, true)


def pairs_needed(levels, score: str) -> float:
    """The fewest calibration scores MAPIE takes for ``levels``: max(1/level, 1/(1 - level))
    scores, and for ``binned`` (per bin) twice a whole number of them, as MAPIE counts
    the pairs of its two one-sided quantiles (``get_effective_calibration_samples``).

    >>> [round(pairs_needed(v, "constant"), 6) for v in (0.6, 0.9)]
    [2.5, 10.0]
    >>> [pairs_needed(v, "binned") for v in (0.6, 0.9)]
    [6.0, 20.0]
    """
    levels = np.atleast_1d(levels).astype(np.float64)
    need = float(np.max(np.maximum(1 / levels, 1 / (1 - levels))))
    return 2.0 * math.ceil(need - 1e-9) if score == "binned" else need


class BinnedConformal:
    """Mondrian split conformal per bin of the prediction (the ``binned`` score).

    ``n_bins`` bins of equal count of the calibration predictions; each bin's intervals
    are ŷ + [lower, upper] quantile of its signed residuals (MAPIE's
    ``AbsoluteConformityScore(sym=False)``, one ``SplitConformalRegressor`` per bin). A
    bin with fewer pairs than the levels need (:func:`pairs_needed`) takes every pair
    (:meth:`Conformal.intervals` gives infinite bounds where all of them are too few).
    Written as a loop because MAPIE's group-conditional regressor
    (``ConditionalSplitConformalRegressor`` with bin indicators) needs cvxpy.

    >>> p = np.repeat([0.0, 10.0], 200); y = p + np.tile(np.linspace(-1, 1, 200), 2) * (p + 1)
    >>> bounds = BinnedConformal(p[:, None], y, 0.9, n_bins=2).predict_interval([[0.0], [10.0]])[1]
    >>> (bounds[:, 1, 0] - bounds[:, 0, 0]).round(1).tolist()  # each bin: 1.8 x its spread
    [1.8, 20.0]
    """

    def __init__(self, pred, true, levels, n_bins: int = 20):
        from mapie.conformity_scores import AbsoluteConformityScore

        pred, true = _column(pred), np.asarray(true, dtype=np.float64)
        self.n_levels = len(np.atleast_1d(levels))
        inner = np.linspace(0, 1, n_bins + 1)[1:-1]
        self.edges_ = np.unique(np.quantile(pred[:, 0], inner)) if len(pred) else inner
        group, need = self._bin(pred), pairs_needed(levels, "binned")
        self.regressors_ = []
        for b in range(len(self.edges_) + 1):
            rows = group == b if np.sum(group == b) >= need else slice(None)
            conformity = AbsoluteConformityScore(sym=False)
            self.regressors_.append(_split_conformal(pred[rows], true[rows], levels, conformity))

    def _bin(self, pred) -> np.ndarray:
        return np.searchsorted(self.edges_, _column(pred)[:, 0], side="right")

    def predict_interval(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Point predictions (the input) and bounds (n, 2, n_levels), as MAPIE's."""
        X = _column(X)
        group, bounds = self._bin(X), np.empty((len(X), 2, self.n_levels))
        for b in np.unique(group):
            bounds[group == b] = self.regressors_[b].predict_interval(X[group == b])[1]
        return X[:, 0], bounds


def conformal_regressor(
    pred,
    true,
    levels,
    score: str = "constant",
    n_neighbors: int = 50,
    residual_fraction: float = 0.5,
    min_scale: float = 0.1,
    seed: int = 0,
    n_bins: int = 20,
):
    """A conformalized regressor of calibration pairs with MAPIE's ``predict_interval``.

    ``levels`` are the confidence levels (e.g. 0.9) it returns intervals for.
    ``adaptive``: a seeded ``residual_fraction`` of the pairs fits :class:`ResidualScale`
    and the quantile of the normalised residuals is taken on the others. ``binned``:
    :class:`BinnedConformal` with ``n_bins``.
    """
    from mapie.conformity_scores import AbsoluteConformityScore, ResidualNormalisedScore

    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, got {score!r}")
    pred, true = _column(pred), np.asarray(true, dtype=np.float64)
    if score == "binned":
        return BinnedConformal(pred, true, levels, n_bins)
    if score == "constant":
        conformity = AbsoluteConformityScore()
    else:
        res, cal = residual_split(len(true), residual_fraction, seed)
        scale = ResidualScale(n_neighbors, min_scale).fit(pred[res], true[res] - pred[res, 0])
        conformity = ResidualNormalisedScore(residual_estimator=scale, prefit=True)
        pred, true = pred[cal], true[cal]
    return _split_conformal(pred, true, levels, conformity)


@dataclass
class CalibrationSet:
    """Out-of-sample predictions of training images (dataset rows ``index``)."""

    name: str
    index: np.ndarray
    true: np.ndarray
    pred: np.ndarray

    def __len__(self) -> int:
        return len(self.true)


class Conformal:
    """A model's calibration sets and how they become intervals.

    ``sets`` are :class:`CalibrationSet`; the last one is the primary (``lower``/``upper``
    of predictions.csv), the others are reported beside it. ``level`` is the nominal
    coverage, ``score`` the primary conformity score.

    >>> rng = np.random.default_rng(0); y = rng.uniform(0, 10, 2000)
    >>> cal = CalibrationSet("cv", np.arange(2000), y, y + rng.normal(0, 1, 2000))
    >>> lo, hi = Conformal([cal], level=0.9, score="constant").intervals(np.array([5.0]))
    >>> bool(abs((hi[0] - lo[0]) / 2 - 1.645) < 0.15)  # the normal 90 % half-width
    True
    """

    def __init__(
        self,
        sets,
        level: float = 0.9,
        score: str = "adaptive",
        n_neighbors: int = 50,
        residual_fraction: float = 0.5,
        min_scale: float = 0.1,
        seed: int = 0,
        n_bins: int = 20,
    ):
        self.sets = {s.name: s for s in sets}
        if not self.sets:
            raise ValueError("no calibration set")
        self.primary = list(self.sets)[-1]
        self.level, self.score = float(level), score
        self.options = {
            "n_neighbors": int(n_neighbors),
            "residual_fraction": float(residual_fraction),
            "min_scale": float(min_scale),
            "seed": int(seed),
            "n_bins": int(n_bins),
        }
        self._fitted: dict = {}

    def regressor(self, name: str | None = None, score: str | None = None, levels=None):
        """The conformalized MAPIE regressor of one calibration set and score (cached)."""
        name, score = name or self.primary, score or self.score
        levels = tuple(float(v) for v in np.atleast_1d(self.level if levels is None else levels))
        key = (name, score, levels)
        if key not in self._fitted:
            cal = self.sets[name]
            self._fitted[key] = conformal_regressor(
                cal.pred, cal.true, levels, score, **self.options
            )
        return self._fitted[key]

    def intervals(self, pred, name=None, score=None, levels=None) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds around the point predictions ``pred``.

        One level: arrays (n,); several ``levels``: arrays (n, n_levels). A level that the
        calibration set is too small for gets infinite bounds, the honest conformal
        answer (MAPIE needs n >= 1/level and n >= 1/(1 - level) scores: 10 for 90 %;
        ``binned`` twice a whole number of them, 20 for 90 %: :func:`pairs_needed`).
        """
        pred = _column(pred)
        wanted = np.atleast_1d(self.level if levels is None else levels).astype(np.float64)
        n = self.n_scores(name, score)
        ok = np.array([n >= pairs_needed(v, score or self.score) - 1e-9 for v in wanted])
        lower = np.full((len(pred), len(wanted)), -np.inf)
        upper = np.full((len(pred), len(wanted)), np.inf)
        if ok.any():
            _, bounds = self.regressor(name, score, wanted[ok]).predict_interval(pred)
            lower[:, ok], upper[:, ok] = bounds[:, 0, :], bounds[:, 1, :]
        if levels is None or np.ndim(levels) == 0:
            return lower[:, 0], upper[:, 0]
        return lower, upper

    def n_scores(self, name=None, score=None) -> int:
        """How many calibration pairs the quantile is taken on (adaptive: those not
        used to fit the residual scale)."""
        n = len(self.sets[name or self.primary])
        if (score or self.score) == "adaptive":
            return len(
                residual_split(n, self.options["residual_fraction"], self.options["seed"])[1]
            )
        return n

    def evaluate(self, true, pred, weights=None) -> dict:
        """Coverage and widths on a test split, for every calibration set and score.

        ``weights``: one per test image (a stratified subset, :func:`interval_summary`).
        Returns the metrics.json keys: ``coverage`` and ``mean_width`` of the primary
        intervals, and ``intervals`` with the details (:func:`interval_summary`).
        """
        true = np.asarray(true, dtype=np.float64)
        edges = np.linspace(true.min(), true.max(), 4) if len(true) else np.zeros(4)
        variants = {}
        for name, cal in self.sets.items():
            variants[name] = {"n_cal": len(cal)}
            for score in SCORES:
                lower, upper = self.intervals(pred, name, score)
                variants[name][score] = interval_summary(true, lower, upper, edges, weights)
        primary = variants[self.primary][self.score]
        return {
            "coverage": primary["coverage"],
            "mean_width": primary["mean_width"],
            "intervals": {
                "level": self.level,
                "score": self.score,
                "calibration": self.primary,
                "thirds": [float(e) for e in edges],
                "variants": variants,
                **self.options,
            },
        }

    def save(self, path) -> None:
        """Write the calibration sets and options to ``path`` (.npz, plain arrays)."""
        arrays = {
            "names": np.array(list(self.sets)),
            "level": self.level,
            "score": np.array(self.score),
            **{k: np.asarray(v) for k, v in self.options.items()},
        }
        for name, cal in self.sets.items():
            arrays |= {f"{name}_index": cal.index, f"{name}_true": cal.true}
            arrays[f"{name}_pred"] = cal.pred
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)

    @classmethod
    def load(cls, path) -> Conformal:
        with np.load(Path(path), allow_pickle=False) as f:
            sets = [
                CalibrationSet(str(n), f[f"{n}_index"], f[f"{n}_true"], f[f"{n}_pred"])
                for n in f["names"].tolist()
            ]
            return cls(
                sets,
                level=float(f["level"]),
                score=str(f["score"]),
                n_neighbors=int(f["n_neighbors"]),
                residual_fraction=float(f["residual_fraction"]),
                min_scale=float(f["min_scale"]),
                seed=int(f["seed"]),
                n_bins=int(f["n_bins"]) if "n_bins" in f else 20,  # files before binned
            )


def third_index(true, edges) -> np.ndarray:
    """Which third (0 low, 1 mid, 2 high; :data:`THIRDS`) of ``edges`` each label is in.

    Labels outside ``edges`` join the nearest third.

    >>> third_index([-1.0, 3.0, 5.0, 9.0, 12.0], [0, 3, 6, 9]).tolist()
    [0, 1, 1, 2, 2]
    """
    return np.clip(np.searchsorted(np.asarray(edges)[1:-1], true, side="right"), 0, 2)


def interval_summary(true, lower, upper, edges, weights=None) -> dict:
    """Empirical coverage, mean width and mean width per third of the property range.

    ``edges`` (4 values) bound the low, mid and high thirds (e.g. of the test labels).
    ``weights`` (one per image, e.g. of a stratified test subset) weight every mean.

    >>> s = interval_summary([1.0, 5.0, 9.0], [0.0, 4.0, 9.5], [2.0, 8.0, 10.5], [0, 3, 6, 9])
    >>> s["coverage"], s["mean_width"], s["width_mid"]
    (0.6666666666666666, 2.3333333333333335, 4.0)
    """
    true, lower, upper = (np.asarray(v, dtype=np.float64) for v in (true, lower, upper))
    w = np.ones_like(true) if weights is None else np.asarray(weights, dtype=np.float64)
    width, covered = upper - lower, (lower <= true) & (true <= upper)
    third = third_index(true, edges)

    def mean(values, mask):
        return float(np.average(values[mask], weights=w[mask])) if mask.any() else None

    everything = np.ones(len(true), dtype=bool)
    summary = {"coverage": mean(covered, everything), "mean_width": mean(width, everything)}
    for i, part in enumerate(THIRDS):
        summary[f"coverage_{part}"] = mean(covered, third == i)
        summary[f"width_{part}"] = mean(width, third == i)
    return summary


def constant_width(residuals, share: float, weights=None) -> float:
    """The width 2h of the one interval ŷ ± h that covers ``share`` of these residuals.

    Twice the weighted ``share``-quantile of |y - ŷ| (the smallest value whose weight share
    reaches it). An evaluation tool (``benchmarks/interval_thirds.py``,
    ``benchmarks/interval_features.py``): on the test residuals of one third it is the
    constant width with the coverage an adaptive interval reached there.

    >>> constant_width([-1.0, 2.0, -3.0, 4.0], 0.5)
    4.0
    >>> constant_width([-1.0, 2.0, -3.0, 4.0], 0.5, weights=[1.0, 1.0, 1.0, 5.0])
    8.0
    """
    r = np.abs(np.asarray(residuals, dtype=np.float64))
    w = np.ones_like(r) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(r)
    cum = np.cumsum(w[order]) / w.sum()
    return 2.0 * float(r[order][min(np.searchsorted(cum, share * (1 - 1e-12)), len(r) - 1)])


def shortest_window(values, share: float, weights=None) -> tuple[float, float]:
    """The shortest interval [a, b] holding ``share`` of ``values`` (by weight).

    An evaluation tool (``benchmarks/interval_thirds.py``'s ceiling): on test residuals
    it says how narrow any interval covering that share of them could be.

    >>> shortest_window([0.0, 1.0, 2.0, 10.0], 0.75)
    (0.0, 2.0)
    >>> shortest_window([0.0, 1.0, 2.0, 10.0], 0.5, weights=[1.0, 1.0, 1.0, 3.0])
    (10.0, 10.0)
    """
    v = np.asarray(values, dtype=np.float64)
    w = np.ones_like(v) if weights is None else np.asarray(weights, dtype=np.float64)
    if not len(v) or not 0.0 < share <= 1.0:
        raise ValueError(f"need values and a share in (0, 1], got {len(v)} values, {share}")
    order = np.argsort(v)
    v, cum = v[order], np.concatenate([[0.0], np.cumsum(w[order])])
    # from each start i, the first end whose cumulative weight reaches the share
    end = np.searchsorted(cum, cum[:-1] + share * cum[-1] * (1 - 1e-12), side="left")
    start = np.flatnonzero(end <= len(v))
    best = start[np.argmin(v[end[start] - 1] - v[start])]
    return float(v[best]), float(v[end[best] - 1])


def out_of_fold(estimator, X, y, rows, folds: int, seed: int, groups=None) -> np.ndarray:
    """Out-of-fold predictions of ``rows`` by clones of ``estimator`` (K-fold CV).

    With ``groups`` (one label per dataset row) the folds are whole groups
    (:func:`fold_pairs`): no group is in a fold's training and its predictions.
    """
    from sklearn.model_selection import cross_val_predict

    fold_groups = None if groups is None else np.asarray(groups)[rows]
    pairs = fold_pairs(len(rows), folds, seed, fold_groups)
    return cross_val_predict(clone(estimator), X[rows], y[rows], cv=pairs)


def calibrate(
    estimator,
    X,
    y,
    train: np.ndarray,
    fit_rows: np.ndarray,
    method: str,
    seed: int,
    folds: int = 5,
    groups=None,
    **options,
) -> Conformal:
    """The calibration sets of a fitted ``estimator`` (see the module docstring).

    ``train`` are the dataset rows of the training subset, ``fit_rows`` those the
    estimator was fitted on (``split``: ``train`` without the calibration part).
    ``groups`` (run ids, one per dataset row) add a leave-runs-out set where the training
    subset holds at least two runs (``cv`` only). ``options`` go to :class:`Conformal`.
    A training subset too small for a calibration set (one image) gets an empty one:
    infinite intervals.
    """
    if method not in METHODS:
        raise ValueError(f"calibration method must be one of {METHODS}, got {method!r}")
    if method == "cv":
        pred = out_of_fold(estimator, X, y, train, folds, seed) if len(train) >= 2 else y[:0]
        sets = [CalibrationSet("cv", train[: len(pred)], y[train][: len(pred)], pred)]
        if groups is not None and n_groups(np.asarray(groups)[train]):
            pred = out_of_fold(estimator, X, y, train, folds, seed, groups)
            sets.append(CalibrationSet("runs", train, y[train], pred))
    else:
        if method == "validation":
            rows = np.sort(fit_rows[np.asarray(estimator.val_idx_)])
        else:
            rows = np.setdiff1d(train, fit_rows)
        pred = estimator.predict(X[rows]) if len(rows) else y[:0]
        sets = [CalibrationSet(method, rows, y[rows], pred)]
    return Conformal(sets, seed=seed, **options)


def coverage_curve(conformal: Conformal, true, pred, levels) -> dict[str, np.ndarray]:
    """Empirical coverage at each nominal level, per score, of the primary calibration.

    Recomputed from the stored calibration sets: no retraining.
    """
    true = np.asarray(true, dtype=np.float64)
    curve = {}
    for score in SCORES:
        lower, upper = conformal.intervals(pred, score=score, levels=list(levels))
        curve[score] = ((lower <= true[:, None]) & (true[:, None] <= upper)).mean(axis=0)
    return curve
