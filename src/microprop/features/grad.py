"""The domain-agnostic feature "grad" (the paper's eq. 1).

X = 1/(n m) sum_ij ||grad u(i, j)||, with central differences. Differences wrap around
the image edges: the simulations are periodic, so the feature is exactly invariant under
periodic translations, 90-degree rotations and flips.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from microprop.features.batching import map_chunks
from microprop.images import check_images


def gradient_magnitude(images: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Pixelwise ||grad u|| (eq. 2) of (N, H, W) images, periodic central differences.

    float32, computed in chunks of ``chunk`` images with in-place operations so that the
    working set stays in cache (this is the bulk of the cost of "grad" and "physFeat2").

    >>> ramp = np.tile(np.arange(6.0), (6, 1))[None]
    >>> gradient_magnitude(ramp)[0, 0].tolist()
    [2.0, 1.0, 1.0, 1.0, 1.0, 2.0]
    """
    X = check_images(images)
    n, h, w = X.shape
    out = np.empty(X.shape, dtype=np.float32)
    buf = np.empty((min(chunk, n), h, w), dtype=np.float32)
    for lo in range(0, n, chunk):
        u = X[lo : lo + chunk].astype(np.float32)
        o, d = out[lo : lo + chunk], buf[: len(u)]
        # 2 du/dx = u[j+1] - u[j-1], indices modulo W
        np.subtract(u[:, :, 2:], u[:, :, :-2], out=d[:, :, 1:-1])
        np.subtract(u[:, :, 1], u[:, :, -1], out=d[:, :, 0])
        np.subtract(u[:, :, 0], u[:, :, -2], out=d[:, :, -1])
        np.multiply(d, d, out=o)
        # 2 du/dy = u[i+1] - u[i-1], indices modulo H
        np.subtract(u[:, 2:], u[:, :-2], out=d[:, 1:-1])
        np.subtract(u[:, 1], u[:, -1], out=d[:, 0])
        np.subtract(u[:, 0], u[:, -2], out=d[:, -1])
        d *= d
        o += d
        np.sqrt(o, out=o)
        o *= 0.5
    return out


class GradientNorm(TransformerMixin, BaseEstimator):
    """Mean gradient norm of each image: one feature per image, shape (N, 1).

    Stateless: ``fit`` learns nothing and returns self.

    >>> GradientNorm().fit_transform(np.zeros((2, 4, 4), np.uint8)).tolist()
    [[0.0], [0.0]]
    """

    def __init__(self, n_jobs: int = 1):
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        return self

    def transform(self, X) -> np.ndarray:
        X = check_images(X)

        def mean_norm(x):
            g = gradient_magnitude(x)
            return g.reshape(len(g), -1).mean(axis=1, dtype=np.float64)[:, None]

        return map_chunks(mean_norm, X, np.empty((len(X), 1)), 1024, self.n_jobs)
