"""Errors per temperature third of every Ising model, beside the information floor of one
snapshot at this protocol.

    PYTHONPATH=src .venv/bin/python benchmarks/ising_floor.py [--results results]
        [--models grad-pcr resnet18] [--physfeat-rows 20000]

For each model of the run (every ``<results>/models/ising/<model>/frac1.0/seed0`` with a
``predictions.csv``, or those named by ``--models``): the test RMSE over all test images
and per third of the label range (:func:`microprop.metrics.rmse_by_third`, weighted by
the ``weight`` column when the test split was subsampled). The thirds are those of the
label edges ``np.linspace(0, 255, 4)`` (0-85 low, 85-170 mid around Tc at 127.5, 170-255
high), which are the test-label edges of the conformal tables when the test labels span
0..255 (the script prints both).

Beside them, estimates of the floor, i.e. the lowest RMSE any model could reach per third
(:mod:`microprop.floor`), all from the *training* rows only (nothing is fitted or chosen
on a test row):

``delta (E, |m|)``
    The Delta test on the standardized energy per spin and |magnetization|
    (:func:`microprop.floor.ising_observables`): the floor of a model that sees only
    these two numbers. At equilibrium E is sufficient for T, so this would be the floor
    of the image; the snapshots are 64 sweeps from a random start, out of equilibrium
    below and near Tc, where an image model may go below it.
``delta (E)``
    The same on the energy alone: what |m| adds.
``delta (physfeat2)``
    The Delta test on the standardized physfeat2 features
    (``<results>/features/ising/physfeat2.h5``, when present; a random subsample of
    ``--physfeat-rows`` training rows when that is positive, which raises the estimate
    slightly: neighbours are farther apart). In tens of dimensions the neighbours are far
    apart and every standardized feature weighs as much in the distance as the most
    informative one, so weakly relevant features inflate it (the upward bias of
    :func:`microprop.floor.delta_test`): a high value here says little about the floor.
``gamma (E, |m|)``, ``gamma (physfeat2)``
    The Gamma test on the same standardized inputs (:func:`microprop.floor.gamma_test`
    over the ``--gamma-neighbours`` nearest neighbours, per third on that third's rows):
    the Delta test with its distance bias extrapolated away, sqrt(max(intercept, 0)).
    No standard error is given: its uncertainty is mostly that of the extrapolation.
``k-NN (E, |m|)``
    Out-of-fold k-nearest-neighbour regression on (E, |m|) (nested CV choice of k,
    :func:`microprop.floor.knn_reference`): a model on those two numbers reaches it, so the
    floor given them is at or below it, up to sampling noise.

Prints a markdown table (models, then the floor rows; RMSE over everything and per third,
the counts per third: test images for models, training images for floors), the ratio of
each model's RMSE to the lowest Delta or Gamma estimate of its third (below 1: that
model beats every estimate there, which are then upper estimates of the floor of the
image), and ends with one JSON line
holding every figure and the seconds each step took. Each RMSE has its standard error
(``±``, delta method on the mean square, :func:`standard_errors`): the models' from their
~1/3 of the test images per third, the floors' from their training rows; for the Delta
test it treats the halves as independent, while mutual nearest neighbours share theirs,
so it may be up to ~1.4x too small.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

EDGES = np.linspace(0.0, 255.0, 4)


def model_dirs(results: Path, names) -> dict[str, Path]:
    base = results / "models" / "ising"
    if names:
        dirs = {name: base / name / "frac1.0" / "seed0" for name in names}
        missing = [str(d) for d in dirs.values() if not (d / "predictions.csv").is_file()]
        if missing:
            raise SystemExit(f"no predictions.csv in {', '.join(missing)}")
        return dirs
    found = sorted(base.glob("*/frac1.0/seed0/predictions.csv"))
    return {p.parents[2].name: p.parent for p in found}


def per_third(values: dict) -> dict:
    return {name: v["rmse"] for name, v in values.items()}


def standard_errors(squares, parts: dict, weights=None) -> dict:
    """Standard error of the RMSE sqrt(mean of ``squares``) over each of ``parts`` (masks):
    the weighted mean's standard error sqrt(sum w^2 (q - mean)^2) / sum w, divided by
    2 RMSE (delta method). It treats the squares as independent."""
    q = np.asarray(squares, dtype=float)
    w = np.ones_like(q) if weights is None else np.asarray(weights, dtype=float)
    out = {}
    for name, rows in parts.items():
        if not rows.any():
            out[name] = None
            continue
        mean = np.average(q[rows], weights=w[rows])
        se = np.sqrt(np.sum(w[rows] ** 2 * (q[rows] - mean) ** 2)) / w[rows].sum()
        out[name] = float(se / (2 * np.sqrt(mean))) if mean > 0 else 0.0
    return out


def fmt(value, se=None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if se is None else f"{value:.2f} ± {se:.2f}"


def cell(name: str) -> str:
    return name.replace("|", "\\|")  # |m| in a markdown table cell


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", type=Path, default=Path("results"))
    ap.add_argument("--models", nargs="*", help="model names (default: every one with results)")
    ap.add_argument("--physfeat-rows", type=int, default=0, help="physfeat2 training rows (0: all)")
    ap.add_argument("--folds", type=int, default=5, help="k-NN reference: outer and inner folds")
    ap.add_argument("--gamma-neighbours", type=int, default=10, help="Gamma test: neighbours")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from sklearn.preprocessing import StandardScaler

    from microprop.floor import (
        delta_test,
        floor_rmse,
        gamma_test,
        ising_observables,
        knn_reference,
        neighbour_differences,
    )
    from microprop.io import load_dataset, load_features
    from microprop.metrics import regression_metrics, rmse_by_third
    from microprop.uncertainty import THIRDS, third_index

    seconds = {}
    start = time.perf_counter()
    ds = load_dataset(args.results / "data" / "ising.h5")
    seconds["load"] = time.perf_counter() - start
    y, train, test = ds.property.astype(float), ds.train_idx, ds.test_idx
    test_edges = np.linspace(y[test].min(), y[test].max(), 4)
    print(
        f"{len(ds)} images, {len(train)} training, {len(test)} test; thirds of "
        f"{EDGES.tolist()} (the test labels' edges: {test_edges.tolist()})",
        flush=True,
    )

    t = time.perf_counter()
    e, m = ising_observables(ds.images)
    seconds["observables"] = time.perf_counter() - t
    ds.images = None  # 200 MB at paper scale; the rest needs only the observables
    y_train = y[train]

    def parts(labels) -> dict:
        """Masks of all rows and of each third of ``labels``."""
        part = third_index(labels, EDGES)
        return {"all": np.ones(len(labels), bool)} | {n: part == k for k, n in enumerate(THIRDS)}

    def floor_row(halves: np.ndarray, labels) -> dict:
        """The Delta test's RMSE floor over all and per third of these training rows."""
        masks = parts(labels)
        row = {name: floor_rmse(halves, rows) for name, rows in masks.items()}
        row["se"] = standard_errors(halves, masks)
        row["n"] = {name: int(masks[name].sum()) for name in THIRDS}
        return row

    def gamma_row(x: np.ndarray, labels) -> dict:
        """The Gamma test's RMSE floor over all and per third of these training rows."""
        masks = parts(labels)
        d2, half = neighbour_differences(x, labels, args.gamma_neighbours)
        fits = {name: gamma_test(d2, half, rows) for name, rows in masks.items()}
        row = {
            name: None if f is None else float(np.sqrt(max(f[0], 0.0))) for name, f in fits.items()
        }
        row["se"] = dict.fromkeys(masks)
        row["n"] = {name: int(masks[name].sum()) for name in THIRDS}
        row["intercept_slope"] = fits
        return row

    def add_floor(name: str, make) -> None:
        t = time.perf_counter()
        floors[name] = make()
        seconds[name] = time.perf_counter() - t
        print(f"{name}: {floors[name]} ({seconds[name]:.1f} s)", flush=True)

    floors = {}
    observables = np.column_stack([e, m])[train]
    x_obs = StandardScaler().fit_transform(observables)
    add_floor("delta (E, |m|)", lambda: floor_row(delta_test(x_obs, y_train), y_train))
    add_floor("delta (E)", lambda: floor_row(delta_test(x_obs[:, :1], y_train), y_train))
    add_floor("gamma (E, |m|)", lambda: gamma_row(x_obs, y_train))

    physfeat2 = args.results / "features" / "ising" / "physfeat2.h5"
    if physfeat2.is_file():
        fs = load_features(physfeat2)
        if not (np.array_equal(fs.property, ds.property) and np.array_equal(fs.split, ds.split)):
            raise SystemExit(f"{physfeat2}: rows do not match {args.results}/data/ising.h5")
        rows = np.arange(len(train))
        if 0 < args.physfeat_rows < len(train):
            rng = np.random.default_rng(args.seed)
            rows = np.sort(rng.choice(len(train), args.physfeat_rows, replace=False))
        x = StandardScaler().fit_transform(fs.images[train[rows]].reshape(len(rows), -1))
        about = f"physfeat2, {x.shape[1]} features" + (
            f", {len(rows)} rows" if len(rows) < len(train) else ""
        )
        labels = y_train[rows]
        add_floor(f"delta ({about})", lambda: floor_row(delta_test(x, labels), labels))
        add_floor(f"gamma ({about})", lambda: gamma_row(x, labels))
    else:
        print(f"{physfeat2} not found: no physfeat2 floor", flush=True)

    t = time.perf_counter()
    pred, ks = knn_reference(observables, y_train, folds=args.folds, seed=args.seed)
    name = "k-NN (E, |m|)"
    thirds = rmse_by_third(y_train, pred, EDGES)
    floors[name] = {"all": regression_metrics(y_train, pred)["rmse"], **per_third(thirds)}
    floors[name]["se"] = standard_errors((pred - y_train) ** 2, parts(y_train))
    floors[name] |= {"n": {k: v["n_test"] for k, v in thirds.items()}, "k": ks}
    seconds[name] = time.perf_counter() - t
    print(f"{name}: {floors[name]} ({seconds[name]:.1f} s)", flush=True)

    models = {}
    for model, d in model_dirs(args.results, args.models).items():
        table = pd.read_csv(d / "predictions.csv")
        w = table["weight"].to_numpy() if "weight" in table else None
        true, predicted = table["true"].to_numpy(), table["predicted"].to_numpy()
        rows = table["index"].to_numpy() if "index" in table else test
        if not (np.isin(rows, test).all() and np.array_equal(true, y[rows])):
            raise SystemExit(f"{d}: predictions.csv is not of this dataset's test rows")
        thirds = rmse_by_third(true, predicted, EDGES, weights=w)
        models[model] = {"all": regression_metrics(true, predicted, weights=w)["rmse"]}
        models[model] |= per_third(thirds) | {"n": {k: v["n_test"] for k, v in thirds.items()}}
        models[model]["se"] = standard_errors((predicted - true) ** 2, parts(true), w)

    print("\n| | all | low | mid | high | n low / mid / high |")
    print("|---|---|---|---|---|---|")
    for name, row in [*models.items(), *floors.items()]:
        cells = " | ".join(fmt(row[k], row["se"][k]) for k in ("all", *THIRDS))
        counts = " / ".join(str(row["n"][k]) for k in THIRDS)
        print(f"| {cell(name)} | {cells} | {counts} |")
    estimates = [row for name, row in floors.items() if name.startswith(("delta", "gamma"))]
    lowest = {k: min(r[k] for r in estimates if r[k] is not None) for k in ("all", *THIRDS)}
    if models:
        print("\nRMSE / lowest Delta or Gamma estimate of the third:\n")
        print("| | all | low | mid | high |\n|---|---|---|---|---|")
        for name, row in models.items():
            ratios = [
                row[k] / lowest[k] if row[k] is not None and lowest[k] else None for k in lowest
            ]
            print(f"| {cell(name)} | " + " | ".join(fmt(r) for r in ratios) + " |")
    seconds["total"] = time.perf_counter() - start
    print(f"\n{seconds['total']:.1f} s in all", flush=True)
    out = {
        "results": str(args.results),
        "edges": EDGES.tolist(),
        "test_label_edges": test_edges.tolist(),
        "n_train": len(train),
        "n_test": len(test),
        "models": models,
        "floors": floors,
        "lowest_estimate": lowest,
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
