"""Measure the issue's Cahn-Hilliard criteria on whole runs, with mean/min/max over runs.

    .venv/bin/python benchmarks/ch_criteria.py [--config config/config.yaml]
        [--runs 0 1 2] [--set mobility=10 ...] [--save-dir DIR]
    .venv/bin/python benchmarks/ch_criteria.py --run-files results/sims/ch/run_*.h5

The first form simulates each run (seed --seed, run number r: the workflow's seeding)
with the ``ch:`` parameters and backend of the config (a few minutes per FEM run;
``--set backend=spectral`` for the spectral backend, seconds per run); the second measures
run files the workflow already wrote (their parameters are read from the files). Prints
the criteria of every run (microprop.ch.criteria), whether each meets the
issue's band (CRITERIA_BANDS; f_image_label_gap is the largest gap between the energy
of an image and its label, by the backend's own functional), a markdown table of
mean/min/max per criterion and ends with one JSON line of it.
"""

import argparse
import json
import logging
import os
import time
from pathlib import Path

import h5py
import numpy as np
import yaml

from microprop.ch import (
    CRITERIA_BANDS,
    CHParams,
    criteria,
    criteria_met,
    make_backend,
    run_seed,
    simulate_run,
)
from microprop.dataset import run_backend
from microprop.io import read_attrs

ARRAYS = ("images", "energy", "energy_bulk", "energy_grad", "energy_elastic", "time", "step")


def from_file(path: Path) -> tuple[dict, CHParams, int, str]:
    attrs = read_attrs(path)
    names = set(CHParams.__dataclass_fields__)
    p = CHParams.from_dict({k: v for k, v in attrs.items() if k in names})
    with h5py.File(path, "r") as f:
        out = {k: f[k][()] for k in ARRAYS}
        if "energy_initial" in f:
            out["energy_initial"] = f["energy_initial"][()]
    if "energy_initial" not in out:  # older run files: rebuild the (seeded) initial field
        sim = make_backend(p, run_backend(attrs))
        sim.set_initial_random(run_seed(int(attrs["seed"]), int(attrs["run"])))
        out["energy_initial"] = sim.energy()["total"]
    return out, p, int(attrs["run"]), run_backend(attrs)


def table(rows: list[dict]) -> tuple[str, dict]:
    """Markdown table (criterion, band, mean, min, max, runs meeting it) and its data."""
    keys = [k for k in rows[0] if isinstance(rows[0][k], float)]
    lines = [
        "| criterion | band | mean | min | max | runs in band |",
        "|---|---|---|---|---|---|",
    ]
    data = {}
    for k in keys:
        v = np.array([r[k] for r in rows])
        band = CRITERIA_BANDS.get(k)
        ok = int(sum(bool(band[0] <= x <= band[1]) for x in v)) if band else None
        data[k] = {
            "mean": float(v.mean()),
            "min": float(v.min()),
            "max": float(v.max()),
            "in_band": ok,
        }
        bs = f"[{band[0]:g}, {band[1]:g}]" if band else ""
        okstr = f"{ok}/{len(v)}" if band else ""
        lines.append(f"| {k} | {bs} | {v.mean():.4g} | {v.min():.4g} | {v.max():.4g} | {okstr} |")
    return "\n".join(lines), data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    ap.add_argument("--runs", type=int, nargs="+", default=[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", nargs="*", default=[], help="override: key=value (YAML value)")
    ap.add_argument("--save-dir", type=Path, help="also save each run's arrays (.npz) here")
    ap.add_argument("--run-files", type=Path, nargs="+", help="measure these run files")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    load = os.getloadavg()[0]
    rows = []
    if args.run_files:
        for path in args.run_files:
            out, p, run, backend = from_file(path)
            rows.append({"run": run, **criteria(out, p, backend)})
            print(f"{path}: run {run}")
    else:
        cfg = yaml.safe_load(args.config.read_text()).get("ch", {})
        for kv in args.set:
            k, v = kv.split("=", 1)
            cfg[k] = yaml.safe_load(v)
        p = CHParams.from_config(cfg)
        backend, solver = cfg.get("backend", "fem"), cfg.get("solver", "fft")
        print(f"backend {backend}")
        for run in args.runs:
            t0 = time.perf_counter()
            out = simulate_run(p, args.seed, run, progress_every=60, backend=backend, solver=solver)
            if args.save_dir:
                args.save_dir.mkdir(parents=True, exist_ok=True)
                np.savez_compressed(args.save_dir / f"run_{run}.npz", **out)
            wall = time.perf_counter() - t0
            rows.append({"run": run, **criteria(out, p, backend), "wall_s": wall})
    for r in rows:
        met = criteria_met(r)
        print(f"run {r['run']}:")
        for k, v in r.items():
            mark = "" if k not in met else ("  ok" if met[k] else "  OUT OF BAND")
            print(f"  {k}: {v}{mark}")
    md, data = table(rows)
    print(f"\n{len(rows)} runs (load average {load:.2f} at start):\n{md}\n")
    print(json.dumps({"n_runs": len(rows), "runs": [r["run"] for r in rows], "criteria": data}))


if __name__ == "__main__":
    main()
