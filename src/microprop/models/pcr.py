"""Piecewise-constant regression (the paper's section 3.2.1).

Training bins the property with width ``bin_width`` and stores, per non-empty bin, the
mean feature vector and the mean property. Prediction returns the property of the bin
whose mean feature vector is nearest, after min-max scaling of every feature to [0, 1]
on the training data (features of different units become comparable).

``log_features`` lists columns (positive) whose log10 enters the scaling and the distance.
physfeat1-pcr uses it for the PSD line's intercept A = 10^b, i.e. it measures the
intercept b on the double-logarithmic scale where the line was fitted: on the linear
scale A spans 0.05..1.2 over the Ising dataset, and its multiplicative scatter at low
temperature (where every bin has the same mean features) dominates the min-max-scaled
distance, so the nearest bin mean is decided by that scatter and test images collect on
the few extreme bins (benchmarks/pcr_physfeat1.py measures this).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


class PiecewiseConstantRegressor(RegressorMixin, BaseEstimator):
    """Nearest-bin-mean regressor.

    >>> X = np.array([[0.0], [0.1], [1.0], [1.1]]); y = np.array([0.0, 0.2, 5.0, 5.4])
    >>> PiecewiseConstantRegressor(bin_width=1.0).fit(X, y).predict([[0.04], [1.2]]).tolist()
    [0.1, 5.2]
    """

    def __init__(self, bin_width: float = 1.0, log_features=()):
        self.bin_width = bin_width
        self.log_features = log_features

    def _transform(self, X) -> np.ndarray:
        X = np.array(X, dtype=np.float64).reshape(len(X), -1)
        cols = list(self.log_features)
        if cols:
            if np.any(X[:, cols] <= 0):
                raise ValueError(f"log_features {cols} need positive values")
            X[:, cols] = np.log10(X[:, cols])
        return X

    def fit(self, X, y):
        X = self._transform(X)
        y = np.asarray(y, dtype=np.float64)
        if len(X) != len(y) or len(y) == 0:
            raise ValueError(f"X and y must be non-empty and aligned: {len(X)} vs {len(y)}")
        if not self.bin_width > 0:
            raise ValueError(f"bin_width must be positive, got {self.bin_width}")
        self.feature_min_ = X.min(axis=0)
        span = X.max(axis=0) - self.feature_min_
        self.feature_span_ = np.where(span > 0, span, 1.0)
        bins = np.floor((y - y.min()) / self.bin_width).astype(np.int64)
        _, inverse, counts = np.unique(bins, return_inverse=True, return_counts=True)
        n_bins = len(counts)
        sums = np.zeros((n_bins, X.shape[1]))
        np.add.at(sums, inverse, self._scale(X))
        self.bin_features_ = sums / counts[:, None]
        self.bin_values_ = np.bincount(inverse, weights=y) / counts
        self.bin_counts_ = counts
        self.n_features_in_ = X.shape[1]
        return self

    def _scale(self, X):
        return (X - self.feature_min_) / self.feature_span_

    def predict(self, X) -> np.ndarray:
        X = self._scale(self._transform(X))
        out = np.empty(len(X))
        for lo in range(0, len(X), 2048):  # bounded (chunk x bins) distance matrix
            d = ((X[lo : lo + 2048, None, :] - self.bin_features_[None]) ** 2).sum(axis=2)
            out[lo : lo + 2048] = self.bin_values_[np.argmin(d, axis=1)]
        return out

    def save(self, path) -> None:
        """Write the fitted model to ``path`` (.npz, plain arrays, no pickle)."""
        np.savez(
            path,
            bin_width=self.bin_width,
            log_features=np.asarray(list(self.log_features), dtype=np.int64),
            feature_min=self.feature_min_,
            feature_span=self.feature_span_,
            bin_features=self.bin_features_,
            bin_values=self.bin_values_,
            bin_counts=self.bin_counts_,
        )

    @classmethod
    def load(cls, path) -> PiecewiseConstantRegressor:
        with np.load(path, allow_pickle=False) as f:
            logs = f["log_features"].tolist() if "log_features" in f.files else []
            model = cls(bin_width=float(f["bin_width"]), log_features=tuple(logs))
            model.feature_min_ = f["feature_min"]
            model.feature_span_ = f["feature_span"]
            model.bin_features_ = f["bin_features"]
            model.bin_values_ = f["bin_values"]
            model.bin_counts_ = f["bin_counts"]
        model.n_features_in_ = model.bin_features_.shape[1]
        return model
