# Feature sets (paper, section 3.1): one file per dataset and feature, aligned with the
# dataset's rows and carrying its split.


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
        feature="grad",
    resources:
        mem_mb=4000,
        runtime=10,
    script:
        "../workflow/scripts/features.py"
