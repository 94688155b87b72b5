"""Figures of the study (matplotlib, no display needed)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 (after the backend is chosen)


def save_figure(fig, png_path) -> None:
    """Save ``fig`` as PNG at ``png_path`` and as PDF beside it."""
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=150)
    fig.savefig(png_path.with_suffix(".pdf"))
    plt.close(fig)
