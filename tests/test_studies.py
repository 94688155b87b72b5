"""Unit tests of the studies (Table 2, fraction/timing aggregation, zoo, PCA) and their plots."""

import json
import re

import matplotlib
import numpy as np
import pandas as pd
import pytest
from helpers import REPO, assert_figure_drawn

from microprop.io import TEST, TRAIN, Dataset
from microprop.plots import save_figure
from microprop.plots.confusion import confusion_figure, paper_panels
from microprop.studies import (
    PAPER_TABLE2,
    ZOO_REGRESSORS,
    collect_metrics,
    fraction_curves,
    pca_study,
    pixel_pca,
    run_zoo,
    table2,
    table2_latex,
    table2_markdown,
)


def write_metrics(root, dataset, model, frac, seed, rmse, r2, n_train=100, n_test=50):
    d = root / dataset / model / f"frac{frac}" / f"seed{seed}"
    d.mkdir(parents=True)
    m = {
        "rmse": rmse, "r2": r2, "mae": rmse / 2, "n_train": n_train, "n_test": n_test,
        "frac": frac, "seed": seed, "model": model, "dataset": dataset,
        "seconds": {"features": 4.0, "train": 1.0, "predict": 0.5}, "hyperparameters": {},
    }  # fmt: skip
    (d / "metrics.json").write_text(json.dumps(m))
    return d / "metrics.json"


@pytest.fixture
def metrics(tmp_path):
    paths = []
    for seed, rmse in ((0, 10.0), (1, 12.0)):
        for frac, scale in ((0.1, 2.0), (1.0, 1.0)):
            n = int(1000 * frac)
            paths.append(write_metrics(tmp_path, "ising", "grad-pcr", frac, seed, rmse * scale,
                                       0.9, n_train=n, n_test=100))  # fmt: skip
    paths.append(write_metrics(tmp_path, "ising", "my-new-model", 1.0, 0, 5.0, 0.99))
    paths.append(write_metrics(tmp_path, "ch", "grad-pcr", 1.0, 0, 300.0, 0.7))
    return collect_metrics(paths)


def test_table2_means_over_seeds_and_compares_with_the_paper(metrics):
    t = table2(metrics, models=["my-new-model", "grad-pcr"])
    assert list(t["model"][t["dataset"] == "ising"]) == ["my-new-model", "grad-pcr"]
    row = t[(t.dataset == "ising") & (t.model == "grad-pcr")].iloc[0]
    assert row.rmse == 11.0 and row.n_seeds == 2
    assert row.rmse_std == pytest.approx(np.std([10.0, 12.0], ddof=1))
    assert row.paper_rmse == PAPER_TABLE2["ising"]["grad-pcr"][0]
    assert row.rmse_diff == pytest.approx(11.0 - 16.3)
    new = t[t.model == "my-new-model"].iloc[0]  # a model the paper does not have: no numbers
    assert np.isnan(new.paper_rmse) and np.isnan(new.rmse_diff)


def test_table2_markdown_and_latex_list_every_model_and_compare_ch(metrics):
    t = table2(metrics)
    md, tex = table2_markdown(t), table2_latex(t)
    for model in ("grad-pcr", "my-new-model"):
        assert f"| {model} " in md and model in tex
    assert "11.00 ± 1.41" in md and "$\\pm$" in tex
    assert "## ch" in md and "reference only" not in md  # CH labels on the paper's scale
    ch = t[t.dataset == "ch"].iloc[0]
    assert ch.paper_rmse == 337.0 and ch.rmse_diff == pytest.approx(300.0 - 337.0)
    assert tex.count("\\\\") == len(t) + 1  # header + one row per model


def test_table2_names_the_worst_ch_step_group(tmp_path):
    """CH metrics with RMSE per step group: Table 2 names the group with the largest
    mean RMSE over the seeds, and its markdown says so under the CH section."""
    paths = []
    for seed, first in ((0, 800.0), (1, 900.0)):
        path = write_metrics(tmp_path, "ch", "physfeat2-svr", 1.0, seed, 50.0, 0.99)
        m = json.loads(path.read_text())
        m["rmse_by_step_group"] = {
            "steps 1-9": {"rmse": first, "n_test": 18},
            "part 2": {"rmse": 5.0, "n_test": 2000},
        }
        path.write_text(json.dumps(m))
        paths.append(path)
    paths.append(write_metrics(tmp_path, "ising", "grad-pcr", 1.0, 0, 10.0, 0.9))
    t = table2(collect_metrics(paths)).set_index("model")
    assert t.loc["physfeat2-svr", "worst_step_group"] == "steps 1-9 (850)"
    assert t.loc["grad-pcr", "worst_step_group"] == ""
    md = table2_markdown(t.reset_index())
    assert "Largest error by step group (RMSE): physfeat2-svr: steps 1-9 (850)." in md
    assert md.count("Largest error by step group") == 1  # CH only


def write_full(root, model, n_train, **extra):
    path = write_metrics(root, "ising", model, 1.0, 0, 10.0, 0.9, n_train=n_train)
    m = json.loads(path.read_text())
    m.update(extra)
    path.write_text(json.dumps(m))
    return path


def test_table2_says_how_each_row_was_trained_and_marks_rows_below_the_papers_scale(tmp_path):
    paths = [
        write_full(tmp_path, "grad-pcr", 49000),
        write_full(tmp_path, "physfeat2-svr", 49000, n_trials=64,
                   cv={"method": "tpe", "n_trials": 64}),
        write_full(tmp_path, "grad-svr", 9000, n_trials=8, cv={"method": "grid"}),
        write_full(tmp_path, "physfeat1-svr", 49000, n_trials=0, cv=None,
                   hyperparameters={"method": "fixed"}),
        write_full(tmp_path, "resnet18", 2000, epochs_run=14, max_epochs=30, best_epoch=9,
                   flag="did not learn: budget too small"),
    ]  # fmt: skip
    t = table2(collect_metrics(paths)).set_index("model")
    assert (
        t.loc["grad-pcr", "trained"] == "49,000 img"
        and t.loc["grad-pcr", "below_paper_scale"] == ""
    )
    assert t.loc["physfeat2-svr", "trained"] == "49,000 img, 64 trials"
    assert "64 < 1024 trials" in t.loc["physfeat2-svr", "below_paper_scale"]
    assert t.loc["grad-svr", "trained"] == "9,000 img, CV grid of 8"
    assert "9,000 < 49,000 images" in t.loc["grad-svr", "below_paper_scale"]
    assert t.loc["physfeat1-svr", "trained"] == "49,000 img, fixed C, gamma, epsilon"
    assert t.loc["resnet18", "trained"] == "2,000 img, 14/30 ep (best 9)"
    assert "epoch cap 30 < 100" in t.loc["resnet18", "below_paper_scale"]
    md = table2_markdown(t.reset_index())
    assert "| 49,000 img " in md and "49,000 img, 64 trials †" in md
    assert "did not learn: budget too small" in md and "† below the paper's scale" in md
    tex = table2_latex(t.reset_index())
    assert "$^\\dagger$" in tex and "did not learn" in tex


def test_table2_leaves_the_flag_of_an_unflagged_row_empty_never_nan(tmp_path):
    """Issue 44: every unflagged row showed the literal `nan` once one row had a flag."""
    paths = [
        write_full(tmp_path, "grad-pcr", 100),
        write_full(tmp_path, "resnet18", 100, flag="did not learn: budget too small"),
        write_full(tmp_path, "resnet152", 100, flag=None),
    ]
    t = table2(collect_metrics(paths))
    md, tex = table2_markdown(t), table2_latex(t)
    assert "did not learn" in md and "did not learn" in tex
    rows = [line for line in md.splitlines() if line.startswith("| grad-pcr")]
    assert rows and not re.search(r"\bnan\b", md + tex), md


PAPER = REPO.parent / "shared/reference/000_4da1934c7ef0e9fb.txt"
# the paper's Table 2 columns, left to right, as our model ids
PAPER_COLUMNS = ["grad-pcr", "physfeat1-pcr", "grad-svr", "physfeat1-svr", "physfeat2-svr",
                 "cnnpca-svr", "resnet18", "mucha-resnet34"]  # fmt: skip


@pytest.mark.skipif(not PAPER.is_file(), reason="the paper's text (../shared/reference) is absent")
def test_paper_table2_values_are_the_papers_text():
    """PAPER_TABLE2 against the rows of Table 2 in the paper's own text."""
    pattern = r"^(Ising|CH) \((RMSE|R\^2)\)\s*:\s*(.+)$"
    rows = {(d, m): v for d, m, v in re.findall(pattern, PAPER.read_text(), flags=re.M)}
    assert len(rows) == 4
    for (dataset, metric), values in rows.items():
        numbers = [float(v) for v in values.split()]
        ours = [PAPER_TABLE2[dataset.lower()][m][metric == "R^2"] for m in PAPER_COLUMNS]
        assert numbers == ours, (dataset, metric)
    assert set(PAPER_TABLE2["ising"]) == set(PAPER_TABLE2["ch"]) == set(PAPER_COLUMNS)


def test_fraction_curves_aggregate_seeds_and_add_the_feature_share(metrics):
    c = fraction_curves(metrics)
    row = c[(c.dataset == "ising") & (c.model == "grad-pcr") & (c.frac == 0.1)].iloc[0]
    assert row.n_seeds == 2 and row.n_train == 100
    assert row.rmse_mean == 22.0 and (row.rmse_min, row.rmse_max) == (20.0, 24.0)
    # features timed on the whole dataset (1000 train + 100 test); 100 training images
    assert row.train_total_s_mean == pytest.approx(1.0 + 4.0 * 100 / 1100)
    assert row.features_share_s_mean == pytest.approx(4.0 * 100 / 1100)
    assert list(c[(c.dataset == "ising") & (c.model == "grad-pcr")].frac) == [0.1, 1.0]


def test_fraction_curves_count_the_search_in_the_training_time(tmp_path):
    path = write_metrics(tmp_path, "ising", "physfeat2-svr", 1.0, 0, 9.0, 0.98, n_train=100,
                         n_test=100)  # fmt: skip
    m = json.loads(path.read_text())
    m["seconds"]["search"] = 30.0
    path.write_text(json.dumps(m))
    row = fraction_curves(collect_metrics([path])).iloc[0]
    assert row.search_s_mean == 30.0
    assert row.train_total_s_mean == pytest.approx(4.0 * 100 / 200 + 30.0 + 1.0)


def synthetic_features(n=120, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = 50 * X[:, 0] + 5 * rng.normal(size=n) + 100
    split = np.where(np.arange(n) % 4 == 0, TEST, TRAIN)
    return Dataset(X, y, split)


def test_zoo_runs_every_regressor_and_learns_a_linear_signal():
    res = run_zoo(synthetic_features(), list(ZOO_REGRESSORS), seed=0, max_train=60)
    assert list(res.regressor) == list(ZOO_REGRESSORS)
    assert (res.n_train == 60).all()
    assert res.set_index("regressor").loc["linear_svm", "r2"] > 0.9
    assert np.isfinite(res.rmse).all()


def test_zoo_refuses_an_unknown_regressor():
    with pytest.raises(ValueError, match="unknown regressor"):
        run_zoo(synthetic_features(), ["naive_bayes"])


def test_pca_study_scree_is_monotone_and_components_help():
    rng = np.random.default_rng(1)
    latent = rng.normal(size=(200, 4))
    X = latent @ rng.normal(size=(4, 30)) + 0.01 * rng.normal(size=(200, 30))
    y = 20 * latent @ np.array([3.0, -2.0, 1.0, 0.5])
    ds = Dataset(X, y, np.where(np.arange(200) % 5 == 0, TEST, TRAIN))
    svr = {"C": 1000.0, "gamma": "scale", "epsilon": 0.1}
    scree, scores, pred = pca_study(ds, [1, 4, 50], svr, seed=0)
    assert np.all(np.diff(scree.cumulative) >= 0) and scree.cumulative.iloc[-1] <= 1 + 1e-9
    assert scree.cumulative.iloc[3] > 0.99  # four latent directions
    assert list(scores.n_components) == [1, 4, 30]  # 50 capped at the embedding width
    assert scores.rmse.iloc[1] < 0.5 * scores.rmse.iloc[0]
    assert len(pred) == 3 * 40


def test_pca_study_at_the_models_component_count_is_the_cnnpca_svr_model():
    from microprop.models import SVRegressor, fit_evaluate

    rng = np.random.default_rng(3)
    X = rng.normal(size=(240, 12)) * np.linspace(5, 0.5, 12)
    y = 40 * np.tanh(X[:, 0] / 5) + X[:, 1] + rng.normal(0, 0.5, 240)
    ds = Dataset(X, y, np.where(np.arange(240) % 4 == 0, TEST, TRAIN))
    hyper = {"C": 50.0, "gamma": "scale", "epsilon": 0.2}
    model, metrics, table = fit_evaluate(
        SVRegressor(**hyper, standardize=False, n_components=6), ds, 1.0, 0
    )
    _, scores, pred = pca_study(ds, [2, 6], {**hyper, "n_support": 1}, seed=0)
    at6 = pred[pred.n_components == 6]
    np.testing.assert_allclose(at6["predicted"].to_numpy(), table["predicted"].to_numpy())
    assert scores.set_index("n_components").loc[6, "rmse"] == pytest.approx(metrics["rmse"])


def test_pixel_pca_separates_ordered_from_random_images():
    rng = np.random.default_rng(2)
    flat = np.zeros((20, 8, 8)) + rng.integers(0, 2, (20, 1, 1)) * 255
    noisy = rng.integers(0, 2, (20, 8, 8)) * 255
    z = pixel_pca(np.concatenate([flat, noisy]), 2)
    assert z.shape == (40, 2)
    assert np.abs(z[:20, 0]).mean() > np.abs(z[20:, 0]).mean()


def test_confusion_grid_overlays_grad_in_red(tmp_path):
    t = pd.DataFrame({"true": [0.0, 100, 255], "predicted": [10.0, 90, 250]})
    m = {"rmse": 8.0, "r2": 0.99}
    panels = paper_panels({"grad-svr": (t, m), "physfeat1-svr": (t, m), "grad-pcr": (t, m)})
    assert [p["title"] for p in panels] == ["physfeat1-svr", "grad-pcr"]
    fig = confusion_figure(panels, limits=(0, 255), label="label")
    ax = fig.axes[0]
    colors = [tuple(c.get_facecolor()[0][:3]) for c in ax.collections]
    assert len(colors) == 2 and colors[0][0] > 0.8 > colors[0][2]  # red drawn first
    assert ax.get_xlim() == (0, 255)
    save_figure(fig, tmp_path / "f.png")
    assert_figure_drawn(tmp_path / "f.png")
    assert (tmp_path / "f.pdf").read_bytes().startswith(b"%PDF")


def test_ch_confusion_panels_mark_the_first_images():
    """A predictions table with steps (CH): the points of steps 1-9 are orange within the
    panel's one scatter (its points stay the table's), and the panel text counts them."""
    t = pd.DataFrame(
        {"true": [9000.0, 7000, 600], "predicted": [8000.0, 7100, 610], "step": [1, 9, 10]}
    )
    m = {"rmse": 8.0, "r2": 0.99}
    fig = confusion_figure(paper_panels({"resnet18": (t, m)}), label="energy")
    ax = fig.axes[0]
    (scatter,) = ax.collections
    np.testing.assert_allclose(scatter.get_offsets(), t[["true", "predicted"]])
    orange = np.array(matplotlib.colors.to_rgb("tab:orange"))
    is_orange = [np.allclose(c[:3], orange) for c in scatter.get_facecolors()]
    assert is_orange == [True, True, False]
    assert "steps 1-9 (2)" in ax.texts[0].get_text()
    plain = confusion_figure(paper_panels({"resnet18": (t.drop(columns="step"), m)}))
    assert "steps 1-9" not in plain.axes[0].texts[0].get_text()


def test_timed_jobs_reserve_every_core_so_no_job_overlaps_them(tmp_path):
    import re

    import yaml
    from helpers import SMOKE, copy_workflow, snakemake

    repo = copy_workflow(tmp_path)
    targets = [
        f"results/models/ising/{m}/frac{f}/seed0/metrics.json"
        for m in ("grad-pcr", "physfeat1-svr", "cnnpca-svr")
        for f in ("0.1", "1.0")
    ]
    out = snakemake(repo, "-n", "--cores", "3", "--configfile", SMOKE, "--", *targets).stdout
    threads = {}
    for block in out.split("\nrule ")[1:]:
        rule = block.split(":", 1)[0]
        match = re.search(r"threads: (\d+)", block)
        threads.setdefault(rule, set()).add(int(match.group(1)) if match else 1)
    assert threads["train_pcr"] == {3} and threads["train_svr"] == {3}  # all 3 cores
    assert max(threads["features"]) < 3  # untimed jobs leave room for each other
    slurm = yaml.safe_load((repo / "profiles/slurm/config.yaml").read_text())
    for rule in ("train_pcr", "train_svr"):  # on a cluster: a whole node
        assert "--exclusive" in slurm["set-resources"][rule]["slurm_extra"]


def test_timing_figure_stacks_features_search_and_fit_and_names_the_threads(tmp_path):
    from microprop.plots.timing import threads_note, timing_figure

    curves = pd.DataFrame(
        {
            "model": ["grad-svr"] * 2 + ["grad-pcr"] * 2,
            "n_train": [100, 1000] * 2,
            "features_share_s_mean": [0.1, 1.0, 0.1, 1.0],
            "search_s_mean": [5.0, 50.0, 0.0, 0.0],
            "train_s_mean": [1.0, 10.0, 0.01, 0.1],
            "train_total_s_mean": [6.1, 61.0, 0.11, 1.1],
            "predict_s_mean": [0.1, 0.2, 0.01, 0.01],
            "threads": [2, 2, 1, 1],
        }
    )
    fig = timing_figure(curves, title="ising", threads=threads_note(curves))
    svr_panel = [ax for ax in fig.axes if ax.get_title() == "grad-svr"][0]
    heights = [p.get_height() for p in svr_panel.patches]
    assert heights == [0.1, 1.0, 5.0, 50.0, 1.0, 10.0]  # features, search, fit per size
    bottoms = [p.get_y() for p in svr_panel.patches]
    assert bottoms[-1] == pytest.approx(51.0)  # the fit sits on features + search
    assert "up to 2 threads" in fig._suptitle.get_text()
    save_figure(fig, tmp_path / "t.png")
