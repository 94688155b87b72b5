# Figures of the study: results/figures/{name}.png with a .pdf beside it.


rule fig08_confusion:
    input:
        metrics=lambda w: model_metrics(w.dataset),
    output:
        png=report(
            "results/figures/fig08_confusion_{dataset}.png",
            caption="../workflow/report/fig08_confusion.rst",
            category="Fig. 8 confusion",
        ),
        pdf="results/figures/fig08_confusion_{dataset}.pdf",
    log:
        logpath("fig08_confusion", "dataset"),
    benchmark:
        benchpath("fig08_confusion", "dataset")
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        models=MODEL_IDS,
        label_max=config["ising"]["label_max"],
    script:
        "../workflow/scripts/plot_confusion.py"
