# Figures of the study: results/figures/{name}.png with a .pdf beside it.


# They take seconds: on a cluster they run where snakemake runs, not as SLURM jobs.
localrules:
    fig01_examples,
    fig02_histograms,
    fig03_psd,
    fig04_features,
    fig07_mucha,
    fig08_confusion,
    fig09_fraction,
    fig10_timing,
    figB12_pixel_pca,
    figB13_pca_scree,
    figB14_pca_confusion,
    figD18_zoo_rmse,
    figD19_zoo_r2,
    fig_sym_fraction,
    ch_energy,
    fig_uncertainty,


rule fig01_examples:
    input:
        data="results/data/{dataset}.h5",
    output:
        png=report(
            "results/figures/fig01_examples_{dataset}.png",
            caption="../workflow/report/fig01_examples.rst",
            category="Datasets",
            labels={"figure": "Fig. 1 examples", "dataset": "{dataset}"},
        ),
        pdf="results/figures/fig01_examples_{dataset}.pdf",
    log:
        logpath("fig01_examples", "dataset"),
    benchmark:
        benchpath("fig01_examples", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(4000),
        runtime=per_attempt(5),
    params:
        n_examples=STUDIES["n_examples"],
    script:
        "../workflow/scripts/plot_examples.py"


rule fig02_histograms:
    input:
        data=expand("results/data/{dataset}.h5", dataset=config["datasets"]),
    output:
        png=report(
            "results/figures/fig02_histograms.png",
            caption="../workflow/report/fig02_histograms.rst",
            category="Datasets",
            labels={"figure": "Fig. 2 label histograms", "dataset": "all"},
        ),
        pdf="results/figures/fig02_histograms.pdf",
    log:
        logpath("fig02_histograms"),
    benchmark:
        benchpath("fig02_histograms")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(5),
    params:
        datasets=config["datasets"],
    script:
        "../workflow/scripts/plot_histograms.py"


rule fig03_psd:
    input:
        data="results/data/{dataset}.h5",
    output:
        png=report(
            "results/figures/fig03_psd_{dataset}.png",
            caption="../workflow/report/fig03_psd.rst",
            category="Datasets",
            labels={"figure": "Fig. 3 radial PSD", "dataset": "{dataset}"},
        ),
        pdf="results/figures/fig03_psd_{dataset}.pdf",
    log:
        logpath("fig03_psd", "dataset"),
    benchmark:
        benchpath("fig03_psd", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(4000),
        runtime=per_attempt(5),
    params:
        n_images=3,
    script:
        "../workflow/scripts/plot_psd.py"


rule fig04_features:
    input:
        grad="results/features/{dataset}/grad.h5",
        physfeat1="results/features/{dataset}/physfeat1.h5",
    output:
        png=report(
            "results/figures/fig04_features_{dataset}.png",
            caption="../workflow/report/fig04_features.rst",
            category="Features",
            labels={"figure": "Fig. 4 features", "dataset": "{dataset}"},
        ),
        pdf="results/figures/fig04_features_{dataset}.pdf",
    log:
        logpath("fig04_features", "dataset"),
    benchmark:
        benchpath("fig04_features", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(5),
    script:
        "../workflow/scripts/plot_features.py"


rule fig07_mucha:
    input:
        channels="results/features/{dataset}/mucha.h5",
    output:
        png=report(
            "results/figures/fig07_mucha_{dataset}.png",
            caption="../workflow/report/fig07_mucha.rst",
            category="Features",
            labels={"figure": "Fig. 7 MuCha channels", "dataset": "{dataset}"},
        ),
        pdf="results/figures/fig07_mucha_{dataset}.pdf",
    log:
        logpath("fig07_mucha", "dataset"),
    benchmark:
        benchpath("fig07_mucha", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(4000),
        runtime=per_attempt(5),
    params:
        n_images=min(3, STUDIES["n_examples"]),
    script:
        "../workflow/scripts/plot_mucha.py"


rule fig08_confusion:
    input:
        metrics=lambda w: model_metrics(w.dataset, frac="1.0", seed=SEEDS[0]),
        predictions=lambda w: model_predictions(w.dataset, frac="1.0", seed=SEEDS[0]),
    output:
        png=report(
            "results/figures/fig08_confusion_{dataset}.png",
            caption="../workflow/report/fig08_confusion.rst",
            category="Fig. 8 confusion",
            labels={"figure": "Fig. 8 true vs predicted", "dataset": "{dataset}"},
        ),
        pdf="results/figures/fig08_confusion_{dataset}.pdf",
    log:
        logpath("fig08_confusion", "dataset"),
    benchmark:
        benchpath("fig08_confusion", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(5),
    params:
        models=MODEL_IDS,
        limits=lambda w: property_axis(w.dataset)["limits"],
        label=lambda w: property_axis(w.dataset)["label"],
    script:
        "../workflow/scripts/plot_confusion.py"


rule fig09_fraction:
    input:
        curves="results/studies/{dataset}/fraction.csv",
    output:
        png=report(
            "results/figures/fig09_fraction_{dataset}.png",
            caption="../workflow/report/fig09_fraction.rst",
            category="Training fraction and timing",
            labels={"figure": "Fig. 9 training fraction", "dataset": "{dataset}"},
        ),
        pdf="results/figures/fig09_fraction_{dataset}.pdf",
    log:
        logpath("fig09_fraction", "dataset"),
    benchmark:
        benchpath("fig09_fraction", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(5),
    script:
        "../workflow/scripts/plot_fraction.py"


rule fig_sym_fraction:
    input:
        table="results/tables/symmetry_{dataset}.csv",
    output:
        png=report(
            "results/figures/fig_sym_fraction_{dataset}.png",
            caption="../workflow/report/fig_sym_fraction.rst",
            category="Beyond the paper",
            labels={
                "figure": "symmetry-aware CNNs, training fraction",
                "dataset": "{dataset}",
            },
        ),
        pdf="results/figures/fig_sym_fraction_{dataset}.pdf",
    log:
        logpath("fig_sym_fraction", "dataset"),
    benchmark:
        benchpath("fig_sym_fraction", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(5),
    script:
        "../workflow/scripts/plot_sym_fraction.py"


rule fig10_timing:
    input:
        curves="results/studies/{dataset}/fraction.csv",
    output:
        png=report(
            "results/figures/fig10_timing_{dataset}.png",
            caption="../workflow/report/fig10_timing.rst",
            category="Training fraction and timing",
            labels={"figure": "Fig. 10 timing", "dataset": "{dataset}"},
        ),
        pdf="results/figures/fig10_timing_{dataset}.pdf",
    log:
        logpath("fig10_timing", "dataset"),
    benchmark:
        benchpath("fig10_timing", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(5),
    script:
        "../workflow/scripts/plot_timing.py"


rule figB12_pixel_pca:
    input:
        data="results/data/{dataset}.h5",
    output:
        png=report(
            "results/figures/figB12_pixel_pca_{dataset}.png",
            caption="../workflow/report/figB12_pixel_pca.rst",
            category="Appendix B: PCA",
            labels={"figure": "Fig. B.12 pixel PCA", "dataset": "{dataset}"},
        ),
        pdf="results/figures/figB12_pixel_pca_{dataset}.pdf",
    log:
        logpath("figB12_pixel_pca", "dataset"),
    benchmark:
        benchpath("figB12_pixel_pca", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(4000),
        runtime=per_attempt(10),
    params:
        seed=SEEDS[0],
    script:
        "../workflow/scripts/plot_pixel_pca.py"


rule figB13_pca_scree:
    input:
        scree="results/studies/{dataset}/pca_scree.csv",
        scores="results/studies/{dataset}/pca_scores.csv",
    output:
        png=report(
            "results/figures/figB13_pca_scree_{dataset}.png",
            caption="../workflow/report/figB13_pca_scree.rst",
            category="Appendix B: PCA",
            labels={"figure": "Fig. B.13 PCA components", "dataset": "{dataset}"},
        ),
        pdf="results/figures/figB13_pca_scree_{dataset}.pdf",
    log:
        logpath("figB13_pca_scree", "dataset"),
    benchmark:
        benchpath("figB13_pca_scree", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(5),
    script:
        "../workflow/scripts/plot_pca_scree.py"


rule figB14_pca_confusion:
    input:
        scores="results/studies/{dataset}/pca_scores.csv",
        predictions="results/studies/{dataset}/pca_predictions.csv",
    output:
        png=report(
            "results/figures/figB14_pca_confusion_{dataset}.png",
            caption="../workflow/report/figB14_pca_confusion.rst",
            category="Appendix B: PCA",
            labels={"figure": "Fig. B.14 PCA confusion", "dataset": "{dataset}"},
        ),
        pdf="results/figures/figB14_pca_confusion_{dataset}.pdf",
    log:
        logpath("figB14_pca_confusion", "dataset"),
    benchmark:
        benchpath("figB14_pca_confusion", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(5),
    params:
        components=STUDIES["pca"]["confusion_components"],
        limits=lambda w: property_axis(w.dataset)["limits"],
        label=lambda w: property_axis(w.dataset)["label"],
    script:
        "../workflow/scripts/plot_pca_confusion.py"


rule figD18_zoo_rmse:
    input:
        results=zoo_results,
    output:
        png=report(
            "results/figures/figD18_zoo_rmse.png",
            caption="../workflow/report/figD18_zoo_rmse.rst",
            category="Appendix D: scikit-learn regressors",
            labels={"figure": "Fig. D.18 regressors RMSE", "dataset": "all"},
        ),
        pdf="results/figures/figD18_zoo_rmse.pdf",
    log:
        logpath("figD18_zoo_rmse"),
    benchmark:
        benchpath("figD18_zoo_rmse")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(5),
    params:
        metric="rmse",
    script:
        "../workflow/scripts/plot_zoo.py"


rule figD19_zoo_r2:
    input:
        results=zoo_results,
    output:
        png=report(
            "results/figures/figD19_zoo_r2.png",
            caption="../workflow/report/figD19_zoo_r2.rst",
            category="Appendix D: scikit-learn regressors",
            labels={"figure": "Fig. D.19 regressors R2", "dataset": "all"},
        ),
        pdf="results/figures/figD19_zoo_r2.pdf",
    log:
        logpath("figD19_zoo_r2"),
    benchmark:
        benchpath("figD19_zoo_r2")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(5),
    params:
        metric="r2",
    script:
        "../workflow/scripts/plot_zoo.py"


rule ch_energy:
    input:
        run=f"results/sims/ch/run_{config['ch']['figure_run']}.h5",
    output:
        png=report(
            "results/figures/ch_energy.png",
            caption="../workflow/report/ch_energy.rst",
            category="Datasets",
            labels={"figure": "Fig. 1b CH energy", "dataset": "ch"},
        ),
        pdf="results/figures/ch_energy.pdf",
    log:
        logpath("ch_energy"),
    benchmark:
        benchpath("ch_energy")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(5),
    params:
        n_snapshots=3,
    script:
        "../workflow/scripts/plot_ch_energy.py"


rule fig_uncertainty:
    input:
        predictions=lambda w: model_predictions(w.dataset, frac="1.0", seed=SEEDS[0]),
        conformal=lambda w: model_conformal(w.dataset, frac="1.0", seed=SEEDS[0]),
    output:
        png=report(
            "results/figures/uncertainty_{dataset}.png",
            caption="../workflow/report/uncertainty.rst",
            category="Prediction intervals",
            labels={"figure": "intervals and coverage", "dataset": "{dataset}"},
        ),
        pdf="results/figures/uncertainty_{dataset}.pdf",
    log:
        logpath("fig_uncertainty", "dataset"),
    benchmark:
        benchpath("fig_uncertainty", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(5),
    params:
        models=MODEL_IDS,
        limits=lambda w: property_axis(w.dataset)["limits"],
        label=lambda w: property_axis(w.dataset)["label"],
        levels=UNCERTAINTY["levels"],
        n_bars=UNCERTAINTY["n_bars"],
    script:
        "../workflow/scripts/plot_uncertainty.py"
