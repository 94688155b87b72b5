"""Cahn-Hilliard with elasticity: conservation, energy stability, periodicity,
elasticity against the known eigenstrain solution, convergence, determinism, failures."""

# isort: off
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
    energy_and_mass_trace,
    energy_rises,
    params,
)

from microprop.ch import (
    CRITERIA_BANDS,
    CHParams,
    SimulationError,
    count_domains,
    criteria,
    criteria_met,
    distance_to_contour_px,
    phase_purity,
    run_seed,
    simulate_run,
    write_run,
)
from microprop.ch.fem import CahnHilliard, discrete_elastic_bound, elastic_bound
from microprop.io import read_attrs


@pytest.fixture(scope="module", params=[False, True], ids=["2d", "plane_strain"])
def short_run(request):
    """Energy and mean c after every step of a short run (with elasticity, both models)."""
    return energy_and_mass_trace(CahnHilliard, params(plane_strain=request.param))


def test_mass_conservation(short_run):
    _, m = short_run
    assert np.max(np.abs(m - m[0])) / m[0] < 1e-10


def test_energy_non_increasing_every_step(short_run):
    E, _ = short_run
    dE = np.diff(E)
    assert np.all(dE <= 1e-9 * np.abs(E[:-1])), dE.max()
    assert E[-1] < 0.9 * E[0]  # and it does decrease


@pytest.mark.parametrize("plane_strain", [False, True], ids=["2d", "plane_strain"])
def test_stabilization_decides_energy_stability_at_large_steps(plane_strain):
    """With S at its bound E never rises even at steps of 1e-2 s; the negative control,
    a quarter of S, gains energy at those steps (so the check has power)."""
    large = dict(LARGE_STEPS, plane_strain=plane_strain)
    assert not energy_rises(CahnHilliard, params(**large))
    assert energy_rises(CahnHilliard, params(stabilization=UNDER_STABILIZED, **large))


def test_fast_energy_equals_quadrature():
    sim = CahnHilliard(params())
    sim.set_initial_random(3)
    sim.step(1e-4)
    a, b = sim.energy(), sim.energy_forms()
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-10, abs=1e-10)


def test_fft_and_lu_solvers_agree():
    p = params(part1_steps=10, part2_steps=5)
    out = {}
    for solver in ("fft", "lu"):
        sim = CahnHilliard(p, solver=solver)
        sim.set_initial_random(1)
        for dt in p.dts():
            sim.step(float(dt))
        out[solver] = sim.c_array().copy()
    assert np.allclose(out["fft"], out["lu"], atol=1e-8)


def test_periodic_shift_gives_shifted_solution():
    n = 16
    p = params(n_cells=n, image_size=n, init_grid=n)
    grid = np.random.default_rng(5).uniform(0, 1, (n, n))
    sx, sy = 5, 3
    images = []
    for g in (grid, np.roll(grid, (sx, sy), axis=(0, 1))):
        sim = CahnHilliard(p)
        sim.set_initial_grid(g)
        for _ in range(15):
            sim.step(2e-4)
        images.append(sim.image())
    # grid[i, j] is at x = i h, y = j h; image rows run down in y, columns along x.
    expected = np.roll(images[0], (-sy, sx), axis=(0, 1))
    assert np.allclose(images[1], expected, atol=1e-9)
    assert not np.allclose(images[1], images[0], atol=1e-3)


def test_homogeneous_c_has_zero_elastic_energy():
    sim = CahnHilliard(params())
    sim.set_initial_grid(np.full((4, 4), 0.3))
    e = sim.energy_forms()
    assert abs(e["elastic"]) < 1e-12
    assert np.max(np.abs(sim.u.x.array)) < 1e-12
    assert e["bulk"] == pytest.approx(50.0 * 0.09 * 0.49 * 400.0, rel=1e-12)


@pytest.mark.parametrize("direction", ["10", "11"])
def test_sinusoidal_eigenstrain_energy_matches_theory(direction):
    """c = c̄ + a cos(k·x): E_el = ½ B(n) ∫(c - c̄)² with Khachaturyan's B(n)
    (n = [10] soft, n = [11] hard for these cubic constants); converges under refinement."""
    a, cbar = 0.3, 0.5
    errors = []
    for n in (16, 32, 64):
        p = params(n_cells=n, eps0=0.01)
        sim = CahnHilliard(p)
        x = sim.W.tabulate_dof_coordinates()[:, :2]
        kx = 2 * np.pi / p.length
        phase = kx * x[:, 0] if direction == "10" else kx * (x[:, 0] + x[:, 1])
        # Initial field directly on the nodes (init_grid = n_cells).
        grid = np.empty((n, n))
        h = p.length / n
        ii = np.rint(x[:, 0] / h).astype(int) % n
        jj = np.rint(x[:, 1] / h).astype(int) % n
        grid[ii, jj] = cbar + a * np.cos(phase)
        sim.set_initial_grid(grid)
        b10, b11 = (v for v in B_closed_form(p))
        B = b10 if direction == "10" else b11
        exact = 0.5 * B * a**2 * p.length**2 / 2
        errors.append(abs(sim.energy_forms()["elastic"] / exact - 1))
    assert errors[-1] < 0.01
    assert errors[0] > errors[1] > errors[2]


def test_stabilization_uses_the_discrete_elastic_bound():
    p = params(eps0=0.01)
    bmin, bmax = p.elastic_B()
    assert (bmin, bmax) == pytest.approx(B_closed_form(p))
    lam_min, lam_max = discrete_elastic_bound(p.n_cells, p.length, p.eps0, p.C11, p.C12, p.C44)
    assert CahnHilliard(p).S == pytest.approx(p.c0 + lam_max / 2)
    # The discrete form is stiffer than the continuum bound (the reason for using it) and
    # never above the unrelaxed e_sigma; its soft end is near the continuum B_min.
    e_sigma = p.eps0**2 * 2 * (p.C11 + p.C12) * 1000
    assert bmax < lam_max <= e_sigma * (1 + 1e-12)
    assert lam_min == pytest.approx(bmin, rel=0.1)
    assert elastic_bound(params(elasticity=False)) == 0.0


@pytest.mark.parametrize("plane_strain", [False, True])
def test_discrete_elastic_bound_equals_dense_eigenvalues(plane_strain):
    """The circulant-symbol bound equals the extreme generalized eigenvalues of
    B_h = e_sigma M_c - B_cᵀ K⁺ B_c (dense, reduced, zero-mean c) on a small mesh."""
    from scipy.linalg import eigh, null_space

    n = 6
    p = params(n_cells=n, eps0=0.01, plane_strain=plane_strain)
    sim = CahnHilliard(p)

    def dense(A):
        r0, r1 = A.getOwnershipRange()
        out = np.zeros(A.getSize())
        for i in range(r0, r1):
            cols, vals = A.getRow(i)
            out[i, cols] = vals
        return out

    Pw, Pu = dense(sim.pw.P), dense(sim.pu.P)
    K = Pu.T @ dense(sim.K_full) @ Pu
    Bc = (Pu.T @ dense(sim.B_c) @ Pw)[:, 0::2]  # c components of the blocked (c, μ)
    M = (Pw.T @ dense(sim.Mc) @ Pw)[0::2, 0::2]
    e_sigma = p.misfit()[1]
    Bh = e_sigma * M - Bc.T @ np.linalg.pinv(K, rcond=1e-10, hermitian=True) @ Bc
    Z = null_space((M @ np.ones(len(M)))[None, :])  # zero-mean fields
    lam = eigh(Z.T @ Bh @ Z, Z.T @ M @ Z, eigvals_only=True)
    got = discrete_elastic_bound(n, p.length, p.eps0, p.C11, p.C12, p.C44, plane_strain)
    assert got == pytest.approx((lam.min(), lam.max()), rel=1e-8)


def test_energy_converges_under_mesh_and_dt_refinement():
    """E at a fixed time for (mesh, Δt) = (16, 16τ), (32, 4τ), (64, τ) (Δt ∝ h², the
    scheme is first order in time, second in space): the differences shrink ~4x."""
    t_end, steps = 4e-3, 8
    E = []
    for n, k in ((16, 1), (32, 4), (64, 16)):
        p = params(n_cells=n, k_c=20.0)
        sim = CahnHilliard(p)
        h = p.length / n
        x, y = np.meshgrid(np.arange(n) * h, np.arange(n) * h, indexing="ij")
        kx = 2 * np.pi / p.length
        sim.set_initial_grid(0.5 + 0.2 * np.cos(kx * x) + 0.15 * np.sin(2 * kx * y + 0.3))
        for _ in range(steps * k):
            sim.step(t_end / (steps * k))
        E.append(sim.energy()["total"])
    d1, d2 = abs(E[1] - E[0]), abs(E[2] - E[1])
    assert d2 < 0.4 * d1, E
    assert d2 / abs(E[2]) < 0.03, E


def test_determinism_and_run_file(tmp_path):
    p = params()
    a = simulate_run(p, seed=7, run=1)
    b = simulate_run(p, seed=7, run=1)
    c = simulate_run(p, seed=7, run=2)
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    assert not np.array_equal(a["images"], c["images"])
    path = tmp_path / "run_1.h5"
    write_run(path, p, seed=7, run=1)
    n = p.part1_steps + p.part2_steps // p.save_every
    with h5py.File(path, "r") as f:
        assert f["images"].shape == (n, 16, 16) and f["images"].dtype == np.uint8
        for k in ("energy", "energy_bulk", "energy_grad", "energy_elastic", "time", "mean_c"):
            assert f[k].shape == (n,) and f[k].dtype == np.float64
        assert f["step"].dtype == np.int64
        assert np.allclose(
            f["energy"][()], f["energy_bulk"][()] + f["energy_grad"][()] + f["energy_elastic"][()]
        )
        assert np.all(np.diff(f["time"][()]) > 0)
        assert f["step"][p.part1_steps] == p.part1_steps + p.save_every
    attrs = read_attrs(path)
    assert attrs["kind"] == "ch_run" and attrs["run"] == 1 and attrs["seed"] == 7
    assert attrs["property_name"] == "total free energy"
    assert "pJ/um" in attrs["energy_units"]
    for key in ("c0", "k_c", "mobility", "eps0", "C11", "n_cells", "code_version"):
        assert key in attrs


def test_nan_fails_with_clear_message_and_no_file(tmp_path):
    path = tmp_path / "run_0.h5"
    with pytest.raises(SimulationError, match="NaN"):
        write_run(path, params(c0=float("nan")), seed=0, run=0)
    assert list(tmp_path.iterdir()) == []


def test_non_convergence_fails_with_clear_message():
    # LU with a stale factorization (never refactored) and one GMRES iteration allowed.
    p = params(refactor_tol=1e9, ksp_max_it=1, dt_min=1e-6, dt_max=1e-2)
    sim = CahnHilliard(p, solver="lu")
    sim.set_initial_random(0)
    with pytest.raises(SimulationError, match="did not converge"):
        for dt in p.dts():
            sim.step(float(dt))


def _stripes(xi_px):
    """64 x 64 image: two vertical stripes of each phase, contours at x = 16 and 48 px,
    c = ½(1 + tanh(d / 2ξ)) of the signed distance d to the nearest contour."""
    x = np.arange(64) + 0.5
    d = 16 - np.abs(x - 32)
    return np.tile(0.5 * (1 + np.tanh(d / (2 * xi_px))), (64, 1))


def test_distance_to_contour_and_phase_purity_on_known_profiles():
    img = _stripes(1.0)
    d = distance_to_contour_px(img)
    assert d[5].tolist() == pytest.approx(list(np.abs(np.abs(np.arange(64) + 0.5 - 32) - 16)))
    # ξ = 1 px: c = 0.9 at 2.2 ξ = 2.2 px, every pixel beyond 2 px (d = 2.5, 3.5, ...)
    # is pure; ξ = 1.5 px: c = 0.9 at 3.3 px, so the d = 2.5 pixels (2 of the 28 far
    # columns of each phase) are not.
    assert phase_purity(img) == 1.0
    assert phase_purity(_stripes(1.5)) == pytest.approx(26 / 28)
    assert count_domains(img) == (1, 1)  # one stripe of c > 0.5, one wrapping the edge


def test_criteria_on_a_short_run():
    """The criteria of a real run: E_start is the energy of the seeded initial field (not
    of the first saved step), and every band is judged (the values against known answers:
    test_criteria_of_synthetic_arrays_with_known_answers; production bands: the slow test)."""
    p = params()
    out = simulate_run(p, seed=0, run=0)
    c = criteria(out, p, backend="fem")
    sim = CahnHilliard(p)
    sim.set_initial_random(run_seed(0, 0))
    assert c["E_start"] == pytest.approx(sim.energy()["total"], rel=1e-12)
    assert c["E_start"] > out["energy"][0]
    met = criteria_met(c)
    assert set(met) == set(CRITERIA_BANDS)
    assert met["E_max"] is False  # 32 x 32 test physics: E far below the paper's scale
    # 16 x 16 images of a 32 x 32 grid: sub-pixel structure the images cannot show
    assert met["f_image_label_gap"] is False
    assert "f_image_label_gap" not in criteria(out, p)  # measured only with a backend


def disc(radius: float, width: float, centre=(32.0, 32.0), n: int = 64) -> np.ndarray:
    """c = 1 inside a disc, 0 outside, with a tanh interface whose 10-90 width is
    ``width`` pixels (c = (1 - tanh((r - R) / w)) / 2, 10-90 width 2 w artanh(0.8)).
    Pixel centres at integer + 0.5, periodic distances."""
    x = np.arange(n) + 0.5
    d = [(x - c0 + n / 2) % n - n / 2 for c0 in centre]
    r = np.hypot(d[0][:, None], d[1][None, :])
    w = width / (2 * np.arctanh(0.8))
    return 0.5 * (1 - np.tanh((r - radius) / w))


def test_criteria_of_synthetic_arrays_with_known_answers():
    """criteria() on arrays built to have known answers: E(t) with its steepest decay per
    log-time at a chosen saved time (in part 1, then in part 2), the bulk energy's at
    another; disc images of a chosen 10-90 interface width and domain counts; a patch of
    known size off the pure values; a chosen elastic share."""
    # 40 + 20 saved steps; a mesh twice as fine as the images
    p = CHParams(part1_steps=40, part2_steps=200, save_every=10, n_cells=128)
    t = np.geomspace(1e-6, 1e-2, 60)

    def decay(k: int, height: float) -> np.ndarray:  # steepest -dE/dln t at t[k]
        return height * (1 - np.tanh(np.log(t / t[k]) / 0.7))

    width = 3.5  # pixels
    one, three = disc(16, width), np.zeros((64, 64))
    for centre in ((16, 16), (16, 48), (48, 32)):
        three = np.maximum(three, disc(8, width, centre))
    patched = one.copy()
    patched[0:4, 0:4] = 0.3  # far from the interface, off the pure values, no contour
    images = np.empty((60, 64, 64), np.uint8)
    images[:] = np.round(patched * 255)
    images[-1] = np.round(three * 255)
    E = 600 + decay(25, 2000)
    out = {
        "images": images,
        "time": t,
        "energy": E,
        "energy_bulk": decay(10, 300),
        "energy_elastic": 0.2 * E,
        "energy_initial": np.float64(9000.0),
    }
    c = criteria(out, p)
    assert c["a_kink_time_s"] == t[25] and c["a_kink_in_part1"] == 1.0
    assert c["a_bulk_kink_time_s"] == t[10]
    assert criteria({**out, "energy": 600 + decay(50, 2000)}, p)["a_kink_in_part1"] == 0.0
    # 10-90 width of the three discs (radius 8); mesh cells: 128 cells over 64 pixels
    assert c["d_interface_width_px"] == pytest.approx(width, rel=0.05)
    assert c["d_cells_across_interface"] == pytest.approx(2 * c["d_interface_width_px"])
    assert c["c_domains_end_part1"] == (1, 1) and c["c_domains_end"] == (3, 1)
    assert c["c_min_domains_end"] == 1.0
    # the 16 patch pixels are the only impure ones among those > 2 px from the circle
    x = np.arange(64) + 0.5
    far = np.abs(np.hypot(x[:, None] - 32, x[None, :] - 32) - 16) > 2
    assert c["b_purity_end_part1"] == pytest.approx(1 - 16 / far.sum(), abs=2e-5)
    assert c["b_purity_end"] == 1.0
    assert c["e_elastic_share_end"] == pytest.approx(0.2)
    assert (c["E_start"], c["E_max"], c["E_end"]) == (9000.0, E.max(), E[-1])
    assert criteria({k: v for k, v in out.items() if k != "energy_initial"}, p)["E_start"] == E[0]


def test_count_domains_periodic():
    img = np.zeros((8, 8))
    img[2:4, 2:4] = 1
    img[0, :] = 1
    img[-1, :] = 1  # wraps onto row 0: one stripe
    assert count_domains(img) == (2, 1)


# Bounds of the slow production test: largest relative difference of E(t) over part 1
# between the default mesh and twice the mesh, and between Δt and Δt/2. At t = 0 the
# mesh difference is that of the initial field itself: on the default mesh (the 64 x 64
# image grid) the random values are the nodal values, on twice the mesh the nodes between
# them carry their bilinear interpolant, a smoother field (7971 vs 6181 pJ/um for run 0,
# 29%); it is bounded separately from the evolution after the grid-scale roughness has
# relaxed (t >= T_RELAXED, step 432 of 2000). Measured (run 0 of config/config.yaml,
# M = 15, eps0 = 0.0075, 64 vs 128 cells): 0.290 at t = 0, 0.0085 after t = 1e-4 s
# (0.0030 at the end of part 1); Δt vs Δt/2: 0.0347 at most (in the first steps), 0.0034
# at the end. (128 vs 256 cells, the default before issue 41: 0.079, 0.0022, 0.0007;
# Δt vs Δt/2 0.0261.)
MESH_BOUND_INITIAL = 0.35
T_RELAXED = 1e-4  # s
MESH_BOUND = 0.01
DT_BOUND = 0.04


def _production_params(**kw):
    """The ``ch:`` physics of config/config.yaml (the dataset's parameters)."""
    return CHParams.from_config_file(CONFIG, **kw)


@pytest.mark.slow
def test_production_part1_mesh_and_dt_convergence_energy_stability():
    """Part 1 of a run at the config's parameters (2000 log-spaced steps): on the default
    mesh, on twice the mesh (2 n_cells) and with half the time step (every step split in
    two). E(t) at every step agrees within the stated bounds (the mesh bound after the
    initial grid-scale relaxation); E never rises (every step
    at the default mesh, through part 1 and the first 200 steps of part 2, Δt = dt); the
    issue's energy bands of part 1 hold."""
    p = _production_params()
    dts = p.dts()[: p.part1_steps]

    def run(q, split=1, extra=()):
        sim = CahnHilliard(q)
        sim.set_initial_random(run_seed(0, 0))
        E = [sim.energy()["total"]]
        for dt in dts:
            for _ in range(split):
                sim.step(float(dt) / split)
            E.append(sim.energy()["total"])
        img1 = sim.image()
        for dt in extra:
            sim.step(float(dt))
            E.append(sim.energy()["total"])
        return np.array(E), img1

    E, img1 = run(p, extra=[p.dt] * 200)
    E_fine, _ = run(_production_params(n_cells=2 * p.n_cells))
    E_half, _ = run(p, split=2)
    n1 = len(dts) + 1
    # Energy stability at production parameters (round-off allowance only).
    assert np.all(np.diff(E) <= 1e-10 * E[:-1]), np.diff(E).max()
    t = np.concatenate([[0.0], np.cumsum(dts)])
    relaxed = t >= T_RELAXED
    mesh_err = np.abs(E[:n1] / E_fine - 1)
    dt_err = np.abs(E[:n1] / E_half - 1)
    print(
        f"relative E difference, 2x mesh: t = 0 {mesh_err[0]:.4f}, max over t >= {T_RELAXED:g} s"
        f" {mesh_err[relaxed].max():.4f}, at the end of part 1 {mesh_err[-1]:.4f}; half dt: "
        f"max {dt_err.max():.4f}, at the end of part 1 {dt_err[-1]:.4f}"
    )
    assert mesh_err[0] < MESH_BOUND_INITIAL, mesh_err[0]
    assert mesh_err[relaxed].max() < MESH_BOUND, mesh_err[relaxed].max()
    assert dt_err.max() < DT_BOUND, dt_err.max()
    # The energy bands reachable in part 1 at the default mesh: E of the initial
    # field, and the first image's E (the dataset's largest). Phase purity at the end of
    # part 1 does not reach the 0.9 (docs/cahn-hilliard.md); it must
    # still show separated phases.
    lo, hi = CRITERIA_BANDS["E_max"]
    assert lo <= E[1] <= hi
    assert phase_purity(img1) > 0.3
