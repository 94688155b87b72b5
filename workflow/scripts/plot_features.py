"""Rule fig04_features: the grad and physfeat1 features against the property."""

import ast

from microprop.io import load_features
from microprop.logs import setup_logging
from microprop.plots import save_figure
from microprop.plots.dataset_figs import features_figure, property_label

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

grad, physfeat1 = load_features(sm.input.grad), load_features(sm.input.physfeat1)
train = grad.train_idx
fig = features_figure(
    {"grad": grad.images[train], "physfeat1": physfeat1.images[train]},
    grad.property[train],
    property_label(grad.attrs),
    names={"physfeat1": ast.literal_eval(str(physfeat1.attrs.get("columns", "[]")))},
)
save_figure(fig, sm.output.png)
log.info("wrote %s", sm.output.png)
