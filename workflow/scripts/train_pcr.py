"""Rule train_pcr: piecewise-constant regression on one feature set."""

from microprop.io import load_features
from microprop.logs import setup_logging
from microprop.models import PiecewiseConstantRegressor, fit_evaluate
from microprop.models.run import feature_record, write_model_outputs

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])
w = sm.wildcards

features = load_features(sm.input.features)
model, metrics, table = fit_evaluate(
    PiecewiseConstantRegressor(
        bin_width=sm.params.bin_width, log_features=tuple(sm.params.log_features)
    ),
    features,
    float(w.frac),
    int(w.seed),
)
metrics.update(
    model=w.model,
    dataset=w.dataset,
    hyperparameters={
        "bin_width": sm.params.bin_width,
        "log_features": list(sm.params.log_features),
        "n_bins": int(len(model.bin_values_)),
    },
    threads={"fit": 1},
    features=feature_record(w.model, features.attrs),
)
log.info("%s on %s: RMSE %.4g, R2 %.4f", w.model, w.dataset, metrics["rmse"], metrics["r2"])
write_model_outputs(sm.output, model, metrics, table)
