"""physfeat2: which PSD ring layout tells the property apart better, by CV on training data.

    .venv/bin/python benchmarks/physfeat2_rings.py --dataset ising \
        [--C 30 100 300] [--epsilon 0.12] [--max-samples 5000]

The paper's physFeat2 is "a one-dimensional array of 32 values" per PSD; two ring layouts
give that (``microprop.features.psd``): ``inscribed`` (rings of width 1 up to the Nyquist
circle, the corner modes left out) and ``full`` (32 equal-width bins over the whole
spectrum). For each layout this computes physfeat2 of the dataset's training images
(``results/data/{dataset}.h5``; test images are never read into a fit or a score) and
scores physfeat2-svr (standardized inputs, gamma 'scale') by k-fold CV over the given C
values with :func:`microprop.models.svr.grid_svr`, on at most ``max_samples`` training
images; CH's folds leave whole runs out, as in the workflow. One core. Ends with one
JSON line: the CV RMSE per layout and C, and the best per layout.
"""

import argparse
import json
import time

from microprop.features import PSDStack
from microprop.features.psd import SPECTRA
from microprop.io import TRAIN, load_dataset
from microprop.models.svr import grid_svr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dataset", default="ising", choices=["ising", "ch", "cfd"])
    ap.add_argument("--C", type=float, nargs="+", default=[30.0, 100.0, 300.0])
    ap.add_argument("--epsilon", type=float, default=0.12)  # the paper's Ising value
    ap.add_argument("--max-samples", type=int, default=5000)
    ap.add_argument("--cv-folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    ds = load_dataset(f"results/data/{args.dataset}.h5")
    train = ds.split == TRAIN
    images, y = ds.images[train], ds.property[train]
    groups = ds.extra["run"][train] if args.dataset == "ch" else None
    grid = {"C": args.C, "epsilon": [args.epsilon], "gamma": ["scale"]}
    out = {"dataset": args.dataset, "n_train": int(train.sum()), "grid": grid, "layouts": {}}
    for spectrum in SPECTRA:
        t0 = time.perf_counter()
        X = PSDStack(spectrum=spectrum).fit_transform(images).reshape(len(images), -1)
        best, info = grid_svr(
            X,
            y,
            grid,
            seed=args.seed,
            cv_folds=args.cv_folds,
            max_samples=args.max_samples,
            relative=False,
            groups=groups,
        )
        points = {f"{p['C']:g}": round(p["cv_rmse"], 3) for p in info["points"]}
        out["layouts"][spectrum] = {
            "cv_rmse_by_C": points,
            "best_C": best["C"],
            "best_cv_rmse": round(info["best_cv_rmse"], 3),
            "cv_folds": info["cv_folds"],
            "n_samples": info["n_samples"],
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(f"{spectrum}: CV RMSE by C {points}", flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
