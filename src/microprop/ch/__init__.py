"""Cahn-Hilliard phase separation with elasticity (paper, Appendix A.2).

Shared parts: :mod:`~microprop.ch.params` (model, parameters, Khachaturyan's B(n)),
:mod:`~microprop.ch.protocol` (initial field, backend interface, run driver, images,
run files), :mod:`~microprop.ch.analysis` (the run criteria). Backends, imported on
demand by :func:`make_backend`: :mod:`~microprop.ch.fem` (dolfinx, the default) and
:mod:`~microprop.ch.spectral` (Fourier collocation).
"""

from microprop.ch.analysis import (
    CRITERIA_BANDS,
    count_domains,
    criteria,
    criteria_met,
    distance_to_contour_px,
    interface_width_px,
    phase_purity,
)
from microprop.ch.backend import (
    Backend,
    image_to_grid,
    initial_grid,
    make_backend,
    pixel_centres,
)
from microprop.ch.params import (
    BACKENDS,
    ENERGY_UNITS,
    GPA,
    WORKFLOW_KEYS,
    CHParams,
    SimulationError,
    khachaturyan_B,
    misfit_constants,
)
from microprop.ch.protocol import (
    run_attrs,
    run_protocol,
    run_seed,
    simulate_run,
    to_uint8,
    write_run,
)

__all__ = [
    "BACKENDS",
    "CRITERIA_BANDS",
    "ENERGY_UNITS",
    "GPA",
    "WORKFLOW_KEYS",
    "Backend",
    "CHParams",
    "SimulationError",
    "count_domains",
    "criteria",
    "criteria_met",
    "distance_to_contour_px",
    "image_to_grid",
    "initial_grid",
    "interface_width_px",
    "khachaturyan_B",
    "make_backend",
    "misfit_constants",
    "phase_purity",
    "pixel_centres",
    "run_attrs",
    "run_protocol",
    "run_seed",
    "simulate_run",
    "to_uint8",
    "write_run",
]
