"""Rule simulate_ch: one Cahn-Hilliard-elasticity run (paper, Appendix A.2)."""

from microprop.logs import setup_logging

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

# Import after logging is set up: the FEM backend imports dolfinx (a few seconds).
from microprop.ch import CHParams, write_run  # noqa: E402

p = sm.params
params = CHParams.from_dict(dict(p.physics))
log.info("CH run %s (seed %d), parameters: %s", sm.wildcards.run, p.seed, params.as_dict())
write_run(
    sm.output.run,
    params,
    seed=p.seed,
    run=int(sm.wildcards.run),
    logger=log,
    progress_every=sm.resources.progress_every,
    backend="spectral" if p.method == "spectral" else "fem",
    solver=p.method,  # fft or lu (FEM only)
)
log.info("wrote %s", sm.output.run)
