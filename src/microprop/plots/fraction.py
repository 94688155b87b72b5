"""RMSE against the training fraction (the paper's Fig. 9), with a log-x inset."""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as ticker
import pandas as pd


def fraction_figure(curves: pd.DataFrame, title: str = "", unit: str = ""):
    """Mean test RMSE (band: min..max over seeds) against the training fraction per model.

    ``curves`` is :func:`microprop.studies.fraction_curves` for one dataset.
    """
    fig, ax = plt.subplots(figsize=(7, 4.5))
    inset = ax.inset_axes([0.45, 0.45, 0.5, 0.5])
    for model, group in curves.groupby("model", sort=False):
        group = group.sort_values("frac")
        x = 100 * group["frac"]
        for a in (ax, inset):
            (line,) = a.plot(x, group["rmse_mean"], "o-", ms=3, label=model if a is ax else None)
            if (group["n_seeds"] > 1).any():
                a.fill_between(
                    x, group["rmse_min"], group["rmse_max"], color=line.get_color(), alpha=0.2
                )
    ax.set_xlabel("training data used [%]")
    ax.set_ylabel(f"test RMSE{f' [{unit}]' if unit else ''}")
    ax.set_title(title)
    inset.set_xscale("log")
    inset.set_xlabel("[%] (log)", fontsize=7)
    inset.tick_params(labelsize=7)
    n_seeds = int(curves["n_seeds"].max()) if len(curves) else 0
    if n_seeds > 1:
        ax.text(
            0.02, 0.02, f"band: min..max over {n_seeds} seeds", transform=ax.transAxes, fontsize=7
        )
    ax.legend(loc="upper left", fontsize=7, ncols=1)
    fig.tight_layout()
    return fig


def symmetry_figure(curves: pd.DataFrame, title: str = "", unit: str = ""):
    """Mean test RMSE against the training fraction on a log axis, error bars one standard
    deviation over seeds where there are several (the symmetry study)."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for model, group in curves.groupby("model", sort=False):
        group = group.sort_values("frac")
        dashed = model.endswith(("-svr", "-pcr"))  # feature models: dashed
        ax.errorbar(
            100 * group["frac"],
            group["rmse_mean"],
            yerr=group["rmse_std"].fillna(0.0),
            fmt="s--" if dashed else "o-",
            ms=4,
            capsize=3,
            label=model,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):  # plain numbers, not powers of ten
        axis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.yaxis.set_minor_formatter(ticker.FormatStrFormatter("%g"))
    ax.set_xlabel("training data used [%]")
    ax.set_ylabel(f"test RMSE{f' [{unit}]' if unit else ''}")
    ax.set_title(title)
    n_seeds = int(curves["n_seeds"].max()) if len(curves) else 0
    if n_seeds > 1:
        ax.text(
            0.02,
            0.02,
            f"error bars: 1 s.d. over up to {n_seeds} seeds",
            transform=ax.transAxes,
            fontsize=7,
        )
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
