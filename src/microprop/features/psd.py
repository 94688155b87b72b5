"""Power spectral density features "physFeat1" and "physFeat2" (paper, sections 3.1.2-3.1.3).

The radially averaged power spectral density (PSD) of an image u (H x W) is

    P(b) = mean over the Fourier modes (kx, ky) in ring b of |F(kx, ky)|^2 / (H W),

with F = fft2(u), integer wavenumbers kx, ky in cycles per image (``fftfreq(W) * W``) and
ring b holding the modes with ``round(sqrt(kx^2 + ky^2) / w) == b``, w = (min(H, W) / 2) /
n_bins. For 64 x 64 images and the paper's 32 bins, w = 1: ring b holds the modes of
wavenumber k = b (rounded), b = 0 is the mean (DC) alone and the rings up to b = 31 are
complete circles inside the spectrum (the corners, k > 31.5, are left out). With the
1/(H W) normalisation, Parseval reads sum over all modes of |F|^2/(H W) = sum of u^2.

The paper says only that the PSD "consists of a one-dimensional array of 32 values", which
two ring layouts (``spectrum``) satisfy:

- ``"inscribed"`` (above): 32 rings of width 1 up to the Nyquist circle; the corner modes
  31.5 < k <= 45.3 are left out.
- ``"full"``: 32 equal-width bins of k over the whole spectrum, 0 <= k <= k_max (the corner,
  sqrt((H/2)^2 + (W/2)^2) = 45.25 for 64 x 64, bin width 1.41), bin b holding
  b w <= k < (b + 1) w in exact integer arithmetic (the diagonal modes k = b sqrt(2) lie
  on an edge and go to the upper bin; numpy.histogram on floating-point k would put some
  of them in the lower one by round-off) and the last bin closed. Every mode belongs to a
  ring, so Parseval holds for every image. Bin 0 holds the mean (DC) and the four k = 1
  modes.

The two differ in the highest wavenumbers, the nearest-neighbour scale of a spin lattice:
on 5,000 Ising training images, 5-fold CV of physFeat2-SVR scores RMSE 8.44 with
``"full"`` against 9.32 with ``"inscribed"`` (``benchmarks/physfeat2_rings.py``;
``docs/paper-scale.md``).

Invariance: |F| is unchanged by periodic translations; a 90-degree rotation or a flip
maps (kx, ky) to (+-ky, +-kx) or (-kx, ky) modulo the image size, which keeps
kx^2 + ky^2 (the Nyquist frequency -N/2 maps onto itself), so every ring maps onto
itself and P is invariant. :func:`radial_psd` computes all images at once: one real FFT
of the whole stack (scipy.fft, float32) and one matrix product with a precomputed
(modes x rings) averaging matrix; the per-image mean is removed before the FFT and its
exact power put back into ring 0, so float32 keeps the fluctuation power precise even
when the mean dominates (images 0..255) and constant images have exactly zero power at
k > 0.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft
from sklearn.base import BaseEstimator, TransformerMixin

from microprop.features.batching import map_chunks
from microprop.features.grad import gradient_magnitude
from microprop.images import check_images

CHUNK = 1024  # images per FFT batch: small enough to stay in cache


SPECTRA = ("inscribed", "full")


def ring_index(shape: tuple[int, int], n_bins: int = 32, spectrum: str = "inscribed") -> np.ndarray:
    """Ring of each mode of the full 2D spectrum of an image of ``shape``; -1 outside.

    ``spectrum``: ``"inscribed"`` or ``"full"`` (module docstring).

    >>> idx = ring_index((4, 4), n_bins=2)
    >>> idx[0, 0], idx[0, 1], idx[1, 1], idx[2, 2]
    (np.int64(0), np.int64(1), np.int64(1), np.int64(-1))
    >>> ring_index((4, 4), n_bins=2, spectrum="full")[[0, 0, 1, 2], [0, 1, 1, 2]].tolist()
    [0, 0, 1, 1]
    """
    h, w = shape
    ky = np.rint(np.fft.fftfreq(h) * h).astype(np.int64)
    kx = np.rint(np.fft.fftfreq(w) * w).astype(np.int64)
    k2 = ky[:, None] ** 2 + kx[None, :] ** 2  # integer |k|^2
    if spectrum == "inscribed":
        width = (min(h, w) / 2) / n_bins
        idx = np.rint(np.sqrt(k2) / width).astype(np.int64)
        idx[idx >= n_bins] = -1
        return idx
    if spectrum == "full":
        # b = floor(n_bins k / k_max) in integers, floor(sqrt(x)) = floor(sqrt(floor(x))),
        # so a mode on a bin edge (e.g. k = sqrt(2) = w for 64 x 64) is never rounded down
        idx = np.floor(np.sqrt((n_bins**2 * k2) // k2.max())).astype(np.int64)
        return np.minimum(idx, n_bins - 1)
    raise ValueError(f"spectrum must be one of {SPECTRA}, got {spectrum!r}")


def wavenumbers(shape: tuple[int, int], n_bins: int = 32) -> np.ndarray:
    """Wavenumber (cycles per image) at the centre of each ring.

    >>> wavenumbers((64, 64))[:3].tolist()
    [0.0, 1.0, 2.0]
    """
    return np.arange(n_bins) * (min(shape) / 2) / n_bins


@lru_cache(maxsize=16)
def _ring_matrix(shape: tuple[int, int], n_bins: int, spectrum: str) -> np.ndarray:
    """(H * (W//2 + 1), n_bins) float32 matrix that averages rfft2 power over rings.

    An rfft2 column 0 < kx < W/2 stands for itself and its mirror -kx (power is
    conjugate-symmetric), so it counts twice; columns 0 and W/2 (even W) count once.
    """
    h, w = shape
    full = ring_index(shape, n_bins, spectrum)
    counts = np.bincount(full[full >= 0], minlength=n_bins).astype(np.float64)
    if np.any(counts == 0):
        raise ValueError(f"{n_bins} rings are too many for images of shape {shape}")
    half = full[:, : w // 2 + 1]
    mult = np.full(half.shape, 2.0)
    mult[:, 0] = 1.0
    if w % 2 == 0:
        mult[:, w // 2] = 1.0
    m = np.zeros((half.size, n_bins), dtype=np.float64)
    rows = np.flatnonzero(half.ravel() >= 0)
    cols = half.ravel()[rows]
    m[rows, cols] = mult.ravel()[rows] / counts[cols]
    return m.astype(np.float32)


def radial_psd(
    images, n_bins: int = 32, workers: int | None = None, spectrum: str = "inscribed"
) -> np.ndarray:
    """Radially averaged PSD of each image: (N, H, W) -> (N, n_bins) float64.

    ``workers`` is passed to scipy.fft (None: one thread); ``spectrum`` picks the rings
    (module docstring).

    >>> u = np.cos(2 * np.pi * 5 * np.arange(64) / 64)[None, None, :].repeat(64, 1)
    >>> int(radial_psd(u).argmax())
    5
    """
    X = check_images(images)
    n, h, w = X.shape
    m = _ring_matrix((h, w), n_bins, spectrum)
    out = np.empty((n, n_bins), dtype=np.float64)
    out32 = np.empty((min(n, CHUNK), n_bins), dtype=np.float32)
    for lo in range(0, n, CHUNK):
        u = X[lo : lo + CHUNK].astype(np.float32)
        mean = u.reshape(len(u), -1).mean(axis=1, dtype=np.float64)
        u -= mean.astype(np.float32)[:, None, None]
        f = scipy.fft.rfft2(u, workers=workers)
        power = np.square(f.real)
        power += np.square(f.imag)
        np.matmul(power.reshape(len(u), -1), m, out=out32[: len(u)])
        out[lo : lo + CHUNK] = out32[: len(u)]
        # the removed mean comes back as the DC mode's power, |F(0)|^2 = (H W mean)^2
        out[lo : lo + CHUNK, 0] += (h * w * mean) ** 2 * float(m[0, 0])
    out /= h * w
    return out


def _log_log_fit(psd: np.ndarray, k: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares line log10 P = b + a log10 k for every row; returns (a, b)."""
    x = np.log10(k)
    y = np.log10(np.maximum(psd, floor))
    xc = x - x.mean()
    a = (y - y.mean(axis=1, keepdims=True)) @ xc / (xc @ xc)
    b = y.mean(axis=1) - a * x.mean()
    return a, b


class PSDLineFit(TransformerMixin, BaseEstimator):
    """physFeat1: power-law fit P(k) = A k^a to the normalised PSD; features (A, a).

    The PSD over the non-zero wavenumbers k = 1 .. n_bins-1 is normalised to sum 1 (the
    paper's "normalized power"; this removes the image's contrast), a straight line
    log10 P = b + a log10 k is fitted by least squares, and the line is back-transformed
    to the linear scale, P(k) = A k^a: the features are the intercept A = 10^b (the
    normalised power at k = 1) and the slope (the exponent a, dimensionless, the same
    on both scales). Powers below ``floor`` (exactly zero only for constant images)
    are raised to it before the logarithm. Output (N, 2): columns (intercept, slope).

    >>> PSDLineFit().fit_transform(np.zeros((1, 64, 64), np.uint8)).tolist()
    [[1e-12, 0.0]]
    """

    columns = ("intercept", "slope")

    def __init__(self, n_bins: int = 32, floor: float = 1e-12, n_jobs: int = 1):
        self.n_bins = n_bins
        self.floor = floor
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        return self

    def transform(self, X) -> np.ndarray:
        X = check_images(X)
        out = np.empty((len(X), self.n_bins))
        p = map_chunks(lambda x: radial_psd(x, self.n_bins), X, out, CHUNK, self.n_jobs)[:, 1:]
        total = p.sum(axis=1, keepdims=True)
        p = np.divide(p, total, out=np.zeros_like(p), where=total > 0)
        k = wavenumbers(X.shape[1:], self.n_bins)[1:]
        a, b = _log_log_fit(p, k, self.floor)
        return np.stack([10.0**b, a], axis=1)


class PSDStack(TransformerMixin, BaseEstimator):
    """physFeat2: PSD of the image and of its gradient magnitude (eq. 2), log10(P + 1).

    Output (N, 2, n_bins): row 0 the image's PSD, row 1 the PSD of ||grad u|| (periodic
    central differences, as in "grad"), both scaled by eq. 3. Flatten to (N, 2 n_bins)
    for a regressor. ``spectrum``: the ring layout, ``"inscribed"`` or ``"full"`` (module
    docstring).

    >>> PSDStack().fit_transform(np.zeros((3, 64, 64), np.uint8)).shape
    (3, 2, 32)
    """

    def __init__(self, n_bins: int = 32, spectrum: str = "inscribed", n_jobs: int = 1):
        self.n_bins = n_bins
        self.spectrum = spectrum
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        return self

    def _one_chunk(self, x: np.ndarray) -> np.ndarray:
        images = (x, gradient_magnitude(x))  # an unknown spectrum: ValueError from ring_index
        psd = np.stack([radial_psd(u, self.n_bins, spectrum=self.spectrum) for u in images])
        return np.log10(psd.transpose(1, 0, 2) + 1.0)

    def transform(self, X) -> np.ndarray:
        X = check_images(X)
        out = np.empty((len(X), 2, self.n_bins), dtype=np.float64)
        return map_chunks(self._one_chunk, X, out, CHUNK, self.n_jobs)
