"""Rule metrics_table: every trained model of one dataset, one row per metrics.json."""

from microprop.io import atomic_path
from microprop.logs import setup_logging
from microprop.studies import collect_metrics

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

frame = collect_metrics(sm.input.metrics)
with atomic_path(sm.output.csv) as tmp:
    frame.to_csv(tmp, index=False)
log.info("%d models of %s in %s", len(frame), sm.wildcards.dataset, sm.output.csv)
