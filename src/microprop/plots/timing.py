"""Training and prediction time against the training-set size (the paper's Fig. 10)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd


def timing_figure(curves: pd.DataFrame, title: str = ""):
    """Two panels, log y: training time (with the training share of the feature extraction
    for feature-based models) and prediction time on the test split, against n_train.
    """
    fig, (ax_train, ax_pred) = plt.subplots(1, 2, figsize=(10, 4))
    for model, group in curves.groupby("model", sort=False):
        group = group.sort_values("n_train")
        ax_train.plot(group["n_train"], group["train_total_s_mean"], "o-", ms=3, label=model)
        ax_pred.plot(group["n_train"], group["predict_s_mean"], "o-", ms=3, label=model)
    for ax, what in ((ax_train, "training (incl. features)"), (ax_pred, "prediction (test split)")):
        ax.set_yscale("log")
        ax.set_xlabel("training images")
        ax.set_ylabel(f"{what} time [s]")
        ax.grid(alpha=0.3, which="both")
    ax_train.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
