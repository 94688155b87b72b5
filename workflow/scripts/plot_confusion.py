"""Rule fig08_confusion: true-vs-predicted panels of every model on one dataset."""

import json
from pathlib import Path

import pandas as pd

from microprop.logs import setup_logging
from microprop.plots.confusion import confusion_figure, save_figure

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])
dataset = sm.wildcards.dataset

panels = []
for model, path in zip(sm.params.models, sm.input.metrics, strict=True):
    metrics = json.loads(Path(path).read_text())
    table = pd.read_csv(Path(path).with_name("predictions.csv"))
    panels.append(
        dict(
            true=table["true"],
            predicted=table["predicted"],
            title=model,
            rmse=metrics["rmse"],
            r2=metrics["r2"],
        )
    )
limits = (0, sm.params.label_max) if dataset == "ising" else None
label = "temperature label" if dataset == "ising" else "energy"
save_figure(confusion_figure(panels, limits=limits, label=label), sm.output.png)
log.info("wrote %s", sm.output.png)
