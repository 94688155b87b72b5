"""PCA figures of Appendix B.2: raw-pixel components (B.12), scree and RMSE (B.13),
confusion against the number of components (B.14)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from microprop.plots.confusion import confusion_figure


def pixel_pca_figure(components: np.ndarray, prop: np.ndarray, label: str = "property"):
    """The first two principal components of the raw pixels, coloured by the property."""
    fig, ax = plt.subplots(figsize=(5, 4.2))
    sc = ax.scatter(components[:, 0], components[:, 1], c=prop, s=3, cmap="viridis", alpha=0.7)
    fig.colorbar(sc, ax=ax, label=label)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    fig.tight_layout()
    return fig


def scree_figure(scree: pd.DataFrame, scores: pd.DataFrame, unit: str = ""):
    """Cumulative explained variance (left) and test RMSE of cnnpca-svr (right) against k."""
    fig, (ax_var, ax_rmse) = plt.subplots(1, 2, figsize=(9, 3.8))
    ax_var.plot(scree["n_components"], scree["cumulative"], "-")
    ax_var.set_xlabel("principal components")
    ax_var.set_ylabel("cumulative explained variance")
    ax_var.set_ylim(0, 1.02)
    ax_rmse.plot(scores["n_components"], scores["rmse"], "o-", ms=3)
    ax_rmse.set_xlabel("principal components")
    ax_rmse.set_ylabel(f"test RMSE{f' [{unit}]' if unit else ''}")
    for ax in (ax_var, ax_rmse):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def pca_confusion_figure(predictions: pd.DataFrame, scores: pd.DataFrame, limits, label):
    """A confusion panel per number of components."""
    panels = []
    for k, group in predictions.groupby("n_components", sort=True):
        row = scores[scores["n_components"] == k].iloc[0]
        panels.append(
            dict(
                true=group["true"],
                predicted=group["predicted"],
                title=f"{k} component{'s' if k > 1 else ''}",
                rmse=row["rmse"],
                r2=row["r2"],
            )
        )
    return confusion_figure(panels, limits=limits, label=label, ncols=5)
