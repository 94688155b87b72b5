"""Rule features_cnnpca: PCA of the ResNet18 embedding, fitted on the training split only."""

import time

from microprop.features import fit_pca
from microprop.io import load_features, write_features
from microprop.logs import setup_logging

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

emb = load_features(sm.input.embedding)  # .images holds the (N, 512) embedding
t0 = time.perf_counter()
pca = fit_pca(emb.images, emb.split, sm.params.n_components, seed=sm.params.seed)
features = pca.transform(emb.images)
seconds = time.perf_counter() - t0
ratio = pca.explained_variance_ratio_
log.info(
    "PCA on %d training rows: %d components explain %.3f of the variance (%.2f s)",
    len(emb.train_idx),
    pca.n_components_,
    ratio.sum(),
    seconds,
)
write_features(
    sm.output.features,
    features,
    emb,
    {
        "feature": "cnnpca",
        "weights": emb.attrs.get("weights", ""),
        "n_components": int(pca.n_components_),
        "explained_variance_ratio": ratio,
        "fitted_on": "train",
        "seconds": seconds + float(emb.attrs.get("seconds", 0.0)),
        "pca_seconds": seconds,
    },
)
