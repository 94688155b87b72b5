"""twopoint-svr: correlation length and PCA components chosen by CV on training images.

    .venv/bin/python benchmarks/twopoint_cv.py --dataset ising \
        [--cutoffs 4 8 12 16 24] [--components 5 10 20 40] [--C 3 30 300] \
        [--epsilon 0.03] [--gamma scale auto] [--max-samples 5000]

For each cutoff (largest lag kept, ``features.twopoint.cutoff``) and number of principal
components (``features.twopoint.n_components``) this scores the twopoint-svr pipeline
(:class:`microprop.models.svr.SVRegressor` with its PCA fitted inside every CV fold on
that fold's training part, components unscaled) by k-fold CV over a grid of C, epsilon
(multiples of the training labels' standard deviation, as ``models.svr.grid``) and gamma
with :func:`microprop.models.svr.grid_svr`, on at most ``max-samples`` training images of
``results/data/{dataset}.h5``. Test images are never read into a fit or a score. The
autocorrelations are computed once at the largest cutoff and cropped (exact: a smaller
cutoff is the central part of the window). CH's folds leave whole runs out, as in the
workflow. One core. Ends with one JSON line: the best CV RMSE per (cutoff, components)
with the C, epsilon, gamma that reached it, and the overall best.
"""

import argparse
import json
import time

import numpy as np

from microprop.features import TwoPointStats
from microprop.io import TRAIN, load_dataset
from microprop.models.svr import _subsample, grid_svr

FIELD = {"ising": "spin", "ch": "state", "cfd": "vorticity"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dataset", default="ising", choices=["ising", "ch", "cfd"])
    ap.add_argument("--cutoffs", type=int, nargs="+", default=[4, 8, 12, 16, 24])
    ap.add_argument("--components", type=int, nargs="+", default=[5, 10, 20, 40])
    ap.add_argument("--C", type=float, nargs="+", default=[3.0, 30.0, 300.0])
    ap.add_argument("--epsilon", type=float, nargs="+", default=[0.03])
    ap.add_argument("--gamma", nargs="+", default=["scale", "auto"])
    ap.add_argument("--max-samples", type=int, default=5000)
    ap.add_argument("--cv-folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    ds = load_dataset(f"results/data/{args.dataset}.h5")
    train = ds.split == TRAIN
    images, y = ds.images[train], ds.property[train]
    groups = ds.extra["run"][train] if args.dataset == "ch" else None
    label_std = float(y.std())  # grid_svr's relative unit: every training label
    # the subset grid_svr would draw (same seed): features only for those images
    rows = np.arange(len(y))
    rows, _, _ = _subsample(rows[:, None], y, args.max_samples, args.seed)
    rows = rows[:, 0]
    images, y = images[rows], y[rows]
    groups = None if groups is None else groups[rows]
    big = max(args.cutoffs)
    t0 = time.perf_counter()
    full = TwoPointStats(cutoff=big, field=FIELD[args.dataset]).fit_transform(images)
    print(f"{len(images)} training images, autocorrelations in {time.perf_counter() - t0:.1f} s")
    grid = {"C": args.C, "epsilon": args.epsilon, "gamma": args.gamma}
    out = {
        "dataset": args.dataset,
        "n_train": int(train.sum()),
        "n_samples": len(y),
        "label_std": label_std,
        "grid_relative": grid,
        "results": [],
    }
    for cutoff in args.cutoffs:
        c = big - cutoff
        X = full[:, c : full.shape[1] - c, c : full.shape[2] - c].reshape(len(y), -1)
        # components beyond the (2 cutoff + 1)^2 lags are the same fit: scored once
        for k in sorted({min(k, X.shape[1]) for k in args.components}):
            t0 = time.perf_counter()
            best, info = grid_svr(
                X,
                y,
                {
                    **grid,
                    "C": [v * label_std for v in args.C],
                    "epsilon": [v * label_std for v in args.epsilon],
                },  # fmt: skip
                seed=args.seed,
                cv_folds=args.cv_folds,
                relative=False,
                groups=groups,
                standardize=False,
                n_components=k,
            )
            row = {
                "cutoff": cutoff,
                "n_components": k,
                "best_cv_rmse": round(info["best_cv_rmse"], 3),
                "C_std": round(best["C"] / label_std, 4),
                "epsilon_std": round(best["epsilon"] / label_std, 4),
                "gamma": best["gamma"],
                "points": [
                    {
                        "C_std": round(p["C"] / label_std, 4),
                        "epsilon_std": round(p["epsilon"] / label_std, 4),
                        "gamma": p["gamma"],
                        "cv_rmse": round(p["cv_rmse"], 3),
                    }
                    for p in info["points"]
                ],
                "seconds": round(time.perf_counter() - t0, 1),
            }
            out["results"].append(row)
            print(
                f"cutoff {cutoff:2d}, {k:3d} components: best CV RMSE {row['best_cv_rmse']} "
                f"(C {row['C_std']} std, epsilon {row['epsilon_std']} std, gamma {row['gamma']}; "
                f"{row['seconds']} s)",
                flush=True,
            )
    best = min(out["results"], key=lambda r: r["best_cv_rmse"])
    out["best"] = {k: best[k] for k in ("cutoff", "n_components", "best_cv_rmse", "C_std",
                                         "epsilon_std", "gamma")}  # fmt: skip
    print(json.dumps(out))


if __name__ == "__main__":
    main()
