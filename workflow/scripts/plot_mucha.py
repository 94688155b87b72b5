"""Rule fig07_mucha: the three input channels of the multichannel CNN for a few images."""

import h5py
import numpy as np

from microprop.io import read_attrs
from microprop.logs import setup_logging
from microprop.plots import save_figure
from microprop.plots.dataset_figs import mucha_figure, pick_examples, property_label

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

with h5py.File(sm.input.channels, "r") as f:  # read only the rows shown
    prop = f["property"][()]
    idx = np.sort(pick_examples(prop, sm.params.n_images))
    channels = f["features"][idx]
if channels.ndim == 3:  # (n, H, W): a single channel
    channels = channels[:, None]
fig = mucha_figure(channels, prop[idx], property_label(read_attrs(sm.input.channels)))
save_figure(fig, sm.output.png)
log.info("wrote %s", sm.output.png)
