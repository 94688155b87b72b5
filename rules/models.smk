# Surrogate models (paper, section 3.2): results/models/{dataset}/{model}/frac{frac}/seed{seed}/
# holds metrics.json, predictions.csv (with conformal intervals lower/upper), the fitted
# model and conformal.npz (the calibration sets of its intervals).


rule train_pcr:
    input:
        features=lambda w: f"results/features/{w.dataset}/{feature_of(w.model)}.h5",
        data="results/data/{dataset}.h5",  # runs and steps: leave-runs-out calibration, test subset
    output:
        metrics="results/models/{dataset}/{model}/frac{frac}/seed{seed}/metrics.json",
        predictions="results/models/{dataset}/{model}/frac{frac}/seed{seed}/predictions.csv",
        model="results/models/{dataset}/{model}/frac{frac}/seed{seed}/model.npz",
        conformal="results/models/{dataset}/{model}/frac{frac}/seed{seed}/conformal.npz",
    log:
        logpath("train_pcr", "dataset", "model", "frac", "seed"),
    benchmark:
        benchpath("train_pcr", "dataset", "model", "frac", "seed")
    wildcard_constraints:
        model=registry.pattern(registry.model_ids("pcr")),
    conda:
        "../envs/microprop.yaml"
    threads: timed_threads
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(10),
    params:
        bin_width=lambda w: config["models"]["pcr"]["bin_width"][w.dataset],
        log_features=lambda w: config["models"]["pcr"]["log_features"][
            feature_of(w.model)
        ],
        max_test=max_test,
        calibration=calibration_options("pcr"),
        group_by_run=calibration_by_run("pcr"),  # CH: runs as folds (cv) or as the held-out part (split)
    script:
        "../workflow/scripts/train_pcr.py"


rule train_svr:
    input:
        unpack(svr_inputs),
        data="results/data/{dataset}.h5",  # runs and steps: leave-runs-out calibration, test subset
    output:
        metrics="results/models/{dataset}/{model}/frac{frac}/seed{seed}/metrics.json",
        predictions="results/models/{dataset}/{model}/frac{frac}/seed{seed}/predictions.csv",
        model="results/models/{dataset}/{model}/frac{frac}/seed{seed}/model.npz",
        conformal="results/models/{dataset}/{model}/frac{frac}/seed{seed}/conformal.npz",
        trials="results/models/{dataset}/{model}/frac{frac}/seed{seed}/trials.csv",
    log:
        logpath("train_svr", "dataset", "model", "frac", "seed"),
    benchmark:
        benchpath("train_svr", "dataset", "model", "frac", "seed")
    wildcard_constraints:
        model=registry.pattern(registry.model_ids("svr")),
    conda:
        "../envs/microprop.yaml"
    threads: timed_threads
    resources:
        mem_mb=per_attempt(4000),
        runtime=per_attempt(svr_runtime),
        # not a param: CV threads do not change the chosen values (no rerun when changed)
        search_threads=SVR_CONFIG["threads"],
    params:
        method=svr_method,
        hyperparameters=svr_hyperparameters,
        model_options=svr_model_options,
        search_options=options.svr_search_options(config),
        feature_seed=config["seed"],
        max_test=max_test,
        calibration=calibration_options("svr"),
        group_by_run=calibration_by_run("svr"),
    script:
        "../workflow/scripts/train_svr.py"


rule train_cnn:
    input:
        data="results/data/{dataset}.h5",  # images, and run and step (test subset)
    output:
        metrics="results/models/{dataset}/{model}/frac{frac}/seed{seed}/metrics.json",
        predictions="results/models/{dataset}/{model}/frac{frac}/seed{seed}/predictions.csv",
        model="results/models/{dataset}/{model}/frac{frac}/seed{seed}/model.pt",
        conformal="results/models/{dataset}/{model}/frac{frac}/seed{seed}/conformal.npz",
    log:
        logpath("train_cnn", "dataset", "model", "frac", "seed"),
    benchmark:
        benchpath("train_cnn", "dataset", "model", "frac", "seed")
    wildcard_constraints:
        model=registry.pattern(registry.model_ids("cnn")),
    conda:
        "../envs/microprop.yaml"
    threads: CNN_CONFIG["threads"]
    resources:
        gpu=cnn_gpus,  # 1 where CUDA is present (microprop.resources.gpus_for)
        mem_mb=per_attempt(8000),
        runtime=per_attempt(cnn_runtime),
        # not a param: the device does not change the model (no rerun when it changes)
        device=CNN_CONFIG["device"],
    params:
        options=cnn_options,
        augment=lambda w: symmetry_augment(w.dataset, "cnn"),
        val_by_run=CNN_CONFIG["val_by_run"],
        max_test=max_test,
        calibration=calibration_options("cnn"),
    script:
        "../workflow/scripts/train_cnn.py"


rule train_mucha:
    input:
        features="results/features/{dataset}/mucha.h5",
        data="results/data/{dataset}.h5",  # run and step: a stratified CH test subset
    output:
        metrics="results/models/{dataset}/{model}/frac{frac}/seed{seed}/metrics.json",
        predictions="results/models/{dataset}/{model}/frac{frac}/seed{seed}/predictions.csv",
        model="results/models/{dataset}/{model}/frac{frac}/seed{seed}/model.pt",
        conformal="results/models/{dataset}/{model}/frac{frac}/seed{seed}/conformal.npz",
    log:
        logpath("train_mucha", "dataset", "model", "frac", "seed"),
    benchmark:
        benchpath("train_mucha", "dataset", "model", "frac", "seed")
    wildcard_constraints:
        model=registry.pattern(registry.model_ids("mucha")),
    conda:
        "../envs/microprop.yaml"
    threads: MUCHA_CONFIG["threads"]
    resources:
        gpu=cnn_gpus,  # 1 where CUDA is present (microprop.resources.gpus_for)
        mem_mb=per_attempt(8000),
        runtime=per_attempt(cnn_runtime),
        device=CNN_CONFIG["device"],  # not a param: no rerun when it changes
    params:
        options=mucha_options,
        augment=lambda w: symmetry_augment(w.dataset, "mucha"),
        max_test=max_test,
        calibration=calibration_options("mucha"),
        split_by_run=UNCERTAINTY["split_by_run"],
    script:
        "../workflow/scripts/train_cnn.py"


rule train_blend:
    input:
        unpack(blend_inputs),  # each member's metrics.json, predictions.csv, conformal.npz
        data="results/data/{dataset}.h5",  # runs (CH: whole runs as folds) and part-1 steps
    output:
        metrics="results/models/{dataset}/{model}/frac{frac}/seed{seed}/metrics.json",
        predictions="results/models/{dataset}/{model}/frac{frac}/seed{seed}/predictions.csv",
        model="results/models/{dataset}/{model}/frac{frac}/seed{seed}/model.npz",
        conformal="results/models/{dataset}/{model}/frac{frac}/seed{seed}/conformal.npz",
    log:
        logpath("train_blend", "dataset", "model", "frac", "seed"),
    benchmark:
        benchpath("train_blend", "dataset", "model", "frac", "seed")
    wildcard_constraints:
        model=registry.pattern(registry.model_ids("blend")),
    conda:
        "../envs/microprop.yaml"
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(5),
    params:
        members=lambda w: list(registry.model(w.model).members),
        calibration=options.blend_calibration_options(config),
        group_by_run=UNCERTAINTY["group_by_run"],
    script:
        "../workflow/scripts/train_blend.py"
