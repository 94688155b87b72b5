"""Figures of the study (matplotlib, no display needed)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 (after the backend is chosen)


def save_figure(fig, png_path) -> None:
    """Save ``fig`` as PNG at ``png_path`` and as PDF beside it, each written atomically."""
    from microprop.io import atomic_path

    png_path = Path(png_path)
    try:
        for path, options in ((png_path, {"dpi": 150}), (png_path.with_suffix(".pdf"), {})):
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=path.suffix[1:], **options)
    finally:
        plt.close(fig)
