"""Rules symmetry_study and semisupervised_study: RMSE per model and training fraction
over seeds, and its table (``params.compared`` against ``params.baseline``, by default
the symmetric CNNs against resnet18)."""

from microprop.io import atomic_path
from microprop.logs import setup_logging
from microprop.studies import collect_metrics, fraction_curves, symmetry_markdown

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

curves = fraction_curves(collect_metrics(sm.input.metrics))
with atomic_path(sm.output.csv) as tmp:
    curves.to_csv(tmp, index=False)
options = {k: getattr(sm.params, k) for k in ("compared", "baseline") if hasattr(sm.params, k)}
table = symmetry_markdown(curves, **options)
with atomic_path(sm.output.md) as tmp:
    tmp.write_text(table)
log.info("%s of %s:\n%s", sm.rule, sm.wildcards.dataset, table)
