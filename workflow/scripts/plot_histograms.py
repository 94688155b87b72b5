"""Rule fig02_histograms: label histograms of the training split of every dataset."""

from microprop.io import load_dataset
from microprop.logs import setup_logging
from microprop.plots import save_figure
from microprop.plots.dataset_figs import histograms_figure, property_label

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

props, labels = {}, {}
for dataset, path in zip(sm.params.datasets, sm.input.data, strict=True):
    ds = load_dataset(path, images=False)
    props[dataset] = ds.property[ds.train_idx]
    labels[dataset] = property_label(ds.attrs)
save_figure(histograms_figure(props, labels), sm.output.png)
log.info("wrote %s", sm.output.png)
