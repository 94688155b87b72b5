"""Kolmogorov flow (microprop.cfd, jax-cfd): exact solutions, conservation, the energy
budget, determinism, and the shard -> assemble path of the CFD dataset."""

import dataclasses

import numpy as np
import pytest

from microprop.cfd import (
    CFDParams,
    Simulator,
    apply_symmetry,
    energy_budget,
    from_uint8,
    initial_vorticity_hat,
    laminar_vorticity,
    random_symmetry,
    simulate_shard,
    step_function,
    symmetry_shift_step,
    to_uint8,
)
from microprop.dataset import SimulationFileError, assemble_cfd
from microprop.io import TEST, write_h5

P = CFDParams()


def test_time_step_respects_the_courant_number():
    dx = 2 * np.pi / P.resolution
    assert P.time_step == pytest.approx(P.cfl * dx / P.max_velocity, rel=1e-12)


def test_laminar_flow_matches_the_exact_steady_solution():
    # Re = 1: every perturbation decays at least as exp(-(nu + alpha) t) = exp(-1.1 t),
    # e^-22 after 20 time units; what is left is u = sin(4y)/(nu k^2 + alpha)
    w, speed = Simulator(P, n_steps=P.spinup_steps).vorticity(1.0, seed=3)
    exact = laminar_vorticity(P, 1.0)
    assert np.max(np.abs(w - exact)) < 1e-5 * np.max(np.abs(exact))  # float32 round-off
    assert speed == pytest.approx(1 / (16 + P.drag), rel=1e-4)


def test_turbulent_flow_keeps_zero_mean_vorticity():
    # the k = 0 mode has no source (curl of a periodic field) and a zero start
    traj = Simulator(P, n_steps=600, every=100).trajectory(800.0, seed=1)
    means = np.fft.irfftn(traj, axes=(1, 2)).mean(axis=(1, 2))
    rms = np.sqrt(np.mean(np.fft.irfftn(traj[-1]) ** 2))
    assert rms > 1.0  # a developed flow, not a trivial zero
    assert np.max(np.abs(means)) < 1e-6 * rms


def test_energy_budget_at_statistically_steady_state():
    # Re = 50 on 64^2 is resolved (the enstrophy spectrum falls by orders of magnitude
    # before the 2/3 cutoff k = 21, docs/cfd.md). Over t = 20..40: the change of E per time
    # equals the time-averaged forcing work minus viscous and drag dissipation; at steady
    # state that change is small beside the work itself.
    re, every = 50.0, 5
    n = 2 * P.spinup_steps // every * every
    traj = Simulator(P, n_steps=n, every=every).trajectory(re, seed=2)
    b = energy_budget(P, re, traj[len(traj) // 2 :])
    dt = P.time_step * every
    span = dt * (len(b["E"]) - 1)
    dE = (b["E"][-1] - b["E"][0]) / span
    source = np.trapezoid(b["P"] - b["D_nu"] - b["D_a"], dx=dt) / span
    work = b["P"].mean()
    assert work > 0.1
    # the trapezoid rule on snapshots 5 steps apart: 1% of the forcing work
    assert abs(dE - source) < 0.01 * work
    # statistically steady: E drifts by less than 10% of the work
    assert abs(dE) < 0.1 * work
    # and the dissipation balances the work within 10% on average
    assert (b["D_nu"] + b["D_a"]).mean() == pytest.approx(work, rel=0.1)


def test_same_seed_same_image_other_seed_other_image():
    sim = Simulator(P, n_steps=200)
    a, _ = sim.vorticity(300.0, seed=5)
    b, _ = sim.vorticity(300.0, seed=5)
    c, _ = sim.vorticity(300.0, seed=6)
    assert np.array_equal(a, b)
    assert np.max(np.abs(a - c)) > 0.1 * np.max(np.abs(a))


def _evolve(w0: np.ndarray, reynolds: float, n_steps: int) -> np.ndarray:
    import jax

    step = jax.jit(step_function(P, 1.0 / reynolds))
    w_hat = np.fft.rfftn(w0.astype(np.float32))
    for _ in range(n_steps):
        w_hat = step(w_hat)
    return np.fft.irfftn(np.asarray(w_hat))


@pytest.mark.parametrize(
    "element",  # (x-shift a, rotation by pi, y-shift m in periods 2 pi/k)
    [(5, False, 2), (0, True, 0), (40, True, 3)],
    ids=["shifts", "rotation-by-pi", "both"],
)
def test_solver_commutes_with_the_kolmogorov_symmetries(element):
    # evolving a transformed field = transforming the evolved field, for a developed
    # flow at Re 400 over 100 steps. A y-shift by half a period is not a symmetry, and
    # the continuum's shift-reflect (x -> -x, y -> y + pi/k, w -> -w) is broken by
    # jax-cfd's asymmetric 2/3 filter: both fail, which is why the group leaves them out
    import jax

    w0 = np.fft.irfftn(np.asarray(initial_vorticity_hat(P, jax.random.PRNGKey(7))))
    w0 = _evolve(w0, 400.0, 300)  # turbulent, with every mode excited
    step = symmetry_shift_step(P.resolution, P.forcing_wavenumber)
    ref = _evolve(w0, 400.0, 100)
    scale = np.max(np.abs(ref))

    def error(g):
        return np.max(np.abs(_evolve(g(w0), 400.0, 100) - g(ref))) / scale

    assert error(lambda w: apply_symmetry(w[None], *element, step=step)[0]) < 1e-4
    assert error(lambda w: np.roll(w, step // 2, axis=1)) > 1e-2
    assert error(lambda w: -np.roll(w[::-1], -step // 2, axis=1)) > 1e-2


def test_laminar_flow_is_invariant_under_the_group():
    w = np.repeat(laminar_vorticity(P, 10.0)[None], 64, axis=0)
    moved = random_symmetry(w, np.random.default_rng(0), P.forcing_wavenumber)
    tol = 1e-5 * np.max(np.abs(w))  # the grid's float32 coordinates (measured 2.5e-6)
    assert np.max(np.abs(moved - w)) < tol
    assert np.max(np.abs(np.roll(w, 8, axis=2) - w)) > 1.0  # half a period is not
    with pytest.raises(ValueError, match="whole pixels"):
        symmetry_shift_step(66, 4)


def test_random_symmetry_draws_the_whole_group():
    # each drawn image is exactly one of the 512 group images of the original, and the
    # draws reach both rotations and every y-shift
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(1, 64, 64), dtype=np.uint8)
    out = random_symmetry(np.repeat(x, 64, axis=0), rng, 4)
    seen = set()
    for y in out:
        found = [
            (rotate, m)
            for rotate in (False, True)
            for a in range(64)
            for m in range(4)
            if np.array_equal(apply_symmetry(x, a, rotate, m, 16)[0], y)
        ]
        assert len(found) == 1
        seen.add(found[0])
    assert len(seen) == 8


def test_uint8_map_is_fixed_monotone_and_invertible():
    w = np.linspace(-P.vorticity_max, P.vorticity_max, 1001)
    img = to_uint8(w, P.vorticity_scale, P.vorticity_max)
    assert img[0] == 0 and img[-1] == 255 and np.all(np.diff(img.astype(int)) >= 0)
    back = from_uint8(img, P.vorticity_scale, P.vorticity_max)
    # within half a grey level, in the asinh coordinate the levels are uniform in
    half_level = np.arcsinh(P.vorticity_max / P.vorticity_scale) / 255
    err = np.arcsinh(back / P.vorticity_scale) - np.arcsinh(w / P.vorticity_scale)
    assert np.max(np.abs(err)) <= half_level * (1 + 1e-9)


def _shards(tmp_path, p, sizes):
    paths, first = [], 0
    for i, n in enumerate(sizes):
        shard = simulate_shard(first, n, p, seed=4)
        path = tmp_path / f"shard_{i}.h5"
        write_h5(path, shard, {"seed": 4, "first_index": first, "kind": "cfd_shard"})
        paths.append(path)
        first += n
    return paths


def test_shards_assemble_into_a_dataset_split_over_re(tmp_path):
    quick = dataclasses.replace(P, spinup_time=0.5)
    paths = _shards(tmp_path, quick, [6, 6])
    arrays, attrs = assemble_cfd(paths, n_test=3, seed=0, image_size=64)
    re = arrays["property"]
    assert len(re) == 12 and np.all((re >= 1.0) & (re <= 800.0))
    assert attrs["dataset"] == "cfd" and attrs["n_test"] == 3
    # every 4th image in Re order: the test images span the Re range
    test_re = np.sort(re[arrays["split"] == TEST])
    ranks = np.searchsorted(np.sort(re), test_re)
    assert ranks.tolist() == [2, 6, 10]
    # the same images whatever the shard size
    one = simulate_shard(0, 12, quick, seed=4)
    assert np.array_equal(one["images"], arrays["images"])
    assert np.array_equal(one["label"], re)
    assert np.all(arrays["courant"] < quick.cfl)  # the speed bound of the time step held
    with pytest.raises(SimulationFileError, match="0..N-1"):
        assemble_cfd(paths[::-1], n_test=3, seed=0)
