"""CNN-PCA features (paper, section 3.1.4 and Appendix B.2).

A ResNet18, not fine-tuned, embeds every image as the 512 values of its global average
pool (the input of the classifier, which is removed); a PCA fitted on the training split
only reduces them to ``n_components`` features. The weights come through torchvision's
weights API: ``"imagenet"`` (``ResNet18_Weights.IMAGENET1K_V1``, read from torchvision's
cache, ``$TORCH_HOME/hub/checkpoints/``) or ``"random"`` (torchvision's initialisation,
seeded). Grayscale images are scaled to [0, 1], repeated to 3 channels and normalised
with the ImageNet mean and standard deviation of the weights' transforms (also for
random weights, so both see the same input).
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA

from microprop.images import check_images
from microprop.io import TRAIN
from microprop.logs import Progress
from microprop.weights import imagenet_or_random, imagenet_weights

log = logging.getLogger(__name__)

WEIGHTS = ("imagenet", "random")


def resnet18_backbone(
    weights: str = "imagenet", seed: int = 0, download: bool = True, fallback: str = "error"
):
    """ResNet18 without its classifier (outputs the 512-value average pool), in eval mode.

    ``download=False`` never touches the network: the ImageNet weights must be in the
    cache. A missing or unreadable weights file raises :class:`MissingWeightsError`
    naming the file torchvision expects, unless ``fallback="random"``: then the backbone
    keeps its seeded random initialisation and its attribute ``weights_fallback`` says
    why (None where nothing fell back).
    """
    import torch
    from torchvision.models import resnet18

    if weights not in WEIGHTS:
        raise ValueError(f"embedding weights must be one of {WEIGHTS}, got {weights!r}")
    with torch.random.fork_rng(devices=[]):  # seeded init, global RNG left untouched
        torch.manual_seed(seed)
        model = resnet18(weights=None)
    model.weights_fallback = None
    if weights == "imagenet":
        hint = ", or set features: cnnpca: embedding_weights: random"
        state, model.weights_fallback = imagenet_or_random("resnet18", download, fallback, hint)
        if state is not None:
            model.load_state_dict(state)
    model.fc = torch.nn.Identity()
    return model.eval()


def pick_device(device: str = "auto") -> str:
    """``"auto"``: CUDA when present, else the CPU."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class ResNetEmbedding(TransformerMixin, BaseEstimator):
    """512-value ResNet18 embedding of (N, H, W) uint8 images -> (N, 512) float32.

    ``fit`` only loads the network (``model_``); nothing is learned from the data.
    ``weights_fallback="random"``: ImageNet weights that are unavailable leave the
    seeded random ResNet18 (``weights_used_`` "random", ``weights_fallback_`` the reason).
    ``image_size``: images are resized (bilinear) to this edge before the network;
    equal to the image edge (64), nothing is resized.
    """

    def __init__(
        self,
        weights: str = "imagenet",
        batch_size: int = 256,
        device: str = "auto",
        image_size: int = 64,
        seed: int = 0,
        download: bool = True,
        weights_fallback: str = "random",
    ):
        self.weights = weights
        self.batch_size = batch_size
        self.device = device
        self.image_size = image_size
        self.seed = seed
        self.download = download
        self.weights_fallback = weights_fallback

    def fit(self, X=None, y=None):
        self.device_ = pick_device(self.device)
        backbone = resnet18_backbone(self.weights, self.seed, self.download, self.weights_fallback)
        self.weights_fallback_ = backbone.weights_fallback
        self.weights_used_ = "random" if self.weights_fallback_ else self.weights
        self.model_ = backbone.to(self.device_)
        return self

    def transform(self, X) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        X = check_images(X)
        tf = imagenet_weights("resnet18").transforms()
        dev = self.device_
        mean = torch.tensor(tf.mean, device=dev).view(1, 3, 1, 1)
        std = torch.tensor(tf.std, device=dev).view(1, 3, 1, 1)
        out = np.empty((len(X), 512), dtype=np.float32)
        progress = Progress(len(X), "images", logger=log)
        with torch.inference_mode():
            for lo in range(0, len(X), self.batch_size):
                x = torch.from_numpy(np.ascontiguousarray(X[lo : lo + self.batch_size]))
                x = x.to(dev).float().div_(255.0).unsqueeze(1)
                if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
                    size = (self.image_size, self.image_size)
                    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
                x = (x.expand(-1, 3, -1, -1) - mean) / std
                out[lo : lo + len(x)] = self.model_(x).float().cpu().numpy()
                progress.update(len(x))
        return out


def fit_pca(embeddings: np.ndarray, split: np.ndarray, n_components: int, seed: int = 0) -> PCA:
    """PCA of the embeddings fitted on the training rows only (``split == b"train"``).

    ``n_components`` is capped at what the training rows allow (a warning says so).
    """
    train = np.asarray(split) == TRAIN
    cap = min(int(train.sum()), embeddings.shape[1])
    n = min(n_components, cap)
    if n < n_components:
        log.warning("PCA: %d components requested, only %d possible", n_components, n)
    # covariance_eigh: eigendecomposition of the 512 x 512 covariance, exact and ~10x faster
    # than a full SVD when there are many more rows than columns
    solver = "covariance_eigh" if train.sum() >= 2 * embeddings.shape[1] else "full"
    return PCA(n_components=n, svd_solver=solver, random_state=seed).fit(embeddings[train])
