# Feature sets (paper, sections 3.1 and 3.2.4): one file per dataset and feature,
# results/features/{dataset}/{feature}.h5, aligned with the dataset's rows and carrying
# its split. grad, physfeat1, physfeat2, mucha and twopoint (beyond the paper: two-point
# autocorrelations, whose PCA twopoint-svr fits) are stateless image transforms (rule
# features); cnnpca is the ResNet18 embedding (rule cnn_embedding, GPU, also read by the
# PCA study) followed by a PCA fitted on the training split (rule features_cnnpca).

FEATURE_CONFIG = config["features"]


rule features:
    input:
        data="results/data/{dataset}.h5",
    output:
        features="results/features/{dataset}/{feature}.h5",
    log:
        logpath("features", "dataset", "feature"),
    benchmark:
        benchpath("features", "dataset", "feature")
    wildcard_constraints:
        feature=registry.pattern(registry.feature_names("features")),
    conda:
        "../envs/microprop.yaml"
    threads: 2
    resources:
        mem_mb=per_attempt(4000),
        runtime=per_attempt(20),
    params:
        options=feature_options,
    script:
        "../workflow/scripts/features.py"


rule cnn_embedding:
    input:
        data="results/data/{dataset}.h5",
    output:
        embedding="results/features/{dataset}/cnnembed.h5",
    log:
        logpath("cnn_embedding", "dataset"),
    benchmark:
        benchpath("cnn_embedding", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 4
    resources:
        gpu=embedding_gpus,  # 1 where CUDA is present
        mem_mb=per_attempt(8000),
        runtime=per_attempt(60),
        # not a param: the device does not change the embedding (no rerun when it changes)
        device=FEATURE_CONFIG["cnnpca"]["device"],
    params:
        weights=FEATURE_CONFIG["cnnpca"]["embedding_weights"],
        download=FEATURE_CONFIG["cnnpca"]["download_weights"],
        weights_fallback=FEATURE_CONFIG["cnnpca"]["weights_fallback"],
        batch_size=FEATURE_CONFIG["cnnpca"]["batch_size"],
        image_size=FEATURE_CONFIG["cnnpca"]["image_size"],
        seed=config["seed"],
    script:
        "../workflow/scripts/cnn_embedding.py"


rule features_cnnpca:
    input:
        embedding="results/features/{dataset}/cnnembed.h5",
    output:
        features="results/features/{dataset}/cnnpca.h5",
    log:
        logpath("features_cnnpca", "dataset"),
    benchmark:
        benchpath("features_cnnpca", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 2
    resources:
        mem_mb=per_attempt(4000),
        runtime=per_attempt(10),
    params:
        n_components=lambda w: FEATURE_CONFIG["cnnpca"]["n_components"][w.dataset],
        seed=config["seed"],
    script:
        "../workflow/scripts/features_cnnpca.py"
