"""Rule table2: RMSE and R² of every model and dataset with the paper's Table 2 beside."""

from microprop.io import atomic_path
from microprop.logs import setup_logging
from microprop.studies import collect_metrics, table2, table2_latex, table2_markdown

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

table = table2(collect_metrics(sm.input.metrics), models=sm.params.models)
with atomic_path(sm.output.csv) as tmp:
    table.to_csv(tmp, index=False)
with atomic_path(sm.output.md) as tmp:
    tmp.write_text(table2_markdown(table))
with atomic_path(sm.output.tex) as tmp:
    tmp.write_text(table2_latex(table))
log.info("Table 2: %d rows\n%s", len(table), table.to_string())
