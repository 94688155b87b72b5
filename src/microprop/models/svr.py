"""Support vector regression (the paper's section 3.2.2, App. B.1).

:class:`SVRegressor` is scikit-learn's epsilon-SVR with an RBF kernel. Its inputs are
optionally projected on their first ``n_components`` principal components (a PCA fitted
in :meth:`fit`, so on the training data only: cnnpca-svr, twopoint-svr) and optionally standardized
(grad, physfeat1, physfeat2; ``standardize=False`` feeds the inputs as they are, as the
paper does with the principal components). The targets keep their units, so ``epsilon``
is in property units as in the paper's Table B.3. After fitting, prediction is computed
from the stored arrays:

    f(x) = sum_i a_i exp(-gamma ||z(x) - s_i||^2) + b,   z(x) = (P (x - m) - mean) / scale,

(P, m: the PCA's components and mean, identity without PCA), which is exactly what
scikit-learn evaluates; the same arrays are what :meth:`save` writes (.npz, no pickle),
so a loaded model predicts bit-for-bit like the fitted one.

Hyperparameters, chosen on the training data only:

- :func:`grid_svr` (grad-, physfeat1-, cnnpca-svr; beyond the paper latent-, twopoint-svr):
  k-fold cross-validation over a small grid of C, epsilon and gamma in {scale, auto}, the
  paper's "3-5 values per model".
  C and epsilon are given relative to the standard deviation of the training labels: an
  epsilon-SVR is equivariant under y -> s y with C -> s C, epsilon -> s epsilon, so one
  relative grid fits the Ising (0..255) and the CH (pJ/um) label scales alike.
- :func:`tune_svr` (physfeat2-svr): optuna's TPE sampler over the paper's Table B.3 space,
  C log-uniform in (1e-5, 1e6), gamma in {scale, auto}, epsilon uniform in (0.1, 0.5),
  scored by k-fold CV RMSE; every trial is returned (the training rule writes them to
  ``trials.csv`` beside the model).

Both leave whole groups out of each CV fold when given one label per sample
(``groups``; the workflow passes CH's run, ``models.svr.cv_by_run``): the CV then scores
what the test split scores, a fit on other runs (the folds are
:func:`microprop.splits.fold_pairs`, which the conformal calibration uses too).
"""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from microprop.splits import fold_pairs, n_groups, subsample

log = logging.getLogger("microprop")


def _resolve_gamma(gamma, X: np.ndarray) -> float:
    """Numeric gamma as scikit-learn resolves 'scale' and 'auto' on the (scaled) data."""
    if gamma == "scale":
        var = float(X.var())
        return 1.0 / (X.shape[1] * var) if var > 0 else 1.0
    if gamma == "auto":
        return 1.0 / X.shape[1]
    return float(gamma)


class SVRegressor(RegressorMixin, BaseEstimator):
    """RBF epsilon-SVR, optionally on PCA components and/or standardized inputs.

    ``max_iter`` > 0 caps libsvm's iterations; a fit that hits the cap sets ``capped_``.
    ``cache_size`` is libsvm's kernel cache in MB.

    >>> rng = np.random.default_rng(0); X = rng.uniform(-1, 1, (200, 2))
    >>> y = 3 * X[:, 0] + X[:, 1] ** 2
    >>> m = SVRegressor(C=10.0, epsilon=0.01).fit(X, y)
    >>> bool(np.sqrt(np.mean((m.predict(X) - y) ** 2)) < 0.1)
    True
    """

    def __init__(
        self,
        C: float = 1.0,
        gamma="scale",
        epsilon: float = 0.1,
        max_iter: int = -1,
        standardize: bool = True,
        n_components: int = 0,
        cache_size: float = 2000.0,
    ):
        self.C = C
        self.gamma = gamma
        self.epsilon = epsilon
        self.max_iter = max_iter
        self.standardize = standardize
        self.n_components = n_components
        self.cache_size = cache_size

    def _project(self, X: np.ndarray) -> np.ndarray:
        if getattr(self, "pca_components_", None) is None:
            return X
        return (X - self.pca_mean_) @ self.pca_components_.T

    def _inputs(self, X) -> np.ndarray:
        """The SVR's inputs z(x) of raw inputs x (PCA, then scaling)."""
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} features, got {X.shape[1]}")
        return np.ascontiguousarray((self._project(X) - self.scaler_mean_) / self.scaler_scale_)

    def fit(self, X, y):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.svm import SVR

        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        y = np.ascontiguousarray(y, dtype=np.float64)
        if len(X) != len(y) or len(y) == 0:
            raise ValueError(f"X and y must be non-empty and aligned: {len(X)} vs {len(y)}")
        self.n_features_in_ = X.shape[1]
        self.pca_components_ = self.pca_mean_ = None
        if self.n_components:
            from sklearn.decomposition import PCA

            k = min(int(self.n_components), X.shape[0], X.shape[1])
            pca = PCA(n_components=k, svd_solver="full").fit(X)
            self.pca_components_, self.pca_mean_ = pca.components_, pca.mean_
        P = self._project(X)
        if self.standardize:
            self.scaler_mean_ = P.mean(axis=0)
            scale = P.std(axis=0)
            self.scaler_scale_ = np.where(scale > 0, scale, 1.0)
        else:
            self.scaler_mean_ = np.zeros(P.shape[1])
            self.scaler_scale_ = np.ones(P.shape[1])
        Z = np.ascontiguousarray((P - self.scaler_mean_) / self.scaler_scale_)
        self.gamma_ = _resolve_gamma(self.gamma, Z)
        svr = SVR(
            kernel="rbf",
            C=float(self.C),
            gamma=self.gamma_,
            epsilon=float(self.epsilon),
            max_iter=self.max_iter,
            cache_size=self.cache_size,
        )
        with warnings.catch_warnings():  # a cap that is hit is counted, not printed
            warnings.simplefilter("ignore", ConvergenceWarning)
            svr.fit(Z, y)
        # libsvm's iteration count (thread-safe, unlike recording the warning)
        self.capped_ = self.max_iter > 0 and int(np.max(svr.n_iter_)) >= self.max_iter
        self.support_vectors_ = np.asarray(svr.support_vectors_, dtype=np.float64)
        self.dual_coef_ = np.asarray(svr.dual_coef_, dtype=np.float64).ravel()
        self.intercept_ = float(np.ravel(svr.intercept_)[0])
        return self

    def predict(self, X) -> np.ndarray:
        Z = self._inputs(X)
        S = self.support_vectors_
        s2 = (S * S).sum(axis=1)
        out = np.empty(len(Z))
        for lo in range(0, len(Z), 1024):  # bounded (chunk x support vectors) kernel
            z = Z[lo : lo + 1024]
            d2 = np.maximum((z * z).sum(axis=1)[:, None] + s2[None] - 2.0 * z @ S.T, 0.0)
            out[lo : lo + 1024] = np.exp(-self.gamma_ * d2) @ self.dual_coef_ + self.intercept_
        return out

    def hyperparameters(self) -> dict:
        return {
            "C": float(self.C),
            "gamma": self.gamma if isinstance(self.gamma, str) else float(self.gamma),
            "gamma_value": float(self.gamma_),
            "epsilon": float(self.epsilon),
            "standardize": bool(self.standardize),
            "n_components": 0 if self.pca_components_ is None else len(self.pca_components_),
            "n_support": int(len(self.dual_coef_)),
            "capped": bool(self.capped_),
        }

    def save(self, path) -> None:
        """Write the fitted model to ``path`` (.npz of plain arrays, no pickle)."""
        pca = {}
        if self.pca_components_ is not None:
            pca = {"input_pca_components": self.pca_components_, "input_pca_mean": self.pca_mean_}
        np.savez(
            path,
            C=float(self.C),
            gamma=str(self.gamma),
            gamma_value=self.gamma_,
            epsilon=float(self.epsilon),
            standardize=bool(self.standardize),
            n_features_in=int(self.n_features_in_),
            scaler_mean=self.scaler_mean_,
            scaler_scale=self.scaler_scale_,
            support_vectors=self.support_vectors_,
            dual_coef=self.dual_coef_,
            intercept=self.intercept_,
            **pca,
        )

    @classmethod
    def load(cls, path) -> SVRegressor:
        with np.load(path, allow_pickle=False) as f:
            gamma = str(f["gamma"])
            has_pca = "input_pca_components" in f.files
            model = cls(
                C=float(f["C"]),
                gamma=gamma if gamma in ("scale", "auto") else float(gamma),
                epsilon=float(f["epsilon"]),
                standardize=bool(f["standardize"]) if "standardize" in f.files else True,
                n_components=int(f["input_pca_components"].shape[0]) if has_pca else 0,
            )
            model.gamma_ = float(f["gamma_value"])
            model.scaler_mean_ = f["scaler_mean"]
            model.scaler_scale_ = f["scaler_scale"]
            model.support_vectors_ = f["support_vectors"]
            model.dual_coef_ = f["dual_coef"]
            model.intercept_ = float(f["intercept"])
            model.pca_components_ = f["input_pca_components"] if has_pca else None
            model.pca_mean_ = f["input_pca_mean"] if has_pca else None
            model.n_features_in_ = (
                int(f["n_features_in"]) if "n_features_in" in f.files else len(f["scaler_mean"])
            )
        model.capped_ = False
        return model


def _cv_scores(estimator, X, y, folds, n_jobs: int) -> tuple[float, float, int]:
    """Mean and spread of the k-fold CV RMSE, and how many fold fits hit ``max_iter``.

    Folds run in ``n_jobs`` threads: libsvm fits without the GIL, and threads start at
    once (worker processes would add seconds of start-up to every timed search).
    """
    from joblib import parallel_config
    from sklearn.model_selection import cross_validate

    with parallel_config(backend="threading"):
        res = cross_validate(
            estimator,
            X,
            y,
            cv=folds,
            scoring="neg_root_mean_squared_error",
            n_jobs=n_jobs,
            return_estimator=True,
        )
    rmse = -np.asarray(res["test_score"])
    capped = sum(bool(e.capped_) for e in res["estimator"])
    return float(rmse.mean()), float(rmse.std()), int(capped)


def grid_svr(
    X,
    y,
    grid: dict,
    seed: int,
    cv_folds: int = 5,
    max_samples: int = 0,
    relative: bool = True,
    n_jobs: int = 1,
    groups=None,
    **fixed,
) -> tuple[dict, dict]:
    """k-fold CV over a grid of C, epsilon, gamma; returns the best values and the scores.

    ``grid`` has lists ``C``, ``epsilon`` and ``gamma``; with ``relative`` C and epsilon
    are multiples of the standard deviation of ``y`` (all training labels given, before
    any ``max_samples`` subset). ``groups`` (one label per sample, e.g. CH's run) makes
    the folds leave whole groups out (:func:`microprop.splits.fold_pairs`). ``fixed``
    are further :class:`SVRegressor` options (``standardize``, ``n_components``).
    Standardized inputs make gamma 'scale' and 'auto' the same number (1/n_features), so
    'auto' is then tried only if it differs.

    >>> rng = np.random.default_rng(0); X = rng.uniform(-1, 1, (80, 1)); y = 5 * X[:, 0]
    >>> best, info = grid_svr(X, y, {"C": [0.1, 10], "epsilon": [0.01], "gamma": ["scale"]},
    ...                       seed=0, cv_folds=3)
    >>> best["C"] == 10 * float(y.std()), len(info["points"])
    (True, 2)
    """
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    y = np.asarray(y, dtype=np.float64)
    label_std = float(y.std()) if relative else 1.0
    label_std = label_std if label_std > 0 else 1.0
    Xs, ys, gs = subsample(X, y, max_samples, seed, groups)
    folds = fold_pairs(len(ys), cv_folds, seed, gs)
    gammas = list(dict.fromkeys(grid["gamma"]))
    if fixed.get("standardize", True) and not fixed.get("n_components"):
        if "scale" in gammas and "auto" in gammas and np.all(Xs.std(axis=0) > 0):
            gammas.remove("auto")  # identical to 'scale' on standardized columns
    t0 = time.perf_counter()
    points = []
    for gamma in gammas:
        for c in grid["C"]:
            for e in grid["epsilon"]:
                params = {"C": c * label_std, "epsilon": e * label_std, "gamma": gamma}
                mean, std, capped = _cv_scores(
                    SVRegressor(**params, **fixed), Xs, ys, folds, n_jobs
                )
                log.info(
                    "grid point C=%.4g epsilon=%.4g gamma=%s: CV RMSE %.4g +- %.2g",
                    params["C"],
                    params["epsilon"],
                    gamma,
                    mean,
                    std,
                )
                points.append({**params, "cv_rmse": mean, "cv_rmse_std": std, "capped": capped})
    best_point = min(points, key=lambda p: p["cv_rmse"])
    best = {k: best_point[k] for k in ("C", "epsilon", "gamma")}
    info = {
        "method": "grid",
        "n_trials": len(points),
        "cv_folds": len(folds),
        "cv_groups": n_groups(gs),
        "n_samples": int(len(ys)),
        "label_std": label_std,
        "relative": bool(relative),
        "grid": {k: list(v) for k, v in grid.items()},
        "best_cv_rmse": best_point["cv_rmse"],
        "points": points,
        "seconds": time.perf_counter() - t0,
    }
    return best, info


def tune_svr(
    X,
    y,
    n_trials: int,
    seed: int,
    C_range=(1e-5, 1e6),
    gammas=("scale", "auto"),
    epsilon_range=(0.1, 0.5),
    cv_folds: int = 5,
    max_samples: int = 0,
    max_iter: int = -1,
    n_startup_trials: int = 10,
    n_jobs: int = 1,
    groups=None,
    **fixed,
) -> tuple[dict, dict]:
    """TPE search (optuna) over Table B.3's space; k-fold CV RMSE on the given training data.

    C log-uniform in ``C_range``, gamma categorical in ``gammas``, epsilon uniform in
    ``epsilon_range``; the first ``n_startup_trials`` trials are random (optuna's
    start-up), the rest follow TPE. ``max_samples`` > 0 runs the search on a seeded
    random subset of that many training samples (the caller fits the final model on all).
    ``max_iter`` > 0 caps libsvm; fold fits that hit the cap are counted per trial and in
    total (``n_capped_fits``). ``groups`` as in :func:`grid_svr`. Returns the best
    ``{"C", "gamma", "epsilon"}`` and a summary whose ``trials`` lists every trial.

    >>> rng = np.random.default_rng(0); X = rng.uniform(-1, 1, (60, 1)); y = 5 * X[:, 0]
    >>> best, info = tune_svr(X, y, n_trials=3, seed=0, cv_folds=3)
    >>> sorted(best), info["n_trials"], len(info["trials"])
    (['C', 'epsilon', 'gamma'], 3, 3)
    """
    import optuna

    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    y = np.asarray(y, dtype=np.float64)
    X, y, groups = subsample(X, y, max_samples, seed, groups)
    folds = fold_pairs(len(y), cv_folds, seed, groups)
    trials = []

    def objective(trial: optuna.Trial) -> float:
        params = {
            "C": trial.suggest_float("C", *C_range, log=True),
            "gamma": trial.suggest_categorical("gamma", list(gammas)),
            "epsilon": trial.suggest_float("epsilon", *epsilon_range),
        }
        t0 = time.perf_counter()
        model = SVRegressor(**params, max_iter=max_iter, **fixed)
        rmse, std, capped = _cv_scores(model, X, y, folds, n_jobs)
        seconds = time.perf_counter() - t0
        trials.append(
            {"trial": trial.number, **params, "cv_rmse": rmse, "cv_rmse_std": std}
            | {"capped_fits": capped, "seconds": seconds}
        )
        log.info(
            "trial %d/%d: %s -> CV RMSE %.4g (%.1f s%s)",
            trial.number + 1,
            n_trials,
            params,
            rmse,
            seconds,
            f", {capped} fits capped at max_iter" if capped else "",
        )
        return rmse

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=n_trials)
    best = dict(study.best_params)
    best["C"], best["epsilon"] = float(best["C"]), float(best["epsilon"])
    info = {
        "method": "tpe",
        "n_trials": len(study.trials),
        "n_startup_trials": int(n_startup_trials),
        "cv_folds": len(folds),
        "cv_groups": n_groups(groups),
        "n_samples": int(len(y)),
        "best_trial": int(study.best_trial.number),
        "best_cv_rmse": float(study.best_value),
        "max_iter": int(max_iter),
        "n_capped_fits": int(sum(t["capped_fits"] for t in trials)),
        "seconds": time.perf_counter() - t0,
        "space": {"C": list(C_range), "gamma": list(gammas), "epsilon": list(epsilon_range)},
        "trials": trials,
    }
    return best, info


def choose_hyperparameters(
    method: str,
    X,
    y,
    fixed: dict,
    search: dict,
    seed: int = 0,
    n_jobs: int = 1,
    groups=None,
    **model_options,
) -> tuple[dict, dict | None, str]:
    """C, gamma, epsilon of an SVR by ``method``: "tpe" (:func:`tune_svr`), "grid"
    (:func:`grid_svr`) or "fixed" (the ``fixed`` values), on the training data ``X, y``.

    ``search`` holds the options of both searches (microprop.options.svr_search_options:
    n_trials, n_startup_trials, cv_folds, C_range, gammas, epsilon_range, max_samples,
    max_iter, grid, relative, grid_max_samples). A training set too small for k-fold CV
    falls back to the fixed values. Returns the chosen values, the search record (None
    without a search) and the method actually used; the rule train_svr calls it, so the
    dispatch is tested here rather than in a script.
    """
    if method != "fixed" and len(y) < 2 * search["cv_folds"]:
        log.warning(
            "%d training samples: too few for %d-fold CV, fixed values",
            len(y),
            search["cv_folds"],
        )
        method = "fixed"
    if method == "fixed":
        return dict(fixed), None, method
    if method not in ("tpe", "grid"):
        raise ValueError(f"unknown method {method!r} (tpe, grid or fixed)")
    if method == "tpe":
        what = f"TPE search: {search['n_trials']} trials"
        what += f" ({search['n_startup_trials']} random start-up)"
        cap = search["max_samples"]
    else:
        what = f"grid CV: {search['grid']} (x std of the labels: {search['relative']})"
        cap = search["grid_max_samples"]
    log.info(
        "%s, %d-fold CV%s, on up to %d of %d samples",
        what,
        search["cv_folds"],
        " leaving runs out" if groups is not None else "",
        cap or len(y),
        len(y),
    )
    # the options both searches take alike
    shared = dict(seed=seed, cv_folds=search["cv_folds"], max_samples=cap, n_jobs=n_jobs)
    shared |= dict(groups=groups, **model_options)
    if method == "tpe":
        hyper, record = tune_svr(
            X,
            y,
            n_trials=search["n_trials"],
            C_range=search["C_range"],
            gammas=search["gammas"],
            epsilon_range=search["epsilon_range"],
            max_iter=search["max_iter"],
            n_startup_trials=search["n_startup_trials"],
            **shared,
        )
    else:
        hyper, record = grid_svr(X, y, search["grid"], relative=search["relative"], **shared)
    log.info("%s chose %s (CV RMSE %.4g)", record["method"], hyper, record["best_cv_rmse"])
    return hyper, record, method
