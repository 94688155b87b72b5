"""CH: do run-grouped CV folds choose SVR hyperparameters that carry over to a new run?

    .venv/bin/python benchmarks/ch_cv_folds.py [--features latent physfeat2] [--n-labels 120]

Uses the training runs of the default CH data only (``results/data/ch.h5`` and
``results/features/ch/{feature}.h5``; no test image is read). Each training run is held
out in turn; from the other runs ``--n-labels`` images are drawn at random
(``--subsets`` seeds), the SVR's hyperparameters are chosen by the default grid CV
(:func:`microprop.models.svr.grid_svr`, config ``models.svr.grid``) once with shuffled
5-fold CV and once with folds that leave whole runs out (``groups``), and the refit model
is scored on every image of the held-out run. The lower mean RMSE is the fold rule whose
choice carries over to an unseen run, which is what the test split (two held-out runs)
measures. One core, about 15 seconds per feature set. Ends with one JSON line.
"""

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--results", type=Path, default=Path("results"))
    ap.add_argument("--features", nargs="+", default=["latent", "physfeat2"])
    ap.add_argument("--n-labels", type=int, default=120)  # 1% of the default training split
    ap.add_argument("--subsets", type=int, default=5)
    args = ap.parse_args()

    import yaml

    from microprop.io import load_features, run_steps
    from microprop.metrics import regression_metrics
    from microprop.models import SVRegressor
    from microprop.models.svr import grid_svr

    svr = yaml.safe_load(Path("config/config.yaml").read_text())["models"]["svr"]
    runs, _ = run_steps(args.results / "data" / "ch.h5")
    out = {"n_labels": args.n_labels, "subsets": args.subsets, "grid": svr["grid"], "rmse": {}}
    for feature in args.features:
        f = load_features(args.results / "features" / "ch" / f"{feature}.h5")
        X = f.images.reshape(len(f), -1).astype(np.float64)
        train = f.train_idx
        scores = {"shuffled": [], "runs": []}
        for held in np.unique(runs[train]):
            pool, target = train[runs[train] != held], train[runs[train] == held]
            for seed in range(args.subsets):
                sub = np.sort(np.random.default_rng([seed, 1]).permutation(pool)[: args.n_labels])
                for rule, groups in (("shuffled", None), ("runs", runs[sub])):
                    best, _ = grid_svr(
                        X[sub], f.property[sub], svr["grid"], seed=seed, groups=groups
                    )
                    model = SVRegressor(**best).fit(X[sub], f.property[sub])
                    pred = model.predict(X[target])
                    scores[rule].append(regression_metrics(f.property[target], pred)["rmse"])
        out["rmse"][feature] = {
            rule: {"mean": round(float(np.mean(v)), 1), "sd": round(float(np.std(v)), 1)}
            for rule, v in scores.items()
        }
        print(feature, out["rmse"][feature], flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
