"""SVR fit time on a feature file: libsvm's kernel cache and epsilon against label noise.

    .venv/bin/python benchmarks/svr_fit.py results/features/ising/physfeat2.h5 \
        [--n 8000] [--cache 100 2000] [--C 100] [--gamma 0.015625] [--epsilon 0.12 8]

Fits :class:`microprop.models.SVRegressor` (standardized inputs, float64 C-contiguous,
as the training rule does) on a seeded subset of ``--n`` training images for each kernel
cache size (MB) and each epsilon, and prints the fit seconds, the number of support
vectors and the share of training samples outside the epsilon-tube. A kernel row of n
samples takes 8 n bytes: the cache holds cache / (8 n) of the n rows. Ends with one JSON
line of the figures.
"""

import argparse
import json
import time

import numpy as np

from microprop.io import load_features
from microprop.models import SVRegressor, training_subset


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("features")
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--cache", type=float, nargs="+", default=[100.0, 2000.0])
    ap.add_argument("--C", type=float, default=100.0)
    ap.add_argument("--gamma", type=float, default=1 / 64)
    ap.add_argument("--epsilon", type=float, nargs="+", default=[0.12])
    args = ap.parse_args()
    ds = load_features(args.features)
    train = ds.train_idx
    if args.n < len(train):
        train = training_subset(train, args.n / len(train), 0)
    X = ds.images.reshape(len(ds), -1)[train]
    y = ds.property[train]
    rows = []
    for eps in args.epsilon:
        for cache in args.cache:
            model = SVRegressor(C=args.C, gamma=args.gamma, epsilon=eps, cache_size=cache)
            t0 = time.perf_counter()
            model.fit(X, y)
            seconds = time.perf_counter() - t0
            outside = float(np.mean(np.abs(model.predict(X) - y) > eps))
            row = {
                "n": int(len(y)),
                "epsilon": eps,
                "cache_mb": cache,
                "cached_rows_share": min(1.0, cache * 2**20 / (8.0 * len(y) ** 2)),
                "fit_s": seconds,
                "n_support": int(len(model.dual_coef_)),
                "outside_tube": outside,
            }
            rows.append(row)
            print(
                f"n={row['n']} epsilon={eps:g} cache={cache:g} MB "
                f"(holds {100 * row['cached_rows_share']:.0f}% of the kernel rows): "
                f"fit {seconds:.1f} s, {row['n_support']} support vectors, "
                f"{100 * outside:.0f}% of the samples outside the tube",
                flush=True,
            )
    print(json.dumps({"C": args.C, "gamma": args.gamma, "runs": rows}))


if __name__ == "__main__":
    main()
