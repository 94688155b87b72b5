"""grad (eq. 1) on analytic images and piecewise-constant regression with known answers."""

import numpy as np
import pytest

from microprop.features import GradientNorm
from microprop.io import TEST, TRAIN, Dataset
from microprop.models import (
    PiecewiseConstantRegressor,
    evaluation_subset,
    fit_evaluate,
    training_subset,
)


def grad(image):
    return GradientNorm().fit_transform(np.asarray(image)[None])[0, 0]


def test_grad_of_a_constant_image_is_zero():
    assert grad(np.full((64, 64), 77, np.uint8)) == 0.0


def test_grad_of_a_linear_ramp():
    """u = a*j: central differences give a inside; the periodic wrap at j = 0 and
    j = n-1 gives |(u[1] - u[n-1]) / 2| = a (n - 2) / 2 on two of n columns."""
    a, n = 3.0, 64
    ramp = np.tile(a * np.arange(n), (n, 1))
    expected = ((n - 2) * a + 2 * a * (n - 2) / 2) / n
    assert grad(ramp) == pytest.approx(expected, rel=1e-6)
    assert grad(ramp.T) == pytest.approx(expected, rel=1e-6)


def test_grad_of_a_checkerboard_is_zero():
    """Central differences skip the neighbour: a checkerboard has u[i+1] == u[i-1]."""
    board = (np.indices((64, 64)).sum(axis=0) % 2) * 255
    assert grad(board) == 0.0


def test_grad_of_stripes_of_period_four():
    """u = 255 * [0, 0, 1, 1, ...] along x: |du/dx| = 255/2 at every pixel."""
    stripes = np.tile(np.array([0, 0, 255, 255] * 16), (64, 1))
    assert grad(stripes) == pytest.approx(127.5)


def test_pcr_is_exact_when_bins_are_separated():
    """One feature, a strictly monotonic map label -> feature: every test sample lies
    nearest to its own bin's mean, so prediction is exact."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 50, 2000).astype(float)
    X = np.sqrt(y + 1)[:, None] + rng.uniform(-1e-3, 1e-3, (2000, 1))
    model = PiecewiseConstantRegressor(bin_width=1.0).fit(X[:1500], y[:1500])
    assert np.array_equal(model.predict(X[1500:]), y[1500:])


def test_pcr_bin_means_and_scaling():
    X = np.array([[0.0, 100.0], [2.0, 300.0], [10.0, 1000.0]])
    y = np.array([0.2, 0.7, 5.5])
    model = PiecewiseConstantRegressor(bin_width=1.0).fit(X, y)
    assert model.bin_values_.tolist() == pytest.approx([0.45, 5.5])
    # scaled to [0, 1] per feature: bin 0 = mean of (0, 0) and (0.2, 0.2222)
    assert model.bin_features_[0] == pytest.approx([0.1, 100 / 900])
    assert model.predict([[9.0, 950.0]]).tolist() == [5.5]


def test_pcr_saves_and_loads_without_pickle(tmp_path):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(100, 2)), rng.integers(0, 10, 100).astype(float)
    model = PiecewiseConstantRegressor(bin_width=2.0).fit(X, y)
    model.save(tmp_path / "m.npz")
    loaded = PiecewiseConstantRegressor.load(tmp_path / "m.npz")
    assert np.array_equal(loaded.predict(X), model.predict(X))


def test_fit_evaluate_uses_only_the_training_split():
    y = np.arange(100.0)
    features = Dataset(
        images=np.sqrt(y)[:, None],
        property=y,
        split=np.where(np.arange(100) % 5 == 0, TEST, TRAIN),
    )
    model, metrics, table = fit_evaluate(PiecewiseConstantRegressor(), features, 1.0, 0)
    assert metrics["n_train"] == 80 and metrics["n_test"] == 20
    assert set(table["index"]) == set(range(0, 100, 5))
    assert not np.isin(model.bin_values_, y[::5]).any()  # no test label was binned
    assert set(metrics["seconds"]) == {"features", "train", "predict"}


def test_max_test_scores_the_same_evenly_spaced_test_images_for_every_seed():
    y = np.arange(1000.0)
    features = Dataset(
        images=y[:, None], property=y, split=np.where(np.arange(1000) < 400, TEST, TRAIN)
    )
    tables = [
        fit_evaluate(PiecewiseConstantRegressor(), features, 0.1, seed, max_test=50)[2]
        for seed in (0, 1)
    ]
    index = tables[0]["index"].to_numpy()
    assert len(index) == 50 and np.array_equal(index, tables[1]["index"])
    assert index[0] == 0 and index[-1] == 399  # the whole test split, first to last
    assert np.ptp(np.diff(index)) <= 1  # evenly spaced
    _, metrics, full = fit_evaluate(PiecewiseConstantRegressor(), features, 0.1, 0)
    assert metrics["n_test"] == len(full) == 400  # max_test = 0: every test image
    with pytest.raises(ValueError, match="max_test"):
        evaluation_subset(np.arange(10), -1)


def test_stratified_subset_estimates_the_rmse_of_runs_whose_error_decays_fast():
    """CH-like test split: two runs of 3000 snapshots, rows shuffled, an error that falls
    like 1/sqrt(step) (most of the squared error in the first snapshots). The stratified
    weighted estimate is close to the RMSE on every image; an evenly spaced one is not."""
    n_run, rng = 3000, np.random.default_rng(0)
    runs, steps = np.repeat([4, 5], n_run), np.tile(np.arange(1, n_run + 1), 2)
    order = rng.permutation(2 * n_run)
    runs, steps = runs[order], steps[order]
    error = np.where(runs == 4, 2000.0, 1500.0) / np.sqrt(steps) * rng.choice([-1, 1], 2 * n_run)
    error *= rng.uniform(0.8, 1.2, 2 * n_run)
    test_idx = np.arange(2 * n_run)
    full = np.sqrt(np.mean(error**2))
    idx, weights = evaluation_subset(test_idx, 500, runs, steps)
    assert len(idx) <= 500 and len(np.unique(idx)) == len(idx)
    assert weights.sum() == pytest.approx(2 * n_run)  # the weights stand for every image
    first = idx[steps[idx] <= 16]
    assert len(first) == 32 and (weights[np.isin(idx, first)] == 1).all()  # all, weight 1
    estimate = np.sqrt(np.average(error[idx] ** 2, weights=weights))
    evenly = np.sqrt(np.mean(error[evaluation_subset(test_idx, 500)[0]] ** 2))
    assert estimate == pytest.approx(full, rel=0.02)
    assert abs(evenly / full - 1) > 0.1  # the plain subset misjudges it: the test has power
    with pytest.raises(ValueError, match="strata"):
        evaluation_subset(test_idx, 20, runs, steps)
    with pytest.raises(ValueError, match="both the run and the step"):
        evaluation_subset(test_idx, 500, runs)


def test_fit_evaluate_weights_its_metrics_and_table_by_the_stratified_subset():
    runs, steps = np.repeat([0, 1, 2], 100), np.tile(np.arange(100), 3)
    y = np.where(runs == 2, 1.0 / (1.0 + steps), 0.0) + 0.01 * steps
    features = Dataset(images=y[:, None], property=y, split=np.where(runs == 2, TEST, TRAIN))
    model, metrics, table = fit_evaluate(
        PiecewiseConstantRegressor(bin_width=0.05),
        features,
        1.0,
        0,
        max_test=30,
        runs=runs,
        steps=steps,
    )
    assert metrics["n_test"] == len(table) <= 30 and metrics["n_test_split"] == 100
    assert table["weight"].sum() == pytest.approx(100)
    err = table["predicted"] - table["true"]
    assert metrics["rmse"] == pytest.approx(np.sqrt(np.average(err**2, weights=table["weight"])))


def test_fit_evaluate_reports_the_rmse_of_each_ch_step_group():
    """CH rows (run, step) with part 1 of 150 steps: the metrics gain the RMSE of each
    step group, computed from the test rows of that group alone."""
    steps = np.tile(np.r_[np.arange(1, 151), np.arange(160, 400, 10)], 3)
    runs = np.repeat([0, 1, 2], len(steps) // 3)
    y = 1000.0 / steps  # falls fast in the first steps, as CH's energy does
    features = Dataset(images=y[:, None], property=y, split=np.where(runs == 2, TEST, TRAIN))
    model = PiecewiseConstantRegressor(bin_width=50.0)
    _, metrics, table = fit_evaluate(model, features, 1.0, 0, runs=runs, steps=steps)
    assert "rmse_by_step_group" not in metrics  # without part1_steps: no groups
    _, metrics, table = fit_evaluate(
        model, features, 1.0, 0, runs=runs, steps=steps, part1_steps=150
    )
    groups = metrics["rmse_by_step_group"]
    assert list(groups) == ["steps 1-9", "steps 10-99", "rest of part 1", "part 2"]
    step_of = steps[table["index"]]
    err = (table["predicted"] - table["true"]).to_numpy()
    for name, rows in [("steps 1-9", step_of < 10), ("part 2", step_of > 150)]:
        assert groups[name]["n_test"] == rows.sum()
        assert groups[name]["rmse"] == pytest.approx(np.sqrt(np.mean(err[rows] ** 2)))
    assert sum(g["n_test"] for g in groups.values()) == metrics["n_test"]


def test_training_subsets_are_nested_and_seeded():
    idx = np.arange(1000)
    fracs = [0.001, 0.01, 0.1, 0.5, 1.0]
    subsets = [set(training_subset(idx, f, seed=3)) for f in fracs]
    assert [len(s) for s in subsets] == [1, 10, 100, 500, 1000]
    assert all(a <= b for a, b in zip(subsets, subsets[1:], strict=False))
    assert set(training_subset(idx, 0.1, seed=4)) != subsets[2]
    with pytest.raises(ValueError, match="fraction"):
        training_subset(idx, 0.0, 0)


def psd_line_like(n, seed):
    """(A, a) like physfeat1 on Ising images: flat means and multiplicative scatter of the
    intercept A below label 50 (ordered states), A falling over two decades above."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 100, n).astype(float)
    decades = np.where(y < 50, 0.0, (y - 50) / 25)
    A = 0.6 * 10.0 ** (-decades) * np.exp(rng.normal(0, 0.3, n))
    a = -2.6 + np.where(y < 50, 0.0, (y - 50) / 25) + rng.normal(0, 0.05, n)
    return np.c_[A, a], y


def test_pcr_log_intercept_is_the_pcr_of_the_logged_feature(tmp_path):
    X, y = psd_line_like(2000, 0)
    logged = PiecewiseConstantRegressor(log_features=(0,)).fit(X, y)
    plain = PiecewiseConstantRegressor().fit(np.c_[np.log10(X[:, 0]), X[:, 1]], y)
    np.testing.assert_array_equal(logged.bin_features_, plain.bin_features_)
    Xt, _ = psd_line_like(300, 1)
    np.testing.assert_array_equal(
        logged.predict(Xt), plain.predict(np.c_[np.log10(Xt[:, 0]), Xt[:, 1]])
    )
    logged.save(tmp_path / "m.npz")
    loaded = PiecewiseConstantRegressor.load(tmp_path / "m.npz")
    assert tuple(loaded.log_features) == (0,)
    np.testing.assert_array_equal(loaded.predict(Xt), logged.predict(Xt))
    with pytest.raises(ValueError, match="positive"):
        logged.predict(np.array([[0.0, -2.0]]))


def test_pcr_on_a_log_scale_intercept_keeps_multiplicative_scatter_in_its_bin():
    # label 0: intercept A scattered by a factor 2 either way (0.5, 2); label 10 and 20
    # have lower A and a higher slope. On the linear scale the bin mean of A is 1.25 and
    # the image with A = 0.5 is nearer the label-10 bin; on the log scale (b = log10 A)
    # the scatter is symmetric about the bin mean and both images stay in their bin.
    X = np.array([[0.5, 0.0], [2.0, 0.0], [0.3, 0.2], [0.3, 0.2], [0.01, 1.0], [0.01, 1.0]])
    y = np.array([0.0, 0.0, 10.0, 10.0, 20.0, 20.0])
    linear = PiecewiseConstantRegressor().fit(X, y)
    logged = PiecewiseConstantRegressor(log_features=(0,)).fit(X, y)
    assert linear.predict(X[:2]).tolist() == [10.0, 0.0]
    assert logged.predict(X).tolist() == y.tolist()


def test_physfeat1_pcr_uses_the_log_intercept_in_the_config():
    import yaml

    pcr = yaml.safe_load(open("config/config.yaml"))["models"]["pcr"]
    assert pcr["log_features"] == {"grad": [], "physfeat1": [0]}
