"""2D Ising model, Metropolis Monte Carlo (the paper's Appendix A.1).

H = -J sum_<ij> s_i s_j with J = 1, h = 0, k_B = 1, periodic boundaries. One image:
random +-1 spins, then ``attempts`` flip attempts at uniformly random sites with the
Metropolis acceptance min(1, exp(-dE/T)); at T = 0 only moves with dE <= 0 are taken.

Speed (``benchmarks/ising_throughput.py``) comes from:

* a counter-based random generator (SplitMix64): the n-th number is a hash of
  ``seed + n * golden``, so consecutive attempts carry no serial dependency and the CPU
  overlaps them; one 64-bit number gives both the site (low half, multiply-shift) and
  the acceptance draw (high half);
* acceptance as an integer compare against five precomputed 32-bit thresholds, one per
  possible dE in {-8, -4, 0, 4, 8}, and a branchless flip (no mispredicted branches);
* int8 spins and a neighbour table of 16-bit indices (L1-resident for N = 64), so no
  modulo in the inner loop;
* images are independent and run in parallel (numba prange), each from its own seed,
  so results do not depend on the number of threads.
"""

from __future__ import annotations

import math

import numba
import numpy as np

TC = 2.0 / math.log(1.0 + math.sqrt(2.0))
"""Onsager's critical temperature of the square lattice, 2 / ln(1 + sqrt 2) ~ 2.269."""

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_MASK32 = np.uint64(0xFFFFFFFF)
_1, _2, _3 = np.uint64(1), np.uint64(2), np.uint64(3)


def temperature(label, label_max: int = 255):
    """Temperature of a label: T = label * 2 Tc / label_max.

    >>> round(float(temperature(255)), 4) == round(2 * TC, 4)
    True
    >>> float(temperature(0))
    0.0
    """
    return np.asarray(label, dtype=np.float64) * (2.0 * TC / label_max)


def acceptance_thresholds(T: float) -> np.ndarray:
    """32-bit thresholds: a flip with dE = 4k - 8 is taken when a uniform draw < thr[k].

    >>> acceptance_thresholds(0.0).tolist() == [2**32, 2**32, 2**32, 0, 0]
    True
    >>> bool(abs(acceptance_thresholds(2.0)[3] / 2**32 - math.exp(-2.0)) < 1e-9)
    True
    """
    thr = np.empty(5, dtype=np.uint64)
    for k in range(5):
        dE = 4 * k - 8
        if dE <= 0:
            thr[k] = 2**32  # always: every 32-bit draw is below
        elif T <= 0.0:
            thr[k] = 0  # never: T = 0 takes only dE <= 0
        else:
            thr[k] = min(2**32, int(math.exp(-dE / T) * 2**32))
    return thr


def neighbour_table(n: int) -> np.ndarray:
    """Flat indices of the up, down, left and right neighbours (periodic), 4 per site.

    >>> neighbour_table(3)[:4].tolist()
    [6, 3, 2, 1]
    """
    idx = np.arange(n * n).reshape(n, n)
    nbr = np.stack(
        [
            np.roll(idx, 1, axis=0).ravel(),
            np.roll(idx, -1, axis=0).ravel(),
            np.roll(idx, 1, axis=1).ravel(),
            np.roll(idx, -1, axis=1).ravel(),
        ],
        axis=1,
    )
    return nbr.astype(np.uint16 if n * n <= 2**16 else np.uint32).ravel()


@numba.njit(inline="always")
def _mix(z):
    """SplitMix64 finaliser: a bijective 64-bit hash with full avalanche."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


_BLOCK = 2048  # random numbers generated per block (L1-resident buffers)


@numba.njit(cache=True, nogil=True)
def _sweep_kernel(spins, nbr, thr, attempts, counter):
    """``attempts`` Metropolis flip attempts on flat int8 ``spins``; returns the counter.

    Random numbers are made a block at a time in their own loop (which the compiler
    vectorizes), then consumed by a short, branchless update loop.
    """
    nn = np.uint64(spins.size)
    sites = np.empty(_BLOCK, dtype=np.uint32)
    draws = np.empty(_BLOCK, dtype=np.uint64)
    done = 0
    while done < attempts:
        m = min(_BLOCK, attempts - done)
        for t in range(m):
            z = _mix(counter + np.uint64(t + 1) * _GOLDEN)
            sites[t] = np.uint32(((z & _MASK32) * nn) >> np.uint64(32))
            draws[t] = z >> np.uint64(32)
        counter += np.uint64(m) * _GOLDEN
        for t in range(m):
            i = sites[t]
            j = np.uint64(i) * np.uint64(4)
            s = spins[i]
            h = spins[nbr[j]] + spins[nbr[j + _1]] + spins[nbr[j + _2]] + spins[nbr[j + _3]]
            k = np.uint64(s * h + 4) >> np.uint64(1)  # dE = 2 s h = 4k - 8, k in 0..4
            flip = (draws[t] - thr[k]) >> np.uint64(63)  # 1 when draw < thr[k]
            spins[i] = s ^ (np.int8(flip) * np.int8(-2))  # +-1 -> -+1 when flip
        done += m
    return counter


@numba.njit(cache=True, nogil=True)
def _random_spins(spins, counter):
    for i in range(spins.size):
        counter += _GOLDEN
        spins[i] = np.int8(1) if (_mix(counter) >> np.uint64(63)) else np.int8(-1)
    return counter


@numba.njit(cache=True, parallel=True)
def _simulate_many(temps_thr, seeds, n, attempts, nbr, out):
    for j in numba.prange(seeds.size):
        spins = np.empty(n * n, dtype=np.int8)
        counter = _mix(seeds[j])
        counter = _random_spins(spins, counter)
        _sweep_kernel(spins, nbr, temps_thr[j], attempts, counter)
        for i in range(n * n):
            out[j, i // n, i % n] = np.uint8(255) if spins[i] > 0 else np.uint8(0)


def metropolis(spins: np.ndarray, T: float, attempts: int, seed: int) -> np.ndarray:
    """Run ``attempts`` Metropolis flip attempts on an (N, N) lattice of +-1, in place.

    The lattice may be any start (ordered, random, a previous state), so the kernel can
    be validated at equilibrium. Returns ``spins``.

    >>> s = np.ones((8, 8), np.int8)
    >>> bool(np.all(metropolis(s, 0.0, 10_000, seed=1) == 1))
    True
    """
    if spins.dtype != np.int8 or spins.ndim != 2 or spins.shape[0] != spins.shape[1]:
        raise ValueError("spins must be a square int8 array of +-1")
    flat = spins.reshape(-1)  # a view: updates land in ``spins``
    _sweep_kernel(
        flat,
        neighbour_table(spins.shape[0]),
        acceptance_thresholds(T),
        int(attempts),
        np.uint64(_mix(np.uint64(seed))),
    )
    return spins


def energy(spins: np.ndarray) -> float:
    """Total energy -sum_<ij> s_i s_j over nearest-neighbour bonds (periodic).

    >>> energy(np.ones((4, 4), np.int8))
    -32.0
    """
    s = spins.astype(np.int64)
    return float(-np.sum(s * np.roll(s, 1, axis=0)) - np.sum(s * np.roll(s, 1, axis=1)))


def simulate_images(
    temperatures: np.ndarray, seeds: np.ndarray, lattice_size: int, attempts: int
) -> np.ndarray:
    """One image per (temperature, seed): uint8, 0 for spin -1 and 255 for spin +1."""
    temperatures = np.asarray(temperatures, dtype=np.float64)
    seeds = np.asarray(seeds, dtype=np.uint64)
    if temperatures.shape != seeds.shape or temperatures.ndim != 1:
        raise ValueError("temperatures and seeds must be 1-D arrays of equal length")
    thr = np.stack([acceptance_thresholds(t) for t in temperatures]) if len(seeds) else None
    out = np.empty((len(seeds), lattice_size, lattice_size), dtype=np.uint8)
    if len(seeds):
        _simulate_many(thr, seeds, lattice_size, int(attempts), neighbour_table(lattice_size), out)
    return out


def image_labels_and_seeds(
    first_index: int, n_images: int, label_max: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Label and Monte Carlo seed of each image, a function of (seed, image index) only.

    So a dataset is the same whatever the shard size.

    >>> a = image_labels_and_seeds(0, 4, 255, seed=7)
    >>> b = image_labels_and_seeds(2, 2, 255, seed=7)
    >>> bool(np.all(a[0][2:] == b[0]) and np.all(a[1][2:] == b[1]))
    True
    """
    labels = np.empty(n_images, dtype=np.int64)
    seeds = np.empty(n_images, dtype=np.uint64)
    for j in range(n_images):
        state = np.random.SeedSequence([seed, first_index + j]).generate_state(2, np.uint64)
        labels[j] = int(state[0] % np.uint64(label_max + 1))
        seeds[j] = state[1]
    return labels, seeds


def simulate_shard(
    first_index: int,
    n_images: int,
    lattice_size: int = 64,
    attempts_per_image: int = 0,
    label_max: int = 255,
    seed: int = 0,
    threads: int | None = None,
    logger=None,
    chunk: int = 256,
) -> dict[str, np.ndarray]:
    """Simulate images ``first_index .. first_index + n_images - 1`` of a dataset.

    ``attempts_per_image = 0`` means N^3 attempts (the paper). Returns the arrays of a
    shard file: images, label, temperature, image_seed, index; plus ``attempts``.
    """
    from microprop.logs import Progress

    if n_images < 1:
        raise ValueError(f"n_images must be positive, got {n_images}")
    attempts = attempts_per_image or lattice_size**3
    if threads:
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    labels, seeds = image_labels_and_seeds(first_index, n_images, label_max, seed)
    temps = temperature(labels, label_max)
    images = np.empty((n_images, lattice_size, lattice_size), dtype=np.uint8)
    progress = Progress(n_images, "images", logger=logger)
    for lo in range(0, n_images, chunk):
        hi = min(lo + chunk, n_images)
        images[lo:hi] = simulate_images(temps[lo:hi], seeds[lo:hi], lattice_size, attempts)
        progress.update(hi - lo)
    return {
        "images": images,
        "label": labels,
        "temperature": temps,
        "image_seed": seeds,
        "index": np.arange(first_index, first_index + n_images, dtype=np.int64),
        "attempts": np.int64(attempts),
    }
