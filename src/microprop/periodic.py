"""Periodic boundary conditions for dolfinx by a prolongation matrix.

dolfinx has no built-in periodic constraint (dolfinx_mpc is not on the package
registry). On a square (or rectangular) box ``[0, Lx] x [0, Ly]`` a periodic field
takes the same value at ``x`` and ``x + Lx e_x`` (and ``x + Ly e_y``). We number the
*master* dofs (those whose point lies in ``[0, Lx) x [0, Ly)``) and build the
prolongation matrix ``P`` (all dofs x master dofs, one 1 per row) that copies every
master value to its periodic images. The four corners map to one master (the dof at
the origin). A problem ``A u = b`` becomes the reduced problem

    (Pᵀ A P) ū = Pᵀ b,     u = P ū,

which is the Galerkin projection onto the periodic subspace. Works for scalar and
blocked (vector, or several fields stored as one blocked space) Lagrange P1 spaces.

Serial only: the workflow runs one process per simulation.

A master can also be *pinned* (its column dropped, so its value is 0), which removes a
constant null space, e.g. the rigid translations of periodic elasticity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from mpi4py import MPI  # noqa: F401  (loads libmpi before petsc4py)
from petsc4py import PETSc


@dataclass
class PeriodicMap:
    """Periodic dof map of a function space.

    Attributes
    ----------
    master : (n_dofs,) int array, the reduced (master) index of each dof, -1 if pinned.
    n_master : number of reduced dofs.
    P : PETSc AIJ matrix (n_dofs x n_master), the prolongation.
    """

    master: np.ndarray
    n_master: int
    P: PETSc.Mat

    def prolong(self, reduced: PETSc.Vec, full: PETSc.Vec) -> None:
        """full = P reduced."""
        self.P.mult(reduced, full)

    def restrict(self, full: PETSc.Vec, reduced: PETSc.Vec) -> None:
        """reduced = Pᵀ full (assembled residual/right-hand side to the reduced space)."""
        self.P.multTranspose(full, reduced)

    def reduce_matrix(self, A: PETSc.Mat) -> PETSc.Mat:
        """Pᵀ A P."""
        return A.PtAP(self.P)

    def create_reduced_vector(self) -> PETSc.Vec:
        return self.P.createVecRight()


def periodic_map(V, box, pin_component_at_origin: bool = False, tol: float = 1e-8) -> PeriodicMap:
    """Build the periodic map of the (possibly blocked) Lagrange space ``V``.

    Parameters
    ----------
    V : dolfinx.fem.FunctionSpace on a mesh of the box ``[0, Lx] x [0, Ly]``.
    box : (Lx, Ly), the period in each direction.
    pin_component_at_origin : drop the master dofs at the origin node (every block
        component), so they are held at zero. For periodic elasticity this removes the
        two rigid translations.
    """
    comm = V.mesh.comm
    if comm.size != 1:
        raise NotImplementedError("microprop.periodic works in serial only (one process per run)")
    Lx, Ly = (float(v) for v in box)
    bs = V.dofmap.index_map_bs
    x = V.tabulate_dof_coordinates()[:, :2]
    n_nodes = x.shape[0]
    # Fold every point into [0, L) x [0, L): points on the right/top edge go to the left/bottom.
    scale = max(Lx, Ly)
    fx = np.where(np.abs(x[:, 0] - Lx) < tol * scale, 0.0, x[:, 0])
    fy = np.where(np.abs(x[:, 1] - Ly) < tol * scale, 0.0, x[:, 1])
    # Key by the folded point, rounded to a tolerance grid.
    q = tol * scale
    keys = np.stack([np.round(fx / q), np.round(fy / q)], axis=1).astype(np.int64)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    # Masters in the order of their first dof, so the reduced numbering follows V's.
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    node_master = rank[inverse]
    n_master_nodes = len(order)

    master = (node_master[:, None] * bs + np.arange(bs)[None, :]).reshape(-1)
    n_master = n_master_nodes * bs
    if pin_component_at_origin:
        origin = np.flatnonzero((np.abs(fx) < q) & (np.abs(fy) < q))
        if len(origin) == 0:
            raise ValueError("no dof at the origin to pin")
        pinned_node = node_master[origin[0]]
        pinned = pinned_node * bs + np.arange(bs)
        keep = np.ones(n_master, bool)
        keep[pinned] = False
        renum = np.cumsum(keep) - 1
        master = np.where(keep[master], renum[master], -1)
        n_master = int(keep.sum())

    n_dofs = n_nodes * bs
    rows = np.arange(n_dofs, dtype=PETSc.IntType)
    valid = master >= 0
    indptr = np.concatenate([[0], np.cumsum(valid)]).astype(PETSc.IntType)
    indices = master[valid].astype(PETSc.IntType)
    values = np.ones(len(indices), dtype=PETSc.ScalarType)
    P = PETSc.Mat().createAIJ(
        size=((n_dofs, n_dofs), (n_master, n_master)), csr=(indptr, indices, values), comm=comm
    )
    P.assemble()
    del rows
    return PeriodicMap(master=master, n_master=n_master, P=P)


def _grid_numbering(pmap: PeriodicMap, V, box, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(perm, ij): the master node at each grid position (row-major) and the grid
    position (i, j) of each master node, for the nodes of a structured n x n mesh."""
    Lx, Ly = (float(v) for v in box)
    bs = V.dofmap.index_map_bs
    x = V.tabulate_dof_coordinates()[:, :2]
    node_master = pmap.master[::bs] // bs
    if np.any(pmap.master < 0):
        raise ValueError("CirculantSolver needs an unpinned periodic map")
    n_nodes = pmap.n_master // bs
    if n_nodes != n * n:
        raise ValueError(f"{n_nodes} periodic nodes, expected {n * n}: not an n x n grid")
    ij = np.empty((n_nodes, 2), np.int64)
    ij[node_master, 0] = np.rint(x[:, 0] / (Lx / n)).astype(np.int64) % n
    ij[node_master, 1] = np.rint(x[:, 1] / (Ly / n)).astype(np.int64) % n
    perm = np.empty(n * n, np.int64)  # grid position (row-major) -> master node
    perm[ij[:, 0] * n + ij[:, 1]] = np.arange(n_nodes)
    if len(np.unique(perm)) != n * n:
        raise ValueError("periodic nodes do not form an n x n grid")
    return perm, ij


class CirculantSolver:
    """Exact FFT solver for translation-invariant operators on a periodic grid.

    On a structured periodic mesh of ``n x n`` squares (each cut by the same diagonal)
    every P1 matrix with constant coefficients is block-circulant in the reduced
    (master) numbering: the row of any node is the row of node (0, 0) shifted. Such a
    matrix is diagonalized by the 2D discrete Fourier transform, so ``A x = b`` is
    solved exactly by an FFT, a ``bs x bs`` solve per wave vector and an inverse FFT,
    in O(N log N) and without fill-in. ``A`` may be a linear combination
    ``sum_i w_i A_i`` with weights that change between solves (``set_weights``), which
    costs no refactorization. A singular symbol (the constant mode of periodic
    elasticity) is inverted on its range: the solution has zero mean.
    """

    def __init__(self, pmap: PeriodicMap, V, box, n: int, matrices: list[PETSc.Mat]):
        self.n, self.bs = n, V.dofmap.index_map_bs
        self.perm, self._ij = _grid_numbering(pmap, V, box, n)
        self.symbols = [self.symbol(A) for A in matrices]
        self._inv = None
        self._matrices = matrices
        self.weights = [1.0] + [0.0] * (len(matrices) - 1)
        self.set_weights([1.0] + [0.0] * (len(matrices) - 1))

    def symbol(self, A: PETSc.Mat) -> np.ndarray:
        """The block symbol ``Â(k)`` (n, n//2+1, bs, bs) of a block-circulant reduced
        matrix with this solver's layout (the rfft half plane of wave vectors k): ``A``
        maps a plane wave of wave vector k in component b to ``Â(k)[a, b]`` times that
        wave in component a. A real symmetric ``A`` has Hermitian ``Â(k)``, and the
        eigenvalues of ``A`` are those of the ``Â(k)`` over all k."""
        n, bs, ij = self.n, self.bs, self._ij
        node0 = self.perm[0]
        s = np.zeros((bs, bs, n, n))
        for a in range(bs):
            cols, vals = A.getRow(int(node0 * bs + a))
            nodes, b = cols // bs, cols % bs
            np.add.at(s, (a, b, ij[nodes, 0], ij[nodes, 1]), vals)
        # Â(k) = sum_d s(d) exp(+2πi k·d/n) = n² ifft2(s), on the rfft half plane.
        sym = (n * n) * np.fft.ifft2(s, axes=(2, 3))[..., : n // 2 + 1]
        return np.moveaxis(sym, (0, 1), (-2, -1))

    def set_weights(self, weights) -> None:
        """Solve with ``sum_i weights[i] * matrices[i]`` from now on."""
        sym = sum(w * s for w, s in zip(weights, self.symbols, strict=True))
        if self.bs == 1:
            d = sym[..., 0, 0]
            ok = np.abs(d) > 1e-12 * np.abs(d).max()
            inv = np.zeros_like(sym)
            inv[..., 0, 0] = np.where(ok, 1.0 / np.where(ok, d, 1.0), 0.0)
        elif self.bs == 2:
            a, b, c, d = sym[..., 0, 0], sym[..., 0, 1], sym[..., 1, 0], sym[..., 1, 1]
            det = a * d - b * c
            ok = np.abs(det) > 1e-12 * np.abs(sym).max() ** 2
            r = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
            inv = np.stack([np.stack([d * r, -b * r], -1), np.stack([-c * r, a * r], -1)], -2)
        else:
            scale = np.abs(sym).max()
            ok = np.abs(np.linalg.det(sym)) > 1e-12 * scale**self.bs
            inv = np.zeros_like(sym)
            inv[ok] = np.linalg.inv(sym[ok])
        # One contiguous array per entry for fast products.
        self._inv = [
            [np.ascontiguousarray(inv[..., a, b]) for b in range(self.bs)] for a in range(self.bs)
        ]
        self.weights = list(weights)

    def to_grid(self, arr: np.ndarray) -> np.ndarray:
        return arr.reshape(-1, self.bs)[self.perm].reshape(self.n, self.n, self.bs)

    def from_grid(self, grid: np.ndarray, out: np.ndarray) -> None:
        out.reshape(-1, self.bs)[self.perm] = grid.reshape(-1, self.bs)

    def solve_array(self, b: np.ndarray, out: np.ndarray) -> None:
        """out = A⁻¹ b (on the range of A if A is singular)."""
        bh = np.fft.rfft2(self.to_grid(b), axes=(0, 1))
        xh = np.empty_like(bh)
        for a in range(self.bs):
            acc = self._inv[a][0] * bh[..., 0]
            for k in range(1, self.bs):
                acc += self._inv[a][k] * bh[..., k]
            xh[..., a] = acc
        self.from_grid(np.fft.irfft2(xh, s=(self.n, self.n), axes=(0, 1)), out)

    def apply_array(self, x: np.ndarray, out: np.ndarray) -> None:
        """out = A x through the symbol (used to check the circulant structure)."""
        sym = sum(w * s for w, s in zip(self.weights, self.symbols, strict=True))
        xh = np.fft.rfft2(self.to_grid(x), axes=(0, 1))
        yh = np.einsum("ijab,ijb->ija", sym, xh)
        self.from_grid(np.fft.irfft2(yh, s=(self.n, self.n), axes=(0, 1)), out)

    def check(self, rtol: float = 1e-10, seed: int = 0) -> float:
        """Relative difference of the FFT product and the sparse product on a random
        vector, for every matrix; raises ValueError if the mesh is not translation
        invariant (then use an LU solver)."""
        rng = np.random.default_rng(seed)
        worst = 0.0
        saved = self.weights
        for i, A in enumerate(self._matrices):
            w = [0.0] * len(self._matrices)
            w[i] = 1.0
            self.weights = w
            x = A.createVecRight()
            x.array[:] = rng.standard_normal(x.getLocalSize())
            y = A.createVecLeft()
            A.mult(x, y)
            z = np.empty_like(y.array)
            self.apply_array(x.array, z)
            err = np.linalg.norm(z - y.array) / max(np.linalg.norm(y.array), 1e-300)
            worst = max(worst, err)
        self.weights = saved
        if worst > rtol:
            raise ValueError(f"operator is not block-circulant (relative error {worst:.2e})")
        return worst

    def as_pc_context(self):
        """A petsc4py ``python`` preconditioner context that applies the exact inverse."""
        solver = self

        class _Ctx:
            def apply(self, pc, x, y):
                solver.solve_array(x.array_r, y.array)

        return _Ctx()

    def as_operator(self) -> PETSc.Mat:
        """A petsc4py ``python`` matrix ``sum_i w_i A_i`` with the current weights,
        applied by sparse products (no assembly of the sum)."""
        solver = self
        A0 = self._matrices[0]
        tmp = A0.createVecLeft()

        class _Op:
            def mult(self, mat, x, y):
                y.set(0.0)
                for w, A in zip(solver.weights, solver._matrices, strict=True):
                    if w == 1.0:
                        A.multAdd(x, y, y)
                    elif w != 0.0:
                        A.mult(x, tmp)
                        y.axpy(w, tmp)

        op = PETSc.Mat().createPython(A0.getSizes(), _Op(), comm=A0.getComm())
        op.setUp()
        return op
