"""The Fourier-spectral Cahn-Hilliard backend: exact energies of trigonometric fields
(Khachaturyan's B(n) in both backends), conservation, energy stability, translation
equivariance, the shared protocol and run file, the cross-check against the FEM
backend, and datasets that never mix backends."""

# isort: off
from pathlib import Path

import h5py
from mpi4py import MPI  # noqa: F401  (loads libmpi before dolfinx)

import numpy as np
import pytest

# isort: on
from ch_helpers import (
    CONFIG,
    LARGE_STEPS,
    UNDER_STABILIZED,
    B_closed_form,
    B_plane_wave,
    energy_and_mass_trace,
    energy_rises,
    params,
)

from microprop.ch import (
    CHParams,
    SimulationError,
    criteria,
    khachaturyan_B,
    make_backend,
    run_seed,
    simulate_run,
    write_run,
)
from microprop.ch.spectral import SpectralCahnHilliard
from microprop.dataset import SimulationFileError, assemble_ch, dataset_card, write_dataset
from microprop.io import read_attrs


def nodal_grid(p: CHParams, f) -> np.ndarray:
    """f(x, y) at the n_cells² nodes (i h, j h): with init_grid = n_cells both backends
    take these values exactly (bilinear interpolation at the nodes)."""
    x = np.arange(p.n_cells) * p.length / p.n_cells
    X, Y = np.meshgrid(x, x, indexing="ij")
    return f(X, Y)


def smooth_field(p: CHParams, amplitude: float, m_max: int, seed: int = 0) -> np.ndarray:
    """0.5 + a seeded sum of plane waves with |m| <= m_max (wavelengths >= L/m_max),
    scaled to standard deviation ``amplitude``, at the nodes."""
    rng = np.random.default_rng(seed)
    modes = [
        (mx, my)
        for mx in range(-m_max, m_max + 1)
        for my in range(m_max + 1)
        if (mx, my) > (0, 0) and mx * mx + my * my <= m_max * m_max
    ]
    amp, phase = rng.normal(size=len(modes)), rng.uniform(0, 2 * np.pi, len(modes))

    def f(X, Y):
        k = 2 * np.pi / p.length
        c = sum(
            a * np.cos(k * (mx * X + my * Y) + ph)
            for (mx, my), a, ph in zip(modes, amp, phase, strict=True)
        )
        return c / c.std()

    return 0.5 + amplitude * nodal_grid(p, f)


def test_khachaturyan_B_closed_forms_and_isotropic_limit():
    p = params(eps0=0.01)
    b10, b11 = B_closed_form(p)
    assert p.elastic_B() == pytest.approx((min(b10, b11), max(b10, b11)), rel=1e-12)
    theta = np.linspace(0, 2 * np.pi, 73)  # every 5 degrees
    b = khachaturyan_B(np.cos(theta), np.sin(theta), p.eps0, p.C11, p.C12, p.C44)
    assert b.min() == pytest.approx(b10) and b.max() == pytest.approx(b11)  # cubic extremes
    # Isotropic moduli (C11 - C12 = 2 C44): B is the same along every direction.
    iso = khachaturyan_B(np.cos(theta), np.sin(theta), 0.01, 200.0, 100.0, 50.0)
    assert np.ptp(iso) < 1e-9 * iso.mean()
    assert iso[0] == pytest.approx(0.01**2 * 300e3 * 100e3 / 200e3)


@pytest.mark.parametrize("plane_strain", [False, True])
def test_khachaturyan_B_equals_the_relaxed_plane_wave_energy(plane_strain):
    """B(n) = e_σ - s² n·Ω(n)·n with the model's misfit constants equals the plane wave's
    relaxed energy computed from the 3D stiffness tensor, in every direction; plane
    strain is stiffer (287 and 574 ε0² GPa against 102 and 246 along [10] and [11])."""
    p = params(eps0=0.01, plane_strain=plane_strain)
    theta = np.linspace(0, np.pi, 37)
    got = khachaturyan_B(
        np.cos(theta), np.sin(theta), p.eps0, p.C11, p.C12, p.C44, plane_strain=plane_strain
    )
    want = [B_plane_wave(p, np.cos(t), np.sin(t)) for t in theta]
    assert got == pytest.approx(want, rel=1e-10)
    b10, b11 = got[0] / p.eps0**2 / 1000, got[9] / p.eps0**2 / 1000  # GPa; theta[9] = 45°
    assert (round(b10), round(b11)) == ((287, 574) if plane_strain else (102, 246))
    assert p.elastic_B() == pytest.approx((got.min(), got.max()), rel=1e-12)


@pytest.mark.parametrize(
    "direction, plane_strain", [("10", False), ("11", False), ("10", True), ("11", True)]
)
def test_sinusoidal_field_elastic_energy_equals_B_in_both_backends(direction, plane_strain):
    """c = c̄ + a cos(k·x): E_el = ½ B(n) ∫(c - c̄)², exactly (to round-off) on the
    spectral grid and within 1% on the FEM's 64² mesh (it converges, see
    tests/test_cahn_hilliard.py), in both elasticity models (B from the stiffness tensor,
    :func:`ch_helpers.B_plane_wave`); the gradient energy ½ k_c |k|² ∫(c - c̄)² likewise."""
    a, cbar = 0.3, 0.5
    p = params(n_cells=64, init_grid=64, eps0=0.01, plane_strain=plane_strain)
    k = 2 * np.pi / p.length
    if direction == "10":
        grid, k2 = nodal_grid(p, lambda X, Y: cbar + a * np.cos(k * X)), k**2
    else:
        grid, k2 = nodal_grid(p, lambda X, Y: cbar + a * np.cos(k * (X + Y))), 2 * k**2
    r = np.sqrt(0.5)
    B = B_plane_wave(p, 1.0, 0.0) if direction == "10" else B_plane_wave(p, r, r)
    var = a**2 * p.length**2 / 2  # ∫(c - c̄)²
    energies = {}
    for backend in ("spectral", "fem"):
        sim = make_backend(p, backend)
        sim.set_initial_grid(grid)
        energies[backend] = sim.energy()
    spec, fem = energies["spectral"], energies["fem"]
    assert spec["elastic"] == pytest.approx(0.5 * B * var, rel=1e-12)
    assert spec["grad"] == pytest.approx(0.5 * p.k_c * k2 * var, rel=1e-12)
    assert fem["elastic"] == pytest.approx(0.5 * B * var, rel=0.01)
    # The bulk part by the trapezoidal rule, exact for this trigonometric polynomial.
    theta = np.linspace(0, 2 * np.pi, 4096, endpoint=False)
    c = cbar + a * np.cos(theta)
    bulk = p.c0 * np.mean(c**2 * (1 - c) ** 2) * p.length**2
    assert spec["bulk"] == pytest.approx(bulk, rel=1e-12)


@pytest.fixture(scope="module")
def spectral_short_run():
    return energy_and_mass_trace(SpectralCahnHilliard, params())


def test_spectral_conserves_mass_and_never_raises_the_energy(spectral_short_run):
    E, m = spectral_short_run
    assert np.max(np.abs(m - m[0])) < 1e-13
    assert np.all(np.diff(E) <= 1e-10 * np.abs(E[:-1])), np.diff(E).max()
    assert E[-1] < 0.9 * E[0]


def test_spectral_stabilization_decides_energy_stability_at_large_steps():
    """With S at its bound E never rises even at steps of 1e-2 s; the negative control,
    a quarter of S, gains energy at those steps (so the check has power)."""
    assert not energy_rises(SpectralCahnHilliard, params(**LARGE_STEPS))
    under = params(stabilization=UNDER_STABILIZED, **LARGE_STEPS)
    assert energy_rises(SpectralCahnHilliard, under)


def test_spectral_stabilization_is_the_exact_elastic_bound():
    """S = c0 + max_k B(n_k)/2, and max_k B on the grid is the continuum B_max."""
    p = params(eps0=0.01)
    assert SpectralCahnHilliard(p).S == pytest.approx(p.c0 + max(B_closed_form(p)) / 2)
    assert SpectralCahnHilliard(params(elasticity=False)).S == pytest.approx(p.c0)


def test_spectral_periodic_shift_gives_shifted_solution():
    n = 16
    p = params(n_cells=n, image_size=n, init_grid=n)
    grid = np.random.default_rng(5).uniform(0, 1, (n, n))
    fields = []
    for g in (grid, np.roll(grid, (5, 3), axis=(0, 1))):
        sim = SpectralCahnHilliard(p)
        sim.set_initial_grid(g)
        for _ in range(15):
            sim.step(2e-4)
        fields.append(sim.c)
    assert np.allclose(fields[1], np.roll(fields[0], (5, 3), axis=(0, 1)), atol=1e-10)
    assert not np.allclose(fields[1], fields[0], atol=1e-3)


def test_backends_share_initial_field_and_images():
    """The seeded random field interpolated onto the nodes, and the pixel-centre images,
    are the same in both backends (the centres of 16² pixels are nodes of a 32² mesh)."""
    p = params()
    sims = [make_backend(p, b) for b in ("fem", "spectral")]
    for sim in sims:
        sim.set_initial_random(run_seed(3, 1))
    fem, spec = sims
    x = fem.W.tabulate_dof_coordinates()[:, :2]  # one row per node (blocked space)
    assert np.allclose(fem.c_array(), spec.sample(x), atol=1e-14)
    assert np.allclose(fem.image(), spec.image(), atol=1e-14)
    assert fem.mean_c() == pytest.approx(spec.mean_c(), rel=1e-12)


def test_spectral_run_file_records_the_backend(tmp_path):
    p = params()
    a = simulate_run(p, seed=7, run=1, backend="spectral")
    b = simulate_run(p, seed=7, run=1, backend="spectral")
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    path = tmp_path / "run_1.h5"
    write_run(path, p, seed=7, run=1, backend="spectral")
    n = p.part1_steps + p.part2_steps // p.save_every
    with h5py.File(path, "r") as f:
        assert f["images"].shape == (n, 16, 16) and f["images"].dtype == np.uint8
        assert np.array_equal(f["energy"][()], a["energy"])
        assert np.allclose(
            f["energy"][()], f["energy_bulk"][()] + f["energy_grad"][()] + f["energy_elastic"][()]
        )
    attrs = read_attrs(path)
    assert attrs["backend"] == "spectral" and attrs["solver"] == "scipy.fft"
    assert attrs["stabilization_S"] == pytest.approx(p.c0 + max(B_closed_form(p)) / 2)
    assert set(criteria(a, p)) >= {"E_start", "E_end", "e_elastic_share_end"}


def test_spectral_nan_fails_with_clear_message_and_no_file(tmp_path):
    with pytest.raises(SimulationError, match="NaN"):
        write_run(tmp_path / "run_0.h5", params(c0=float("nan")), 0, 0, backend="spectral")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="unknown Cahn-Hilliard backend"):
        make_backend(params(), "fd")


def _assemble(tmp_path, backends):
    paths = []
    for run, backend in enumerate(backends):
        p = params(part1_steps=4, part2_steps=5)
        path = tmp_path / f"run_{run}.h5"
        write_run(path, p, seed=0, run=run, backend=backend)
        paths.append(path)
    return paths


def test_a_dataset_never_mixes_backends(tmp_path):
    paths = _assemble(tmp_path, ["spectral", "fem", "spectral"])
    with pytest.raises(SimulationFileError, match="different backends.*fem: .*run_1.h5"):
        assemble_ch(paths, n_test_runs=1)
    with h5py.File(paths[1], "a") as f:  # a run file from before the backend attribute
        del f.attrs["backend"]
    with pytest.raises(SimulationFileError, match="different backends"):
        assemble_ch(paths, n_test_runs=1)
    arrays, attrs = assemble_ch([paths[0], paths[2]], n_test_runs=1)
    assert attrs["backend"] == "spectral" and attrs["simulation"]["backend"] == "spectral"
    assert attrs["run_seed_sequences"] == [[0, 0], [0, 2]]  # each run's own stream
    assert "seed_sequence" not in attrs["simulation"]  # not the first run's alone
    attrs = write_dataset(tmp_path / "ch.h5", arrays, attrs, config={})
    assert read_attrs(tmp_path / "ch.h5")["backend"] == "spectral"
    assert "| simulation backend | spectral |" in dataset_card(arrays, attrs, paths)


def test_a_capped_training_split_keeps_a_seeded_draw_of_the_training_runs(tmp_path):
    """ch.max_train: the training split is a seeded draw of that many training-run images,
    the rest of those runs is 'unused' (neither trained on nor scored), the test runs stay
    whole; a model's training rows (Dataset.train_idx) are the drawn ones only."""
    from microprop.io import TEST, TRAIN, UNUSED, load_dataset

    paths = _assemble(tmp_path, ["spectral"] * 3)  # 5 saved steps per run
    full, _ = assemble_ch(paths, n_test_runs=1)
    assert set(full["split"].tolist()) == {TRAIN, TEST}
    arrays, attrs = assemble_ch(paths, n_test_runs=1, max_train=4, seed=3)
    split, runs = arrays["split"], arrays["run"]
    assert (split == TRAIN).sum() == 4 and (split == UNUSED).sum() == 6
    assert np.array_equal(split == TEST, runs == 2)  # the test run whole
    assert set(runs[split != TEST]) == {0, 1} and attrs["max_train"] == 4
    again, _ = assemble_ch(paths, n_test_runs=1, max_train=4, seed=3)
    other, _ = assemble_ch(paths, n_test_runs=1, max_train=4, seed=4)
    assert np.array_equal(again["split"], split) and not np.array_equal(other["split"], split)
    attrs = write_dataset(tmp_path / "ch.h5", arrays, attrs, config={})
    ds = load_dataset(tmp_path / "ch.h5")
    assert ds.train_idx.tolist() == np.flatnonzero(split == TRAIN).tolist()
    assert ds.test_idx.tolist() == np.flatnonzero(runs == 2).tolist()
    card = dataset_card(arrays, attrs, paths)
    assert "| train / test | 4 / 5 |" in card and "| unused training-run images | 6 " in card


def _energy_curves(p: CHParams, grid: np.ndarray) -> dict[str, np.ndarray]:
    """E after every step of p.dts() from ``grid`` (at the nodes) in both backends."""
    curves = {}
    for backend in ("fem", "spectral"):
        sim = make_backend(p, backend)
        sim.set_initial_grid(grid)
        E = [sim.energy()["total"]]
        for dt in p.dts():
            sim.step(float(dt))
            E.append(sim.energy()["total"])
        curves[backend] = np.array(E)
    return curves


def _assert_through_the_kink(p: CHParams, E: np.ndarray) -> None:
    """The spinodal separation happened inside the compared window: E first flat over
    the first 5% of the time (the small perturbation grows), its steepest drop later,
    then a drop of more than 15%. (At the config's M = 15 the steepest drop comes at 16%
    of part 1, and E is 0.3% below E(0) at 5%, 1.7% at 10%: a 10% window, chosen at
    M = 7, no longer fits.)"""
    t = np.concatenate([[0.0], np.cumsum(p.dts())])
    early = t < 0.05 * t[-1]
    assert E[early].min() > 0.99 * E[0]
    assert t[np.argmax(-np.gradient(E, t))] > 0.05 * t[-1]
    assert E[-1] < 0.85 * E[0]


def test_fem_and_spectral_agree_through_the_spinodal_kink_small():
    """A 48² version of the cross-check below (k_c = 20 for 4.7 cells across the
    interface): from a smooth field the two E(t) agree within 2% at every step
    (measured 1.1%)."""
    p = params(
        n_cells=48,
        init_grid=48,
        k_c=20.0,
        mobility=7.0,
        eps0=0.007,
        part1_steps=100,
        dt_min=1e-6,
        dt_max=1e-4,
        part2_steps=300,
        dt=1e-4,
    )
    curves = _energy_curves(p, smooth_field(p, 0.02, 4))
    diff = np.abs(curves["spectral"] / curves["fem"] - 1)
    print(f"largest relative E difference, FEM vs spectral (48²): {diff.max():.4f}")
    assert diff.max() < 0.02, diff.max()
    _assert_through_the_kink(p, curves["fem"])


@pytest.mark.slow
def test_fem_and_spectral_agree_through_the_spinodal_kink_at_default_parameters():
    """Part 1 of the protocol at config/config.yaml's parameters (128², 2000 log-spaced
    steps, to t = 0.029 s) from a smooth field (c = 0.5 + waves of wavelength >= 2.5 um,
    standard deviation 0.02): E(t) of the two backends within 2% at every step (measured
    0.49% at M = 15, eps0 = 0.0075), and the FEM's gap to the spectral curve shrinks under
    mesh refinement (64²: 1.85%). 11 s at load 3-4 on 2 cores."""
    p = CHParams.from_config_file(CONFIG, init_grid=128)
    p.part2_steps = 0
    gaps = {}
    for n in (64, 128):
        q = CHParams(**{**p.as_dict(), "n_cells": n, "init_grid": n})
        curves = _energy_curves(q, smooth_field(q, 0.02, 8))
        gaps[n] = np.abs(curves["spectral"] / curves["fem"] - 1).max()
        _assert_through_the_kink(q, curves["spectral"])
    print(f"largest relative E difference, FEM vs spectral: {gaps}")
    assert gaps[128] < 0.02
    assert gaps[128] < 0.5 * gaps[64]


@pytest.mark.slow
def test_pfhub_1a_spinodal_stage_matches_published_codes():
    """PFHub benchmark 1a mapped onto our model (microprop.ch.pfhub) through the spectral
    backend: through the spinodal stage (t <= 100) F stays within 3% of every published
    point of MOOSE and MEMPHIS, two independent codes (they differ from each other by
    up to 4% at t = 100); halving Δt moves F by less than 1% (resolved in time); F never
    rises. A wrong mobility or energy scale moves the drop from 300 to 200 (t = 10-20)
    and misses the points near it by tens of percent."""
    from microprop.ch.pfhub import at_time, read_reference, schedule, solve

    ref = read_reference(Path(__file__).parents[1] / "benchmarks/data/pfhub_bm1a_reference.csv")
    curves = [solve(256, schedule(100.0, 0.05 * f, 20.0, 8.0 * f), "spectral") for f in (1, 0.5)]
    for t, F in curves:
        assert np.all(np.diff(F) <= 1e-10 * F[:-1])
        for name in ("moose_1a_mpf", "memphis_1a"):
            tr, fr = ref[name]
            sel = (tr > 0) & (tr <= 100)
            assert sel.sum() >= 20
            ours = np.array([at_time(t, F, x) for x in tr[sel]])
            worst = np.abs(ours / fr[sel] - 1).max()
            assert worst < 0.03, (name, worst)
    (t1, F1), (t2, F2) = curves
    assert abs(at_time(t2, F2, 100.0) / at_time(t1, F1, 100.0) - 1) < 0.01


# Short protocol at the config's physics: 30 log-spaced steps over part 1's range (an
# image each) and 20 of part 2 (every 10th), enough to pass the first images whose
# labels lived in sub-pixel roughness on a simulation grid finer than the image.
SHORT_PROTOCOL = dict(part1_steps=30, part2_steps=20, save_every=10)
IMAGE_LABEL_TOLERANCE = 0.02  # issue 41: every stored image within 2% of its label


@pytest.mark.parametrize("backend", ["fem", "spectral"])
def test_every_image_determines_its_label(backend):
    """The backend's energy functional of each stored uint8 image equals that image's
    label (the simulation's total free energy) within 2% at every saved step, at the
    default physics, where the simulation grid is the image grid. Negative control: on a
    grid twice as fine (the previous default), the first images miss their labels by far
    more (measured +35%, +17%, +7.7% at the first three steps, FEM), so it can tell."""
    from microprop.ch.analysis import image_label_gaps

    p = CHParams.from_config_file(CONFIG, **SHORT_PROTOCOL)
    assert p.n_cells == p.image_size == p.init_grid
    out = simulate_run(p, seed=0, run=18, backend=backend)
    gaps = image_label_gaps(out, p, backend)
    assert len(gaps) == len(p.saved_steps())
    assert np.abs(gaps).max() < IMAGE_LABEL_TOLERANCE, np.abs(gaps).max()
    fine = CHParams(**{**p.as_dict(), "n_cells": 2 * p.n_cells})
    fine_gaps = image_label_gaps(simulate_run(fine, seed=0, run=18, backend=backend), fine, backend)
    assert abs(fine_gaps[0]) > 5 * IMAGE_LABEL_TOLERANCE, fine_gaps[:3]
    assert (np.abs(fine_gaps) > IMAGE_LABEL_TOLERANCE).sum() >= 3, fine_gaps[:3]
