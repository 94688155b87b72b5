"""Rule simulate_cfd: one shard of Kolmogorov-flow vorticity images (jax-cfd, CPU)."""

import os

# one core per job: set before jax is imported (microprop.cfd imports it lazily)
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

from microprop import __version__  # noqa: E402
from microprop.cfd import CFDParams, shard_attrs, simulate_shard  # noqa: E402
from microprop.io import write_h5  # noqa: E402
from microprop.logs import setup_logging  # noqa: E402

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])
p = sm.params
physics = CFDParams.from_config(p.physics)

log.info(
    "shard %s: %d images from index %d, %d^2 grid, dt %.5g, %d spin-up steps",
    sm.wildcards.shard,
    p.n_images,
    p.first_index,
    physics.resolution,
    physics.time_step,
    physics.spinup_steps,
)
shard = simulate_shard(
    p.first_index,
    p.n_images,
    physics,
    seed=p.seed,
    logger=log,
    progress_every=sm.resources.progress_every,
)
write_h5(
    sm.output.shard,
    shard,
    {
        "kind": "cfd_shard",
        "first_index": p.first_index,
        **shard_attrs(physics),
        "seed": p.seed,
        "code_version": __version__,
    },
)
log.info("wrote %s (largest Courant number %.3f)", sm.output.shard, shard["courant"].max())
