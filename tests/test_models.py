"""Surrogate models: PCR, SVR (and its search), torchvision CNNs, MuCha ResNet34."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from microprop.metrics import regression_metrics
from microprop.models import PiecewiseConstantRegressor, SVRegressor
from microprop.models.cnn import (
    ARCHITECTURES,
    FLAG_NOT_LEARNED,
    CNNRegressor,
    build_network,
    head_of,
    parse_model_id,
)
from microprop.models.svr import tune_svr
from microprop.weights import weights_file


def grey_images(n: int, seed: int, channels: int = 0):
    """Images of uniform grey level v plus noise; the property is v (a known relation)."""
    rng = np.random.default_rng(seed)
    v = rng.uniform(20, 235, n)
    shape = (n, channels, 64, 64) if channels else (n, 64, 64)
    noise = rng.normal(0, 8, shape)
    level = v.reshape((n,) + (1,) * (len(shape) - 1))
    return np.clip(level + noise, 0, 255).astype(np.uint8), v


def beats_mean(pred, y_test, y_train) -> bool:
    mean_rmse = regression_metrics(y_test, np.full_like(y_test, y_train.mean()))["rmse"]
    return regression_metrics(y_test, pred)["rmse"] < mean_rmse


def test_pcr_exact_on_constructed_case(tmp_path):
    # two samples per unit bin; the bins' mean features are well separated
    y = np.array([0.0, 0.5, 3.0, 3.5, 7.0, 7.5])
    X = np.array([[0.0, 10.0], [0.2, 10.0], [5.0, 0.0], [5.2, 0.0], [9.0, 5.0], [9.2, 5.0]])
    model = PiecewiseConstantRegressor(bin_width=1.0).fit(X, y)
    assert model.bin_values_.tolist() == pytest.approx([0.25, 3.25, 7.25])
    assert model.predict(X).tolist() == pytest.approx([0.25, 0.25, 3.25, 3.25, 7.25, 7.25])
    assert model.predict([[0.1, 10.0], [9.1, 5.0]]).tolist() == pytest.approx([0.25, 7.25])
    model.save(tmp_path / "m.npz")
    loaded = PiecewiseConstantRegressor.load(tmp_path / "m.npz")
    assert np.array_equal(loaded.predict(X), model.predict(X))


def test_svr_beats_mean_and_round_trips(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 10, (300, 3))
    y = 20 * np.sin(X[:, 0]) + 3 * X[:, 1] + rng.normal(0, 0.5, 300)
    model = SVRegressor(C=100.0, gamma="scale", epsilon=0.1).fit(X[:200], y[:200])
    pred = model.predict(X[200:])
    assert beats_mean(pred, y[200:], y[:200])
    assert regression_metrics(y[200:], pred)["r2"] > 0.7
    from sklearn.svm import SVR

    Z = (X - model.scaler_mean_) / model.scaler_scale_
    ref = SVR(C=100.0, gamma=model.gamma_, epsilon=0.1).fit(Z[:200], y[:200]).predict(Z[200:])
    np.testing.assert_allclose(pred, ref, rtol=1e-8, atol=1e-8)
    model.save(tmp_path / "svr.npz")
    with np.load(tmp_path / "svr.npz", allow_pickle=False) as f:  # plain arrays only
        assert "support_vectors" in f.files
    assert np.array_equal(SVRegressor.load(tmp_path / "svr.npz").predict(X[200:]), pred)


def test_tune_svr_stays_in_ranges_and_is_seeded():
    rng = np.random.default_rng(2)
    X = rng.uniform(-1, 1, (80, 2))
    y = 10 * X[:, 0] + rng.normal(0, 0.1, 80)
    kw = dict(n_trials=4, seed=3, C_range=(1e-2, 1e3), gamma_range=(1e-3, 1.0), cv_folds=3)
    best, info = tune_svr(X, y, **kw)
    assert 1e-2 <= best["C"] <= 1e3 and 1e-3 <= best["gamma"] <= 1.0
    assert 0.1 <= best["epsilon"] <= 0.5
    assert info["n_trials"] == 4 and info["cv_folds"] == 3
    assert tune_svr(X, y, **kw)[0] == best


def test_parse_model_id():
    assert parse_model_id("densenet121-pretrained") == ("densenet121", True)
    with pytest.raises(ValueError, match="not a CNN model id"):
        parse_model_id("resnet50")


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_architecture_has_one_output_and_trains(arch):
    X, y = grey_images(6, 0)
    model = CNNRegressor(arch=arch, max_epochs=1, batch_size=4, threads=1, seed=0).fit(X, y)
    pred = model.predict(X)
    assert pred.shape == (6,) and np.isfinite(pred).all()
    assert head_of(model.model_.net).out_features == 1


def test_cnn_learns_keeps_best_checkpoint_and_is_deterministic(tmp_path):
    """A small ResNet18 (bf16 autocast where the CPU has it) lowers its validation loss
    over a few epochs, keeps the checkpoint of the lowest validation loss, is not
    flagged, beats the mean on held-out images and repeats itself for one seed."""
    X, y = grey_images(160, 1)
    opts = dict(arch="resnet18", max_epochs=4, batch_size=16, threads=2, seed=5)
    a = CNNRegressor(**opts).fit(X[:128], y[:128])
    val = [h["val_loss"] for h in a.history_]
    assert len(val) == 4 and min(val[1:]) < val[0], val
    summary = a.training_summary()
    assert summary["epochs_run"] == 4 and summary["max_epochs"] == 4
    assert summary["best_epoch"] == int(np.argmin(val)) + 1
    assert summary["learned"] and summary["flag"] is None and a.check_r2_ >= a.min_r2
    pred = a.predict(X[128:])
    assert beats_mean(pred, y[128:], y[:128])
    assert a.n_val_ == round(0.2 * 128)  # 20 % held out for validation
    # same seed, same numbers on the CPU (a short run keeps the test fast)
    short = dict(opts, max_epochs=1)
    runs = [CNNRegressor(**short).fit(X[:40], y[:40]).predict(X[128:]) for _ in range(2)]
    assert np.array_equal(runs[0], runs[1])
    a.save(tmp_path / "model.pt")
    loaded = CNNRegressor.load(tmp_path / "model.pt")
    np.testing.assert_allclose(loaded.predict(X[128:]), pred, rtol=1e-6)
    assert loaded.training_summary() == summary


def test_cnn_that_cannot_learn_is_flagged(caplog):
    """Targets unrelated to the images: the model ends no better than a constant
    predictor on the validation images (R² < min_r2) and carries the contract's flag."""
    X, _ = grey_images(40, 4)
    y = np.random.default_rng(99).permutation(np.linspace(0, 255, 40))  # unrelated to X
    with caplog.at_level("WARNING", logger="microprop"):
        model = CNNRegressor(max_epochs=1, batch_size=8, threads=2, seed=0).fit(X, y)
    assert model.check_r2_ < model.min_r2
    assert any(FLAG_NOT_LEARNED in r.getMessage() for r in caplog.records)
    assert model.training_summary() == {
        "epochs_run": 1,
        "max_epochs": 1,
        "best_epoch": 1,
        "learned": False,
        "flag": FLAG_NOT_LEARNED,
    }
    assert FLAG_NOT_LEARNED == "did not learn: budget too small"


def test_batchnorm_recalibration_is_kept_only_when_it_helps():
    """Recomputing BatchNorm statistics on the training images is kept only where it
    lowers the check loss: that loss is never above the run without it."""
    X, y = grey_images(48, 2, channels=3)
    opts = dict(protocol="mucha", max_epochs=2, batch_size=16, threads=2, seed=0)
    without = CNNRegressor(bn_recalibrate=False, **opts).fit(X, y)
    with_bn = CNNRegressor(bn_recalibrate=True, **opts).fit(X, y)
    assert not without.bn_recalibrated_
    assert with_bn.check_loss_ <= without.check_loss_
    if not with_bn.bn_recalibrated_:  # discarded: the very same weights and statistics
        a, b = without.model_.state_dict(), with_bn.model_.state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_mucha_protocol_trains_resnet34_on_three_channels():
    # The paper's MuCha protocol (SGD, L1, fixed lr) needs far more steps than a unit
    # test can afford to beat the mean predictor; here: it trains and predicts.
    X, y = grey_images(48, 2, channels=3)
    model = CNNRegressor(protocol="mucha", max_epochs=2, batch_size=16, threads=2, seed=0)
    model.fit(X[:32], y[:32])
    assert model.n_val_ == 0 and model.hyperparameters()["arch"] == "resnet34"
    assert [len(model.model_.net.get_submodule(f"layer{i}")) for i in range(1, 5)] == [3, 4, 6, 3]
    assert len(model.history_) == 2 and all(np.isfinite(h["train_loss"]) for h in model.history_)
    assert np.isfinite(model.predict(X[32:])).all()
    with pytest.raises(ValueError, match="3 channel"):
        model.predict(X[:2, 0])


def test_mucha_protocol_reduces_its_l1_loss():
    """SGD (lr 1e-3, momentum 0.9) with the L1 loss optimizes: over 30 steps on 64
    images whose brightness encodes the target, the training loss falls by a third.
    (Eval-mode predictions need many more steps, for BatchNorm's running statistics.)"""
    rng = np.random.default_rng(0)
    y = rng.uniform(0, 255, 64)
    noise = rng.normal(0, 30, (64, 3, 64, 64))
    X = np.clip(y[:, None, None, None] + noise, 0, 255).astype(np.uint8)
    model = CNNRegressor(protocol="mucha", max_epochs=15, batch_size=32, threads=2, seed=0)
    losses = [h["train_loss"] for h in model.fit(X, y).history_]
    assert min(losses[-5:]) < 2 / 3 * losses[0], losses


def test_pretrained_loads_the_cached_weights_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    expected = weights_file("resnet18")
    assert expected == tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    with pytest.raises(FileNotFoundError, match="resnet18-f37072fd.pth"):
        build_network("resnet18", pretrained=True)
    import torchvision

    torch.manual_seed(123)
    reference = torchvision.models.resnet18()
    expected.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), expected)
    net = build_network("resnet18", pretrained=True, seed=0)
    assert torch.equal(net.conv1.weight, reference.conv1.weight)
    assert net.fc.out_features == 1
    # the pretrained protocol: a frozen-backbone phase, then everything at finetune_lr
    X, y = grey_images(20, 3)
    model = CNNRegressor(pretrained=True, max_epochs=1, head_epochs=1, threads=1).fit(X, y)
    assert [h["phase"] for h in model.history_] == ["head", "finetune"]
    assert model.history_[1]["lr"] == pytest.approx(1e-4)
    # epochs count over both phases; the best checkpoint may come from either
    summary = model.training_summary()
    assert summary["epochs_run"] == 2 and summary["max_epochs"] == 2
    best = int(np.argmin([h["val_loss"] for h in model.history_])) + 1
    assert summary["best_epoch"] == best
