"""Rule train_svr: RBF support vector regression on one feature set (TPE search for physfeat2)."""

import numpy as np

from microprop.features import fit_pca
from microprop.io import load_features
from microprop.logs import setup_logging
from microprop.models import SVRegressor, fit_evaluate, training_subset
from microprop.models.run import feature_record, write_model_outputs
from microprop.models.svr import tune_svr

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])
w = sm.wildcards
p = sm.params
frac, seed = float(w.frac), int(w.seed)

features = load_features(sm.input.features)
hyper = dict(p.hyperparameters)
search = None
if p.search:
    s = p.search_options
    train = training_subset(features.train_idx, frac, seed)
    X = features.images.reshape(len(features), -1)[train]
    log.info(
        "TPE search: %d trials, %d-fold CV on %d training samples",
        s["n_trials"],
        s["cv_folds"],
        len(train),
    )
    hyper, search = tune_svr(
        X,
        features.property[train],
        n_trials=s["n_trials"],
        seed=seed,
        C_range=s["C_range"],
        gamma_range=s["gamma_range"],
        epsilon_range=s["epsilon_range"],
        cv_folds=s["cv_folds"],
        max_samples=s["max_samples"],
        max_iter=s["max_iter"],
        n_jobs=sm.threads,
    )
    log.info("TPE search chose %s (CV RMSE %.4g)", hyper, search["best_cv_rmse"])
model, metrics, table = fit_evaluate(
    SVRegressor(C=hyper["C"], gamma=hyper["gamma"], epsilon=hyper["epsilon"]),
    features,
    frac,
    seed,
)
if search:
    metrics["seconds"]["search"] = search["seconds"]

extra, embed_attrs = {}, None
if "embedding" in sm.input.keys():  # cnnpca: keep the PCA so predict can featurize images
    emb = load_features(sm.input.embedding)
    embed_attrs = emb.attrs
    pca = fit_pca(emb.images, emb.split, int(features.attrs["n_components"]), seed=p.feature_seed)
    again = pca.transform(emb.images)
    if not np.allclose(again, features.images, rtol=1e-4, atol=1e-4 * np.abs(again).max()):
        raise RuntimeError("refitted PCA does not reproduce the cnnpca feature file")
    extra = {"pca_components": pca.components_, "pca_mean": pca.mean_}

metrics.update(
    model=w.model,
    dataset=w.dataset,
    hyperparameters={**model.hyperparameters(), "search": search},
    features=feature_record(w.model, features.attrs, embed_attrs, seed=p.feature_seed),
)
log.info("%s on %s: RMSE %.4g, R2 %.4f", w.model, w.dataset, metrics["rmse"], metrics["r2"])
write_model_outputs(sm.output, model, metrics, table, extra)
