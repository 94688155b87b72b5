"""Rule figB12_pixel_pca: the first two principal components of the raw pixels."""

from microprop.io import load_dataset
from microprop.logs import setup_logging
from microprop.plots import save_figure
from microprop.plots.dataset_figs import property_label
from microprop.plots.pca import pixel_pca_figure
from microprop.studies import pixel_pca

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

ds = load_dataset(sm.input.data)
train = ds.train_idx
components = pixel_pca(ds.images[train], 2, seed=sm.params.seed)
fig = pixel_pca_figure(components, ds.property[train], property_label(ds.attrs))
save_figure(fig, sm.output.png)
log.info("wrote %s", sm.output.png)
