"""True-vs-predicted ("confusion") panels, the paper's Fig. 8."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np


def confusion_panel(ax, true, predicted, title: str, limits=None, rmse=None, r2=None, **style):
    """Scatter of predicted against true values with the identity as a dashed line."""
    true, predicted = np.asarray(true), np.asarray(predicted)
    if limits is None:
        lo = float(min(true.min(), predicted.min()))
        hi = float(max(true.max(), predicted.max()))
        limits = (lo, hi)
    ax.scatter(true, predicted, s=style.pop("s", 4), alpha=style.pop("alpha", 0.5), **style)
    ax.plot(limits, limits, "--", color="red", lw=1)
    ax.set_xlim(limits)
    ax.set_ylim(limits)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    if rmse is not None:
        ax.text(
            0.04,
            0.96,
            f"RMSE {rmse:.3g}\n$R^2$ {r2:.3f}",
            transform=ax.transAxes,
            va="top",
            fontsize=8,
            bbox={"facecolor": "white", "alpha": 0.7, "lw": 0},
        )


def confusion_figure(panels, limits=None, label: str = "property", ncols: int = 4):
    """A grid of confusion panels; ``panels`` holds dicts of confusion_panel arguments."""
    n = len(panels)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.2 * nrows), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        confusion_panel(ax, limits=limits, **panel)
        ax.set_xlabel(f"true {label}", fontsize=8)
        ax.set_ylabel(f"predicted {label}", fontsize=8)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def save_figure(fig, png_path) -> None:
    """Save ``fig`` as PNG at ``png_path`` and as PDF beside it."""
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=150)
    fig.savefig(png_path.with_suffix(".pdf"))
    plt.close(fig)
