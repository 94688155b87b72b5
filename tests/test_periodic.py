"""Periodic constraint (prolongation P, reduced systems PᵀAP) and the FFT solver."""

# isort: off
import h5py  # noqa: F401  (h5py before dolfinx)
from mpi4py import MPI

import numpy as np
import pytest
import ufl
from petsc4py import PETSc

import dolfinx.fem.petsc  # noqa: F401
from dolfinx import fem, mesh

# isort: on
from microprop.periodic import CirculantSolver, periodic_map

L = 2.0


def _mesh(n):
    return mesh.create_rectangle(MPI.COMM_SELF, [[0.0, 0.0], [L, L]], [n, n])


def _lu(A):
    ksp = PETSc.KSP().create(MPI.COMM_SELF)
    ksp.setOperators(A)
    ksp.setType("preonly")
    ksp.getPC().setType("lu")
    return ksp


def test_map_pairs_opposite_edges_and_corners():
    n = 6
    V = fem.functionspace(_mesh(n), ("Lagrange", 1))
    pm = periodic_map(V, (L, L))
    x = V.tabulate_dof_coordinates()[:, :2]
    assert pm.n_master == n * n
    corners = [
        np.flatnonzero(np.isclose(x[:, 0], a) & np.isclose(x[:, 1], b))[0]
        for a in (0, L)
        for b in (0, L)
    ]
    assert len({pm.master[i] for i in corners}) == 1
    for i in np.flatnonzero(np.isclose(x[:, 0], L)):
        j = np.flatnonzero(np.isclose(x[:, 0], 0) & np.isclose(x[:, 1], x[i, 1]))[0]
        assert pm.master[i] == pm.master[j]
    # Interior dofs are their own masters, all distinct.
    inner = (x[:, 0] < L - 1e-9) & (x[:, 1] < L - 1e-9)
    assert len(np.unique(pm.master[inner])) == inner.sum() == n * n


def test_blocked_space_and_pinning():
    n = 5
    V = fem.functionspace(_mesh(n), ("Lagrange", 1, (2,)))
    pm = periodic_map(V, (L, L))
    assert pm.n_master == 2 * n * n
    assert np.all(pm.master[0::2] % 2 == 0) and np.all(pm.master[1::2] % 2 == 1)
    pinned = periodic_map(V, (L, L), pin_component_at_origin=True)
    assert pinned.n_master == 2 * n * n - 2
    x = V.tabulate_dof_coordinates()[:, :2]
    at_corner = np.isclose(x[:, 0] % L, 0) & np.isclose(x[:, 1] % L, 0)
    assert np.all(pinned.master.reshape(-1, 2)[at_corner] == -1)


def _poisson(n, vector=False):
    """-Δu = f, periodic, exact u = sin(2πx/L) cos(4πy/L) (per component)."""
    msh = _mesh(n)
    shape = (2,) if vector else ()
    V = fem.functionspace(msh, ("Lagrange", 1, shape))
    x = ufl.SpatialCoordinate(msh)
    s = ufl.sin(2 * np.pi * x[0] / L) * ufl.cos(4 * np.pi * x[1] / L)
    ue = ufl.as_vector([s, -2 * s]) if vector else s
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    f = -ufl.div(ufl.grad(ue))
    A = fem.petsc.assemble_matrix(fem.form(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx))
    A.assemble()
    b = fem.petsc.assemble_vector(fem.form(ufl.inner(f, v) * ufl.dx))
    pm = periodic_map(V, (L, L), pin_component_at_origin=True)
    Ar = pm.reduce_matrix(A)
    br = pm.create_reduced_vector()
    pm.restrict(b, br)
    xr = br.duplicate()
    ksp = _lu(Ar)
    ksp.solve(br, xr)
    assert ksp.getConvergedReason() > 0
    uh = fem.Function(V)
    pm.prolong(xr, uh.x.petsc_vec)
    # The exact solution has zero mean: remove the constant fixed by the pin.
    bs = V.dofmap.index_map_bs
    for k in range(bs):
        comp = uh.x.array[k::bs]
        mean = fem.assemble_scalar(fem.form((uh[k] if vector else uh) * ufl.dx)) / L**2
        comp -= mean
        uh.x.array[k::bs] = comp
    err = np.sqrt(fem.assemble_scalar(fem.form(ufl.inner(uh - ue, uh - ue) * ufl.dx)))
    return err, uh, V


@pytest.mark.parametrize("vector", [False, True])
def test_periodic_poisson_converges_at_second_order(vector):
    errs = [_poisson(n, vector)[0] for n in (8, 16, 32)]
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    scale = np.sqrt(5.0) if vector else 1.0  # |(s, -2s)| = √5 |s|
    assert errs[-1] < 0.03 * scale
    assert rates[-1] > 1.9 and rates[0] > 1.7, (errs, rates)


def test_periodic_solution_matches_across_edges():
    _, uh, V = _poisson(16)
    x = V.tabulate_dof_coordinates()[:, :2]
    for i in np.flatnonzero(np.isclose(x[:, 0], L)):
        j = np.flatnonzero(np.isclose(x[:, 0], 0) & np.isclose(x[:, 1], x[i, 1]))[0]
        assert uh.x.array[i] == uh.x.array[j]


def _helmholtz(n, perturb=False):
    msh = _mesh(n)
    if perturb:  # move interior nodes: no longer translation invariant
        X = msh.geometry.x
        inner = (X[:, 0] > 1e-9) & (X[:, 0] < L - 1e-9) & (X[:, 1] > 1e-9) & (X[:, 1] < L - 1e-9)
        X[inner, 0] += 0.1 * L / n * np.sin(7 * X[inner, 1])
    V = fem.functionspace(msh, ("Lagrange", 1, (2,)))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    forms = [
        ufl.inner(u, v) * ufl.dx,
        ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx + u[1] * v[0] * ufl.dx,
    ]
    mats = []
    pm = periodic_map(V, (L, L))
    for a in forms:
        A = fem.petsc.assemble_matrix(fem.form(a))
        A.assemble()
        mats.append(pm.reduce_matrix(A))
    return pm, V, mats


def test_fft_solver_matches_lu():
    n = 12
    pm, V, (M, K) = _helmholtz(n)
    fft = CirculantSolver(pm, V, (L, L), n, [M, K])
    assert fft.check() < 1e-12
    for w in ([1.0, 0.3], [1.0, 2e-3]):
        fft.set_weights(w)
        A = M.copy()
        A.axpy(w[1], K, structure=PETSc.Mat.Structure.SUBSET_NONZERO_PATTERN)
        b = A.createVecLeft()
        b.array[:] = np.random.default_rng(1).standard_normal(b.getLocalSize())
        x_lu = b.duplicate()
        _lu(A).solve(b, x_lu)
        x_fft = np.empty_like(b.array)
        fft.solve_array(b.array, x_fft)
        assert np.allclose(x_fft, x_lu.array, rtol=1e-10, atol=1e-12)


def test_fft_solver_rejects_non_uniform_mesh():
    n = 8
    pm, V, mats = _helmholtz(n, perturb=True)
    with pytest.raises(ValueError, match="circulant"):
        CirculantSolver(pm, V, (L, L), n, mats).check()
