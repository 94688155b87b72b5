"""Figures of the datasets and features: examples (Fig. 1), label histograms (Fig. 2),
PSDs with their line fit (Fig. 3), features against the property (Fig. 4) and the
multichannel-CNN channels (Fig. 7)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def pick_examples(prop: np.ndarray, n: int) -> np.ndarray:
    """Indices of ``n`` samples whose property is nearest to evenly spaced quantiles.

    >>> pick_examples(np.arange(100.0), 3).tolist()
    [16, 50, 83]
    """
    prop = np.asarray(prop, dtype=float)
    order = np.argsort(prop, kind="stable")
    q = (np.arange(n) + 0.5) / n
    return order[np.minimum((q * len(prop)).astype(int), len(prop) - 1)]


def _image_row(axes, images, titles, cmap="gray"):
    for ax, image, title in zip(axes, images, titles, strict=True):
        ax.imshow(image, cmap=cmap, vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])


def ising_examples_figure(images, prop, label: str = "temperature label", n: int = 6):
    """Magnetisation |m| against the label with example images at spread-out labels."""
    idx = pick_examples(prop, n)
    m = np.abs(np.asarray(images, dtype=float).mean(axis=(1, 2)) / 127.5 - 1.0)
    fig = plt.figure(figsize=(2 * n, 5.5))
    grid = fig.add_gridspec(2, n, height_ratios=[2, 1])
    ax = fig.add_subplot(grid[0, :])
    ax.scatter(prop, m, s=2, alpha=0.3)
    for letter, i in zip("ABCDEFGHIJKL", idx, strict=False):
        ax.annotate(letter, (prop[i], m[i]), color="tab:red", fontsize=9, weight="bold")
    ax.set_xlabel(label)
    ax.set_ylabel("|magnetisation|")
    axes = [fig.add_subplot(grid[1, j]) for j in range(len(idx))]
    titles = [f"{c}: {prop[i]:.0f}" for c, i in zip("ABCDEFGHIJKL", idx, strict=False)]
    _image_row(axes, images[idx], titles)
    fig.tight_layout()
    return fig


def ch_examples_figure(images, prop, run, time, label: str = "energy", n: int = 6):
    """Energy against time for every run (log time) with example images along one run."""
    run, time, prop = np.asarray(run), np.asarray(time, dtype=float), np.asarray(prop, float)
    fig = plt.figure(figsize=(2 * n, 5.5))
    grid = fig.add_gridspec(2, n, height_ratios=[2, 1])
    ax = fig.add_subplot(grid[0, :])
    for r in np.unique(run):
        sel = np.flatnonzero(run == r)
        sel = sel[np.argsort(time[sel])]
        ax.plot(np.maximum(time[sel], 1e-12), prop[sel], lw=0.8, alpha=0.7)
    first = np.flatnonzero(run == np.unique(run)[0])
    idx = first[pick_examples(prop[first], n)]
    for letter, i in zip("ABCDEFGHIJKL", idx, strict=False):
        ax.annotate(letter, (max(time[i], 1e-12), prop[i]), color="tab:red", weight="bold")
    ax.set_xscale("log")
    ax.set_xlabel("time")
    ax.set_ylabel(label)
    axes = [fig.add_subplot(grid[1, j]) for j in range(len(idx))]
    titles = [f"{c}: {prop[i]:.4g}" for c, i in zip("ABCDEFGHIJKL", idx, strict=False)]
    _image_row(axes, images[idx], titles)
    fig.tight_layout()
    return fig


def histograms_figure(props: dict, labels: dict, bins: int = 50):
    """Histogram of the training labels, one panel per dataset (``{dataset: array}``)."""
    fig, axes = plt.subplots(1, len(props), figsize=(5 * len(props), 3.5), squeeze=False)
    for ax, (dataset, values) in zip(axes.flat, props.items(), strict=True):
        ax.hist(values, bins=bins, color="tab:blue", alpha=0.8)
        ax.set_xlabel(labels.get(dataset, "property"))
        ax.set_ylabel("training images")
        ax.set_title(dataset)
    fig.tight_layout()
    return fig


def normalised_psd(image: np.ndarray, n_bins: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Wavenumbers k >= 1 and the normalised radial PSD there, as physfeat1 fits it.

    >>> k, p = normalised_psd(np.random.default_rng(0).random((64, 64)))
    >>> len(k) == len(p) == 31, bool(np.isclose(p.sum(), 1.0))
    (True, True)
    """
    from microprop.features.psd import radial_psd, wavenumbers

    image = np.asarray(image)
    p = radial_psd(image[None], n_bins)[0, 1:]
    k = wavenumbers(image.shape, n_bins)[1:]
    return k, p / p.sum() if p.sum() > 0 else p


def physfeat1_fit(image: np.ndarray) -> tuple[float, float]:
    """The physfeat1 features of one image: intercept A and slope a of P(k) = A k^a."""
    from microprop.features.psd import PSDLineFit

    a, b = PSDLineFit().fit_transform(np.asarray(image)[None])[0]
    return float(a), float(b)


def psd_figure(
    images, prop, label: str = "property", n: int = 3, psd=normalised_psd, fit=physfeat1_fit
):
    """``n`` images (low to high property) beside their PSD and its line fit (log-log)."""
    idx = pick_examples(prop, n)
    fig, axes = plt.subplots(n, 2, figsize=(6.5, 2.6 * n), squeeze=False)
    for (ax_img, ax_psd), i in zip(axes, idx, strict=True):
        _image_row([ax_img], images[[i]], [f"{label} = {prop[i]:.4g}"])
        k, p = psd(images[i])
        a, b = fit(images[i])
        ax_psd.loglog(k, p, "o", ms=3)
        ax_psd.loglog(k, a * k**b, "-", color="red", lw=1, label=f"{a:.3g} k^{b:.2f}")
        ax_psd.set_xlabel("k")
        ax_psd.set_ylabel("P(k)")
        ax_psd.legend(fontsize=7)
    fig.tight_layout()
    return fig


def features_figure(features: dict, prop: np.ndarray, label: str = "property", names=None):
    """Every scalar feature (column) of each feature set against the property.

    ``features`` maps a feature-set name to an (N, d) array, d small (grad: 1, physfeat1: 2);
    ``names`` (optional) maps a feature-set name to the names of its columns.
    """
    names = names or {}
    columns = [
        (name, j, np.asarray(x, float).reshape(len(x), -1)[:, j])
        for name, x in features.items()
        for j in range(np.asarray(x).reshape(len(x), -1).shape[1])
    ]
    fig, axes = plt.subplots(1, len(columns), figsize=(4 * len(columns), 3.5), squeeze=False)
    for ax, (name, j, x) in zip(axes.flat, columns, strict=True):
        ax.scatter(prop, x, s=2, alpha=0.25)
        ax.set_xlabel(label)
        cols = names.get(name) or []
        ax.set_ylabel(f"{name} {cols[j]}" if j < len(cols) else f"{name}[{j}]" if j else name)
    fig.tight_layout()
    return fig


def mucha_figure(channels: np.ndarray, prop, label: str = "property", names=None):
    """The multichannel-CNN input (image, |FFT|, wavelet) for a few images, one row each."""
    channels = np.asarray(channels, dtype=float)
    names = names or ["image", "|FFT|", "wavelet"][: channels.shape[1]]
    n, c = channels.shape[:2]
    fig, axes = plt.subplots(n, c, figsize=(2.6 * c, 2.6 * n), squeeze=False)
    for i in range(n):
        for j in range(c):
            ax = axes[i, j]
            ax.imshow(channels[i, j], cmap="gray" if j == 0 else "magma", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{names[j]} ({label} {prop[i]:.4g})", fontsize=7)
    fig.tight_layout()
    return fig


def property_label(attrs: dict) -> str:
    """Axis label of a dataset's property from its file attributes.

    >>> property_label({"property_name": "total free energy", "property_units": "J"})
    'total free energy [J]'
    """
    name = attrs.get("property_name") or "property"
    units = attrs.get("property_units") or ""
    return f"{name} [{units}]" if units and len(units) <= 20 else name
