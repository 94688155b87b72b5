"""Rules figD18_zoo_rmse and figD19_zoo_r2: scikit-learn regressors on each feature set."""

import pandas as pd

from microprop.logs import setup_logging
from microprop.plots import save_figure
from microprop.plots.zoo import zoo_figure

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

results = pd.concat([pd.read_csv(p) for p in sm.input.results], ignore_index=True)
save_figure(zoo_figure(results, sm.params.metric), sm.output.png)
log.info("wrote %s", sm.output.png)
