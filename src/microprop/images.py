"""What a stack of images is, checked in one place.

Every entry point that takes images calls :func:`check_images`: the feature transformers
(:mod:`microprop.features`), the CNN regressors (:class:`microprop.models.cnn.CNNRegressor`,
one or several channels), prediction from files (:mod:`microprop.models.run`: 64x64 uint8
0..255 only) and the assembly of simulation shards (:mod:`microprop.dataset`). Each error
names the source (a file, or "images"), what was expected and what came.

It imports nothing of microprop, so ``features`` and ``models`` both use it without a cycle.
"""

from __future__ import annotations

import numpy as np

IMAGE_SHAPE = (64, 64)  # the workflow's images (the paper's 64x64)


def check_images(
    images,
    source: str = "images",
    *,
    shape: tuple[int, int] | None = None,
    channels: bool = False,
    uint8: bool = False,
    single: bool = False,
    min_count: int = 0,
) -> np.ndarray:
    """``images`` as an array (N, H, W), or (N, C, H, W) with ``channels``; else a ValueError.

    ``shape``: the (H, W) required. ``channels``: (N, C, H, W) is accepted and (N, H, W)
    is returned as (N, 1, H, W). ``uint8``: uint8, or integers in 0..255 (returned as
    uint8); floats are refused, not rescaled. ``single``: one image (H, W) is a stack of
    one. ``min_count``: the fewest images accepted.

    >>> check_images(np.zeros((2, 8, 8))).shape
    (2, 8, 8)
    >>> check_images(np.zeros((2, 8, 8), np.uint8), channels=True).shape
    (2, 1, 8, 8)
    >>> check_images(np.zeros((8, 8)))
    Traceback (most recent call last):
    ValueError: images: expected grayscale images of shape (N, H, W), got shape (8, 8)
    >>> check_images(np.zeros((2, 32, 32), np.uint8), "x.npy", shape=(64, 64),
    ...              uint8=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: x.npy: expected ... of shape (N, 64, 64) uint8 0..255, got shape (2, 32, 32)
    >>> check_images(np.arange(64 * 64).reshape(64, 64), "a.png", single=True,
    ...              uint8=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: a.png: expected ... of shape (N, H, W) uint8 0..255, got values in 0..4095
    >>> check_images(np.full((1, 4, 4), 7, np.int64), uint8=True).dtype
    dtype('uint8')
    """
    images = np.asarray(images)
    hw = "H, W" if shape is None else ", ".join(str(s) for s in shape)
    what = "images" if channels else "grayscale images"
    expected = f"{what} of shape (N, {hw})" + (f" or (N, C, {hw})" if channels else "")
    expected += " uint8 0..255" if uint8 else ""
    if single and images.ndim == 2:
        images = images[None]
    if channels and images.ndim == 3:
        images = images[:, None]
    ndim = 4 if channels else 3
    if images.ndim != ndim or (shape is not None and images.shape[-2:] != tuple(shape)):
        raise ValueError(f"{source}: expected {expected}, got shape {images.shape}")
    if len(images) < min_count:
        raise ValueError(
            f"{source}: expected at least {min_count} image(s), {expected}, "
            f"got shape {images.shape}"
        )
    if not uint8 or images.dtype == np.uint8:
        return images
    if not np.issubdtype(images.dtype, np.integer):
        raise ValueError(
            f"{source}: expected {expected}, got dtype {images.dtype} "
            "(convert to uint8 0..255 first; floats are not rescaled silently)"
        )
    if images.size:
        lo, hi = int(images.min()), int(images.max())
        if lo < 0 or hi > 255:
            raise ValueError(f"{source}: expected {expected}, got values in {lo}..{hi}")
    return images.astype(np.uint8)
