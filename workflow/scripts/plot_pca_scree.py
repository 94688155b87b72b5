"""Rule figB13_pca_scree: cumulative explained variance and RMSE against components."""

import pandas as pd

from microprop.logs import setup_logging
from microprop.plots import save_figure
from microprop.plots.pca import scree_figure

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

fig = scree_figure(pd.read_csv(sm.input.scree), pd.read_csv(sm.input.scores))
save_figure(fig, sm.output.png)
log.info("wrote %s", sm.output.png)
