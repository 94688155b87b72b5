"""Feature sets of the paper (section 3.1), as scikit-learn style transformers.

Each feature set maps a stack of uint8 images (N, H, W) to an array (N, ...). The
registry :data:`FEATURES` maps the workflow's feature names to their transformer.
"""

from microprop.features.grad import GradientNorm, gradient_magnitude

FEATURES = {
    "grad": GradientNorm,
}

__all__ = ["FEATURES", "GradientNorm", "gradient_magnitude"]
