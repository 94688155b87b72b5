"""Feature-extraction throughput (images/s) of every feature set, paper section 3.1.

    .venv/bin/python benchmarks/features.py [--images 50000] [--cnn-images 256]
        [--data results/data/ising.h5] [--repeats 2] [--jobs 2] [--device auto]

Images: Ising-like 64x64 uint8 stacks (thresholded smoothed noise, a mix of coarse and
fine domains), or the images of a dataset file (``--data``, tiled up to ``--images``).
grad, physfeat1 and physfeat2 run on ``--images`` (50,000: the paper's Ising dataset;
goal: physfeat2 in <= 10 s on 2 cores); mucha on a fifth of them; the ResNet18 embedding
of cnnpca (random weights: no weights file needed, same cost as ImageNet's) on
``--cnn-images`` on the CPU, and on the GPU too when one is present; the PCA of cnnpca on
50,000 x 512 embeddings. Each figure is the best of ``--repeats`` runs.
"""

import argparse
import json
import os
import time

import numpy as np
import torch

from microprop.features import (
    GradientNorm,
    MultiChannel,
    PSDLineFit,
    PSDStack,
    ResNetEmbedding,
    fit_pca,
)
from microprop.io import TEST, TRAIN, load_dataset


def synthetic_images(n: int, seed: int = 0) -> np.ndarray:
    """Binary 64x64 images with domains of assorted sizes, like Ising snapshots."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((64, 64, 64))
    k = np.sqrt(np.fft.fftfreq(64)[:, None] ** 2 + np.fft.fftfreq(64)[None, :] ** 2)
    widths = np.linspace(0.02, 0.5, 64)[:, None, None]
    smooth = np.fft.ifft2(np.fft.fft2(base) * np.exp(-((k / widths) ** 2))).real
    tiles = np.where(smooth > 0, 255, 0).astype(np.uint8)
    idx = rng.integers(0, len(tiles), n)
    shifts = rng.integers(0, 64, (n, 2))
    out = tiles[idx]
    for i in range(0, n, 997):  # vary the stack cheaply: periodic shifts
        out[i : i + 997] = np.roll(out[i : i + 997], tuple(shifts[i]), axis=(1, 2))
    return out


def best_time(fn, repeats: int) -> tuple[float, float]:
    """Best wall-clock seconds of ``repeats`` runs and the CPU seconds of that run."""
    best, cpu = float("inf"), float("inf")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = time.perf_counter() - t0
        if wall < best:
            best, cpu = wall, time.process_time() - c0
    return best, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=50_000)
    ap.add_argument("--cnn-images", type=int, default=256)
    ap.add_argument("--data", default=None, help="take the images of this dataset file")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=os.cpu_count(), help="threads (n_jobs)")
    ap.add_argument("--device", default="auto", help="GPU run of the embedding: auto/cuda")
    args = ap.parse_args()

    if args.data:
        src = load_dataset(args.data).images
        images = np.resize(src, (args.images, *src.shape[1:]))
        source = args.data
    else:
        images = synthetic_images(args.images)
        source = "synthetic"
    n = len(images)
    threads = torch.get_num_threads()
    print(f"{n} images 64x64 ({source}), {os.cpu_count()} cores, torch threads {threads}")
    print("(shared machines: figures are noisy, compare runs on the same machine)")

    figures = {"images": n, "source": source, "cores": os.cpu_count()}
    figures["jobs"] = args.jobs
    cases = [
        ("grad", GradientNorm(n_jobs=args.jobs), n),
        ("physfeat1", PSDLineFit(n_jobs=args.jobs), n),
        ("physfeat2", PSDStack(n_jobs=args.jobs), n),
        ("mucha", MultiChannel(n_jobs=args.jobs), max(n // 5, 1)),
    ]
    print(f"  {args.jobs} threads; 'cpu' = CPU seconds of all threads (less noisy when shared)")
    for name, est, m in cases:
        x = images[:m]
        est.fit_transform(x[:64])  # warm up (FFT plans, caches)
        s, cpu = best_time(lambda est=est, x=x: est.fit_transform(x), args.repeats)
        figures[f"{name}_images_per_s"] = m / s
        figures[f"{name}_seconds_per_50k"] = 50_000 * s / m
        figures[f"{name}_cpu_seconds_per_50k"] = 50_000 * cpu / m
        print(
            f"  {name:10s} {m / s:10.0f} images/s  {50_000 * s / m:7.2f} s per 50,000"
            f"  (cpu {50_000 * cpu / m:6.2f} s)"
        )

    devices = ["cpu"]
    if args.device != "cpu" and torch.cuda.is_available():
        devices.append("cuda" if args.device == "auto" else args.device)
    for dev in devices:
        m = args.cnn_images if dev == "cpu" else max(args.cnn_images, 4096)
        emb = ResNetEmbedding("random", device=dev, batch_size=256).fit()
        emb.transform(images[:32])  # warm up (cuDNN autotuning, allocator)
        x = images[:m]
        s, _ = best_time(lambda emb=emb, x=x: emb.transform(x), args.repeats)
        key = "cnn_embedding_" + ("cpu" if dev == "cpu" else "gpu")
        figures[f"{key}_images_per_s"] = m / s
        if dev != "cpu":
            figures["gpu"] = torch.cuda.get_device_name()
        print(f"  {key:22s} {m / s:8.0f} images/s ({m} images, {dev})")

    rng = np.random.default_rng(0)
    embedding = rng.standard_normal((50_000, 512)).astype(np.float32)
    split = np.where(np.arange(50_000) < 49_000, TRAIN, TEST)
    s, _ = best_time(lambda: fit_pca(embedding, split, 150).transform(embedding), args.repeats)
    figures["cnnpca_pca_seconds_per_50k"] = s
    print(f"  cnnpca PCA (150 components, 50,000 x 512): {s:.2f} s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
