"""ImageNet weights through torchvision's weights API, read from its cache.

torchvision keeps downloaded weights in ``$TORCH_HOME/hub/checkpoints/`` under the file
name of their URL. Without network, that file must be there; a missing one is an error
that names it, so a user can copy it in (or choose random weights), unless the caller
asks for a fallback (:func:`imagenet_or_random`): then the network starts from its
random initialisation, with one warning, and the caller records why.
"""

from __future__ import annotations

import logging
import os
import socket
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

log = logging.getLogger("microprop")

# what a job does when the ImageNet weights are neither cached nor downloadable
# (models.cnn.weights_fallback, features.cnnpca.weights_fallback)
FALLBACKS = ("random", "error")
DOWNLOAD_TIMEOUT = 60.0  # seconds without an answer before a download counts as failed


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
        with _socket_timeout(DOWNLOAD_TIMEOUT):  # a silent network fails, not hangs
            return weights.get_state_dict(progress=False, map_location="cpu", weights_only=True)
    except Exception as err:  # no network (URLError), a corrupt file, ...
        raise MissingWeightsError(f"{hint} ({type(err).__name__}: {err})") from err


@contextmanager
def _socket_timeout(seconds: float):
    """torch.hub's download opens its URL without a timeout: give it the process default."""
    before = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(before)


def imagenet_or_random(
    arch: str, download: bool = True, fallback: str = "error", hint: str = ""
) -> tuple[dict | None, str | None]:
    """The ImageNet state dict of ``arch`` and None, or, where it is unavailable (not in
    torchvision's cache and not downloadable) and ``fallback`` is ``"random"``, None and
    the reason: the caller keeps its random initialisation and records the reason (in
    metrics.json, Table 2), and one warning says so in the job's log. ``fallback="error"``
    raises :class:`MissingWeightsError` as :func:`imagenet_state_dict` (``hint`` appended).
    """
    if fallback not in FALLBACKS:
        raise ValueError(f"weights fallback must be one of {FALLBACKS}, got {fallback!r}")
    try:
        return imagenet_state_dict(arch, download, hint), None
    except MissingWeightsError as err:
        if fallback == "error":
            raise
        path = weights_file(arch)
        if path.is_file():
            state = "unreadable"
        else:
            state = "missing, " + ("not downloadable" if download else "download off")
        cause = f": {type(err.__cause__).__name__}" if err.__cause__ else ""
        reason = f"ImageNet weights unavailable ({path} {state}{cause})"
        log.warning(
            "%s: %s starts from a random initialisation instead (weights_fallback: random;"
            " recorded in metrics.json and Table 2)",
            reason,
            arch,
        )
        return None, reason
