"""Rule train_svr: RBF support vector regression on one feature set.

Hyperparameters (``params.method``): "tpe" (physfeat2-svr, TPE search over Table B.3's
space), "grid" (k-fold CV over a small grid) or "fixed" (config values), always on the
training subset only. cnnpca-svr reads the ResNet18 embedding and fits its PCA inside
the model, on the same training subset; so does twopoint-svr on the two-point
autocorrelations. Every search point goes to ``trials.csv``.
Conformal prediction intervals: ``params.calibration`` (microprop.uncertainty).
"""

import pandas as pd

from microprop.io import atomic_path, load_features, part1_steps, run_steps
from microprop.logs import setup_logging
from microprop.models import SVRegressor, fit_evaluate, training_subset
from microprop.models.run import feature_record, write_model_outputs
from microprop.models.svr import choose_hyperparameters

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])
w = sm.wildcards
p = sm.params
frac, seed = float(w.frac), int(w.seed)

features = load_features(sm.input.features)
options = dict(p.model_options)  # standardize, n_components, cache_size
train = training_subset(features.train_idx, frac, seed)
X = features.images.reshape(len(features), -1)[train]
y = features.property[train]
s = p.search_options
runs, steps = run_steps(sm.input.data)  # CH: run-grouped CV and calibration, test subset
groups = runs[train] if s["cv_by_run"] and runs is not None else None
hyper, search, method = choose_hyperparameters(
    p.method,
    X,
    y,
    p.hyperparameters,
    s,
    seed=seed,
    n_jobs=sm.resources.search_threads,
    groups=groups,
    **options,
)
model, metrics, table = fit_evaluate(
    SVRegressor(**hyper, **options),
    features,
    frac,
    seed,
    calibration=p.calibration,
    groups=runs if p.group_by_run else None,
    max_test=p.max_test,
    runs=runs,
    steps=steps,
    part1_steps=part1_steps(sm.input.data),  # CH: RMSE per step group
)
# TPE trials go to trials.csv only; the few grid points stay in metrics.json too
trials = (search.pop("trials", None) or search.get("points")) if search else None
metrics["n_trials"] = int(search["n_trials"]) if search else 0
if search:
    metrics["seconds"]["search"] = search["seconds"]
metrics["cv"] = {"chosen": hyper, **search} if search else None
metrics["threads"] = {"search_n_jobs": int(sm.resources.search_threads), "svr_fit": 1}
with atomic_path(sm.output.trials) as tmp:
    pd.DataFrame(trials or [{**hyper, "cv_rmse": float("nan")}]).to_csv(tmp, index=False)

# the options of the file the model read (cnnpca-svr: the embedding) and its own PCA
n_components = model.hyperparameters()["n_components"]
metrics.update(
    model=w.model,
    dataset=w.dataset,
    hyperparameters={**model.hyperparameters(), "method": method},
    features=feature_record(w.model, features.attrs, p.feature_seed, n_components),
)
log.info(
    "%s on %s: RMSE %.4g, R2 %.4f, %d support vectors of %d; %.0f%% intervals: coverage %.3f,"
    " mean width %.4g",
    w.model,
    w.dataset,
    metrics["rmse"],
    metrics["r2"],
    model.hyperparameters()["n_support"],
    metrics["n_train"],
    100 * p.calibration["level"],
    metrics["coverage"],
    metrics["mean_width"],
)
write_model_outputs(sm.output, model, metrics, table)
