"""PFHub benchmark 1a (periodic spinodal decomposition) through the project's CH solver.

    .venv/bin/python benchmarks/pfhub_bm1a.py [--n-cells 256] [--t-end 10000]
        [--dt-factors 1 0.5] [--out results/benchmarks/pfhub_bm1a]

The benchmark (https://pages.nist.gov/pfhub/benchmarks/benchmark1.ipynb/) solves
Cahn-Hilliard with f = ρ (c - 0.3)²(0.7 - c)², ρ = 5, κ = 2, M = 5 on a periodic
200 x 200 square from c = 0.5 + 0.01 [cos(0.105x) cos(0.11y) + (cos(0.13x) cos(0.087y))²
+ cos(0.025x - 0.15y) cos(0.07x - 0.02y)]. With c' = (c - 0.3)/0.4 it is exactly our
model without elasticity: c0 = ρ 0.4⁴ = 0.128, k_c = κ 0.4² = 0.32, M' = M/0.4² = 31.25,
and our E[c'] equals the benchmark's F[c]. The run uses the same classes as the dataset
(``--backend fem``: :class:`microprop.ch.fem.CahnHilliard`, FFT solver; ``--backend
spectral``: :class:`microprop.ch.spectral.SpectralCahnHilliard`; both the stabilized
semi-implicit step with S = c0), the initial field set exactly at the mesh nodes.

Time-step schedule (benchmark time units): Δt = dt0 until t = t_ramp (the spinodal
kink is at t ≈ 15-25), then Δt = dt0 t / t_ramp (a constant number of steps per
decade, for the power-law coarsening), at most dt_max; every report time (100, 1000,
10000) is hit exactly. ``--dt-factors`` repeats the run with all of dt0 and dt_max scaled
(0.5: twice the steps) to show the time-step error.

Writes ``F(t)`` of each run to ``<out>/pfhub_bm1a_dt<factor>.csv`` and a log-log plot
``<out>/pfhub_bm1a.png`` with the published curves of benchmarks/data/pfhub_bm1a_reference.csv
(PRISMS-PF and MOOSE to t = 1e4, FiPy and MMSP to t ~ 80); prints the relative difference
of F at t = 100, 1000, 10000 to each reference and ends with one JSON line.
"""

import argparse
import csv
import json
import os
import time
from pathlib import Path

import numpy as np

from microprop.ch import CHParams, make_backend

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "data" / "pfhub_bm1a_reference.csv"
LENGTH = 200.0
REPORT_TIMES = (100.0, 1000.0, 10000.0)
LABELS = {"fem": "dolfinx P1", "spectral": "Fourier-spectral"}
# Benchmark 1a in c' = (c - 0.3)/0.4 (see the module docstring).
PHYSICS = dict(c0=5 * 0.4**4, k_c=2 * 0.4**2, mobility=5 / 0.4**2, elasticity=False)


def initial_field(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The benchmark's initial c', (c - 0.3)/0.4."""
    c = 0.5 + 0.01 * (
        np.cos(0.105 * x) * np.cos(0.11 * y)
        + (np.cos(0.13 * x) * np.cos(0.087 * y)) ** 2
        + np.cos(0.025 * x - 0.15 * y) * np.cos(0.07 * x - 0.02 * y)
    )
    return (c - 0.3) / 0.4


def schedule(t_end, dt0, t_ramp, dt_max, stops):
    """Δt of every step (see the module docstring), landing on every time in ``stops``."""
    t, dts = 0.0, []
    stops = sorted(s for s in stops if s <= t_end) + [t_end]
    k = 0
    while t < t_end * (1 - 1e-12):
        dt = min(dt_max, dt0 * max(1.0, t / t_ramp))
        while k < len(stops) and stops[k] <= t * (1 + 1e-12):
            k += 1
        dt = min(dt, stops[k] - t)
        dts.append(dt)
        t += dt
    return np.array(dts)


def read_reference(path: Path = REFERENCE) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rows = [r for r in csv.DictReader(line for line in path.open() if not line.startswith("#"))]
    out = {}
    for name in dict.fromkeys(r["source"] for r in rows):
        t = np.array([float(r["time"]) for r in rows if r["source"] == name])
        f = np.array([float(r["free_energy"]) for r in rows if r["source"] == name])
        out[name] = (t, f)
    return out


def at_time(t: np.ndarray, f: np.ndarray, t0: float) -> float:
    """F at t0, linear in log t between the two nearest points (nan outside the data)."""
    if t0 < t.min() or t0 > t.max():
        return float("nan")
    pos = t > 0
    return float(np.interp(np.log(t0), np.log(t[pos]), f[pos]))


def run(n_cells: int, dts: np.ndarray, backend: str) -> tuple[np.ndarray, np.ndarray]:
    p = CHParams(
        length=LENGTH,
        n_cells=n_cells,
        image_size=16,
        init_grid=n_cells,
        part1_steps=0,
        part2_steps=0,
        **PHYSICS,
    )
    sim = make_backend(p, backend)
    h = LENGTH / n_cells
    i, j = np.meshgrid(np.arange(n_cells), np.arange(n_cells), indexing="ij")
    sim.set_initial_grid(initial_field(i * h, j * h))  # grid[i, j] at (i h, j h): exact
    ts, fs = [0.0], [sim.energy()["total"]]
    for dt in dts:
        sim.step(float(dt))
        ts.append(sim.time)
        fs.append(sim.energy()["total"])
    return np.array(ts), np.array(fs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-cells", type=int, default=256, help="P1 cells per side (h = 200/n)")
    ap.add_argument("--t-end", type=float, default=10000.0)
    ap.add_argument("--dt0", type=float, default=0.05)
    ap.add_argument("--t-ramp", type=float, default=20.0)
    ap.add_argument("--dt-max", type=float, default=8.0)
    ap.add_argument("--dt-factors", type=float, nargs="+", default=[1.0])
    ap.add_argument("--backend", choices=["fem", "spectral"], default="fem")
    ap.add_argument("--out", type=Path, default=Path("results/benchmarks/pfhub_bm1a"))
    ap.add_argument(
        "--from-csv", action="store_true", help="reuse the F(t) CSVs of an earlier run (no solve)"
    )
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    ref = read_reference()
    load = os.getloadavg()[0]
    width = np.log(81) * np.sqrt(PHYSICS["k_c"] / (2 * PHYSICS["c0"]))
    print(
        f"PFHub 1a as c' = (c-0.3)/0.4: c0 = {PHYSICS['c0']:.4g}, k_c = {PHYSICS['k_c']:.4g}, "
        f"M = {PHYSICS['mobility']:.4g}; {args.backend} backend, {args.n_cells}^2 cells, h = "
        f"{LENGTH / args.n_cells:.3g}, 10-90 interface width {width:.3g} = "
        f"{width * args.n_cells / LENGTH:.1f} cells"
    )
    result = {"n_cells": args.n_cells, "backend": args.backend, "load_avg_start": load, "runs": {}}
    tag = "" if args.backend == "fem" else f"_{args.backend}"  # FEM files keep their names
    curves = {}
    for fac in args.dt_factors:
        dts = schedule(args.t_end, args.dt0 * fac, args.t_ramp, args.dt_max * fac, REPORT_TIMES)
        path = args.out / f"pfhub_bm1a{tag}_dt{fac:g}.csv"
        w0 = time.perf_counter()
        if args.from_csv:
            t, f = np.loadtxt(path, delimiter=",", skiprows=1, unpack=True)
        else:
            t, f = run(args.n_cells, dts, args.backend)
            np.savetxt(
                path, np.stack([t, f], 1), delimiter=",", header="time,free_energy", comments=""
            )
        wall = time.perf_counter() - w0
        curves[fac] = (t, f)
        print(
            f"dt factor {fac:g}: {len(dts)} steps (dt {dts.min():.3g}..{dts.max():.3g}), "
            f"{wall:.1f} s wall, load {os.getloadavg()[0]:.2f}; F(0) = {f[0]:.6g}; {path}"
        )
        r = {"steps": len(dts), "wall_s": wall}
        for t0 in REPORT_TIMES:
            if t0 > args.t_end:
                continue
            ours = at_time(t, f, t0)
            r[f"F_{t0:g}"] = ours
            line = f"  t = {t0:>6g}: F = {ours:9.4f}"
            for name, (tr, fr) in ref.items():
                fref = at_time(tr, fr, t0)
                if np.isfinite(fref):
                    rel = ours / fref - 1
                    r[f"rel_diff_{name}_{t0:g}"] = rel
                    line += f" | {name} {fref:9.4f} ({100 * rel:+.2f}%)"
            print(line)
        # Every published point up to t = 100 (the spinodal stage, where the codes agree).
        for name, (tr, fr) in ref.items():
            sel = (tr > 0) & (tr <= 100.0)
            rel = np.array([at_time(t, f, x) for x in tr[sel]]) / fr[sel] - 1
            if rel.size:
                r[f"max_abs_rel_diff_{name}_t_le_100"] = float(np.abs(rel).max())
                print(
                    f"  {name}: {rel.size} points with t <= 100, largest |rel. diff| "
                    f"{100 * np.abs(rel).max():.2f}% (t = {tr[sel][np.argmax(np.abs(rel))]:.3g})"
                )
        result["runs"][f"{fac:g}"] = r
    png = args.out / f"pfhub_bm1a{tag}.png"
    _plot(curves, ref, png, args.backend)
    print(f"wrote {png}")
    print(json.dumps(result))


def _plot(curves, ref, path: Path, backend: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    styles = {
        "prismspf_1a": dict(marker="o", ls="none", color="k", label="PRISMS-PF (PFHub)"),
        "moose_1a_mpf": dict(ls="--", color="tab:green", label="MOOSE, 50x50 Q4 (PFHub)"),
        "fipy_1a_travis": dict(marker="s", ls="none", color="tab:orange", label="FiPy (PFHub)"),
        "mmsp_1a_travis": dict(marker="^", ls="none", color="tab:purple", label="MMSP (PFHub)"),
    }
    for name, (t, f) in ref.items():
        pos = t > 0
        ax.plot(t[pos], f[pos], **styles.get(name, dict(ls=":", label=name)))
    for fac, (t, f) in curves.items():
        ax.plot(t[1:], f[1:], lw=1.5, label=f"microprop ({LABELS[backend]}), dt x {fac:g}")
    ax.set(xscale="log", yscale="log", xlabel="time (benchmark units)", ylabel="free energy F")
    ax.set_title("PFHub benchmark 1a (periodic)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
