"""Inverse design in the autoencoder's latent space, checked by the physics (issue 19).

Given a target energy E*, :func:`design_latent` starts from a random latent code (drawn
from the prior of the training codes), follows the gradient of a differentiable latent
property model towards E* with a prior term that keeps the code on the data manifold
(:class:`CodePrior`: -2 log p(z) of a Gaussian mixture fitted to the training codes; one
component gives the squared Mahalanobis distance under their mean and covariance),
and decodes it (Cang et al., ``reference/004``). The design's true energy is then
computed by the project's own Cahn-Hilliard energy functional (:func:`physics_energy`:
the spectral backend's ``energy()``, bulk + gradient + elastic with the displacement
relaxed exactly by Khachaturyan's B(n)), no learned model involved.

The naive baseline (:func:`design_pixels`) follows the gradient of a CNN property model
on the pixels of a random image, clipped to [0, 1] after every step, then the same
physics check. Both property models are trained on the training split only
(:func:`fit_property_model`, the training loop :func:`microprop.training.fit_torch`).

Physics check of a 64x64 image: pixel (row r, column c) is the field at the node
x = c a, y = (63 - r) a of the simulator's grid (:func:`microprop.ch.backend.pixel_centres`,
a = L / 64; the default simulates on that grid, ``ch.n_cells`` = 64), so the energy is
that of the image itself (:func:`microprop.ch.backend.image_to_grid`; on a finer grid, of
the band-limited field through the pixel values).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch
from torch import nn

from microprop.ch.backend import image_to_grid
from microprop.ch.params import CHParams
from microprop.features.latent import Encoder, as_tensor
from microprop.metrics import regression_metrics
from microprop.splits import capped_subset, stream
from microprop.training import fit_torch

log = logging.getLogger("microprop")


# --------------------------------------------------------------------- physics check


def physics_energy(field: np.ndarray, params: CHParams) -> dict[str, float]:
    """Energy parts and total (pJ µm⁻¹) of a 64x64 field in [0, 1] (image orientation)
    by the simulator's own functional: the spectral backend's ``energy()`` after
    ``set_field`` of the field on its ``n_cells`` grid (:func:`image_to_grid`)."""
    from microprop.ch.spectral import SpectralCahnHilliard

    sim = SpectralCahnHilliard(params)
    sim.set_field(image_to_grid(field, params.n_cells))
    return sim.energy()


def physics_energies(fields: np.ndarray, params: CHParams) -> np.ndarray:
    """Total energies of a stack of fields (N, 64, 64) in [0, 1], one backend reused
    (:meth:`microprop.ch.backend.Backend.image_energies` of the spectral backend)."""
    from microprop.ch.spectral import SpectralCahnHilliard

    return SpectralCahnHilliard(params).image_energies(np.asarray(fields, float))


# ------------------------------------------------------------------- property models


class LatentMLP(nn.Module):
    """Standardized latent code -> standardized property: a small MLP (differentiable)."""

    def __init__(self, latent_size: int, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_size, hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)[:, 0]


class PixelCNN(nn.Module):
    """Image in [0, 1] (N, 1, H, W) -> standardized property: the autoencoder's periodic
    encoder, a global average pool and a linear head (the naive baseline's model)."""

    def __init__(self, channels=(8, 16, 32, 64)):
        super().__init__()
        self.features = Encoder(channels, latent_channels=channels[-1])
        self.head = nn.Linear(channels[-1], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(nn.functional.gelu(self.features(x)).mean(dim=(2, 3)))[:, 0]


class Standardized(nn.Module):
    """``net`` on standardized inputs with its output mapped back to property units."""

    def __init__(self, net: nn.Module, x_mean, x_std, y_mean: float, y_std: float):
        super().__init__()
        self.net = net
        self.register_buffer("x_mean", torch.as_tensor(x_mean, dtype=torch.float32))
        self.register_buffer("x_std", torch.as_tensor(x_std, dtype=torch.float32))
        self.y_mean, self.y_std = float(y_mean), float(y_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.x_mean) / self.x_std) * self.y_std + self.y_mean


def fit_property_model(
    net: nn.Module, X: torch.Tensor, y: np.ndarray, seed: int, per_feature: bool, **fit_options
) -> tuple[Standardized, dict]:
    """Fit ``net`` to the standardized ``y`` (MSE) on inputs ``X`` standardized per column
    (``per_feature``, latent codes) or by one mean and standard deviation (images);
    returns the model in property units and the training history."""
    torch.manual_seed(seed)
    dims = 0 if per_feature else None
    x_mean = X.mean(dim=dims) if per_feature else X.mean()
    x_std = (X.std(dim=dims) if per_feature else X.std()).clamp_min(1e-8)
    y_mean, y_std = float(np.mean(y)), float(np.std(y)) or 1.0
    yt = torch.as_tensor((np.asarray(y) - y_mean) / y_std, dtype=torch.float32)
    history = fit_torch(net, nn.functional.mse_loss, (X - x_mean) / x_std, yt, seed, **fit_options)
    return Standardized(net, x_mean, x_std, y_mean, y_std).eval(), history


# ----------------------------------------------------------------------- design loops


class CodePrior:
    """A Gaussian mixture of the training codes (:class:`sklearn.mixture.GaussianMixture`,
    full covariances): seeded samples and a differentiable distance to the data.

    :meth:`distance2` is ``-2 log p(z)`` up to the constant that makes it the squared
    Mahalanobis distance for one component; with ``n_components=1`` the prior is the
    Gaussian of the codes' mean and covariance.
    """

    def __init__(self, codes: np.ndarray, n_components: int = 1, seed: int = 0):
        from sklearn.mixture import GaussianMixture

        codes = np.asarray(codes, dtype=np.float64)
        self.gmm = GaussianMixture(n_components, covariance_type="full", random_state=seed)
        self.gmm.fit(codes)
        g = self.gmm
        self.chol_cov = np.linalg.cholesky(g.covariances_)
        self._means = torch.as_tensor(g.means_, dtype=torch.float32)
        self._prec_chol = torch.as_tensor(g.precisions_cholesky_, dtype=torch.float32)
        # log weight + log sqrt det(precision), per component
        logdet = np.log(np.diagonal(g.precisions_cholesky_, axis1=1, axis2=2)).sum(axis=1)
        self._offset = torch.as_tensor(np.log(g.weights_) + logdet, dtype=torch.float32)
        self._top = float(self._offset.max())

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        k = rng.choice(len(self.gmm.weights_), size=n, p=self.gmm.weights_)
        eps = rng.standard_normal((n, self.gmm.means_.shape[1]))
        return self.gmm.means_[k] + np.einsum("nij,nj->ni", self.chol_cov[k], eps)

    def distance2(self, z: torch.Tensor) -> torch.Tensor:
        """``-2 (log p(z) - log p_max)``, p_max the largest component peak (>= 0)."""
        y = torch.einsum("nd,kde->nke", z, self._prec_chol) - torch.einsum(
            "kd,kde->ke", self._means, self._prec_chol
        )
        log_p = torch.logsumexp(self._offset - 0.5 * (y**2).sum(dim=-1), dim=1)
        return -2.0 * (log_p - self._top)


def design_latent(
    model: nn.Module,
    prior: CodePrior,
    targets: np.ndarray,
    seed: int,
    steps: int = 300,
    lr: float = 0.05,
    prior_weight: float = 0.1,
    scale: float | None = None,
) -> np.ndarray:
    """Latent codes (len(targets), d) designed for the targets (one random start each).

    Minimizes ``((f(z) - E*) / scale)² + prior_weight * D(z)² / d`` (``D² =
    prior.distance2``, the squared Mahalanobis distance for a Gaussian prior) with Adam (cosine
    learning-rate decay to 0 over ``steps``) from codes drawn from the prior; ``scale``
    (default: the spread of the targets, or 1) makes the property term dimensionless.
    """
    targets = np.asarray(targets, dtype=np.float64)
    scale = scale or float(np.std(targets)) or 1.0
    z0 = prior.sample(len(targets), stream("design_start", seed))
    t = torch.as_tensor(targets, dtype=torch.float32)
    d = z0.shape[1]

    def loss(z):
        return (((model(z) - t) / scale) ** 2 + prior_weight * prior.distance2(z) / d).sum()

    return _descend(model, z0, loss, steps, lr).astype(np.float64)


def design_pixels(
    model: nn.Module,
    targets: np.ndarray,
    seed: int,
    image_size: int = 64,
    steps: int = 300,
    lr: float = 0.01,
    scale: float | None = None,
) -> np.ndarray:
    """Fields (len(targets), H, W) in [0, 1] designed on the pixels (the naive baseline).

    From uniform random images, Adam (cosine decay) on ``((f(x) - E*) / scale)²`` over the pixels,
    clipped to [0, 1] after every step (projected gradient).
    """
    targets = np.asarray(targets, dtype=np.float64)
    scale = scale or float(np.std(targets)) or 1.0
    rng = stream("design_pixel", seed)
    x0 = rng.uniform(0.0, 1.0, (len(targets), 1, image_size, image_size))
    t = torch.as_tensor(targets, dtype=torch.float32)

    def loss(x):
        return (((model(x) - t) / scale) ** 2).sum()

    x = _descend(model, x0, loss, steps, lr, bounds=(0.0, 1.0))
    return x[:, 0].astype(np.float64)


def _descend(model, start, loss, steps, lr, bounds=None) -> np.ndarray:
    """Adam with cosine learning-rate decay to 0 over ``steps`` on the input ``start`` of a
    frozen ``model``, minimizing ``loss(input)``; clipped to ``bounds`` after every step
    (projected gradient) when given. Shared by the latent and the pixel design loops."""
    x = torch.tensor(start, dtype=torch.float32, requires_grad=True)
    opt = torch.optim.Adam([x], lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for p in model.parameters():
        p.requires_grad_(False)
    for _ in range(steps):
        opt.zero_grad()
        loss(x).backward()
        opt.step()
        schedule.step()
        if bounds is not None:
            with torch.no_grad():
                x.clamp_(*bounds)
    return x.detach().numpy()


@torch.no_grad()
def predict(model: nn.Module, inputs: torch.Tensor, batch_size: int = 512) -> np.ndarray:
    """``model`` on ``inputs`` in batches, as float64."""
    model.eval()
    out = [model(inputs[lo : lo + batch_size]) for lo in range(0, len(inputs), batch_size)]
    return torch.cat(out).double().numpy()


def relative_error(true, target) -> np.ndarray:
    """|true - target| / |target|.

    >>> relative_error([110.0, 90.0], [100.0, 100.0]).tolist()
    [0.1, 0.1]
    """
    return np.abs(np.asarray(true, float) - np.asarray(target, float)) / np.abs(target)


def targets_across(y: np.ndarray, n: int, low: float = 0.05, high: float = 0.95) -> np.ndarray:
    """``n`` targets at evenly spaced quantiles of the training labels ``y``.

    >>> targets_across(np.arange(101.0), 3).round(6).tolist()
    [5.0, 50.0, 95.0]
    """
    return np.quantile(np.asarray(y, float), np.linspace(low, high, n))


def design_study(
    ae,
    images: np.ndarray,
    labels: np.ndarray,
    codes: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    params: CHParams,
    seed: int = 0,
    n_targets: int = 10,
    quantiles=(0.05, 0.95),
    property_fit: str = "decoded",
    max_fit: int = 4000,
    hidden: int = 64,
    mlp_epochs: int = 300,
    mlp_lr: float = 3e-3,
    cnn_epochs: int = 10,
    cnn_lr: float = 2e-3,
    steps: int = 400,
    lr: float = 0.05,
    prior_weight: float = 0.1,
    prior_components: int = 1,
    prior_samples: int = 4000,
    pixel_steps: int = 400,
    pixel_lr: float = 0.01,
    n_check: int = 500,
) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict]:
    """The design study: latent and pixel designs for targets across the training labels.

    ``ae`` is the dataset's autoencoder, ``codes`` its codes of every image, ``train`` and
    ``test`` the split's rows. The latent property model (:class:`LatentMLP`) learns the
    CH energy of the decoded codes of up to ``max_fit`` training rows and of
    ``prior_samples`` codes drawn from the prior (``property_fit="decoded"``), or the
    labels of those training rows (``"label"``); the pixel baseline's
    :class:`PixelCNN` learns the labels from the images. Both are scored on up to
    ``n_check`` test rows; the physics check is scored against the labels there too.
    Returns the table (per target: target, predicted and true energies and relative
    errors of both methods), the designed fields and a summary with the medians.
    """
    from microprop.features.latent import decode

    fit = capped_subset(train, max_fit, seed)
    check = capped_subset(test, n_check, seed)
    log.info("physics check of %d test images against their labels", len(check))
    check_true = physics_energies(images[check] / 255.0, params)
    check_err = relative_error(check_true, labels[check])
    log.info(
        "physics check vs label: median relative difference %.4f, max %.4f",
        np.median(check_err),
        check_err.max(),
    )

    prior = CodePrior(codes[train], prior_components, seed)
    z_fit = codes[fit]
    if property_fit == "decoded":
        # codes drawn from the prior as well: the model is fitted where designs start and go
        z_prior = prior.sample(prior_samples, stream("design_prior", seed))
        z_fit = np.concatenate([z_fit, z_prior.astype(z_fit.dtype)])
        log.info("CH energies of %d decoded codes (training and prior samples)", len(z_fit))
        y_fit = physics_energies(decode(ae, z_fit), params)
        y_check = physics_energies(decode(ae, codes[check]), params)
    elif property_fit == "label":
        y_fit, y_check = labels[fit], labels[check]
    else:
        raise ValueError(f"property_fit must be decoded or label, got {property_fit!r}")
    z_fit = torch.as_tensor(z_fit, dtype=torch.float32)
    mlp, mlp_history = fit_property_model(
        LatentMLP(codes.shape[1], hidden),
        z_fit,
        y_fit,
        seed,
        per_feature=True,
        max_epochs=mlp_epochs,
        lr=mlp_lr,
        batch_size=64,
        patience=20,
        name="latent property MLP",
    )
    mlp_check = predict(mlp, torch.as_tensor(codes[check], dtype=torch.float32))
    x_fit = as_tensor(images[fit])
    cnn, cnn_history = fit_property_model(
        PixelCNN(),
        x_fit,
        labels[fit],
        seed,
        per_feature=False,
        max_epochs=cnn_epochs,
        lr=cnn_lr,
        batch_size=64,
        patience=3,
        augment=True,
        name="pixel CNN",
    )
    cnn_check = predict(cnn, as_tensor(images[check]))

    targets = targets_across(labels[train], n_targets, *quantiles)
    scale = float(np.std(labels[train]))
    z = design_latent(mlp, prior, targets, seed, steps, lr, prior_weight, scale)
    fields = {"latent": decode(ae, z)}
    pred = {"latent": predict(mlp, torch.as_tensor(z, dtype=torch.float32))}
    fields["pixel"] = design_pixels(
        cnn, targets, seed, images.shape[-1], pixel_steps, pixel_lr, scale
    )
    pred["pixel"] = predict(cnn, torch.as_tensor(fields["pixel"][:, None], dtype=torch.float32))
    table = pd.DataFrame({"target": targets})
    for method in ("latent", "pixel"):
        true = physics_energies(fields[method], params)
        table[f"{method}_predicted"] = pred[method]
        table[f"{method}_true"] = true
        table[f"{method}_rel_error"] = relative_error(true, targets)
        table[f"{method}_model_error"] = relative_error(true, pred[method])
    table["latent_prior_distance"] = np.sqrt(
        prior.distance2(torch.as_tensor(z, dtype=torch.float32)).numpy()
    )

    summary = {
        "n_fit": int(len(fit)),
        "n_prior_samples": int(prior_samples) if property_fit == "decoded" else 0,
        "n_check": int(len(check)),
        "property_fit": property_fit,
        "physics_check_vs_label": {
            "median_rel": float(np.median(check_err)),
            "max_rel": float(check_err.max()),
        },
        "latent_model_test_rmse": regression_metrics(y_check, mlp_check)["rmse"],
        "pixel_model_test_rmse": regression_metrics(labels[check], cnn_check)["rmse"],
        "label_std": scale,
        "median_rel_error": {m: float(table[f"{m}_rel_error"].median()) for m in fields},
        "median_model_error": {m: float(table[f"{m}_model_error"].median()) for m in fields},
        "training_codes_prior_distance_median": float(
            np.median(
                np.sqrt(prior.distance2(torch.as_tensor(codes[train], dtype=torch.float32)).numpy())
            )
        ),
        "mlp": {k: v for k, v in mlp_history.items() if k != "history"},
        "cnn": {k: v for k, v in cnn_history.items() if k != "history"},
    }
    return table, fields, summary


def design_markdown(table: pd.DataFrame, summary: dict, unit: str = "pJ/um") -> str:
    """The design table in markdown, with the median relative errors and the checks."""
    cols = {
        "target": f"target E* [{unit}]",
        "latent_predicted": "latent: predicted",
        "latent_true": "latent: true",
        "latent_rel_error": "latent: rel. error",
        "pixel_predicted": "pixel: predicted",
        "pixel_true": "pixel: true",
        "pixel_rel_error": "pixel: rel. error",
    }
    shown = table[list(cols)].rename(columns=cols)
    med = summary["median_rel_error"]
    check = summary["physics_check_vs_label"]
    lines = [
        "# Inverse design of CH microstructures for a target energy\n",
        shown.to_markdown(index=False, floatfmt=".3g") + "\n",
        f"Median relative error (|true - E*| / E*): latent designs {med['latent']:.3f}, "
        f"pixel designs {med['pixel']:.3f}. 'true': the CH energy functional of the design "
        "(microprop.design.physics_energy), no learned model; 'predicted': the property "
        "model the design followed (latent: MLP on the code, learned from "
        f"{summary['property_fit']} energies; pixel: CNN on the pixels).",
        f"Physics check against the dataset labels on {summary['n_check']} test images: "
        f"median relative difference {check['median_rel']:.4f}, max {check['max_rel']:.4f}.",
        "Property models on the test images: latent MLP RMSE "
        f"{summary['latent_model_test_rmse']:.1f}, "
        f"pixel CNN RMSE {summary['pixel_model_test_rmse']:.1f} {unit} "
        f"(label standard deviation {summary['label_std']:.1f}).",
    ]
    return "\n\n".join(lines) + "\n"


__all__ = [
    "CodePrior",
    "LatentMLP",
    "PixelCNN",
    "design_latent",
    "design_pixels",
    "fit_property_model",
    "design_markdown",
    "design_study",
    "physics_energies",
    "physics_energy",
    "predict",
    "relative_error",
    "targets_across",
]
