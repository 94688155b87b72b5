"""Rules train_cnn and train_mucha: a torchvision CNN regressor on images or mucha channels."""

from microprop import registry
from microprop.io import load_dataset, load_features, part1_steps, read_attrs, run_steps
from microprop.logs import setup_logging
from microprop.models import fit_evaluate
from microprop.models.cnn import P4M_ARCH, CNNRegressor, parse_model_id
from microprop.models.run import feature_record, write_model_outputs

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])
w = sm.wildcards
p = sm.params

mucha = registry.model(w.model).kind == "mucha"
if mucha:
    data = load_features(sm.input.features)  # (N, 3, 64, 64) uint8 channels
    arch, pretrained, symmetric, protocol = registry.model(w.model).arch, False, False, "mucha"
else:
    data = load_dataset(sm.input.data)
    (arch, pretrained, symmetric), protocol = parse_model_id(w.model), "paper"
options = dict(p.options)
max_train = options.pop("max_train", 0)
if p.augment and not symmetric and arch != P4M_ARCH:  # -sym, p4m-cnn: their own D4
    # the dataset's symmetry group (beyond the paper; microprop.models.cnn.augment_batch)
    if w.dataset == "cfd":  # the flow's exact symmetries
        simulation = read_attrs(sm.input.data)["simulation"]
        options["augment"] = {"group": "kolmogorov", "k": int(simulation["forcing_wavenumber"])}
    else:  # Ising, CH: D4 and periodic shifts
        options["augment"] = {"group": "square"}
    if mucha:  # the FFT and wavelet channels are recomputed per batch
        channels = data.attrs["options"]
        options["augment"]["channels"] = {
            "wavelet": str(channels["wavelet"]),
            "rescale_image": bool(channels["rescale_image"]),
        }
estimator = CNNRegressor(
    arch=arch,
    pretrained=pretrained,
    symmetric=symmetric,
    protocol=protocol,
    threads=sm.threads,
    device=sm.resources.device,  # a resource, not a param: it changes no result
    seed=int(w.seed),
    **options,
)
log.info("%s on %s: %s, %d threads", w.model, w.dataset, estimator, sm.threads)
runs, steps = run_steps(sm.input.data)  # CH: a test subset stratified by run and step
# CH: the part that validates (CNNs) or only calibrates (MuCha: split) is whole runs;
# each rule has its own param (train_mucha has no validation part, no val_by_run)
validates = protocol == "paper"  # MuCha's held-out part only calibrates
by_run = runs is not None and (p.val_by_run if validates else p.split_by_run)
if by_run:
    log.info("%s part: whole training runs", "validation" if validates else "calibration")
model, metrics, table = fit_evaluate(
    estimator,
    data,
    float(w.frac),
    int(w.seed),
    flatten=False,
    max_train=max_train,
    calibration=p.calibration,
    max_test=p.max_test,
    runs=runs,
    steps=steps,
    part1_steps=part1_steps(sm.input.data),  # CH: RMSE per step group
    groups=runs if by_run else None,
    fit_groups=by_run and validates,
)
metrics.update(
    **model.training_summary(),  # epochs_run, max_epochs, best_epoch, learned, flag
    model=w.model,
    dataset=w.dataset,
    hyperparameters={**model.hyperparameters(), "max_train": max_train},
    features=feature_record(w.model, data.attrs if mucha else None),
)
if model.weights_fallback_:  # a -pretrained CNN that started from random weights (offline)
    metrics["weights_fallback"] = model.weights_fallback_
if by_run and validates:
    metrics["validation_runs"] = [int(r) for r in model.val_groups_]
elif by_run:
    held_out = model.conformal_.sets[model.conformal_.primary].index
    metrics["calibration_runs"] = sorted({int(r) for r in runs[held_out]})
if not mucha:
    metrics["seconds"]["features"] = 0.0  # CNNs read the images themselves
log.info(
    "%s on %s: RMSE %.4g, R2 %.4f; %.0f%% intervals: coverage %.3f, mean width %.4g;"
    " %d of %d epochs, best epoch %d%s",
    w.model,
    w.dataset,
    metrics["rmse"],
    metrics["r2"],
    100 * p.calibration["level"],
    metrics["coverage"],
    metrics["mean_width"],
    metrics["epochs_run"],
    metrics["max_epochs"],
    metrics["best_epoch"],
    f"; {metrics['flag']}" if metrics["flag"] else "",
)
write_model_outputs(sm.output, model, metrics, table)
