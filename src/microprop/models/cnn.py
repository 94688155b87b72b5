"""CNN regressors (the paper's sections 3.2.3 and 3.2.4, Appendix B.4).

:class:`CNNRegressor` wraps a torchvision architecture (``resnet18``, ``resnet152``,
``densenet121``, ``efficientnet_b0``; ``resnet34`` for the multichannel MuCha-CNN) whose
classification head is replaced by a single linear output.

Inputs and targets
    Images are uint8 (N, H, W) (one grayscale channel) or (N, C, H, W). They are scaled
    to [0, 1] and standardized with the mean and standard deviation of the training
    images (one pair per channel), the paper's "subtracting the mean and dividing by the
    variance" (we divide by the standard deviation). A grayscale image is repeated to
    the three input channels the torchvision networks (and their ImageNet weights)
    expect; the first convolution is not altered. Targets are standardized with the
    training mean and standard deviation and predictions mapped back (assumption, not
    from the paper: it keeps one learning rate valid for labels 0..255 and for
    energies alike).

Training protocol (``protocol="paper"``, section 3.2.3)
    20 % of the training subset is held out for validation; Adam at ``lr`` (1e-3),
    halved by ``ReduceLROnPlateau`` on the validation loss down to ``min_lr`` (1e-5);
    batch 32; MSE loss (assumption, not from the paper); early stopping after
    ``patience`` (20) epochs without a better validation loss, and the best checkpoint
    restored. With ``pretrained=True`` the ImageNet weights are loaded, the new head is
    trained with everything else frozen (up to ``head_epochs``), then the whole network
    is trained at ``finetune_lr`` (1e-4), both phases with the same stopping rule.

MuCha protocol (``protocol="mucha"``, section 3.2.4)
    SGD at lr 1e-3 with momentum 0.9, L1 loss, a fixed number of epochs, no validation
    split and no schedule; the final weights are kept.

Devices
    CUDA when present, with automatic mixed precision (bf16 where supported, else fp16
    with a gradient scaler) and channels_last tensors; otherwise the CPU with ``threads``
    threads. On the CPU the run is deterministic for a given seed: initial weights,
    validation split and batch order all come from ``seed`` and deterministic algorithms
    are enforced.

Saving
    :meth:`CNNRegressor.save` writes ``{"state_dict", "meta"}`` with ``torch.save``;
    :meth:`CNNRegressor.load` reads it with ``torch.load(weights_only=True)`` (tensors and
    plain values only, no pickled objects) and needs no ImageNet weights.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import time

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from torch import nn

from microprop.weights import imagenet_state_dict

log = logging.getLogger("microprop")

ARCHITECTURES = ("resnet18", "resnet152", "densenet121", "efficientnet_b0")
MUCHA_ARCH = "resnet34"


def parse_model_id(model_id: str) -> tuple[str, bool]:
    """Architecture and pretrained flag of a CNN model id.

    >>> parse_model_id("resnet18-pretrained"), parse_model_id("efficientnet_b0")
    (('resnet18', True), ('efficientnet_b0', False))
    """
    arch, _, suffix = model_id.partition("-")
    if arch not in ARCHITECTURES or suffix not in ("", "pretrained"):
        raise ValueError(f"not a CNN model id: {model_id!r} (architectures: {ARCHITECTURES})")
    return arch, suffix == "pretrained"


def build_network(
    arch: str, pretrained: bool = False, seed: int = 0, download: bool = False
) -> nn.Module:
    """A torchvision ``arch`` with a single regression output; seeded random init.

    ``pretrained=True`` loads the default ImageNet weights through torchvision's weights
    API from the torch cache; a missing file is downloaded only with ``download=True``
    (and where the network allows), otherwise it is an error naming the file.
    """
    import torchvision

    torch.manual_seed(seed)
    net = torchvision.models.get_model(arch, weights=None)
    if pretrained:
        net.load_state_dict(imagenet_state_dict(arch, download))
    torch.manual_seed(seed + 1)
    if hasattr(net, "fc"):  # resnets
        net.fc = nn.Linear(net.fc.in_features, 1)
    elif isinstance(net.classifier, nn.Linear):  # densenet
        net.classifier = nn.Linear(net.classifier.in_features, 1)
    else:  # efficientnet: Sequential(Dropout, Linear)
        net.classifier[-1] = nn.Linear(net.classifier[-1].in_features, 1)
    return net


def head_of(net: nn.Module) -> nn.Module:
    """The regression head (the only part trained in the frozen phase)."""
    if hasattr(net, "fc"):
        return net.fc
    return net.classifier if isinstance(net.classifier, nn.Linear) else net.classifier[-1]


class _Standardized(nn.Module):
    """Network behind input standardization: uint8 (N, C, H, W) in, one value out."""

    def __init__(self, net: nn.Module, mean: np.ndarray, std: np.ndarray):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.float() / 255.0 - self.mean) / self.std
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1).contiguous()
        return self.net(x).squeeze(1)


def _as_nchw(X) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim == 3:
        X = X[:, None]
    if X.ndim != 4:
        raise ValueError(f"expected images (N, H, W) or (N, C, H, W), got shape {X.shape}")
    return X


def _device(name: str | None) -> torch.device:
    """``None`` or ``"auto"``: CUDA when present, else the CPU."""
    if name and name != "auto":
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class CNNRegressor(RegressorMixin, BaseEstimator):
    """A torchvision CNN trained to predict one scalar from images.

    ``max_epochs`` caps the epochs of each phase; ``head_epochs`` caps the frozen phase
    of a pretrained network. See the module docstring for the protocols.
    """

    def __init__(
        self,
        arch: str = "resnet18",
        pretrained: bool = False,
        protocol: str = "paper",
        max_epochs: int = 100,
        head_epochs: int = 10,
        batch_size: int = 32,
        lr: float = 1e-3,
        finetune_lr: float = 1e-4,
        min_lr: float = 1e-5,
        plateau_factor: float = 0.5,
        plateau_patience: int = 5,
        patience: int = 20,
        val_fraction: float = 0.2,
        momentum: float = 0.9,
        amp: bool = True,
        download: bool = False,
        threads: int = 0,
        device: str | None = None,
        seed: int = 0,
    ):
        self.arch = arch
        self.pretrained = pretrained
        self.protocol = protocol
        self.max_epochs = max_epochs
        self.head_epochs = head_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.finetune_lr = finetune_lr
        self.min_lr = min_lr
        self.plateau_factor = plateau_factor
        self.plateau_patience = plateau_patience
        self.patience = patience
        self.val_fraction = val_fraction
        self.momentum = momentum
        self.amp = amp
        self.download = download
        self.threads = threads
        self.device = device
        self.seed = seed

    # ------------------------------------------------------------------ training
    def _setup_torch(self) -> torch.device:
        device = _device(self.device)
        if device.type == "cpu":
            torch.set_num_threads(self.threads or os.cpu_count() or 1)
            torch.use_deterministic_algorithms(True)
            # filling every new tensor with NaN (the deterministic default) costs up to
            # 10x on the CPU and is not needed for reproducibility
            torch.utils.deterministic.fill_uninitialized_memory = False
        else:
            torch.backends.cudnn.benchmark = True
        return device

    def _autocast(self, device: torch.device):
        if device.type == "cuda" and self.amp:
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            return torch.autocast("cuda", dtype=dtype)
        return torch.autocast(device.type, enabled=False)

    def fit(self, X, y):
        if self.protocol not in ("paper", "mucha"):
            raise ValueError(f"protocol must be 'paper' or 'mucha', got {self.protocol!r}")
        X = _as_nchw(X)
        y = np.asarray(y, dtype=np.float64)
        if len(X) != len(y) or len(y) < 2:
            raise ValueError(f"need >= 2 aligned samples, got {len(X)} images, {len(y)} targets")
        device = self._setup_torch()
        gen = torch.Generator().manual_seed(self.seed)
        val_fraction = self.val_fraction if self.protocol == "paper" else 0.0
        perm = torch.randperm(len(y), generator=gen).numpy()
        n_val = int(round(val_fraction * len(y))) if val_fraction > 0 else 0
        n_val = min(n_val, len(y) - 1)
        val_idx, fit_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])

        Xf = X[fit_idx].astype(np.float64) / 255.0
        mean = Xf.mean(axis=(0, 2, 3))
        std = Xf.std(axis=(0, 2, 3))
        del Xf
        self.x_mean_, self.x_std_ = mean, np.where(std > 0, std, 1.0)
        self.y_mean_ = float(y[fit_idx].mean())
        self.y_std_ = float(y[fit_idx].std()) or 1.0
        self.in_channels_ = int(X.shape[1])
        arch = MUCHA_ARCH if self.protocol == "mucha" else self.arch
        pretrained = self.pretrained and self.protocol == "paper"
        net = build_network(arch, pretrained, self.seed, self.download)
        model = _Standardized(net, self.x_mean_, self.x_std_).to(device)
        if device.type == "cuda":
            model = model.to(memory_format=torch.channels_last)

        Xt = torch.from_numpy(np.ascontiguousarray(X))
        yt = torch.from_numpy((y - self.y_mean_) / self.y_std_).float()
        data = (Xt[fit_idx], yt[fit_idx], Xt[val_idx], yt[val_idx])
        self.n_fit_, self.n_val_ = len(fit_idx), len(val_idx)
        self.history_ = []
        if self.protocol == "mucha":
            opt = torch.optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum)
            self._train(model, opt, None, nn.L1Loss(), self.max_epochs, data, device, gen, "mucha")
        else:
            loss = nn.MSELoss()
            if self.pretrained:
                for p in model.parameters():
                    p.requires_grad_(False)
                head = head_of(model.net)
                for p in head.parameters():
                    p.requires_grad_(True)
                opt = torch.optim.Adam(head.parameters(), lr=self.lr)
                self._train(
                    model,
                    opt,
                    self._plateau(opt),
                    loss,
                    self.head_epochs,
                    data,
                    device,
                    gen,
                    "head",
                )
                for p in model.parameters():
                    p.requires_grad_(True)
                lr = self.finetune_lr
            else:
                lr = self.lr
            opt = torch.optim.Adam(model.parameters(), lr=lr)
            phase = "finetune" if self.pretrained else "train"
            self._train(
                model, opt, self._plateau(opt), loss, self.max_epochs, data, device, gen, phase
            )
        self.model_ = model.to("cpu").to(memory_format=torch.contiguous_format).eval()
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        return self

    def _plateau(self, opt):
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, factor=self.plateau_factor, patience=self.plateau_patience, min_lr=self.min_lr
        )

    def _batches(self, n: int, gen: torch.Generator | None):
        order = torch.randperm(n, generator=gen) if gen is not None else torch.arange(n)
        for lo in range(0, n, self.batch_size):
            yield order[lo : lo + self.batch_size]

    def _to(self, x: torch.Tensor, device: torch.device) -> torch.Tensor:
        x = x.to(device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else x

    def _evaluate(self, model, X, y, loss_fn, device) -> float:
        model.eval()
        total = 0.0
        with torch.inference_mode(), self._autocast(device):
            for lo in range(0, len(X), 256):
                out = model(self._to(X[lo : lo + 256], device)).float()
                total += float(loss_fn(out, y[lo : lo + 256].to(device))) * len(out)
        return total / max(len(X), 1)

    def _train(self, model, opt, scheduler, loss_fn, epochs, data, device, gen, phase):
        Xfit, yfit, Xval, yval = data
        scaler = torch.amp.GradScaler(
            enabled=device.type == "cuda" and self.amp and not torch.cuda.is_bf16_supported()
        )
        best, best_state, stale = math.inf, None, 0
        t_start = time.perf_counter()
        for epoch in range(1, epochs + 1):
            model.train()
            t0, total = time.perf_counter(), 0.0
            for idx in self._batches(len(yfit), gen):
                if len(idx) < 2 and len(yfit) > 1:  # batch norm needs >= 2 samples
                    continue
                xb, yb = self._to(Xfit[idx], device), yfit[idx].to(device)
                opt.zero_grad(set_to_none=True)
                with self._autocast(device):
                    out = model(xb).float()
                    loss = loss_fn(out, yb)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                total += float(loss.detach()) * len(idx)
            train_loss = total / len(yfit)
            val_loss = self._evaluate(model, Xval, yval, loss_fn, device) if len(yval) else None
            seconds = time.perf_counter() - t0
            lr = opt.param_groups[0]["lr"]
            self.history_.append(
                {
                    "phase": phase,
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "val_loss": val_loss,
                    "lr": lr,
                    "seconds": seconds,
                }
            )
            eta = (time.perf_counter() - t_start) / epoch * (epochs - epoch)
            log.info(
                "%s epoch %d/%d: train loss %.4g, val loss %s, lr %.2g, %.1f s (%.0f images/s),"
                " ETA <= %.0f s",
                phase,
                epoch,
                epochs,
                train_loss,
                f"{val_loss:.4g}" if val_loss is not None else "-",
                lr,
                seconds,
                len(yfit) / seconds,
                eta,
            )
            if val_loss is None:
                continue
            if scheduler is not None:
                scheduler.step(val_loss)
            if val_loss < best:
                best, stale = val_loss, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                stale += 1
                if stale >= self.patience:
                    log.info(
                        "%s: early stop after %d epochs (best val loss %.4g)", phase, epoch, best
                    )
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
            log.info("%s: restored best checkpoint (val loss %.4g)", phase, best)

    # ---------------------------------------------------------------- prediction
    def predict(self, X) -> np.ndarray:
        X = _as_nchw(X)
        if X.shape[1] != self.in_channels_:
            raise ValueError(f"expected {self.in_channels_} channel(s), got {X.shape[1]}")
        device = _device(self.device)
        model = self.model_.to(device)
        if device.type == "cuda":
            model = model.to(memory_format=torch.channels_last)
        out = np.empty(len(X))
        Xt = torch.from_numpy(np.ascontiguousarray(X))
        with torch.inference_mode(), self._autocast(device):
            for lo in range(0, len(X), 256):
                pred = model(self._to(Xt[lo : lo + 256], device)).float()
                out[lo : lo + 256] = pred.cpu().double().numpy()
        self.model_ = model.to("cpu").to(memory_format=torch.contiguous_format)
        return out * self.y_std_ + self.y_mean_

    def hyperparameters(self) -> dict:
        params = {k: v for k, v in self.get_params().items() if k not in ("device", "threads")}
        epochs = {}
        for h in getattr(self, "history_", []):
            epochs[h["phase"]] = h["epoch"]
        params.update(
            arch=MUCHA_ARCH if self.protocol == "mucha" else self.arch,
            epochs_run=epochs,
            n_fit=int(self.n_fit_),
            n_val=int(self.n_val_),
            best_val_loss=min(
                (h["val_loss"] for h in self.history_ if h["val_loss"] is not None), default=None
            ),
        )
        return params

    # -------------------------------------------------------------------- saving
    def save(self, path) -> None:
        """``torch.save`` of the state_dict and plain metadata (loadable weights_only)."""
        meta = {
            "arch": MUCHA_ARCH if self.protocol == "mucha" else self.arch,
            "params": {k: v for k, v in self.get_params().items() if k != "device"},
            "in_channels": self.in_channels_,
            "x_mean": [float(v) for v in self.x_mean_],
            "x_std": [float(v) for v in self.x_std_],
            "y_mean": self.y_mean_,
            "y_std": self.y_std_,
            "n_fit": int(self.n_fit_),
            "n_val": int(self.n_val_),
            "history": self.history_,
        }
        torch.save({"state_dict": self.model_.state_dict(), "meta": meta}, path)

    @classmethod
    def load(cls, path) -> CNNRegressor:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        meta = blob["meta"]
        model = cls(**meta["params"])
        net = build_network(meta["arch"], pretrained=False, seed=0)
        wrapped = _Standardized(net, np.array(meta["x_mean"]), np.array(meta["x_std"]))
        wrapped.load_state_dict(blob["state_dict"])
        model.model_ = wrapped.eval()
        model.x_mean_, model.x_std_ = np.array(meta["x_mean"]), np.array(meta["x_std"])
        model.y_mean_, model.y_std_ = meta["y_mean"], meta["y_std"]
        model.in_channels_ = meta["in_channels"]
        model.n_fit_, model.n_val_ = meta["n_fit"], meta["n_val"]
        model.history_ = meta["history"]
        return model
