"""Feature sets of the paper (section 3.1), as scikit-learn style transformers.

Each feature set maps a stack of uint8 images (N, H, W) to an array (N, ...). The
registry :data:`FEATURES` maps the workflow's feature names to their transformer; the
stateless ones are computed by the rule ``features``. "cnnpca" is two steps, the ResNet18
embedding (:class:`ResNetEmbedding`, rule ``cnn_embedding``, GPU) and a PCA fitted on the
training split (:func:`fit_pca`, rule ``features_cnnpca``).
"""

from microprop.features.cnn import ResNetEmbedding, fit_pca
from microprop.features.grad import GradientNorm, gradient_magnitude
from microprop.features.mucha import MultiChannel
from microprop.features.psd import PSDLineFit, PSDStack, radial_psd
from microprop.weights import MissingWeightsError, weights_file

FEATURES = {
    "grad": GradientNorm,
    "physfeat1": PSDLineFit,
    "physfeat2": PSDStack,
    "mucha": MultiChannel,
    "cnnembed": ResNetEmbedding,
}

__all__ = [
    "FEATURES",
    "GradientNorm",
    "MissingWeightsError",
    "MultiChannel",
    "PSDLineFit",
    "PSDStack",
    "ResNetEmbedding",
    "fit_pca",
    "gradient_magnitude",
    "radial_psd",
    "weights_file",
]
