"""Rule fig01_examples: example images with their labels (and the CH energy curves)."""

from microprop.io import load_dataset
from microprop.logs import setup_logging
from microprop.plots import save_figure
from microprop.plots.dataset_figs import ch_examples_figure, ising_examples_figure, property_label

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

ds = load_dataset(sm.input.data)
label = property_label(ds.attrs)
n = sm.params.n_examples
if "run" in ds.extra and "time" in ds.extra:
    fig = ch_examples_figure(ds.images, ds.property, ds.extra["run"], ds.extra["time"], label, n)
else:
    fig = ising_examples_figure(ds.images, ds.property, label, n)
save_figure(fig, sm.output.png)
log.info("wrote %s", sm.output.png)
