"""Cahn-Hilliard phase separation coupled to elasticity (paper, Appendix A.2): the
model and its parameters, shared by both backends (:mod:`microprop.ch.fem`,
:mod:`microprop.ch.spectral`).

Model (2D, periodic square of side ``length``)::

    E[c, u] = ∫ c0 c²(1-c)² + ½ k_c |∇c|² + W_el  dΩ
    ∂c/∂t  = ∇·(M ∇μ),   μ = δE/δc = f'(c) - k_c Δc + μ_el
    ∇·σ = 0

with cubic stiffness ``C`` (C11, C12, C44) and a dilatational eigenstrain ε0 c. The
displacement is ``u = ε̄ x + ũ`` with ``ũ`` periodic (rigid translations removed by
pinning ``ũ`` at the origin) and the mean strain ``ε̄ = ε0 c̄ I`` that makes the mean
stress zero (a stress-free box: homogeneous ``c`` has zero elastic energy). Because the
moduli are homogeneous, ``ε̄`` is constant (``c̄`` is conserved), and with ``c' = c - c̄``
both elasticity models below have the same form,

    W_el = ½ ε(ũ):C:ε(ũ) - s c' ∇·ũ + ½ e_σ c'²,   σ = C:ε(ũ) - s c' I,
    μ_el = ∂W_el/∂c = e_σ c' - s ∇·ũ,

with two constants per unit c (:func:`misfit_constants`): the misfit stress ``s`` and
the unrelaxed energy ``e_σ`` (the energy density of c' = 1 with the lattice held fixed).

Elasticity models (``plane_strain``). The paper calls the material "isotropic" but
gives cubic constants (2 C44 = 194 GPa != C11 - C12 = 60 GPa: anisotropy ratio 3.2, [10]
the soft direction), and says nothing of the third dimension.

- ``plane_strain: false`` (the default): 2D (plane) elasticity with C11, C12, C44 as the
  in-plane stiffness and an in-plane eigenstrain ε0 c δ_ij (i, j in 1..2):
  ``W_el = ½ ε_el:C:ε_el``, ``ε_el = ε(ũ) - ε0 c' I``, so ``s = (C11 + C12) ε0`` and
  ``e_σ = 2 (C11 + C12) ε0²``; ``μ_el = -ε0 tr σ``.
- ``plane_strain: true``: plane strain of a 3D cubic crystal with a 3D dilatational
  misfit ε0 c δ_ij (i, j in 1..3) and no displacement out of the plane (the fluctuation
  of ε33 is zero; its mean, like the in-plane one, relaxes the homogeneous misfit). The
  out-of-plane eigenstrain adds C_ij33 ε0 c' to the in-plane misfit stress and its own
  energy, so ``s = (C11 + 2 C12) ε0`` and ``e_σ = 3 (C11 + 2 C12) ε0²`` (``W_el`` is
  ``½ ε_el:C:ε_el`` over all three dimensions, ``ε_el,33 = -ε0 c'``).

Khachaturyan's B(n): with the displacement relaxed, the elastic energy of a concentration
field is ``E_el = ½ Σ_k B(n) |ĉ(k)|²`` (ĉ the Fourier coefficients of ``c - c̄``, normalized
so that ``∫(c - c̄)² = Σ_k |ĉ(k)|²``, ``n = k/|k|``), with, per unit c,

    B(n) = e_σ - s² n·Ω(n)·n,   Ω(n)⁻¹_ik = C_ijkl n_j n_l   (in-plane i, k)

(:func:`khachaturyan_B`): 102 ε0² GPa along [10] and 246 ε0² along [11] in 2D, 287 ε0²
and 574 ε0² in plane strain. Same soft direction, anisotropy 2.4 against 2.0; for the
same B along [10] the 2D ε0 is 1.68 times the plane-strain ε0. That is not all a
rescaling: at equal B along [10] plane strain's relatively softer [11] arrests coarsening
less often (docs/cahn-hilliard.md, "Elasticity model"). ``B(k = 0) = 0``: the mean
strain relaxes the homogeneous part (the FEM model's boundary condition).

Units: length µm, time s, energy density pJ µm⁻³ (= MPa = MJ m⁻³; stiffness in GPa is
multiplied by 1000), ``k_c`` in pJ µm⁻¹, ``M`` in µm⁵ pJ⁻¹ s⁻¹. ``E`` is the integral
over the 2D domain, i.e. energy per unit thickness, in pJ µm⁻¹ (:data:`ENERGY_UNITS`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

ENERGY_UNITS = (
    "pJ/um (energy per unit thickness: energy density pJ/um^3 = MPa integrated over um^2)"
)
GPA = 1000.0  # 1 GPa in pJ µm⁻³
BACKENDS = ("fem", "spectral")
#: Keys of the config's ``ch:`` section that choose how the workflow runs, not the physics.
WORKFLOW_KEYS = (
    "n_runs",
    "n_test_runs",
    "max_train",
    "figure_run",
    "backend",
    "solver",
    "progress_every",
)


#: Physics keys added after datasets existed, with the value those were made with. A rule
#: param that changes makes Snakemake rerun the job, so the params leave such a key out
#: at that value (:func:`without_later_defaults`): older runs and datasets stay up to date.
LATER_KEYS = {"plane_strain": False}


def without_later_defaults(ch: dict) -> dict:
    """A config's ``ch:`` section without the :data:`LATER_KEYS` at their old values.

    >>> without_later_defaults({"eps0": 0.0075, "plane_strain": False})
    {'eps0': 0.0075}
    >>> without_later_defaults({"eps0": 0.0045, "plane_strain": True})
    {'eps0': 0.0045, 'plane_strain': True}
    """
    return {k: v for k, v in ch.items() if not (k in LATER_KEYS and v == LATER_KEYS[k])}


def physics_config(ch: dict) -> dict:
    """The physics of a config's ``ch:`` section (the ``simulate_ch`` rule's params): its
    workflow keys and the :data:`LATER_KEYS` at their old values left out.

    >>> physics_config({"n_runs": 6, "backend": "fem", "eps0": 0.0075})
    {'eps0': 0.0075}
    """
    return {k: v for k, v in without_later_defaults(ch).items() if k not in WORKFLOW_KEYS}


class SimulationError(RuntimeError):
    """A Cahn-Hilliard run failed (NaN, or a linear solve did not converge)."""


def misfit_constants(
    eps0: float, C11: float, C12: float, plane_strain: bool = False
) -> tuple[float, float]:
    """(s, e_σ), pJ µm⁻³ per unit c: the misfit stress and the unrelaxed elastic energy
    of a dilatational eigenstrain ε0 c (moduli in GPa; see the module docstring).

    >>> [round(v / 1000, 3) for v in misfit_constants(1.0, 198, 138)]  # GPa
    [336.0, 672.0]
    >>> [round(v / 1000, 3) for v in misfit_constants(1.0, 198, 138, plane_strain=True)]
    [474.0, 1422.0]
    """
    c11, c12 = C11 * GPA, C12 * GPA
    if plane_strain:
        s = (c11 + 2 * c12) * eps0
        return s, 3 * s * eps0
    s = (c11 + c12) * eps0
    return s, 2 * s * eps0


def khachaturyan_B(
    nx: np.ndarray,
    ny: np.ndarray,
    eps0: float,
    C11: float,
    C12: float,
    C44: float,
    plane_strain: bool = False,
) -> np.ndarray:
    """B(n) = e_σ - s² n·Ω(n)·n, pJ µm⁻³, for in-plane unit vectors (nx, ny) (moduli in
    GPa; see the module docstring).

    With cubic moduli ``Ω(n)⁻¹ = [[C11 nx² + C44 ny², (C12 + C44) nx ny],
    [(C12 + C44) nx ny, C11 ny² + C44 nx²]]`` in both models (no displacement out of
    the plane).

    >>> b = khachaturyan_B(np.array([1.0, 0.6]), np.array([0.0, 0.8]), 1.0, 198, 138, 97)
    >>> round(float(b[0] / 1000), 3)  # (C11 + C12)(C11 - C12)/C11 GPa along [10]
    101.818
    """
    c11, c12, c44 = (v * GPA for v in (C11, C12, C44))
    a11 = c11 * nx**2 + c44 * ny**2
    a22 = c11 * ny**2 + c44 * nx**2
    a12 = (c12 + c44) * nx * ny
    det = a11 * a22 - a12**2
    n_omega_n = (a22 * nx**2 - 2 * a12 * nx * ny + a11 * ny**2) / det
    s, e_sigma = misfit_constants(eps0, C11, C12, plane_strain)
    return e_sigma - s**2 * n_omega_n


@dataclass
class CHParams:
    """Physics and numerics of one Cahn-Hilliard run (see config ``ch:``)."""

    length: float = 20.0  # µm, domain side (paper)
    n_cells: int = 64  # mesh cells per side (the image grid)
    c0: float = 50.0  # pJ µm⁻³, double-well height scale (paper)
    k_c: float = 10.0  # pJ µm⁻¹, gradient energy coefficient (paper)
    mobility: float = 15.0  # µm⁵ pJ⁻¹ s⁻¹
    eps0: float = 0.0075  # dilatational eigenstrain per unit c
    C11: float = 198.0  # GPa (paper)
    C12: float = 138.0  # GPa (paper)
    C44: float = 97.0  # GPa (paper)
    elasticity: bool = True
    plane_strain: bool = False  # 3D misfit in plane strain instead of 2D (module docstring)
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

    @classmethod
    def from_config(cls, ch: dict) -> CHParams:
        """The physics of a config's ``ch:`` section (its workflow keys left out)."""
        return cls.from_dict(physics_config(ch))

    @classmethod
    def from_config_file(cls, path, **overrides) -> CHParams:
        """The physics of the ``ch:`` section of a YAML config file, with overrides."""
        import yaml

        with open(path) as f:
            ch = yaml.safe_load(f).get("ch", {})
        return cls.from_config({**ch, **overrides})

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
        """(B_min, B_max) of Khachaturyan's B(n) over all directions, pJ µm⁻³ (0 without
        elasticity). For cubic moduli the extremes lie along [10] and [11]."""
        if not self.elasticity:
            return 0.0, 0.0
        r = np.sqrt(0.5)
        b = khachaturyan_B(np.array([1.0, r]), np.array([0.0, r]), *self._moduli())
        return float(b.min()), float(b.max())

    def _moduli(self) -> tuple[float, float, float, float, bool]:
        return self.eps0, self.C11, self.C12, self.C44, self.plane_strain

    def misfit(self) -> tuple[float, float]:
        """(s, e_σ) of these parameters (:func:`misfit_constants`; 0 without elasticity)."""
        if not self.elasticity:
            return 0.0, 0.0
        return misfit_constants(self.eps0, self.C11, self.C12, self.plane_strain)

    def B(self, nx: np.ndarray, ny: np.ndarray) -> np.ndarray:
        """Khachaturyan's B(n) of these parameters (0 without elasticity)."""
        if not self.elasticity:
            return np.zeros(np.broadcast_shapes(np.shape(nx), np.shape(ny)))
        return khachaturyan_B(nx, ny, *self._moduli())

    def stabilization_S(self, elastic_bound: float) -> float:
        """``S = stabilization * (c0 + λ_max/2)``, λ_max = ``elastic_bound`` the largest
        eigenvalue of the backend's discrete elastic form: energy stable for
        stabilization >= 1 (see the backends' docstrings)."""
        return self.stabilization * (self.c0 + 0.5 * elastic_bound)
