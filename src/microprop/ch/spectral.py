"""The Fourier-spectral Cahn-Hilliard backend (``ch.backend: spectral``).

The same model as the FEM backend (:mod:`microprop.ch.params`: double well, gradient
term, homogeneous cubic elasticity with a dilatational eigenstrain, 2D or plane strain,
mean strain ``ε0 c̄ I``) by Fourier collocation on the ``n_cells`` x ``n_cells`` grid of nodes
``(i h, j h)``, ``h = length / n_cells`` (the FEM mesh's vertices). With homogeneous
moduli the displacement is eliminated exactly: the elastic energy is
``E_el = ½ Σ_k B(n) |ĉ(k)|²`` with Khachaturyan's B(n) (:func:`khachaturyan_B`), B = 0
at k = 0 (the mean strain relaxes the homogeneous part), and its chemical potential is
``μ_el = F⁻¹[B(n) ĉ]``: no elasticity solve.

Energies of the grid field, the same integrals as the FEM's (pJ µm⁻¹): the bulk part by
the trapezoidal rule ``h² Σ_ij c0 c²(1-c)²`` (spectrally accurate for a smooth periodic
field), the gradient and elastic parts by Parseval,
``∫ g²  = (L²/n⁴) Σ_k |ĝ_k|²`` (ĝ the unnormalized DFT).

Time stepping: the FEM backend's stabilized semi-implicit scheme (gradient term
implicit, bulk force and elastic chemical potential explicit) in Fourier space,

    ĉ¹ - ĉ⁰ = -Δt M |k|² [ f̂'(c⁰) + B ĉ⁰ + S (ĉ¹ - ĉ⁰) + k_c |k|² ĉ¹ ],

solved mode by mode: ``ĉ¹ = ĉ⁰ - g(k) [f̂'(c⁰) + (B + k_c |k|²) ĉ⁰]`` with
``g = Δt M |k|² / (1 + Δt M |k|² (S + k_c |k|²))``. One real FFT of f'(c⁰) and one inverse
FFT per step; ĉ⁰ is kept from the previous step. The k = 0 mode is untouched: mass is
conserved exactly. Energy stability follows as for the FEM (its module docstring) with
the grid's discrete L2 norm: the bulk bracket is at most ``c0 ‖δ‖²`` point by point (c
in [0, 1]), and the elastic form is diagonal with eigenvalues B(n_k), so its bracket is
at most ``½ max_k B(n_k) ‖δ‖²``. Hence ``S = stabilization * (c0 + max_k B/2)`` and
E never rises for stabilization >= 1. ``max_k B`` is the continuum B_max (the [11]
direction is on every grid), smaller than the FEM's discrete bound.

FFTs: :mod:`scipy.fft` (``rfft2``/``irfft2``, one worker), float64.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft

from microprop.ch.backend import Backend, bilinear_matrix, bilinear_periodic, pixel_centres
from microprop.ch.params import CHParams, SimulationError


class SpectralCahnHilliard(Backend):
    """One Cahn-Hilliard-elasticity simulation on the periodic ``n_cells``² grid."""

    name = "spectral"
    solver = "scipy.fft"

    def __init__(self, params: CHParams):
        super().__init__(params)
        p = params
        n = p.n_cells
        L = p.length
        self.n, self.h = n, L / n
        kx = 2 * np.pi * scipy.fft.fftfreq(n, d=self.h)[:, None]  # axis 0: x
        ky = 2 * np.pi * scipy.fft.rfftfreq(n, d=self.h)[None, :]  # axis 1: y (half)
        self.k2 = kx**2 + ky**2
        knorm = np.sqrt(self.k2)
        knorm[0, 0] = 1.0
        nx, ny = np.broadcast_arrays(kx / knorm, ky / knorm)
        nx = nx.copy()
        nx[0, 0] = 1.0  # any direction: B(k = 0) is set to 0 below
        self.B = p.B(nx, ny)
        self.B[0, 0] = 0.0  # the mean strain relaxes the homogeneous part
        nonzero = self.k2 > 0
        self.S = p.stabilization_S(float(self.B[nonzero].max()))
        self.linear = self.B + p.k_c * self.k2  # explicit elastic + implicit gradient
        # Parseval on the half spectrum: the columns ky > 0 stand for ±ky, except the
        # Nyquist column of an even n.
        w = np.full(ky.shape, 2.0)
        w[0, 0] = 1.0
        if n % 2 == 0:
            w[0, -1] = 1.0
        parseval = w * L**2 / n**4
        # E_grad and E_el as weighted sums of |ĉ|² (flattened, for one dot product each)
        self._w_grad = (0.5 * p.k_c * self.k2 * parseval).ravel()
        self._w_el = (0.5 * self.B * parseval).ravel()
        self._dt = None  # Δt of the multipliers below
        self._keep = self._gain = None
        self._image_map = bilinear_matrix(n, L, pixel_centres(L, p.image_size))
        self.c = np.zeros((n, n))
        self.c_hat = scipy.fft.rfft2(self.c)

    def nodes(self) -> np.ndarray:
        """Grid node coordinates (n², 2), row-major in (i, j): node (i, j) at (i h, j h)."""
        x = np.arange(self.n) * self.h
        X, Y = np.meshgrid(x, x, indexing="ij")
        return np.stack([X.ravel(), Y.ravel()], axis=1)

    def set_field(self, c: np.ndarray) -> None:
        """c at the grid nodes, (n_cells, n_cells), c[i, j] at (i h, j h)."""
        self.c = np.array(c, dtype=np.float64, order="C")
        self.c_hat = scipy.fft.rfft2(self.c)
        self.time = 0.0
        self.step_count = 0

    def set_initial_grid(self, grid: np.ndarray) -> None:
        c = bilinear_periodic(np.asarray(grid, float), self.p.length, self.nodes())
        self.set_field(c.reshape(self.n, self.n))

    def _set_dt(self, dt: float) -> None:
        """ĉ¹ = keep ĉ⁰ - gain f̂'(c⁰), keep = 1 - gain (B + k_c |k|²) (module docstring)."""
        if dt != self._dt:
            a = dt * self.p.mobility * self.k2
            gain = a / (1.0 + a * (self.S + self.p.k_c * self.k2))
            # complex multipliers: numpy multiplies complex by complex arrays faster
            # than by real ones (which it casts on every call)
            self._gain = gain.astype(np.complex128)
            self._keep = (1.0 - gain * self.linear).astype(np.complex128)
            self._dt = dt

    def step(self, dt: float) -> None:
        self._set_dt(dt)
        # f'(c) = 2 c0 c (1 - c)(1 - 2c) = 2 c0 c (1 + c (2c - 3)), in place (Horner)
        c = self.c
        f = 2.0 * c
        f -= 3.0
        f *= c
        f += 1.0
        f *= c
        f *= 2.0 * self.p.c0
        f_hat = scipy.fft.rfft2(f, overwrite_x=True)
        f_hat *= self._gain
        self.c_hat *= self._keep
        self.c_hat -= f_hat
        self.c = scipy.fft.irfft2(self.c_hat, s=c.shape)
        self.step_count += 1
        self.time += dt
        # A NaN or inf anywhere spreads to every node through the inverse FFT.
        if not math.isfinite(self.c[0, 0]):
            raise SimulationError(
                f"Cahn-Hilliard step {self.step_count} failed (t = {self.time:.4g} s, "
                f"dt = {dt:.3g} s): NaN/inf in the solution"
            )

    def energy(self) -> dict[str, float]:
        q = self.c * (1 - self.c)
        power = (self.c_hat.real**2 + self.c_hat.imag**2).ravel()
        e = {
            "bulk": float(self.h**2 * self.p.c0 * np.dot(q.ravel(), q.ravel())),
            "grad": float(np.dot(self._w_grad, power)),
            "elastic": float(np.dot(self._w_el, power)),
        }
        e["total"] = e["bulk"] + e["grad"] + e["elastic"]
        return e

    def mean_c(self) -> float:
        return float(self.c.mean())

    def sample(self, points: np.ndarray) -> np.ndarray:
        """c at points (n, 2), bilinear between the grid nodes (nodal values at nodes)."""
        return bilinear_periodic(self.c, self.p.length, points)

    def image(self) -> np.ndarray:
        """c at the pixel centres, as :meth:`sample` (the sampling map built once)."""
        n = self.p.image_size
        return (self._image_map @ self.c.ravel()).reshape(n, n)
