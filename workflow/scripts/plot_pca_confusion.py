"""Rule figB14_pca_confusion: confusion panels against the number of components."""

import pandas as pd

from microprop.logs import setup_logging
from microprop.plots import save_figure
from microprop.plots.pca import pca_confusion_figure

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

scores = pd.read_csv(sm.input.scores)
predictions = pd.read_csv(sm.input.predictions)
shown = [k for k in sm.params.components if k in set(scores["n_components"])]
if not shown:  # fewer components than asked for were available: show what there is
    shown = sorted(scores["n_components"])
predictions = predictions[predictions["n_components"].isin(shown)]
limits, label = sm.params.limits, sm.params.label
save_figure(pca_confusion_figure(predictions, scores, limits, label), sm.output.png)
log.info("wrote %s", sm.output.png)
