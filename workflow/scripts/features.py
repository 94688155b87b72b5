"""Rule features: compute one feature set of a dataset."""

import time

from microprop.features import FEATURES
from microprop.io import load_dataset, write_features
from microprop.logs import setup_logging

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])
name = sm.wildcards.feature

ds = load_dataset(sm.input.data)
t0 = time.perf_counter()
features = FEATURES[name]().fit_transform(ds.images)
seconds = time.perf_counter() - t0
log.info("%s: %d images -> %s in %.2f s", name, len(ds), features.shape, seconds)
write_features(sm.output.features, features, ds, {"feature": name, "seconds": seconds})
