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

from microprop.metrics import regression_metrics
from microprop.models import training_subset

# Table 2 of the paper: (RMSE, R²) on the test split at the full training set.
# Ising labels are temperatures mapped to 0..255 as ours, so the numbers compare directly.
# CH energies are in J/um^3 over a different simulation and scale: shown for reference only.
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

TABLE2_NOTE = (
    "Paper values from Nguyen et al., Table 2. Ising labels share the paper's scale "
    "(temperature 0..2Tc mapped to 0..255), so the Ising numbers compare directly. "
    "The CH energies come from our own simulations, with their own units, sizes and energy "
    "range; the paper's CH numbers are given for reference only and differences are not "
    "meaningful."
)

METRIC_COLUMNS = [
    "dataset",
    "model",
    "frac",
    "seed",
    "n_train",
    "n_test",
    "rmse",
    "mae",
    "r2",
    "features_s",
    "train_s",
    "predict_s",
]


# --------------------------------------------------------------------------- metrics


def read_metrics(path: str | Path) -> dict:
    """One ``metrics.json`` as a flat row (``seconds`` become ``*_s`` columns)."""
    m = json.loads(Path(path).read_text())
    seconds = m.get("seconds", {})
    row = {k: m.get(k) for k in METRIC_COLUMNS if not k.endswith("_s")}
    row["frac"] = float(row["frac"])
    for part in ("features", "train", "predict"):
        row[f"{part}_s"] = float(seconds.get(part, 0.0) or 0.0)
    return row


def collect_metrics(paths: Iterable[str | Path]) -> pd.DataFrame:
    """A frame with one row per trained model (columns :data:`METRIC_COLUMNS`)."""
    rows = [read_metrics(p) for p in paths]
    frame = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    return frame.sort_values(["dataset", "model", "frac", "seed"], ignore_index=True)


def _spread(values: pd.Series) -> float:
    return float(values.std(ddof=1)) if len(values) > 1 else float("nan")


def table2(metrics: pd.DataFrame, models: Sequence[str] | None = None) -> pd.DataFrame:
    """Table 2: RMSE and R² per dataset and model at the full training set.

    Several seeds give mean and standard deviation; the paper's values and our minus the
    paper's are beside them (NaN where the paper has no such model).

    >>> m = pd.DataFrame({"dataset": ["ising"] * 2, "model": ["grad-pcr"] * 2,
    ...                   "frac": [1.0, 1.0], "seed": [0, 1], "rmse": [16.0, 18.0],
    ...                   "r2": [0.95, 0.94]})
    >>> row = table2(m).iloc[0]
    >>> float(row.rmse), float(row.paper_rmse), round(float(row.rmse_diff), 1)
    (17.0, 16.3, 0.7)
    """
    full = metrics[np.isclose(metrics["frac"].astype(float), 1.0)]
    rows = []
    for (dataset, model), group in full.groupby(["dataset", "model"], sort=False):
        paper = PAPER_TABLE2.get(dataset, {}).get(model, (np.nan, np.nan))
        rmse, r2 = float(group["rmse"].mean()), float(group["r2"].mean())
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


def table2_display(table: pd.DataFrame) -> pd.DataFrame:
    """Table 2 with formatted strings: 'mean ± std' where there are several seeds."""
    out = []
    for row in table.itertuples():
        rmse = _fmt(row.rmse, 2) + (f" ± {row.rmse_std:.2f}" if row.n_seeds > 1 else "")
        r2 = _fmt(row.r2, 3) + (f" ± {row.r2_std:.3f}" if row.n_seeds > 1 else "")
        out.append(
            {
                "dataset": row.dataset,
                "model": row.model,
                "seeds": row.n_seeds,
                "RMSE": rmse,
                "R²": r2,
                "paper RMSE": _fmt(row.paper_rmse, 1),
                "paper R²": _fmt(row.paper_r2, 3),
                "ΔRMSE": _fmt(row.rmse_diff, 2),
                "ΔR²": _fmt(row.r2_diff, 3),
            }
        )
    return pd.DataFrame(out)


def table2_markdown(table: pd.DataFrame) -> str:
    """Markdown of Table 2, one section per dataset, with the note on comparability."""
    display = table2_display(table)
    parts = ["# Table 2: test RMSE and R² of every model\n"]
    for dataset, group in display.groupby("dataset", sort=False):
        parts.append(f"## {dataset}\n")
        if dataset != "ising":
            parts.append(
                "_Paper values for reference only: units and energy scale differ "
                "from our CH simulations._\n"
            )
        parts.append(group.drop(columns="dataset").to_markdown(index=False) + "\n")
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
    display = display.map(lambda v: v.replace("±", "$\\pm$") if isinstance(v, str) else v)
    latex = display.to_latex(index=False, escape=False, column_format="ll" + "r" * 7)
    return "% " + TABLE2_NOTE + "\n" + latex


# --------------------------------------------------------------------- fraction, timing


def fraction_curves(metrics: pd.DataFrame) -> pd.DataFrame:
    """RMSE, R² and times per dataset, model and training fraction over seeds (Figs. 9, 10).

    ``train_total_s`` is the training time plus the share of the feature extraction that
    falls on the training subset (features are timed for the whole dataset, so the share is
    n_train / N with N = n_train / frac + n_test), the paper's "training including features".

    >>> m = pd.DataFrame({"dataset": ["ising"] * 2, "model": ["grad-pcr"] * 2,
    ...     "frac": [0.5, 0.5], "seed": [0, 1], "n_train": [50, 50], "n_test": [100, 100],
    ...     "rmse": [10.0, 12.0], "r2": [0.9, 0.8], "features_s": [2.0, 2.0],
    ...     "train_s": [1.0, 1.0], "predict_s": [0.1, 0.1]})
    >>> row = fraction_curves(m).iloc[0]
    >>> float(row.rmse_mean), float(row.train_total_s_mean), int(row.n_seeds)
    (11.0, 1.5, 2)
    """
    m = metrics.copy()
    n_all = m["n_train"] / m["frac"] + m["n_test"]
    m["train_total_s"] = m["train_s"] + m["features_s"] * m["n_train"] / n_all
    agg = {
        "n_train": "mean",
        "seed": "count",
    }
    grouped = m.groupby(["dataset", "model", "frac"], sort=True)
    out = grouped.agg(agg).rename(columns={"seed": "n_seeds"})
    for col in ("rmse", "r2", "train_s", "train_total_s", "predict_s"):
        out[f"{col}_mean"] = grouped[col].mean()
        out[f"{col}_std"] = grouped[col].std(ddof=1)
        out[f"{col}_min"] = grouped[col].min()
        out[f"{col}_max"] = grouped[col].max()
    return out.reset_index()


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
    train = features.train_idx
    if max_train and len(train) > max_train:
        train = training_subset(train, max_train / len(train), seed)
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
    """SVR on the first k principal components of a CNN embedding, for each k (Figs. B.13/14).

    PCA and SVR are fitted on the training split (standardised embedding, as cnnpca-svr).
    Returns ``(scree, scores, predictions)``: cumulative explained variance per number of
    components, test RMSE/R² per k, and the test predictions per k.
    """
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    X = np.asarray(embedding.images, dtype=float).reshape(len(embedding), -1)
    y = np.asarray(embedding.property, dtype=float)
    train = embedding.train_idx
    if max_train and len(train) > max_train:
        train = training_subset(train, max_train / len(train), seed)
    test = embedding.test_idx
    scaler = StandardScaler().fit(X[train])
    k_max = min(max(components), len(train), X.shape[1])
    pca = PCA(n_components=k_max, random_state=seed).fit(scaler.transform(X[train]))
    Z_train = pca.transform(scaler.transform(X[train]))
    Z_test = pca.transform(scaler.transform(X[test]))
    scree = pd.DataFrame(
        {
            "n_components": np.arange(1, k_max + 1),
            "explained_variance_ratio": pca.explained_variance_ratio_,
            "cumulative": np.cumsum(pca.explained_variance_ratio_),
        }
    )
    mu, sd = y[train].mean(), y[train].std() or 1.0
    scores, predictions = [], []
    for k in sorted({min(int(k), k_max) for k in components}):
        model = SVR(**svr)
        model.fit(Z_train[:, :k], (y[train] - mu) / sd)
        pred = model.predict(Z_test[:, :k]) * sd + mu
        scores.append({"n_components": k, **regression_metrics(y[test], pred)})
        predictions.append(
            pd.DataFrame({"n_components": k, "index": test, "true": y[test], "predicted": pred})
        )
    return scree, pd.DataFrame(scores), pd.concat(predictions, ignore_index=True)
