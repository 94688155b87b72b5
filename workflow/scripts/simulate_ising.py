"""Rule simulate_ising: one shard of Ising images (labels, seeds and images)."""

from microprop import __version__
from microprop.io import write_h5
from microprop.ising import simulate_shard
from microprop.logs import setup_logging

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])
p = sm.params

log.info("shard %s: %d images from index %d", sm.wildcards.shard, p.n_images, p.first_index)
shard = simulate_shard(
    first_index=p.first_index,
    n_images=p.n_images,
    lattice_size=p.lattice_size,
    attempts_per_image=p.attempts_per_image,
    label_max=p.label_max,
    seed=p.seed,
    threads=sm.threads,
    logger=log,
)
attempts = int(shard.pop("attempts"))
write_h5(
    sm.output.shard,
    shard,
    {
        "kind": "ising_shard",
        "first_index": p.first_index,
        "lattice_size": p.lattice_size,
        "attempts_per_image": attempts,
        "label_max": p.label_max,
        "seed": p.seed,
        "code_version": __version__,
    },
)
log.info("wrote %s", sm.output.shard)
