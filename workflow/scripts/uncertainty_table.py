"""Rule uncertainty_table: coverage and widths of every model's conformal intervals."""

from microprop.io import atomic_path
from microprop.logs import setup_logging
from microprop.studies import uncertainty_markdown, uncertainty_table

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

table = uncertainty_table(sm.input.metrics)
with atomic_path(sm.output.csv) as tmp:
    table.to_csv(tmp, index=False)
with atomic_path(sm.output.md) as tmp:
    tmp.write_text(uncertainty_markdown(table))
log.info("%d rows in %s", len(table), sm.output.csv)
