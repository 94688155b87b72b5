"""Rule fig10_timing: training and prediction time against the training-set size."""

import pandas as pd

from microprop.logs import setup_logging
from microprop.plots import save_figure
from microprop.plots.timing import threads_note, timing_figure

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

curves = pd.read_csv(sm.input.curves)
fig = timing_figure(curves, title=sm.wildcards.dataset, threads=threads_note(curves))
save_figure(fig, sm.output.png)
log.info("wrote %s", sm.output.png)
