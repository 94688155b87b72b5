"""The Cahn-Hilliard energy curve with snapshots (the paper's Fig. 1b)."""

from __future__ import annotations

import h5py
import matplotlib.pyplot as plt
import numpy as np


def load_run(path) -> dict:
    """Arrays and attributes of a run file (``results/sims/ch/run_{run}.h5``)."""
    with h5py.File(path, "r") as f:
        out = {k: f[k][()] for k in f}
        out["attrs"] = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    return out


def snapshot_indices(energy: np.ndarray, n: int = 3) -> list[int]:
    """Images to show: the first, the last, and ones in between spaced evenly in E
    (the paper shows E = 7054, 1348 and 589).

    >>> snapshot_indices(np.array([10.0, 8, 6, 4, 3, 2, 1]), 3)
    [0, 2, 6]
    """
    targets = np.linspace(energy[0], energy[-1], n)
    idx = [int(np.argmin(np.abs(energy - t))) for t in targets]
    idx[0], idx[-1] = 0, len(energy) - 1
    return sorted(set(idx))


def ch_energy_figure(run: dict, n_snapshots: int = 3, part1_steps: int | None = None):
    """E(t) on log-log axes, its three parts, the two parts of the protocol shaded,
    and snapshot insets connected to their points on the curve."""
    attrs = run.get("attrs", {})
    t, E = run["time"], run["energy"]
    n1 = int(part1_steps if part1_steps is not None else attrs.get("part1_steps", 0))
    units = attrs.get("property_units", "pJ/um")
    fig, ax = plt.subplots(figsize=(8, 5.5))
    ax.loglog(t, E, color="C0", lw=2, label="total E")
    for key, color, label in [
        ("energy_bulk", "C1", "bulk"),
        ("energy_grad", "C2", "gradient"),
        ("energy_elastic", "C3", "elastic"),
    ]:
        if key in run and np.all(run[key] > 0):
            ax.loglog(t, run[key], color=color, lw=1, ls="--", label=label)
    if 0 < n1 < len(t):
        t1 = t[n1 - 1]
        ax.axvspan(t[0], t1, color="0.92", zorder=0)
        ax.axvline(t1, color="0.5", lw=0.8)
        ymax = ax.get_ylim()[1]
        ax.text(np.sqrt(t[0] * t1), ymax, "part 1: log-spaced Δt", ha="center", va="top")
        ax.text(np.sqrt(t1 * t[-1]), ymax, "part 2: constant Δt", ha="center", va="top")
    ax.set_xlabel("simulated time t (s)")
    ax.set_ylabel(f"energy E ({units})")
    run_id, backend = attrs.get("run", ""), attrs.get("backend", "fem")
    ax.set_title(
        f"Cahn-Hilliard with elasticity ({backend}), run {run_id}: energy and microstructure"
    )
    ax.legend(loc="center left", fontsize=8)
    idx = snapshot_indices(E, n_snapshots)
    for k, i in enumerate(idx):
        # Insets along the bottom, left to right in time.
        x0 = 0.30 + k * (0.66 / max(len(idx), 1))
        ins = ax.inset_axes([x0, 0.04, 0.19, 0.27])
        ins.imshow(run["images"][i], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ins.set_xticks([])
        ins.set_yticks([])
        ins.set_title(f"E = {E[i]:.4g}", fontsize=7)
        ax.plot(t[i], E[i], "o", color="k", ms=5)
        ax.annotate(
            "",
            xy=(t[i], E[i]),
            xytext=(x0 + 0.095, 0.35),
            textcoords="axes fraction",
            arrowprops={"arrowstyle": "->", "color": "C0", "lw": 0.8},
        )
    fig.tight_layout()
    return fig
