"""The run protocol shared by the Cahn-Hilliard backends: the seeded initial field, the
backend interface, the time protocol driver, image sampling and the run file.

A backend (:class:`Backend`) holds one concentration field on the periodic square and
knows how to set it from grid values, advance it by Δt, and report its energy parts,
mean and pixel-centre image. :func:`simulate_run` drives any backend through the
paper's protocol (:meth:`CHParams.dts`, images at :meth:`CHParams.saved_steps`) without
knowing which one it is; :func:`make_backend` builds one by name (``fem``: dolfinx P1
elements, :mod:`microprop.ch.fem`; ``spectral``: Fourier collocation,
:mod:`microprop.ch.spectral`).
"""

from __future__ import annotations

import logging
import math
import time
from abc import ABC, abstractmethod

import numpy as np
import scipy.sparse

from microprop.ch.params import BACKENDS, ENERGY_UNITS, CHParams, SimulationError
from microprop.logs import Progress

ENERGY_PARTS = ("bulk", "grad", "elastic")


def initial_grid(n: int, rng: np.random.Generator) -> np.ndarray:
    """Initial concentration: uniform random in [0, 1] on an n x n periodic grid."""
    return rng.uniform(0.0, 1.0, size=(n, n))


def run_seed(seed: int, run: int) -> np.random.SeedSequence:
    """The seed sequence of run ``run`` derived from the config seed."""
    return np.random.SeedSequence([int(seed), int(run)])


def bilinear_matrix(n: int, length: float, x: np.ndarray) -> scipy.sparse.csr_matrix:
    """The sparse map (points x n²) of periodic bilinear interpolation from the values of
    an n x n grid (``grid[i, j]`` at x = i h, y = j h, raveled row-major) to the points
    ``x`` (n_points, 2): build once, apply to many fields."""
    h = length / n
    s = (x[:, 0] / h) % n
    t = (x[:, 1] / h) % n
    i0 = np.floor(s + 1e-9).astype(int) % n
    j0 = np.floor(t + 1e-9).astype(int) % n
    fs = np.clip(s - np.floor(s + 1e-9), 0.0, 1.0)
    ft = np.clip(t - np.floor(t + 1e-9), 0.0, 1.0)
    i1, j1 = (i0 + 1) % n, (j0 + 1) % n
    cols = np.stack([i0 * n + j0, i1 * n + j0, i0 * n + j1, i1 * n + j1], axis=1)
    w = np.stack([(1 - fs) * (1 - ft), fs * (1 - ft), (1 - fs) * ft, fs * ft], axis=1)
    rows = np.repeat(np.arange(len(x)), 4)
    return scipy.sparse.csr_matrix((w.ravel(), (rows, cols.ravel())), shape=(len(x), n * n))


def bilinear_periodic(grid: np.ndarray, length: float, x: np.ndarray) -> np.ndarray:
    """Periodic bilinear interpolation of ``grid[i, j]`` (value at x=i h, y=j h) at the
    points ``x`` (n, 2) (:func:`bilinear_matrix`).

    >>> g = np.array([[0.0, 1.0], [2.0, 3.0]])  # h = 1 on a 2 x 2 square
    >>> bilinear_periodic(g, 2.0, np.array([[0.0, 1.0], [0.5, 0.5], [1.5, 0.0]])).tolist()
    [1.0, 1.5, 1.0]
    """
    grid = np.asarray(grid, float)
    return bilinear_matrix(grid.shape[0], length, x) @ grid.ravel()


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


class Backend(ABC):
    """One Cahn-Hilliard-elasticity field on the periodic square, advanced step by step.

    Subclasses set ``name`` (the config's ``ch.backend``), ``solver`` (how the linear
    systems are solved, recorded in the run file), ``S`` (the stabilization of the
    semi-implicit step, pJ µm⁻³), and keep ``time`` and ``step_count`` current.
    """

    name: str
    solver: str
    S: float
    time: float = 0.0
    step_count: int = 0

    def __init__(self, params: CHParams):
        self.p = params
        self.time = 0.0
        self.step_count = 0

    @abstractmethod
    def set_initial_grid(self, grid: np.ndarray) -> None:
        """c from values on a periodic grid (grid[i, j] at x = i h, y = j h), bilinear in
        between (:func:`bilinear_periodic`); resets time and step count."""

    def set_initial_random(self, seed: np.random.SeedSequence | int) -> None:
        """The seeded uniform random field on the ``init_grid`` grid."""
        self.set_initial_grid(initial_grid(self.p.init_grid, np.random.default_rng(seed)))

    @abstractmethod
    def step(self, dt: float) -> None:
        """Advance one step of size ``dt``; raises SimulationError on failure."""

    @abstractmethod
    def energy(self) -> dict[str, float]:
        """Energy parts ``bulk``, ``grad``, ``elastic`` and their ``total``, pJ µm⁻¹."""

    @abstractmethod
    def mean_c(self) -> float:
        """Mean concentration over the domain (conserved)."""

    @abstractmethod
    def sample(self, points: np.ndarray) -> np.ndarray:
        """c at points (n, 2) of the domain."""

    def image(self) -> np.ndarray:
        """c at the pixel centres (:func:`pixel_centres`), (image_size, image_size)."""
        n = self.p.image_size
        return self.sample(pixel_centres(self.p.length, n)).reshape(n, n)


def make_backend(params: CHParams, backend: str = "fem", solver: str = "fft") -> Backend:
    """A backend by name; ``solver`` (``fft`` or ``lu``) applies to ``fem`` only."""
    if backend == "fem":
        from microprop.ch.fem import CahnHilliard

        return CahnHilliard(params, solver=solver)
    if backend == "spectral":
        from microprop.ch.spectral import SpectralCahnHilliard

        return SpectralCahnHilliard(params)
    raise ValueError(f"unknown Cahn-Hilliard backend {backend!r}, expected one of {BACKENDS}")


def simulate_run(
    params: CHParams,
    seed: int,
    run: int,
    logger: logging.Logger | None = None,
    progress_every: float = 10.0,
    backend: str = "fem",
    solver: str = "fft",
) -> dict[str, np.ndarray]:
    """One run of the paper's protocol with the named backend (:func:`run_protocol`)."""
    sim = make_backend(params, backend, solver)
    return run_protocol(sim, seed, run, logger=logger, progress_every=progress_every)


def run_protocol(
    sim: Backend,
    seed: int,
    run: int,
    logger: logging.Logger | None = None,
    progress_every: float = 10.0,
) -> dict[str, np.ndarray]:
    """Run ``run`` of the paper's protocol on ``sim``; returns the arrays of a run file.

    ``images`` (n, N, N) uint8, ``energy`` (total), ``energy_bulk``, ``energy_grad``,
    ``energy_elastic``, ``time``, ``step``, ``mean_c``, one entry per saved step, and
    ``energy_initial`` (0-d), E of the initial field before the first step.
    Raises :class:`SimulationError` on NaN or a failed solve.
    """
    log = logger or logging.getLogger("microprop.ch")
    params = sim.p
    t0 = time.perf_counter()
    sim.set_initial_random(run_seed(seed, run))
    log.info(
        "CH run %d (%s backend, %s): %d x %d cells, %d steps (%d + %d), S = %.4g pJ/um^3, "
        "initial field %.2f s",
        run,
        sim.name,
        sim.solver,
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
        **{f"energy_{k}": np.empty(n) for k in ENERGY_PARTS},
        "time": np.empty(n),
        "step": saved.copy(),
        "mean_c": np.empty(n),
    }
    e0 = sim.energy()
    log.info("initial: mean c = %.6f, E = %.6g %s", sim.mean_c(), e0["total"], "pJ/um")
    out["energy_initial"] = np.array(e0["total"])  # E of the initial field (not an image)
    progress = Progress(len(dts), "steps", every=progress_every, logger=log)
    k = 0
    last = ""
    for i, dt in enumerate(dts, start=1):
        sim.step(float(dt))
        if k < n and saved[k] == i:
            e = sim.energy()
            if not math.isfinite(e["total"]):
                raise SimulationError(f"energy is not finite at step {i} (t = {sim.time:.4g} s)")
            out["images"][k] = to_uint8(sim.image())
            out["energy"][k] = e["total"]
            for part in ENERGY_PARTS:
                out[f"energy_{part}"][k] = e[part]
            out["time"][k] = sim.time
            out["mean_c"][k] = sim.mean_c()
            k += 1
            last = f"t = {sim.time:.4g} s, E = {e['total']:.6g} pJ/um"
        progress.update(1, extra=last)
    log.info("CH run %d done in %.1f s", run, time.perf_counter() - t0)
    return out


def run_attrs(params: CHParams, seed: int, run: int, sim: Backend) -> dict:
    """Attributes of a run file: provenance, backend, units and every physics parameter."""
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
        "backend": sim.name,
        "solver": sim.solver,
        "stabilization_S": sim.S,
        "code_version": __version__,
        **params.as_dict(),
    }


def write_run(
    path,
    params: CHParams,
    seed: int,
    run: int,
    logger: logging.Logger | None = None,
    progress_every: float = 10.0,
    backend: str = "fem",
    solver: str = "fft",
) -> dict[str, np.ndarray]:
    """Simulate run ``run`` and write its run file atomically (nothing on failure)."""
    from microprop.io import write_h5

    sim = make_backend(params, backend, solver)
    out = run_protocol(sim, seed, run, logger=logger, progress_every=progress_every)
    write_h5(path, out, run_attrs(params, seed, run, sim))
    return out
