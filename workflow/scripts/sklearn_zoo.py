"""Rule sklearn_zoo: scikit-learn regressors of Appendix D on one feature set."""

from microprop.io import atomic_path, load_features
from microprop.logs import setup_logging
from microprop.studies import run_zoo

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])
w = sm.wildcards

results = run_zoo(
    load_features(sm.input.features),
    sm.params.regressors,
    seed=sm.params.seed,
    max_train=sm.params.max_train,
)
results.insert(0, "feature", w.feature)
results.insert(0, "dataset", w.dataset)
with atomic_path(sm.output.csv) as tmp:
    results.to_csv(tmp, index=False)
log.info("regressors on %s/%s:\n%s", w.dataset, w.feature, results.to_string())
