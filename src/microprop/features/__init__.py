"""Feature sets of the paper (section 3.1), as scikit-learn style transformers.

Each feature set maps a stack of uint8 images (N, H, W) to an array (N, ...).
:data:`FEATURES` maps the workflow's feature names to their transformer, the classes
:data:`microprop.registry.FEATURE_SETS` names; the stateless ones are computed by the rule
``features``. "cnnpca" is two steps, the ResNet18 embedding (:class:`ResNetEmbedding`,
rule ``cnn_embedding``, GPU) and a PCA fitted on the training split (:func:`fit_pca`, rule
``features_cnnpca``). "twopoint" (beyond the paper) is the periodic two-point
autocorrelation (:class:`TwoPointStats`); its PCA is fitted inside the model on the
model's training images (``twopoint-svr``).
"""

import importlib

from microprop.features.cnn import ResNetEmbedding, fit_pca
from microprop.features.grad import GradientNorm, gradient_magnitude
from microprop.features.mucha import MultiChannel
from microprop.features.psd import PSDLineFit, PSDStack, radial_psd
from microprop.features.twopoint import TwoPointStats, autocorrelation, local_state
from microprop.registry import FEATURE_SETS
from microprop.weights import MissingWeightsError, weights_file


def _load(path: str):
    """The class a registry entry names as "module:Class"."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


# the stateless feature sets of microprop.registry, and the embedding of cnnpca
FEATURES = {
    name: _load(feature.transformer)
    for name, feature in FEATURE_SETS.items()
    if feature.transformer
} | {"cnnembed": ResNetEmbedding}

__all__ = [
    "FEATURES",
    "GradientNorm",
    "MissingWeightsError",
    "MultiChannel",
    "PSDLineFit",
    "PSDStack",
    "ResNetEmbedding",
    "TwoPointStats",
    "autocorrelation",
    "fit_pca",
    "gradient_magnitude",
    "local_state",
    "radial_psd",
    "weights_file",
]
