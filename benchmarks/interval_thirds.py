"""Adaptive intervals against a constant width with the same coverage, per third of the labels.

    .venv/bin/python benchmarks/interval_thirds.py results/models/ising/grad-svr/frac1.0/seed0 ...

The uncertainty table compares the adaptive intervals with the one constant width
calibrated on the whole training split; around Tc that constant interval covers almost
every image and at low T too few, so "narrower" there mixes width with coverage. This
asks the question at equal coverage: for each third of the label range (low / mid /
high, the table's ``thirds`` of 0..255 unless ``--edges``), the adaptive intervals'
coverage c and mean width on the test images of that third, and the width a single
constant interval would need to cover the same share c of that third's images (twice
the c-quantile of |true - predicted| there, an evaluation on the test residuals, not a
calibration). A ratio below 1 is what adaptivity buys inside the third.

``ceiling`` estimates the most any interval that depends on the prediction alone could
buy there: the third's test images are grouped by prediction (bins of ``--bin-width``
label units), each bin gets the interval [y-hat + a, y-hat + b] whose offsets are the
shortest window holding the share c of that bin's test residuals y - y-hat
(:func:`microprop.uncertainty.shortest_window`; asymmetric, a per-bin quantile interval),
and the mean width of those is divided by the same constant width. It is an oracle fitted
on the test labels, and optimistic (the window of a few dozen residuals is shorter than
that of their distribution, more so for narrower bins): a ratio above 0.75 says that no
prediction-conditional interval, adaptive or quantile, can be 25 % narrower than the
constant one in that third.

``binned`` is the workflow's real method of that kind, for comparison: the ``binned``
score (:class:`microprop.uncertainty.BinnedConformal`, split conformal per bin of equal
count of the prediction, lower and upper quantiles of the signed residuals), recomputed
from the model's own calibration pairs in ``conformal.npz`` (no test label); its ratio
is taken against the constant width at its own coverage in the third.

Reads each model directory's ``predictions.csv`` (columns true, predicted, lower, upper;
weights if present); coverage and width per third are
:func:`microprop.uncertainty.interval_summary`'s. Ends with one JSON line.
"""

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--edges", type=float, nargs=4, default=[0.0, 85.0, 170.0, 255.0])
    ap.add_argument("--bin-width", type=float, default=10.0, help="prediction bins of the ceiling")
    args = ap.parse_args()
    from microprop.uncertainty import (
        THIRDS,
        Conformal,
        constant_width,
        interval_summary,
        shortest_window,
        third_index,
    )

    out = {"edges": args.edges, "models": {}}
    for d in args.models:
        t = pd.read_csv(d / "predictions.csv")
        w = t["weight"].to_numpy() if "weight" in t else np.ones(len(t))
        y, p = t["true"].to_numpy(), t["predicted"].to_numpy()
        summary = interval_summary(y, t["lower"], t["upper"], args.edges, weights=w)
        binned_bounds = Conformal.load(d / "conformal.npz").intervals(p, score="binned")
        binned = interval_summary(y, *binned_bounds, args.edges, w)
        third = third_index(y, args.edges)  # the thirds interval_summary averages over
        rows = {}
        for i, name in enumerate(THIRDS):
            k = third == i
            r, wk = (y - p)[k], w[k]  # this third's test residuals and weights
            cov, adaptive = summary[f"coverage_{name}"], summary[f"width_{name}"]
            if not cov:  # an empty third, or intervals that miss all of it (CH's test runs)
                rows[name] = {"n": int(k.sum()), "coverage": cov, "ratio": None}
                print(f"{d}: {name} {rows[name]}", flush=True)
                continue
            constant = constant_width(r, cov, wk)
            # the ceiling: per prediction bin, the shortest window of its own test residuals
            bins = np.floor(p[k] / args.bin_width)
            oracle = 0.0
            for b in np.unique(bins):
                lo, hi = shortest_window(r[bins == b], cov, wk[bins == b])
                oracle += wk[bins == b].sum() * (hi - lo) / wk.sum()
            cov_binned = binned[f"coverage_{name}"]
            constant_binned = constant_width(r, cov_binned, wk)
            rows[name] = {
                "n": int(k.sum()),
                "coverage": round(cov, 3),
                "adaptive_width": round(adaptive, 2),
                "constant_width_same_coverage": round(constant, 2),
                "ratio": round(adaptive / constant, 3),
                "ceiling": round(float(oracle / constant), 3),
                "binned_coverage": round(cov_binned, 3),
                "binned_ratio": round(binned[f"width_{name}"] / constant_binned, 3)
                if cov_binned
                else None,
            }
            print(f"{d}: {name} {rows[name]}", flush=True)
        out["models"][str(d)] = rows
    print(json.dumps(out))


if __name__ == "__main__":
    main()
