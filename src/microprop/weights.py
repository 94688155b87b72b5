"""ImageNet weights through torchvision's weights API, read from its cache.

torchvision keeps downloaded weights in ``$TORCH_HOME/hub/checkpoints/`` under the file
name of their URL. Without network, that file must be there; a missing one is an error
that names it, so a user can copy it in (or choose random weights).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse


class MissingWeightsError(FileNotFoundError):
    """ImageNet weights are neither in torchvision's cache nor downloadable."""


def imagenet_weights(arch: str):
    """torchvision's default ImageNet weights enum of an architecture (e.g. 'resnet18')."""
    from torchvision.models import get_model_weights

    return get_model_weights(arch).DEFAULT


def weights_file(arch: str) -> Path:
    """The file torchvision's weights API reads: $TORCH_HOME/hub/checkpoints/<url name>.

    >>> weights_file("resnet18").name
    'resnet18-f37072fd.pth'
    """
    import torch.hub

    url = imagenet_weights(arch).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def imagenet_state_dict(arch: str, download: bool = True, fallback: str = "") -> dict:
    """The ImageNet state dict of ``arch`` from torchvision's cache (fetched if allowed).

    Raises :class:`MissingWeightsError` naming the expected file when it is absent and
    cannot be downloaded (``download=False`` never touches the network) or unreadable.
    ``fallback`` is appended to the message (what else the user can do).
    """
    weights = imagenet_weights(arch)
    path = weights_file(arch)
    hint = (
        f"ImageNet weights for {arch} not available: torchvision expects the file {path} "
        f"(download {weights.url} there, or point TORCH_HOME at a directory whose "
        f"hub/checkpoints/ holds it){fallback}"
    )
    if not path.is_file() and not download:
        raise MissingWeightsError(hint)
    try:
        return weights.get_state_dict(progress=False, map_location="cpu", weights_only=True)
    except Exception as err:  # no network (URLError), a corrupt file, ...
        raise MissingWeightsError(f"{hint} ({type(err).__name__}: {err})") from err
