"""Rule fraction_study: RMSE and times per model and training fraction over seeds."""

from microprop.io import atomic_path
from microprop.logs import setup_logging
from microprop.studies import collect_metrics, fraction_curves

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

curves = fraction_curves(collect_metrics(sm.input.metrics))
with atomic_path(sm.output.csv) as tmp:
    curves.to_csv(tmp, index=False)
log.info("fraction curves of %s:\n%s", sm.wildcards.dataset, curves.to_string())
