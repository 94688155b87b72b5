"""How well a test subset of ``studies.max_test`` images estimates the RMSE on the whole
test split: the stratified sample against an evenly spaced one of the same size.

    .venv/bin/python benchmarks/test_subset.py results/data/ch.h5 PRED.csv [PRED.csv ...] \
        [--max-test 500 250]

Each PRED.csv holds a model's predictions of every test image (``index``, ``true``,
``predicted``), e.g. from ``microprop predict --model DIR --images results/data/ch.h5
--split test --out PRED.csv``. For every file and subset size it prints the RMSE on all
test images and the relative error of the two estimates:
:func:`microprop.splits.evaluation_subset` with the dataset's run and step (stratified,
weighted) and without them (evenly spaced). Ends with one JSON line: per size, the largest
absolute relative error of each estimate over the files.
"""

import argparse
import json

import numpy as np
import pandas as pd

from microprop.io import load_dataset, run_steps
from microprop.metrics import regression_metrics
from microprop.models import evaluation_subset


def estimate(pred: pd.DataFrame, test_idx, max_test, runs=None, steps=None) -> float:
    idx, weights = evaluation_subset(test_idx, max_test, runs, steps)
    rows = pred.loc[idx]
    return regression_metrics(rows["true"], rows["predicted"], weights)["rmse"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset")
    ap.add_argument("predictions", nargs="+")
    ap.add_argument("--max-test", type=int, nargs="+", default=[500, 250])
    args = ap.parse_args()
    test_idx = load_dataset(args.dataset, images=False).test_idx
    runs, steps = run_steps(args.dataset)
    if runs is None:
        raise SystemExit(f"{args.dataset}: no run and step arrays, nothing to stratify")
    worst = {n: {"stratified": 0.0, "evenly_spaced": 0.0} for n in args.max_test}
    files = 0
    for path in args.predictions:
        pred = pd.read_csv(path).set_index("index")
        if not np.isin(test_idx, pred.index).all():
            print(f"{path}: skipped, it does not predict every test image")
            continue
        files += 1
        full = regression_metrics(pred.loc[test_idx, "true"], pred.loc[test_idx, "predicted"])
        line = f"{path}: RMSE all {full['rmse']:.2f}"
        for n in args.max_test:
            errors = {
                "stratified": estimate(pred, test_idx, n, runs, steps) / full["rmse"] - 1,
                "evenly_spaced": estimate(pred, test_idx, n) / full["rmse"] - 1,
            }
            for name, err in errors.items():
                worst[n][name] = max(worst[n][name], abs(err))
            line += f" | {n}: stratified {errors['stratified']:+.3f}"
            line += f", evenly spaced {errors['evenly_spaced']:+.3f}"
        print(line)
    result = {"files": files, "n_test": int(len(test_idx))}
    result["max_abs_relative_error"] = {
        str(n): {k: round(v, 4) for k, v in w.items()} for n, w in worst.items()
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
