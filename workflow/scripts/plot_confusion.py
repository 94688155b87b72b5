"""Rule fig08_confusion: the grid of true-vs-predicted panels of every model on one dataset,
the grad models overlaid in red on their physfeat1 twins (the paper's Fig. 8)."""

import json
from pathlib import Path

import pandas as pd

from microprop.logs import setup_logging
from microprop.plots import save_figure
from microprop.plots.confusion import confusion_figure, paper_panels

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

results = {
    model: (pd.read_csv(pred), json.loads(Path(metrics).read_text()))
    for model, metrics, pred in zip(
        sm.params.models, sm.input.metrics, sm.input.predictions, strict=True
    )
}
limits, label = sm.params.limits, sm.params.label
fig = confusion_figure(paper_panels(results), limits=limits, label=label)
save_figure(fig, sm.output.png)
log.info("wrote %s", sm.output.png)
