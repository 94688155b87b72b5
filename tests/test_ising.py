"""The Ising kernel against what is known exactly: ground state, infinite temperature,
the Boltzmann distribution of a 4x4 lattice (all 2^16 states), Onsager's energy."""

import itertools

import numpy as np
import pytest
from scipy import special, stats

from microprop.ising import TC, energy, metropolis, simulate_images, simulate_shard


def onsager_energy_per_spin(T: float) -> float:
    """Exact energy per spin of the infinite square lattice (Onsager, J = k_B = 1)."""
    b = 2.0 / T
    k = 2.0 * np.sinh(b) / np.cosh(b) ** 2
    return -1 / np.tanh(b) * (1 + 2 / np.pi * (2 * np.tanh(b) ** 2 - 1) * special.ellipk(k**2))


def test_onsager_formula_itself():
    assert onsager_energy_per_spin(TC * (1 + 1e-7)) == pytest.approx(-np.sqrt(2), abs=1e-4)
    assert onsager_energy_per_spin(1e6) == pytest.approx(0.0, abs=1e-5)


def test_zero_temperature_keeps_the_ordered_state():
    for sign in (1, -1):
        spins = np.full((64, 64), sign, np.int8)
        metropolis(spins, 0.0, 64**3, seed=3)
        assert np.all(spins == sign)


def test_zero_temperature_flips_back_a_lone_spin():
    """At T = 0 a flip with dE <= 0 is always taken: a lone flipped spin in an ordered
    lattice (dE = -8) is flipped back. A kernel that never flips keeps it."""
    spins = np.ones((16, 16), np.int8)
    spins[5, 7] = -1
    metropolis(spins, 0.0, 50 * 16 * 16, seed=1)  # the site is drawn ~50 times
    assert np.all(spins == 1)


def test_low_temperature_keeps_order():
    spins = np.ones((64, 64), np.int8)
    metropolis(spins, 0.5, 64**3, seed=4)
    assert spins.mean() > 0.999  # exp(-8/0.5) ~ 1e-7 per attempt: almost no flips


def test_very_high_temperature_disorders_an_ordered_lattice():
    """From the ordered state, 64 sweeps at T = 1e4 (every flip taken with probability
    exp(-8/1e4) > 0.999) leave independent spins: |m| of 4096 spins has std 1/64. A
    kernel that never flips keeps m = 1."""
    for seed in range(5):
        spins = np.ones((64, 64), np.int8)
        metropolis(spins, 1e4, 64**3, seed=seed)
        assert abs(spins.mean()) < 5 / 64, seed


def test_very_high_temperature_gives_zero_magnetization():
    images = simulate_images(np.full(20, 1e4), np.arange(20, dtype=np.uint64), 64, 64**3)
    m = (images.astype(float) / 255 * 2 - 1).mean(axis=(1, 2))
    # independent spins: the magnetization of 4096 spins has std 1/64
    assert np.abs(m).max() < 5 / 64
    assert abs(m.mean()) < 3 / 64 / np.sqrt(20)


def neighbour_correlation(images: np.ndarray) -> np.ndarray:
    """<s_i s_j> over nearest-neighbour pairs (periodic) of each image."""
    s = images.astype(float) / 255 * 2 - 1
    return 0.5 * (s * np.roll(s, 1, 1) + s * np.roll(s, 1, 2)).mean(axis=(1, 2))


def test_dataset_images_coarsen_below_tc_and_stay_random_above():
    """The dataset path (random start, 64 sweeps): below Tc the spins order into domains,
    so neighbours agree far more than at random; at T = 1e4 they stay independent.
    Independent spins give <s_i s_j> = 0 with std 1/sqrt(2 * 4096) ~ 0.011; a kernel
    that never flips leaves the random start, with the same zero correlation at T = 0.5."""
    seeds = np.arange(8, dtype=np.uint64)
    cold = simulate_images(np.full(8, 0.5 * TC), seeds, 64, 64**3)
    hot = simulate_images(np.full(8, 1e4), seeds, 64, 64**3)
    assert neighbour_correlation(cold).min() > 0.8
    assert np.abs(neighbour_correlation(hot)).max() < 5 / np.sqrt(2 * 64 * 64)


def exact_energy_distribution(n: int, T: float) -> dict[float, float]:
    """P(E) of an n x n periodic lattice by enumerating all 2^(n*n) states."""
    states = np.array(list(itertools.product((-1, 1), repeat=n * n)), np.int8)
    s = states.reshape(-1, n, n).astype(np.int32)
    E = -(s * np.roll(s, 1, 1)).sum((1, 2)) - (s * np.roll(s, 1, 2)).sum((1, 2))
    values, g = np.unique(E, return_counts=True)
    w = g * np.exp(-(values - values.min()) / T)
    return dict(zip(values.astype(float), w / w.sum(), strict=True))


def sample_energies(n: int, T: float, samples: int, sweeps_between: int, seed: int):
    spins = np.ones((n, n), np.int8)
    metropolis(spins, T, 1000 * n * n, seed=seed)  # equilibrate
    out = np.empty(samples)
    for i in range(samples):
        metropolis(spins, T, sweeps_between * n * n, seed=seed + 1 + i)
        out[i] = energy(spins)
    return out


def chi2_pvalue(sample: np.ndarray, exact: dict[float, float]) -> float:
    """Chi-square goodness of fit; states with expected count < 5 are pooled."""
    values = np.array(sorted(exact))
    expected = np.array([exact[v] for v in values]) * len(sample)
    observed = np.array([(sample == v).sum() for v in values])
    assert observed.sum() == len(sample), "sampled an energy that cannot occur"
    keep = expected >= 5
    obs = np.append(observed[keep], observed[~keep].sum())
    exp = np.append(expected[keep], expected[~keep].sum())
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    return stats.chisquare(obs, exp).pvalue


@pytest.mark.slow
def test_4x4_energies_follow_the_exact_boltzmann_distribution():
    """40,000 samples, 10 sweeps apart (well beyond the correlation time at T = 2.5).

    Statistical bound: a correct sampler passes the chi-square test at p > 1e-3 (fails
    with probability 0.1%; the seed is fixed, so the test is deterministic). The same
    samples are rejected (p < 1e-6) against the exact law at other temperatures, which
    shows the test has the power to catch a wrong acceptance rule.
    """
    sample = sample_energies(4, 2.5, 40_000, 10, seed=11)
    assert chi2_pvalue(sample, exact_energy_distribution(4, 2.5)) > 1e-3
    assert chi2_pvalue(sample, exact_energy_distribution(4, 2.3)) < 1e-6
    assert chi2_pvalue(sample, exact_energy_distribution(4, 2.7)) < 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("T, start", [(2.0, "ordered"), (3.0, "random")])
def test_64x64_energy_matches_onsager(T, start):
    """Mean energy per spin over 2000 sweeps after 500 of equilibration.

    Tolerance 0.01 per spin: the finite-size correction at L = 64 away from Tc is
    below 1e-3 and the statistical error of the mean below 2e-3.
    """
    rng = np.random.default_rng(5)
    spins = np.ones((64, 64), np.int8)
    if start == "random":
        spins = rng.choice(np.array([-1, 1], np.int8), (64, 64))
    metropolis(spins, T, 500 * 64 * 64, seed=21)
    u = [energy(metropolis(spins, T, 64 * 64, seed=100 + i)) / 64**2 for i in range(2000)]
    assert np.mean(u) == pytest.approx(onsager_energy_per_spin(T), abs=0.01)


def test_same_seed_same_images_bit_for_bit():
    a = simulate_shard(0, 16, seed=9, threads=2)
    b = simulate_shard(0, 16, seed=9, threads=1)
    for key in ("images", "label", "image_seed"):
        assert np.array_equal(a[key], b[key]), key
    c = simulate_shard(0, 16, seed=10)
    assert not np.array_equal(a["images"], c["images"])


def test_shards_are_slices_of_one_dataset():
    whole = simulate_shard(0, 6, seed=2, attempts_per_image=5000)
    part = simulate_shard(4, 2, seed=2, attempts_per_image=5000)
    assert np.array_equal(whole["images"][4:], part["images"])
    assert np.array_equal(whole["index"][4:], part["index"])


def test_images_and_labels_have_the_documented_encoding():
    shard = simulate_shard(0, 200, seed=1, attempts_per_image=100)
    assert shard["images"].dtype == np.uint8
    assert set(np.unique(shard["images"])) <= {0, 255}
    assert shard["label"].min() >= 0 and shard["label"].max() <= 255
    assert np.allclose(shard["temperature"], shard["label"] * 2 * TC / 255)
    # labels uniform over 0..255: chi-square over 8 bins of 32 labels
    counts = np.bincount(shard["label"] // 32, minlength=8)
    assert stats.chisquare(counts).pvalue > 1e-3
