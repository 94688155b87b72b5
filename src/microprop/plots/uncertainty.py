"""Prediction intervals of every model: Fig. 8's scatter with interval bars, and the
empirical coverage against the nominal level (src/microprop/uncertainty.py)."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from microprop.plots.confusion import confusion_panel


def interval_panel(ax, table, title: str, limits=None, n_bars: int = 150, seed: int = 0):
    """Fig. 8's true-vs-predicted scatter; a seeded subsample carries its interval bar.

    ``table`` has the columns of predictions.csv (``true``, ``predicted``, ``lower``,
    ``upper``). Bars of test images outside their interval are drawn in red.
    """
    confusion_panel(ax, table["true"], table["predicted"], title, limits=limits, s=3, alpha=0.3)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.permutation(len(table))[: min(n_bars, len(table))])
    sub = table.iloc[pick]
    lower, upper = sub["lower"].to_numpy(), sub["upper"].to_numpy()
    finite = np.isfinite(lower) & np.isfinite(upper)
    inside = (sub["true"] >= sub["lower"]) & (sub["true"] <= sub["upper"])
    for mask, color in ((inside & finite, "tab:green"), (~inside & finite, "tab:red")):
        s = sub[mask]
        ax.errorbar(
            s["true"],
            s["predicted"],
            yerr=[s["predicted"] - s["lower"], s["upper"] - s["predicted"]],
            fmt="none",
            ecolor=color,
            elinewidth=0.6,
            alpha=0.7,
        )


# line style of each conformity score in the coverage panel (microprop.uncertainty.SCORES)
SCORE_STYLES = {"adaptive": "-o", "constant": ":", "binned": "-."}


def coverage_panel(ax, curves: dict, levels):
    """Empirical against nominal coverage, one line per model (colour) and score (style)."""
    levels = np.asarray(levels, dtype=float)
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1, label="nominal")
    for i, (model, curve) in enumerate(curves.items()):
        color = plt.cm.tab20(i % 20)
        for score, coverage in curve.items():  # a score without a style is a KeyError
            label = model if score == "adaptive" else None
            ax.plot(levels, coverage, SCORE_STYLES[score], ms=3, color=color, lw=1, label=label)
    for score, style in SCORE_STYLES.items():  # legend entries of the line styles
        ax.plot([], [], style, ms=3, color="black", lw=1, label=score)
    lowest = min((float(np.min(c[s])) for c in curves.values() for s in c), default=1.0)
    lo = max(0.0, min(levels.min() - 0.1, lowest - 0.05))  # models far below stay visible
    ax.set_xlim(lo, 1.0)
    ax.set_ylim(lo, 1.0)
    ax.set_aspect("equal")
    ax.set_xlabel("nominal level", fontsize=8)
    ax.set_ylabel("test coverage", fontsize=8)
    ax.set_title("coverage: colour model, style score", fontsize=9)
    ax.legend(fontsize=6, loc="upper left")


def uncertainty_figure(
    tables: dict,
    curves: dict,
    levels,
    limits=None,
    label="property",
    n_bars: int = 150,
    ncols: int = 4,
):
    """Interval panels of every model (``tables``: model -> predictions.csv frame) and
    one coverage panel (``curves``: model -> {score: coverage per level})."""
    n = len(tables) + 1
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.2 * nrows), squeeze=False)
    for ax, (model, table) in zip(axes.flat, tables.items(), strict=False):
        interval_panel(ax, table, model, limits=limits, n_bars=n_bars)
        ax.set_xlabel(f"true {label}", fontsize=8)
        ax.set_ylabel(f"predicted {label}", fontsize=8)
    coverage_panel(axes.flat[n - 1], curves, levels)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig
