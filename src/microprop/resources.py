"""Cluster resources of the workflow's jobs: what a job asks SLURM for, per attempt.

A job that fails on a node (out of memory, out of time) is submitted again
(``retries`` in ``profiles/slurm``); each retry asks for twice the memory and time of the
attempt before. The runtimes of the long jobs follow the config, from throughputs
measured on a 2-core workstation (``benchmarks/``) with a safety factor for slower or
busier nodes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

# Measured: a paper-length CH run (12,000 steps, 128x128 cells) takes ~140 s on one quiet
# core (benchmarks/ch_run.py), i.e. ~7e-7 s per cell and step.
CH_SECONDS_PER_CELL_STEP = 7.5e-7
SAFETY = 3.0


def per_attempt(base: float | Callable) -> Callable:
    """A resource callable for a rule: ``base`` on attempt 1, doubled on every retry.

    ``base`` is a number or a function of the job's wildcards.

    >>> mem = per_attempt(2000)
    >>> [mem(None, attempt) for attempt in (1, 2, 3)]
    [2000, 4000, 8000]
    >>> per_attempt(lambda w: 10 + w)(5, 2)
    30
    """

    def resource(wildcards, attempt: int) -> int:
        value = base(wildcards) if callable(base) else base
        return int(math.ceil(value * 2 ** (max(attempt, 1) - 1)))

    return resource


def ch_run_minutes(n_cells: int, part1_steps: int, part2_steps: int) -> int:
    """Minutes to ask for one Cahn-Hilliard run on one core.

    >>> ch_run_minutes(128, 2000, 10000)  # 147 s measured-scale, x3, + 5
    13
    >>> ch_run_minutes(256, 2000, 10000) > 2 * ch_run_minutes(128, 2000, 10000)  # 4x cells
    True
    """
    seconds = CH_SECONDS_PER_CELL_STEP * n_cells**2 * (part1_steps + part2_steps)
    return 5 + math.ceil(SAFETY * seconds / 60)


# Training images per second on one busy CPU core (benchmarks/cnn_train.py, 64x64,
# batch 32, bf16 where used; measured at load ~10 on the 2-core workstation), and an
# assumption, not measured here (no GPU was available): 500 images/s on any GPU, a
# conservative floor for these small inputs.
CPU_IMAGES_PER_SECOND = {
    "resnet18": 30.0,
    "resnet34": 10.0,
    "resnet152": 5.0,
    "densenet121": 3.0,
    "efficientnet_b0": 10.0,
    "p4m": 30.0,  # p4m-cnn trains as fast as resnet18 (42-54 vs 52-56 images/s, 1 thread, load 3.3)
}
GPU_IMAGES_PER_SECOND = 500.0


def cnn_train_minutes(n_images: int, epochs: int, arch: str, device: str) -> int:
    """Minutes to ask for training ``arch`` for ``epochs`` epochs on ``n_images`` images.

    A rule that asks for a GPU runs on one unless ``device`` is "cpu".

    >>> cnn_train_minutes(9000, 10, "resnet18", "cpu")  # 3000 s, x3, + 5
    155
    >>> cnn_train_minutes(9000, 10, "resnet18", "auto")
    14
    """
    rate = CPU_IMAGES_PER_SECOND[arch] if device == "cpu" else GPU_IMAGES_PER_SECOND
    return training_minutes(n_images, epochs, rate)


def training_minutes(n_images: int, epochs: int, images_per_second: float) -> int:
    """Minutes to ask for ``epochs`` passes over ``n_images`` at a measured throughput.

    >>> training_minutes(9000, 10, 100.0)  # 900 s, x3, + 5
    50
    """
    seconds = n_images * epochs / images_per_second
    return 5 + math.ceil(SAFETY * seconds / 60)


# --- GPUs -------------------------------------------------------------------------------


@functools.cache
def cuda_present() -> bool:
    """Whether torch sees a CUDA device here (False where torch cannot be imported).

    The same test as the jobs' ``device: auto`` (``torch.cuda.is_available()``), asked once
    per process: Snakemake evaluates a rule's resources in its own process, so this is the
    machine that runs the local jobs.
    """
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def gpus_for(device: str, cuda: bool | None = None) -> int:
    """GPUs a job whose torch ``device`` setting is ``device`` asks the scheduler for.

    ``cpu``: none; ``cuda``/``cuda:N``: one; ``auto``: one where CUDA is present, none
    otherwise (``cuda`` defaults to :func:`cuda_present`). A job asking for none is not
    held back by the ``gpu`` limit of ``profiles/default``, so on a machine without a GPU
    the CNN jobs run side by side as their ``threads`` allow, like every other job. A
    cluster profile sets the resource itself (``profiles/slurm``: the login node that
    evaluates it need not have the nodes' GPUs).

    >>> gpus_for("cpu"), gpus_for("cuda:1"), gpus_for("auto", cuda=False)
    (0, 1, 0)
    """
    if device == "cpu":
        return 0
    if device.startswith("cuda"):
        return 1
    return int(cuda_present() if cuda is None else cuda)
