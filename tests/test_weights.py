"""Offline is not a failure path (issue 42): ImageNet weights that are neither in
torchvision's cache nor downloadable leave a -pretrained CNN or the CNN-PCA embedding on
its random initialisation, with one warning, and the result says so."""

import json
import logging
import socket
import urllib.error

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from helpers import REPO, merged_config

from microprop import options, registry, weights
from microprop.features import ResNetEmbedding
from microprop.models.cnn import CNNRegressor, build_network
from microprop.studies import collect_metrics, table2, table2_markdown
from microprop.weights import MissingWeightsError, imagenet_or_random, weights_file


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty torch cache and a network that refuses every download."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    calls = []

    def refuse(url, *args, **kwargs):
        calls.append(url)
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    return calls


def test_the_download_failure_falls_back_with_one_warning(offline, caplog):
    with caplog.at_level(logging.WARNING, logger="microprop"):
        state, reason = imagenet_or_random("resnet18", download=True, fallback="random")
    assert state is None and offline, "the download was not even tried"
    assert str(weights_file("resnet18")) in reason and "URLError" in reason
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "random initialisation" in warnings[0].getMessage()


def test_error_keeps_stopping_the_job_naming_the_file(offline):
    with pytest.raises(MissingWeightsError, match="resnet18-f37072fd.pth"):
        imagenet_or_random("resnet18", download=True, fallback="error")
    with pytest.raises(ValueError, match="weights fallback"):
        imagenet_or_random("resnet18", fallback="zeros")


def test_no_download_never_touches_the_network(offline):
    state, reason = imagenet_or_random("resnet18", download=False, fallback="random")
    assert state is None and not offline and "download off" in reason


def test_a_cached_file_is_still_loaded(tmp_path, monkeypatch, offline):
    torch.manual_seed(7)
    saved = build_network("resnet18").state_dict()  # any resnet18 state: a stand-in file
    saved = {k: v for k, v in saved.items() if not k.startswith("fc.")}
    reference = __import__("torchvision").models.resnet18().state_dict()
    reference.update(saved)
    weights_file("resnet18").parent.mkdir(parents=True)
    torch.save(reference, weights_file("resnet18"))
    state, reason = imagenet_or_random("resnet18", download=True, fallback="random")
    assert reason is None and not offline
    assert torch.equal(state["conv1.weight"], reference["conv1.weight"])


def test_the_download_has_a_timeout_and_the_default_is_restored(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    seen = []

    def record(url, *args, **kwargs):
        seen.append(socket.getdefaulttimeout())
        raise urllib.error.URLError("timed out")

    monkeypatch.setattr(torch.hub, "download_url_to_file", record)
    before = socket.getdefaulttimeout()
    imagenet_or_random("resnet18", download=True, fallback="random")
    assert seen == [weights.DOWNLOAD_TIMEOUT] and socket.getdefaulttimeout() == before


def test_a_pretrained_network_offline_is_its_seeded_random_twin(offline):
    net = build_network(
        "resnet18", pretrained=True, seed=3, download=True, weights_fallback="random"
    )
    assert "ImageNet weights unavailable" in net.weights_fallback
    plain = build_network("resnet18", pretrained=False, seed=3)
    for key, value in plain.state_dict().items():
        assert torch.equal(net.state_dict()[key], value), key
    with pytest.raises(MissingWeightsError):
        build_network("resnet18", pretrained=True, download=True)  # the default: error


def test_a_pretrained_cnn_trains_offline_and_says_why(offline):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (12, 64, 64)).astype(np.uint8)
    y = X.mean(axis=(1, 2))
    model = CNNRegressor(
        pretrained=True, max_epochs=1, head_epochs=1, threads=1, download=True,
        weights_fallback="random",
    ).fit(X, y)  # fmt: skip
    assert "URLError" in model.weights_fallback_
    assert np.isfinite(model.predict(X[:2])).all()
    assert CNNRegressor(max_epochs=1, threads=1).fit(X, y).weights_fallback_ is None


def test_the_embedding_offline_is_the_seeded_random_one(offline):
    images = np.random.default_rng(3).integers(0, 256, (3, 64, 64)).astype(np.uint8)
    fallen = ResNetEmbedding("imagenet", device="cpu", seed=1, weights_fallback="random").fit()
    assert fallen.weights_used_ == "random" and "URLError" in fallen.weights_fallback_
    chosen = ResNetEmbedding("random", device="cpu", seed=1).fit()
    assert chosen.weights_used_ == "random" and chosen.weights_fallback_ is None
    np.testing.assert_array_equal(fallen.transform(images), chosen.transform(images))


def test_only_the_pretrained_models_get_the_fallback_option():
    config = merged_config()
    assert config["models"]["cnn"]["weights_fallback"] == "random"
    assert config["features"]["cnnpca"]["weights_fallback"] == "random"
    for model in registry.model_ids("cnn"):
        opts = options.cnn_options(config, model)
        assert ("weights_fallback" in opts) == registry.model(model).pretrained, model
    paper = merged_config("config/paper.yaml")
    assert paper["models"]["cnn"]["weights_fallback"] == "error"
    assert paper["features"]["cnnpca"]["weights_fallback"] == "error"


def test_table2_flags_the_models_that_fell_back(tmp_path):
    def write(model, **extra):
        path = tmp_path / model / "metrics.json"
        path.parent.mkdir()
        path.write_text(json.dumps({"dataset": "ising", "model": model, "frac": 1.0,
                                    "seed": 0, "rmse": 10.0, "r2": 0.9, "n_train": 9000,
                                    **extra}))  # fmt: skip
        return path

    reason = "ImageNet weights unavailable (/x/resnet18-f37072fd.pth missing, ...)"
    paths = [
        write("grad-pcr"),
        write("resnet18-pretrained", weights_fallback=reason),
        write(
            "cnnpca-svr",
            features={
                "name": "cnnpca",
                "options": {"weights": "random"},
                "weights_fallback": reason,
            },
        ),  # fmt: skip
    ]
    t = table2(collect_metrics(paths)).set_index("model")
    assert pd.isna(t.loc["grad-pcr", "flag"])
    assert (
        t.loc["resnet18-pretrained", "flag"] == "random init: ImageNet weights unavailable offline"
    )
    assert "random ResNet18 embedding" in t.loc["cnnpca-svr", "flag"]
    md = table2_markdown(t.reset_index())
    assert "Not the paper's ImageNet initialisation: cnnpca-svr, resnet18-pretrained" in md


def test_the_offline_overlay_keeps_every_model_that_needs_no_imagenet_weights():
    """config/offline.yaml was written before resnet18-sym, p4m-cnn, latent-svr and
    twopoint-svr joined the default models and left them out; it drops -pretrained only."""
    default = merged_config()["models"]["ids"]
    offline = yaml.safe_load((REPO / "config/offline.yaml").read_text())["models"]["ids"]
    assert offline == [m for m in default if not registry.model(m).pretrained]
    assert {"resnet18-sym", "p4m-cnn", "latent-svr", "twopoint-svr"} <= set(offline)
