"""Conformal prediction intervals (microprop.uncertainty): coverage against known noise,
calibration on training rows only, adaptive widths, storage and `microprop predict`."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from microprop.io import TEST, TRAIN, Dataset, write_features, write_h5
from microprop.models import PiecewiseConstantRegressor, fit_evaluate
from microprop.splits import split_rows
from microprop.uncertainty import (
    SCORES,
    CalibrationSet,
    Conformal,
    coverage_curve,
    interval_summary,
    out_of_fold,
    pairs_needed,
    shortest_window,
)

LEVEL = 0.9
OPTIONS = {"level": LEVEL, "n_neighbors": 50, "residual_fraction": 0.5, "min_scale": 0.1}


def binomial_bound(n_test: int, n_cal: int, level: float = LEVEL, sigmas: float = 4.0):
    """4 standard deviations of the empirical coverage of a conformal interval.

    Given its calibration set, the coverage of a split conformal interval is
    Beta-distributed with variance ~ level(1 - level)/(n_cal + 2) (Vovk 2012; Angelopoulos
    and Bates 2021, section 3.2), and the test count adds a binomial variance
    level(1 - level)/n_test. 4 sigma: a correct method fails with probability ~ 6e-5.
    """
    return sigmas * math.sqrt(level * (1 - level) * (1 / n_test + 1 / (n_cal + 2)))


def noisy(n: int, seed: int, noise):
    """x uniform in [0, 1), y = 10 x + noise(x) * N(0, 1), and the exact prediction 10 x."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, n)
    return x, 10 * x + noise(x) * rng.normal(0, 1, n), 10 * x


def heteroscedastic(x):
    return np.where(x < 0.5, 0.1, 1.0)


@pytest.mark.parametrize("score", SCORES)
@pytest.mark.parametrize(
    "noise", [lambda x: np.ones_like(x), heteroscedastic], ids=["homo", "hetero"]
)
def test_coverage_of_known_noise_within_the_binomial_bound(score, noise):
    _, y_cal, p_cal = noisy(4000, 1, noise)
    _, y_test, p_test = noisy(10000, 2, noise)
    conformal = Conformal(
        [CalibrationSet("cv", np.arange(4000), y_cal, p_cal)], score=score, **OPTIONS
    )
    lower, upper = conformal.intervals(p_test)
    coverage = np.mean((lower <= y_test) & (y_test <= upper))
    n_cal = conformal.n_scores()
    assert n_cal == (2000 if score == "adaptive" else 4000)
    assert abs(coverage - LEVEL) < binomial_bound(len(y_test), n_cal), coverage
    # and at every nominal level of the figure's curve
    levels = [0.5, 0.7, 0.95]
    curve = coverage_curve(conformal, y_test, p_test, levels)[score]
    for level, got in zip(levels, curve, strict=True):
        assert abs(got - level) < binomial_bound(len(y_test), n_cal, level), (level, got)


def test_adaptive_intervals_are_narrower_where_the_noise_is_low():
    """Noise 0.1 for x < 0.5, 1.0 above: one constant width must cover the noisy half,
    the adaptive width follows the noise, and both halves keep their coverage."""
    x_cal, y_cal, p_cal = noisy(4000, 3, heteroscedastic)
    x_test, y_test, p_test = noisy(10000, 4, heteroscedastic)
    cal = CalibrationSet("cv", np.arange(4000), y_cal, p_cal)
    constant = Conformal([cal], score="constant", **OPTIONS).intervals(p_test)
    adaptive = Conformal([cal], score="adaptive", **OPTIONS).intervals(p_test)
    quiet = x_test < 0.45  # away from the step (the k-NN scale blurs it)
    width_c = (constant[1] - constant[0])[quiet].mean()
    width_a = (adaptive[1] - adaptive[0])[quiet].mean()
    assert width_a < 0.25 * width_c, (width_a, width_c)
    # the normal 90 % half-width of the quiet half is 1.645 x 0.1
    assert abs(width_a / 2 - 1.645 * 0.1) < 0.03, width_a
    for region in (quiet, x_test >= 0.5):
        covered = (adaptive[0] <= y_test) & (y_test <= adaptive[1])
        assert abs(covered[region].mean() - LEVEL) < binomial_bound(region.sum(), 2000 * 0.45)


def test_binned_intervals_correct_a_bias_that_depends_on_the_prediction(tmp_path):
    """y = 10 x + 3 for x < 0.5 (noise 0.1 everywhere): one constant width must reach the
    bias; the binned intervals move up where the prediction is biased (ŷ then lies below
    them: the score does not promise to contain ŷ) and keep the coverage in both halves."""

    def biased(n, seed):
        x, y, p = noisy(n, seed, lambda x: np.full_like(x, 0.1))
        return x, y + np.where(x < 0.5, 3.0, 0.0), p

    _, y_cal, p_cal = biased(4000, 7)
    x_test, y_test, p_test = biased(10000, 8)
    cal = CalibrationSet("cv", np.arange(4000), y_cal, p_cal)
    conformal = Conformal([cal], score="binned", n_bins=10, **OPTIONS)
    lower, upper = conformal.intervals(p_test)
    constant = Conformal([cal], score="constant", **OPTIONS).intervals(p_test)
    assert np.mean(upper - lower) < 0.2 * np.mean(constant[1] - constant[0])
    assert np.all(lower[x_test < 0.45] > p_test[x_test < 0.45])  # away from the step
    for region in (x_test < 0.5, x_test >= 0.5):
        covered = (lower <= y_test) & (y_test <= upper)
        assert abs(covered[region].mean() - LEVEL) < binomial_bound(region.sum(), 2000)
    conformal.save(tmp_path / "conformal.npz")
    again = Conformal.load(tmp_path / "conformal.npz")
    assert (again.score, again.options["n_bins"]) == ("binned", 10)
    np.testing.assert_array_equal(again.intervals(p_test)[0], lower)


@pytest.mark.parametrize("score", SCORES)
def test_small_calibration_sets_give_infinite_bounds_never_an_error(score):
    """Every size from 2 pairs up, at every level of the figure's curve: finite bounds
    exactly where MAPIE has the scores it needs (the smoke run met 5 pairs at 60 %)."""
    levels = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
    for n in range(2, 90):
        _, y, p = noisy(n, n, np.ones_like)
        conformal = Conformal([CalibrationSet("cv", np.arange(n), y, p)], score=score, **OPTIONS)
        lower, upper = conformal.intervals(np.array([5.0]), levels=levels)
        expect = [conformal.n_scores() >= pairs_needed(v, score) - 1e-9 for v in levels]
        assert np.isfinite(upper[0]).tolist() == expect, (n, upper)


@pytest.mark.parametrize("score", ["constant", "adaptive"])
def test_intervals_contain_the_point_prediction_and_round_trip(tmp_path, score):
    _, y_cal, p_cal = noisy(500, 5, heteroscedastic)
    conformal = Conformal(
        [CalibrationSet("cv", np.arange(500), y_cal, p_cal)], score=score, seed=3, **OPTIONS
    )
    pred = np.linspace(-5, 15, 301)  # beyond the calibration range as well
    lower, upper = conformal.intervals(pred)
    assert np.all(lower <= pred) and np.all(pred <= upper) and np.all(upper - lower > 0)
    conformal.save(tmp_path / "conformal.npz")
    again = Conformal.load(tmp_path / "conformal.npz")
    assert (again.score, again.level, again.primary) == (score, LEVEL, "cv")
    np.testing.assert_array_equal(again.intervals(pred)[0], lower)
    np.testing.assert_array_equal(again.intervals(pred)[1], upper)


def test_a_too_small_calibration_set_gives_infinite_bounds():
    """MAPIE takes a 90 % quantile from 10 scores at least: 10 give finite bounds, 9 not."""
    rng = np.random.default_rng(0)
    y = rng.normal(size=10)
    ten = Conformal([CalibrationSet("split", np.arange(10), y, np.zeros(10))], score="constant")
    nine = Conformal([CalibrationSet("split", np.arange(9), y[:9], np.zeros(9))], score="constant")
    assert np.isfinite(ten.intervals(np.zeros(2))[1]).all()
    assert np.isinf(nine.intervals(np.zeros(2))[1]).all()
    lower, upper = nine.intervals(np.zeros(2), levels=[0.5, 0.9])
    assert np.isfinite(upper[:, 0]).all() and np.isinf(upper[:, 1]).all()


def toy_features(n=400, n_test=100, runs=None):
    """A feature 'dataset': x and y = 100 x + noise, test rows every 4th row."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, n)
    split = np.where(np.arange(n) % (n // n_test) == 0, TEST, TRAIN)
    extra = {} if runs is None else {"run": runs}
    return Dataset(x[:, None], 100 * x + rng.normal(0, 2, n), split, extra=extra)


class HoldsOutValidation(PiecewiseConstantRegressor):
    """A PCR that, like the CNNs, holds out a seeded fifth of its rows for validation."""

    def fit(self, X, y):
        perm = np.random.default_rng(0).permutation(len(y))
        self.val_idx_ = np.sort(perm[: len(y) // 5])
        keep = np.setdiff1d(np.arange(len(y)), self.val_idx_)
        return super().fit(np.asarray(X)[keep], np.asarray(y)[keep])


@pytest.mark.parametrize("method", ["cv", "split", "validation"])
def test_no_test_row_in_calibration(method):
    """Calibration rows are training rows the point model did not fit (out of fold for
    cv), and the test coverage is the nominal level within the binomial bound."""
    data = toy_features(n=2000, n_test=500)
    model_class = HoldsOutValidation if method == "validation" else PiecewiseConstantRegressor
    estimator = model_class(bin_width=0.05)  # 20 bins of x: residuals ~ the noise
    calibration = {"method": method, "folds": 5, "fraction": 0.2, "score": "adaptive"}
    model, metrics, table = fit_evaluate(
        estimator, data, 1.0, 0, calibration={**calibration, "level": LEVEL}
    )
    (cal,) = model.conformal_.sets.values()
    assert cal.name == method
    assert not np.isin(cal.index, data.test_idx).any()
    assert np.isin(cal.index, data.train_idx).all()
    expected = {"cv": 1500, "split": 300, "validation": 300}[method]
    assert len(cal) == expected
    np.testing.assert_array_equal(cal.true, data.property[cal.index])
    # split: the point model never saw its calibration rows
    assert metrics["n_fit"] == (1200 if method == "split" else 1500)
    assert np.all(table["lower"] <= table["predicted"])
    assert np.all(table["predicted"] <= table["upper"])
    bound = binomial_bound(len(table), expected)
    assert abs(metrics["coverage"] - LEVEL) < bound, (metrics["coverage"], bound)
    variants = metrics["intervals"]["variants"][method]
    assert set(variants) == {"n_cal", *SCORES}


def test_weighted_interval_summary_counts_an_image_of_weight_k_k_times():
    rng = np.random.default_rng(2)
    true, center = rng.uniform(0, 9, 40), rng.uniform(0, 9, 40)
    half, weights = rng.uniform(0.5, 3, 40), rng.integers(1, 5, 40)
    edges = [0, 3, 6, 9]
    weighted = interval_summary(true, center - half, center + half, edges, weights)
    repeated = [np.repeat(v, weights) for v in (true, center - half, center + half)]
    assert weighted == pytest.approx(interval_summary(*repeated, edges))


@pytest.mark.parametrize("share", [0.5, 0.9, 1.0])
def test_shortest_window_is_the_narrowest_by_brute_force(share):
    rng = np.random.default_rng(5)
    values, weights = rng.normal(size=30), rng.integers(1, 4, 30)
    x = np.sort(np.repeat(values, weights))  # weight k = the value k times
    need = math.ceil(share * len(x) - 1e-9)
    brute = min(x[i + need - 1] - x[i] for i in range(len(x) - need + 1))
    lo, hi = shortest_window(values, share, weights)
    assert hi - lo == pytest.approx(brute)
    assert np.sum(weights[(lo <= values) & (values <= hi)]) >= share * np.sum(weights)
    assert np.subtract(*shortest_window(x, share)[::-1]) == pytest.approx(brute)


def test_shortest_window_of_a_normal_sample_is_the_central_interval():
    x = np.random.default_rng(6).normal(size=200_000)
    lo, hi = shortest_window(x, 0.9)
    assert hi - lo == pytest.approx(2 * 1.6449, rel=0.01) and abs(lo + hi) < 0.1


def test_split_rows_are_disjoint_and_seeded():
    fit, cal = split_rows(np.arange(100, 200), 0.25, seed=1)
    assert len(cal) == 25 and not np.intersect1d(fit, cal).size
    np.testing.assert_array_equal(cal, split_rows(np.arange(100, 200), 0.25, seed=1)[1])


def test_split_rows_hold_out_whole_groups_and_keep_the_random_split():
    """With groups the calibration rows are whole groups, round(fraction x groups) of them
    (one at least, never all), drawn with the seed; with one group or none the split is
    the random one."""
    train = np.arange(100, 130)
    groups = np.repeat([3, 7, 1, 9, 4], 6)  # 5 runs of 6 training rows
    for fraction, expected in ((0.2, 1), (0.4, 2), (0.01, 1), (0.99, 4)):
        fit, cal = split_rows(train, fraction, 0, groups)
        held_out = set(groups[cal - 100])
        assert len(held_out) == expected and not held_out & set(groups[fit - 100])
        assert np.array_equal(np.sort(np.concatenate([fit, cal])), train)
    picked = {
        tuple(np.unique(groups[split_rows(train, 0.2, s, groups)[1] - 100])) for s in range(20)
    }
    assert len(picked) > 1  # the held-out run depends on the seed
    random_split = split_rows(train, 0.2, 5)
    for one_group in (None, np.zeros(30, dtype=int)):
        same = split_rows(train, 0.2, 5, one_group)
        assert all(np.array_equal(a, b) for a, b in zip(same, random_split, strict=True))
    with pytest.raises(ValueError, match="29 labels for 30 training rows"):
        split_rows(train, 0.2, 0, groups[:29])


def test_fit_evaluate_split_calibration_holds_out_whole_runs():
    """method split with groups: the model fits on whole runs, calibrates on the training
    images of the other(s), never on a test row; the random split without groups mixes
    runs on both sides."""
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    runs = np.repeat(np.arange(6), 20)
    X = rng.normal(size=(120, 3))
    y = X @ [1.0, 2.0, 3.0] + runs + rng.normal(0, 0.1, 120)
    data = Dataset(X, y, np.where(runs >= 4, TEST, TRAIN))
    calibration = {"method": "split", "fraction": 0.25, "score": "constant"}
    fitted = []
    for groups in (runs, None):
        model, metrics, _ = fit_evaluate(
            LinearRegression(), data, 1.0, 0, calibration=calibration, groups=groups
        )
        (cal,) = model.conformal_.sets.values()
        assert not set(cal.index) & set(data.test_idx) and metrics["n_fit"] == 80 - len(cal)
        fit_runs = set(runs[np.setdiff1d(data.train_idx, cal.index)])
        fitted.append((set(runs[cal.index]), fit_runs))
    (cal_runs, fit_runs), (random_cal, random_fit) = fitted
    assert len(cal_runs) == 1 and fit_runs == {0, 1, 2, 3} - cal_runs
    assert random_cal & random_fit


def test_leave_runs_out_never_predicts_a_run_with_itself():
    """1-NN on x = run id: a fold that held the run would predict its own label exactly."""
    from sklearn.neighbors import KNeighborsRegressor

    runs = np.repeat(np.arange(4), 50)
    X, y = runs[:, None].astype(float), runs * 100.0
    rows = np.arange(200)
    grouped = out_of_fold(KNeighborsRegressor(n_neighbors=1), X, y, rows, 5, 0, groups=runs)
    assert np.all(grouped != y)
    naive = out_of_fold(KNeighborsRegressor(n_neighbors=1), X, y, rows, 5, 0)
    assert np.all(naive == y)  # random folds calibrate on the run itself: optimistic


def test_ch_like_runs_add_a_leave_runs_out_primary_calibration():
    runs = np.repeat(np.arange(4), 100)
    data = toy_features(runs=runs)
    calibration = {"method": "cv", "folds": 5, "score": "constant"}
    model, metrics, _ = fit_evaluate(
        PiecewiseConstantRegressor(), data, 1.0, 0, calibration=calibration, groups=runs
    )
    assert list(model.conformal_.sets) == ["cv", "runs"]
    assert metrics["intervals"]["calibration"] == "runs"
    assert set(metrics["intervals"]["variants"]) == {"cv", "runs"}


def test_uncertainty_table_and_markdown(tmp_path):
    from microprop.studies import uncertainty_markdown, uncertainty_table

    data = toy_features(runs=np.repeat(np.arange(4), 100))
    paths = []
    for model_id, groups in (("grad-pcr", None), ("physfeat1-pcr", data.extra["run"])):
        calibration = {"method": "cv", "folds": 5, "score": "adaptive"}
        _, metrics, _ = fit_evaluate(
            PiecewiseConstantRegressor(), data, 1.0, 0, calibration=calibration, groups=groups
        )
        metrics.update(model=model_id, dataset="toy")
        paths.append(tmp_path / f"{model_id}.json")
        paths[-1].write_text(json.dumps(metrics))
    table = uncertainty_table(paths)
    assert len(table) == 2 * len(SCORES) and set(table["score"]) == set(SCORES)
    row = table[(table["model"] == "physfeat1-pcr") & (table["score"] == "adaptive")].iloc[0]
    assert row["calibration"] == "runs" and not pd.isna(row["coverage_naive"])
    assert row["ratio_low"] == pytest.approx(row["width_low"] / table.loc[
        (table["model"] == "physfeat1-pcr") & (table["score"] == "constant"), "width_low"
    ].iloc[0])  # fmt: skip
    assert pd.isna(table[table["model"] == "grad-pcr"]["coverage_naive"]).all()
    md = uncertainty_markdown(table)
    assert "## toy" in md and "coverage (90%)" in md and "coverage (naive)" in md


def test_uncertainty_figure_draws_bars_and_curves(tmp_path):
    from helpers import assert_figure_drawn

    from microprop.plots import save_figure
    from microprop.plots.uncertainty import uncertainty_figure

    _, y_cal, p_cal = noisy(400, 6, heteroscedastic)
    _, y_test, p_test = noisy(200, 7, heteroscedastic)
    conformal = Conformal([CalibrationSet("cv", np.arange(400), y_cal, p_cal)], **OPTIONS)
    lower, upper = conformal.intervals(p_test)
    table = pd.DataFrame({"true": y_test, "predicted": p_test, "lower": lower, "upper": upper})
    levels = [0.5, 0.8, 0.9]
    curves = {"toy": coverage_curve(conformal, y_test, p_test, levels)}
    fig = uncertainty_figure({"toy": table}, curves, levels, n_bars=50)
    coverage = fig.axes[1]  # the nominal diagonal, then one line per score
    assert sum(len(line.get_xdata()) > 0 for line in coverage.lines) == 1 + len(SCORES)
    assert set(SCORES) <= set(coverage.get_legend_handles_labels()[1])
    save_figure(fig, tmp_path / "u.png")
    assert_figure_drawn(tmp_path / "u.png")


def test_predict_cli_prints_the_intervals(tmp_path, capsys):
    """A grad-pcr model directory written as train_pcr writes it: `microprop predict`
    gives the intervals of predictions.csv for the test images, from conformal.npz."""
    from microprop.cli import main
    from microprop.features import FEATURES
    from microprop.io import load_dataset, load_features
    from microprop.models.run import feature_record, write_model_outputs

    rng = np.random.default_rng(0)
    v = rng.uniform(20, 235, 80)
    images = np.clip(v[:, None, None] + rng.normal(0, 30, (80, 64, 64)), 0, 255)
    split = np.where(np.arange(80) % 5 == 0, TEST, TRAIN)
    write_h5(
        tmp_path / "toy.h5", {"images": images.astype(np.uint8), "property": v, "split": split}
    )
    ds = load_dataset(tmp_path / "toy.h5")
    write_features(
        tmp_path / "grad.h5", FEATURES["grad"]().fit_transform(ds.images), ds, {"options": {}}
    )
    features = load_features(tmp_path / "grad.h5")
    calibration = {"method": "cv", "folds": 4, "score": "constant"}
    model, metrics, table = fit_evaluate(
        PiecewiseConstantRegressor(bin_width=5.0), features, 1.0, 0, calibration=calibration
    )
    metrics.update(
        model="grad-pcr", dataset="toy", features=feature_record("grad-pcr", features.attrs)
    )
    out = tmp_path / "grad-pcr"
    out.mkdir()
    names = ("model", "predictions", "metrics", "conformal")
    files = ("model.npz", "predictions.csv", "metrics.json", "conformal.npz")
    write_model_outputs(SimpleNamespace(**{k: out / f for k, f in zip(names, files, strict=True)}),
                        model, metrics, table)  # fmt: skip
    code = main(
        ["predict", "--model", str(out), "--images", str(tmp_path / "toy.h5"), "--split", "test"]
    )
    captured = capsys.readouterr()
    assert code == 0
    assert "90% constant conformal intervals (cv)" in captured.err
    from io import StringIO

    printed = pd.read_csv(StringIO(captured.out))
    want = pd.read_csv(out / "predictions.csv")
    for column in ("predicted", "lower", "upper"):
        np.testing.assert_allclose(printed[column], want[column], rtol=1e-9)
    assert (printed["upper"] > printed["lower"]).all()


@pytest.mark.parametrize("method", ["cv", "split"])
def test_one_training_image_gives_infinite_intervals(method):
    """The fraction study's smallest subsets: no calibration pair, honest infinite bounds."""
    calibration = {"method": method, "folds": 5, "fraction": 0.2}
    model, metrics, table = fit_evaluate(
        PiecewiseConstantRegressor(), toy_features(), 0.001, 0, calibration=calibration
    )
    assert metrics["n_train"] == 1 and len(model.conformal_.sets[method]) == 0
    assert np.isinf(table["upper"]).all() and metrics["coverage"] == 1.0


@pytest.mark.parametrize("n_components", [0, 20])
def test_an_svr_fits_one_image_with_a_split_calibration(n_components):
    """The default fraction study's smallest point (cfd, 0.1 % of 800: 1 image) with
    uncertainty.fraction_calibration's split: the CV grid falls back to fixed values, a
    model PCA (cnnpca-, twopoint-svr) keeps one component, the intervals are infinite."""
    from microprop.models import SVRegressor
    from microprop.models.svr import choose_hyperparameters

    rng = np.random.default_rng(0)
    n = 1000
    data = Dataset(
        rng.normal(size=(n, 30)),
        rng.uniform(1, 800, n),
        np.where(np.arange(n) % 5 == 0, TEST, TRAIN),
    )
    train = np.flatnonzero(data.split == TRAIN)[:1]
    search = {"cv_folds": 5}
    fixed = {"C": 100.0, "gamma": "scale", "epsilon": 0.1}
    options = {"standardize": not n_components, "n_components": n_components}
    hyper, _, used = choose_hyperparameters(
        "grid", data.images[train], data.property[train], fixed, search, **options
    )
    assert used == "fixed"
    calibration = {"method": "split", "fraction": 0.2, "score": "adaptive"}
    model, metrics, table = fit_evaluate(
        SVRegressor(**hyper, **options), data, 0.001, 0, calibration=calibration
    )
    assert metrics["n_train"] == metrics["n_fit"] == 1
    assert np.isfinite(table["predicted"]).all() and np.isinf(table["upper"]).all()


def test_interval_features_benchmark_sees_noise_the_prediction_cannot(tmp_path):
    """benchmarks/interval_features.py on data whose noise is set by a second feature.

    y = 200 x1 + noise of standard deviation 1 where the independent feature x2 < 0.5 and
    20 elsewhere: the prediction (of x1) says nothing about the noise, the features do.
    At 90 % the one constant width covering 90 % must reach into the noisy half (±1.28 x 20),
    while the widths that follow the noise average 1.645 x (1 + 20): the ideal ratio is
    0.67. The feature-conditional scores must come clearly below 1 over the test split
    and the prediction-conditional (adaptive) one must not.
    """
    import subprocess
    import sys

    from helpers import REPO

    rng = np.random.default_rng(1)
    n = 4000
    x = rng.uniform(0, 1, (n, 2))
    y = 200 * x[:, 0] + rng.normal(0, 1, n) * np.where(x[:, 1] > 0.5, 20.0, 1.0)
    ds = Dataset(images=x, property=y, split=np.where(np.arange(n) % 4 == 0, TEST, TRAIN))
    write_features(tmp_path / "toy.h5", x, ds)
    run = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/interval_features.py"), str(tmp_path / "toy.h5")]
        + ["--edges", "0", "66", "133", "200", "--C", "10", "--epsilon", "0.01"],
        capture_output=True,
        text=True,
        check=True,
    )
    scores = json.loads(run.stdout.strip().splitlines()[-1])["scores"]
    assert scores["features"]["ratio"] < 0.85, scores["features"]
    assert scores["cqr"]["ratio"] < 0.85, scores["cqr"]
    assert scores["adaptive"]["ratio"] > 0.95, scores["adaptive"]
    for name, score in scores.items():  # conformal on 1,500 pairs, 1,000 test images
        assert abs(score["coverage"] - LEVEL) < binomial_bound(1000, 1500), name
