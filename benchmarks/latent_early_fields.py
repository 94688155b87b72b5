"""CH, few labels: why the autoencoder's code alone only ties resnet18 at 1%, and what the
encoder's stage means add (docs/latent.md, issue 19).

    .venv/bin/python benchmarks/latent_early_fields.py [--fractions 0.001 0.01] [--seeds 0 1 2]

Reads the default run's CH data and features (``results/data/ch.h5``,
``results/features/ch/latent.h5``) and, where they exist, the test predictions of the
models in ``--models`` at those fractions and seeds. Nothing is fitted on test images.

1. **Interpolation floor:** the RMSE on the scored test images (the stratified subset every
   model is scored on, ``studies.max_test``) of a regressor that is exact up to the largest
   label of its training subset and predicts that label above it. No model that only
   interpolates its labels does better.
2. **Geometry of each feature set:** the training images grouped by step (1-9, 10-99, 100 to the
   end of part 1, part 2), in the features standardized as the SVR standardizes them (the
   mean and s.d. of each labelled subset): the distances between the groups' centroids,
   the spread inside each group (root mean square distance to its centroid), and the
   largest |correlation| of one feature with the label inside steps 10-99.
3. **Feature sets, the same SVR:** the pooled code alone (the first ``latent_size``
   columns of the feature set ``latent``), two pixel statistics of each image (log mean of
   c^2 (1 - c)^2 and of the squared periodic forward differences: how mixed and how rough
   the field is, the shape of the CH bulk and gradient energies, no label involved), the
   code with them, and the whole feature set ``latent`` (the code and the encoder's stage
   means, ``features.latent.stage_means``), each by the run-grouped grid CV of
   ``train_svr`` (config ``models.svr``) on the same subsets; the ``latent`` row must
   reproduce latent-svr's ``metrics.json``. Test RMSE overall and per step group.
4. ``--variants 8,16,32:64 8,16:256``: autoencoders with other encoder channels and latent
   sizes (a finer code grid: 8 x 8 and 16 x 16 cells instead of 4 x 4), trained and pooled
   as the rule ``autoencoder`` does (config ``features.latent``, the same training images
   and seed), scored as in 3 (the code alone, and with the stage means).

One core, about 15 seconds, plus about 3 minutes per variant. Ends with one JSON line.
"""

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

GROUPS = ("steps 1-9", "steps 10-99", "rest of part 1", "part 2")


def step_groups(steps: np.ndarray, part1_steps: int) -> np.ndarray:
    """0..3: the index in GROUPS of every row."""
    return np.select([steps < 10, steps < 100, steps <= part1_steps], [0, 1, 2], 3)


def pixel_statistics(images: np.ndarray) -> np.ndarray:
    """(N, 2): log mean c^2 (1 - c)^2 and log mean squared forward difference, c in [0, 1]."""
    out = np.empty((len(images), 2))
    for lo in range(0, len(images), 1000):
        c = images[lo : lo + 1000].astype(np.float64) / 255.0
        dx, dy = np.roll(c, -1, axis=1) - c, np.roll(c, -1, axis=2) - c
        out[lo : lo + 1000, 0] = np.log((c**2 * (1 - c) ** 2).mean(axis=(1, 2)) + 1e-12)
        out[lo : lo + 1000, 1] = np.log((dx**2 + dy**2).mean(axis=(1, 2)) + 1e-12)
    return out


def weighted_rmse(err: np.ndarray, weights: np.ndarray) -> float:
    return float(np.sqrt(np.average(err**2, weights=weights))) if len(err) else float("nan")


def geometry(X: np.ndarray, y: np.ndarray, group: np.ndarray, subset: np.ndarray) -> dict:
    """Centroid distances and spreads of the step groups in the subset's standardization."""
    scale = X[subset].std(axis=0)
    Z = (X - X[subset].mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    cent = np.array([Z[group == g].mean(axis=0) for g in range(len(GROUPS))])
    spread = [float(np.sqrt(((Z[group == g] - cent[g]) ** 2).sum(axis=1).mean())) for g in range(4)]
    dist = np.linalg.norm(cent[:, None] - cent[None], axis=-1)
    mid = group == 1
    corr = [abs(np.corrcoef(X[mid, j], y[mid])[0, 1]) for j in range(X.shape[1])]
    return {
        "centroid_distance_early": [float(dist[0, 1]), float(dist[0, 2]), float(dist[1, 2])],
        "centroid_distance_to_part2": [float(dist[g, 3]) for g in range(3)],
        "spread": spread,
        "max_abs_corr_steps_10_99": float(np.nanmax(corr)),
    }


def variant_features(ds, options: dict, channels: list, latent_size: int, seed: int):
    """Orbit-pooled features of an autoencoder trained as the rule ``autoencoder`` trains
    the default one on the dataset ``ds`` (``options``: config ``features.latent``,
    ``seed``: config ``seed``), and its summary."""
    import time

    import torch

    from microprop.features.latent import latent_features, reconstruction_rmse, train_autoencoder
    from microprop.models import capped_subset

    torch.set_num_threads(1)
    train = capped_subset(ds.train_idx, options["max_train"], seed)  # as the rule does
    fit = ("max_epochs", "batch_size", "lr", "patience", "val_fraction", "augment")
    t0 = time.perf_counter()
    ae, history = train_autoencoder(
        ds.images[train], latent_size, channels, seed, **{k: options[k] for k in fit}
    )
    features = latent_features(
        ae, ds.images, options["pooling"], options["shift_step"], stage_means=True
    )
    summary = {
        "reconstruction_rmse_test": reconstruction_rmse(ae, ds.images[ds.test_idx]),
        "epochs": history["epochs"],
        "best_epoch": history["best_epoch"],
        "seconds": time.perf_counter() - t0,
    }
    print(f"variant {channels} {latent_size}: {summary}", flush=True)
    return features.astype(np.float64), summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--results", type=Path, default=Path("results"))
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.001, 0.01])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--models", nargs="+", default=["latent-svr", "resnet18", "physfeat2-svr"])
    ap.add_argument("--variants", nargs="*", default=[], metavar="CHANNELS:LATENT_SIZE")
    args = ap.parse_args()

    import yaml

    from microprop.io import load_dataset, load_features, read_attrs, run_steps
    from microprop.models import SVRegressor, evaluation_subset, training_subset
    from microprop.models.svr import grid_svr

    config = yaml.safe_load(Path("config/config.yaml").read_text())
    svr, max_test = config["models"]["svr"], config["studies"]["max_test"]["ch"]
    data = args.results / "data" / "ch.h5"
    part1 = read_attrs(data)["config"]["ch"]["part1_steps"]
    runs, steps = run_steps(data)
    group = step_groups(steps, part1)
    latent = load_features(args.results / "features" / "ch" / "latent.h5")
    y, train = latent.property, latent.train_idx
    test, weights = evaluation_subset(latent.test_idx, max_test, runs, steps)
    ds = load_dataset(data)
    stats = pixel_statistics(ds.images)
    features = latent.images.reshape(len(latent), -1).astype(np.float64)
    code = features[:, : latent.attrs["options"]["latent_size"]]  # the pooled code first
    feature_sets = {
        "code": code,
        "pixel statistics": stats,
        "code + pixel statistics": np.c_[code, stats],
    }
    if latent.attrs["options"].get("stage_means"):  # then the encoder's stage means
        feature_sets["latent (code + stage means)"] = features
    out = {"max_test": max_test, "n_test_scored": len(test), "variants": {}, "fractions": {}}
    for variant in args.variants:
        channels, size = variant.split(":")
        name = f"channels {channels}, size {size}"
        features, out["variants"][name] = variant_features(
            ds,
            config["features"]["latent"],
            [int(c) for c in channels.split(",")],
            int(size),
            config["seed"],
        )
        feature_sets[f"{name}: code"] = features[:, : int(size)]
        feature_sets[f"{name}: code + stage means"] = features

    def scores(pred: np.ndarray) -> dict:
        err = pred - y[test]
        by_group = {
            name: round(weighted_rmse(err[group[test] == g], weights[group[test] == g]), 1)
            for g, name in enumerate(GROUPS)
        }
        return {"rmse": weighted_rmse(err, weights), "by_group": by_group}

    for frac in args.fractions:
        rows: dict[str, list] = {"floor": []}
        geo: dict[str, list] = {}
        for seed in args.seeds:
            sub = training_subset(train, frac, seed)
            cap = y[sub].max()
            rows["floor"].append(
                {**scores(np.minimum(y[test], cap)), "largest_label": round(float(cap), 1)}
            )
            for name, X in feature_sets.items():
                geo.setdefault(name, []).append(geometry(X, y, group, sub))
                best, _ = grid_svr(
                    X[sub], y[sub], svr["grid"], seed=seed, cv_folds=svr["cv_folds"],
                    relative=svr["grid_relative"], groups=runs[sub],
                )  # fmt: skip
                pred = SVRegressor(**best).fit(X[sub], y[sub]).predict(X[test])
                row = {**scores(pred), "largest_prediction": round(float(pred.max()), 1)}
                rows.setdefault(name, []).append(row)
            for model in args.models:
                path = args.results / "models" / "ch" / model / f"frac{frac:g}" / f"seed{seed}"
                if (path / "predictions.csv").exists():
                    table = pd.read_csv(path / "predictions.csv").set_index("index").loc[test]
                    recorded = json.loads((path / "metrics.json").read_text())["rmse"]
                    rows.setdefault(f"{model} (predictions.csv)", []).append(
                        scores(table["predicted"].to_numpy()) | {"metrics_json_rmse": recorded}
                    )
        summary = {
            name: {
                "rmse_mean": round(float(np.mean([r["rmse"] for r in v])), 1),
                "rmse_sd": round(float(np.std([r["rmse"] for r in v], ddof=min(1, len(v) - 1))), 1),
                "per_seed": v,
            }
            for name, v in rows.items()
        }
        out["fractions"][f"{frac:g}"] = {"rows": summary, "geometry": geo}
        print(f"fraction {frac:g}", flush=True)
        for name, s in summary.items():
            mean_groups = {
                g: round(float(np.mean([r["by_group"][g] for r in s["per_seed"]])), 1)
                for g in GROUPS
            }
            print(f"  {name:46s} {s['rmse_mean']:7.1f} ± {s['rmse_sd']:5.1f}  {mean_groups}")
        for name, per_seed in geo.items():
            print(f"  geometry of {name} (seeds {args.seeds}):")
            for key in per_seed[0]:
                print(f"    {key}: {np.round([g[key] for g in per_seed], 3).tolist()}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
