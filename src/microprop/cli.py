"""Command line interface: ``microprop predict``.

    microprop predict --model results/models/ising/physfeat2-svr/frac1.0/seed0 \\
        --images results/data/ising.h5 [--out predictions.csv] [--split test]

The output has ``predicted`` and, for a model directory with ``conformal.npz``, the
bounds ``lower`` and ``upper`` of its conformal prediction interval (nominal level and
score as trained, see :mod:`microprop.uncertainty`).
``--images`` is an HDF5 dataset (its ``images`` array), a .npy stack (N, 64, 64) or a
folder of 8-bit grayscale PNGs. The model's features are recomputed from the images.
Images of another shape, dtype or range are refused with a message naming what was
expected: (N, 64, 64) uint8 0..255. An HDF5 dataset of another dataset than the model's
(its ``dataset`` attribute against the model's metrics.json, e.g. CH images given to an
Ising model, which would predict temperatures for them) is refused unless
``--allow-other-dataset`` is given. .npy stacks and PNG folders carry no dataset name:
they are taken as the model's.
"""

from __future__ import annotations

import argparse
import sys


def _predict(args) -> int:
    import numpy as np
    import pandas as pd

    from microprop.io import atomic_path
    from microprop.models.run import TrainedModel, check_same_dataset, read_images

    if args.out:
        check_output_path(args.out)
    model = TrainedModel(args.model)
    images, extra = read_images(args.images)
    mismatch = check_same_dataset(model, extra, args.images, allow=args.allow_other_dataset)
    if mismatch:
        print(f"microprop predict: warning: {mismatch}", file=sys.stderr)
    rows = np.arange(len(images))
    if args.split != "all":
        if "split" not in extra:
            raise ValueError(f"--split {args.split} needs an HDF5 dataset with a 'split' array")
        rows = np.flatnonzero(np.asarray(extra["split"]) == args.split)
    table = pd.DataFrame({"index": rows})
    for name in ("file", "true"):
        if name in extra:
            table[name] = np.asarray(extra[name])[rows]
    if model.conformal is None:
        table["predicted"] = model.predict(images[rows])
        what = "predictions (no intervals: the model directory has no conformal.npz)"
    else:
        table["predicted"], table["lower"], table["upper"] = model.predict_intervals(images[rows])
        c = model.conformal
        what = f"predictions with {c.level:.0%} {c.score} conformal intervals ({c.primary})"
    print(f"{len(table)} {what} of {model.model_id}", file=sys.stderr)
    if args.out:
        with atomic_path(args.out) as tmp:  # never a half-written CSV under the name
            table.to_csv(tmp, index=False)
        print(f"-> {args.out}", file=sys.stderr)
    else:
        table.to_csv(sys.stdout, index=False)
    return 0


def check_output_path(out) -> None:
    """Refuse an --out path whose folder does not exist or that is a folder, before any
    work (predicting can take minutes).

    >>> check_output_path("/nonexistent-folder/p.csv")
    Traceback (most recent call last):
    ValueError: --out /nonexistent-folder/p.csv: the folder /nonexistent-folder does not exist
    """
    from pathlib import Path

    path = Path(out)
    if path.is_dir():
        raise ValueError(f"--out {out}: is a folder, not a file name such as predictions.csv")
    if not path.parent.is_dir():
        raise ValueError(f"--out {out}: the folder {path.parent} does not exist")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="microprop", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="predict the property of 64x64 images with a model")
    p.add_argument("--model", required=True, help="a trained model directory (metrics.json)")
    p.add_argument("--images", required=True, help="HDF5 dataset, .npy stack or PNG folder")
    p.add_argument("--out", help="CSV file to write (default: stdout)")
    p.add_argument(
        "--split", choices=("all", "train", "test"), default="all", help="rows of a dataset"
    )
    p.add_argument(
        "--allow-other-dataset",
        action="store_true",
        help="predict even when --images is a dataset other than the model's (refused "
        "otherwise: the model predicts another property)",
    )
    args = parser.parse_args(argv)
    try:
        return _predict(args)
    except (ValueError, OSError) as err:  # a user's input: one line, no traceback
        print(f"microprop predict: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
