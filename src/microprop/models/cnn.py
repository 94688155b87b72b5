"""CNN regressors (the paper's sections 3.2.3 and 3.2.4, Appendix B.4).

:class:`CNNRegressor` wraps a torchvision architecture (``resnet18``, ``resnet152``,
``densenet121``, ``efficientnet_b0``; ``resnet34`` for the multichannel MuCha-CNN) whose
classification head is replaced by a single linear output. Beyond the paper,
``resnet18-sym`` (any torchvision architecture with ``-sym``) is that network with
periodic padding, trained on random D4 transforms and periodic shifts of the images and
averaged over the 8 D4 transforms at prediction (``symmetric=True``), and ``p4m-cnn`` is
a p4m group-equivariant network, invariant by construction
(:mod:`microprop.symmetry`).

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
    20 % of the training subset is held out for validation (whole runs when ``fit`` gets
    ``groups``: :func:`validation_split`; assumption, not from the paper); Adam at ``lr`` (1e-3),
    halved by ``ReduceLROnPlateau`` on the validation loss down to ``min_lr`` (1e-5);
    batch 32; MSE loss (assumption, not from the paper); early stopping after
    ``patience`` (the paper's 20) epochs without a better validation loss, and the best
    checkpoint restored. With ``pretrained=True`` the ImageNet weights are loaded, the new head is
    trained with everything else frozen (up to ``head_epochs``), then the whole network
    is trained at ``finetune_lr`` (1e-4), both phases with the same stopping rule. The
    epochs run in :func:`microprop.training.train_epochs`, the loop the autoencoder and
    the design study's models share.

MuCha protocol (``protocol="mucha"``, section 3.2.4)
    SGD at lr 1e-3 with momentum 0.9, L1 loss, a fixed number of epochs, no validation
    split and no schedule; the final weights are kept.

Devices and speed
    CUDA when present, else the CPU with ``threads`` threads. With ``amp`` the forward and
    backward passes of training and validation run under ``torch.autocast`` in bfloat16
    on CUDA (fp16 with a gradient scaler where bf16 is missing) and on CPUs with native
    bf16 (AMX-BF16 / AVX512-BF16, :func:`cpu_supports_bf16`) unless ``cpu_amp=False``
    (EfficientNet-B0's depthwise convolutions train slower in bf16 on the CPU); the
    weights, the optimizer and the final test predictions stay float32.
    ``channels_last`` stores activations NHWC (oneDNN's and cuDNN's fast layout);
    ``fused_optimizer`` uses the fused (one kernel) implementation of Adam or SGD, the
    same update. The images stay uint8 tensors in memory (on the device for CUDA) and
    batches are gathered from them; the loss is summed on the device (no host sync per
    step). On the CPU the run is deterministic for a given seed: initial weights,
    validation split and batch order all come from ``seed`` and deterministic
    algorithms are enforced.
    ``benchmarks/cnn_train.py`` measures these settings against the path of before:
    float32, NCHW, unfused optimizer (``amp=False, channels_last=False,
    fused_optimizer=False``). ``torch.compile`` was tried and is not used: about 3
    minutes of compilation on one core for no measurable gain.

After training
    The best checkpoint by validation loss is kept (across both phases of a pretrained
    network). BatchNorm running statistics are then recomputed on the training images
    (one pass in train mode without gradients, :func:`torch.optim.swa_utils.update_bn`)
    and kept if that lowers the validation loss (``bn_recalibrate``). The model is
    flagged ``"did not learn: budget too small"`` when its R² on the validation images
    is below ``min_r2`` (a constant predictor has R² <= 0). The MuCha protocol has no
    validation split: its check set is a seeded subset of the training images.
    With ``swa_share`` > 0 (MuCha only, beyond the paper) the final weights are the
    average of the end-of-epoch weights over the last share ``swa_share`` of its epochs
    (stochastic weight averaging, :class:`torch.optim.swa_utils.AveragedModel`), whose
    BatchNorm statistics are then recomputed: with the paper's fixed learning rate the
    last epoch's weights are a noisy draw (on the CFD data, test R² 0.91 with seed 0 and
    0.62 with seed 1, docs/cfd.md).

Prediction
    With ``clip_predictions`` (beyond the paper) predictions are clipped to the range of
    the fitting images' labels. A CNN extrapolates without bound on inputs unlike most
    of its training images: on the CFD data MuCha gave Re -300 to -600 for the laminar
    flows below Re 15, its own training images among them (docs/cfd.md).

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

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from torch import nn

from microprop import registry
from microprop.images import check_images
from microprop.metrics import regression_metrics
from microprop.registry import TORCHVISION_ARCHS
from microprop.splits import stream, validation_split
from microprop.symmetry import P4MNet, d4_average, make_periodic, random_symmetry
from microprop.training import Checkpoint, shuffled_batches, train_epochs
from microprop.weights import imagenet_or_random

log = logging.getLogger("microprop")

FLAG_NOT_LEARNED = "did not learn: budget too small"
P4M_ARCH = "p4m"  # model id "p4m-cnn"
ARCHITECTURES = (*TORCHVISION_ARCHS, P4M_ARCH)
MUCHA_ARCH = "resnet34"


def parse_model_id(model_id: str) -> tuple[str, bool, bool]:
    """Architecture, pretrained flag and symmetric flag of a CNN model id (its registry entry).

    >>> parse_model_id("resnet18-pretrained"), parse_model_id("efficientnet_b0")
    (('resnet18', True, False), ('efficientnet_b0', False, False))
    >>> parse_model_id("resnet18-sym"), parse_model_id("p4m-cnn")
    (('resnet18', False, True), ('p4m', False, False))
    """
    entry = registry.MODELS.get(model_id)
    if entry is None or entry.kind != "cnn":
        cnns = ", ".join(registry.model_ids("cnn"))
        raise ValueError(f"not a CNN model id: {model_id!r} (the CNN ids: {cnns})")
    return entry.arch, entry.pretrained, entry.sym


def build_network(
    arch: str,
    pretrained: bool = False,
    seed: int = 0,
    download: bool = False,
    periodic: bool = False,
    weights_fallback: str = "error",
) -> nn.Module:
    """A torchvision ``arch`` (or ``p4m``) with a single regression output; seeded init.

    ``pretrained=True`` loads the default ImageNet weights through torchvision's weights
    API from the torch cache; a missing file is downloaded only with ``download=True``
    (and where the network allows), otherwise it is an error naming the file.
    ``periodic=True`` gives every convolution and pooling circular padding.
    ``weights_fallback="random"``: where the ImageNet weights are unavailable the network
    keeps its random initialisation, and its attribute ``weights_fallback`` says why
    (:func:`microprop.weights.imagenet_or_random`).
    """
    import torchvision

    torch.manual_seed(seed)
    if arch == P4M_ARCH:
        return P4MNet()
    net = torchvision.models.get_model(arch, weights=None)
    if periodic:
        make_periodic(net)
    if pretrained:
        state, net.weights_fallback = imagenet_or_random(arch, download, weights_fallback)
        if state is not None:
            net.load_state_dict(state)
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


def cpu_supports_bf16() -> bool:
    """Whether this CPU computes in bfloat16 natively (AMX-BF16 or AVX512-BF16)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False


class _Standardized(nn.Module):
    """Network behind input standardization: uint8 (N, C, H, W) in, one value out."""

    def __init__(self, net: nn.Module, mean: np.ndarray, std: np.ndarray, average_d4: bool = False):
        super().__init__()
        self.net = net
        self.average_d4 = average_d4  # eval mode: the mean over the 8 D4 transforms
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        self.memory_format = torch.contiguous_format

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.float() / 255.0 - self.mean) / self.std
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if self.average_d4 and not self.training:
            return d4_average(self._net, x)
        return self._net(x)

    def _net(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.contiguous(memory_format=self.memory_format)).squeeze(1)

    def set_memory_format(self, channels_last: bool) -> _Standardized:
        # channels_last is a 4D layout: the p4m weights are 5D
        channels_last = channels_last and getattr(self.net, "channels_last", True)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.memory_format = fmt
        return self.to(memory_format=fmt)


AUGMENT_GROUPS = ("kolmogorov", "square")


def check_augment(spec: dict | None) -> None:
    """Stop on an augmentation spec :func:`augment_batch` cannot apply."""
    if not spec:
        return
    if spec.get("group") not in AUGMENT_GROUPS:
        raise ValueError(f"augment group must be one of {AUGMENT_GROUPS}, got {spec!r}")
    unknown = set(spec) - {"group", "k", "channels"}
    if unknown:
        raise ValueError(f"unknown augment keys {sorted(unknown)} in {spec!r}")


def augment_batch(xb: torch.Tensor, spec: dict, rng: np.random.Generator) -> torch.Tensor:
    """A training batch (B, C, H, W) uint8, each image under a random element of a
    symmetry group of its dataset (``spec["group"]``; beyond the paper).

    ``"kolmogorov"``: the exact symmetries of Kolmogorov flow with forcing wavenumber
    ``spec["k"]`` (:func:`microprop.cfd.random_symmetry`). ``"square"``: the square's
    group D4 and every periodic shift (:func:`microprop.symmetry.random_symmetry`,
    the training transforms of resnet18-sym), under which the Ising and Cahn-Hilliard
    labels do not change. Channel 0 is transformed; with ``spec["channels"]`` (the options
    of MuCha's :class:`~microprop.features.mucha.MultiChannel`) the FFT and wavelet
    channels are recomputed from it (they do not transform like the image: the FFT
    magnitude ignores shifts, the one-level wavelet does not), else every channel is the
    transformed image.
    """
    from microprop.cfd import random_symmetry as kolmogorov_symmetry
    from microprop.features.mucha import MultiChannel

    if spec["group"] == "square":  # draws from a torch generator seeded by ``rng``
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        image = random_symmetry(xb[:, :1].cpu(), gen)[:, 0].numpy()
    else:
        image = kolmogorov_symmetry(xb[:, 0].cpu().numpy(), rng, int(spec.get("k", 4)))
    if spec.get("channels") is not None:
        out = MultiChannel(**spec["channels"]).transform(image)
    else:
        out = np.repeat(image[:, None], xb.shape[1], axis=1)
    return torch.from_numpy(out).to(xb.device)


def _device(name: str | None) -> torch.device:
    """``None`` or ``"auto"``: CUDA when present, else the CPU."""
    if name and name != "auto":
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class CNNRegressor(RegressorMixin, BaseEstimator):
    """A torchvision CNN trained to predict one scalar from images.

    ``max_epochs`` caps the epochs of each phase; ``head_epochs`` caps the frozen phase
    of a pretrained network. ``min_steps`` raises the epoch cap of the main phase where
    ``max_epochs`` epochs would give fewer optimizer steps (small training sets; the
    mucha protocol's fixed epoch count too), and scales both patiences by the same
    factor, keeping their share of the epochs.
    ``symmetric`` trains a periodic network on random D4 transforms and periodic shifts
    and averages its predictions over the 8 D4 transforms. See the module docstring for
    the protocols, the speed settings (``amp``, ``channels_last``) and what happens after
    training (``bn_recalibrate``, ``min_r2``). ``weights_fallback="random"`` lets a
    ``pretrained`` network start from its random initialisation where the ImageNet
    weights are unavailable (offline); ``weights_fallback_`` then says why.

    The defaults are ``models.cnn`` of config/config.yaml (tested), the paper's protocol
    at the workstation's budget: 10 epochs (``head_epochs`` 1), patiences 1 and 4, at
    least 100 steps; config/paper.yaml sets the paper's 100 epochs and patiences 5 and 20.
    MuCha's own values (``models.mucha``: epochs, ``min_steps``, ``swa_share``) are always
    passed (:func:`microprop.options.mucha_options`).
    """

    def __init__(
        self,
        arch: str = "resnet18",
        pretrained: bool = False,
        symmetric: bool = False,
        augment: dict | None = None,
        protocol: str = "paper",
        max_epochs: int = 10,
        head_epochs: int = 1,
        min_steps: int = 100,
        batch_size: int = 32,
        lr: float = 1e-3,
        finetune_lr: float = 1e-4,
        min_lr: float = 1e-5,
        plateau_factor: float = 0.5,
        plateau_patience: int = 1,
        patience: int = 4,
        val_fraction: float = 0.2,
        momentum: float = 0.9,
        swa_share: float = 0.0,
        amp: bool = True,
        cpu_amp: bool = True,
        channels_last: bool = True,
        fused_optimizer: bool = True,
        bn_recalibrate: bool = True,
        min_r2: float = 0.1,
        clip_predictions: bool = True,
        download: bool = True,
        weights_fallback: str = "random",
        threads: int = 0,
        device: str | None = "auto",
        seed: int = 0,
    ):
        self.arch = arch
        self.pretrained = pretrained
        self.symmetric = symmetric
        self.augment = augment
        self.protocol = protocol
        self.max_epochs = max_epochs
        self.head_epochs = head_epochs
        self.min_steps = min_steps
        self.batch_size = batch_size
        self.lr = lr
        self.finetune_lr = finetune_lr
        self.min_lr = min_lr
        self.plateau_factor = plateau_factor
        self.plateau_patience = plateau_patience
        self.patience = patience
        self.val_fraction = val_fraction
        self.momentum = momentum
        self.swa_share = swa_share
        self.amp = amp
        self.cpu_amp = cpu_amp
        self.channels_last = channels_last
        self.fused_optimizer = fused_optimizer
        self.bn_recalibrate = bn_recalibrate
        self.min_r2 = min_r2
        self.clip_predictions = clip_predictions
        self.download = download
        self.weights_fallback = weights_fallback
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

    def amp_dtype(self, device: torch.device) -> torch.dtype | None:
        """The autocast dtype of training on ``device`` (None: float32 throughout)."""
        if not self.amp:
            return None
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "cpu" and self.cpu_amp and cpu_supports_bf16():
            return torch.bfloat16
        return None

    def _autocast(self, device: torch.device):
        dtype = self.amp_dtype(device)
        return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)

    def fit(self, X, y, groups=None):
        """Train on images ``X`` and targets ``y``.

        ``groups`` (one label per image, e.g. CH's run) makes the validation part whole
        groups (:func:`validation_split`): early stopping, the plateau schedule and the
        split conformal calibration then see images of groups the network never fitted.
        """
        if self.protocol not in ("paper", "mucha"):
            raise ValueError(f"protocol must be 'paper' or 'mucha', got {self.protocol!r}")
        X = check_images(X, channels=True)
        y = np.asarray(y, dtype=np.float64)
        if len(X) != len(y) or len(y) < 2:
            raise ValueError(f"need >= 2 aligned samples, got {len(X)} images, {len(y)} targets")
        check_augment(self.augment)
        device = self._setup_torch()
        gen = torch.Generator().manual_seed(self.seed)
        self._augment_rng = stream("augmentation", self.seed)
        val_fraction = self.val_fraction if self.protocol == "paper" else 0.0
        val_idx, fit_idx = validation_split(len(y), val_fraction, gen, groups)
        self.val_groups_ = [] if groups is None else np.unique(np.asarray(groups)[val_idx]).tolist()

        Xf = X[fit_idx].astype(np.float64) / 255.0
        mean = Xf.mean(axis=(0, 2, 3))
        std = Xf.std(axis=(0, 2, 3))
        del Xf
        self.x_mean_, self.x_std_ = mean, np.where(std > 0, std, 1.0)
        self.y_mean_ = float(y[fit_idx].mean())
        self.y_std_ = float(y[fit_idx].std()) or 1.0
        self.y_range_ = (float(y[fit_idx].min()), float(y[fit_idx].max()))
        self.in_channels_ = int(X.shape[1])
        arch = MUCHA_ARCH if self.protocol == "mucha" else self.arch
        pretrained = self.pretrained and self.protocol == "paper"
        net = build_network(
            arch, pretrained, self.seed, self.download, self.symmetric, self.weights_fallback
        )
        # why a -pretrained network started from random weights (None: it did not)
        self.weights_fallback_ = getattr(net, "weights_fallback", None)
        model = _Standardized(net, self.x_mean_, self.x_std_, self.symmetric).to(device)
        model.set_memory_format(self.channels_last)

        # uint8 images stay in memory (on the device for CUDA): batches are gathered there
        Xt = torch.from_numpy(np.ascontiguousarray(X)).to(device)
        yt = torch.from_numpy((y - self.y_mean_) / self.y_std_).float().to(device)
        data = (Xt[fit_idx], yt[fit_idx], Xt[val_idx], yt[val_idx])
        self.n_fit_, self.n_val_ = len(fit_idx), len(val_idx)
        self.val_idx_ = val_idx  # rows of X: the split conformal calibration set
        self.epochs_ = self.max_epochs
        if self.min_steps:
            steps_per_epoch = math.ceil(self.n_fit_ / self.batch_size)
            self.epochs_ = max(self.max_epochs, math.ceil(self.min_steps / steps_per_epoch))
        stretch = self.epochs_ / max(self.max_epochs, 1)
        self.patience_ = math.ceil(self.patience * stretch)
        self.plateau_patience_ = math.ceil(self.plateau_patience * stretch)
        if self.epochs_ > self.max_epochs:
            log.info(
                "%d training images give %d steps per epoch: %d epochs for >= %d steps"
                " (patiences %d and %d)",
                self.n_fit_,
                steps_per_epoch,
                self.epochs_,
                self.min_steps,
                self.plateau_patience_,
                self.patience_,
            )
        self.history_ = []
        self._checkpoint = Checkpoint()  # the best weights across both phases
        self.epochs_run_ = 0
        self.swa_epochs_ = 0
        if self.protocol == "mucha":
            self.max_epochs_total_ = self.epochs_
            opt = torch.optim.SGD(
                model.parameters(), lr=self.lr, momentum=self.momentum, fused=self.fused_optimizer
            )
            swa = None
            if self.swa_share > 0:
                self.swa_epochs_ = min(self.epochs_, math.ceil(self.swa_share * self.epochs_))
                swa = torch.optim.swa_utils.AveragedModel(model)
            loss_fn = nn.L1Loss()
            self._train(model, opt, None, loss_fn, self.epochs_, data, device, gen, "mucha", swa)
            if swa is not None:  # averaged weights, their own BatchNorm statistics
                model.load_state_dict(swa.module.state_dict())
                self._update_bn(model, data[0], gen, device)
                log.info(
                    "weights averaged over the last %d of %d epochs, BatchNorm statistics"
                    " recomputed on %d training images",
                    self.swa_epochs_,
                    self.epochs_run_,
                    self.n_fit_,
                )
        else:
            loss_fn = nn.MSELoss()
            if self.pretrained:
                self.max_epochs_total_ = self.head_epochs + self.epochs_
                for p in model.parameters():
                    p.requires_grad_(False)
                head = head_of(model.net)
                for p in head.parameters():
                    p.requires_grad_(True)
                opt = torch.optim.Adam(head.parameters(), lr=self.lr, fused=self.fused_optimizer)
                self._train(
                    model,
                    opt,
                    self._plateau(opt),
                    loss_fn,
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
                self.max_epochs_total_ = self.epochs_
                lr = self.lr
            opt = torch.optim.Adam(model.parameters(), lr=lr, fused=self.fused_optimizer)
            phase = "finetune" if self.pretrained else "train"
            self._train(
                model, opt, self._plateau(opt), loss_fn, self.epochs_, data, device, gen, phase
            )
        self._finish(model, loss_fn, data, device, gen)
        self.model_ = model.to("cpu").set_memory_format(False).eval()
        self.n_features_in_ = int(np.prod(X.shape[1:]))
        return self

    def _plateau(self, opt):
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, factor=self.plateau_factor, patience=self.plateau_patience_, min_lr=self.min_lr
        )

    def _evaluate(self, model, X, y, loss_fn, device) -> tuple[float, float]:
        """Loss and R² (standardized targets, :func:`microprop.metrics.regression_metrics`;
        NaN for non-finite predictions) of eval-mode predictions on (X, y)."""
        model.eval()
        preds = []
        with torch.inference_mode(), self._autocast(device):
            for lo in range(0, len(X), 256):
                preds.append(model(X[lo : lo + 256]).float())
        pred = torch.cat(preds)
        pred_np = pred.double().cpu().numpy()
        finite = np.isfinite(pred_np).all()
        r2 = regression_metrics(y.double().cpu().numpy(), pred_np)["r2"] if finite else math.nan
        return float(loss_fn(pred, y)), r2

    def _train(self, model, opt, scheduler, loss_fn, epochs, data, device, gen, phase, swa=None):
        """One phase of :func:`microprop.training.train_epochs`: ``epochs`` epochs at most,
        early stopping on the validation loss (``patience_``), the plateau ``scheduler``.

        The best checkpoint by validation loss is tracked across phases in
        ``_checkpoint``. ``swa`` (an ``AveragedModel``) receives the weights of the last
        ``swa_epochs_`` epochs.
        """
        Xfit, yfit, Xval, yval = data

        def batches():
            for idx in shuffled_batches(len(yfit), self.batch_size, gen):
                if len(idx) < 2 and len(yfit) > 1:  # batch norm needs >= 2 samples
                    continue
                idx = idx.to(device)
                xb, yb = Xfit[idx], yfit[idx]
                if self.symmetric:
                    xb = random_symmetry(xb, gen)
                if self.augment:
                    xb = augment_batch(xb, self.augment, self._augment_rng)
                yield xb, yb

        def validate() -> dict:
            if not len(yval):
                return {"val_loss": None, "val_r2": None}
            val_loss, val_r2 = self._evaluate(model, Xval, yval, loss_fn, device)
            return {"val_loss": val_loss, "val_r2": val_r2}

        def after_epoch(epoch: int) -> None:
            if swa is not None and epoch > epochs - self.swa_epochs_:
                swa.update_parameters(model)

        self.history_ += train_epochs(
            model,
            opt,
            loss_fn,
            batches,
            len(yfit),
            epochs,
            validate,
            scheduler=scheduler,
            patience=self.patience_,
            checkpoint=self._checkpoint,
            autocast=lambda: self._autocast(device),
            scaler=torch.amp.GradScaler(enabled=self.amp_dtype(device) == torch.float16),
            after_epoch=after_epoch,
            name=phase,
        )
        self.epochs_run_ = self._checkpoint.epochs_run

    def _update_bn(self, model, Xfit, gen, device) -> None:
        """BatchNorm running statistics recomputed on the training images (one pass)."""
        from torch.optim.swa_utils import update_bn

        order = torch.randperm(len(Xfit), generator=gen).to(device)
        batches = (
            Xfit[order[lo : lo + self.batch_size]]
            for lo in range(0, len(Xfit) - 1, self.batch_size)
        )
        with self._autocast(device):
            update_bn(batches, model)

    def _finish(self, model, loss_fn, data, device, gen) -> None:
        """Best checkpoint, BatchNorm recalibration, and the did-not-learn check."""
        Xfit, yfit, Xval, yval = data
        best = self._checkpoint
        if best.state is not None:
            model.load_state_dict(best.state)
            self.best_epoch_ = best.epoch
            log.info(
                "restored the best checkpoint: epoch %d of %d (val loss %.4g)",
                self.best_epoch_,
                self.epochs_run_,
                best.loss,
            )
        else:  # no validation split (MuCha): the final weights
            self.best_epoch_ = self.epochs_run_
        del self._checkpoint
        if len(yval):
            Xcheck, ycheck, check = Xval, yval, "validation"
        else:  # a seeded subset of the training images
            sub = torch.randperm(len(yfit), generator=gen)[:2048].sort().values.to(device)
            Xcheck, ycheck, check = Xfit[sub], yfit[sub], "training (no validation split)"
        loss, r2 = self._evaluate(model, Xcheck, ycheck, loss_fn, device)
        self.bn_recalibrated_ = False
        if self.bn_recalibrate and any(
            isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()
        ):
            state = copy.deepcopy(model.state_dict())
            self._update_bn(model, Xfit, gen, device)
            new_loss, new_r2 = self._evaluate(model, Xcheck, ycheck, loss_fn, device)
            log.info(
                "BatchNorm statistics recomputed on %d training images: %s loss %.4g -> %.4g (%s)",
                len(yfit),
                check,
                loss,
                new_loss,
                "kept" if new_loss < loss else "discarded",
            )
            if new_loss < loss:
                loss, r2, self.bn_recalibrated_ = new_loss, new_r2, True
            else:
                model.load_state_dict(state)
        self.check_loss_, self.check_r2_ = loss, r2
        self.learned_ = bool(r2 >= self.min_r2)
        if self.learned_:
            log.info("%s R2 %.4f (>= %.2f: the model learned)", check, r2, self.min_r2)
        else:
            log.warning(
                "%s: %s R2 %.4f < %.2f, the model ends close to a constant predictor",
                FLAG_NOT_LEARNED,
                check,
                r2,
                self.min_r2,
            )

    def training_summary(self) -> dict:
        """The contract's metrics.json keys: epochs, best epoch, learned flag."""
        return {
            "epochs_run": int(self.epochs_run_),
            "max_epochs": int(self.max_epochs_total_),
            "best_epoch": int(self.best_epoch_),
            "learned": bool(self.learned_),
            "flag": None if self.learned_ else FLAG_NOT_LEARNED,
        }

    # ---------------------------------------------------------------- prediction
    def predict(self, X) -> np.ndarray:
        """Float32 predictions (no autocast), batches of 256 images."""
        X = check_images(X, channels=True)
        if X.shape[1] != self.in_channels_:
            raise ValueError(f"expected {self.in_channels_} channel(s), got {X.shape[1]}")
        device = _device(self.device)
        model = self.model_.to(device).set_memory_format(self.channels_last).eval()
        out = np.empty(len(X))
        Xt = torch.from_numpy(np.ascontiguousarray(X))
        with torch.inference_mode():
            for lo in range(0, len(X), 256):
                pred = model(Xt[lo : lo + 256].to(device)).float()
                out[lo : lo + 256] = pred.cpu().double().numpy()
        self.model_ = model.to("cpu").set_memory_format(False)
        out = out * self.y_std_ + self.y_mean_
        return np.clip(out, *self.y_range_) if self.clip_predictions else out

    def hyperparameters(self) -> dict:
        params = {k: v for k, v in self.get_params().items() if k not in ("device", "threads")}
        epochs = {}
        for h in getattr(self, "history_", []):
            epochs[h["phase"]] = h["epoch"]
        params.update(
            arch=MUCHA_ARCH if self.protocol == "mucha" else self.arch,
            epochs_per_phase=epochs,
            n_fit=int(self.n_fit_),
            n_val=int(self.n_val_),
            best_val_loss=min(
                (h["val_loss"] for h in self.history_ if h["val_loss"] is not None), default=None
            ),
            check_r2=float(self.check_r2_) if math.isfinite(self.check_r2_) else None,
            bn_recalibrated=bool(self.bn_recalibrated_),
        )
        return params

    # -------------------------------------------------------------------- saving
    _SUMMARY = ("epochs_run_", "max_epochs_total_", "best_epoch_", "learned_", "check_r2_")

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
            "y_range": [float(v) for v in self.y_range_],
            "n_fit": int(self.n_fit_),
            "n_val": int(self.n_val_),
            "history": self.history_,
            "bn_recalibrated": bool(self.bn_recalibrated_),
            "summary": {k: getattr(self, k) for k in self._SUMMARY},
        }
        torch.save({"state_dict": self.model_.state_dict(), "meta": meta}, path)

    @classmethod
    def load(cls, path) -> CNNRegressor:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        meta = blob["meta"]
        model = cls(**meta["params"])
        symmetric = bool(meta["params"].get("symmetric", False))
        net = build_network(meta["arch"], pretrained=False, seed=0, periodic=symmetric)
        x_mean, x_std = np.array(meta["x_mean"]), np.array(meta["x_std"])
        wrapped = _Standardized(net, x_mean, x_std, average_d4=symmetric)
        wrapped.load_state_dict(blob["state_dict"])
        model.model_ = wrapped.eval()
        model.x_mean_, model.x_std_ = np.array(meta["x_mean"]), np.array(meta["x_std"])
        model.y_mean_, model.y_std_ = meta["y_mean"], meta["y_std"]
        if "y_range" in meta:
            model.y_range_ = tuple(meta["y_range"])
        else:  # saved before clipping existed: predicts as it did then
            model.clip_predictions = False
        model.in_channels_ = meta["in_channels"]
        model.n_fit_, model.n_val_ = meta["n_fit"], meta["n_val"]
        model.history_ = meta["history"]
        model.bn_recalibrated_ = meta.get("bn_recalibrated", False)
        for key, value in meta.get("summary", {}).items():
            setattr(model, key, value)
        return model
