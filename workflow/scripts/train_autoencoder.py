"""Rule autoencoder: the periodic autoencoder on the training images (labels unused),
the raw codes of every image (latent_codes.h5, the latent space), the feature set
`latent` (latent.h5: the codes pooled to invariant features, or the raw codes) and the
test reconstruction error."""

import time

import torch

from microprop.features.latent import (
    encode,
    latent_features,
    reconstruction_rmse,
    save_autoencoder,
    train_autoencoder,
)
from microprop.io import atomic_path, load_dataset, run_steps, strict_json, write_features
from microprop.logs import setup_logging
from microprop.models import capped_subset

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])
torch.set_num_threads(sm.threads)
options = dict(sm.params.options)
pooling = dict(sm.params.pooling)
max_train, seed = options.pop("max_train"), sm.params.seed
val_by_run = options.pop("val_by_run")

ds = load_dataset(sm.input.data)
train = capped_subset(ds.train_idx, max_train, seed)
log.info(
    "autoencoder %s on %d of %d training images (labels unused)",
    options,
    len(train),
    len(ds.train_idx),
)
runs, _ = run_steps(sm.input.data)
groups = runs[train] if val_by_run and runs is not None else None  # CH: whole runs
t0 = time.perf_counter()
ae, history = train_autoencoder(ds.images[train], seed=seed, groups=groups, **options)
if history["val_groups"]:
    log.info("validation part: training runs %s", history["val_groups"])
codes = encode(ae, ds.images)
seconds = time.perf_counter() - t0
t1 = time.perf_counter()
features = latent_features(ae, ds.images, **pooling)  # pooling none: the codes again
pooling_seconds = time.perf_counter() - t1
log.info("latent features (pooling %s): %.0f s", pooling, pooling_seconds)
rmse = {
    "train": reconstruction_rmse(ae, ds.images[train]),
    "test": reconstruction_rmse(ae, ds.images[ds.test_idx]),
}
log.info(
    "reconstruction RMSE (pixel values in [0, 1]): training images %.4f, test split %.4f;"
    " %d epochs (best %d), %.0f s",
    rmse["train"],
    rmse["test"],
    history["epochs"],
    history["best_epoch"],
    seconds,
)
summary = {
    "dataset": sm.wildcards.dataset,
    "options": {**options, "val_by_run": val_by_run},
    "seed": seed,
    "n_train": len(train),
    "reconstruction_rmse": rmse,
    "seconds": seconds,
    "pooling": pooling,
    "pooling_seconds": pooling_seconds,
    "threads": sm.threads,
    **history,
}
with atomic_path(sm.output.model) as tmp:
    save_autoencoder(ae, tmp)
attrs = {
    "feature": "latent",
    "options": {**options, "max_train": max_train, "val_by_run": val_by_run, "seed": seed},
    "seconds": seconds,
    "reconstruction_rmse_test": rmse["test"],
    "fitted_on": "train",
    "autoencoder": sm.output.model,  # latent-svr predicts from images with it
}
write_features(sm.output.codes, codes, ds, {**attrs, "pooling": "none"})
attrs["options"] = {**attrs["options"], **pooling}  # latent_features() options
write_features(sm.output.features, features, ds, {**attrs, "seconds": seconds + pooling_seconds})
with atomic_path(sm.output.summary) as tmp:
    tmp.write_text(strict_json(summary))
