# Surrogate models (paper, section 3.2): results/models/{dataset}/{model}/frac{frac}/seed{seed}/
# holds metrics.json, predictions.csv and the fitted model.


rule train_pcr:
    input:
        features=lambda w: f"results/features/{w.dataset}/{feature_of(w.model)}.h5",
    output:
        metrics="results/models/{dataset}/{model}/frac{frac}/seed{seed}/metrics.json",
        predictions="results/models/{dataset}/{model}/frac{frac}/seed{seed}/predictions.csv",
        model="results/models/{dataset}/{model}/frac{frac}/seed{seed}/model.npz",
    log:
        logpath("train_pcr", "dataset", "model", "frac", "seed"),
    benchmark:
        benchpath("train_pcr", "dataset", "model", "frac", "seed")
    wildcard_constraints:
        model="(grad|physfeat1)-pcr",
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        bin_width=lambda w: config["models"]["pcr"]["bin_width"][w.dataset],
    script:
        "../workflow/scripts/train_pcr.py"
