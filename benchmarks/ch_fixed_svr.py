"""An SVR with fixed hyperparameters on a CH feature file, scored once on the test split,
with the RMSE of each step group (steps 1-9, 10-99, the rest of part 1, part 2).

    .venv/bin/python benchmarks/ch_fixed_svr.py
        [--features results/features/ch/physfeat2.h5] [--data results/data/ch.h5]
        [--C 100000] [--gamma 0.015625] [--epsilon 0.4]

The defaults are the paper's final physFeat2-SVR values for CH (Table B.3), so no value
is chosen here, on the test split or otherwise; the model is the training rule's
(:class:`microprop.models.SVRegressor` on standardized features) fitted on the dataset's
training split (``split == train``: with ``ch.max_train`` the capped draw). It is the
point model of Table 2's physfeat2-svr with the TPE search replaced by those values and
without the conformal intervals. One core. Ends with one JSON line.
"""

import argparse
import json
import time

from microprop.io import TEST, TRAIN, load_features, part1_steps, run_steps
from microprop.metrics import regression_metrics, rmse_by_step_group
from microprop.models import SVRegressor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--features", default="results/features/ch/physfeat2.h5")
    ap.add_argument("--data", default="results/data/ch.h5")
    ap.add_argument("--C", type=float, default=1.0e5)
    ap.add_argument("--gamma", default="0.015625")
    ap.add_argument("--epsilon", type=float, default=0.4)
    ap.add_argument("--cache-size", type=float, default=2000.0)
    args = ap.parse_args()

    f = load_features(args.features)
    X, y = f.images.reshape(len(f), -1), f.property
    train, test = f.split == TRAIN, f.split == TEST
    _, steps = run_steps(args.data)
    gamma = args.gamma if args.gamma in ("scale", "auto") else float(args.gamma)
    model = SVRegressor(C=args.C, epsilon=args.epsilon, gamma=gamma, cache_size=args.cache_size)
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(X[train], y[train])
    fit = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}
    pred = model.predict(X[test])
    scores = regression_metrics(y[test], pred)
    groups = rmse_by_step_group(y[test], pred, steps[test], part1_steps(args.data))
    print(f"{int(train.sum())} training, {int(test.sum())} test images: {scores}")
    for name, g in groups.items():
        print(f"  {name}: RMSE {g['rmse']:.2f} ({g['n_test']} images)")
    print(
        json.dumps(
            {
                "features": args.features,
                "n_train": int(train.sum()),
                "fit": fit,
                **{k: float(v) for k, v in scores.items()},
                "rmse_by_step_group": groups,
                "hyper": model.hyperparameters(),
            }
        )
    )


if __name__ == "__main__":
    main()
