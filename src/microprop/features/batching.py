"""Chunked, optionally threaded evaluation of per-image transforms.

numpy's ufuncs, scipy.fft and BLAS release the GIL, so threads over chunks of images
use several cores without copying the stack to other processes.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits


def map_chunks(
    fn: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    out: np.ndarray,
    chunk: int = 1024,
    n_jobs: int = 1,
) -> np.ndarray:
    """``out[i:i+chunk] = fn(X[i:i+chunk])`` for every chunk, on ``n_jobs`` threads.

    >>> map_chunks(lambda x: 2 * x, np.arange(5), np.empty(5, int), chunk=2, n_jobs=2).tolist()
    [0, 2, 4, 6, 8]
    """

    def run(lo: int) -> None:
        out[lo : lo + chunk] = fn(X[lo : lo + chunk])

    starts = range(0, len(X), chunk)
    # one BLAS thread always: the chunk threads are the parallelism, and the results do
    # not depend on the number of threads (a threaded BLAS sums in another order)
    with threadpool_limits(1, user_api="blas"):
        if n_jobs <= 1 or len(X) <= chunk:
            for lo in starts:
                run(lo)
        else:
            with ThreadPoolExecutor(n_jobs) as pool:
                list(pool.map(run, starts))
    return out
