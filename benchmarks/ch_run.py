"""Cahn-Hilliard-with-elasticity speed: seconds per step and per paper-scale run.

    .venv/bin/python benchmarks/ch_run.py [--steps 300] [--solver fft|lu] [--config FILE]

Uses the ``ch:`` parameters of config/config.yaml (the default resolution) on one core.
It does NOT run a whole run: it times ``--steps`` steps of part 1 (Δt log-spaced, an
image and the energy every step) and ``--steps`` steps of part 2 (constant Δt, an image
every ``save_every``-th step), starting from the same random state, and extrapolates to
the paper's protocol (part1_steps + part2_steps steps, with elasticity):

    s_per_run = setup + part1_steps * s_step(part 1) + part2_steps * s_step(part 2)

Timings on a shared machine are noisy; the script prints the CPU time and load as well.
"""

import argparse
import json
import os
import time
from pathlib import Path

import yaml

from microprop.cahn_hilliard import CahnHilliard, CHParams, run_seed, to_uint8

WORKFLOW_KEYS = ("n_runs", "n_test_runs", "figure_run", "solver", "progress_every")


def load_params(path: Path) -> CHParams:
    cfg = yaml.safe_load(path.read_text()).get("ch", {})
    return CHParams.from_dict({k: v for k, v in cfg.items() if k not in WORKFLOW_KEYS})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=300, help="timed steps of each part")
    ap.add_argument("--solver", choices=["fft", "lu"], default="fft")
    ap.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    args = ap.parse_args()
    p = load_params(args.config)

    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    sim = CahnHilliard(p, solver=args.solver)
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
    n = args.steps
    # Part 1: the steps spread over the whole Δt range (every k-th Δt of part 1).
    part1 = dts[: p.part1_steps][:: max(1, p.part1_steps // n)][:n]
    s1, c1 = timed(part1, 1)
    s2, c2 = timed([p.dt] * n, p.save_every)
    s_run = setup + p.part1_steps * s1 + p.part2_steps * s2
    steps = p.part1_steps + p.part2_steps
    print(f"Cahn-Hilliard with elasticity, {p.n_cells}x{p.n_cells} P1 mesh, solver {args.solver}")
    print(f"  setup (mesh, forms, matrices, solvers): {setup:.2f} s")
    print(f"  part 1: {s1 * 1e3:.2f} ms/step wall ({c1 * 1e3:.2f} ms CPU), {len(part1)} steps")
    print(f"  part 2: {s2 * 1e3:.2f} ms/step wall ({c2 * 1e3:.2f} ms CPU), {n} steps")
    print(
        f"  extrapolated paper-scale run ({p.part1_steps} + {p.part2_steps} steps): "
        f"{s_run:.1f} s = {s_run / 60:.2f} min (timed {len(part1) + n} steps, not a whole run)"
    )
    print(f"  load average at start: {load:.2f} on {os.cpu_count()} cores; one process, one core")
    print(
        json.dumps(
            {
                "n_cells": p.n_cells,
                "solver": args.solver,
                "s_per_step": (p.part1_steps * s1 + p.part2_steps * s2) / steps,
                "s_per_step_part1": s1,
                "s_per_step_part2": s2,
                "s_setup": setup,
                "s_per_run": s_run,
                "load_avg": load,
            }
        )
    )


if __name__ == "__main__":
    main()
