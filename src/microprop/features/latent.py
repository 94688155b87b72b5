"""Latent features: a periodic convolutional autoencoder (beyond the paper, issue 19).

A convolutional autoencoder learns a low-dimensional code of the images without labels
(Tran, Rodgers, Wildey, SAND2020-10580, ``reference/001``); a regressor on the code then
needs few labels (``latent-svr``), and the decoder turns a code into an image (the
latent-space design of :mod:`microprop.design`).

Architecture (:class:`ConvAutoencoder`): fully convolutional with circular (periodic)
padding, as the images are periodic. The encoder halves the image once per entry of
``channels`` with stride-2 3x3 convolutions (64 -> 4 for the default four), a 1x1
convolution maps to ``latent_channels`` channels on the ``grid`` x ``grid`` map that is
the code (``latent_size = latent_channels * grid**2``, default 1 x 4 x 4 = 16). The decoder
mirrors it with nearest-neighbour upsampling and 3x3 convolutions, a sigmoid at the end
(images scaled to [0, 1]). No dense layer: a periodic shift of the image by a multiple
of the total stride ``2**len(channels)`` (16) rolls the code by whole cells and the reconstruction
by the same shift, exactly (tested).

Training (:func:`train_autoencoder`): MSE on the training images only, Adam, a seeded
validation part of the training images for early stopping (best epoch restored), labels
unused, by :func:`microprop.training.fit_torch` (the one training loop,
:mod:`microprop.training`, which the CNNs and the property models of :mod:`microprop.design`
share). Saved as a ``torch`` state dict with its settings
(``torch.load(weights_only=True)``).

Invariant features (:func:`invariant_codes`, the feature set ``latent`` of ``latent-svr``):
the code is a map, so it moves with the structure; a property does not. Sorting each
channel's grid values makes it invariant to any permutation of the cells, so to shifts by
multiples of the stride; averaging the sorted code over the image's orbit under D4 and
the shifts by multiples of ``shift_step`` inside one cell makes it invariant (to float
round-off) to the group those generate. A regressor with few labels then need not learn
the symmetries of the periodic square from them (the same argument as the symmetry-aware
CNNs of :mod:`microprop.symmetry`). The code's cells average the image over 16 x 16
pixels, so it cannot tell apart fields that differ only by fluctuations finer than a cell
(CH's noisy first snapshots, whose energy is set by that amplitude); ``stage_means`` adds
the spatial mean of every encoder stage's activations, pooled over the same orbit: how
much of each pattern the encoder learned to see the image holds, at every scale. The raw
codes stay the latent space of the design study.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from microprop.symmetry import ORDER, d4, make_periodic
from microprop.training import fit_torch


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Module:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, padding_mode="circular")


class Encoder(nn.Module):
    """(N, 1, H, W) in [0, 1] -> (N, latent_channels, H / s, W / s), s = 2**len(channels)."""

    def __init__(self, channels=(8, 16, 32, 64), latent_channels: int = 4):
        super().__init__()
        layers, cin = [], 1
        for c in channels:
            layers += [_conv(cin, c, stride=2), nn.GELU()]
            cin = c
        layers.append(nn.Conv2d(cin, latent_channels, 1))
        self.net = make_periodic(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def forward_with_stage_means(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The code map and (N, sum(channels)) the spatial means of every stage's output
        (after its activation): how much of each learned local pattern the image holds."""
        means = []
        for layer in self.net:
            x = layer(x)
            if isinstance(layer, nn.GELU):
                means.append(x.mean(dim=(-2, -1)))
        return x, torch.cat(means, dim=1)


class Decoder(nn.Module):
    """The mirror of :class:`Encoder`: a code map -> (N, 1, H, W) in [0, 1]."""

    def __init__(self, channels=(8, 16, 32, 64), latent_channels: int = 4):
        super().__init__()
        rev = list(channels)[::-1]
        layers = [nn.Conv2d(latent_channels, rev[0], 1), nn.GELU()]
        for cin, cout in zip(rev, rev[1:] + [rev[-1]], strict=True):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), _conv(cin, cout), nn.GELU()]
        layers += [_conv(rev[-1], 1), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class ConvAutoencoder(nn.Module):
    """Periodic convolutional autoencoder; codes are flat vectors of ``latent_size``.

    >>> ae = ConvAutoencoder(latent_size=16, image_size=64, channels=(8, 16, 32, 64))
    >>> ae.grid, ae.latent_channels, ae.stride
    (4, 1, 16)
    >>> x = torch.zeros(3, 1, 64, 64)
    >>> tuple(ae(x).shape), tuple(ae.encode(x).shape)
    ((3, 1, 64, 64), (3, 16))
    """

    def __init__(self, latent_size: int = 16, image_size: int = 64, channels=(8, 16, 32, 64)):
        super().__init__()
        self.stride = 2 ** len(channels)
        self.grid = image_size // self.stride
        if self.grid * self.stride != image_size or latent_size % self.grid**2:
            raise ValueError(
                f"image size {image_size} must be a multiple of the stride {self.stride}, and "
                f"the latent size {latent_size} a multiple of the code grid {self.grid}²"
            )
        self.latent_size, self.image_size = latent_size, image_size
        self.channels = tuple(channels)
        self.latent_channels = latent_size // self.grid**2
        self.encoder = Encoder(channels, self.latent_channels)
        self.decoder = Decoder(channels, self.latent_channels)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x).flatten(1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z.view(len(z), self.latent_channels, self.grid, self.grid))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def settings(self) -> dict:
        return {
            "latent_size": self.latent_size,
            "image_size": self.image_size,
            "channels": list(self.channels),
        }


def as_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W) images -> float (N, 1, H, W) in [0, 1]."""
    return torch.from_numpy(np.asarray(images, dtype=np.float32) / 255.0).unsqueeze(1)


def train_autoencoder(
    images: np.ndarray,
    latent_size: int = 16,
    channels=(8, 16, 32, 64),
    seed: int = 0,
    max_epochs: int = 15,
    batch_size: int = 32,
    lr: float = 2e-3,
    patience: int = 3,
    val_fraction: float = 0.1,
    augment: bool = True,
    groups=None,
) -> tuple[ConvAutoencoder, dict]:
    """A seeded :class:`ConvAutoencoder` trained on ``images`` (training images only,
    uint8 (N, H, W)) by :func:`microprop.training.fit_torch` (MSE, its options); returns
    it (eval mode) and the history. The defaults are ``features.latent`` of
    config/config.yaml (tested)."""
    torch.manual_seed(seed)
    ae = ConvAutoencoder(latent_size, images.shape[-1], channels)
    x = as_tensor(images)
    history = fit_torch(
        ae, nn.functional.mse_loss, x, x, seed, max_epochs, batch_size, lr, patience,
        val_fraction, augment, name="autoencoder", groups=groups,
    )  # fmt: skip
    return ae, history


@torch.no_grad()
def encode(ae: ConvAutoencoder, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Codes (N, latent_size) float32 of uint8 images (N, H, W)."""
    ae.eval()
    out = [
        ae.encode(as_tensor(images[lo : lo + batch_size]))
        for lo in range(0, len(images), batch_size)
    ]
    return torch.cat(out).numpy() if out else np.empty((0, ae.latent_size), np.float32)


@torch.no_grad()
def invariant_codes(
    ae: ConvAutoencoder,
    images: np.ndarray,
    shift_step: int = 4,
    batch_size: int = 256,
    stage_means: bool = False,
) -> np.ndarray:
    """Orbit-pooled sorted codes (N, latent_size) float32 of uint8 images (N, H, W).

    Each channel's ``grid``² code values are sorted; the sorted codes are averaged over
    the 8 D4 transforms times the (stride / shift_step)² shifts of each image, so the
    result does not change when the image is rotated, flipped or shifted periodically
    by a multiple of ``shift_step`` (module docstring). ``stage_means`` appends the
    spatial means of every encoder stage's output, averaged over the same orbit
    (N, latent_size + sum(channels)): they keep what the code's 4 x 4 cells average away,
    such as the amplitude of fluctuations finer than a cell (docs/latent.md).

    >>> ae = ConvAutoencoder(latent_size=16, image_size=64)
    >>> x = np.random.default_rng(0).integers(0, 256, (2, 64, 64), dtype=np.uint8)
    >>> moved = np.rot90(np.roll(x, (4, -8), axis=(1, 2)), axes=(1, 2))
    >>> a, b = invariant_codes(ae, x), invariant_codes(ae, moved)
    >>> a.shape, bool(np.allclose(a, b, atol=1e-5))
    ((2, 16), True)
    """
    if shift_step < 1 or ae.stride % shift_step:
        raise ValueError(f"shift_step {shift_step} must divide the encoder stride {ae.stride}")
    ae.eval()
    shifts = range(0, ae.stride, shift_step)
    width = ae.latent_size + (sum(ae.channels) if stage_means else 0)
    out = []
    for lo in range(0, len(images), batch_size):
        x = as_tensor(images[lo : lo + batch_size])
        codes = torch.zeros(len(x), ae.latent_channels, ae.grid**2)
        means = torch.zeros(len(x), sum(ae.channels))
        for g in range(ORDER):
            xg = d4(x, g)
            for dy in shifts:
                for dx in shifts:
                    moved = torch.roll(xg, (dy, dx), dims=(-2, -1))
                    if stage_means:
                        z, m = ae.encoder.forward_with_stage_means(moved)
                        means += m
                    else:
                        z = ae.encoder(moved)
                    codes += torch.sort(z.flatten(2), dim=-1).values
        pooled = [codes.flatten(1)] + ([means] if stage_means else [])
        out.append(torch.cat(pooled, dim=1) / (ORDER * len(shifts) ** 2))
    return torch.cat(out).numpy() if out else np.empty((0, width), np.float32)


def latent_features(
    ae: ConvAutoencoder,
    images: np.ndarray,
    pooling: str = "orbit",
    shift_step: int = 4,
    stage_means: bool = True,
) -> np.ndarray:
    """The feature set ``latent``: :func:`invariant_codes` (``pooling="orbit"``, with the
    encoder's stage means if ``stage_means``) or the raw codes (``"none"``, without stage
    means). The defaults are ``features.latent`` of config/config.yaml (tested)."""
    if pooling == "orbit":
        return invariant_codes(ae, images, shift_step, stage_means=stage_means)
    if pooling == "none":
        if stage_means:
            raise ValueError("stage_means needs pooling 'orbit' (the raw codes are a map)")
        return encode(ae, images)
    raise ValueError(f"unknown latent pooling {pooling!r}: 'orbit' or 'none'")


@torch.no_grad()
def decode(ae: ConvAutoencoder, codes: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Fields (N, H, W) in [0, 1] (float32) decoded from codes (N, latent_size)."""
    ae.eval()
    z = torch.as_tensor(np.asarray(codes, dtype=np.float32))
    out = [ae.decode(z[lo : lo + batch_size])[:, 0] for lo in range(0, len(z), batch_size)]
    return torch.cat(out).numpy()


def reconstruction_rmse(ae: ConvAutoencoder, images: np.ndarray, batch_size: int = 512) -> float:
    """Root mean square pixel error of the reconstructions, on the [0, 1] scale."""
    if len(images) == 0:
        return float("nan")
    se = 0.0
    for lo in range(0, len(images), batch_size):
        x = images[lo : lo + batch_size]
        rec = decode(ae, encode(ae, x))
        se += float(((rec - x / 255.0) ** 2).sum())
    return math.sqrt(se / images.size)


def save_autoencoder(ae: ConvAutoencoder, path, extra: dict | None = None) -> None:
    """``torch.save`` of the state dict and the settings (plain values only)."""
    torch.save({"state_dict": ae.state_dict(), "settings": ae.settings(), **(extra or {})}, path)


def load_autoencoder(path) -> ConvAutoencoder:
    """The autoencoder of :func:`save_autoencoder`, read with ``weights_only=True``."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    ae = ConvAutoencoder(**blob["settings"])
    ae.load_state_dict(blob["state_dict"])
    return ae.eval()
