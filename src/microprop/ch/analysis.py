"""The issue-10 criteria of a Cahn-Hilliard run, measured on its images and energies
(the same for every backend)."""

from __future__ import annotations

import math

import numpy as np

from microprop.ch.params import CHParams


def _find(parent: list[int], a: int) -> int:
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


def count_domains(image: np.ndarray, threshold: float = 0.5) -> tuple[int, int]:
    """Connected domains (4-neighbour, periodic) of c > threshold and c <= threshold.

    >>> img = np.zeros((8, 8)); img[:, 2:4] = 1; img[:, 6:8] = 1
    >>> count_domains(img)
    (2, 2)
    """
    from scipy import ndimage

    counts = []
    for phase in (image > threshold, image <= threshold):
        lab, n = ndimage.label(phase)
        # Merge labels across the periodic edges.
        parent = list(range(n + 1))
        for a, b in [(lab[0, :], lab[-1, :]), (lab[:, 0], lab[:, -1])]:
            for x, y in zip(a, b, strict=True):
                if x and y:
                    parent[_find(parent, x)] = _find(parent, y)
        counts.append(len({_find(parent, i) for i in range(1, n + 1)}))
    return counts[0], counts[1]


def interface_width_px(image: np.ndarray) -> float:
    """Mean 10-90 interface width in pixels: pixels with 0.1 < c < 0.9 divided by the
    interface length (pixel-edge crossings of c = 0.5 times π/4, Cauchy-Crofton)."""
    band = np.count_nonzero((image > 0.1) & (image < 0.9))
    s = image > 0.5
    crossings = np.count_nonzero(s != np.roll(s, 1, 0)) + np.count_nonzero(s != np.roll(s, 1, 1))
    return band / max(crossings * np.pi / 4, 1e-9)


def distance_to_contour_px(image: np.ndarray, level: float = 0.5) -> np.ndarray:
    """Distance (pixels) of every pixel centre from the ``c = level`` contour, periodic.

    The contour crosses the segment between two neighbouring pixels of opposite phase
    where linear interpolation of c reaches ``level``; a pixel's distance is its
    Euclidean distance to the nearest such crossing point (both axes, periodic images).

    >>> img = np.zeros((8, 8)); img[:, 2:6] = 1.0
    >>> distance_to_contour_px(img)[0].tolist()
    [1.5, 0.5, 0.5, 1.5, 1.5, 0.5, 0.5, 1.5]
    """
    from scipy.spatial import cKDTree

    img = np.asarray(image, float)
    n0, n1 = img.shape
    pts = []
    for axis in (0, 1):
        nxt = np.roll(img, -1, axis)
        cross = (img > level) != (nxt > level)
        i, j = np.nonzero(cross)
        a, b = img[i, j], nxt[i, j]
        frac = np.clip((level - a) / np.where(b != a, b - a, 1.0), 0.0, 1.0)
        pts.append(np.stack([i + frac * (axis == 0), j + frac * (axis == 1)], axis=1))
    pts = np.concatenate(pts)
    rows, cols = np.meshgrid(np.arange(n0), np.arange(n1), indexing="ij")
    centres = np.stack([rows.ravel(), cols.ravel()], axis=1).astype(float)
    if len(pts) == 0:
        return np.full(img.shape, np.inf)
    tree = cKDTree(pts % [n0, n1], boxsize=[n0, n1])
    d, _ = tree.query(centres)
    return d.reshape(img.shape)


def phase_purity(image: np.ndarray, margin_px: float = 2.0, tol: float = 0.1) -> float:
    """Share of the pixels farther than ``margin_px`` from the c = 0.5 contour whose c
    lies within ``tol`` of 0 or 1 (the paper: values 0 or 1 away from interfaces).

    >>> x = np.arange(64) + 0.5
    >>> stripe = 0.5 * (np.tanh((16 - np.abs(x - 32)) / 1.0) + 1)  # 10-90 width 2.2 px
    >>> round(phase_purity(np.tile(stripe, (64, 1))), 3)
    1.0
    """
    img = np.asarray(image, float)
    far = distance_to_contour_px(img) > margin_px
    pure = (img <= tol) | (img >= 1 - tol)
    return float(np.count_nonzero(far & pure) / max(np.count_nonzero(far), 1))


#: The issue's bands on a production run (see :func:`criteria_met`), as (low, high).
CRITERIA_BANDS = {
    "E_max": (4000.0, 10000.0),  # E of the first image (the paper: 7054 at its first image)
    "E_end": (400.0, 900.0),  # the paper: 589 at the end
    "a_kink_in_part1": (1.0, 1.0),  # steepest drop per log-time inside part 1
    "b_purity_end_part1": (0.9, 1.0),  # pixels > 2 px from interfaces within 0.1 of 0 or 1
    "c_min_domains_end": (2.0, math.inf),  # domains of each phase at the end
    "d_cells_across_interface": (6.0, math.inf),  # mesh cells across the 10-90 width
    "e_elastic_share_end": (0.05, 1.0),  # elastic share of E at the end
    "f_image_label_gap": (0.0, 0.02),  # |E(image) / label - 1| at every saved step
}


def image_label_gaps(
    out: dict[str, np.ndarray], params: CHParams, backend: str, solver: str = "fft"
) -> np.ndarray:
    """Relative gap E(image) / label - 1 of every saved image of a run: E(image) is the
    backend's own energy functional of the field through the stored uint8 pixels
    (:meth:`microprop.ch.backend.Backend.image_energies`), the label the simulation's
    total free energy at that step (issue 41: every image must determine its label)."""
    from microprop.ch.backend import make_backend

    sim = make_backend(params, backend, solver)
    return sim.image_energies(out["images"]) / np.asarray(out["energy"]) - 1.0


def criteria(
    out: dict[str, np.ndarray], params: CHParams, backend: str | None = None
) -> dict[str, float]:
    """The issue's criteria measured on the arrays of one run (all saved steps).

    (a) kink: time of the steepest energy decay per log-time over the whole run, and
        whether it lies in part 1; (b) phase purity at the end of part 1
        (:func:`phase_purity`; for comparison also at the end of the run,
        ``b_purity_end``, the value the coarsening structure approaches); (c) domains of
        each phase at the ends of parts 1 and 2;
        (d) the 10-90 interface width at the end in pixels and in mesh cells; (e) elastic
        share of E at the end; the energies of the bands in :data:`CRITERIA_BANDS`
        (``E_start``: E of the initial field, ``E_max``: the largest E of an image).
    With a random initial field the steepest drop of E is the smoothing of that field in
    the first steps; the spinodal separation is the steepest drop of the bulk energy
    (``a_bulk_kink_time_s``, searched in part 1). With ``backend`` also (f) the largest
    image-vs-label gap over the saved steps (:func:`image_label_gaps`).
    """
    imgs = out["images"].astype(float) / 255.0
    n1 = params.part1_steps
    t, E = out["time"], out["energy"]
    rate = -np.gradient(E, np.log(t))
    k = int(np.argmax(rate))
    n1b = max(n1, 2)
    kb = int(np.argmax(-np.gradient(out["energy_bulk"][:n1b], np.log(t[:n1b]))))
    end1 = imgs[n1 - 1] if n1 else imgs[0]
    end = imgs[-1]
    width = interface_width_px(end)
    d1, d2 = count_domains(end1), count_domains(end)
    row = {
        "a_kink_time_s": float(t[k]),
        "a_kink_in_part1": float(k < n1 - 1),
        "a_bulk_kink_time_s": float(t[kb]),
        "b_purity_end_part1": phase_purity(end1),
        "b_purity_end": phase_purity(end),
        "c_domains_end_part1": d1,
        "c_domains_end": d2,
        "c_min_domains_end": float(min(d2)),
        "d_interface_width_px": float(width),
        "d_cells_across_interface": float(width * params.n_cells / params.image_size),
        "e_elastic_share_end": float(out["energy_elastic"][-1] / out["energy"][-1]),
        "E_start": float(out.get("energy_initial", E[0])),
        "E_max": float(E.max()),
        "E_end_part1": float(E[n1 - 1]) if n1 else float(E[0]),
        "E_end": float(E[-1]),
    }
    if backend is not None:
        row["f_image_label_gap"] = float(np.abs(image_label_gaps(out, params, backend)).max())
    return row


def criteria_met(c: dict[str, float]) -> dict[str, bool]:
    """Whether each criterion of :data:`CRITERIA_BANDS` holds for :func:`criteria`'s ``c``."""
    return {k: bool(lo <= c[k] <= hi) for k, (lo, hi) in CRITERIA_BANDS.items() if k in c}
