"""CFD: how much Re the images carry with and without jax-cfd's spectral filter.

    .venv/bin/python benchmarks/cfd_closure.py [--n-images 500] [--cache DIR]

Simulates the same images (the default config's first ``n_images`` Re and seeds) once
with ``filter: true`` and once with ``filter: false``, computes physfeat2 on both and
scores an RBF SVR by 5-fold cross-validation over a small grid of C and epsilon (two fold
seeds). The lower CV RMSE is the setting whose images tell Re apart better. One core;
about 1.2 s per image and setting. ``--cache DIR`` keeps the images (npz) for a re-run.
Ends with one JSON line.
"""

import argparse
import dataclasses
import json
import os
from pathlib import Path

GRID = {"C": [30.0, 100.0, 300.0, 1000.0, 3000.0], "epsilon": [0.003, 0.03], "gamma": ["scale"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-images", type=int, default=500)
    ap.add_argument("--fold-seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--cache", type=Path, default=None)
    args = ap.parse_args()
    os.environ["JAX_PLATFORMS"] = "cpu"
    os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

    import time

    import numpy as np

    from microprop.cfd import CFDParams, simulate_shard
    from microprop.features import FEATURES
    from microprop.models.svr import grid_svr

    out = {"n_images": args.n_images, "grid_x_label_std": GRID, "settings": {}}
    for use_filter in (True, False):
        name = f"filter_{int(use_filter)}"
        cached = args.cache / f"{name}_{args.n_images}.npz" if args.cache else None
        t0 = time.perf_counter()
        if cached and cached.exists():
            with np.load(cached) as f:
                images, re = f["images"], f["label"]
        else:
            shard = simulate_shard(
                0, args.n_images, dataclasses.replace(CFDParams(), filter=use_filter)
            )
            images, re = shard["images"], shard["label"]
            if cached:
                cached.parent.mkdir(parents=True, exist_ok=True)
                np.savez(cached, images=images, label=re)
        seconds = time.perf_counter() - t0
        X = FEATURES["physfeat2"]().fit_transform(images).reshape(len(images), -1)
        cv = [float(grid_svr(X, re, GRID, seed=s)[1]["best_cv_rmse"]) for s in args.fold_seeds]
        r2 = [float(1.0 - r**2 / re.var()) for r in cv]
        out["settings"][name] = {
            "cv_rmse": [round(r, 2) for r in cv],
            "cv_r2": [round(r, 3) for r in r2],
            "simulation_seconds": round(seconds, 1),
        }
        rmse, r2 = np.round(cv, 1).tolist(), np.round(r2, 3).tolist()
        print(f"filter {use_filter}: physfeat2-svr CV RMSE {rmse}, R² {r2}", flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
