"""Scikit-learn regressors on each feature set (the paper's Figs. D.18 and D.19)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from microprop.studies import ZOO_REGRESSORS


def zoo_figure(results: pd.DataFrame, metric: str = "rmse"):
    """Grouped bars: one panel per dataset, one group per regressor, one bar per feature set.

    ``results`` has columns dataset, feature, regressor and ``metric``.
    """
    datasets = list(dict.fromkeys(results["dataset"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4), squeeze=False)
    for ax, dataset in zip(axes.flat, datasets, strict=True):
        sub = results[results["dataset"] == dataset]
        table = sub.pivot(index="regressor", columns="feature", values=metric)
        table = table.reindex([r for r in ZOO_REGRESSORS if r in table.index])
        table = table[list(dict.fromkeys(sub["feature"]))]  # feature sets in the given order
        x = np.arange(len(table))
        width = 0.8 / max(1, table.shape[1])
        for i, feature in enumerate(table.columns):
            ax.bar(x + (i - (table.shape[1] - 1) / 2) * width, table[feature], width, label=feature)
        ax.set_xticks(x, [ZOO_REGRESSORS[r] for r in table.index], rotation=30, ha="right")
        ax.set_ylabel("test RMSE" if metric == "rmse" else "test $R^2$")
        if metric == "r2":
            ax.set_ylim(max(-0.2, float(np.nanmin(table.to_numpy())) - 0.05), 1.0)
        ax.set_title(dataset)
        ax.legend(fontsize=7, title="features", title_fontsize=7)
    fig.tight_layout()
    return fig
