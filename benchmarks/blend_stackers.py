"""How much a stacker beyond the blend's linear weights could gain (issue 47): out-of-fold
RMSE on the rows where physfeat2-svr and resnet18 both predicted held out (their
calibration sets; training images only, no test image is read).

    PYTHONPATH=src .venv/bin/python benchmarks/blend_stackers.py [--results results]

Compares each member alone, the blend's non-negative linear weights
(:mod:`microprop.models.blend`), linear weights per third of the members' mean
prediction, and gradient-boosted trees on the two predictions, with and without the
image's energy and |m| (:func:`microprop.floor.ising_observables`), all in the same
5-fold split; prints the correlation of the two members' errors. Ends with one JSON line.
"""

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import KFold, cross_val_predict

from microprop.floor import ising_observables
from microprop.io import load_dataset
from microprop.models.blend import Blend, common_rows, member_calibration

MEMBERS = ("physfeat2-svr", "resnet18")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default="results", type=Path)
    args = parser.parse_args()
    folders = [args.results / "models/ising" / m / "frac1.0/seed0" for m in MEMBERS]
    rows, y, P = common_rows([member_calibration(f) for f in folders])
    energy, magnetization = ising_observables(
        load_dataset(args.results / "data/ising.h5").images[rows]
    )
    folds = list(KFold(5, shuffle=True, random_state=0).split(P))

    def rmse(pred):
        return float(np.sqrt(np.mean((pred - y) ** 2)))

    def linear(third=None):
        pred = np.empty(len(y))
        for fit, held in folds:
            for t in np.unique(third) if third is not None else [None]:
                f = fit if t is None else fit[third[fit] == t]
                h = held if t is None else held[third[held] == t]
                pred[h] = Blend().fit(P[f], y[f]).predict(P[h])
        return pred

    def trees(X):
        model = HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05, random_state=0)
        return cross_val_predict(model, X, y, cv=folds)

    third = np.clip((P.mean(axis=1) // 85).astype(int), 0, 2)
    out = {
        "n_rows": int(len(y)),
        "error_correlation": float(np.corrcoef(P[:, 0] - y, P[:, 1] - y)[0, 1]),
        "rmse": {
            **{m: rmse(P[:, i]) for i, m in enumerate(MEMBERS)},
            "linear blend": rmse(linear()),
            "linear blend per third": rmse(linear(third)),
            "trees on the predictions": rmse(trees(P)),
            "trees on the predictions, E, |m|": rmse(
                trees(np.column_stack([P, energy, magnetization]))
            ),
        },
    }
    print(
        f"{out['n_rows']} rows; correlation of the members' errors {out['error_correlation']:.3f}"
    )
    for name, value in out["rmse"].items():
        print(f"| {name} | {value:.3f} |")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
