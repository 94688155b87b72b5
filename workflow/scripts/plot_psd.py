"""Rule fig03_psd: images beside their radially averaged PSD and its log-log line fit."""

from microprop.io import load_dataset
from microprop.logs import setup_logging
from microprop.plots import save_figure
from microprop.plots.dataset_figs import property_label, psd_figure

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

ds = load_dataset(sm.input.data)
fig = psd_figure(ds.images, ds.property, property_label(ds.attrs), n=sm.params.n_images)
save_figure(fig, sm.output.png)
log.info("wrote %s", sm.output.png)
