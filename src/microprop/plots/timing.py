"""Training and prediction time against the training-set size (the paper's Fig. 10)."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

# the stacked parts of the training time (columns of microprop.studies.fraction_curves)
PARTS = (
    ("features_share_s_mean", "features (training share)"),
    ("search_s_mean", "hyperparameter search"),
    ("train_s_mean", "final fit"),
)


def timing_figure(curves: pd.DataFrame, title: str = "", threads: str = ""):
    """Top row: total training time (features share + search + fit, log y) and prediction
    time on the test split against n_train, one line per model. Below: one panel per model
    with the training time as stacked bars of its parts at each training-set size.
    ``threads`` (e.g. "1 thread per fit, jobs ran alone") is written in the title.
    """
    models = list(dict.fromkeys(curves["model"]))
    n_cols = 3
    n_rows = 1 + math.ceil(len(models) / n_cols)
    fig = plt.figure(figsize=(4 * n_cols, 3.3 * n_rows))
    grid = fig.add_gridspec(n_rows, n_cols)
    ax_train = fig.add_subplot(grid[0, :2])
    ax_pred = fig.add_subplot(grid[0, 2])
    for model in models:
        group = curves[curves["model"] == model].sort_values("n_train")
        ax_train.plot(group["n_train"], group["train_total_s_mean"], "o-", ms=3, label=model)
        ax_pred.plot(group["n_train"], group["predict_s_mean"], "o-", ms=3, label=model)
    for ax, what in ((ax_train, "training incl. features, search"), (ax_pred, "prediction")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training images")
        ax.set_ylabel(f"{what} [s]")
        ax.grid(alpha=0.3, which="both")
    ax_train.legend(fontsize=7, ncols=2)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, model in enumerate(models):
        ax = fig.add_subplot(grid[1 + i // n_cols, i % n_cols])
        group = curves[curves["model"] == model].sort_values("n_train")
        x = np.arange(len(group))
        bottom = np.zeros(len(group))
        for j, (column, label) in enumerate(PARTS):
            values = group[column].fillna(0.0).to_numpy() if column in group else bottom * 0
            ax.bar(x, values, bottom=bottom, color=colors[j], label=label)
            bottom += values
        ax.set_xticks(x, [f"{int(n):,}" for n in group["n_train"]], rotation=45, fontsize=6)
        ax.set_title(model, fontsize=9)
        ax.set_ylabel("training [s]", fontsize=8)
    if models:
        handles = [fig.axes[2].containers[j] for j in range(len(PARTS))]
        fig.legend(handles, [label for _, label in PARTS], loc="lower right", fontsize=7)
    fig.suptitle(f"{title}{' - ' if title and threads else ''}{threads}", fontsize=10)
    fig.tight_layout()
    return fig


def threads_note(curves: pd.DataFrame) -> str:
    """The threads of the timed jobs, for the figure's title.

    >>> threads_note(pd.DataFrame({"threads": [1, 2]}))
    'timed jobs ran alone; up to 2 threads (SVR searches: parallel CV folds), 1 per fit'
    """
    threads = curves["threads"].dropna() if "threads" in curves else pd.Series([], dtype=float)
    most = int(threads.max()) if len(threads) else 1
    return (
        f"timed jobs ran alone; up to {most} thread{'s' if most > 1 else ''} "
        "(SVR searches: parallel CV folds), 1 per fit"
    )
