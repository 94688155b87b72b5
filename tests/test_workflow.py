"""The workflow as a whole: dry-run job counts follow the config, one figure runs only what
it needs, the smoke run writes every figure and table, and the report builds."""

from __future__ import annotations

import base64
import json
import math
import re

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import REPO, SMOKE, assert_figure_drawn, copy_workflow, merged_config, snakemake
from snakemake.utils import validate

from microprop import studies

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"

# study -> outputs (independent of rules/common.smk on purpose); {d} = each dataset
STUDY_OUTPUTS = {
    "table2": [
        "results/tables/table2.csv",
        "results/tables/table2.md",
        "results/tables/table2.tex",
    ],
    "metrics": ["results/tables/metrics_{d}.csv"],
    "examples": ["results/figures/fig01_examples_{d}.png"],
    "histograms": ["results/figures/fig02_histograms.png"],
    "psd": ["results/figures/fig03_psd_{d}.png"],
    "features": ["results/figures/fig04_features_{d}.png"],
    "mucha": ["results/figures/fig07_mucha_{d}.png"],
    "confusion": ["results/figures/fig08_confusion_{d}.png"],
    "fraction": ["results/figures/fig09_fraction_{d}.png"],
    "timing": ["results/figures/fig10_timing_{d}.png"],
    "pixel_pca": ["results/figures/figB12_pixel_pca_{d}.png"],
    "pca_scree": ["results/figures/figB13_pca_scree_{d}.png"],
    "pca_confusion": ["results/figures/figB14_pca_confusion_{d}.png"],
    "zoo": ["results/figures/figD18_zoo_rmse.png", "results/figures/figD19_zoo_r2.png"],
    "symmetry": [
        "results/figures/fig_sym_fraction_{d}.png",
        "results/tables/symmetry_{d}.md",
    ],
    "uncertainty": [
        "results/tables/uncertainty.csv",
        "results/tables/uncertainty.md",
        "results/figures/uncertainty_{d}.png",
    ],
    "semisupervised": [
        "results/figures/latent_{d}.png",
        "results/figures/fig_semisupervised_{d}.png",
        "results/tables/semisupervised_{d}.md",
    ],
    "design": ["results/figures/design_ch.png", "results/tables/design_ch.md"],
    "runtime": ["results/tables/runtime.md", "results/tables/runtime.csv"],
}
PER_DATASET_FIGURES = {  # rule -> study that asks for it, one job per dataset
    "fig01_examples": "examples",
    "fig03_psd": "psd",
    "fig04_features": "features",
    "fig07_mucha": "mucha",
    "fig08_confusion": "confusion",
    "fig09_fraction": "fraction",
    "fig10_timing": "timing",
    "figB12_pixel_pca": "pixel_pca",
    "figB13_pca_scree": "pca_scree",
    "figB14_pca_confusion": "pca_confusion",
    "metrics_table": "metrics",
    "fig_sym_fraction": "symmetry",
    "symmetry_study": "symmetry",
    "fig_uncertainty": "uncertainty",
    "fig_latent": "semisupervised",
    "semisupervised_study": "semisupervised",
    "fig_semisupervised": "semisupervised",
}


def load_config(*overlays: str) -> dict:
    config = merged_config(*overlays)
    validate(config, str(SCHEMA))  # fills in the schema's defaults
    return config


def study_datasets(config: dict, study: str) -> list[str]:
    """The datasets a study runs on: its own `datasets` key narrows the config's."""
    chosen = (config["studies"].get(study) or {}).get("datasets", config["datasets"])
    return [d for d in config["datasets"] if d in chosen]


def expected_jobs(config: dict) -> dict[str, int]:
    """Jobs per rule (studies, figures, training; simulation where simple) from a config."""
    st, datasets = config["studies"], config["datasets"]
    targets, n_d = set(st["targets"]), len(datasets)
    jobs = {"all": 1, "assemble": n_d}
    for sharded in ("ising", "cfd"):
        if sharded in datasets:
            c = config[sharded]
            jobs[f"simulate_{sharded}"] = math.ceil(c["n_images"] / c["shard_size"])
    for rule, study in PER_DATASET_FIGURES.items():
        jobs[rule] = len(study_datasets(config, study)) if study in targets else 0
    jobs["table2"] = int("table2" in targets)
    jobs["runtime"] = int("runtime" in targets)
    jobs["uncertainty_table"] = int("uncertainty" in targets)
    jobs["fig02_histograms"] = int("histograms" in targets)
    jobs["figD18_zoo_rmse"] = jobs["figD19_zoo_r2"] = int("zoo" in targets)
    jobs["sklearn_zoo"] = n_d * len(st["zoo"]["features"]) if "zoo" in targets else 0
    jobs["fraction_study"] = n_d if targets & {"fraction", "timing"} else 0
    jobs["pca_study"] = n_d if targets & {"pca_scree", "pca_confusion"} else 0
    design = "design" in targets and "ch" in datasets
    jobs["design_study"] = jobs["fig_design"] = int(design)
    latent = "semisupervised" in targets or "latent-svr" in config["models"]["ids"]
    jobs["autoencoder"] = n_d if latent else int(design)
    trained = set()
    ids, seeds = config["models"]["ids"], st["seeds"]
    if targets & {"table2", "metrics", "uncertainty"}:
        trained |= {(d, m, 1.0, s) for d in datasets for m in ids for s in seeds}
    if "confusion" in targets:
        trained |= {(d, m, 1.0, seeds[0]) for d in datasets for m in ids}
    if targets & {"fraction", "timing", "metrics"}:
        fm, fr = st["fraction_models"], st["fractions"]
        trained |= {(d, m, float(f), s) for d in datasets for m in fm for f in fr for s in seeds}
    for name in ("symmetry", "semisupervised"):
        if name not in targets:
            continue
        sym, sym_datasets = st[name], study_datasets(config, name)
        for f in sym["fractions"]:
            f_seeds = sym["seeds"] if f <= sym["seeds_up_to"] else seeds
            trained |= {
                (d, m, float(f), s) for d in sym_datasets for m in sym["models"] for s in f_seeds
            }
        trained |= {(d, m, 1.0, s) for d in sym_datasets for m in sym["models"] for s in seeds}
    jobs["train_*"] = len(trained)
    return jobs


def job_counts(stdout: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    table = stdout.split("Job stats:")[1]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M))
    counts = {rule: int(n) for rule, n in counts.items()}
    total = counts.pop("total")
    assert sum(counts.values()) == total
    return counts


def dry_run(workdir, *args):
    return job_counts(snakemake(workdir, "-n", "--quiet", "rules", *args).stdout)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A copy of the workflow without any results."""
    return copy_workflow(tmp_path_factory.mktemp("fresh"))


@pytest.mark.parametrize("overlays", [(), ("config/paper.yaml",), (SMOKE,)], ids=str)
def test_dry_run_job_counts_match_the_config(fresh, overlays):
    config = load_config(*overlays)
    args = [a for o in overlays for a in ("--configfile", o)]
    counts = dry_run(fresh, *args)
    expected = expected_jobs(config)
    trained = sum(n for rule, n in counts.items() if rule.startswith("train_"))
    assert trained == expected.pop("train_*")
    for rule, n in expected.items():
        assert counts.get(rule, 0) == n, f"{rule}: {counts.get(rule, 0)} jobs, expected {n}"


@pytest.mark.parametrize(
    ("target", "known"),
    [
        ("results/models/ising/grad-pcr/frac1.0/seed0/metrics.json", True),
        ("results/models/ising/grad-pcr/frac1/seed0/metrics.json", False),  # one spelling
        ("results/models/ising/grad-pcr/frac0.1/seed0/metrics.json", True),
        ("results/models/ising/grad-pcr/frac0.10/seed0/metrics.json", False),
        ("results/sims/ch/run_{last_run}.h5", True),
        ("results/sims/ch/run_{n_runs}.h5", False),  # a run the config does not simulate
        ("results/sims/ising/shard_{last_shard}.h5", True),
        ("results/sims/ising/shard_{n_shards}.h5", False),
        ("results/sims/cfd/shard_{last_cfd_shard}.h5", True),
        ("results/sims/cfd/shard_{n_cfd_shards}.h5", False),
        ("results/features/ising/cnnpca.h5", True),
        ("results/features/ising/foo.h5", False),  # not a feature set
    ],
)
def test_wildcards_take_only_what_the_config_defines(fresh, target, known):
    config = load_config()
    n_shards = math.ceil(config["ising"]["n_images"] / config["ising"]["shard_size"])
    n_cfd = math.ceil(config["cfd"]["n_images"] / config["cfd"]["shard_size"])
    n_runs = config["ch"]["n_runs"]
    target = target.format(
        last_run=n_runs - 1,
        n_runs=n_runs,
        last_shard=n_shards - 1,
        n_shards=n_shards,
        last_cfd_shard=n_cfd - 1,
        n_cfd_shards=n_cfd,
    )
    proc = snakemake(fresh, "-n", "--", target, check=False)
    out = proc.stdout + proc.stderr
    if known:
        assert proc.returncode == 0 and "Job stats" in out, out[-2000:]
    else:
        assert proc.returncode != 0 and "MissingRuleException" in out, out[-2000:]


SCALE_MARKS = ("CPU budget", "workstation", "paper.yaml")


def scale_limited_keys(config_text: str) -> list[str]:
    r"""Dotted keys of config.yaml whose comment (inline, or the block right above the key)
    says the value is a workstation/CPU cap or points at config/paper.yaml.

    >>> scale_limited_keys("a:\n  b: 1 # CPU budget\n  # see paper.yaml\n  c: 2\n  d: 3\n")
    ['a.b', 'a.c']
    """
    keys, stack, block = [], [], ""
    for line in config_text.splitlines():
        stripped = line.strip()
        if not stripped:
            block = ""
            continue
        if stripped.startswith("#"):
            block += stripped
            continue
        indent = len(line) - len(line.lstrip())
        match = re.match(r"([A-Za-z0-9_]+):", stripped)
        if not match:  # a continuation of a list value
            continue
        stack = [(i, k) for i, k in stack if i < indent] + [(indent, match.group(1))]
        comment = line.split("#", 1)[1] if "#" in line else ""
        if any(mark in comment + block for mark in SCALE_MARKS):
            keys.append(".".join(k for _, k in stack))
        block = ""
    return keys


def test_paper_config_lifts_every_workstation_cap():
    """Each value config.yaml marks as a CPU/workstation cap is set again in paper.yaml
    (a new cap that the paper's scale forgets to lift fails here)."""
    keys = scale_limited_keys((REPO / "config/config.yaml").read_text())
    assert len(keys) >= 5, keys  # the parser still finds the caps
    paper = yaml.safe_load((REPO / "config/paper.yaml").read_text())
    missing = []
    for key in keys:
        node = paper
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            missing.append(key)
    assert not missing, f"config/paper.yaml does not set {missing}"


def test_one_figure_from_scratch_runs_only_what_it_needs(fresh):
    config = load_config(SMOKE)
    shards = math.ceil(config["ising"]["n_images"] / config["ising"]["shard_size"])
    counts = dry_run(fresh, "--configfile", SMOKE, "--", "results/figures/fig02_histograms.png")
    expected = {
        "simulate_ising": shards,
        "assemble": len(config["datasets"]),
        "fig02_histograms": 1,
    }
    if "ch" in config["datasets"]:
        expected["simulate_ch"] = config["ch"]["n_runs"]
    if "cfd" in config["datasets"]:
        expected["simulate_cfd"] = math.ceil(
            config["cfd"]["n_images"] / config["cfd"]["shard_size"]
        )
    assert counts == expected


@pytest.mark.workflow
def test_rebuilding_one_figure_after_a_run(smoke_run):
    config = load_config(SMOKE)
    fig09 = "results/figures/fig09_fraction_ising.png"
    assert dry_run(
        smoke_run, "--configfile", SMOKE, "--forcerun", "fig09_fraction", "--", fig09
    ) == {"fig09_fraction": 1}
    # retraining the fraction-study models reruns them, the aggregate and this figure only
    st = config["studies"]
    pcr = [m for m in st["fraction_models"] if m.endswith("-pcr")]
    n_models = len(pcr) * len(st["fractions"]) * len(st["seeds"])
    assert n_models, "the smoke fraction study should include a PCR model"
    counts = dry_run(smoke_run, "--configfile", SMOKE, "--forcerun", "train_pcr", "--", fig09)
    assert counts == {"train_pcr": n_models, "fraction_study": 1, "fig09_fraction": 1}


# Settings that change no result (how often a log reports, the torch device, thread
# counts): a finished run has nothing to redo after changing them.
NOT_RESULT_SETTINGS = """
ch:
  progress_every: 7
features:
  cnnpca:
    device: cpu
models:
  svr:
    threads: 1
  cnn:
    device: cpu
"""


def test_cluster_resources_grow_with_the_retry_attempt():
    """Every rule's memory and runtime go through per_attempt (doubled on each retry), and
    the SLURM profile retries a failed job."""
    lines = []
    for smk in sorted((REPO / "rules").glob("*.smk")):
        text = smk.read_text()
        for m in re.finditer(r"^\s+(mem_mb|runtime)=(.*)$", text, flags=re.M):
            if not m.group(2).startswith("per_attempt("):
                lines.append(f"{smk.name}: {m.group(0).strip()}")
    assert not lines, lines
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    assert profile["retries"] >= 1


def leaves(overlay: dict, base: dict, path: tuple = ()):
    """(dotted key, base value, overlay value) for every leaf of an overlay."""
    for key, value in overlay.items():
        if isinstance(value, dict):
            yield from leaves(value, base[key], (*path, key))
        else:
            yield ".".join((*path, key)), base[key], value


@pytest.mark.workflow
def test_settings_that_change_no_result_rerun_nothing(smoke_run, tmp_path):
    overlay = tmp_path / "not_results.yaml"
    overlay.write_text(NOT_RESULT_SETTINGS)
    for key, old, new in leaves(yaml.safe_load(NOT_RESULT_SETTINGS), merged_config(SMOKE)):
        assert old != new, key  # each setting is a real change
    proc = snakemake(smoke_run, "-n", "--configfile", SMOKE, str(overlay))
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-3000:]


def smoke_targets():
    config = load_config(SMOKE)
    return [
        p.format(d=d)
        for study in config["studies"]["targets"]
        for p in STUDY_OUTPUTS[study]
        for d in study_datasets(config, study)
    ]


@pytest.mark.workflow
def test_smoke_run_writes_every_figure_and_table(smoke_run):
    missing = [p for p in dict.fromkeys(smoke_targets()) if not (smoke_run / p).is_file()]
    assert not missing
    for png in (smoke_run / "results/figures").glob("*.png"):
        assert_figure_drawn(png)
        assert png.with_suffix(".pdf").read_bytes().startswith(b"%PDF"), png
    # nothing left to do
    assert "Nothing to be done" in snakemake(smoke_run, "-n", "--configfile", SMOKE).stdout


def same_pixels(png_a, png_b) -> bool:
    import matplotlib.image

    a, b = matplotlib.image.imread(png_a), matplotlib.image.imread(png_b)
    return a.shape == b.shape and np.array_equal(a, b)


@pytest.mark.workflow
@pytest.mark.parametrize("dataset", ["ising", "ch"])
def test_fig09_shows_its_datasets_fraction_curves(smoke_run, dataset, tmp_path):
    """fraction.csv holds the mean test RMSE of the models' metrics.json over seeds; the
    figure's lines are those values; and the workflow's PNG is, pixel for pixel, that
    figure (so a figure of another dataset, column or file fails)."""
    from microprop.plots import save_figure
    from microprop.plots.fraction import fraction_figure

    curves = pd.read_csv(smoke_run / f"results/studies/{dataset}/fraction.csv")
    models = smoke_run / "results/models" / dataset
    seeds = load_config(SMOKE)["studies"]["seeds"]
    for row in curves.itertuples():
        runs = [models / f"{row.model}/frac{float(row.frac)}/seed{s}" for s in seeds]
        rmse = [json.loads((run / "metrics.json").read_text())["rmse"] for run in runs]
        assert row.n_seeds == len(seeds) and np.mean(rmse) == pytest.approx(row.rmse_mean)
    fig = fraction_figure(curves, title=dataset)
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert set(lines) == set(curves["model"])
    for model, group in curves.groupby("model"):
        group = group.sort_values("frac")
        np.testing.assert_allclose(lines[model].get_xdata(), 100 * group["frac"])
        np.testing.assert_allclose(lines[model].get_ydata(), group["rmse_mean"])
    save_figure(fig, tmp_path / "fig09.png")
    assert same_pixels(
        smoke_run / f"results/figures/fig09_fraction_{dataset}.png", tmp_path / "fig09.png"
    )


@pytest.mark.workflow
@pytest.mark.parametrize("dataset", ["ising", "ch"])
def test_fig08_shows_each_models_test_predictions(smoke_run, dataset, tmp_path):
    """Each panel of Fig. 8 is titled by a model and scatters that model's predictions.csv
    (true, predicted) of the first seed at fraction 1; the workflow's PNG is that figure."""
    from microprop.plots import save_figure
    from microprop.plots.confusion import confusion_figure, paper_panels

    config = load_config(SMOKE)
    results = {}
    for model in config["models"]["ids"]:
        run = smoke_run / f"results/models/{dataset}/{model}/frac1.0/seed0"
        metrics = json.loads((run / "metrics.json").read_text())
        results[model] = (pd.read_csv(run / "predictions.csv"), metrics)
    limits = (0, config["ising"]["label_max"]) if dataset == "ising" else None
    label = "temperature label" if dataset == "ising" else "energy"
    fig = confusion_figure(paper_panels(results), limits=limits, label=label)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == len(results) - 2  # grad-svr, grad-pcr drawn on physfeat1 panels
    for ax in panels:
        model = ax.get_title()
        shown = {model: ax.collections[-1]}  # the panel's own model, drawn last
        if model.startswith("physfeat1-"):  # its grad twin in red underneath
            shown[model.replace("physfeat1-", "grad-")] = ax.collections[0]
        for name, scatter in shown.items():
            table = results[name][0]
            np.testing.assert_allclose(scatter.get_offsets(), table[["true", "predicted"]])
    save_figure(fig, tmp_path / "fig08.png")
    assert same_pixels(
        smoke_run / f"results/figures/fig08_confusion_{dataset}.png", tmp_path / "fig08.png"
    )


@pytest.mark.workflow
@pytest.mark.parametrize("dataset", ["ising", "ch"])
def test_models_below_fraction_one_score_the_same_max_test_images(smoke_run, dataset):
    max_test = load_config(SMOKE)["studies"]["max_test"][dataset]
    models = smoke_run / "results/models" / dataset

    def predictions(path):
        return pd.read_csv(models / path / "predictions.csv")

    full, part = predictions("grad-pcr/frac1.0/seed0"), predictions("grad-pcr/frac0.5/seed0")
    assert 0 < max_test < len(full), "the smoke config must exercise the subset"
    assert np.isin(part["index"], full["index"]).all()
    # evenly spaced: exactly max_test; stratified: at most that many
    assert len(part) == max_test if dataset == "ising" else len(part) <= max_test
    assert part["weight"].sum() == pytest.approx(len(full))  # they stand for every image
    for other in ("grad-pcr/frac0.1/seed0", "resnet18-sym/frac0.5/seed1"):
        assert np.array_equal(predictions(other)["index"], part["index"]), other
    metrics = json.loads((models / "resnet18-sym/frac0.5/seed1/metrics.json").read_text())
    table = predictions("resnet18-sym/frac0.5/seed1")
    err = table["predicted"] - table["true"]
    weighted = np.sqrt(np.average(err**2, weights=table["weight"]))
    assert metrics["rmse"] == pytest.approx(weighted) and metrics["n_test_split"] == len(full)
    if dataset == "ch":  # stratified: the first snapshot of each test run is scored
        with h5py.File(smoke_run / "results/data/ch.h5") as f:
            steps = f["step"][()][part["index"]]
        assert (steps == steps.min()).sum() == 2 and len(part) < len(full)


@pytest.mark.workflow
def test_svr_searches_leave_whole_ch_runs_out(smoke_run):
    """CH's SVR CV folds are its training runs (models.svr.cv_by_run); Ising has no runs."""
    config = load_config(SMOKE)
    train_runs = config["ch"]["n_runs"] - config["ch"]["n_test_runs"]
    assert train_runs >= 2, "the smoke config must give the CV two runs to leave out"
    for dataset, groups in (("ising", 0), ("ch", train_runs)):
        for model in ("grad-svr", "physfeat2-svr"):  # grid CV and TPE search
            path = smoke_run / f"results/models/{dataset}/{model}/frac1.0/seed0/metrics.json"
            cv = json.loads(path.read_text())["cv"]
            assert cv["cv_groups"] == groups, (dataset, model)
            if groups:
                assert cv["cv_folds"] == min(groups, config["models"]["svr"]["cv_folds"])


@pytest.mark.workflow
def test_ch_cnns_validate_on_whole_training_runs(smoke_run):
    """models.cnn.val_by_run: a CH CNN names its validation run, a training run, and its
    calibration set is that run's training images; uncertainty.split_by_run (on in the
    smoke config): MuCha's split part is a whole training run likewise (named
    calibration_runs). Ising names neither."""
    config = load_config(SMOKE)
    assert config["models"]["cnn"]["val_by_run"] and config["uncertainty"]["split_by_run"]
    with h5py.File(smoke_run / "results/data/ch.h5") as f:
        runs, split = f["run"][()], f["split"][()]
    train_runs = set(np.unique(runs[split == b"train"]).tolist())
    expected = {
        ("ch", "resnet18"): ("validation_runs", "validation"),
        ("ch", "mucha-resnet34"): ("calibration_runs", "split"),
        ("ising", "resnet18"): (None, None),
        ("ising", "mucha-resnet34"): (None, None),
    }
    for (dataset, model), (key, method) in expected.items():
        folder = smoke_run / f"results/models/{dataset}/{model}/frac1.0/seed0"
        metrics = json.loads((folder / "metrics.json").read_text())
        if key is None:
            assert not {"validation_runs", "calibration_runs"} & set(metrics), (dataset, model)
            continue
        (held_out,) = metrics[key]
        assert held_out in train_runs
        with np.load(folder / "conformal.npz") as cal:
            rows = cal[f"{method}_index"]
        assert len(rows) and set(runs[rows].tolist()) == {held_out}, (dataset, model)


@pytest.mark.workflow
def test_augmented_cnns_train_on_their_datasets_symmetry_group(smoke_run):
    """models.cnn.augment and models.mucha.augment (the smoke config: ch for both, cfd for
    MuCha): CH's resnet18 and MuCha train on D4 and periodic shifts (MuCha recomputing its
    channels), Ising's on the images as they are, the -sym model keeps its own group; Table
    2 says which rows were trained on moved images."""
    config = load_config(SMOKE)
    assert (
        "ch" in config["models"]["cnn"]["augment"] and "ch" in config["models"]["mucha"]["augment"]
    )
    channels = {"wavelet": "sym4", "rescale_image": False}
    expected = {
        ("ch", "resnet18"): {"group": "square"},
        ("ch", "mucha-resnet34"): {"group": "square", "channels": channels},
        ("ch", "resnet18-sym"): None,
        ("ising", "resnet18"): None,
        ("ising", "mucha-resnet34"): None,
    }
    for (dataset, model), spec in expected.items():
        path = smoke_run / f"results/models/{dataset}/{model}/frac1.0/seed0/metrics.json"
        hyper = json.loads(path.read_text())["hyperparameters"]
        assert hyper.get("augment") == spec, (dataset, model, hyper.get("augment"))
    md = (smoke_run / "results/tables/table2.md").read_text()
    ch = md.split("## ch")[1].split("## ")[0]
    assert re.search(r"^\| resnet18 +\|.*square symmetries", ch, flags=re.M)


@pytest.mark.workflow
def test_table2_lists_every_model(smoke_run):
    config = load_config(SMOKE)
    md = (smoke_run / "results/tables/table2.md").read_text()
    for dataset in config["datasets"]:
        assert f"## {dataset}" in md
    for model in config["models"]["ids"]:
        beyond = " ‡" if model in studies.BEYOND_PAPER else ""
        assert re.search(rf"^\| {re.escape(model + beyond)} +\|", md, flags=re.M), model
    assert "paper RMSE" in md


def report_entries(html: str) -> dict:
    """The report's embedded results: {path: {labels, caption, data_uri, ...}}."""
    start = re.search(r"var results = (?=\{\")", html)
    assert start, "no embedded results in the report"
    return json.JSONDecoder().raw_decode(html, start.end())[0]


@pytest.mark.workflow
def test_report_holds_every_figure_and_the_table2_values(smoke_run):
    snakemake(smoke_run, "--configfile", SMOKE, "--report", "results/report.html")
    html = (smoke_run / "results/report.html").read_text()
    entries = report_entries(html)
    config = load_config(SMOKE)
    for path in dict.fromkeys(smoke_targets()):
        if path.endswith(".png"):
            assert path in entries, f"{path} missing from the report"
            assert entries[path]["caption"].strip() and "figure" in entries[path]["labels"]
    # the embedded Table 2 is the run's, value for value
    data = entries["results/tables/table2.csv"]["data_uri"].split("base64,", 1)[1]
    embedded = base64.b64decode(data).decode()
    table = (smoke_run / "results/tables/table2.csv").read_text()
    assert embedded == table
    for model in config["models"]["ids"]:
        assert model in embedded
    # the workflow description and captions quote this run's config, not fixed numbers
    assert f"{config['ising']['n_images']} images" in html
    if "ch" in config["datasets"]:
        caption = entries["results/figures/ch_energy.png"]["caption"]
        assert f"({config['ch']['part1_steps']} steps" in caption, caption


@pytest.mark.parametrize("datasets", [["ising", "ch"], ["cfd"], ["ising", "ch", "cfd"]], ids=str)
def test_report_front_page_describes_only_the_datasets_of_the_run(datasets):
    """Issue 44: the front page described the cfd dataset in a run without cfd. Rendered
    as `snakemake --report` renders it (jinja2 with trim_blocks and lstrip_blocks)."""
    import jinja2
    from docutils.core import publish_parts

    config = load_config(SMOKE)
    config["datasets"] = datasets
    text = (REPO / "workflow/report/workflow.rst").read_text()
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    rst = env.from_string(text).render(snakemake=type("S", (), {"config": config}))
    html = publish_parts(rst, writer="html", settings_overrides={"report_level": 2})
    shown = re.findall(r"<em>(ising|ch|cfd)</em>", html["html_body"])
    assert shown == datasets, shown
    assert "runtime" in config["studies"]["targets"]  # the run-time table is named (issue 42)
    assert "results/tables/runtime.md" in html["html_body"]
    config["studies"]["targets"] = ["table2"]
    rst = env.from_string(text).render(snakemake=type("S", (), {"config": config}))
    assert "runtime.md" not in rst
