"""twopoint-svr's point model on every training image, scored once on the test split.

    .venv/bin/python benchmarks/twopoint_final_fit.py
        [--features results/features/ising/twopoint.h5]
        [--C 22107.410589572526] [--epsilon 2.2107410589572525] [--gamma scale] [--components 5]

The full protocol of config/paper_ising_twopoint.yaml fits the point model on all 49,000
training images and then five more models for its cross-conformal intervals; the point
model alone is this fit (same class, options and values: the defaults are the values its
grid CV chose on training images, docs/twopoint.md), without the intervals. One core.
Ends with one JSON line: RMSE, MAE, R² on the test images, fit seconds, support vectors.
"""

import argparse
import json
import time

from microprop.io import TEST, TRAIN, load_features
from microprop.metrics import regression_metrics
from microprop.models import SVRegressor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--features", default="results/features/ising/twopoint.h5")
    ap.add_argument("--C", type=float, default=22107.410589572526)
    ap.add_argument("--epsilon", type=float, default=2.2107410589572525)
    ap.add_argument("--gamma", default="scale")
    ap.add_argument("--components", type=int, default=5)
    ap.add_argument("--cache-size", type=float, default=2000.0)
    args = ap.parse_args()

    f = load_features(args.features)
    X, y = f.images.reshape(len(f), -1), f.property
    train, test = f.split == TRAIN, f.split == TEST
    gamma = args.gamma if args.gamma in ("scale", "auto") else float(args.gamma)
    model = SVRegressor(
        C=args.C,
        epsilon=args.epsilon,
        gamma=gamma,
        standardize=False,
        n_components=args.components,
        cache_size=args.cache_size,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(X[train], y[train])
    fit = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}
    scores = regression_metrics(y[test], model.predict(X[test]))
    print(f"{int(train.sum())} training, {int(test.sum())} test images: {scores}")
    print(
        json.dumps(
            {
                "n_train": int(train.sum()),
                "n_test": int(test.sum()),
                "fit": fit,
                **{k: float(v) for k, v in scores.items()},
                "hyper": model.hyperparameters(),
            }
        )
    )


if __name__ == "__main__":
    main()
