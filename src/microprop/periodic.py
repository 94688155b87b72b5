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
