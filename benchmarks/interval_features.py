"""Intervals that depend on the image's features, not on the prediction alone.

    .venv/bin/python benchmarks/interval_features.py results/features/ising/physfeat2.h5

The workflow's adaptive score scales the interval with the prediction ŷ (σ(ŷ), MAPIE's
``ResidualNormalisedScore`` on :class:`microprop.uncertainty.ResidualScale`), and
``benchmarks/interval_thirds.py`` bounds what any interval of that kind can gain inside a
third of the label range. This asks whether the features can do better, with two
feature-conditional scores on an SVR point model of those features (standardized, RBF,
C and epsilon in units of the training labels' standard deviation, the middle of the
workflow's CV grid by default):

``features`` (normalized residuals)
    |y - ŷ| / σ(x, ŷ): σ is a gradient-boosted regression (Poisson loss, so σ > 0) of the
    5-fold out-of-fold |y - ŷ| on the features and ŷ, fitted on half of the training
    images; the conformal quantile comes from the other half (MAPIE's
    ``ResidualNormalisedScore`` with a prefit residual model, as the workflow's adaptive
    score, with the features as its input).
``cqr`` (conformalized quantile regression)
    Gradient-boosted 5 %, 50 % and 95 % quantile regressions of y on the features, fitted
    on half of the training images and conformalized on the other half (MAPIE's
    ``ConformalizedQuantileRegressor``, Romano et al. 2019). Its interval is not centred
    on the SVR's prediction.

Beside them the workflow's ``constant`` and ``adaptive`` scores on the same out-of-fold
pairs. Each is compared, as in ``interval_thirds.py``, with the one constant width that
covers the same share of that third's test images (:func:`microprop.uncertainty.constant_width`
of the SVR's test residuals; an evaluation, not a calibration). Only training images fit
the point model, σ, the quantile models and the conformal quantiles. Ends with one JSON
line.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("features", type=Path, help="a features file (features, property, split)")
    ap.add_argument("--C", type=float, default=3.0, help="SVR C / std of the training labels")
    ap.add_argument("--epsilon", type=float, default=0.03, help="SVR epsilon / std of the labels")
    ap.add_argument("--level", type=float, default=0.9)
    ap.add_argument("--edges", type=float, nargs=4, default=[0.0, 85.0, 170.0, 255.0])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from mapie.conformity_scores import ResidualNormalisedScore
    from mapie.regression import ConformalizedQuantileRegressor, SplitConformalRegressor
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    from microprop.io import load_features
    from microprop.metrics import regression_metrics
    from microprop.uncertainty import (
        THIRDS,
        PredictionColumn,
        conformal_regressor,
        constant_width,
        interval_summary,
        out_of_fold,
        residual_split,
        third_index,
    )

    data = load_features(args.features)
    X, y = data.images.reshape(len(data), -1), data.property
    train, test = data.train_idx, data.test_idx
    sd = float(y[train].std())
    svr = make_pipeline(StandardScaler(), SVR(C=args.C * sd, epsilon=args.epsilon * sd))
    t0 = time.perf_counter()
    oof = out_of_fold(svr, X, y, train, folds=5, seed=args.seed)
    pred = svr.fit(X[train], y[train]).predict(X[test])
    print(
        f"SVR: 5 out-of-fold fits and the final fit in {time.perf_counter() - t0:.0f} s", flush=True
    )
    x_tr, y_tr, x_te, y_te = X[train], y[train], X[test], y[test]
    fit, cal = residual_split(len(train), 0.5, args.seed)

    def boosted(**kw):
        return HistGradientBoostingRegressor(
            max_iter=300, learning_rate=0.05, random_state=args.seed, **kw
        )

    bounds = {}
    for score in ("constant", "adaptive"):
        regressor = conformal_regressor(oof, y_tr, [args.level], score, seed=args.seed)
        bounds[score] = regressor.predict_interval(pred.reshape(-1, 1))[1][:, :, 0].T
    # features: column 0 is ŷ for PredictionColumn, every column is σ's input
    with_pred = np.column_stack([oof, x_tr])
    sigma = boosted(loss="poisson").fit(with_pred[fit], np.abs(y_tr - oof)[fit])
    regressor = SplitConformalRegressor(
        PredictionColumn().fit(with_pred),
        confidence_level=args.level,
        conformity_score=ResidualNormalisedScore(residual_estimator=sigma, prefit=True),
        prefit=True,
    ).conformalize(with_pred[cal], y_tr[cal])
    bounds["features"] = regressor.predict_interval(np.column_stack([pred, x_te]))[1][:, :, 0].T
    quantiles = [
        boosted(loss="quantile", quantile=q).fit(x_tr[fit], y_tr[fit]) for q in (0.05, 0.95, 0.5)
    ]
    cqr = ConformalizedQuantileRegressor(quantiles, confidence_level=args.level, prefit=True)
    bounds["cqr"] = cqr.conformalize(x_tr[cal], y_tr[cal]).predict_interval(x_te)[1][:, :, 0].T

    third = third_index(y_te, args.edges)
    rmse = regression_metrics(y_te, pred)["rmse"]
    out = {
        "features": str(args.features),
        "test_rmse": round(rmse, 3),
        "level": args.level,
        "scores": {},
    }
    print(f"test RMSE {rmse:.2f}; width / constant width of the same coverage (coverage):")
    for score, (lower, upper) in bounds.items():
        summary = interval_summary(y_te, lower, upper, args.edges)
        cov = summary["coverage"]
        row = {"coverage": round(cov, 3), "mean_width": round(summary["mean_width"], 2)}
        row["ratio"] = round(summary["mean_width"] / constant_width(y_te - pred, cov), 3)
        for i, name in enumerate(THIRDS):
            cov = summary[f"coverage_{name}"]
            same = constant_width((y_te - pred)[third == i], cov)
            row[name] = {
                "coverage": round(cov, 3),
                "ratio": round(summary[f"width_{name}"] / same, 3),
            }
        out["scores"][score] = row
        cells = " / ".join(f"{row[n]['ratio']:.2f} ({row[n]['coverage']:.3f})" for n in THIRDS)
        head = f"{score:9s} coverage {row['coverage']:.3f}, width {row['mean_width']:6.1f}"
        print(f"  {head}, ratio {row['ratio']:.2f}; per third {cells}", flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
