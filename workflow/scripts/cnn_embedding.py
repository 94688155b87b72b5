"""Rule cnn_embedding: 512-value ResNet18 embedding of every image (the input of cnnpca)."""

import time

import torch

from microprop.features import ResNetEmbedding
from microprop.io import load_dataset, write_features
from microprop.logs import setup_logging

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])
torch.set_num_threads(sm.threads)

ds = load_dataset(sm.input.data)
embedder = ResNetEmbedding(
    weights=sm.params.weights,
    batch_size=sm.params.batch_size,
    device=sm.resources.device,
    image_size=sm.params.image_size,
    seed=sm.params.seed,
    download=sm.params.download,
    weights_fallback=sm.params.weights_fallback,
).fit()
log.info(
    "ResNet18 (%s weights) on %s, %d threads", embedder.weights_used_, embedder.device_, sm.threads
)
t0 = time.perf_counter()
embedding = embedder.transform(ds.images)
seconds = time.perf_counter() - t0
log.info(
    "%d images -> %s in %.2f s (%.0f images/s)",
    len(ds),
    embedding.shape,
    seconds,
    len(ds) / max(seconds, 1e-9),
)
write_features(
    sm.output.embedding,
    embedding,
    ds,
    {
        "feature": "cnnembed",
        # the weights used (cnnpca-svr's record, and `microprop predict` recomputes with
        # them): "random" where the ImageNet ones were unavailable, the reason beside
        "weights": embedder.weights_used_,
        "weights_requested": sm.params.weights,
        "weights_fallback": embedder.weights_fallback_ or "",
        "device": embedder.device_,
        "image_size": sm.params.image_size,
        "seconds": seconds,
    },
)
