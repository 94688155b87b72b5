"""Measure the issue's criteria (a)-(e) on one whole Cahn-Hilliard run.

    .venv/bin/python benchmarks/ch_criteria.py [--config config/config.yaml] [--run 0]
        [--set mobility=10 ...]

Runs the full protocol with the ``ch:`` parameters of the config (a few minutes), prints
the criteria and ends with one JSON line of them (see microprop.cahn_hilliard.criteria).
"""

import argparse
import json
import logging
import time
from pathlib import Path

import yaml

from microprop.cahn_hilliard import CHParams, criteria, simulate_run

WORKFLOW_KEYS = ("n_runs", "n_test_runs", "figure_run", "solver", "progress_every")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    ap.add_argument("--run", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", nargs="*", default=[], help="override: key=value (YAML value)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cfg = yaml.safe_load(args.config.read_text()).get("ch", {})
    for kv in args.set:
        k, v = kv.split("=", 1)
        cfg[k] = yaml.safe_load(v)
    p = CHParams.from_dict({k: v for k, v in cfg.items() if k not in WORKFLOW_KEYS})
    t0 = time.perf_counter()
    out = simulate_run(p, args.seed, args.run, progress_every=60)
    c = criteria(out, p)
    c["wall_s"] = time.perf_counter() - t0
    for k, v in c.items():
        print(f"  {k}: {v}")
    print(json.dumps(c))


if __name__ == "__main__":
    main()
