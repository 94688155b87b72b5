# Simulations: Ising shards (Monte Carlo, numba), Cahn-Hilliard runs (dolfinx FEM or
# Fourier-spectral, config ch.backend) and Kolmogorov-flow shards (jax-cfd).

from microprop.cfd import WORKFLOW_KEYS as CFD_WORKFLOW_KEYS
from microprop.ch.params import physics_config as ch_physics


rule simulate_ising:
    output:
        shard=temp("results/sims/ising/shard_{shard}.h5"),  # only assemble reads them
    log:
        logpath("simulate_ising", "shard"),
    benchmark:
        benchpath("simulate_ising", "shard")
    wildcard_constraints:
        shard=numbers_below(n_shards("ising")),
    conda:
        "../envs/microprop.yaml"
    threads: 2
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(lambda w: 5 + config["ising"]["shard_size"] // 200),
    params:
        n_images=lambda w: shard_images("ising", int(w.shard)),
        first_index=lambda w: int(w.shard) * config["ising"]["shard_size"],
        lattice_size=config["ising"]["lattice_size"],
        attempts_per_image=config["ising"]["attempts_per_image"],
        label_max=config["ising"]["label_max"],
        seed=config["seed"],
    script:
        "../workflow/scripts/simulate_ising.py"


rule simulate_ch:
    output:
        run=protected("results/sims/ch/run_{run}.h5"),  # minutes of FEM each (seconds spectral)
    log:
        logpath("simulate_ch", "run"),
    benchmark:
        benchpath("simulate_ch", "run")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(CH_RUN_MINUTES),
        # not a param: how often the log reports does not change the run (no rerun)
        progress_every=config["ch"]["progress_every"],
    params:
        physics=ch_physics(config["ch"]),
        seed=config["seed"],
        # the backend and its solver in one value: ch.solver (fft or lu) for the FEM, as
        # before ch.backend existed (its run files stay up to date), "spectral" otherwise
        method=(
            config["ch"]["solver"] if config["ch"]["backend"] == "fem" else "spectral"
        ),
    script:
        "../workflow/scripts/simulate_ch.py"


rule simulate_cfd:
    output:
        shard=temp("results/sims/cfd/shard_{shard}.h5"),  # only assemble reads them
    log:
        logpath("simulate_cfd", "shard"),
    benchmark:
        benchpath("simulate_cfd", "shard")
    wildcard_constraints:
        shard=numbers_below(n_shards("cfd")),
    conda:
        "../envs/microprop.yaml"
    threads: 1  # XLA single-threaded (the script sets XLA_FLAGS before importing jax)
    resources:
        mem_mb=per_attempt(2000),
        # ~1.2 s per image at 64^2 on one core (benchmarks/cfd_throughput.py), x4 margin
        runtime=per_attempt(
            lambda w: 5
            + config["cfd"]["shard_size"]
            * (config["cfd"]["resolution"] // 64) ** 2
            // 12
        ),
        progress_every=config["cfd"]["progress_every"],
    params:
        n_images=lambda w: shard_images("cfd", int(w.shard)),
        first_index=lambda w: int(w.shard) * config["cfd"]["shard_size"],
        physics={k: v for k, v in config["cfd"].items() if k not in CFD_WORKFLOW_KEYS},
        seed=config["seed"],
    script:
        "../workflow/scripts/simulate_cfd.py"
