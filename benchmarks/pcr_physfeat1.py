"""physfeat1-pcr: why the nearest-bin rule on the linear-scale PSD intercept fails at low
temperature, and what measuring the intercept on the double-log scale changes.

    .venv/bin/python benchmarks/pcr_physfeat1.py results/features/ising/physfeat1.h5 \
        [--low 60] [--plot pcr_physfeat1.png]

Fits :class:`microprop.models.PiecewiseConstantRegressor` (Delta = 1, the paper's
section 3.2.1) on the training split of a physfeat1 feature file, twice: features
(A, a) as the paper's back-transformed line P(k) = A k^a ("linear"), and (log10 A, a)
("log": the intercept b of the fitted line on the double-log scale). Prints the test RMSE,
the RMSE on test images with a true label below ``--low``, the three most frequent
predictions there (the "bands") with their share, and, for the low-temperature bins, the
spread of the per-bin mean features against the scatter inside a bin (both on the
model's [0, 1] scale). Ends with one JSON line of these figures.
"""

import argparse
import json

import numpy as np

from microprop.io import load_features
from microprop.metrics import regression_metrics
from microprop.models import PiecewiseConstantRegressor


def analyse(model, X, y, train, test, low):
    model.fit(X[train], y[train])
    pred = model.predict(X[test])
    lo = y[test] < low
    values, counts = np.unique(pred[lo], return_counts=True)
    top = np.argsort(-counts)[:3]
    bins_low = model.bin_values_ < low
    Z = model._scale(model._transform(X[train]))
    inside = [Z[y[train] == v].std(axis=0) for v in model.bin_values_[bins_low]]
    return pred, {
        "rmse": regression_metrics(y[test], pred)["rmse"],
        "rmse_low": regression_metrics(y[test][lo], pred[lo])["rmse"],
        "bands": [[float(values[i]), int(counts[i])] for i in top],
        "band_share": float(counts[top].sum() / max(lo.sum(), 1)),
        "bin_mean_spread_low": model.bin_features_[bins_low].std(axis=0).round(4).tolist(),
        "within_bin_scatter_low": np.mean(inside, axis=0).round(4).tolist(),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("features")
    ap.add_argument("--low", type=float, default=60.0)
    ap.add_argument("--plot", default="")
    args = ap.parse_args()
    ds = load_features(args.features)
    X, y = ds.images.reshape(len(ds), -1), ds.property
    results, preds = {}, {}
    for name, logs in (("linear", ()), ("log", (0,))):
        model = PiecewiseConstantRegressor(bin_width=1.0, log_features=logs)
        preds[name], results[name] = analyse(model, X, y, ds.train_idx, ds.test_idx, args.low)
        r = results[name]
        print(
            f"{name:6s} intercept: test RMSE {r['rmse']:.2f}, RMSE below label {args.low:g}: "
            f"{r['rmse_low']:.1f}; most frequent predictions there {r['bands']} "
            f"({100 * r['band_share']:.0f}% of them); low bins: spread of bin means "
            f"{r['bin_mean_spread_low']} vs scatter inside a bin {r['within_bin_scatter_low']}"
        )
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), sharey=True)
        for ax, name in zip(axes, ("linear", "log"), strict=True):
            ax.scatter(y[ds.test_idx], preds[name], s=4, alpha=0.5)
            ax.plot([0, 255], [0, 255], "k-", lw=0.8)
            ax.set_title(f"intercept {name}: RMSE {results[name]['rmse']:.2f}")
            ax.set_xlabel("true label")
        axes[0].set_ylabel("physfeat1-pcr prediction")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
    print(
        json.dumps({"n_train": int(len(ds.train_idx)), "n_test": int(len(ds.test_idx))} | results)
    )


if __name__ == "__main__":
    main()
