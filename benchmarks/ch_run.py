"""Cahn-Hilliard-with-elasticity speed: seconds per step and per paper-length run.

    .venv/bin/python benchmarks/ch_run.py [--backend fem|spectral] [--steps 300]
        [--solver fft|lu] [--config config/config.yaml [config/paper.yaml ...]]

Uses the ``ch:`` parameters of the config files (merged in order; config/paper.yaml
does not change the CH protocol) on one core.

FEM (always measured): NOT a whole run. It times ``--steps`` steps of part 1 (Δt
log-spaced, an image and the energy every step) and ``--steps`` steps of part 2
(constant Δt, an image every ``save_every``-th step), starting from the same random
state, and extrapolates to the protocol (part1_steps + part2_steps steps):

    s_per_run = setup + part1_steps * s_step(part 1) + part2_steps * s_step(part 2)

``--backend spectral`` also times one WHOLE run of the protocol with the spectral
backend (every image and energy of the run file, no extrapolation), prints the speed-up
over the FEM figure of this same invocation, and the time of one rfft2 + irfft2 pair on
the grid with numpy.fft and scipy.fft (the backend uses scipy.fft).

Timings on a shared machine are noisy; the script prints the CPU time and load as well.
"""

import argparse
import json
import os
import time
import timeit
from pathlib import Path

import numpy as np
import scipy.fft
import yaml

from microprop.ch import CHParams, make_backend, run_protocol, run_seed, to_uint8


def load_params(paths: list[Path]) -> CHParams:
    ch: dict = {}
    for path in paths:
        ch.update(yaml.safe_load(path.read_text()).get("ch", {}))
    return CHParams.from_config(ch)


def time_fem(p: CHParams, steps: int, solver: str) -> dict:
    """Extrapolated FEM run (see the module docstring)."""
    t0 = time.perf_counter()
    sim = make_backend(p, "fem", solver)
    sim.set_initial_random(run_seed(0, 0))
    setup = time.perf_counter() - t0

    def timed(dts, save_every):
        w0, c0 = time.perf_counter(), time.process_time()
        for i, dt in enumerate(dts, start=1):
            sim.step(float(dt))
            if i % save_every == 0:
                sim.energy()
                to_uint8(sim.image())
        return (time.perf_counter() - w0) / len(dts), (time.process_time() - c0) / len(dts)

    dts = p.dts()
    # Part 1: the steps spread over the whole Δt range (every k-th Δt of part 1).
    part1 = dts[: p.part1_steps][:: max(1, p.part1_steps // steps)][:steps]
    s1, c1 = timed(part1, 1)
    s2, c2 = timed([p.dt] * steps, p.save_every)
    s_run = setup + p.part1_steps * s1 + p.part2_steps * s2
    cpu_run = setup + p.part1_steps * c1 + p.part2_steps * c2  # setup counted as wall
    n = p.part1_steps + p.part2_steps
    print(f"FEM backend: {p.n_cells}x{p.n_cells} P1 mesh, solver {solver}")
    print(f"  setup (mesh, forms, matrices, solvers): {setup:.2f} s")
    print(f"  part 1: {s1 * 1e3:.2f} ms/step wall ({c1 * 1e3:.2f} ms CPU), {len(part1)} steps")
    print(f"  part 2: {s2 * 1e3:.2f} ms/step wall ({c2 * 1e3:.2f} ms CPU), {steps} steps")
    print(
        f"  extrapolated run ({p.part1_steps} + {p.part2_steps} steps): {s_run:.1f} s = "
        f"{s_run / 60:.2f} min wall, {cpu_run:.1f} s CPU (timed {len(part1) + steps} steps, "
        "not a whole run)"
    )
    return {
        "solver": solver,
        "s_per_step": (p.part1_steps * s1 + p.part2_steps * s2) / n,
        "s_per_step_part1": s1,
        "s_per_step_part2": s2,
        "s_setup": setup,
        "s_per_run": s_run,
        "cpu_s_per_run": cpu_run,
        "timed_steps": len(part1) + steps,
    }


def time_spectral(p: CHParams) -> dict:
    """One whole run of the protocol with the spectral backend."""
    w0, c0 = time.perf_counter(), time.process_time()
    sim = make_backend(p, "spectral")
    setup = time.perf_counter() - w0
    out = run_protocol(sim, seed=0, run=0, progress_every=1e9)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    n = p.part1_steps + p.part2_steps
    a = np.random.default_rng(0).uniform(size=(p.n_cells, p.n_cells))
    ah = np.fft.rfft2(a)
    fft_pair = {}
    for name, mod in (("numpy", np.fft), ("scipy", scipy.fft)):
        pair = lambda mod=mod: mod.irfft2(mod.rfft2(a) + ah, s=a.shape)  # noqa: E731
        fft_pair[name] = min(timeit.repeat(pair, number=200, repeat=5)) / 200
    print(f"spectral backend: {p.n_cells}x{p.n_cells} grid, {sim.solver}, float64")
    print(f"  whole run ({p.part1_steps} + {p.part2_steps} steps, {len(out['energy'])} images)")
    print(f"  {wall:.2f} s wall ({cpu:.2f} s CPU, setup {setup * 1e3:.1f} ms)")
    print(f"  {wall / n * 1e3:.3f} ms/step wall; final E = {out['energy'][-1]:.6g} pJ/um")
    print(
        "  rfft2 + irfft2 pair: " + ", ".join(f"{k} {v * 1e6:.0f} us" for k, v in fft_pair.items())
    )
    return {
        "solver": sim.solver,
        "s_per_step": wall / n,
        "s_per_run": wall,
        "cpu_s_per_run": cpu,
        "s_setup": setup,
        "s_fft_pair_numpy": fft_pair["numpy"],
        "s_fft_pair_scipy": fft_pair["scipy"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--backend", choices=["fem", "spectral"], default="fem")
    ap.add_argument("--steps", type=int, default=300, help="timed FEM steps of each part")
    ap.add_argument("--solver", choices=["fft", "lu"], default="fft", help="FEM solver")
    ap.add_argument("--config", type=Path, nargs="+", default=[Path("config/config.yaml")])
    args = ap.parse_args()
    p = load_params(args.config)
    load = os.getloadavg()[0]
    print(f"Cahn-Hilliard with elasticity, {p.part1_steps} + {p.part2_steps} steps per run")
    result = {"n_cells": p.n_cells, "steps_per_run": p.part1_steps + p.part2_steps}
    if args.backend == "spectral":
        result["spectral"] = time_spectral(p)
    result["fem"] = time_fem(p, args.steps, args.solver)
    if args.backend == "spectral":
        fem, spec = result["fem"], result["spectral"]
        result["speedup_per_run"] = fem["s_per_run"] / spec["s_per_run"]
        result["speedup_per_run_cpu"] = fem["cpu_s_per_run"] / spec["cpu_s_per_run"]
        print(
            f"spectral run vs extrapolated FEM run: {result['speedup_per_run']:.1f}x faster "
            f"(wall), {result['speedup_per_run_cpu']:.1f}x (CPU time)"
        )
    load_end = os.getloadavg()[0]
    print(f"load average: {load:.2f} at start, {load_end:.2f} at end, on {os.cpu_count()} cores")
    print("one process, one core")
    print(json.dumps({**result, "load_avg": load, "load_avg_end": load_end}))


if __name__ == "__main__":
    main()
