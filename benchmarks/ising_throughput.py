"""Ising Monte Carlo throughput: flip attempts/s and images/s on all cores.

    .venv/bin/python benchmarks/ising_throughput.py [--images 2000] [--threads N]

Images are 64x64 with N^3 = 262,144 attempts each (the paper's protocol), at labels
drawn uniformly over 0..255. The first call compiles (numba, cached) and is not timed.
"""

import argparse
import json
import os
import time

import numba

from microprop.ising import simulate_shard


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    simulate_shard(0, 8, threads=args.threads)  # compile / load the cache
    best = float("inf")
    for r in range(args.repeats):
        t0 = time.perf_counter()
        shard = simulate_shard(r * args.images, args.images, threads=args.threads)
        best = min(best, time.perf_counter() - t0)
    attempts = int(shard["attempts"]) * args.images
    figures = {
        "attempts_per_s": attempts / best,
        "images_per_s": args.images / best,
        "seconds_per_50k_images": 50_000 * best / args.images,
        "threads": numba.get_num_threads(),
        "lattice": 64,
    }
    print(f"{args.images} images x {int(shard['attempts'])} attempts, best of {args.repeats}:")
    print(
        f"  {figures['attempts_per_s']:.3g} flip attempts/s, {figures['images_per_s']:.0f} images/s"
    )
    print(f"  the paper's 50,000 images: {figures['seconds_per_50k_images']:.1f} s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
