"""Three-channel input of the MuCha-CNN (paper, section 3.2.4, Fig. 7 and Appendix B.3).

Channel 0: the image itself (already 0..255; left as it is unless ``rescale_image``, so
that the CNN still sees the absolute grey levels, e.g. the composition of a CH image).
Channel 1: the centred, log-scaled magnitude of the 2D FFT, ``fftshift(log(1 + |F|))``
(scipy.fft; the paper used numpy's: the same transform, slower), zero frequency at
pixel (H//2, W//2).
Channel 2: the diagonal detail coefficients cD of a one-level 2D discrete wavelet
transform (PyWavelets ``dwt2``, a sym-family wavelet, ``mode="periodization"`` because
the images are periodic), (H/2, W/2), brought back to (H, W) by repeating every
coefficient 2 x 2 (nearest neighbour, no invented values).
Channels 1 and 2 are min-max scaled to 0..255 per image (a constant channel becomes 0;
a wavelet channel spanning at most ``DETAIL_ATOL`` counts as constant) and everything
is rounded to uint8: output (N, 3, H, W) uint8.
"""

from __future__ import annotations

import numpy as np
import pywt
import scipy.fft
from sklearn.base import BaseEstimator, TransformerMixin

from microprop.features.batching import map_chunks
from microprop.images import check_images

CHUNK = 1024
# An image constant along x or y (the laminar Kolmogorov flow, Ising stripes) has cD = 0
# exactly; float32 leaves ~1e-5 of round-off, which min-max scaling would blow up to
# 0..255 noise. Details of uint8 images below 1e-3 grey levels are round-off.
DETAIL_ATOL = 1e-3


def minmax_uint8(x: np.ndarray, atol: float = 0.0) -> np.ndarray:
    """Scale each (H, W) slice of (N, H, W) to 0..255 and round to uint8; a slice whose
    values span ``atol`` or less is constant -> 0.

    >>> minmax_uint8(np.array([[[1.0, 3.0], [2.0, 3.0]]])).tolist()
    [[[0, 255], [128, 255]]]
    """
    lo = x.min(axis=(-2, -1), keepdims=True)
    span = x.max(axis=(-2, -1), keepdims=True) - lo
    scaled = np.divide(x - lo, span, out=np.zeros(x.shape, x.dtype), where=span > atol)
    return np.rint(scaled * 255.0).astype(np.uint8)


def fft_channel(images: np.ndarray) -> np.ndarray:
    """Centred log-magnitude spectrum log(1 + |F|), (N, H, W) float32."""
    f = scipy.fft.fft2(np.asarray(images, dtype=np.float32), axes=(-2, -1))
    return np.fft.fftshift(np.log1p(np.abs(f)), axes=(-2, -1))


def wavelet_channel(images: np.ndarray, wavelet: str = "sym4") -> np.ndarray:
    """Diagonal detail of a one-level periodized DWT, upsampled 2 x 2 to the image size."""
    x = np.asarray(images, dtype=np.float32)
    _, (_, _, cd) = pywt.dwt2(x, wavelet, mode="periodization", axes=(-2, -1))
    up = cd.repeat(2, axis=-2).repeat(2, axis=-1)
    return up[..., : x.shape[-2], : x.shape[-1]]


class MultiChannel(TransformerMixin, BaseEstimator):
    """MuCha input: (N, H, W) uint8 images -> (N, 3, H, W) uint8 (image, FFT, wavelet).

    >>> MultiChannel().fit_transform(np.zeros((2, 64, 64), np.uint8)).shape
    (2, 3, 64, 64)
    """

    def __init__(self, wavelet: str = "sym4", rescale_image: bool = False, n_jobs: int = 1):
        self.wavelet = wavelet
        self.rescale_image = rescale_image
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        return self

    def transform(self, X) -> np.ndarray:
        X = check_images(X)
        if self.wavelet not in pywt.wavelist(kind="discrete"):
            raise ValueError(f"unknown discrete wavelet {self.wavelet!r} (see pywt.wavelist())")
        out = np.empty((len(X), 3, *X.shape[1:]), dtype=np.uint8)
        return map_chunks(self._one_chunk, X, out, CHUNK, self.n_jobs)

    def _one_chunk(self, x: np.ndarray) -> np.ndarray:
        out = np.empty((len(x), 3, *x.shape[1:]), dtype=np.uint8)
        if self.rescale_image or x.dtype != np.uint8:
            out[:, 0] = minmax_uint8(x.astype(np.float32))
        else:
            out[:, 0] = x
        out[:, 1] = minmax_uint8(fft_channel(x))
        out[:, 2] = minmax_uint8(wavelet_channel(x, self.wavelet), atol=DETAIL_ATOL)
        return out
