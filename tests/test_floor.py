"""The information floor (microprop.floor) against known answers: the Delta test on
labels of known noise, exact duplicates, groups; the Gamma test's bias correction; the
Ising observables against microprop.ising.energy; the k-NN reference out of fold; the
per-third RMSE."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from microprop.floor import (
    delta_test,
    floor_rmse,
    gamma_test,
    ising_observables,
    knn_reference,
    neighbour_differences,
)
from microprop.ising import energy
from microprop.metrics import regression_metrics, rmse_by_third


def smooth(x: np.ndarray) -> np.ndarray:
    return np.sin(2 * np.pi * x[:, 0]) + x[:, 1] ** 2


def brute_force_halves(X, y, groups=None) -> np.ndarray:
    """Mean (y_j - y_i)^2 / 2 over all j at the smallest distance from i (j != i, and of
    another group with ``groups``), by a full distance matrix."""
    X, y = np.asarray(X, float), np.asarray(y, float)
    groups = np.zeros(len(y)) if groups is None else np.asarray(groups)
    dist = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=2))
    out = np.empty(len(y))
    for i in range(len(y)):
        allowed = np.arange(len(y)) != i
        if len(np.unique(groups)) > 1:
            allowed &= groups != groups[i]
        d = np.where(allowed, dist[i], np.inf)
        partners = d <= d.min() * (1 + 1e-9)  # equal up to rounding
        out[i] = np.mean((y[partners] - y[i]) ** 2) / 2
    return out


def test_delta_recovers_the_noise_of_a_smooth_function():
    """20,000 samples in 2-D: the neighbour distance (~0.004) makes the bias from f's
    variation ~0.2 % of sigma^2; the mean of the halves has a relative standard error
    of ~1.2 % (var of a half 2 sigma^4), so 5 % is several standard errors."""
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(20_000, 2))
    sigma = 0.3
    half = delta_test(x, smooth(x) + rng.normal(0, sigma, len(x)))
    assert floor_rmse(half) == pytest.approx(sigma, rel=0.05)


def test_delta_is_local_where_the_noise_differs():
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(20_000, 2))
    sigma = np.where(x[:, 0] < 0.5, 0.1, 0.4)
    half = delta_test(x, smooth(x) + rng.normal(0, 1, len(x)) * sigma)
    quiet = x[:, 0] < 0.45  # away from the step, where neighbours straddle it
    loud = x[:, 0] > 0.55
    assert floor_rmse(half, quiet) == pytest.approx(0.1, rel=0.05)
    assert floor_rmse(half, loud) == pytest.approx(0.4, rel=0.05)


def test_delta_of_a_noise_free_function_is_near_zero():
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(20_000, 2))
    y = smooth(x)
    assert floor_rmse(delta_test(x, y)) < 0.02 * y.std()


def test_duplicated_inputs_give_the_exact_spread_of_their_labels():
    """Every location has 2-6 copies: each location's halves average to the unbiased
    variance of its labels, exactly (not a random pick of one duplicate)."""
    rng = np.random.default_rng(4)
    locations = rng.normal(size=(40, 3))
    copies = rng.integers(2, 7, size=40)
    at = np.repeat(np.arange(40), copies)
    rng.shuffle(at)
    y = rng.normal(size=len(at)) * 5
    half = delta_test(locations[at], y)
    for g in range(40):
        rows = at == g
        assert half[rows].mean() == pytest.approx(np.var(y[rows], ddof=1), rel=1e-10)


def test_delta_matches_a_brute_force_search_with_duplicates_and_singletons():
    rng = np.random.default_rng(5)
    locations = rng.uniform(size=(30, 2))
    X = np.concatenate([locations[rng.integers(0, 30, size=150)], rng.uniform(size=(40, 2))])
    y = rng.normal(size=len(X))
    np.testing.assert_allclose(delta_test(X, y), brute_force_halves(X, y), rtol=1e-10)


def test_equidistant_neighbours_on_a_grid_are_all_partners():
    """Integer inputs (as (E, |m|) of a lattice): many samples have several nearest
    locations at the same distance; all of them count, so the halves match the brute
    force and do not change when a scaling rounds the distances differently."""
    rng = np.random.default_rng(12)
    X = rng.integers(0, 9, size=(150, 2)).astype(float)
    y = rng.normal(size=len(X))
    half = delta_test(X, y)
    np.testing.assert_allclose(half, brute_force_halves(X, y), rtol=1e-10)
    np.testing.assert_allclose(delta_test(X * 0.1 + 0.3, y), half, rtol=1e-10)
    groups = rng.integers(0, 3, size=len(X))
    np.testing.assert_allclose(
        delta_test(X, y, groups), brute_force_halves(X, y, groups), rtol=1e-10
    )


def test_groups_take_the_neighbour_from_another_group():
    rng = np.random.default_rng(6)
    X = rng.uniform(size=(120, 2))
    X[60:] = X[:60]  # exact copies across and within groups
    y = rng.normal(size=len(X))
    groups = rng.integers(0, 4, size=len(X))
    with_groups = delta_test(X, y, groups=groups)
    np.testing.assert_allclose(with_groups, brute_force_halves(X, y, groups), rtol=1e-10)
    assert not np.allclose(with_groups, delta_test(X, y))
    with pytest.raises(ValueError, match="one group only"):
        delta_test(X, y, groups=np.zeros(len(y)))


def test_observables_of_ordered_and_checkerboard_lattices():
    n = 64
    up, down = np.full((n, n), 255, np.uint8), np.zeros((n, n), np.uint8)
    checker = np.where(np.add.outer(np.arange(n), np.arange(n)) % 2 == 0, 255, 0)
    e, m = ising_observables(np.stack([up, down, checker.astype(np.uint8)]))
    assert e.tolist() == [-2.0, -2.0, 2.0]
    assert m.tolist() == [1.0, 1.0, 0.0]


@pytest.mark.parametrize("shape", [(64, 64), (16, 24)])
def test_energy_per_spin_agrees_with_the_simulations_energy(shape):
    rng = np.random.default_rng(7)
    spins = rng.choice(np.array([-1, 1], np.int8), size=(30, *shape), p=[0.3, 0.7])
    images = np.where(spins > 0, 255, 0).astype(np.uint8)
    e, m = ising_observables(images.reshape(5, 6, *shape), chunk=7)  # chunks cross images
    sites = shape[0] * shape[1]
    assert e.shape == (5, 6)
    np.testing.assert_allclose(e.ravel(), [energy(s) / sites for s in spins], rtol=0, atol=1e-12)
    np.testing.assert_allclose(m.ravel(), np.abs(spins.sum(axis=(1, 2))) / sites)
    assert np.ptp(e) > 0.05  # random lattices: the check compares different energies


def test_observables_refuse_spin_arrays():
    with pytest.raises(ValueError, match="uint8"):
        ising_observables(np.ones((4, 4), np.int8))


def test_knn_reference_is_out_of_fold():
    """Labels independent of X: an out-of-fold prediction cannot beat the label spread
    (in-sample, k = 5 neighbours including the sample itself would)."""
    rng = np.random.default_rng(8)
    x = rng.uniform(size=(3000, 2))
    y = rng.normal(size=len(x))
    pred, ks = knn_reference(x, y, n_neighbors=(5, 200))
    assert np.sqrt(np.mean((pred - y) ** 2)) > 0.98 * y.std()
    assert ks == [200] * 5


def test_knn_reference_lies_above_the_delta_floor_and_near_the_noise():
    rng = np.random.default_rng(9)
    x = rng.uniform(size=(6000, 2))
    sigma = 0.3
    y = smooth(x) + rng.normal(0, sigma, len(x))
    pred, _ = knn_reference(x, y)
    rmse = np.sqrt(np.mean((pred - y) ** 2))
    assert floor_rmse(delta_test(x, y)) * 0.97 < rmse < 1.15 * sigma


def test_knn_reference_with_groups_never_sees_the_group():
    """Each group sits at one spot with its own label: with group folds the neighbours
    are other groups (error ~ the spread of the group labels), without them the group's
    own samples (error ~ the small noise)."""
    rng = np.random.default_rng(10)
    groups = np.repeat(np.arange(50), 20)
    spots, levels = rng.uniform(size=(50, 2)), rng.normal(size=50) * 3
    x = spots[groups] + rng.normal(0, 1e-3, size=(len(groups), 2))
    y = levels[groups] + rng.normal(0, 0.1, len(groups))
    grouped, _ = knn_reference(x, y, n_neighbors=(5, 10), groups=groups)
    shuffled, _ = knn_reference(x, y, n_neighbors=(5, 10))
    assert np.sqrt(np.mean((grouped - y) ** 2)) > 1.0
    assert np.sqrt(np.mean((shuffled - y) ** 2)) < 0.2


def test_rmse_by_third_is_regression_metrics_on_each_third():
    rng = np.random.default_rng(11)
    y = rng.integers(0, 256, size=500).astype(float)
    pred, w = y + rng.normal(0, 1 + y / 20), rng.uniform(0.5, 2, size=500)
    edges = np.linspace(0, 255, 4)
    thirds = rmse_by_third(y, pred, edges, weights=w)
    assert list(thirds) == ["low", "mid", "high"]
    for (name, got), lo, hi in zip(thirds.items(), edges[:-1], edges[1:], strict=True):
        rows = (y >= lo) & ((y < hi) if name != "high" else (y <= hi))
        want = regression_metrics(y[rows], pred[rows], weights=w[rows])
        assert got == {"rmse": pytest.approx(want["rmse"], rel=1e-12), "n_test": rows.sum()}
    assert thirds["low"]["rmse"] < thirds["high"]["rmse"]  # the noise grows with y


def test_metrics_and_floor_import_without_torch():
    code = (
        "import sys, microprop.metrics as m, microprop.floor as f;"
        "m.rmse_by_third([1.0], [2.0], [0, 1, 2, 3]); f.delta_test([[0.0], [1.0]], [0.0, 1.0]);"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def steep_in_four_dimensions(seed: int, sigma: float):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(6000, 4))
    f = 2 * np.sin(2 * np.pi * x[:, 0]) + x[:, 1:].sum(axis=1)
    return x, f, f + rng.normal(0, sigma, len(x))


def test_gamma_removes_the_delta_tests_distance_bias():
    """6,000 samples in 4-D: neighbours are ~0.1 apart, and f's variation over that
    lifts the Delta test ~25 % above sigma (1.29 here, 1.26-1.28 for seeds 0-4); the
    Gamma test's intercept comes within ~7 % (1.07 here, 1.00-1.07)."""
    sigma = 0.3
    x, _, y = steep_in_four_dimensions(12, sigma)
    assert floor_rmse(delta_test(x, y)) > 1.15 * sigma
    intercept, slope = gamma_test(*neighbour_differences(x, y))
    assert np.sqrt(intercept) == pytest.approx(sigma, rel=0.1)
    assert slope > 0


def test_gamma_of_a_noise_free_function_is_near_zero_and_per_part():
    x, f, _ = steep_in_four_dimensions(13, 0.0)
    d2, half = neighbour_differences(x, f)
    assert abs(gamma_test(d2, half)[0]) < 0.01 * f.var()
    assert abs(gamma_test(d2, half, x[:, 0] < 0.5)[0]) < 0.01 * f.var()
    assert gamma_test(d2, half, np.zeros(len(f), bool)) is None
