"""Support vector regression on standardized features (the paper's section 3.2.2, App. B.1).

:class:`SVRegressor` is scikit-learn's epsilon-SVR with an RBF kernel behind a
``StandardScaler`` (features only; the targets keep their units, so ``epsilon`` is in
property units as in the paper's Table B.3). After fitting, prediction is computed from
the stored support vectors, dual coefficients, intercept and the numeric ``gamma``:

    f(x) = sum_i a_i exp(-gamma ||z(x) - s_i||^2) + b,   z(x) = (x - mean) / scale,

which is exactly what scikit-learn evaluates; the same arrays are what :meth:`save`
writes (.npz, no pickle), so a loaded model predicts bit-for-bit like the fitted one.

:func:`tune_svr` is the paper's hyperparameter search: optuna's TPE sampler over C
(log-uniform), gamma and epsilon, scored by k-fold cross-validation on the training
data only. The paper's Table B.3 lists gamma's range as "scale, auto"; on standardized
features both equal 1/n_features (1/64 for the paper's final value). We search gamma
log-uniformly in a configurable range that contains 1/64 instead (assumption, not from
the paper), and record every chosen value.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

log = logging.getLogger("microprop")


def _resolve_gamma(gamma, X: np.ndarray) -> float:
    """Numeric gamma as scikit-learn resolves 'scale' and 'auto' on (scaled) data."""
    if gamma == "scale":
        var = float(X.var())
        return 1.0 / (X.shape[1] * var) if var > 0 else 1.0
    if gamma == "auto":
        return 1.0 / X.shape[1]
    return float(gamma)


class SVRegressor(RegressorMixin, BaseEstimator):
    """RBF epsilon-SVR on standardized features, saved as plain arrays.

    >>> rng = np.random.default_rng(0); X = rng.uniform(-1, 1, (200, 2))
    >>> y = 3 * X[:, 0] + X[:, 1] ** 2
    >>> m = SVRegressor(C=10.0, epsilon=0.01).fit(X, y)
    >>> bool(np.sqrt(np.mean((m.predict(X) - y) ** 2)) < 0.1)
    True
    """

    def __init__(self, C: float = 1.0, gamma="scale", epsilon: float = 0.1, max_iter: int = -1):
        self.C = C
        self.gamma = gamma
        self.epsilon = epsilon
        self.max_iter = max_iter

    def fit(self, X, y):
        from sklearn.svm import SVR

        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        y = np.asarray(y, dtype=np.float64)
        if len(X) != len(y) or len(y) == 0:
            raise ValueError(f"X and y must be non-empty and aligned: {len(X)} vs {len(y)}")
        self.scaler_mean_ = X.mean(axis=0)
        scale = X.std(axis=0)
        self.scaler_scale_ = np.where(scale > 0, scale, 1.0)
        Z = (X - self.scaler_mean_) / self.scaler_scale_
        self.gamma_ = _resolve_gamma(self.gamma, Z)
        svr = SVR(
            kernel="rbf",
            C=float(self.C),
            gamma=self.gamma_,
            epsilon=float(self.epsilon),
            max_iter=self.max_iter,
            cache_size=500,
        ).fit(Z, y)
        self.support_vectors_ = np.asarray(svr.support_vectors_, dtype=np.float64)
        self.dual_coef_ = np.asarray(svr.dual_coef_, dtype=np.float64).ravel()
        self.intercept_ = float(np.ravel(svr.intercept_)[0])
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} features, got {X.shape[1]}")
        Z = (X - self.scaler_mean_) / self.scaler_scale_
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
            "n_support": int(len(self.dual_coef_)),
        }

    def save(self, path) -> None:
        """Write the fitted model to ``path`` (.npz of plain arrays, no pickle)."""
        np.savez(
            path,
            C=float(self.C),
            gamma=str(self.gamma),
            gamma_value=self.gamma_,
            epsilon=float(self.epsilon),
            scaler_mean=self.scaler_mean_,
            scaler_scale=self.scaler_scale_,
            support_vectors=self.support_vectors_,
            dual_coef=self.dual_coef_,
            intercept=self.intercept_,
        )

    @classmethod
    def load(cls, path) -> SVRegressor:
        with np.load(path, allow_pickle=False) as f:
            gamma = str(f["gamma"])
            model = cls(
                C=float(f["C"]),
                gamma=gamma if gamma in ("scale", "auto") else float(gamma),
                epsilon=float(f["epsilon"]),
            )
            model.gamma_ = float(f["gamma_value"])
            model.scaler_mean_ = f["scaler_mean"]
            model.scaler_scale_ = f["scaler_scale"]
            model.support_vectors_ = f["support_vectors"]
            model.dual_coef_ = f["dual_coef"]
            model.intercept_ = float(f["intercept"])
        model.n_features_in_ = model.scaler_mean_.shape[0]
        return model


def tune_svr(
    X,
    y,
    n_trials: int,
    seed: int,
    C_range=(1e-5, 1e6),
    gamma_range=(1e-4, 10.0),
    epsilon_range=(0.1, 0.5),
    cv_folds: int = 5,
    max_samples: int = 0,
    max_iter: int = -1,
    n_jobs: int = 1,
) -> tuple[dict, dict]:
    """TPE search (optuna) for C, gamma, epsilon; k-fold CV RMSE on the given training data.

    ``max_samples`` > 0 runs the search on a seeded random subset of that many training
    samples (to bound its cost; the final model is fit on all of them by the caller).
    Returns the best ``{"C", "gamma", "epsilon"}`` and a summary of the search.

    >>> rng = np.random.default_rng(0); X = rng.uniform(-1, 1, (60, 1)); y = 5 * X[:, 0]
    >>> best, info = tune_svr(X, y, n_trials=3, seed=0, cv_folds=3)
    >>> sorted(best), info["n_trials"]
    (['C', 'epsilon', 'gamma'], 3)
    """
    import optuna
    from sklearn.model_selection import KFold, cross_val_score

    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    y = np.asarray(y, dtype=np.float64)
    if max_samples and len(y) > max_samples:
        keep = np.sort(np.random.default_rng([seed, 2]).permutation(len(y))[:max_samples])
        X, y = X[keep], y[keep]
    folds = KFold(n_splits=min(cv_folds, len(y)), shuffle=True, random_state=seed)

    def objective(trial: optuna.Trial) -> float:
        params = {
            "C": trial.suggest_float("C", *C_range, log=True),
            "gamma": trial.suggest_float("gamma", *gamma_range, log=True),
            "epsilon": trial.suggest_float("epsilon", *epsilon_range),
        }
        scores = cross_val_score(
            SVRegressor(**params, max_iter=max_iter),
            X,
            y,
            cv=folds,
            scoring="neg_root_mean_squared_error",
            n_jobs=n_jobs,
        )
        rmse = float(-scores.mean())
        log.info("trial %d/%d: %s -> CV RMSE %.4g", trial.number + 1, n_trials, params, rmse)
        return rmse

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=n_trials)
    best = {k: float(v) for k, v in study.best_params.items()}
    info = {
        "n_trials": len(study.trials),
        "cv_folds": folds.get_n_splits(),
        "n_samples": int(len(y)),
        "best_cv_rmse": float(study.best_value),
        "seconds": time.perf_counter() - t0,
        "ranges": {"C": list(C_range), "gamma": list(gamma_range), "epsilon": list(epsilon_range)},
    }
    return best, info
