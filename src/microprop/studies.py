"""The paper's studies (section 4, Appendices B-D) as plain functions on metrics and features.

- Table 2: :func:`collect_metrics` reads every ``metrics.json``; :func:`table2` gives RMSE and
  R² per dataset and model (mean and spread over seeds) with the paper's numbers beside ours.
- Training fraction and timing (Figs. 9, 10): :func:`fraction_curves`.
- Scikit-learn regressors on each feature set (Figs. D.18, D.19): :func:`run_zoo`.
- PCA of the CNN embedding (Figs. B.13, B.14): :func:`pca_study`; of raw pixels (Fig. B.12):
  :func:`pixel_pca`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from microprop import registry
from microprop.metrics import STEP_GROUPS, regression_metrics
from microprop.splits import capped_subset, training_subset
from microprop.uncertainty import SCORES

# Table 2 of the paper: (RMSE, R²) on the test split at the full training set.
# Ising labels are temperatures mapped to 0..255 as ours; CH labels are the total energy in
# pJ/um on the paper's scale (E ~ 400..8000), so both datasets compare directly.
PAPER_TABLE2: dict[str, dict[str, tuple[float, float]]] = {
    "ising": {
        "grad-pcr": (16.3, 0.951),
        "physfeat1-pcr": (14.5, 0.961),
        "grad-svr": (14.1, 0.963),
        "physfeat1-svr": (12.3, 0.972),
        "physfeat2-svr": (8.5, 0.987),
        "cnnpca-svr": (10.0, 0.981),
        "resnet18": (8.0, 0.988),
        "mucha-resnet34": (8.9, 0.985),
    },
    "ch": {
        "grad-pcr": (337.0, 0.674),
        "physfeat1-pcr": (44.0, 0.994),
        "grad-svr": (262.0, 0.802),
        "physfeat1-svr": (151.0, 0.934),
        "physfeat2-svr": (12.0, 1.0),
        "cnnpca-svr": (72.0, 0.985),
        "resnet18": (22.0, 0.999),
        "mucha-resnet34": (11.0, 1.0),
    },
}

# The paper's scale (section 2, Appendix B): training images (Ising 50,000 - 1,000 test;
# CH ~60,000 images of 20 runs, 2 held out), TPE trials and CNN epochs.
# the symmetry-aware CNNs (the symmetry study's default comparison) and the models beyond
# the paper (‡ in Table 2), from microprop.registry
SYMMETRIC_CNNS = tuple(m.id for m in registry.MODELS.values() if m.symmetry_aware)
BEYOND_PAPER = tuple(m.id for m in registry.MODELS.values() if m.beyond_paper)

PAPER_SCALE = {"n_train": {"ising": 49000, "ch": 54000}, "n_trials": 1024, "epochs": 100}

TABLE2_NOTE = (
    "Paper values from Nguyen et al., Table 2. Ising labels share the paper's scale "
    "(temperature 0..2Tc mapped to 0..255); CH labels are the total energy in pJ/um on the "
    "paper's scale (E ~ 400..8000), so both compare directly (our CH simulations are our "
    "own runs of the paper's model). CFD (Kolmogorov flow, label Re): the paper gives only "
    "Fig. E.21, no numbers, so its paper columns stay empty. 'trained': training images, "
    "TPE trials or CV grid points (SVRs), epochs run of the cap and the kept epoch (CNNs), "
    "and 'kolmogorov symmetries' or 'square symmetries' where a CNN trained on images "
    "moved by the flow's exact symmetries or by D4 and periodic shifts (models.cnn.augment, "
    "beyond the paper's protocol). "
    "† marks rows trained below the paper's scale (fewer training images, trials or epochs). "
    "‡ marks models beyond the paper (symmetry-aware CNNs, the SVR on autoencoder "
    "features latent-svr, the SVR on two-point statistics twopoint-svr, the blend of "
    "physfeat2-svr and resnet18; see docs/symmetry.md, docs/latent.md, docs/twopoint.md "
    "and docs/paper-scale.md)."
)

METRIC_COLUMNS = [
    "dataset",
    "model",
    "frac",
    "seed",
    "n_train",
    "n_test",
    "n_images",
    "rmse",
    "mae",
    "r2",
    "features_s",
    "search_s",
    "train_s",
    "predict_s",
    "n_trials",
    "search",
    "epochs_run",
    "max_epochs",
    "best_epoch",
    "flag",
    "threads",
    "augment",
    "weights",
    "blend",  # a blend's members and weights (issue 47)
    *(f"rmse {g}" for g in STEP_GROUPS),  # CH: RMSE per step group (issue 41)
]


# --------------------------------------------------------------------------- metrics


def weights_note(metrics: dict) -> str | None:
    """Where a model did not start from the ImageNet weights the paper's model used: a
    -pretrained CNN or a CNN-PCA embedding that fell back to random weights offline
    (``weights_fallback``), or an embedding with random weights by choice (None: neither).

    >>> weights_note({"weights_fallback": "ImageNet weights unavailable (...)"})
    'random init: ImageNet weights unavailable offline'
    >>> weights_note({"features": {"name": "cnnpca", "options": {"weights": "random"}}})
    'random ResNet18 embedding'
    >>> weights_note({"features": {"name": "grad", "options": {}}}) is None
    True
    """
    features = metrics.get("features") or {}
    if metrics.get("weights_fallback"):
        return "random init: ImageNet weights unavailable offline"
    if features.get("weights_fallback"):
        return "random ResNet18 embedding: ImageNet weights unavailable offline"
    if (
        features.get("name") == "cnnpca"
        and (features.get("options") or {}).get("weights") == "random"
    ):
        return "random ResNet18 embedding"
    return None


def read_metrics(path: str | Path) -> dict:
    """One ``metrics.json`` as a flat row (``seconds`` become ``*_s`` columns).

    Keys a model does not write (``n_trials`` for PCR, epochs for SVRs) are left empty;
    ``search`` is how an SVR got its C, gamma, epsilon ("tpe", "grid", "fixed") or empty.
    """
    m = json.loads(Path(path).read_text())
    seconds = m.get("seconds", {})
    row = {k: m.get(k) for k in METRIC_COLUMNS if not k.endswith("_s")}
    row["frac"] = float(row["frac"])
    for part in ("features", "search", "train", "predict"):
        row[f"{part}_s"] = float(seconds.get(part, 0.0) or 0.0)
    hyper = m.get("hyperparameters") or {}
    row["search"] = (m.get("cv") or {}).get("method") or hyper.get("method")
    row["augment"] = (hyper.get("augment") or {}).get("group")  # a CNN's symmetry group
    row["weights"] = weights_note(m)
    if hyper.get("method") == "blend":
        parts = (f"{w:.2f} {member}" for member, w in hyper["weights"].items())
        row["blend"] = f"{' + '.join(parts)} (on {hyper['n_fit']:,} held-out img)"
    threads = m.get("threads")
    row["threads"] = max(threads.values()) if isinstance(threads, dict) and threads else threads
    for group, values in (m.get("rmse_by_step_group") or {}).items():
        row[f"rmse {group}"] = float(values["rmse"])
    return row


def collect_metrics(paths: Iterable[str | Path]) -> pd.DataFrame:
    """A frame with one row per trained model (columns :data:`METRIC_COLUMNS`)."""
    rows = [read_metrics(p) for p in paths]
    frame = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    return frame.sort_values(["dataset", "model", "frac", "seed"], ignore_index=True)


def _spread(values: pd.Series) -> float:
    return float(values.std(ddof=1)) if len(values) > 1 else float("nan")


def _first(group: pd.DataFrame, column: str):
    """The first non-missing value of a column in a group (None if none or no column)."""
    if column not in group:
        return None
    values = group[column].dropna()
    return values.iloc[0] if len(values) else None


def training_note(group: pd.DataFrame, dataset: str) -> tuple[str, list[str]]:
    """How the rows of one model were trained, and why that is below the paper's scale.

    >>> g = pd.DataFrame({"n_train": [5000], "search": ["tpe"], "n_trials": [64]})
    >>> training_note(g, "ising")
    ('5,000 img, 64 trials', ['5,000 < 49,000 images', '64 < 1024 trials'])
    >>> g = pd.DataFrame({"n_train": [49000], "epochs_run": [14], "max_epochs": [30],
    ...                   "best_epoch": [9]})
    >>> training_note(g, "ising")
    ('49,000 img, 14/30 ep (best 9)', ['epoch cap 30 < 100'])
    >>> training_note(g.assign(augment="kolmogorov"), "cfd")[0]
    '49,000 img, 14/30 ep (best 9), kolmogorov symmetries'
    >>> g = pd.DataFrame({"n_train": [49000], "search": ["blend"],
    ...                   "blend": ["0.60 physfeat2-svr + 0.41 resnet18 (on 9,800 held-out img)"]})
    >>> training_note(g, "ising")[0]
    '49,000 img, 0.60 physfeat2-svr + 0.41 resnet18 (on 9,800 held-out img)'
    """
    n_train = int(group["n_train"].max()) if "n_train" in group else 0
    parts, below = [f"{n_train:,} img"], []
    paper_n = PAPER_SCALE["n_train"].get(dataset)
    if paper_n and n_train < 0.98 * paper_n:
        below.append(f"{n_train:,} < {paper_n:,} images")
    search, n_trials = _first(group, "search"), _first(group, "n_trials")
    if search == "tpe":
        parts.append(f"{int(n_trials)} trials")
        if n_trials < PAPER_SCALE["n_trials"]:
            below.append(f"{int(n_trials)} < {PAPER_SCALE['n_trials']} trials")
    elif search == "grid":
        parts.append(f"CV grid of {int(n_trials)}")
    elif search == "fixed":
        parts.append("fixed C, gamma, epsilon")
    elif search == "blend":
        parts.append(_first(group, "blend"))
    max_epochs = _first(group, "max_epochs")
    if max_epochs:
        epochs, best = _first(group, "epochs_run"), _first(group, "best_epoch")
        text = (
            f"{int(epochs)}/{int(max_epochs)} ep" if epochs is not None else f"{int(max_epochs)} ep"
        )
        parts.append(text + (f" (best {int(best)})" if best is not None else ""))
        if max_epochs < PAPER_SCALE["epochs"]:
            below.append(f"epoch cap {int(max_epochs)} < {PAPER_SCALE['epochs']}")
    augment = _first(group, "augment")
    if augment:  # trained on transformed images: beyond the paper's protocol
        parts.append(f"{augment} symmetries")
    return ", ".join(parts), below


def worst_step_group(group: pd.DataFrame) -> str:
    """The CH step group with the largest RMSE (mean over the seeds), as 'name (RMSE)';
    empty without step groups (Ising, CFD, older metrics).

    >>> g = pd.DataFrame({"rmse steps 1-9": [800.0, 900.0], "rmse part 2": [5.0, 6.0]})
    >>> worst_step_group(g)
    'steps 1-9 (850)'
    """
    means = {
        name: group[f"rmse {name}"].mean()
        for name in STEP_GROUPS
        if f"rmse {name}" in group and group[f"rmse {name}"].notna().any()
    }
    if not means:
        return ""
    name = max(means, key=means.get)
    return f"{name} ({means[name]:.0f})"


def table2(metrics: pd.DataFrame, models: Sequence[str] | None = None) -> pd.DataFrame:
    """Table 2: RMSE and R² per dataset and model at the full training set.

    Several seeds give mean and standard deviation; the paper's values and our minus the
    paper's are beside them (NaN where the paper has no such model). ``trained`` says how
    the model was trained (:func:`training_note`), ``below_paper_scale`` why it is below
    the paper's scale (empty: at scale), ``flag`` a CNN's warning (e.g. did not learn)
    and where a model did not start from ImageNet weights (:func:`weights_note`).

    >>> m = pd.DataFrame({"dataset": ["ising"] * 2, "model": ["grad-pcr"] * 2,
    ...                   "frac": [1.0, 1.0], "seed": [0, 1], "rmse": [16.0, 18.0],
    ...                   "r2": [0.95, 0.94], "n_train": [9000, 9000]})
    >>> row = table2(m).iloc[0]
    >>> float(row.rmse), float(row.paper_rmse), round(float(row.rmse_diff), 1), row.trained
    (17.0, 16.3, 0.7, '9,000 img')
    """
    full = metrics[np.isclose(metrics["frac"].astype(float), 1.0)]
    rows = []
    for (dataset, model), group in full.groupby(["dataset", "model"], sort=False):
        paper = PAPER_TABLE2.get(dataset, {}).get(model, (np.nan, np.nan))
        rmse, r2 = float(group["rmse"].mean()), float(group["r2"].mean())
        trained, below = training_note(group, dataset)
        rows.append(
            {
                "dataset": dataset,
                "model": model,
                "n_seeds": len(group),
                "rmse": rmse,
                "rmse_std": _spread(group["rmse"]),
                "r2": r2,
                "r2_std": _spread(group["r2"]),
                "paper_rmse": paper[0],
                "paper_r2": paper[1],
                "rmse_diff": rmse - paper[0],
                "r2_diff": r2 - paper[1],
                "trained": trained,
                "below_paper_scale": "; ".join(below),
                "flag": "; ".join(
                    _text(_first(group, c)) for c in ("flag", "weights") if _first(group, c)
                )
                or None,
                "worst_step_group": worst_step_group(group),
            }
        )
    table = pd.DataFrame(rows)
    if models is not None and len(table):
        order = {m: i for i, m in enumerate(models)}
        table = table.assign(_o=table["model"].map(lambda m: order.get(m, len(order))))
        table = table.sort_values(["dataset", "_o"], kind="stable").drop(columns="_o")
    return table.reset_index(drop=True)


def _fmt(value: float, digits: int) -> str:
    return "" if pd.isna(value) else f"{value:.{digits}f}"


def _text(value) -> str:
    """A text cell: empty for None and NaN (a missing value is never the string 'nan').

    >>> [_text(None), _text(float("nan")), _text("did not learn")]
    ['', '', 'did not learn']
    """
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def table2_display(table: pd.DataFrame) -> pd.DataFrame:
    """Table 2 with formatted strings: 'mean ± std' where there are several seeds, the
    training column with † for rows below the paper's scale, and a flag column when any
    row has a flag."""
    out = []
    for row in table.itertuples():
        rmse = _fmt(row.rmse, 2) + (f" ± {row.rmse_std:.2f}" if row.n_seeds > 1 else "")
        r2 = _fmt(row.r2, 3) + (f" ± {row.r2_std:.3f}" if row.n_seeds > 1 else "")
        below = _text(getattr(row, "below_paper_scale", ""))
        out.append(
            {
                "dataset": row.dataset,
                "model": row.model + (" ‡" if row.model in BEYOND_PAPER else ""),
                "seeds": row.n_seeds,
                "RMSE": rmse,
                "paper RMSE": _fmt(row.paper_rmse, 1),
                "ΔRMSE": _fmt(row.rmse_diff, 2),
                "R²": r2,
                "paper R²": _fmt(row.paper_r2, 3),
                "ΔR²": _fmt(row.r2_diff, 3),
                "trained": _text(getattr(row, "trained", "")) + (" †" if below else ""),
                "flag": _text(getattr(row, "flag", None)),
            }
        )
    display = pd.DataFrame(out)
    if len(display) and not (display["flag"] != "").any():
        display = display.drop(columns="flag")
    return display


def table2_markdown(table: pd.DataFrame) -> str:
    """Markdown of Table 2, one section per dataset, with the note and the † reasons."""
    display = table2_display(table)
    parts = ["# Table 2: test RMSE and R² of every model\n"]
    for dataset, group in display.groupby("dataset", sort=False):
        parts.append(f"## {dataset}\n")
        parts.append(group.drop(columns="dataset").to_markdown(index=False) + "\n")
        rows = table[(table["dataset"] == dataset) & (table["below_paper_scale"] != "")]
        if len(rows):
            reasons = "; ".join(f"{r.model}: {r.below_paper_scale}" for r in rows.itertuples())
            parts.append(f"† below the paper's scale: {reasons}.\n")
        rows = table[table["dataset"] == dataset]
        random = [
            r.model for r in rows.itertuples() if "ImageNet weights unavailable" in _text(r.flag)
        ]
        if random:
            parts.append(
                f"Not the paper's ImageNet initialisation: {', '.join(random)} started from "
                "random weights, the ImageNet ones being neither in torchvision's cache nor "
                "downloadable (models.cnn.weights_fallback, features.cnnpca.weights_fallback: "
                "random; their metrics.json give the reason).\n"
            )
        worst = rows[rows.get("worst_step_group", pd.Series("", rows.index)) != ""]
        if len(worst):
            groups = "; ".join(f"{r.model}: {r.worst_step_group}" for r in worst.itertuples())
            parts.append(f"Largest error by step group (RMSE): {groups}.\n")
    parts.append(f"Δ = ours − paper. {TABLE2_NOTE}\n")
    return "\n".join(parts)


def table2_latex(table: pd.DataFrame) -> str:
    """LaTeX tabular of Table 2 (booktabs)."""
    display = table2_display(table).rename(
        columns={
            "R²": "$R^2$",
            "paper R²": "paper $R^2$",
            "ΔRMSE": "$\\Delta$RMSE",
            "ΔR²": "$\\Delta R^2$",
        }
    )
    display = display.map(
        lambda v: v.replace("±", "$\\pm$").replace("†", "$^\\dagger$") if isinstance(v, str) else v
    )
    n_text = len(display.columns) - 9
    latex = display.to_latex(index=False, escape=False, column_format="ll" + "r" * 7 + "l" * n_text)
    return "% " + TABLE2_NOTE + "\n" + latex


# --------------------------------------------------------------------- fraction, timing


def fraction_curves(metrics: pd.DataFrame) -> pd.DataFrame:
    """RMSE, R² and times per dataset, model and training fraction over seeds (Figs. 9, 10).

    The training time has three parts: ``features_share_s``, the share of the feature
    extraction that falls on the training subset (features are timed for the whole
    dataset, so the share is n_train / N: N = ``n_images``, else n_train / frac + n_test),
    ``search_s`` (hyperparameter search, SVRs) and ``train_s`` (the final fit); ``train_total_s`` is
    their sum, the paper's "training including features".

    >>> m = pd.DataFrame({"dataset": ["ising"] * 2, "model": ["grad-pcr"] * 2,
    ...     "frac": [0.5, 0.5], "seed": [0, 1], "n_train": [50, 50], "n_test": [100, 100],
    ...     "rmse": [10.0, 12.0], "r2": [0.9, 0.8], "features_s": [2.0, 2.0],
    ...     "search_s": [3.0, 3.0], "train_s": [1.0, 1.0], "predict_s": [0.1, 0.1]})
    >>> row = fraction_curves(m).iloc[0]
    >>> float(row.rmse_mean), float(row.train_total_s_mean), int(row.n_seeds)
    (11.0, 4.5, 2)
    """
    m = metrics.copy()
    if "search_s" not in m:
        m["search_s"] = 0.0
    m["search_s"] = m["search_s"].fillna(0.0)
    n_all = m["n_train"] / m["frac"] + m["n_test"]  # metrics written without n_images
    if "n_images" in m:
        n_all = m["n_images"].fillna(n_all)
    m["features_share_s"] = m["features_s"] * m["n_train"] / n_all
    m["train_total_s"] = m["features_share_s"] + m["search_s"] + m["train_s"]
    grouped = m.groupby(["dataset", "model", "frac"], sort=True)
    out = grouped.agg({"n_train": "mean", "seed": "count"}).rename(columns={"seed": "n_seeds"})
    if "threads" in m:
        out["threads"] = grouped["threads"].max()
    columns = ("rmse", "r2", "features_share_s", "search_s", "train_s", "train_total_s")
    for col in columns + ("predict_s",):
        out[f"{col}_mean"] = grouped[col].mean()
        out[f"{col}_std"] = grouped[col].std(ddof=1)
        out[f"{col}_min"] = grouped[col].min()
        out[f"{col}_max"] = grouped[col].max()
    return out.reset_index()


def symmetry_markdown(
    curves: pd.DataFrame, baseline: str = "resnet18", compared: Sequence[str] = SYMMETRIC_CNNS
) -> str:
    """A small-data study (symmetry, semisupervised) as a markdown table: test RMSE
    mean ± std (seeds) per model and training fraction, and the change of the mean of
    each ``compared`` model (default: the symmetric CNNs) against ``baseline``.

    >>> c = pd.DataFrame({"model": ["resnet18", "resnet18-sym"] * 2,
    ...     "frac": [0.01, 0.01, 1.0, 1.0], "n_train": [90, 90, 9000, 9000],
    ...     "n_seeds": [3, 3, 1, 1], "rmse_mean": [20.0, 14.0, 8.0, 8.4],
    ...     "rmse_std": [2.0, 1.0, None, None]})
    >>> print(symmetry_markdown(c).splitlines()[3])
    | resnet18-sym | 14.00 ± 1.00 (3) | 8.40 |
    >>> print(symmetry_markdown(c).splitlines()[-1])
    | resnet18-sym vs resnet18 | -30% | +5% |
    """
    fracs = sorted(curves["frac"].unique())
    cell = {
        (r.model, r.frac): f"{r.rmse_mean:.2f}"
        + (f" ± {r.rmse_std:.2f} ({int(r.n_seeds)})" if r.n_seeds > 1 else "")
        for r in curves.itertuples()
    }
    n_train = curves.groupby("frac")["n_train"].mean()
    head = ["model"] + [f"{100 * f:g}% ({n_train[f]:.0f} img)" for f in fracs]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    models = list(dict.fromkeys(curves["model"]))
    lines += [f"| {m} | " + " | ".join(cell.get((m, f), "") for f in fracs) + " |" for m in models]
    mean = curves.set_index(["model", "frac"])["rmse_mean"]
    lines += ["", "| test RMSE change of the mean | " + " | ".join(head[1:]) + " |"]
    lines.append("|" + "---|" * len(head))
    for m in (m for m in compared if m in models and baseline in models):
        change = [
            f"{100 * (mean[m, f] / mean[baseline, f] - 1):+.0f}%"
            if (m, f) in mean.index and (baseline, f) in mean.index
            else ""
            for f in fracs
        ]
        lines.append(f"| {m} vs {baseline} | " + " | ".join(change) + " |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------- sklearn zoo

ZOO_REGRESSORS = {
    "nearest_neighbors": "Nearest Neighbors",
    "linear_svm": "Linear SVM",
    "rbf_svm": "RBF SVM",
    "decision_tree": "Decision Tree",
    "random_forest": "Random Forest",
    "mlp": "Neural Net",
    "adaboost": "AdaBoost",
}


def make_regressor(name: str, seed: int = 0):
    """A scikit-learn regressor of Appendix D behind a StandardScaler.

    The settings follow scikit-learn's classifier comparison, which the paper's list of
    regressors (and their names) comes from.

    >>> make_regressor("decision_tree").steps[-1][1].max_depth
    5
    """
    from sklearn.ensemble import AdaBoostRegressor, RandomForestRegressor
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR, LinearSVR
    from sklearn.tree import DecisionTreeRegressor

    factories = {
        "nearest_neighbors": lambda: KNeighborsRegressor(n_neighbors=3),
        "linear_svm": lambda: LinearSVR(C=1.0, max_iter=10000, random_state=seed),
        "rbf_svm": lambda: SVR(kernel="rbf", C=100.0, gamma="scale"),
        "decision_tree": lambda: DecisionTreeRegressor(max_depth=5, random_state=seed),
        "random_forest": lambda: RandomForestRegressor(
            n_estimators=10, max_depth=5, max_features=1, random_state=seed
        ),
        "mlp": lambda: MLPRegressor(
            hidden_layer_sizes=(100,), alpha=1e-3, max_iter=1000, random_state=seed
        ),
        "adaboost": lambda: AdaBoostRegressor(random_state=seed),
    }
    if name not in factories:
        raise ValueError(f"unknown regressor {name!r}; choose from {sorted(factories)}")
    return make_pipeline(StandardScaler(), factories[name]())


def run_zoo(features, regressors: Sequence[str], seed: int = 0, max_train: int = 0):
    """Fit each regressor on a feature file's training split, evaluate on its test split.

    ``features`` is a :class:`microprop.io.Dataset` from ``load_features``; ``max_train`` > 0
    caps the training set (a seeded subset). The target is standardised for fitting and
    predictions are mapped back, so errors are in the property's units.
    """
    X = np.asarray(features.images, dtype=float).reshape(len(features), -1)
    y = np.asarray(features.property, dtype=float)
    train = capped_subset(features.train_idx, max_train, seed)
    test = features.test_idx
    mu, sd = y[train].mean(), y[train].std() or 1.0
    rows = []
    for name in regressors:
        model = make_regressor(name, seed)
        t0 = time.perf_counter()
        model.fit(X[train], (y[train] - mu) / sd)
        t1 = time.perf_counter()
        pred = model.predict(X[test]) * sd + mu
        t2 = time.perf_counter()
        rows.append(
            {
                "regressor": name,
                **regression_metrics(y[test], pred),
                "n_train": len(train),
                "train_s": t1 - t0,
                "predict_s": t2 - t1,
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------- PCA


def pixel_pca(images: np.ndarray, n_components: int = 2, seed: int = 0) -> np.ndarray:
    """Project flattened images on their first principal components (Fig. B.12).

    >>> rng = np.random.default_rng(0)
    >>> pixel_pca(rng.integers(0, 255, (20, 8, 8)), 2).shape
    (20, 2)
    """
    from sklearn.decomposition import PCA

    X = np.asarray(images, dtype=float).reshape(len(images), -1)
    return PCA(n_components=n_components, random_state=seed).fit_transform(X)


def pca_study(
    embedding,
    components: Sequence[int],
    svr: dict,
    seed: int = 0,
    max_train: int = 0,
):
    """cnnpca-svr with its first k principal components, for each k (Figs. B.13/B.14).

    Every k runs the exact cnnpca-svr pipeline: :class:`microprop.models.SVRegressor`
    with ``n_components=k`` (PCA fitted on the training split of the embedding, components
    fed unscaled) and the C, gamma, epsilon of ``svr`` (the cnnpca-svr model's chosen
    values), fitted by :func:`microprop.models.fit_evaluate` on the same training subset
    (``max_train`` > 0 caps it, as ``fit_evaluate`` does). At the model's own k this is
    the Table 2 model. Returns ``(scree, scores, predictions)``: cumulative explained
    variance per number of components, test RMSE/R² per k, and the test predictions per k.
    """
    from sklearn.decomposition import PCA

    from microprop.models import SVRegressor, fit_evaluate

    X = np.asarray(embedding.images, dtype=float).reshape(len(embedding), -1)
    train = capped_subset(training_subset(embedding.train_idx, 1.0, seed), max_train, seed)
    k_max = min(max(components), len(train), X.shape[1])
    pca = PCA(n_components=k_max, svd_solver="full").fit(X[train])
    scree = pd.DataFrame(
        {
            "n_components": np.arange(1, k_max + 1),
            "explained_variance_ratio": pca.explained_variance_ratio_,
            "cumulative": np.cumsum(pca.explained_variance_ratio_),
        }
    )
    hyper = {k: svr[k] for k in ("C", "gamma", "epsilon")}
    scores, predictions = [], []
    for k in sorted({min(int(k), k_max) for k in components}):
        model = SVRegressor(**hyper, standardize=False, n_components=k)
        _, metrics, table = fit_evaluate(model, embedding, 1.0, seed, max_train=max_train)
        scores.append(
            {"n_components": k, **{m: metrics[m] for m in ("rmse", "mae", "r2")}}
            | {"train_s": metrics["seconds"]["train"]}
        )
        predictions.append(
            table.assign(n_components=k)[["n_components", "index", "true", "predicted"]]
        )
    return scree, pd.DataFrame(scores), pd.concat(predictions, ignore_index=True)


# ------------------------------------------------------------------ uncertainty (issue 15)

UNCERTAINTY_NOTE = (
    "Conformal prediction intervals (src/microprop/uncertainty.py) at the nominal level, on "
    "the test split: empirical coverage, mean width, and mean width of the test images "
    "whose true property lies in the low, mid and high third of the test range (Ising: "
    "0-85, 85-170, 170-255, Tc = 127.5). Calibration on training images only: cv = "
    "out-of-fold predictions (K-fold), runs = leave-runs-out folds (CH), validation = the "
    "CNN's validation part, split = a held-out part. Scores: constant = one width, adaptive "
    "= |residual| / sigma(prediction), binned = split conformal per bin of the prediction "
    "(asymmetric). 'width / constant' is the score's width over the constant one per third; "
    "coverage low/mid/high the coverage per third. "
    "Coverage (naive): with random folds, where the "
    "intervals use leave-runs-out calibration."
)


def _widths_read(summary: dict) -> dict:
    """An interval summary of metrics.json with its null widths read back: infinite where
    the intervals were unbounded (their part has a coverage), NaN where the part holds no
    test image (no coverage either); :func:`microprop.io.strict_json` wrote both as null.

    >>> _widths_read({"coverage": 1.0, "mean_width": None, "coverage_low": None,
    ...               "width_low": None})
    {'coverage': 1.0, 'mean_width': inf, 'coverage_low': nan, 'width_low': nan}
    """
    out = {}
    for key, value in summary.items():
        if value is None and key.startswith(("coverage", "width", "mean_width")):
            part = key.removeprefix("mean_").replace("width", "coverage")
            value = float("inf") if summary.get(part) is not None else float("nan")
            value = float("nan") if key.startswith("coverage") else value
        out[key] = value
    return out


def uncertainty_table(paths: Iterable[str | Path]) -> pd.DataFrame:
    """One row per dataset, model and conformity score from metrics.json ``intervals``.

    Models without intervals (trained before them) are left out.
    """
    rows = []
    for path in paths:
        m = json.loads(Path(path).read_text())
        info = m.get("intervals")
        if not info:
            continue
        variants = info["variants"]
        primary = variants[info["calibration"]]
        naive = next((v for k, v in variants.items() if k != info["calibration"]), None)
        for score in (score for score in SCORES if score in primary):  # older: no binned
            s = _widths_read(primary[score])
            row = {
                "dataset": m["dataset"],
                "model": m["model"],
                "score": score,
                "level": info["level"],
                "calibration": info["calibration"],
                "n_cal": primary["n_cal"],
                "coverage": s["coverage"],
                "mean_width": s["mean_width"],
                **{f"width_{t}": s[f"width_{t}"] for t in ("low", "mid", "high")},
                **{f"coverage_{t}": s[f"coverage_{t}"] for t in ("low", "mid", "high")},
                "coverage_naive": naive[score]["coverage"] if naive else None,
                "mean_width_naive": _widths_read(naive[score])["mean_width"] if naive else None,
            }
            for t in ("low", "mid", "high"):
                const = _widths_read(primary["constant"])[f"width_{t}"]
                row[f"ratio_{t}"] = s[f"width_{t}"] / const if const else None
            rows.append(row)
    return pd.DataFrame(rows)


def uncertainty_markdown(table: pd.DataFrame) -> str:
    """Markdown of :func:`uncertainty_table`, one section per dataset."""
    parts = ["# Prediction intervals: coverage and width on the test split\n"]
    for dataset, group in table.groupby("dataset", sort=False):
        level = group["level"].iloc[0]
        shown = pd.DataFrame(
            {
                "model": group["model"],
                "score": group["score"],
                "calibration": group["calibration"] + " (" + group["n_cal"].astype(str) + ")",
                f"coverage ({level:.0%})": group["coverage"].map(lambda v: _fmt(v, 3)),
                "mean width": group["mean_width"].map(lambda v: _fmt(v, 3)),
                "width low/mid/high": [
                    " / ".join(_fmt(r[f"width_{t}"], 3) for t in ("low", "mid", "high"))
                    for _, r in group.iterrows()
                ],
                "coverage low/mid/high": [
                    " / ".join(_fmt(r[f"coverage_{t}"], 2) for t in ("low", "mid", "high"))
                    for _, r in group.iterrows()
                ],
                "width / constant": [
                    " / ".join(_fmt(r[f"ratio_{t}"], 2) for t in ("low", "mid", "high"))
                    if r["score"] != "constant"
                    else ""
                    for _, r in group.iterrows()
                ],
                "coverage (naive)": group["coverage_naive"].map(lambda v: _fmt(v, 3)),
            }
        )
        if (shown["coverage (naive)"] == "").all():
            shown = shown.drop(columns="coverage (naive)")
        parts.append(f"## {dataset}\n")
        parts.append(shown.to_markdown(index=False) + "\n")
    parts.append(UNCERTAINTY_NOTE + "\n")
    return "\n".join(parts)
