"""Rule fig_design: the latent and pixel designs in rows, with target and true energies."""

import numpy as np
import pandas as pd

from microprop.logs import setup_logging
from microprop.plots import save_figure
from microprop.plots.latent import design_figure

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

table = pd.read_csv(sm.input.csv)
with np.load(sm.input.fields, allow_pickle=False) as f:
    fields = {k: f[k] for k in ("latent", "pixel")}
save_figure(design_figure(table, fields), sm.output.png)
log.info("wrote %s", sm.output.png)
