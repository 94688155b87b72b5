"""Rule train_blend: a blend of trained models (microprop.models.blend), its weights fitted
on the members' held-out predictions of training images, with conformal intervals."""

import json
import time
from pathlib import Path

from microprop.io import part1_steps, run_steps
from microprop.logs import setup_logging
from microprop.models.blend import fit_blend
from microprop.models.run import write_model_outputs

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])
w = sm.wildcards

members = tuple(sm.params.members)
directories = [Path(p).parent for p in sm.input.conformal]
member_metrics = [json.loads(Path(p).read_text()) for p in sm.input.metrics]
runs, _ = run_steps(sm.input.data)  # CH: whole runs as the blend's folds
t0 = time.perf_counter()
calibration = dict(sm.params.calibration)
model, metrics, table = fit_blend(
    members,
    directories,
    folds=calibration.pop("folds"),
    seed=int(w.seed),
    runs=runs if sm.params.group_by_run else None,
    part1_steps=part1_steps(sm.input.data),
    **calibration,
)
metrics.update(
    model=w.model,
    dataset=w.dataset,
    frac=float(w.frac),
    seed=int(w.seed),
    # the blend sees what its members saw: their largest training subset
    n_train=max(int(m["n_train"]) for m in member_metrics),
    n_images=member_metrics[0]["n_images"],
    n_test_split=member_metrics[0]["n_test_split"],
    seconds={"train": time.perf_counter() - t0},
    threads={"fit": 1},
)
log.info(
    "%s on %s: %s; RMSE %.4g (members: %s), R2 %.4f; out-of-fold RMSE %.4g on %d rows",
    w.model,
    w.dataset,
    " + ".join(f"{v:.3f} {k}" for k, v in metrics["hyperparameters"]["weights"].items()),
    metrics["rmse"],
    ", ".join(f"{m['model']} {m['rmse']:.4g}" for m in member_metrics),
    metrics["r2"],
    metrics["cv_rmse"],
    metrics["hyperparameters"]["n_fit"],
)
write_model_outputs(sm.output, model, metrics, table)
