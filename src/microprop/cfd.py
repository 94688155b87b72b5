"""2D Kolmogorov flow with jax-cfd: the paper's CFD dataset (Appendix E).

Physics (the convention of Kochkov et al. 2021, whose code the paper used):

* incompressible Navier-Stokes on the periodic square (2 pi)^2, vorticity form
  d(omega)/dt + u . grad(omega) = nu lap(omega) - alpha omega + curl f,
* Kolmogorov forcing f = sin(k y) x-hat with k = 4 and unit amplitude, unit length, so
  the Reynolds number is Re = 1 / nu (the label),
* a linear drag alpha = 0.1 (jax-cfd's ``ForcedNavierStokes2D``, Kochkov et al.): it
  removes the energy of the 2D inverse cascade at large scales, so the flow reaches a
  statistically steady state. Its laminar steady solution is
  u = sin(k y) / (nu k^2 + alpha), omega = -k cos(k y) / (nu k^2 + alpha).

Numerics: jax-cfd's pseudo-spectral vorticity solver (``jax_cfd.spectral``:
``NavierStokes2D`` with the 2/3 dealiasing rule, ``crank_nicolson_rk4``: viscosity and
drag implicit, advection and forcing explicit, fourth order). Chosen over the
finite-volume ``jax_cfd.base`` solver because on the periodic square the spectral one is
exact for the linear terms (the laminar test matches to round-off), conserves the mean
vorticity exactly (the k = 0 mode never changes) and is cheaper per resolved mode.
The time step is jax-cfd's ``stable_time_step`` for an assumed largest speed
``max_velocity`` at Courant number ``cfl`` (diffusion is implicit: no viscous limit);
the largest speed reached is recorded per image, so the Courant number actually used is
known. At high Re a 64^2 grid does not resolve the enstrophy cascade (docs/cfd.md gives
the measured spectra). By default the only closure is the 2/3 rule's truncation of the
advection term with the true viscosity (an under-resolved simulation at high Re; the
enstrophy piles up near the cutoff, by an amount that depends on the viscosity).
``filter: true`` applies jax-cfd's exponential spectral filter (``circular_filter_2d``:
1 up to 0.65 k_max, exp(-23.6 (k - 0.65 k_max)^4) above) after every step, a large-eddy
closure of the spectral-vanishing-viscosity kind that removes that pile-up; it damps
the grid scales the same way at every Re and so erases most of what tells Re 400 from
800 on 64^2 (measured, ``benchmarks/cfd_closure.py``), which is why it is off.

One image: Re drawn uniformly from ``re_range`` (seeded per image index), a random
divergence-free initial velocity (jax-cfd's ``filtered_velocity_field``), spin-up for
``spinup_time`` time units (the enstrophy is statistically steady after ~10, docs/cfd.md),
then the vorticity, block-averaged to ``image_size`` and mapped to uint8 with ONE fixed
monotone map for the whole dataset (:func:`to_uint8`): per-image scaling would hide the
amplitude, which carries Re.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping

import numpy as np

DOMAIN = 2.0 * math.pi


@dataclasses.dataclass(frozen=True)
class CFDParams:
    """Physics and numerics of one dataset (the config section ``cfd:`` without its
    workflow keys, see :data:`WORKFLOW_KEYS`)."""

    re_range: tuple[float, float] = (1.0, 800.0)
    resolution: int = 64
    image_size: int = 64
    forcing_wavenumber: int = 4
    drag: float = 0.1
    max_velocity: float = 5.0
    cfl: float = 0.5
    spinup_time: float = 20.0
    filter: bool = False
    init_max_velocity: float = 1.0
    init_peak_wavenumber: float = 4.0
    vorticity_scale: float = 0.5
    vorticity_max: float = 30.0

    @classmethod
    def from_config(cls, section: Mapping) -> CFDParams:
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in section.items() if k in names}
        if "re_range" in kw:
            kw["re_range"] = tuple(float(r) for r in kw["re_range"])
        return cls(**kw)

    @property
    def time_step(self) -> float:
        """jax-cfd's advective stable step: cfl * dx / max_velocity.

        >>> round(CFDParams().time_step, 6)
        0.009817
        """
        from jax_cfd.base.equations import stable_time_step

        return float(
            stable_time_step(self.max_velocity, self.cfl, 0.0, self.grid(), implicit_diffusion=True)
        )

    @property
    def spinup_steps(self) -> int:
        return math.ceil(self.spinup_time / self.time_step)

    def grid(self):
        import jax_cfd.base as cfd

        n = self.resolution
        return cfd.grids.Grid((n, n), domain=((0.0, DOMAIN), (0.0, DOMAIN)))


WORKFLOW_KEYS = ("n_images", "shard_size", "n_test", "progress_every")
"""Keys of the config section ``cfd:`` that are not physics (:meth:`CFDParams.from_config`
ignores them)."""


def _power_of_two(n) -> bool:
    return isinstance(n, int) and n > 0 and n & (n - 1) == 0


def config_problems(section: Mapping) -> list[str]:
    """Contradictions in a ``cfd:`` config section, one line each.

    >>> for line in config_problems({"re_range": [0.0, 800.0], "resolution": 96}):
    ...     print(line)
    cfd.re_range must lie in (0, inf), got [0.0, 800.0]
    cfd.resolution must be a power of 2 >= 64 and >= cfd.image_size, got 96
    >>> config_problems({"n_images": 100, "n_test": 20, "resolution": 128})
    []
    """
    problems = []
    lo, hi = section.get("re_range", (1.0, 800.0))
    if not 0 < lo < hi:
        problems.append(f"cfd.re_range must lie in (0, inf), got {list(section['re_range'])}")
    image_size = section.get("image_size", 64)
    if not _power_of_two(image_size):
        problems.append(f"cfd.image_size must be a power of 2, got {image_size}")
    resolution = section.get("resolution", 64)
    if not (_power_of_two(resolution) and resolution >= max(64, image_size)):
        problems.append(
            f"cfd.resolution must be a power of 2 >= 64 and >= cfd.image_size, got {resolution}"
        )
    if section.get("n_test", 0) >= section.get("n_images", math.inf):
        problems.append(
            f"cfd.n_test ({section['n_test']}) must be smaller than "
            f"cfd.n_images ({section['n_images']})"
        )
    if section.get("vorticity_scale", 1.0) >= section.get("vorticity_max", math.inf):
        problems.append("cfd.vorticity_scale must be smaller than cfd.vorticity_max")
    return problems


# --- the solver -------------------------------------------------------------------------


def equation(p: CFDParams, viscosity):
    """jax-cfd's spectral vorticity equation with Kolmogorov forcing and drag.

    ``viscosity`` may be a traced value (one compiled step for every Re)."""
    import jax_cfd.base as cfd
    from jax_cfd.spectral import equations

    def forcing(grid):
        # the forcing at the collocation points (offset 0) of the spectral grid
        return cfd.forcings.kolmogorov_forcing(
            grid, k=p.forcing_wavenumber, offsets=((0.0, 0.0), (0.0, 0.0))
        )

    return equations.NavierStokes2D(
        viscosity, p.grid(), drag=p.drag, smooth=True, forcing_fn=forcing
    )


def step_function(p: CFDParams, viscosity):
    """One time step (Fourier coefficients of the vorticity in and out)."""
    from jax_cfd.spectral import time_stepping
    from jax_cfd.spectral import utils as spectral_utils

    step = time_stepping.crank_nicolson_rk4(equation(p, viscosity), p.time_step)
    if p.filter:
        step = spectral_utils.filter_step(step, spectral_utils.circular_filter_2d(p.grid()))
    return step


def initial_vorticity_hat(p: CFDParams, key):
    """rfft of the curl of jax-cfd's random divergence-free velocity (``key``: a jax
    PRNG key, traceable)."""
    import jax.numpy as jnp
    import jax_cfd.base as cfd

    v0 = cfd.initial_conditions.filtered_velocity_field(
        key, p.grid(), p.init_max_velocity, p.init_peak_wavenumber
    )
    return jnp.fft.rfftn(cfd.finite_differences.curl_2d(v0).data)


def velocity(p: CFDParams, vorticity_hat):
    """Velocity (u, v) on the grid from the vorticity's Fourier coefficients."""
    import jax.numpy as jnp
    from jax_cfd.spectral import utils as spectral_utils

    uh, vh = spectral_utils.vorticity_to_velocity(p.grid())(vorticity_hat)
    return jnp.fft.irfftn(uh), jnp.fft.irfftn(vh)


@functools.lru_cache(maxsize=8)
def _trajectory_fn(p: CFDParams, n_steps: int, every: int):
    """One jitted (viscosity, seed) -> (vorticity at the end, largest speed at the end,
    vorticity rfft every ``every`` steps): initial field, spin-up and diagnostics in one
    compiled call (cached per parameter set: one compilation per process)."""
    import jax
    import jax.numpy as jnp

    def run(viscosity, seed):
        step = step_function(p, viscosity)

        def block(w, _):
            w = jax.lax.fori_loop(0, every, lambda i, x: step(x), w)
            return w, w

        w0 = initial_vorticity_hat(p, jax.random.PRNGKey(seed))
        w_hat, states = jax.lax.scan(block, w0, None, length=n_steps // every)
        u, v = velocity(p, w_hat)
        return jnp.fft.irfftn(w_hat), jnp.sqrt(jnp.max(u**2 + v**2)), states

    return jax.jit(run)


class Simulator:
    """Compiles the run once per parameter set; :meth:`vorticity` runs one image."""

    def __init__(self, p: CFDParams, n_steps: int | None = None, every: int | None = None):
        self.p = p
        self.n_steps = n_steps or p.spinup_steps
        self.every = every or self.n_steps
        self._run = _trajectory_fn(p, self.n_steps, self.every)

    def _call(self, reynolds: float, seed: int):
        # jax PRNG keys take 32-bit seeds: fold the 64-bit image seed
        return self._run(1.0 / reynolds, np.uint32((int(seed) ^ (int(seed) >> 32)) & 0xFFFFFFFF))

    def trajectory(self, reynolds: float, seed: int) -> np.ndarray:
        """Fourier coefficients of the vorticity every ``every`` steps, (T, N, N//2+1)."""
        return np.asarray(self._call(reynolds, seed)[2])

    def vorticity(self, reynolds: float, seed: int) -> tuple[np.ndarray, float]:
        """The vorticity field after the spin-up and the largest speed on the grid."""
        w, speed, _ = self._call(reynolds, seed)
        return np.asarray(w), float(speed)


def block_mean(field: np.ndarray, size: int) -> np.ndarray:
    """Average ``field`` (N, N) over blocks to (size, size); N a multiple of size.

    >>> block_mean(np.arange(16.0).reshape(4, 4), 2).tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """
    n = field.shape[0]
    if n % size:
        raise ValueError(f"grid {n} is not a multiple of the image size {size}")
    f = n // size
    return field.reshape(size, f, size, f).mean(axis=(1, 3))


def to_uint8(vorticity: np.ndarray, scale: float, vmax: float) -> np.ndarray:
    """The dataset's one fixed map: 127.5 (1 + asinh(w/scale) / asinh(vmax/scale)),
    clipped to 0..255.

    asinh is linear below ``scale`` and logarithmic above, so both the laminar flows at
    Re ~ 1 (|w| ~ 0.25) and the turbulent ones (|w| up to ~25) use many grey levels.

    >>> to_uint8(np.array([-100.0, -30.0, 0.0, 30.0]), 0.5, 30.0).tolist()
    [0, 0, 128, 255]
    """
    x = np.arcsinh(np.asarray(vorticity) / scale) / math.asinh(vmax / scale)
    return np.clip(np.rint(127.5 * (1.0 + x)), 0, 255).astype(np.uint8)


def from_uint8(image: np.ndarray, scale: float, vmax: float) -> np.ndarray:
    """Inverse of :func:`to_uint8` (to the grey-level resolution).

    >>> float(from_uint8(np.array([128]), 0.5, 30.0)[0]) > 0
    True
    """
    x = np.asarray(image, dtype=np.float64) / 127.5 - 1.0
    return scale * np.sinh(x * math.asinh(vmax / scale))


# --- energy budget (tests, docs/cfd.md) ------------------------------------------------


def energy_budget(p: CFDParams, reynolds: float, vorticity_hats: np.ndarray) -> dict:
    """Kinetic energy E = <|u|^2>/2 and its sources per snapshot (domain means):
    forcing work P = <u . f>, viscous dissipation D_nu = nu <omega^2>, drag D_a =
    alpha <|u|^2>; dE/dt = P - D_nu - D_a for the resolved equation."""
    grid = p.grid()
    y = np.asarray(grid.mesh((0.0, 0.0))[1])
    f = np.sin(p.forcing_wavenumber * y)
    out = {k: [] for k in ("E", "P", "D_nu", "D_a")}
    for wh in vorticity_hats:
        u, v = (np.asarray(c, dtype=np.float64) for c in velocity(p, wh))
        w = np.fft.irfftn(wh)
        usq = np.mean(u**2 + v**2)
        out["E"].append(0.5 * usq)
        out["P"].append(np.mean(u * f))
        out["D_nu"].append(np.mean(w**2) / reynolds)
        out["D_a"].append(p.drag * usq)
    return {k: np.asarray(v) for k, v in out.items()}


def enstrophy_spectrum(p: CFDParams, vorticity_hats: np.ndarray) -> np.ndarray:
    """Shell-summed enstrophy |omega_k|^2 / 2 for integer |k| = 0 .. N/2, averaged over
    the given rfft snapshots (T, N, N//2+1); the half-plane counted twice where the
    rfft drops the conjugate half.

    >>> p = CFDParams()
    >>> w = np.cos(4 * np.asarray(p.grid().mesh((0.0, 0.0))[1]))
    >>> int(np.argmax(enstrophy_spectrum(p, np.fft.rfftn(w)[None])))
    4
    """
    n = p.resolution
    kx = np.fft.fftfreq(n, 1.0 / n)[:, None]
    ky = np.fft.rfftfreq(n, 1.0 / n)[None, :]
    shell = np.rint(np.sqrt(kx**2 + ky**2)).astype(int)
    power = np.mean(np.abs(np.asarray(vorticity_hats)) ** 2, axis=0) / n**4
    power[:, 1 : (n + 1) // 2] *= 2  # the conjugate half the rfft leaves out
    return 0.5 * np.bincount(shell.ravel(), power.ravel(), minlength=n)[: n // 2 + 1]


def laminar_vorticity(p: CFDParams, reynolds: float) -> np.ndarray:
    """The exact steady laminar solution omega = -k cos(k y) / (nu k^2 + alpha) on the grid."""
    k = p.forcing_wavenumber
    y = np.asarray(p.grid().mesh((0.0, 0.0))[1])
    return -k * np.cos(k * y) / (k**2 / reynolds + p.drag)


# --- symmetries -------------------------------------------------------------------------
#
# Kolmogorov flow has no D4 symmetry (the forcing picks a direction) but a group of its
# own (e.g. Chandler and Kerswell 2013): any shift along x, shifts along y by a period
# 2 pi/k of the forcing, the rotation by pi, (x, y) -> (-x, -y) with w unchanged, and in
# the continuum also the shift-reflect x -> -x, y -> y + pi/k, w -> -w. jax-cfd's 2/3
# brick-wall filter keeps the x-wavenumber -21 of a 64^2 grid but not +21, so its
# discrete equations break every reflection of one axis alone (tests/test_cfd.py shows
# the shift-reflect failing where the others hold to float32 round-off). We use only what
# the solver respects exactly: 64 x-shifts x k y-shifts x 2 rotations, 512 elements on
# a 64^2 image at k = 4. Re is invariant, and so is the distribution of steady-state
# snapshots from random initial fields: training on transformed images adds data the
# simulator would have made, which D4 (resnet18-sym) does not on this dataset. Exact on
# the image when the grid is the image (resolution == image_size, the default); with
# block averaging the rotation is off by one simulation cell.


def symmetry_shift_step(image_size: int, forcing_wavenumber: int) -> int:
    """The y-period 2 pi/k of the forcing in pixels of an image of (2 pi)^2.

    >>> symmetry_shift_step(64, 4)
    16
    """
    if image_size % forcing_wavenumber:
        raise ValueError(
            f"image size {image_size} is not a multiple of k = {forcing_wavenumber}: "
            "the forcing's period does not fall on whole pixels"
        )
    return image_size // forcing_wavenumber


def apply_symmetry(images: np.ndarray, a, rotate, m, step: int) -> np.ndarray:
    """Element (a, rotate, m) of the group on images (B, N, N) indexed [x, y] like the
    solver's grid: out[i, j] = image[(s i + a) % N, (s j + m step) % N] with s = -1 where
    ``rotate`` (the rotation by pi) else 1. Arguments are scalars or arrays of length B.

    >>> x = np.arange(16, dtype=np.uint8).reshape(1, 4, 4)
    >>> apply_symmetry(x, 1, False, 0, step=2)[0, 0].tolist()  # a shift along x
    [4, 5, 6, 7]
    >>> apply_symmetry(x, 0, True, 0, step=2)[0, :2].tolist()  # the rotation by pi
    [[0, 3, 2, 1], [12, 15, 14, 13]]
    """
    images = np.asarray(images)
    b, n = len(images), images.shape[-1]
    a, m = (np.broadcast_to(np.asarray(v, dtype=np.int64), (b,)) for v in (a, m))
    s = np.where(np.broadcast_to(np.asarray(rotate, dtype=bool), (b,)), -1, 1)
    idx = np.arange(n)
    ix = (s[:, None] * idx + a[:, None]) % n
    iy = (s[:, None] * idx + m[:, None] * step) % n
    return images[np.arange(b)[:, None, None], ix[:, :, None], iy[:, None, :]]


def random_symmetry(images: np.ndarray, rng: np.random.Generator, forcing_wavenumber: int = 4):
    """Each image (B, N, N) under its own uniformly drawn element of the group."""
    b, n = len(images), images.shape[-1]
    step = symmetry_shift_step(n, forcing_wavenumber)
    return apply_symmetry(
        images,
        rng.integers(0, n, size=b),
        rng.integers(0, 2, size=b).astype(bool),
        rng.integers(0, forcing_wavenumber, size=b),
        step,
    )


# --- a dataset shard --------------------------------------------------------------------


def image_reynolds_and_seeds(
    first_index: int, n_images: int, re_range, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Re (uniform in ``re_range``) and initial-field seed of each image, a function of
    (seed, image index) only, so a dataset is the same whatever the shard size.

    >>> a = image_reynolds_and_seeds(0, 4, (1.0, 800.0), seed=7)
    >>> b = image_reynolds_and_seeds(2, 2, (1.0, 800.0), seed=7)
    >>> bool(np.all(a[0][2:] == b[0]) and np.all(a[1][2:] == b[1]))
    True
    """
    lo, hi = re_range
    re = np.empty(n_images, dtype=np.float64)
    seeds = np.empty(n_images, dtype=np.uint64)
    for j in range(n_images):
        # 3 in the entropy: a stream apart from the Ising images' [seed, index]
        rng = np.random.default_rng([seed, first_index + j, 3])
        re[j] = rng.uniform(lo, hi)
        seeds[j] = rng.integers(2**63, dtype=np.uint64)
    return re, seeds


def simulate_shard(
    first_index: int,
    n_images: int,
    p: CFDParams,
    seed: int = 0,
    logger=None,
    progress_every: float = 10.0,
) -> dict[str, np.ndarray]:
    """Images ``first_index .. first_index + n_images - 1`` of a CFD dataset: the arrays
    of a shard file (images, label = Re, image_seed, index, max_speed, courant)."""
    from microprop.logs import Progress

    if n_images < 1:
        raise ValueError(f"n_images must be positive, got {n_images}")
    re, seeds = image_reynolds_and_seeds(first_index, n_images, p.re_range, seed)
    sim = Simulator(p)
    images = np.empty((n_images, p.image_size, p.image_size), dtype=np.uint8)
    speed = np.empty(n_images)
    progress = Progress(n_images, "images", every=progress_every, logger=logger)
    for j in range(n_images):
        w, speed[j] = sim.vorticity(re[j], int(seeds[j]))
        images[j] = to_uint8(block_mean(w, p.image_size), p.vorticity_scale, p.vorticity_max)
        progress.update(1)
    dx = DOMAIN / p.resolution
    return {
        "images": images,
        "label": re,
        "image_seed": seeds,
        "index": np.arange(first_index, first_index + n_images, dtype=np.int64),
        "max_speed": speed,
        "courant": speed * p.time_step / dx,
    }


def shard_attrs(p: CFDParams) -> dict:
    """Attributes of a shard file: every parameter plus the derived step and steps."""
    attrs = dataclasses.asdict(p)
    attrs["re_range"] = list(p.re_range)
    return {
        **attrs,
        "time_step": p.time_step,
        "spinup_steps": p.spinup_steps,
        "viscosity": "1/Re",
        "forcing": f"sin({p.forcing_wavenumber} y) x, unit amplitude",
        "domain": "(2 pi)^2 periodic",
        "image_map": "127.5 (1 + asinh(w/vorticity_scale) / asinh(vorticity_max/vorticity_scale))",
    }
