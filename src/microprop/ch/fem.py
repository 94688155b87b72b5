"""The finite-element Cahn-Hilliard backend (``ch.backend: fem``, the default): dolfinx,
P1 elements on a structured periodic triangle mesh of ``n_cells``² cells.

The model, its units and the elasticity model: :mod:`microprop.ch.params`.

Time stepping: a linearly implicit, stabilized semi-implicit scheme (Shen & Yang 2010)
in the mixed c-μ form, P1 elements for (c, μ) stored as one blocked space::

    (c¹ - c⁰)/Δt = ∇·(M ∇μ¹)
    μ¹ = f'(c⁰) + S (c¹ - c⁰) - k_c Δc¹ + μ_el(c⁰),   μ_el = e_σ (c - c̄) - s ∇·ũ

The gradient term is implicit, the bulk force ``f'`` and the elastic chemical potential
explicit (``u`` is solved for ``c⁰``). Why it is energy stable (E(c¹) <= E(c⁰) for
every Δt): testing the first equation with μ¹ and the second with c¹ - c⁰ gives

    E(c¹) - E(c⁰) + Δt ∫ M |∇μ¹|² + ½ k_c ∫|∇(c¹ - c⁰)|² + S ‖δ‖²
        = [E_bulk(c¹) - E_bulk(c⁰) - ∫ f'(c⁰) δ] + [E_el(c¹) - E_el(c⁰) - ∇E_el(c⁰)·δ]

with ``δ = c¹ - c⁰`` (zero mean) and ‖·‖ the L2 norm of the P1 field (consistent mass
matrix; the bulk integrals use a quadrature exact for P1 fields). The bulk bracket is at
most ``½ max|f''| ‖δ‖² = c0 ‖δ‖²`` while c stays in [0, 1] (``f'' = c0 (2 - 12c + 12c²)``).
The elastic energy of the *discrete* problem is a quadratic form in c,
``E_el = ½ cᵀ B_h c`` with ``B_h = e_σ M_c - B_cᵀ K⁻¹ B_c`` (u eliminated; s and e_σ of
the elasticity model, :func:`microprop.ch.params.misfit_constants`),
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

Periodicity: :mod:`microprop.periodic` (reduced systems ``Pᵀ A P``).
"""

from __future__ import annotations

import functools

# isort: off
import h5py  # noqa: F401  (h5py before dolfinx: they bundle different HDF5 libraries)
from mpi4py import MPI  # loads libmpi before petsc4py and dolfinx

import numpy as np
import ufl
from petsc4py import PETSc

import dolfinx.fem.petsc  # noqa: F401  (registers dolfinx.fem.petsc)
from dolfinx import fem, geometry, mesh

# isort: on
from microprop.ch.backend import Backend, bilinear_matrix, bilinear_periodic, pixel_centres
from microprop.ch.params import GPA, CHParams, SimulationError, misfit_constants
from microprop.periodic import CirculantSolver, periodic_map


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
    n_cells: int,
    length: float,
    eps0: float,
    C11: float,
    C12: float,
    C44: float,
    plane_strain: bool = False,
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
    s, e_sigma = misfit_constants(eps0, C11, C12, plane_strain)
    dx = ufl.dx
    K = pz.reduce_matrix(_assemble(ufl.inner(_sigma(_eps(tr), c11, c12, c44), _eps(te)) * dx))
    Bc = pz.reduce_matrix(_assemble(s * tr[0] * ufl.div(te) * dx))
    Mc = pz.reduce_matrix(_assemble(tr[0] * te[0] * dx))
    circ = CirculantSolver(pz, Z, (L, L), n, [K])
    k_hat = circ.symbols[0]
    b_hat = circ.symbol(Bc)[..., :, 0]  # u components from the c component
    m_hat = circ.symbol(Mc)[..., 0, 0].real
    k_pinv = np.linalg.pinv(k_hat, rcond=1e-10, hermitian=True)
    relaxed = np.einsum("...a,...ab,...b->...", b_hat.conj(), k_pinv, b_hat).real
    lam = e_sigma - relaxed / m_hat
    lam[0, 0] = np.nan  # the mean of c is conserved: δ has zero mean
    return float(np.nanmin(lam)), float(np.nanmax(lam))


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


def elastic_bound(p: CHParams) -> float:
    """λ_max of the discrete elastic form on this mesh (:func:`discrete_elastic_bound`)."""
    if not p.elasticity:
        return 0.0
    bounds = discrete_elastic_bound(
        p.n_cells, p.length, p.eps0, p.C11, p.C12, p.C44, p.plane_strain
    )
    return bounds[1]


class CahnHilliard(Backend):
    """One Cahn-Hilliard-elasticity simulation on a periodic square (serial), P1 FEM.

    ``solver="fft"`` (default) solves the constant-coefficient linear systems exactly
    with :class:`microprop.periodic.CirculantSolver` (one FFT solve per system, applied
    as a PETSc "preonly" preconditioner; any Δt without refactorization); ``solver="lu"``
    uses sparse LU (MUMPS), refactored in part 1 only when Δt drifts by more than
    ``refactor_tol`` (GMRES with the nearby factorization as preconditioner), and the
    elasticity operator factored once.
    """

    name = "fem"

    def __init__(
        self,
        params: CHParams,
        comm: MPI.Comm = MPI.COMM_SELF,
        prefix: str = "ch_",
        solver: str = "fft",
    ):
        if solver not in ("fft", "lu"):
            raise ValueError(f"solver must be 'fft' or 'lu', not {solver!r}")
        super().__init__(params)
        p = params
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
        self.S = p.stabilization_S(elastic_bound(p))
        S = fem.Constant(msh, st(self.S))
        misfit, e_sigma = p.misfit()  # s and e_σ, 0 without elasticity
        s, e_sig = fem.Constant(msh, st(misfit)), fem.Constant(msh, st(e_sigma))
        C11, C12, C44 = (fem.Constant(msh, st(v * GPA)) for v in (p.C11, p.C12, p.C44))

        def eps(v):
            return _eps(v)

        def sigma(e):
            return _sigma(e, C11, C12, C44)

        assemble = _assemble

        dc = c_n - self.cbar
        # W_el = ½ ε(ũ):C:ε(ũ) - s c' ∇·ũ + ½ e_σ c'² (microprop.ch.params)
        w_el = 0.5 * ufl.inner(sigma(eps(self.u)), eps(self.u))
        w_el += -s * dc * ufl.div(self.u) + 0.5 * e_sig * dc**2
        dx = ufl.dx

        # Cahn-Hilliard: A(Δt) = A0 + Δt A1 (reduced), and the right-hand side
        # b = R_w w⁰ + R_u u⁰ + b_const + ∫ f'(c⁰) v, with
        # μ-equation: μ¹ - S c¹ + k_c Δc¹ = f'(c⁰) - S c⁰ + e_σ (c⁰ - c̄) - s ∇·ũ⁰.
        tr, te = ufl.TrialFunction(self.W), ufl.TestFunction(self.W)
        c, mu = tr[0], tr[1]
        q, v = te[0], te[1]
        a0 = c * q * dx + (mu * v - S * c * v - kc * ufl.inner(ufl.grad(c), ufl.grad(v))) * dx
        a1 = mob * ufl.inner(ufl.grad(mu), ufl.grad(q)) * dx
        self.A0 = self.pw.reduce_matrix(assemble(a0))
        self.A1 = self.pw.reduce_matrix(assemble(a1))
        self.R_w = assemble(c * q * dx + (-S * c + e_sig * c) * v * dx)
        uu, vu = ufl.TrialFunction(self.U), ufl.TestFunction(self.U)
        self.R_u = assemble(-s * ufl.div(uu) * v * dx)
        self.bconst_form = fem.form(-e_sig * self.cbar * v * dx)
        self.bnl_form = fem.form(2 * c0 * c_n * (1 - c_n) * (1 - 2 * c_n) * v * dx)
        self.b_const = fem.petsc.assemble_vector(self.bconst_form)
        self.b = self.b_const.duplicate()
        self.br = self.pw.create_reduced_vector()
        self.xr = self.pw.create_reduced_vector()

        # Elasticity: K ũ = B_c w (the c̄ part integrates to zero for periodic v).
        self.K = self.pu.reduce_matrix(assemble(ufl.inner(sigma(eps(uu)), eps(vu)) * dx))
        self.B_c = assemble(s * c * ufl.div(vu) * dx)
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
        # E_grad = ½ wᵀ G w, E_el = ½ ũᵀ K ũ - ũᵀ B_c w + ½ e_σ ∫(c - c̄)²
        # (the c̄ cross terms vanish for a periodic ũ).
        self.e_forms = {
            "bulk": fem.form(c0 * c_n**2 * (1 - c_n) ** 2 * dx),
            "grad": fem.form(0.5 * kc * ufl.inner(ufl.grad(c_n), ufl.grad(c_n)) * dx),
            "elastic": fem.form(w_el * dx),
        }
        self.G = assemble(kc * ufl.inner(ufl.grad(c), ufl.grad(q)) * dx)
        self.Mc = assemble(c * q * dx)
        self.K_full = assemble(ufl.inner(sigma(eps(uu)), eps(vu)) * dx)
        self.e_sigma = e_sigma
        self._tw = self.w.x.petsc_vec.duplicate()
        self._tu = self.u.x.petsc_vec.duplicate()
        self.mass_form = fem.form(c_n * dx)
        self.area = L * L
        self._image_sampler = Sampler(self.W, pixel_centres(L, p.image_size), component=0)
        self._c_dofs = np.arange(0, len(self.w.x.array), 2)
        self._node_map = None  # nodal grid -> dofs, built by the first set_field

    # -- state -----------------------------------------------------------------------
    def set_initial_grid(self, grid: np.ndarray) -> None:
        """Initial c from values on a periodic grid (grid[i, j] at x = i h, y = j h)."""
        xdof = self.W.tabulate_dof_coordinates()[:, :2]
        self._set_c(bilinear_periodic(np.asarray(grid, float), self.p.length, xdof))

    def set_field(self, c: np.ndarray) -> None:
        """c at the mesh nodes, (n_cells, n_cells), c[i, j] at (i h, j h): the P1 field
        through those values (the map to the dofs is built once)."""
        if self._node_map is None:
            n, xdof = self.p.n_cells, self.W.tabulate_dof_coordinates()[:, :2]
            self._node_map = bilinear_matrix(n, self.p.length, xdof)
        self._set_c(self._node_map @ np.asarray(c, float).ravel())

    def _set_c(self, c_dofs: np.ndarray) -> None:
        """c from its values at the dofs; resets time and step count, relaxes ũ."""
        arr = self.w.x.array
        arr[:] = 0.0
        arr[0::2] = c_dofs
        self.w.x.scatter_forward()
        self.cbar.value = self.mean_c()
        with self.b_const.localForm() as loc:
            loc.set(0.0)
        fem.petsc.assemble_vector(self.b_const, self.bconst_form)
        self.time = 0.0
        self.step_count = 0
        self.solve_elasticity()

    def mean_c(self) -> float:
        return self.comm.allreduce(fem.assemble_scalar(self.mass_form), op=MPI.SUM) / self.area

    def c_array(self) -> np.ndarray:
        """Nodal values of c (a view on the dof array)."""
        return self.w.x.array[self._c_dofs]

    def image(self) -> np.ndarray:
        """c sampled at the pixel centres, (image_size, image_size), float (the sampling
        map of :meth:`sample` at :func:`pixel_centres`, built once)."""
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
