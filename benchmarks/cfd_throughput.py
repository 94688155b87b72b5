"""Kolmogorov-flow throughput: simulated snapshots (images) per second, one core.

    .venv/bin/python benchmarks/cfd_throughput.py [--images 20] [--resolution 64] [--device cpu]

Each image is one full simulation as in the dataset (microprop.cfd: random initial
field, spin-up of cfd.spinup_time with the default config's dt, Re spread over 1..800).
XLA runs single-threaded on the CPU, as the simulate_cfd jobs do. ``--device cuda`` runs
on the GPU when jax has a CUDA backend (the lock pins the CPU jaxlib: then it says so).
The first image compiles and is not timed.
"""

import argparse
import json
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = ap.parse_args()
    # before jax is imported: XLA on one core
    if args.device == "cpu":
        os.environ["JAX_PLATFORMS"] = "cpu"
    os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

    import dataclasses

    import jax

    from microprop.cfd import CFDParams, Simulator, image_reynolds_and_seeds

    try:
        device = jax.devices(args.device)[0]
    except RuntimeError as err:  # no CUDA backend in this jaxlib
        print(f"no {args.device} device for jax: {err}")
        print(json.dumps({"device": args.device, "available": False}))
        return
    jax.config.update("jax_default_device", device)
    p = dataclasses.replace(CFDParams(), resolution=args.resolution)
    re, seeds = image_reynolds_and_seeds(0, args.images + 1, p.re_range, seed=0)
    sim = Simulator(p)
    t0 = time.perf_counter()
    sim.vorticity(re[0], int(seeds[0]))
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for r, s in zip(re[1:], seeds[1:], strict=True):
        sim.vorticity(r, int(s))
    elapsed = time.perf_counter() - t0
    figures = {
        "device": str(device),
        "resolution": p.resolution,
        "time_step": p.time_step,
        "steps_per_image": p.spinup_steps,
        "images_per_s": args.images / elapsed,
        "steps_per_s": args.images * p.spinup_steps / elapsed,
        "seconds_per_1000_images": 1000 * elapsed / args.images,
        "hours_per_50000_images": 50_000 * elapsed / args.images / 3600,
        "compile_s": compile_s,
        "load_average_1min": os.getloadavg()[0],
    }
    print(
        f"{args.images} images at {p.resolution}^2, {p.spinup_steps} steps each on {device}: "
        f"{figures['images_per_s']:.3f} images/s ({figures['steps_per_s']:.0f} steps/s), "
        f"compile {compile_s:.1f} s, load average {figures['load_average_1min']:.2f}"
    )
    print(
        f"  1000 images (default config): {figures['seconds_per_1000_images'] / 60:.1f} min; "
        f"50,000 (paper.yaml): {figures['hours_per_50000_images']:.1f} h"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
