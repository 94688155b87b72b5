"""Cahn-Hilliard phase separation coupled to elasticity (paper, Appendix A.2), dolfinx.

Model (2D, plane, periodic square of side ``length``)::

    E[c, u] = ∫ c0 c²(1-c)² + ½ k_c |∇c|² + ½ σ:ε_el  dΩ
    ∂c/∂t  = ∇·(M ∇μ),   μ = δE/δc = f'(c) - k_c Δc - ε0 tr σ
    ∇·σ = 0,   σ = C:ε_el,   ε_el = ε(u) - ε0 c I   (dilatational eigenstrain)

with cubic stiffness ``C`` (C11, C12, C44). The displacement is ``u = ε̄ x + ũ`` with
``ũ`` periodic (rigid translations removed by pinning ``ũ`` at the origin) and the mean
strain ``ε̄ = ε0 c̄ I`` that makes the mean stress zero (a stress-free box: homogeneous
``c`` has zero elastic energy). Because the moduli are homogeneous, ``ε̄`` is constant
(``c̄`` is conserved), so ``ε_el = ε(ũ) - ε0 (c - c̄) I``.

Units: length µm, time s, energy density pJ µm⁻³ (= MPa = MJ m⁻³; stiffness in GPa is
multiplied by 1000), ``k_c`` in pJ µm⁻¹, ``M`` in µm⁵ pJ⁻¹ s⁻¹. ``E`` is the integral
over the 2D domain, i.e. energy per unit thickness, in pJ µm⁻¹ (:data:`ENERGY_UNITS`).

Time stepping: a linearly implicit, stabilized semi-implicit scheme (Shen & Yang 2010)
in the mixed c-μ form, P1 elements for (c, μ) stored as one blocked space::

    (c¹ - c⁰)/Δt = ∇·(M ∇μ¹)
    μ¹ = f'(c⁰) + S (c¹ - c⁰) - k_c Δc¹ - ε0 tr σ(c⁰)

The gradient term is implicit, the bulk force ``f'`` and the elastic chemical potential
explicit (``u`` is solved for ``c⁰``). Why it is energy stable (E(c¹) <= E(c⁰) for
every Δt): testing the first equation with μ¹ and the second with c¹ - c⁰ gives

    E(c¹) - E(c⁰) + Δt ∫ M |∇μ¹|² + ½ k_c ∫|∇(c¹ - c⁰)|² + S ‖δ‖²
        = [E_bulk(c¹) - E_bulk(c⁰) - ∫ f'(c⁰) δ] + [E_el(c¹) - E_el(c⁰) - ∇E_el(c⁰)·δ]

with ``δ = c¹ - c⁰`` (zero mean) and ‖·‖ the L2 norm of the P1 field (consistent mass
matrix; the bulk integrals use a quadrature exact for P1 fields). The bulk bracket is at
most ``½ max|f''| ‖δ‖² = c0 ‖δ‖²`` while c stays in [0, 1] (``f'' = c0 (2 - 12c + 12c²)``).
The elastic energy of the *discrete* problem is a quadratic form in c,
``E_el = ½ cᵀ B_h c`` with ``B_h = e_σ M_c - B_cᵀ K⁻¹ B_c`` (u eliminated, e_σ = ε0² tr σ(I)),
so its bracket is exactly ``½ δᵀ B_h δ <= ½ λ_max ‖δ‖²``, λ_max the largest eigenvalue of
``M_c⁻¹ B_h`` on zero-mean fields. Hence ``S = stabilization * (c0 + λ_max/2)`` with
stabilization >= 1 makes the right-hand side at most the left's ``S ‖δ‖²``: E never rises.
λ_max is computed once per mesh from the circulant symbols of K, B_c and M_c
(:func:`discrete_elastic_bound`): plane waves diagonalize all three. It is larger than the
continuum bound ``B_max`` of Khachaturyan's B(n) (:meth:`CHParams.elastic_B`): short
waves of c that P1 displacements cannot relax approach the unrelaxed ``e_σ``.

Each step is one linear solve with a matrix ``A(Δt) = A0 + Δt A1`` that depends only on
Δt. ``solver="fft"`` solves it exactly through its circulant symbol; ``solver="lu"``
keeps an LU factorization while Δt is constant (all of part 2); in part 1 (Δt
log-spaced) GMRES uses the factorization of a nearby Δt as preconditioner and refactors
when Δt has drifted by more than ``refactor_tol``. The elasticity operator is factored once.

Elasticity model: 2D (plane) linear elasticity with the paper's cubic constants C11,
C12, C44 as the in-plane stiffness (the paper calls the material "isotropic", but
2 C44 = 194 GPa != C11 - C12 = 60 GPa: the anisotropy ratio is 3.2, and [10] is the soft
direction) and an in-plane dilatational eigenstrain ε0 c δ_ij (i, j in-plane). This is
not plane strain of a 3D cubic crystal with a 3D dilatational misfit ε0 c δ_ij (i, j
in 1..3, ε33 = 0): that adds the out-of-plane eigenstrain, so the in-plane misfit stress
is (C11 + 2 C12) ε0 instead of (C11 + C12) ε0 and Khachaturyan's
``B(n) = ε0² (C11 + 2 C12) [3 - (C11 + 2 C12) n·Ω(n)·n]`` (287 ε0² GPa along [10],
574 ε0² along [11]) instead of ``ε0² (C11 + C12) [2 - (C11 + C12) n·Ω(n)·n]`` here (102 ε0²
and 246 ε0²). Same soft direction, anisotropy 2.0 instead of 2.4; for the same
minimal B, ε0 here is 1.68 times the plane-strain ε0. ε0 is not given by the paper and is
chosen for the elastic share of E, so this mostly rescales it.

Periodicity: :mod:`microprop.periodic` (reduced systems ``Pᵀ A P``).
"""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import asdict, dataclass, fields

# isort: off
import h5py  # noqa: F401  (h5py before dolfinx: they bundle different HDF5 libraries)
from mpi4py import MPI  # loads libmpi before petsc4py and dolfinx

import numpy as np
import ufl
from petsc4py import PETSc

import dolfinx.fem.petsc  # noqa: F401  (registers dolfinx.fem.petsc)
from dolfinx import fem, geometry, mesh

# isort: on
from microprop.logs import Progress
from microprop.periodic import CirculantSolver, periodic_map

ENERGY_UNITS = (
    "pJ/um (energy per unit thickness: energy density pJ/um^3 = MPa integrated over um^2)"
)
GPA = 1000.0  # 1 GPa in pJ µm⁻³


class SimulationError(RuntimeError):
    """A Cahn-Hilliard run failed (NaN, or a linear solve did not converge)."""


@dataclass
class CHParams:
    """Physics and numerics of one Cahn-Hilliard run (see config ``ch:``)."""

    length: float = 20.0  # µm, domain side (paper)
    n_cells: int = 128  # mesh cells per side
    c0: float = 50.0  # pJ µm⁻³, double-well height scale (paper)
    k_c: float = 10.0  # pJ µm⁻¹, gradient energy coefficient (paper)
    mobility: float = 7.0  # µm⁵ pJ⁻¹ s⁻¹
    eps0: float = 0.007  # in-plane dilatational eigenstrain per unit c
    C11: float = 198.0  # GPa (paper)
    C12: float = 138.0  # GPa (paper)
    C44: float = 97.0  # GPa (paper)
    elasticity: bool = True
    stabilization: float = 1.0  # factor on the energy-stability bound c0 + B_max/2
    part1_steps: int = 2000
    dt_min: float = 1e-7  # s
    dt_max: float = 1e-4  # s
    part2_steps: int = 10000
    dt: float = 1e-4  # s
    save_every: int = 10  # part 2: an image every save_every steps
    image_size: int = 64
    init_grid: int = 64  # random initial values on an init_grid² periodic grid
    refactor_tol: float = 0.1  # relative Δt drift before refactoring in part 1
    ksp_rtol: float = 1e-12
    ksp_max_it: int = 50

    @classmethod
    def from_dict(cls, d: dict) -> CHParams:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown Cahn-Hilliard parameters: {sorted(unknown)}")
        return cls(**d)

    def as_dict(self) -> dict:
        return asdict(self)

    def dts(self) -> np.ndarray:
        """Δt of every step: part 1 log-spaced dt_min..dt_max, part 2 constant dt."""
        p1 = np.geomspace(self.dt_min, self.dt_max, self.part1_steps) if self.part1_steps else []
        return np.concatenate([np.asarray(p1, float), np.full(self.part2_steps, float(self.dt))])

    def saved_steps(self) -> np.ndarray:
        """Step numbers (1-based, after the step) that produce an image."""
        p1 = np.arange(1, self.part1_steps + 1)
        p2 = self.part1_steps + np.arange(self.save_every, self.part2_steps + 1, self.save_every)
        return np.concatenate([p1, p2]).astype(np.int64)

    def elastic_B(self) -> tuple[float, float]:
        """(B_min, B_max) of the elastic energy density ½ B(n)|ĉ(k)|², pJ µm⁻³.

        For a dilatational eigenstrain and homogeneous cubic moduli in 2D,
        ``B(n) = σ0:ε0 - n·σ0·Ω(n)·σ0·n`` (Khachaturyan), ``σ0 = (C11+C12) ε0 I``.
        """
        if not self.elasticity:
            return 0.0, 0.0
        c11, c12, c44 = (v * GPA for v in (self.C11, self.C12, self.C44))
        s = (c11 + c12) * self.eps0**2
        b10 = s * (c11 - c12) / c11
        b11 = s * 4 * c44 / (c11 + c12 + 2 * c44)
        return min(b10, b11), max(b10, b11)

    def elastic_bound(self) -> float:
        """λ_max of the discrete elastic form on this mesh (see :func:`discrete_elastic_bound`)."""
        if not self.elasticity:
            return 0.0
        return discrete_elastic_bound(
            self.n_cells, self.length, self.eps0, self.C11, self.C12, self.C44
        )[1]

    def stabilization_S(self) -> float:
        """``S = stabilization * (c0 + λ_max/2)``: energy stable for stabilization >= 1."""
        return self.stabilization * (self.c0 + 0.5 * self.elastic_bound())


def _sigma(e, C11, C12, C44):
    """Cubic (2D) stress of the strain tensor ``e``."""
    return ufl.as_tensor(
        [
            [C11 * e[0, 0] + C12 * e[1, 1], 2 * C44 * e[0, 1]],
            [2 * C44 * e[1, 0], C12 * e[0, 0] + C11 * e[1, 1]],
        ]
    )


def _eps(v):
    return ufl.sym(ufl.grad(v))


def _assemble(form) -> PETSc.Mat:
    A = fem.petsc.assemble_matrix(fem.form(form))
    A.assemble()
    return A


@functools.lru_cache(maxsize=16)
def discrete_elastic_bound(
    n_cells: int, length: float, eps0: float, C11: float, C12: float, C44: float
) -> tuple[float, float]:
    """(λ_min, λ_max), pJ µm⁻³: the extreme eigenvalues of ``M_c⁻¹ B_h`` on zero-mean P1
    fields c, where ``½ cᵀ B_h c`` is the discrete elastic energy with the displacement
    relaxed (``B_h = e_σ M_c - B_cᵀ K⁻¹ B_c``, the bilinear forms of the solver).

    On the structured periodic mesh the three matrices are (block) circulant: for each
    wave vector k ≠ 0 the eigenvalue is ``e_σ - b̂(k)ᴴ K̂(k)⁺ b̂(k) / m̂(k)``, from the
    symbols of :class:`microprop.periodic.CirculantSolver`. Computed once per mesh
    (cached); the continuum counterpart is :meth:`CHParams.elastic_B`.
    """
    n, L = int(n_cells), float(length)
    msh = mesh.create_rectangle(MPI.COMM_SELF, [[0.0, 0.0], [L, L]], [n, n], mesh.CellType.triangle)
    Z = fem.functionspace(msh, ("Lagrange", 1, (2,)))
    pz = periodic_map(Z, (L, L))
    tr, te = ufl.TrialFunction(Z), ufl.TestFunction(Z)
    c11, c12, c44 = (v * GPA for v in (C11, C12, C44))
    Id = ufl.Identity(2)
    dx = ufl.dx
    K = pz.reduce_matrix(_assemble(ufl.inner(_sigma(_eps(tr), c11, c12, c44), _eps(te)) * dx))
    Bc = pz.reduce_matrix(
        _assemble(ufl.inner(_sigma(eps0 * tr[0] * Id, c11, c12, c44), _eps(te)) * dx)
    )
    Mc = pz.reduce_matrix(_assemble(tr[0] * te[0] * dx))
    circ = CirculantSolver(pz, Z, (L, L), n, [K])
    k_hat = circ.symbols[0]
    b_hat = circ.symbol(Bc)[..., :, 0]  # u components from the c component
    m_hat = circ.symbol(Mc)[..., 0, 0].real
    e_sigma = eps0**2 * 2 * (c11 + c12)
    k_pinv = np.linalg.pinv(k_hat, rcond=1e-10, hermitian=True)
    relaxed = np.einsum("...a,...ab,...b->...", b_hat.conj(), k_pinv, b_hat).real
    lam = e_sigma - relaxed / m_hat
    lam[0, 0] = np.nan  # the mean of c is conserved: δ has zero mean
    return float(np.nanmin(lam)), float(np.nanmax(lam))


def initial_grid(n: int, rng: np.random.Generator) -> np.ndarray:
    """Initial concentration: uniform random in [0, 1] on an n x n periodic grid."""
    return rng.uniform(0.0, 1.0, size=(n, n))


def run_seed(seed: int, run: int) -> np.random.SeedSequence:
    """The seed sequence of run ``run`` derived from the config seed."""
    return np.random.SeedSequence([int(seed), int(run)])


def _bilinear_periodic(grid: np.ndarray, length: float, x: np.ndarray) -> np.ndarray:
    """Periodic bilinear interpolation of ``grid[i, j]`` (value at x=i h, y=j h)."""
    n = grid.shape[0]
    h = length / n
    s = (x[:, 0] / h) % n
    t = (x[:, 1] / h) % n
    i0 = np.floor(s + 1e-9).astype(int) % n
    j0 = np.floor(t + 1e-9).astype(int) % n
    fs = np.clip(s - np.floor(s + 1e-9), 0.0, 1.0)
    ft = np.clip(t - np.floor(t + 1e-9), 0.0, 1.0)
    i1, j1 = (i0 + 1) % n, (j0 + 1) % n
    return (
        grid[i0, j0] * (1 - fs) * (1 - ft)
        + grid[i1, j0] * fs * (1 - ft)
        + grid[i0, j1] * (1 - fs) * ft
        + grid[i1, j1] * fs * ft
    )


class Sampler:
    """Evaluate a scalar P1 component at fixed points by a precomputed sparse map."""

    def __init__(self, V, points: np.ndarray, component: int = 0):
        msh = V.mesh
        pts = np.zeros((len(points), 3))
        pts[:, : points.shape[1]] = points
        tree = geometry.bb_tree(msh, msh.topology.dim)
        cand = geometry.compute_collisions_points(tree, pts)
        cells = geometry.compute_colliding_cells(msh, cand, pts)
        bs = V.dofmap.index_map_bs
        xdof = V.tabulate_dof_coordinates()[:, :2]
        self.idx = np.empty((len(pts), 3), np.int64)
        self.w = np.empty((len(pts), 3))
        for k in range(len(pts)):
            links = cells.links(k)
            if len(links) == 0:
                raise ValueError(f"point {pts[k, :2]} is outside the mesh")
            nodes = V.dofmap.cell_dofs(links[0])
            X = xdof[nodes]
            T = np.array([X[1] - X[0], X[2] - X[0]]).T
            lam = np.linalg.solve(T, pts[k, :2] - X[0])
            self.w[k] = [1 - lam.sum(), lam[0], lam[1]]
            self.idx[k] = nodes * bs + component

    def __call__(self, array: np.ndarray) -> np.ndarray:
        return (array[self.idx] * self.w).sum(axis=1)


def pixel_centres(length: float, n: int) -> np.ndarray:
    """Pixel centres of an n x n image, row-major: row 0 at the top (y = length)."""
    h = length / n
    rows, cols = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    x = (cols + 0.5) * h
    y = length - (rows + 0.5) * h
    return np.stack([x.ravel(), y.ravel()], axis=1)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """c in [0, 1] -> 0..255, clipped.

    >>> to_uint8(np.array([-0.1, 0.0, 0.5, 1.0, 1.2])).tolist()
    [0, 0, 128, 255, 255]
    """
    return np.clip(np.rint(np.asarray(image) * 255.0), 0, 255).astype(np.uint8)


class CahnHilliard:
    """One Cahn-Hilliard-elasticity simulation on a periodic square (serial).

    ``solver="fft"`` (default) solves the constant-coefficient linear systems exactly
    with :class:`microprop.periodic.CirculantSolver` (one FFT solve per system, applied
    as a PETSc "preonly" preconditioner; any Δt without refactorization); ``solver="lu"``
    uses sparse LU (MUMPS), refactored in part 1 only when Δt drifts by more than
    ``refactor_tol`` (GMRES with the nearby factorization as preconditioner), and the
    elasticity operator factored once.
    """

    def __init__(
        self,
        params: CHParams,
        comm: MPI.Comm = MPI.COMM_SELF,
        prefix: str = "ch_",
        solver: str = "fft",
    ):
        if solver not in ("fft", "lu"):
            raise ValueError(f"solver must be 'fft' or 'lu', not {solver!r}")
        self.p = p = params
        self.comm = comm
        self.solver = solver
        L = p.length
        self.mesh = mesh.create_rectangle(
            comm, [[0.0, 0.0], [L, L]], [p.n_cells, p.n_cells], mesh.CellType.triangle
        )
        msh = self.mesh
        # (c, μ) in one blocked P1 space; displacement fluctuation in a vector P1 space.
        self.W = fem.functionspace(msh, ("Lagrange", 1, (2,)))
        self.U = fem.functionspace(msh, ("Lagrange", 1, (2,)))
        box = (L, L)
        self.pw = periodic_map(self.W, box)
        # LU needs the rigid translations removed by pinning; the FFT solver projects
        # them out (zero-mean displacement fluctuation).
        self.pu = periodic_map(self.U, box, pin_component_at_origin=solver == "lu")

        self.w = fem.Function(self.W, name="c_mu")  # current (c, μ)
        self.u = fem.Function(self.U, name="u")  # current displacement fluctuation
        c_n = self.w[0]
        self.cbar = fem.Constant(msh, 0.0)

        st = PETSc.ScalarType
        c0, kc = fem.Constant(msh, st(p.c0)), fem.Constant(msh, st(p.k_c))
        mob = fem.Constant(msh, st(p.mobility))
        self.S = p.stabilization_S()
        S = fem.Constant(msh, st(self.S))
        eps0 = fem.Constant(msh, st(p.eps0 if p.elasticity else 0.0))
        C11, C12, C44 = (fem.Constant(msh, st(v * GPA)) for v in (p.C11, p.C12, p.C44))
        Id = ufl.Identity(2)

        def eps(v):
            return _eps(v)

        def sigma(e):
            return _sigma(e, C11, C12, C44)

        assemble = _assemble

        eps_el = eps(self.u) - eps0 * (c_n - self.cbar) * Id
        sig_el = sigma(eps_el)
        dx = ufl.dx

        # Cahn-Hilliard: A(Δt) = A0 + Δt A1 (reduced), and the right-hand side
        # b = R_w w⁰ + R_u u⁰ + b_const + ∫ f'(c⁰) v, with
        # μ-equation: μ¹ - S c¹ + k_c Δc¹ = f'(c⁰) - S c⁰ - ε0 tr σ(ε(u⁰) - ε0 (c⁰ - c̄) I).
        tr, te = ufl.TrialFunction(self.W), ufl.TestFunction(self.W)
        c, mu = tr[0], tr[1]
        q, v = te[0], te[1]
        a0 = c * q * dx + (mu * v - S * c * v - kc * ufl.inner(ufl.grad(c), ufl.grad(v))) * dx
        a1 = mob * ufl.inner(ufl.grad(mu), ufl.grad(q)) * dx
        self.A0 = self.pw.reduce_matrix(assemble(a0))
        self.A1 = self.pw.reduce_matrix(assemble(a1))
        self.R_w = assemble(c * q * dx + (-S * c + eps0 * ufl.tr(sigma(eps0 * c * Id))) * v * dx)
        uu, vu = ufl.TrialFunction(self.U), ufl.TestFunction(self.U)
        self.R_u = assemble(-eps0 * ufl.tr(sigma(eps(uu))) * v * dx)
        self.bconst_form = fem.form(-eps0 * ufl.tr(sigma(eps0 * self.cbar * Id)) * v * dx)
        self.bnl_form = fem.form(2 * c0 * c_n * (1 - c_n) * (1 - 2 * c_n) * v * dx)
        self.b_const = fem.petsc.assemble_vector(self.bconst_form)
        self.b = self.b_const.duplicate()
        self.br = self.pw.create_reduced_vector()
        self.xr = self.pw.create_reduced_vector()

        # Elasticity: K ũ = B_c w (the c̄ part integrates to zero for periodic v).
        self.K = self.pu.reduce_matrix(assemble(ufl.inner(sigma(eps(uu)), eps(vu)) * dx))
        self.B_c = assemble(ufl.inner(sigma(eps0 * c * Id), eps(vu)) * dx)
        self.f = self.B_c.createVecLeft()
        self.fr = self.pu.create_reduced_vector()
        self.ur = self.pu.create_reduced_vector()

        opts = PETSc.Options()

        def make_ksp(pfx, petsc_options, A, P=None):
            ksp = PETSc.KSP().create(comm)
            ksp.setOptionsPrefix(pfx)
            for k, val in petsc_options.items():
                opts[f"{pfx}{k}"] = val
            ksp.setFromOptions()
            for k in petsc_options:
                del opts[f"{pfx}{k}"]
            ksp.setOperators(A, P if P is not None else A)
            return ksp

        gmres = {
            "ksp_type": "gmres",
            "ksp_rtol": p.ksp_rtol,
            "ksp_atol": 1e-50,
            "ksp_max_it": p.ksp_max_it,
            "ksp_gmres_restart": p.ksp_max_it,
        }
        self.dt_op = None  # Δt of self.A
        self.dt_pc = None  # Δt of the preconditioner
        if solver == "fft":
            n = p.n_cells
            self.fft_ch = CirculantSolver(self.pw, self.W, box, n, [self.A0, self.A1])
            self.fft_ch.check()
            self.fft_el = CirculantSolver(self.pu, self.U, box, n, [self.K])
            self.fft_el.check()
            self.A = self.Apc = self.fft_ch.as_operator()  # A0 + Δt A1, matrix-free
            # The FFT inverse is exact (CirculantSolver.check() verified the circulant
            # structure to 1e-10 above): one application solves the system, so no
            # Krylov iterations ("preonly"); a NaN is still caught by the norm check.
            exact = {"ksp_type": "preonly", "pc_type": "python"}
            self.ksp = make_ksp(prefix, exact, self.A)
            self.ksp.getPC().setPythonContext(self.fft_ch.as_pc_context())
            self.ksp_el = make_ksp(prefix + "elastic_", exact, self.K)
            self.ksp_el.getPC().setPythonContext(self.fft_el.as_pc_context())
        else:
            self.A = self.A0.duplicate(copy=True)
            self.A.axpy(0.0, self.A1, structure=PETSc.Mat.Structure.DIFFERENT_NONZERO_PATTERN)
            self.Apc = self.A.duplicate(copy=True)
            lu = {"pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}
            self.ksp = make_ksp(prefix, {**gmres, **lu}, self.A, self.Apc)
            self.ksp_el = make_ksp(prefix + "elastic_", {"ksp_type": "preonly", **lu}, self.K)

        # Energy parts (forms: exact, used in tests) and the fast evaluation: the bulk
        # part by quadrature, the quadratic parts by sparse products,
        # E_grad = ½ wᵀ G w, E_el = ½ ũᵀ K ũ - ũᵀ B_c w + ½ e_σ ∫(c - c̄)²,
        # e_σ = ε0² tr σ(I) (the c̄ cross terms vanish for a periodic ũ).
        self.e_forms = {
            "bulk": fem.form(c0 * c_n**2 * (1 - c_n) ** 2 * dx),
            "grad": fem.form(0.5 * kc * ufl.inner(ufl.grad(c_n), ufl.grad(c_n)) * dx),
            "elastic": fem.form(0.5 * ufl.inner(sig_el, eps_el) * dx),
        }
        self.G = assemble(kc * ufl.inner(ufl.grad(c), ufl.grad(q)) * dx)
        self.Mc = assemble(c * q * dx)
        self.K_full = assemble(ufl.inner(sigma(eps(uu)), eps(vu)) * dx)
        self.e_sigma = (p.eps0**2 * 2 * (p.C11 + p.C12) * GPA) if p.elasticity else 0.0
        self._tw = self.w.x.petsc_vec.duplicate()
        self._tu = self.u.x.petsc_vec.duplicate()
        self.mass_form = fem.form(c_n * dx)
        self.area = L * L
        self._image_sampler = Sampler(self.W, pixel_centres(L, p.image_size), component=0)
        self._c_dofs = np.arange(0, len(self.w.x.array), 2)
        self.time = 0.0
        self.step_count = 0

    # -- state -----------------------------------------------------------------------
    def set_initial_grid(self, grid: np.ndarray) -> None:
        """Initial c from values on a periodic grid (grid[i, j] at x = i h, y = j h)."""
        xdof = self.W.tabulate_dof_coordinates()[:, :2]
        arr = self.w.x.array
        arr[:] = 0.0
        arr[0::2] = _bilinear_periodic(np.asarray(grid, float), self.p.length, xdof)
        self.w.x.scatter_forward()
        self.cbar.value = self.mean_c()
        with self.b_const.localForm() as loc:
            loc.set(0.0)
        fem.petsc.assemble_vector(self.b_const, self.bconst_form)
        self.time = 0.0
        self.step_count = 0
        self.solve_elasticity()

    def set_initial_random(self, seed: np.random.SeedSequence | int) -> None:
        self.set_initial_grid(initial_grid(self.p.init_grid, np.random.default_rng(seed)))

    def mean_c(self) -> float:
        return self.comm.allreduce(fem.assemble_scalar(self.mass_form), op=MPI.SUM) / self.area

    def c_array(self) -> np.ndarray:
        """Nodal values of c (a view on the dof array)."""
        return self.w.x.array[self._c_dofs]

    def image(self) -> np.ndarray:
        """c sampled at the pixel centres, (image_size, image_size), float."""
        n = self.p.image_size
        return self._image_sampler(self.w.x.array).reshape(n, n)

    def sample(self, points: np.ndarray) -> np.ndarray:
        """c at arbitrary points (n, 2)."""
        return Sampler(self.W, points, component=0)(self.w.x.array)

    def energy(self) -> dict[str, float]:
        """Energy parts and total, pJ µm⁻¹ (bulk by quadrature, the quadratic parts
        by sparse products; equal to :meth:`energy_forms` up to round-off)."""
        w, u = self.w.x.petsc_vec, self.u.x.petsc_vec
        e = {"bulk": self.comm.allreduce(fem.assemble_scalar(self.e_forms["bulk"]), op=MPI.SUM)}
        self.G.mult(w, self._tw)
        e["grad"] = 0.5 * self._tw.dot(w)
        if self.p.elasticity:
            self.Mc.mult(w, self._tw)
            cc = self._tw.dot(w) - self.cbar.value**2 * self.area  # ∫(c - c̄)²
            self.K_full.mult(u, self._tu)
            uku = self._tu.dot(u)
            self.B_c.mult(w, self._tu)
            e["elastic"] = 0.5 * uku - self._tu.dot(u) + 0.5 * self.e_sigma * cc
        else:
            e["elastic"] = 0.0
        e["total"] = e["bulk"] + e["grad"] + e["elastic"]
        return e

    def energy_forms(self) -> dict[str, float]:
        """Energy parts and total by direct quadrature of the three densities."""
        e = {
            k: self.comm.allreduce(fem.assemble_scalar(f), op=MPI.SUM)
            for k, f in self.e_forms.items()
        }
        e["total"] = e["bulk"] + e["grad"] + e["elastic"]
        return e

    # -- solvers ---------------------------------------------------------------------
    def solve_elasticity(self) -> None:
        if not self.p.elasticity:
            return
        self.B_c.mult(self.w.x.petsc_vec, self.f)
        self.pu.restrict(self.f, self.fr)
        self.ksp_el.solve(self.fr, self.ur)
        reason = self.ksp_el.getConvergedReason()
        if reason <= 0:
            raise SimulationError(
                f"elasticity solve failed at step {self.step_count} (KSP reason {reason})"
            )
        self.pu.prolong(self.ur, self.u.x.petsc_vec)
        self.u.x.scatter_forward()

    def _set_dt(self, dt: float) -> None:
        if self.dt_op == dt:
            return
        self.dt_op = dt
        if self.solver == "fft":
            self.fft_ch.set_weights([1.0, dt])  # operator and exact inverse
            self.dt_pc = dt
            self.ksp.setOperators(self.A, self.Apc)
            return
        Mat = PETSc.Mat.Structure
        self.A.zeroEntries()
        self.A.axpy(1.0, self.A0, structure=Mat.SUBSET_NONZERO_PATTERN)
        self.A.axpy(dt, self.A1, structure=Mat.SUBSET_NONZERO_PATTERN)
        if self.dt_pc is None or abs(dt / self.dt_pc - 1.0) > self.p.refactor_tol:
            self.A.copy(self.Apc, structure=Mat.SAME_NONZERO_PATTERN)
            self.dt_pc = dt
        # The operator changed; an LU preconditioner is refactored only if Apc changed.
        self.ksp.setOperators(self.A, self.Apc)

    def rhs(self) -> None:
        """Assemble the full right-hand side ``self.b`` for the current state."""
        self.R_w.mult(self.w.x.petsc_vec, self.b)
        self.R_u.multAdd(self.u.x.petsc_vec, self.b, self.b)
        self.b.axpy(1.0, self.b_const)
        fem.petsc.assemble_vector(self.b, self.bnl_form)

    def step(self, dt: float) -> None:
        """Advance one step of size ``dt``; raises SimulationError on failure."""
        self._set_dt(dt)
        self.rhs()
        self.pw.restrict(self.b, self.br)
        self.ksp.solve(self.br, self.xr)
        reason = self.ksp.getConvergedReason()
        self.step_count += 1
        self.time += dt
        finite = np.isfinite(self.xr.norm())
        if reason <= 0 or not finite:
            nan = not finite or reason == PETSc.KSP.ConvergedReason.DIVERGED_NANORINF
            what = "NaN/inf in the solution" if nan else f"KSP reason {reason}"
            raise SimulationError(
                f"Cahn-Hilliard step {self.step_count} failed (t = {self.time:.4g} s, "
                f"dt = {dt:.3g} s): the linear solve did not converge ({what}, "
                f"{self.ksp.getIterationNumber()} iterations)"
            )
        self.pw.prolong(self.xr, self.w.x.petsc_vec)
        self.w.x.scatter_forward()
        self.solve_elasticity()


def simulate_run(
    params: CHParams,
    seed: int,
    run: int,
    logger: logging.Logger | None = None,
    progress_every: float = 10.0,
    comm: MPI.Comm = MPI.COMM_SELF,
    solver: str = "fft",
) -> dict[str, np.ndarray]:
    """One run of the paper's protocol; returns the arrays of a run file.

    ``images`` (n, N, N) uint8, ``energy`` (total), ``energy_bulk``, ``energy_grad``,
    ``energy_elastic``, ``time``, ``step``, ``mean_c``, one entry per saved step, and
    ``energy_initial`` (0-d), E of the initial field before the first step.
    Raises :class:`SimulationError` on NaN or a failed solve.
    """
    log = logger or logging.getLogger("microprop.cahn_hilliard")
    t0 = time.perf_counter()
    sim = CahnHilliard(params, comm=comm, solver=solver)
    sim.set_initial_random(run_seed(seed, run))
    log.info(
        "CH run %d: %d x %d mesh, %d steps (%d + %d), S = %.4g pJ/um^3, setup %.2f s",
        run,
        params.n_cells,
        params.n_cells,
        params.part1_steps + params.part2_steps,
        params.part1_steps,
        params.part2_steps,
        sim.S,
        time.perf_counter() - t0,
    )
    dts = params.dts()
    saved = params.saved_steps()
    n = len(saved)
    N = params.image_size
    out = {
        "images": np.empty((n, N, N), np.uint8),
        "energy": np.empty(n),
        "energy_bulk": np.empty(n),
        "energy_grad": np.empty(n),
        "energy_elastic": np.empty(n),
        "time": np.empty(n),
        "step": saved.copy(),
        "mean_c": np.empty(n),
    }
    e0 = sim.energy()
    log.info("initial: mean c = %.6f, E = %.6g %s", sim.cbar.value, e0["total"], "pJ/um")
    out["energy_initial"] = np.array(e0["total"])  # E of the initial field (not an image)
    progress = Progress(len(dts), "steps", every=progress_every, logger=log)
    k = 0
    for i, dt in enumerate(dts, start=1):
        sim.step(float(dt))
        if k < n and saved[k] == i:
            e = sim.energy()
            if not math.isfinite(e["total"]):
                raise SimulationError(f"energy is not finite at step {i} (t = {sim.time:.4g} s)")
            out["images"][k] = to_uint8(sim.image())
            out["energy"][k] = e["total"]
            out["energy_bulk"][k] = e["bulk"]
            out["energy_grad"][k] = e["grad"]
            out["energy_elastic"][k] = e["elastic"]
            out["time"][k] = sim.time
            out["mean_c"][k] = sim.mean_c()
            k += 1
            last = f"t = {sim.time:.4g} s, E = {e['total']:.6g} pJ/um"
        progress.update(1, extra=last if k else "")
    log.info("CH run %d done in %.1f s", run, time.perf_counter() - t0)
    return out


def _find(parent: list[int], a: int) -> int:
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


def count_domains(image: np.ndarray, threshold: float = 0.5) -> tuple[int, int]:
    """Connected domains (4-neighbour, periodic) of c > threshold and c <= threshold.

    >>> img = np.zeros((8, 8)); img[:, 2:4] = 1; img[:, 6:8] = 1
    >>> count_domains(img)
    (2, 2)
    """
    from scipy import ndimage

    counts = []
    for phase in (image > threshold, image <= threshold):
        lab, n = ndimage.label(phase)
        # Merge labels across the periodic edges.
        parent = list(range(n + 1))
        for a, b in [(lab[0, :], lab[-1, :]), (lab[:, 0], lab[:, -1])]:
            for x, y in zip(a, b, strict=True):
                if x and y:
                    parent[_find(parent, x)] = _find(parent, y)
        counts.append(len({_find(parent, i) for i in range(1, n + 1)}))
    return counts[0], counts[1]


def interface_width_px(image: np.ndarray) -> float:
    """Mean 10-90 interface width in pixels: pixels with 0.1 < c < 0.9 divided by the
    interface length (pixel-edge crossings of c = 0.5 times π/4, Cauchy-Crofton)."""
    band = np.count_nonzero((image > 0.1) & (image < 0.9))
    s = image > 0.5
    crossings = np.count_nonzero(s != np.roll(s, 1, 0)) + np.count_nonzero(s != np.roll(s, 1, 1))
    return band / max(crossings * np.pi / 4, 1e-9)


def distance_to_contour_px(image: np.ndarray, level: float = 0.5) -> np.ndarray:
    """Distance (pixels) of every pixel centre from the ``c = level`` contour, periodic.

    The contour crosses the segment between two neighbouring pixels of opposite phase
    where linear interpolation of c reaches ``level``; a pixel's distance is its
    Euclidean distance to the nearest such crossing point (both axes, periodic images).

    >>> img = np.zeros((8, 8)); img[:, 2:6] = 1.0
    >>> distance_to_contour_px(img)[0].tolist()
    [1.5, 0.5, 0.5, 1.5, 1.5, 0.5, 0.5, 1.5]
    """
    from scipy.spatial import cKDTree

    img = np.asarray(image, float)
    n0, n1 = img.shape
    pts = []
    for axis in (0, 1):
        nxt = np.roll(img, -1, axis)
        cross = (img > level) != (nxt > level)
        i, j = np.nonzero(cross)
        a, b = img[i, j], nxt[i, j]
        frac = np.clip((level - a) / np.where(b != a, b - a, 1.0), 0.0, 1.0)
        pts.append(np.stack([i + frac * (axis == 0), j + frac * (axis == 1)], axis=1))
    pts = np.concatenate(pts)
    rows, cols = np.meshgrid(np.arange(n0), np.arange(n1), indexing="ij")
    centres = np.stack([rows.ravel(), cols.ravel()], axis=1).astype(float)
    if len(pts) == 0:
        return np.full(img.shape, np.inf)
    tree = cKDTree(pts % [n0, n1], boxsize=[n0, n1])
    d, _ = tree.query(centres)
    return d.reshape(img.shape)


def phase_purity(image: np.ndarray, margin_px: float = 2.0, tol: float = 0.1) -> float:
    """Share of the pixels farther than ``margin_px`` from the c = 0.5 contour whose c
    lies within ``tol`` of 0 or 1 (the paper: values 0 or 1 away from interfaces).

    >>> x = np.arange(64) + 0.5
    >>> stripe = 0.5 * (np.tanh((16 - np.abs(x - 32)) / 1.0) + 1)  # 10-90 width 2.2 px
    >>> round(phase_purity(np.tile(stripe, (64, 1))), 3)
    1.0
    """
    img = np.asarray(image, float)
    far = distance_to_contour_px(img) > margin_px
    pure = (img <= tol) | (img >= 1 - tol)
    return float(np.count_nonzero(far & pure) / max(np.count_nonzero(far), 1))


#: The issue's bands on a production run (see :func:`criteria_met`), as (low, high).
CRITERIA_BANDS = {
    "E_start": (5500.0, 8000.0),  # E of the initial field (the paper: 7054 at its first image)
    "E_max": (4000.0, math.inf),  # largest E of the run
    "E_end": (400.0, 900.0),  # the paper: 589 at the end
    "a_kink_in_part1": (1.0, 1.0),  # steepest drop per log-time inside part 1
    "b_purity_end_part1": (0.9, 1.0),  # pixels > 2 px from interfaces within 0.1 of 0 or 1
    "c_min_domains_end": (2.0, math.inf),  # domains of each phase at the end
    "d_cells_across_interface": (6.0, math.inf),  # mesh cells across the 10-90 width
    "e_elastic_share_end": (0.05, 1.0),  # elastic share of E at the end
}


def criteria(out: dict[str, np.ndarray], params: CHParams) -> dict[str, float]:
    """The issue's criteria measured on the arrays of one run (all saved steps).

    (a) kink: time of the steepest energy decay per log-time over the whole run, and
        whether it lies in part 1; (b) phase purity at the end of part 1
        (:func:`phase_purity`); (c) domains of each phase at the ends of parts 1 and 2;
        (d) the 10-90 interface width at the end in pixels and in mesh cells; (e) elastic
        share of E at the end; the energies of the bands in :data:`CRITERIA_BANDS`
        (``E_start``: E of the initial field, ``E_max``: the largest E of an image).
    With a random initial field the steepest drop of E is the smoothing of that field in
    the first steps; the spinodal separation is the steepest drop of the bulk energy
    (``a_bulk_kink_time_s``, searched in part 1).
    """
    imgs = out["images"].astype(float) / 255.0
    n1 = params.part1_steps
    t, E = out["time"], out["energy"]
    rate = -np.gradient(E, np.log(t))
    k = int(np.argmax(rate))
    n1b = max(n1, 2)
    kb = int(np.argmax(-np.gradient(out["energy_bulk"][:n1b], np.log(t[:n1b]))))
    end1 = imgs[n1 - 1] if n1 else imgs[0]
    end = imgs[-1]
    width = interface_width_px(end)
    d1, d2 = count_domains(end1), count_domains(end)
    return {
        "a_kink_time_s": float(t[k]),
        "a_kink_in_part1": float(k < n1 - 1),
        "a_bulk_kink_time_s": float(t[kb]),
        "b_purity_end_part1": phase_purity(end1),
        "c_domains_end_part1": d1,
        "c_domains_end": d2,
        "c_min_domains_end": float(min(d2)),
        "d_interface_width_px": float(width),
        "d_cells_across_interface": float(width * params.n_cells / params.image_size),
        "e_elastic_share_end": float(out["energy_elastic"][-1] / out["energy"][-1]),
        "E_start": float(out.get("energy_initial", E[0])),
        "E_max": float(E.max()),
        "E_end_part1": float(E[n1 - 1]) if n1 else float(E[0]),
        "E_end": float(E[-1]),
    }


def criteria_met(c: dict[str, float]) -> dict[str, bool]:
    """Whether each criterion of :data:`CRITERIA_BANDS` holds for :func:`criteria`'s ``c``."""
    return {k: bool(lo <= c[k] <= hi) for k, (lo, hi) in CRITERIA_BANDS.items()}


def run_attrs(params: CHParams, seed: int, run: int, solver: str = "fft") -> dict:
    """Attributes of a run file: provenance, units and every physics parameter."""
    from microprop import __version__

    return {
        "kind": "ch_run",
        "run": int(run),
        "seed": int(seed),
        "seed_sequence": [int(seed), int(run)],
        "energy_units": ENERGY_UNITS,
        "property_name": "total free energy",
        "property_units": "pJ/um",
        "time_units": "s",
        "length_units": "um",
        "image_convention": (
            "c sampled at the pixel centres of an image_size^2 grid over the domain, "
            "row 0 at the top (y = length), column 0 at x = 0; uint8 = round(255 c), clipped"
        ),
        "solver": solver,
        "stabilization_S": params.stabilization_S(),
        "code_version": __version__,
        **{k: v for k, v in params.as_dict().items()},
    }


def write_run(
    path,
    params: CHParams,
    seed: int,
    run: int,
    logger: logging.Logger | None = None,
    progress_every: float = 10.0,
    solver: str = "fft",
) -> dict[str, np.ndarray]:
    """Simulate run ``run`` and write its run file atomically (nothing on failure)."""
    from microprop.io import write_h5

    out = simulate_run(
        params, seed, run, logger=logger, progress_every=progress_every, solver=solver
    )
    write_h5(path, out, run_attrs(params, seed, run, solver))
    return out
