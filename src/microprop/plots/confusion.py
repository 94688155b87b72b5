"""True-vs-predicted ("confusion") panels, the paper's Fig. 8."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from microprop.metrics import FIRST_STEPS

FIRST_IMAGES_COLOR = "tab:orange"


def confusion_panel(
    ax,
    true,
    predicted,
    title: str,
    limits=None,
    rmse=None,
    r2=None,
    overlay=None,
    first=None,
    **style,
):
    """Scatter of predicted against true values with the identity as a dashed line.

    ``overlay`` (optional) is a dict with ``true``, ``predicted``, ``label`` and optionally
    ``rmse``/``r2`` of a second model drawn in red underneath, as the grad models on the
    physfeat1 panels of the paper's Fig. 8. ``first`` (optional, CH) marks the images of
    a run's first steps (a boolean per point): drawn in orange within the same scatter,
    with their count in the panel's text.
    """
    true, predicted = np.asarray(true), np.asarray(predicted)
    if limits is None:
        values = [true, predicted]
        if overlay is not None:
            values += [np.asarray(overlay["true"]), np.asarray(overlay["predicted"])]
        limits = (float(min(v.min() for v in values)), float(max(v.max() for v in values)))
    label = style.pop("label", None)
    if overlay is not None:
        ax.scatter(
            overlay["true"],
            overlay["predicted"],
            s=4,
            alpha=0.35,
            color="tab:red",
            label=overlay.get("label"),
        )
        label = label or title
    color = style.pop("color", "tab:blue")
    if first is not None:  # one scatter, so its points stay those of the table
        color = np.where(np.asarray(first, bool), FIRST_IMAGES_COLOR, color)
    ax.scatter(
        true,
        predicted,
        s=style.pop("s", 4),
        alpha=style.pop("alpha", 0.5),
        color=color,
        label=label,
        **style,
    )
    if overlay is not None:
        ax.legend(loc="lower right", fontsize=7, markerscale=2, framealpha=0.7)
    ax.plot(limits, limits, "--", color="red", lw=1)
    ax.set_xlim(limits)
    ax.set_ylim(limits)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    if rmse is not None:
        text = f"RMSE {rmse:.3g}\n$R^2$ {r2:.3f}"
        if overlay is not None and overlay.get("rmse") is not None:
            text += f"\n{overlay.get('label', '')}: {overlay['rmse']:.3g} ({overlay['r2']:.3f})"
        if first is not None and np.any(first):
            text += f"\norange: steps 1-{FIRST_STEPS} ({int(np.sum(first))})"
        ax.text(
            0.04,
            0.96,
            text,
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


def paper_panels(results: dict) -> list[dict]:
    """Panels of the paper's Fig. 8 grid from ``{model: (predictions, metrics)}``.

    ``predictions`` has ``true`` and ``predicted`` columns, ``metrics`` ``rmse`` and ``r2``;
    with a ``step`` column (CH) the images of steps 1-9 are marked (``first``).
    A grad model whose physfeat1 twin is present (``grad-pcr`` and ``physfeat1-pcr``) is
    overlaid in red on the twin's panel instead of getting a panel of its own.

    >>> import pandas as pd
    >>> t, m = pd.DataFrame({"true": [1.0], "predicted": [1.0]}), {"rmse": 0.0, "r2": 1.0}
    >>> panels = paper_panels({"grad-pcr": (t, m), "physfeat1-pcr": (t, m), "resnet18": (t, m)})
    >>> [(p["title"], p.get("overlay", {}).get("label")) for p in panels]
    [('physfeat1-pcr', 'grad-pcr'), ('resnet18', None)]
    """
    panels = []
    for model, (table, metrics) in results.items():
        twin = model.replace("grad-", "physfeat1-", 1)
        if model.startswith("grad-") and twin in results:
            continue
        panel = dict(
            true=table["true"],
            predicted=table["predicted"],
            title=model,
            rmse=metrics["rmse"],
            r2=metrics["r2"],
        )
        if "step" in table:
            panel["first"] = table["step"].to_numpy() <= FIRST_STEPS
        grad = model.replace("physfeat1-", "grad-", 1)
        if model.startswith("physfeat1-") and grad in results:
            g_table, g_metrics = results[grad]
            panel["overlay"] = dict(
                true=g_table["true"],
                predicted=g_table["predicted"],
                label=grad,
                rmse=g_metrics["rmse"],
                r2=g_metrics["r2"],
            )
        panels.append(panel)
    return panels
