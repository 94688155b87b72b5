# Beyond the paper (issue 19): a periodic convolutional autoencoder trained on the
# training images without labels gives the feature set `latent` (and the model
# latent-svr, rules/models.smk); the semi-supervised study compares latent-svr with
# physfeat2-svr and resnet18 at few labels; the design study searches the CH latent
# space for target energies and checks the designs with the CH energy functional.

LATENT_CONFIG = config["features"]["latent"]
SEMI_CONFIG = STUDIES["semisupervised"]
DESIGN_CONFIG = STUDIES["design"]


localrules:
    semisupervised_study,


rule autoencoder:
    input:
        data="results/data/{dataset}.h5",
    output:
        features="results/features/{dataset}/latent.h5",
        codes="results/features/{dataset}/latent_codes.h5",
        model="results/features/{dataset}/autoencoder.pt",
        summary="results/features/{dataset}/autoencoder.json",
    log:
        logpath("autoencoder", "dataset"),
    benchmark:
        benchpath("autoencoder", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: LATENT_CONFIG["threads"]
    resources:
        mem_mb=per_attempt(4000),
        runtime=per_attempt(60),
    params:
        options={
            k: LATENT_CONFIG[k]
            for k in (
                "latent_size",
                "channels",
                "max_epochs",
                "batch_size",
                "lr",
                "patience",
                "val_fraction",
                "val_by_run",
                "augment",
                "max_train",
            )
        },
        pooling={k: LATENT_CONFIG[k] for k in ("pooling", "shift_step", "stage_means")},
        seed=config["seed"],
    script:
        "../workflow/scripts/train_autoencoder.py"


rule fig_latent:
    input:
        data="results/data/{dataset}.h5",
        model="results/features/{dataset}/autoencoder.pt",
        summary="results/features/{dataset}/autoencoder.json",
    output:
        png=report(
            "results/figures/latent_{dataset}.png",
            caption="../workflow/report/fig_latent.rst",
            category="Beyond the paper",
            labels={"figure": "autoencoder reconstructions", "dataset": "{dataset}"},
        ),
        pdf="results/figures/latent_{dataset}.pdf",
    log:
        logpath("fig_latent", "dataset"),
    benchmark:
        benchpath("fig_latent", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(5),
    params:
        n_images=STUDIES["n_examples"],
    script:
        "../workflow/scripts/plot_latent.py"


rule semisupervised_study:
    input:
        metrics=lambda w: small_data_metrics(w.dataset, "semisupervised"),
    output:
        csv="results/tables/semisupervised_{dataset}.csv",
        md=report(
            "results/tables/semisupervised_{dataset}.md",
            caption="../workflow/report/semisupervised_table.rst",
            category="Beyond the paper",
            labels={"table": "semi-supervised latent-svr", "dataset": "{dataset}"},
        ),
    log:
        logpath("semisupervised_study", "dataset"),
    benchmark:
        benchpath("semisupervised_study", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(5),
    params:
        compared=SEMI_CONFIG["compared"],
        baseline=SEMI_CONFIG["baseline"],
    script:
        "../workflow/scripts/symmetry_study.py"


rule fig_semisupervised:
    input:
        table="results/tables/semisupervised_{dataset}.csv",
    output:
        png=report(
            "results/figures/fig_semisupervised_{dataset}.png",
            caption="../workflow/report/fig_semisupervised.rst",
            category="Beyond the paper",
            labels={"figure": "semi-supervised latent-svr", "dataset": "{dataset}"},
        ),
        pdf="results/figures/fig_semisupervised_{dataset}.pdf",
    log:
        logpath("fig_semisupervised", "dataset"),
    benchmark:
        benchpath("fig_semisupervised", "dataset")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(5),
    script:
        "../workflow/scripts/plot_sym_fraction.py"


rule design_study:
    input:
        data="results/data/ch.h5",
        codes="results/features/ch/latent_codes.h5",
        model="results/features/ch/autoencoder.pt",
    output:
        csv="results/tables/design_ch.csv",
        md=report(
            "results/tables/design_ch.md",
            caption="../workflow/report/design_table.rst",
            category="Beyond the paper",
            labels={"table": "inverse design", "dataset": "ch"},
        ),
        fields="results/studies/ch/design_fields.npz",
        summary="results/studies/ch/design.json",
    log:
        logpath("design_study"),
    benchmark:
        benchpath("design_study")
    conda:
        "../envs/microprop.yaml"
    threads: DESIGN_CONFIG["threads"]
    resources:
        mem_mb=per_attempt(4000),
        runtime=per_attempt(60),
    params:
        options={k: v for k, v in DESIGN_CONFIG.items() if k != "threads"},
        ch=result_config("ch"),
        seed=config["seed"],
    script:
        "../workflow/scripts/design_study.py"


rule fig_design:
    input:
        csv="results/tables/design_ch.csv",
        fields="results/studies/ch/design_fields.npz",
    output:
        png=report(
            "results/figures/design_ch.png",
            caption="../workflow/report/fig_design.rst",
            category="Beyond the paper",
            labels={"figure": "inverse design", "dataset": "ch"},
        ),
        pdf="results/figures/design_ch.pdf",
    log:
        logpath("fig_design"),
    benchmark:
        benchpath("fig_design")
    conda:
        "../envs/microprop.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(5),
    script:
        "../workflow/scripts/plot_design.py"
