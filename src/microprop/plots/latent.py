"""Figures of the latent-space work (issue 19): autoencoder reconstructions and designs."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def reconstruction_figure(images: np.ndarray, reconstructions: np.ndarray, rmse: dict, title=""):
    """Test images (top row, [0, 1]) over their reconstructions (bottom row), with the
    reconstruction RMSE of the training images and the test split in the title."""
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(1.6 * n, 3.6), squeeze=False)
    for k in range(n):
        for row, img in enumerate((images[k], reconstructions[k])):
            ax = axes[row, k]
            ax.imshow(img, cmap="gray", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("test image")
    axes[1, 0].set_ylabel("reconstruction")
    fig.suptitle(
        f"{title}: autoencoder reconstruction RMSE (pixels in [0, 1]) "
        f"test {rmse['test']:.3f}, training {rmse['train']:.3f}",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def design_figure(table: pd.DataFrame, fields: dict[str, np.ndarray], unit: str = "pJ/um"):
    """Designs in a row per method (``fields[method]`` (n_targets, H, W) in [0, 1]),
    each titled with its target and true (physics) energy; ``table`` is the design table
    (columns ``target``, ``{method}_true``)."""
    methods = list(fields)
    n = len(table)
    fig, axes = plt.subplots(len(methods), n, figsize=(1.5 * n, 2.2 * len(methods)), squeeze=False)
    for row, method in enumerate(methods):
        for k in range(n):
            ax = axes[row, k]
            ax.imshow(fields[method][k], cmap="gray", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            r = table.iloc[k]
            ax.set_title(f"E* {r['target']:.0f}\nE {r[f'{method}_true']:.0f}", fontsize=7)
        axes[row, 0].set_ylabel(f"{method} design", fontsize=8)
    fig.suptitle(
        f"designs for target energies E* [{unit}]; E: true energy (CH functional)", fontsize=9
    )
    fig.tight_layout()
    return fig
