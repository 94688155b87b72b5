"""Rule train_pcr: piecewise-constant regression on one feature set, with conformal
prediction intervals (``params.calibration``, microprop.uncertainty)."""

from microprop.io import load_features, part1_steps, run_steps
from microprop.logs import setup_logging
from microprop.models import PiecewiseConstantRegressor, fit_evaluate
from microprop.models.run import feature_record, write_model_outputs

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])
w = sm.wildcards

features = load_features(sm.input.features)
runs, steps = run_steps(sm.input.data)  # CH: leave-runs-out calibration, test subset
model, metrics, table = fit_evaluate(
    PiecewiseConstantRegressor(
        bin_width=sm.params.bin_width, log_features=tuple(sm.params.log_features)
    ),
    features,
    float(w.frac),
    int(w.seed),
    calibration=sm.params.calibration,
    groups=runs if sm.params.group_by_run else None,
    max_test=sm.params.max_test,
    runs=runs,
    steps=steps,
    part1_steps=part1_steps(sm.input.data),  # CH: RMSE per step group
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
log.info(
    "%s on %s: RMSE %.4g, R2 %.4f; %.0f%% intervals: coverage %.3f, mean width %.4g",
    w.model,
    w.dataset,
    metrics["rmse"],
    metrics["r2"],
    100 * sm.params.calibration["level"],
    metrics["coverage"],
    metrics["mean_width"],
)
write_model_outputs(sm.output, model, metrics, table)
