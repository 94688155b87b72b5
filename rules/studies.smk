# The paper's studies (section 4, Appendices B-D): tables and the aggregated data behind
# the figures. Aggregates go to results/studies/{dataset}/, tables to results/tables/.


# Tables take seconds: on a cluster they run where snakemake runs, not as SLURM jobs.
localrules:
    table2,
    metrics_table,
    symmetry_study,
    uncertainty_table,
    runtime,


rule table2:
    input:
        metrics=table2_metrics,
    output:
        csv=report(
            "results/tables/table2.csv",
            caption="../workflow/report/table2.rst",
            category="Tables",
            labels={"table": "Table 2", "format": "csv"},
        ),
        md=report(
            "results/tables/table2.md",
            caption="../workflow/report/table2.rst",
            category="Tables",
            labels={"table": "Table 2", "format": "md"},
        ),
        tex=report(
            "results/tables/table2.tex",
            caption="../workflow/report/table2.rst",
            category="Tables",
            labels={"table": "Table 2", "format": "tex"},
        ),
    log:
        logpath("table2"),
    benchmark:
        benchpath("table2")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(5),
    params:
        models=MODEL_IDS,
    script:
        "../workflow/scripts/table2.py"


rule metrics_table:
    input:
        metrics=lambda w: all_metrics(w.dataset),
    output:
        csv=report(
            "results/tables/metrics_{dataset}.csv",
            caption="../workflow/report/metrics_table.rst",
            category="Tables",
            labels={"table": "metrics of every model", "format": "{dataset}.csv"},
        ),
    log:
        logpath("metrics_table", "dataset"),
    benchmark:
        benchpath("metrics_table", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(5),
    script:
        "../workflow/scripts/metrics_table.py"


rule fraction_study:
    input:
        metrics=lambda w: fraction_metrics(w.dataset),
    output:
        csv="results/studies/{dataset}/fraction.csv",
    log:
        logpath("fraction_study", "dataset"),
    benchmark:
        benchpath("fraction_study", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(5),
    script:
        "../workflow/scripts/fraction_study.py"


rule symmetry_study:
    input:
        metrics=lambda w: small_data_metrics(w.dataset, "symmetry"),
    output:
        csv="results/tables/symmetry_{dataset}.csv",
        md=report(
            "results/tables/symmetry_{dataset}.md",
            caption="../workflow/report/symmetry_table.rst",
            category="Beyond the paper",
            labels={"table": "symmetry-aware CNNs", "dataset": "{dataset}"},
        ),
    log:
        logpath("symmetry_study", "dataset"),
    benchmark:
        benchpath("symmetry_study", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(5),
    script:
        "../workflow/scripts/symmetry_study.py"


rule sklearn_zoo:
    input:
        features="results/features/{dataset}/{feature}.h5",
    output:
        csv="results/studies/{dataset}/zoo_{feature}.csv",
    log:
        logpath("sklearn_zoo", "dataset", "feature"),
    benchmark:
        benchpath("sklearn_zoo", "dataset", "feature")
    wildcard_constraints:
        feature="[a-z0-9]+",
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(4000),
        runtime=per_attempt(60),
    params:
        regressors=STUDIES["zoo"]["regressors"],
        max_train=STUDIES["zoo"]["max_train"],
        seed=SEEDS[0],
    script:
        "../workflow/scripts/sklearn_zoo.py"


rule pca_study:
    input:
        embedding="results/features/{dataset}/cnnembed.h5",
        # the cnnpca-svr model of Table 2: its chosen C, gamma, epsilon are reused
        model=lambda w: model_metrics(w.dataset, ["cnnpca-svr"], "1.0", SEEDS[0])[0],
    output:
        scree="results/studies/{dataset}/pca_scree.csv",
        scores="results/studies/{dataset}/pca_scores.csv",
        predictions="results/studies/{dataset}/pca_predictions.csv",
    log:
        logpath("pca_study", "dataset"),
    benchmark:
        benchpath("pca_study", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(4000),
        runtime=per_attempt(60),
    params:
        components=STUDIES["pca"]["components"],
        max_train=STUDIES["pca"]["max_train"],
        seed=SEEDS[0],
    script:
        "../workflow/scripts/pca_study.py"


rule uncertainty_table:
    input:
        metrics=table2_metrics,
    output:
        csv=report(
            "results/tables/uncertainty.csv",
            caption="../workflow/report/uncertainty_table.rst",
            category="Tables",
            labels={"table": "prediction intervals", "format": "csv"},
        ),
        md=report(
            "results/tables/uncertainty.md",
            caption="../workflow/report/uncertainty_table.rst",
            category="Tables",
            labels={"table": "prediction intervals", "format": "md"},
        ),
    log:
        logpath("uncertainty_table"),
    benchmark:
        benchpath("uncertainty_table")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(5),
    script:
        "../workflow/scripts/uncertainty_table.py"


rule runtime:
    input:
        targets=runtime_inputs,  # every other target: this job comes last
    output:
        md=report(
            "results/tables/runtime.md",
            caption="../workflow/report/runtime.rst",
            category="Run time",
            labels={"table": "run time", "format": "md"},
        ),
        csv="results/tables/runtime.csv",
        jobs="results/tables/runtime_jobs.csv",
    log:
        logpath("runtime"),
    benchmark:
        benchpath("runtime")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(5),
    params:
        dag=DAG_RECORD,  # not an input: written by the run itself, when it starts
        root=".",
    script:
        "../workflow/scripts/runtime.py"
