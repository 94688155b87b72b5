"""Shared by the Cahn-Hilliard tests: the short test physics and protocol, and the
closed forms of Khachaturyan's B(n) along [10] and [11]."""

from pathlib import Path

import numpy as np

from microprop.ch import CHParams

CONFIG = Path(__file__).parents[1] / "config" / "config.yaml"  # the dataset's parameters

# Coarse, fast test physics (the 10-90 interface width, 1.39 um, over 2.2 cells of the
# 20 um domain on 32 x 32 cells) and a short version of the two-part protocol.
BASE = dict(
    n_cells=32,
    c0=50.0,
    k_c=10.0,
    mobility=20.0,
    eps0=0.004,
    image_size=16,
    init_grid=16,
    part1_steps=30,
    dt_min=1e-6,
    dt_max=1e-3,
    part2_steps=20,
    dt=1e-3,
    save_every=5,
)


def params(**kw) -> CHParams:
    return CHParams(**{**BASE, **kw})


def energy_and_mass_trace(backend_class, p: CHParams) -> tuple[np.ndarray, np.ndarray]:
    """Total energy and mean c before and after every step of the protocol ``p`` run by
    ``backend_class`` (either backend) from the seed-0 random field."""
    sim = backend_class(p)
    sim.set_initial_random(0)
    E, m = [sim.energy()["total"]], [sim.mean_c()]
    for dt in p.dts():
        sim.step(float(dt))
        E.append(sim.energy()["total"])
        m.append(sim.mean_c())
    return np.array(E), np.array(m)


def B_closed_form(p: CHParams) -> tuple[float, float]:
    """B along [10] and [11] (pJ/um^3) for 2D cubic moduli and a dilatational eigenstrain."""
    c11, c12, c44 = (v * 1000 for v in (p.C11, p.C12, p.C44))
    s = (c11 + c12) * p.eps0**2
    return s * (c11 - c12) / c11, s * 4 * c44 / (c11 + c12 + 2 * c44)
