"""PFHub benchmark 1a (periodic spinodal decomposition) as a run of the project's solver.

The benchmark (https://pages.nist.gov/pfhub/benchmarks/benchmark1.ipynb/) solves
Cahn-Hilliard with f = ρ (c - 0.3)²(0.7 - c)², ρ = 5, κ = 2, M = 5 on a periodic
200 x 200 square from c = 0.5 + 0.01 [cos(0.105x) cos(0.11y) + (cos(0.13x) cos(0.087y))²
+ cos(0.025x - 0.15y) cos(0.07x - 0.02y)]. With c' = (c - 0.3)/0.4 it is exactly our
model without elasticity: c0 = ρ 0.4⁴ = 0.128, k_c = κ 0.4² = 0.32, M' = M/0.4² = 31.25,
and our E[c'] equals the benchmark's F[c]. :func:`solve` runs it through the dataset's
backends (the stabilized semi-implicit step with S = c0, first order in time), the
initial field set exactly at the mesh nodes. ``benchmarks/pfhub_bm1a.py`` compares F(t)
with the published curves; the slow tests check the spinodal stage against them.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from microprop.ch.backend import make_backend
from microprop.ch.params import CHParams

LENGTH = 200.0
REPORT_TIMES = (100.0, 1000.0, 10000.0)
# Benchmark 1a in c' = (c - 0.3)/0.4 (see the module docstring).
PHYSICS = dict(c0=5 * 0.4**4, k_c=2 * 0.4**2, mobility=5 / 0.4**2, elasticity=False)


def initial_field(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The benchmark's initial c', (c - 0.3)/0.4.

    >>> round(float(initial_field(np.array(0.0), np.array(0.0))), 6)  # c = 0.53
    0.575
    """
    c = 0.5 + 0.01 * (
        np.cos(0.105 * x) * np.cos(0.11 * y)
        + (np.cos(0.13 * x) * np.cos(0.087 * y)) ** 2
        + np.cos(0.025 * x - 0.15 * y) * np.cos(0.07 * x - 0.02 * y)
    )
    return (c - 0.3) / 0.4


def schedule(
    t_end: float, dt0: float, t_ramp: float, dt_max: float, stops=REPORT_TIMES
) -> np.ndarray:
    """Δt of every step: dt0 until t_ramp (the spinodal kink is at t ≈ 15-25), then
    dt0 t / t_ramp (a constant number of steps per decade, for the power-law coarsening),
    at most dt_max, landing exactly on every time in ``stops``.

    >>> schedule(4.0, 1.0, 2.0, 1.5, stops=(3.0,)).tolist()
    [1.0, 1.0, 1.0, 1.0]
    >>> schedule(10.0, 1.0, 2.0, 1.5, stops=(5.0,)).tolist()
    [1.0, 1.0, 1.0, 1.5, 0.5, 1.5, 1.5, 1.5, 0.5]
    """
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


def solve(n_cells: int, dts: np.ndarray, backend: str) -> tuple[np.ndarray, np.ndarray]:
    """Times and total free energy F of benchmark 1a on ``n_cells``² cells, one entry
    per step of ``dts`` (and t = 0), through :func:`microprop.ch.make_backend`."""
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


def read_reference(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The published curves, ``{source: (time, free_energy)}``, from a CSV with the
    columns source, time, free_energy (``#`` lines are comments)."""
    with Path(path).open() as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    out = {}
    for name in dict.fromkeys(r["source"] for r in rows):
        t = np.array([float(r["time"]) for r in rows if r["source"] == name])
        f = np.array([float(r["free_energy"]) for r in rows if r["source"] == name])
        out[name] = (t, f)
    return out


def at_time(t: np.ndarray, f: np.ndarray, t0: float) -> float:
    """F at t0, linear in log t between the two nearest points (nan outside the data).

    >>> at_time(np.array([1.0, 100.0]), np.array([3.0, 1.0]), 10.0)
    2.0
    """
    if t0 < t.min() or t0 > t.max():
        return float("nan")
    pos = t > 0
    return float(np.interp(np.log(t0), np.log(t[pos]), f[pos]))


def richardson(f_coarse: float, f_fine: float, ratio: float, order: float = 1.0) -> float:
    """The Δt -> 0 limit of a quantity computed with steps Δt (``f_coarse``) and
    ``ratio`` Δt (``f_fine``), for a scheme whose error is C Δt^order.

    >>> richardson(1.5, 1.25, 0.5)  # F = 1 + Δt at Δt = 0.5 and 0.25
    1.0
    """
    r = ratio**order
    return f_fine - (f_coarse - f_fine) * r / (1 - r)


def observed_order(f1: float, f2: float, f3: float, ratio: float) -> float:
    """The order p of the time-step error from three runs with steps Δt, ratio Δt and
    ratio² Δt: (f1 - f2) / (f2 - f3) = ratio^-p; nan where the differences change sign
    (the error is then below the scheme's leading term: nothing to fit).

    >>> round(observed_order(1.5, 1.25, 1.125, 0.5), 12)  # F = 1 + Δt
    1.0
    >>> observed_order(1.0, 1.1, 1.05, 0.5)
    nan
    """
    q = (f1 - f2) / (f2 - f3)
    return float(np.log(q) / np.log(1 / ratio)) if q > 0 else float("nan")
