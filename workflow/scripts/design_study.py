"""Rule design_study: latent-space and pixel designs of CH fields for target energies,
each checked by the CH energy functional (microprop.design)."""

import numpy as np
import torch

from microprop.ch.params import CHParams
from microprop.design import design_markdown, design_study
from microprop.features.latent import load_autoencoder
from microprop.io import atomic_path, load_dataset, load_features, strict_json
from microprop.logs import setup_logging

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])
torch.set_num_threads(sm.threads)

ds = load_dataset(sm.input.data)
codes = load_features(sm.input.codes).images
ae = load_autoencoder(sm.input.model)
params = CHParams.from_config(sm.params.ch)
table, fields, summary = design_study(
    ae,
    ds.images,
    ds.property,
    codes,
    ds.train_idx,
    ds.test_idx,
    params,
    seed=sm.params.seed,
    **sm.params.options,
)
unit = str(ds.attrs.get("property_units", "pJ/um")).split(" ")[0]
with atomic_path(sm.output.csv) as tmp:
    table.to_csv(tmp, index=False)
with atomic_path(sm.output.md) as tmp:
    tmp.write_text(design_markdown(table, summary, unit))
with atomic_path(sm.output.fields) as tmp, open(tmp, "wb") as fh:
    np.savez(fh, **{k: v.astype(np.float32) for k, v in fields.items()})
with atomic_path(sm.output.summary) as tmp:
    tmp.write_text(strict_json(summary))
log.info("design study:\n%s", design_markdown(table, summary, unit))
