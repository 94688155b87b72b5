"""The run protocol shared by the Cahn-Hilliard backends: the run's seed, the time
protocol driver, image sampling and the run file.

:func:`simulate_run` drives any backend (:class:`microprop.ch.backend.Backend`, built by
name with :func:`microprop.ch.backend.make_backend`) through the paper's protocol
(:meth:`CHParams.dts`, images at :meth:`CHParams.saved_steps`) without knowing which one
it is.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from microprop.ch.backend import Backend, make_backend
from microprop.ch.params import ENERGY_UNITS, CHParams, SimulationError
from microprop.logs import Progress

ENERGY_PARTS = ("bulk", "grad", "elastic")


def run_seed(seed: int, run: int) -> np.random.SeedSequence:
    """The seed sequence of run ``run`` derived from the config seed."""
    return np.random.SeedSequence([int(seed), int(run)])


def to_uint8(image: np.ndarray) -> np.ndarray:
    """c in [0, 1] -> 0..255, clipped.

    >>> to_uint8(np.array([-0.1, 0.0, 0.5, 1.0, 1.2])).tolist()
    [0, 0, 128, 255, 255]
    """
    return np.clip(np.rint(np.asarray(image) * 255.0), 0, 255).astype(np.uint8)


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
            "c at the nodes (c a, (image_size - 1 - r) a) of the image_size^2 grid, "
            "a = length / image_size: pixel (r, c) is centred on its node, row 0 at the top "
            "(y = length - a), column 0 at x = 0; uint8 = round(255 c), clipped"
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
