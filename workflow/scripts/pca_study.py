"""Rule pca_study: the cnnpca-svr pipeline with its first k principal components, per k."""

import json
from pathlib import Path

from microprop.io import atomic_path, load_features
from microprop.logs import setup_logging
from microprop.studies import pca_study

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

hyper = json.loads(Path(sm.input.model).read_text())["hyperparameters"]
log.info("cnnpca-svr hyperparameters reused for every k: %s", hyper)
scree, scores, predictions = pca_study(
    load_features(sm.input.embedding),
    sm.params.components,
    hyper,
    seed=sm.params.seed,
    max_train=sm.params.max_train,
)
for frame, path in ((scree, sm.output.scree), (scores, sm.output.scores)):
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
with atomic_path(sm.output.predictions) as tmp:
    predictions.to_csv(tmp, index=False)
log.info("PCA study of %s:\n%s", sm.wildcards.dataset, scores.to_string())
