"""Does a CNN trained on a few CH runs read the energy, or recognize its training runs?
(docs/symmetry.md, CH; ``models.cnn.val_by_run``).

    .venv/bin/python benchmarks/cnn_run_memory.py [--model results/models/ch/resnet18/frac1.0/seed0]

The free energy of a periodic Cahn-Hilliard field does not change under a periodic shift
or a D4 transform of the image (cubic stiffness, [10] and [01] equivalent). A network that
has learned the energy therefore predicts the same for a training image and for its moved
copies; one that recognizes the images of its training runs does not. For every run of
the dataset, on the late images (part 2, every ``--every``-th step from ``--from-step``,
where the energy is nearly constant within a run), the script prints the mean label and
the mean prediction of the model for the images as they are, transposed, and shifted
periodically by ``--shift`` pixels, and which runs the model fitted, validated on and was
tested on.

It also tests one candidate cause of a bias on the test runs: the mean concentration,
which CH conserves within a run (``mean_c`` of the dataset), differs between runs; each
test run's images are moved by a constant grey level (not rounded) so that their mean c
is the mean over the training runs, and the bias of the predictions past step 9 is
printed before and after.

Predictions only (no training): 25 s for resnet18 on 2 threads, 4 min for resnet18-sym
(8 transforms per image). Ends with one JSON line.
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from microprop.io import load_dataset
from microprop.models.run import TrainedModel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="results/models/ch/resnet18/frac1.0/seed0")
    ap.add_argument("--data", default="results/data/ch.h5")
    ap.add_argument("--from-step", type=int, default=5000)
    ap.add_argument("--every", type=int, default=200)
    ap.add_argument("--shift", type=int, nargs=2, default=[17, 5])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    model = TrainedModel(args.model)
    if model.kind != "cnn":
        raise SystemExit(f"{args.model}: a {model.kind} model; this probe is for CNNs")
    data = load_dataset(args.data)
    run, step, mean_c = data.extra["run"], data.extra["step"], data.extra["mean_c"]
    y, test = data.property, data.is_test
    validation = set(model.metrics.get("validation_runs") or [])
    net = model.model  # the CNNRegressor: it also takes float images (0..255, not rounded)

    late = np.flatnonzero((step >= args.from_step) & (step % args.every == 0))
    images = data.images[late]
    moved = {
        "as is": images,
        "transposed": images.transpose(0, 2, 1),
        f"shifted {args.shift[0]},{args.shift[1]}": np.roll(images, args.shift, axis=(1, 2)),
    }
    preds = {name: net.predict(x) for name, x in moved.items()}
    rows = []
    print(f"{args.model}: late images (step >= {args.from_step}, every {args.every})")
    print("| run | role | images | label | " + " | ".join(moved) + " |")
    print("|---" * (4 + len(moved)) + "|")
    for r in np.unique(run):
        k = run[late] == r
        role = "test" if test[run == r][0] else "validation" if r in validation else "fitted"
        row = {"run": int(r), "role": role, "n": int(k.sum()), "label": float(y[late][k].mean())}
        row.update({name: float(p[k].mean()) for name, p in preds.items()})
        rows.append(row)
        cells = " | ".join(f"{row[name]:.0f}" for name in moved)
        print(f"| {r} | {role} | {row['n']} | {row['label']:.0f} | {cells} |")

    # the mean-concentration candidate: each test run moved to the training runs' mean c
    rows_test = np.flatnonzero(test & (step >= 10))
    target = float(np.mean([mean_c[run == r][0] for r in np.unique(run[~test])]))
    x = data.images[rows_test].astype(np.float32)
    for r in np.unique(run[rows_test]):
        k = run[rows_test] == r
        x[k] += 255.0 * (target - mean_c[rows_test][k][0])
    bias_before = float(np.mean(net.predict(data.images[rows_test]) - y[rows_test]))
    bias_after = float(np.mean(net.predict(x) - y[rows_test]))
    print(
        f"test runs past step 9: bias {bias_before:+.1f}; with their mean c moved to the"
        f" training runs' {target:.4f}: {bias_after:+.1f}"
    )
    result = {
        "model": str(Path(args.model)),
        "validation_runs": sorted(validation),
        "runs": rows,
        "test_bias_past_step_9": bias_before,
        "test_bias_mean_c_moved": bias_after,
        "training_mean_c": target,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
