"""CNN training throughput (images/s) per architecture at 64x64, batch 32.

Trains :class:`microprop.models.cnn.CNNRegressor` (the workflow's own code path) for a
few short epochs on random uint8 images and reports training images per second from the
per-epoch timings it records (the first epoch is a warm-up and is not counted).

Paths measured side by side, interleaved round by round so that other load on a shared
machine hits both alike:

- ``new``: the project's settings (``amp=True``: bfloat16 autocast where the CPU or GPU
  supports it, except the ``--cpu-float32`` architectures on the CPU;
  ``channels_last=True``; fused Adam/SGD);
- ``old`` (with ``--old``): the path before these settings, float32, NCHW, unfused
  optimizer (``amp=False, channels_last=False, fused_optimizer=False``), which is what
  the CPU ran before.

``--check-bf16 DATA.h5`` instead trains ResNet18 twice on a subset of a dataset's
training split, in float32 and with bf16 autocast (same seed, same images, same
protocol), and compares the float32 MSE of both on other training images (never the
test split).

    .venv/bin/python benchmarks/cnn_train.py --old --archs resnet18
    .venv/bin/python benchmarks/cnn_train.py --device cuda
    .venv/bin/python benchmarks/cnn_train.py --check-bf16 results/data/ising.h5

Ends with one JSON line of the figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch

from microprop.models.cnn import ARCHITECTURES, CNNRegressor, cpu_supports_bf16

PATHS = {
    "new": {"amp": True, "channels_last": True, "fused_optimizer": True},
    "old": {"amp": False, "channels_last": False, "fused_optimizer": False},
}


def throughput(arch: str, path: str, n_images: int, epochs: int, args) -> list[float]:
    options = dict(PATHS[path])
    if path == "new" and arch in args.cpu_float32:
        options["cpu_amp"] = False
    """Training images/s of each epoch after the first (warm-up)."""
    rng = np.random.default_rng(0)
    mucha = arch == "mucha"
    shape = (n_images, 3, 64, 64) if mucha else (n_images, 64, 64)
    X = rng.integers(0, 256, shape, dtype=np.uint8)
    y = rng.uniform(0, 255, n_images)
    model = CNNRegressor(
        arch="resnet18" if mucha else arch.removesuffix("-sym"),
        symmetric=arch.endswith("-sym"),  # periodic padding, D4 + shift augmentation
        protocol="mucha" if mucha else "paper",
        max_epochs=epochs,
        min_steps=0,  # every epoch is measured, none stopped early
        plateau_patience=5,
        patience=20,
        batch_size=args.batch_size,
        val_fraction=0.1,
        bn_recalibrate=False,
        threads=args.threads,
        device=args.device,
        seed=0,
        **options,
    ).fit(X, y)
    return [model.n_fit_ / h["train_seconds"] for h in model.history_[1:]]


def check_bf16(args) -> dict:
    """ResNet18 in float32 and in bf16 autocast: the same validation loss?"""
    from microprop.io import load_dataset

    data = load_dataset(args.check_bf16)
    rng = np.random.default_rng(args.seed)
    train = rng.permutation(data.train_idx)
    fit, check = np.sort(train[: args.n_train]), np.sort(train[args.n_train :][: args.n_check])
    X, y = data.images, data.property
    out = {}
    for name, amp in (("float32", False), ("bf16", True)):
        t0 = time.perf_counter()
        model = CNNRegressor(
            arch="resnet18",
            max_epochs=args.epochs,
            min_steps=0,
            plateau_patience=2,
            patience=4,
            amp=amp,
            threads=args.threads,
            device=args.device,
            seed=args.seed,
        ).fit(X[fit], y[fit])
        seconds = time.perf_counter() - t0
        pred = model.predict(X[check])  # float32 inference for both
        y_std = float(np.std(y[fit]))
        mse = float(np.mean(((pred - y[check]) / y_std) ** 2))
        val = [round(h["val_loss"], 4) for h in model.history_]
        print(
            f"{name:8s} val loss per epoch {val}; best epoch {model.best_epoch_};"
            f" check MSE (standardized) {mse:.4f}, RMSE {np.sqrt(mse) * y_std:.3f}; {seconds:.0f} s"
        )
        out[name] = {
            "val_loss": val,
            "best_epoch": model.best_epoch_,
            "check_mse": mse,
            "check_rmse": float(np.sqrt(mse) * y_std),
            "seconds": seconds,
        }
    out["check_mse_ratio_bf16_over_float32"] = (
        out["bf16"]["check_mse"] / out["float32"]["check_mse"]
    )
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument(
        "--archs",
        nargs="+",
        default=[*ARCHITECTURES, "resnet18-sym", "mucha"],
        help="mucha: ResNet34, 3 ch; resnet18-sym: periodic, augmented",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--cpu-float32",
        nargs="*",
        default=["efficientnet_b0"],
        help="archs whose new path stays float32 on the CPU (the config's cpu_float32)",
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--images", type=int, default=0, help="images per epoch (0: by arch)")
    parser.add_argument("--epochs", type=int, default=3, help="first one is a warm-up")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved repeats")
    parser.add_argument("--old", action="store_true", help="also run the old float32 path")
    parser.add_argument("--check-bf16", metavar="DATA.h5", help="bf16 vs float32 accuracy")
    parser.add_argument("--n-train", type=int, default=1500)
    parser.add_argument("--n-check", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.check_bf16:  # random images: the did-not-learn warning is expected
        logging.getLogger("microprop").setLevel(logging.ERROR)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device here")
    env = {
        "torch": torch.__version__,
        "device": args.device,
        "cpu": platform.processor() or platform.machine(),
        "cpu_bf16": cpu_supports_bf16(),
        "threads": args.threads,
        "loadavg_before": os.getloadavg()[0],
    }
    if args.device.startswith("cuda"):
        env["gpu"] = torch.cuda.get_device_name()
    print(f"environment: {env}")
    if args.check_bf16:
        result = {"check_bf16": check_bf16(args)}
    else:
        default_images = {"resnet18": 320, "resnet18-sym": 320, "p4m": 320, "mucha": 192}
        default_images["efficientnet_b0"] = 256
        paths = ["new", "old"] if args.old else ["new"]
        rates: dict = {}
        for arch in args.archs:
            gpu = args.device.startswith("cuda")
            n = args.images or (4096 if gpu else default_images.get(arch, 128))
            for _ in range(args.rounds):
                for path in paths:
                    r = throughput(arch, path, n, args.epochs, args)
                    rates.setdefault(arch, {}).setdefault(path, []).extend(r)
                    print(f"{arch:16s} {path}: {', '.join(f'{v:.1f}' for v in r)} images/s")
        result = {"images_per_s": {}}
        for arch, by_path in rates.items():
            entry = {
                p: {"best": max(v), "median": statistics.median(v)} for p, v in by_path.items()
            }
            if "old" in entry:
                entry["speedup_best"] = entry["new"]["best"] / entry["old"]["best"]
                entry["speedup_median"] = entry["new"]["median"] / entry["old"]["median"]
                print(
                    f"{arch}: new/old {entry['speedup_best']:.2f}x (best),"
                    f" {entry['speedup_median']:.2f}x (median)"
                )
            result["images_per_s"][arch] = entry
    env["loadavg_after"] = os.getloadavg()[0]
    result["environment"] = env
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
