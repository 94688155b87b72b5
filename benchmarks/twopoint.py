"""Feature time of twopoint (two-point autocorrelations) for 50,000 images, issue 45.

    .venv/bin/python benchmarks/twopoint.py [--data results/data/ising.h5] [--images 50000]
        [--cutoff 16] [--field spin] [--components 20] [--jobs 1 2] [--repeats 3]

Times :class:`microprop.features.TwoPointStats` (uint8 images -> local state -> periodic
autocorrelation by scipy.fft in batches of 128 -> lags up to ``--cutoff``) on
``--images`` images of ``--data`` (tiled up to that count; without a file, random
binary images of the same size, which cost the same: the FFT does not look at the
values), once per thread count in ``--jobs``, best of ``--repeats``; then the PCA that
twopoint-svr fits inside the model (``--components`` on the first 49,000 rows, the
paper-scale training split, and the projection of all rows), for a like-for-like figure
with a pipeline whose feature time includes its PCA. The issue's reference is PyMKS
0.4.1's 57 s for the two-point statistics of 50,000 images on this machine (issue 45;
PyMKS itself is not installed here). Shared machines: the figures are noisy; the CPU
seconds beside them less so. Ends with one JSON line.
"""

import argparse
import json
import os

import numpy as np
from features import best_time  # benchmarks/features.py, beside this script

from microprop.features import TwoPointStats

PYMKS_SECONDS = 57.0  # issue 45: PyMKS 0.4.1, 2-point statistics of 50,000 images


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="results/data/ising.h5")
    ap.add_argument("--images", type=int, default=50_000)
    ap.add_argument("--cutoff", type=int, default=16)
    ap.add_argument("--field", default="spin")
    ap.add_argument("--components", type=int, default=20)
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    if os.path.exists(args.data):
        from microprop.io import load_dataset

        src = load_dataset(args.data).images
        images, source = np.resize(src, (args.images, *src.shape[1:])), args.data
    else:
        rng = np.random.default_rng(0)
        images = rng.choice(np.array([0, 255], np.uint8), (args.images, 64, 64))
        source = "random binary images"
    n = len(images)
    print(f"{n} images {images.shape[1]}x{images.shape[2]} ({source}), {os.cpu_count()} cores")
    print(f"twopoint: cutoff {args.cutoff}, field {args.field}; PyMKS reference {PYMKS_SECONDS} s")
    figures = {
        "images": n,
        "source": source,
        "cores": os.cpu_count(),
        "cutoff": args.cutoff,
        "field": args.field,
        "pymks_seconds_issue45": PYMKS_SECONDS,
    }
    features = None
    for jobs in args.jobs:
        est = TwoPointStats(cutoff=args.cutoff, field=args.field, n_jobs=jobs)
        est.fit_transform(images[:64])  # warm up (FFT plans)
        out = {}

        def run(est=est, out=out):
            out["f"] = est.fit_transform(images)

        s, cpu = best_time(run, args.repeats)
        features = out["f"]
        figures[f"seconds_jobs{jobs}"] = round(s, 3)
        figures[f"cpu_seconds_jobs{jobs}"] = round(cpu, 3)
        figures[f"speedup_vs_pymks_jobs{jobs}"] = round(PYMKS_SECONDS / s, 1)
        print(
            f"  {jobs} thread(s): {s:6.2f} s ({n / s:7.0f} images/s, cpu {cpu:6.2f} s), "
            f"{PYMKS_SECONDS / s:5.1f}x faster than PyMKS's {PYMKS_SECONDS} s"
        )
    from sklearn.decomposition import PCA

    X = features.reshape(n, -1).astype(np.float64)
    n_fit = min(49_000, n)

    def pca():
        PCA(n_components=args.components, svd_solver="full").fit(X[:n_fit]).transform(X)

    s_pca, _ = best_time(pca, 1)
    figures["pca_seconds"] = round(s_pca, 3)
    fastest = min(figures[f"seconds_jobs{j}"] for j in args.jobs)
    figures["with_pca_seconds"] = round(fastest + s_pca, 3)
    figures["speedup_vs_pymks_with_pca"] = round(PYMKS_SECONDS / (fastest + s_pca), 1)
    print(
        f"  PCA ({args.components} components, fit on {n_fit} x {X.shape[1]}, svd 'full' as "
        f"the model's): {s_pca:.2f} s; with the fastest features {fastest + s_pca:.2f} s, "
        f"{PYMKS_SECONDS / (fastest + s_pca):.1f}x faster than PyMKS"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
