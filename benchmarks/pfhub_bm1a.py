"""PFHub benchmark 1a (periodic spinodal decomposition) through the project's CH solver.

    .venv/bin/python benchmarks/pfhub_bm1a.py [--n-cells 256] [--t-end 10000]
        [--dt-factors 1 0.5] [--out results/benchmarks/pfhub_bm1a]

The benchmark and its mapping onto our model (c' = (c - 0.3)/0.4: c0 = 0.128, k_c = 0.32,
M = 31.25, no elasticity) are in :mod:`microprop.ch.pfhub`; the run uses the same classes
as the dataset (``--backend fem``: :class:`microprop.ch.fem.CahnHilliard`, FFT solver;
``--backend spectral``: :class:`microprop.ch.spectral.SpectralCahnHilliard`; both the
stabilized semi-implicit step with S = c0, first order in time).

Time-step schedule (benchmark time units): Δt = dt0 until t = t_ramp (the spinodal
kink is at t ≈ 15-25), then Δt = dt0 t / t_ramp (a constant number of steps per
decade, for the power-law coarsening), at most dt_max; every report time (100, 1000,
10000) is hit exactly. ``--dt-factors`` repeats the run with all of dt0 and dt_max scaled
(0.5: twice the steps) to show the time-step error. With two factors or more, F at the
report times is also extrapolated to Δt -> 0 from the two smallest (Richardson, first
order: the scheme's order in time; with three factors the observed order is printed
beside it), the value the references are compared with in docs/cahn-hilliard.md.

Writes ``F(t)`` of each run to ``<out>/pfhub_bm1a_dt<factor>.csv`` and a log-log plot
``<out>/pfhub_bm1a.png`` with the published curves of benchmarks/data/pfhub_bm1a_reference.csv
(PRISMS-PF, MOOSE and MEMPHIS to t = 1e4, FiPy and MMSP to t ~ 80); prints the relative difference
of F at t = 100, 1000, 10000 to each reference and ends with one JSON line.
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from microprop.ch.pfhub import (
    LENGTH,
    PHYSICS,
    REPORT_TIMES,
    at_time,
    observed_order,
    read_reference,
    richardson,
    schedule,
    solve,
)

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "data" / "pfhub_bm1a_reference.csv"
LABELS = {"fem": "dolfinx P1", "spectral": "Fourier-spectral"}


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
    ref = read_reference(REFERENCE)
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
            t, f = solve(args.n_cells, dts, args.backend)
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
            print(f"  t = {t0:>6g}: F = {ours:9.4f}" + _against_references(ours, t0, ref, r))
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
    if len(curves) >= 2:
        result["dt_to_zero"] = _extrapolate(curves, ref, args.t_end)
    png = args.out / f"pfhub_bm1a{tag}.png"
    _plot(curves, ref, png, args.backend)
    print(f"wrote {png}")
    print(json.dumps(result))


def _extrapolate(curves, ref, t_end) -> dict:
    """F at the report times extrapolated to Δt -> 0 from the two smallest dt factors,
    with each reference's relative difference (see the module docstring)."""
    facs = sorted(curves, reverse=True)  # coarse to fine
    (f_c, f_f), ratio = facs[-2:], facs[-1] / facs[-2]
    print(f"dt -> 0 (first-order Richardson from dt factors {f_c:g} and {f_f:g}):")
    out = {}
    for t0 in (t for t in REPORT_TIMES if t <= t_end):
        vals = [at_time(*curves[fac], t0) for fac in facs]
        best = richardson(vals[-2], vals[-1], ratio)
        out[f"F_{t0:g}"] = best
        line = f"  t = {t0:>6g}: F = {best:9.4f}"
        if len(facs) >= 3 and np.isclose(facs[-2] / facs[-3], ratio):
            p = observed_order(*vals[-3:], ratio)
            out[f"observed_order_{t0:g}"] = p
            spread = (max(vals[-3:]) - min(vals[-3:])) / best
            line += f" (observed order {p:.2f}; 3 smallest dt within {100 * spread:.2f}%)"
        print(line + _against_references(best, t0, ref, out))
    return out


def _against_references(ours: float, t0: float, ref, out: dict) -> str:
    """``ours`` (F at t0) relative to every reference that covers t0: the differences go
    to ``out`` (``rel_diff_<source>_<t0>``), the printable text is returned."""
    text = ""
    for name, (tr, fr) in ref.items():
        fref = at_time(tr, fr, t0)
        if np.isfinite(fref):
            rel = ours / fref - 1
            out[f"rel_diff_{name}_{t0:g}"] = rel
            text += f" | {name} {fref:9.4f} ({100 * rel:+.2f}%)"
    return text


def _plot(curves, ref, path: Path, backend: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    styles = {
        "prismspf_1a": dict(marker="o", ls="none", color="k", label="PRISMS-PF (PFHub)"),
        "moose_1a_mpf": dict(ls="--", color="tab:green", label="MOOSE, adaptive Q4 (PFHub)"),
        "fipy_1a_travis": dict(marker="s", ls="none", color="tab:orange", label="FiPy (PFHub)"),
        "mmsp_1a_travis": dict(marker="^", ls="none", color="tab:purple", label="MMSP (PFHub)"),
        "memphis_1a": dict(marker="d", ls="none", color="tab:red", label="MEMPHIS, h = 1 (PFHub)"),
    }
    for name, (t, f) in ref.items():
        pos = t > 0
        ax.plot(t[pos], f[pos], **styles.get(name, dict(ls=":", label=name)))
    blues = plt.cm.Blues(np.linspace(1.0, 0.45, len(curves)))  # ours: darker = larger Δt
    for color, (fac, (t, f)) in zip(blues, sorted(curves.items(), reverse=True), strict=True):
        ax.plot(
            t[1:], f[1:], lw=1.5, color=color, label=f"microprop ({LABELS[backend]}), dt x {fac:g}"
        )
    ax.set(xscale="log", yscale="log", xlabel="time (benchmark units)", ylabel="free energy F")
    ax.set_title("PFHub benchmark 1a (periodic)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
