# Assembly: simulation files -> one dataset file with its fixed test split and a card.


rule assemble:
    input:
        sims=simulation_files,
    output:
        data=protected("results/data/{dataset}.h5"),
        card="results/data/{dataset}.md",
    log:
        logpath("assemble", "dataset"),
    benchmark:
        benchpath("assemble", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(4000),
        runtime=per_attempt(10),
    params:
        ising_n_test=config["ising"]["n_test"],
        ising_size=config["ising"]["lattice_size"],
        cfd_n_test=config["cfd"]["n_test"],
        cfd_size=config["cfd"]["image_size"],
        ch_n_test_runs=lambda w: config["ch"]["n_test_runs"] if w.dataset == "ch" else 0,
        ch_max_train=lambda w: config["ch"]["max_train"] if w.dataset == "ch" else 0,
        seed=config["seed"],
        config=lambda w: {"seed": config["seed"], w.dataset: result_config(w.dataset)},
    script:
        "../workflow/scripts/assemble.py"
