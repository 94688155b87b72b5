# Simulations: Ising shards (Monte Carlo, numba) and Cahn-Hilliard runs (dolfinx).


rule simulate_ising:
    output:
        shard="results/sims/ising/shard_{shard}.h5",
    params:
        n_images=lambda w: ising_shard_size(int(w.shard)),
        first_index=lambda w: int(w.shard) * config["ising"]["shard_size"],
        lattice_size=config["ising"]["lattice_size"],
        attempts_per_image=config["ising"]["attempts_per_image"],
        label_max=config["ising"]["label_max"],
        seed=config["seed"],
    log:
        logpath("simulate_ising", "shard"),
    benchmark:
        benchpath("simulate_ising", "shard")
    threads: 2
    script:
        "../workflow/scripts/simulate_ising.py"
