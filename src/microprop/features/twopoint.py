"""Two-point statistics "twopoint" (beyond the paper, issue 45).

The standard microstructure descriptor of materials informatics (the Materials Knowledge
Systems approach that PyMKS implements): the periodic two-point autocorrelation of a
local-state field u on the H x W pixel grid,

    f(r) = 1/(H W) sum_x u(x) u(x + r),    r = (ry, rx), indices modulo (H, W),

cropped to the lags |ry|, |rx| <= ``cutoff`` (the correlation length kept): an array of
(2 cutoff + 1)^2 values per image, f(0, 0) at its centre (row ry + cutoff, column
rx + cutoff). For a real field f(r) = f(-r), so the sign convention of r does not matter.
The regression then sees its first principal components; that PCA is fitted inside the
model on the model's own training images (``twopoint-svr``,
:class:`microprop.models.svr.SVRegressor` with ``n_components``), as ``cnnpca-svr`` does,
so no test image shapes it.

The local state u of a uint8 image x (``field``, :data:`FIELDS`):

- ``"spin"`` (Ising): u = x / 127.5 - 1, the spin -1 / +1 (0 and 255 in the images);
  f(0) = 1 and f(r) is the spin-spin correlation function <s(x) s(x + r)>.
- ``"state"`` (Cahn-Hilliard): u = x / 255, the concentration c in [0, 1], PyMKS's
  primitive basis of a single continuous local state; f(0) = <c^2>.
- ``"vorticity"`` (CFD): u = x / 127.5 - 1, the dataset's fixed normalized vorticity
  asinh(w / scale) / asinh(w_max / scale) in [-1, 1] (:func:`microprop.cfd.to_uint8`), zero
  where the flow has no vorticity.

By the Wiener-Khinchin theorem f = ifft2(|fft2(u)|^2) / (H W): :func:`autocorrelation`
computes it with ``scipy.fft`` real transforms on batches of images in float32. The
per-image mean m is removed before the transform and m^2 added back (f = C + m^2, C the
autocovariance), so float32 keeps the fluctuations precise when the mean dominates (CH
states near 1). f is exactly invariant under periodic translations of the image; a
90-degree rotation or a flip permutes its lags (the PCA and the regression see those as
different inputs, as in PyMKS).

This is the image's power spectrum in real space: physfeat2's radial PSD is the
rotational average of fft2(f) over rings, so the two feature sets carry the same
second-order information in different bases (docs/twopoint.md).
"""

from __future__ import annotations

import numpy as np
import scipy.fft
from sklearn.base import BaseEstimator, TransformerMixin

from microprop.features.batching import map_chunks
from microprop.images import check_images

CHUNK = 128  # images per FFT batch: 2 MB of float32 fields stay in cache (1,024: 1.6x the CPU time)

# field name -> (a, b): the local state u = a x + b of a uint8 image x
FIELDS = {
    "spin": (1.0 / 127.5, -1.0),
    "state": (1.0 / 255.0, 0.0),
    "vorticity": (1.0 / 127.5, -1.0),
}


def local_state(images: np.ndarray, field: str = "spin") -> np.ndarray:
    """The local-state field u (float32) of uint8 images (module docstring, ``field``).

    >>> local_state(np.array([[[0, 255]]], np.uint8)).tolist()
    [[[-1.0, 1.0]]]
    >>> local_state(np.array([[[0, 255]]], np.uint8), "state").tolist()
    [[[0.0, 1.0]]]
    """
    if field not in FIELDS:
        raise ValueError(f"field must be one of {sorted(FIELDS)}, got {field!r}")
    a, b = FIELDS[field]
    u = np.asarray(images, dtype=np.float32) * np.float32(a)
    u += np.float32(b)
    return u


def check_cutoff(cutoff: int, shape: tuple[int, int]) -> int:
    """``cutoff`` as an int, refused unless 0 <= cutoff and 2 cutoff + 1 <= min(H, W)
    (a larger window would hold a lag twice, once from each side of the period)."""
    cutoff = int(cutoff)
    if cutoff < 0 or 2 * cutoff + 1 > min(shape):
        raise ValueError(
            f"cutoff must be in 0..{(min(shape) - 1) // 2} for images of shape {shape}, "
            f"got {cutoff}"
        )
    return cutoff


def autocorrelation(u: np.ndarray, cutoff: int, workers: int = 1) -> np.ndarray:
    """Periodic two-point autocorrelation of fields u (N, H, W), lags up to ``cutoff``.

    Returns (N, 2 cutoff + 1, 2 cutoff + 1) float32, f(ry, rx) at [ry + cutoff, rx + cutoff]
    (module docstring). ``workers``: scipy.fft's threads.

    >>> checkerboard = 2.0 * (np.indices((4, 4)).sum(axis=0) % 2) - 1
    >>> autocorrelation(checkerboard[None], 1)[0].round(6).tolist()
    [[1.0, -1.0, 1.0], [-1.0, 1.0, -1.0], [1.0, -1.0, 1.0]]
    """
    u = np.asarray(u, dtype=np.float32)
    if u.ndim != 3:
        raise ValueError(f"expected fields of shape (N, H, W), got {u.shape}")
    n, h, w = u.shape
    cutoff = check_cutoff(cutoff, (h, w))
    mean = u.mean(axis=(1, 2), dtype=np.float64)
    fluct = u - mean.astype(np.float32)[:, None, None]
    spectrum = scipy.fft.rfft2(fluct, workers=workers)
    power = spectrum.real**2 + spectrum.imag**2  # float32 |F|^2
    cov = scipy.fft.irfft2(power, s=(h, w), workers=workers)
    lags = np.arange(-cutoff, cutoff + 1)
    out = np.take(np.take(cov, lags % h, axis=1), lags % w, axis=2)  # 5x a 2-D fancy index
    out *= np.float32(1.0 / (h * w))
    out += (mean**2).astype(np.float32)[:, None, None]
    return out


class TwoPointStats(TransformerMixin, BaseEstimator):
    """Two-point autocorrelation of each image's local state, cropped to ``cutoff``.

    Output (N, 2 cutoff + 1, 2 cutoff + 1) float32 (flatten for a regressor).
    Stateless: ``fit`` learns nothing (the PCA is the model's, fitted on its training
    images). ``field``: ``"spin"``, ``"state"`` or ``"vorticity"`` (:data:`FIELDS`).

    >>> TwoPointStats(cutoff=3).fit_transform(np.full((2, 8, 8), 255, np.uint8)).shape
    (2, 7, 7)
    """

    def __init__(self, cutoff: int = 16, field: str = "spin", n_jobs: int = 1):
        self.cutoff = cutoff
        self.field = field
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        return self

    def transform(self, X) -> np.ndarray:
        X = check_images(X)
        cutoff = check_cutoff(self.cutoff, X.shape[1:])
        local_state(X[:0], self.field)  # an unknown field: ValueError before any work
        size = 2 * cutoff + 1
        out = np.empty((len(X), size, size), dtype=np.float32)

        def one_chunk(x):
            return autocorrelation(local_state(x, self.field), cutoff)

        return map_chunks(one_chunk, X, out, CHUNK, self.n_jobs)
