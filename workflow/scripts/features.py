"""Rule features: compute one stateless feature set (grad, physfeat1, physfeat2, mucha,
twopoint)."""

import time

from microprop.features import FEATURES
from microprop.io import load_dataset, write_features
from microprop.logs import setup_logging

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])
name = sm.wildcards.feature
options = dict(sm.params.options)

ds = load_dataset(sm.input.data)
transformer = FEATURES[name](**options, n_jobs=sm.threads)
t0 = time.perf_counter()
features = transformer.fit_transform(ds.images)
seconds = time.perf_counter() - t0
log.info(
    "%s%s: %d images -> %s %s in %.2f s (%.0f images/s, %d threads)",
    name,
    options or "",
    len(ds),
    features.shape,
    features.dtype,
    seconds,
    len(ds) / max(seconds, 1e-9),
    sm.threads,
)
attrs = {"feature": name, "options": options, "seconds": seconds, "threads": sm.threads}
if hasattr(transformer, "columns"):
    attrs["columns"] = list(transformer.columns)
write_features(sm.output.features, features, ds, attrs)
