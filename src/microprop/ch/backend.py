"""The Cahn-Hilliard backend interface and the registry that builds one by name.

A backend (:class:`Backend`) holds one concentration field on the periodic square and
knows how to set it from grid values, advance it by Δt, and report its energy parts,
mean and image (:func:`pixel_centres`; :func:`image_to_grid` maps an image back to the
simulation grid). :func:`make_backend` builds one by name from
:data:`BACKEND_CLASSES` (``fem``: dolfinx P1 elements, :mod:`microprop.ch.fem`;
``spectral``: Fourier collocation, :mod:`microprop.ch.spectral`), importing the class by
name: the backends import this module, and it imports none of them, so there is no
import cycle. The run protocol that drives a backend is :mod:`microprop.ch.protocol`.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod

import numpy as np
import scipy.sparse

from microprop.ch.params import BACKENDS, CHParams

# config name (ch.backend, microprop.ch.params.BACKENDS) -> "module:Class"
BACKEND_CLASSES = {
    "fem": "microprop.ch.fem:CahnHilliard",
    "spectral": "microprop.ch.spectral:SpectralCahnHilliard",
}


def initial_grid(n: int, rng: np.random.Generator) -> np.ndarray:
    """Initial concentration: uniform random in [0, 1] on an n x n periodic grid."""
    return rng.uniform(0.0, 1.0, size=(n, n))


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
    """Pixel centres of an n x n image, row-major: the nodes (c a, (n - 1 - r) a) of the
    n x n grid, a = length / n, column c at x = c a and row 0 at the top (y = length - a).

    The pixels are centred on grid nodes, not on the cells between them: on a simulation
    grid whose side is a multiple of n, every pixel is a node's own value (with n_cells
    equal to n, the image is the simulated field itself), so the energy functional of the
    image is that of the field (issue 41).

    >>> pixel_centres(4.0, 2).tolist()
    [[0.0, 2.0], [2.0, 2.0], [0.0, 0.0], [2.0, 0.0]]
    """
    a = length / n
    rows, cols = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return np.stack([(cols * a).ravel(), ((n - 1 - rows) * a).ravel()], axis=1)


def image_to_grid(image: np.ndarray, n_cells: int) -> np.ndarray:
    """An image (values c, image orientation, :func:`pixel_centres`) -> the field on the
    ``n_cells`` x ``n_cells`` node grid (``grid[i, j]`` at x = i h, y = j h).

    With ``n_cells`` equal to the image edge this only turns the image into grid
    orientation; on a finer grid the nodes between pixels get the trigonometric
    interpolant of the pixels (:func:`scipy.signal.resample`), and the pixels keep their
    values (every ``n_cells / edge``-th node).

    >>> img = np.arange(16.0).reshape(4, 4)
    >>> bool(np.array_equal(image_to_grid(img, 4)[:, ::-1].T, img))
    True
    >>> bool(np.allclose(image_to_grid(img, 8)[::2, ::2], image_to_grid(img, 4)))
    True
    """
    from scipy.signal import resample

    n = image.shape[0]
    g = np.asarray(image, float)[::-1].T  # g[a, b]: pixel at x = a, y = b (image grid)
    if n_cells != n:
        g = resample(resample(g, n_cells, axis=0), n_cells, axis=1)
    return g


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
    def set_field(self, c: np.ndarray) -> None:
        """c at the simulation grid's nodes, (n_cells, n_cells), c[i, j] at (i h, j h),
        h = length / n_cells; resets time and step count."""

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

    def image_energies(self, images: np.ndarray) -> np.ndarray:
        """Total energy (pJ µm⁻¹) of the field through each image's pixels (uint8 images
        are read as round(255 c)), by this backend's own energy functional: the field
        set on the simulation grid by :func:`image_to_grid`. Changes the backend's state.
        """
        images = np.asarray(images)
        scale = 255.0 if images.dtype == np.uint8 else 1.0
        out = np.empty(len(images))
        for k, image in enumerate(images):
            self.set_field(image_to_grid(image / scale, self.p.n_cells))
            out[k] = self.energy()["total"]
        return out


def make_backend(params: CHParams, backend: str = "fem", solver: str = "fft") -> Backend:
    """A backend by name (:data:`BACKEND_CLASSES`); ``solver`` (``fft`` or ``lu``) applies
    to ``fem`` only. The class is imported by name, so this module never imports a
    backend (each imports this module for :class:`Backend`)."""
    if backend not in BACKEND_CLASSES:
        raise ValueError(f"unknown Cahn-Hilliard backend {backend!r}, expected one of {BACKENDS}")
    module, _, name = BACKEND_CLASSES[backend].partition(":")
    cls = getattr(importlib.import_module(module), name)
    return cls(params, solver=solver) if backend == "fem" else cls(params)
