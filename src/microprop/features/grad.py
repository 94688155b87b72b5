"""The domain-agnostic feature "grad" (the paper's eq. 1).

X = 1/(n m) sum_ij ||grad u(i, j)||, with central differences. Differences wrap around
the image edges: the simulations are periodic, so the feature is exactly invariant under
periodic translations, 90-degree rotations and flips.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


def gradient_magnitude(images: np.ndarray) -> np.ndarray:
    """Pixelwise ||grad u|| (eq. 2) of (N, H, W) images, periodic central differences.

    >>> ramp = np.tile(np.arange(6.0), (6, 1))[None]
    >>> gradient_magnitude(ramp)[0, 0].tolist()
    [2.0, 1.0, 1.0, 1.0, 1.0, 2.0]
    """
    u = np.asarray(images, dtype=np.float32)
    dx = 0.5 * (np.roll(u, -1, axis=-1) - np.roll(u, 1, axis=-1))
    dy = 0.5 * (np.roll(u, -1, axis=-2) - np.roll(u, 1, axis=-2))
    return np.sqrt(dx * dx + dy * dy)


class GradientNorm(TransformerMixin, BaseEstimator):
    """Mean gradient norm of each image: one feature per image, shape (N, 1).

    Stateless: ``fit`` learns nothing and returns self.

    >>> GradientNorm().fit_transform(np.zeros((2, 4, 4), np.uint8)).tolist()
    [[0.0], [0.0]]
    """

    def fit(self, X, y=None):
        return self

    def transform(self, X) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 3:
            raise ValueError(f"expected images of shape (N, H, W), got {X.shape}")
        out = np.empty((len(X), 1), dtype=np.float64)
        for lo in range(0, len(X), 4096):  # bounded memory for large datasets
            out[lo : lo + 4096, 0] = gradient_magnitude(X[lo : lo + 4096]).mean(axis=(1, 2))
        return out
