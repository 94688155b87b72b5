"""Rule fig_latent: test images over their autoencoder reconstructions."""

import json

import numpy as np

from microprop.features.latent import decode, encode, load_autoencoder
from microprop.io import load_dataset
from microprop.logs import setup_logging
from microprop.plots import save_figure
from microprop.plots.latent import reconstruction_figure

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

ds = load_dataset(sm.input.data)
ae = load_autoencoder(sm.input.model)
summary = json.loads(open(sm.input.summary).read())
test = ds.test_idx
rows = test[np.linspace(0, len(test) - 1, sm.params.n_images).astype(int)]
images = ds.images[rows]
rec = decode(ae, encode(ae, images))
fig = reconstruction_figure(
    images / 255.0, rec, summary["reconstruction_rmse"], sm.wildcards.dataset
)
save_figure(fig, sm.output.png)
log.info("wrote %s", sm.output.png)
