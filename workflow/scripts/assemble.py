"""Rule assemble: merge simulation files into results/data/{dataset}.h5 and its card."""

from microprop.dataset import (
    assemble_cfd,
    assemble_ch,
    assemble_ising,
    dataset_card,
    write_dataset,
)
from microprop.io import atomic_path
from microprop.logs import setup_logging

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])
p = sm.params
dataset = sm.wildcards.dataset

log.info("assembling %s from %d files", dataset, len(sm.input.sims))
if dataset == "ising":
    arrays, attrs = assemble_ising(sm.input.sims, p.ising_n_test, p.seed, p.ising_size)
elif dataset == "cfd":
    arrays, attrs = assemble_cfd(sm.input.sims, p.cfd_n_test, p.seed, p.cfd_size)
else:
    arrays, attrs = assemble_ch(
        sm.input.sims, p.ch_n_test_runs, max_train=p.ch_max_train, seed=p.seed
    )
attrs = write_dataset(sm.output.data, arrays, attrs, p.config)
with atomic_path(sm.output.card) as tmp:
    tmp.write_text(dataset_card(arrays, attrs, sm.input.sims))
log.info(
    "%s: %d samples, %d test", sm.output.data, attrs["n_samples"], sum(arrays["split"] == b"test")
)
