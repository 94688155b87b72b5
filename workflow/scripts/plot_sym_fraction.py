"""Rule fig_sym_fraction: RMSE against training fraction, symmetry-aware CNNs beside the rest."""

import pandas as pd

from microprop.logs import setup_logging
from microprop.plots import save_figure
from microprop.plots.fraction import symmetry_figure

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

curves = pd.read_csv(sm.input.table)
save_figure(symmetry_figure(curves, title=sm.wildcards.dataset), sm.output.png)
log.info("wrote %s", sm.output.png)
