"""Rule fig_uncertainty: Fig. 8 with interval bars, and coverage against the nominal level."""

import pandas as pd

from microprop.logs import setup_logging
from microprop.plots import save_figure
from microprop.plots.uncertainty import uncertainty_figure
from microprop.uncertainty import Conformal, coverage_curve

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])
levels = sm.params.levels

tables, curves = {}, {}
for model, pred, conformal in zip(
    sm.params.models, sm.input.predictions, sm.input.conformal, strict=True
):
    table = pd.read_csv(pred)
    tables[model] = table
    curves[model] = coverage_curve(
        Conformal.load(conformal), table["true"], table["predicted"], levels
    )
    log.info(
        "%s: coverage at %s: adaptive %s, constant %s",
        model,
        levels,
        curves[model]["adaptive"].round(3).tolist(),
        curves[model]["constant"].round(3).tolist(),
    )
limits, label = sm.params.limits, sm.params.label
fig = uncertainty_figure(
    tables, curves, levels, limits=limits, label=label, n_bars=sm.params.n_bars
)
save_figure(fig, sm.output.png)
log.info("wrote %s", sm.output.png)
