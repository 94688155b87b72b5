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
    augment_batch,
    build_network,
    head_of,
    parse_model_id,
)
from microprop.models.svr import grid_svr, tune_svr
from microprop.splits import validation_split
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


def test_tune_svr_searches_table_b3_space_and_records_every_trial():
    rng = np.random.default_rng(2)
    X = rng.uniform(-1, 1, (80, 2))
    y = 10 * X[:, 0] + rng.normal(0, 0.1, 80)
    kw = dict(n_trials=6, seed=3, cv_folds=3, n_startup_trials=4)
    best, info = tune_svr(X, y, **kw)
    assert 1e-5 <= best["C"] <= 1e6 and best["gamma"] in ("scale", "auto")
    assert 0.1 <= best["epsilon"] <= 0.5
    assert info["space"] == {"C": [1e-5, 1e6], "gamma": ["scale", "auto"], "epsilon": [0.1, 0.5]}
    assert info["n_trials"] == 6 and info["cv_folds"] == 3 and info["n_startup_trials"] == 4
    assert [t["trial"] for t in info["trials"]] == list(range(6))
    assert all(t["gamma"] in ("scale", "auto") for t in info["trials"])
    best_trial = min(info["trials"], key=lambda t: t["cv_rmse"])
    assert best_trial["trial"] == info["best_trial"] and best_trial["C"] == best["C"]
    assert info["n_capped_fits"] == 0  # no iteration cap by default
    assert tune_svr(X, y, **kw)[0] == best


def test_tune_svr_counts_fits_cut_by_an_iteration_cap():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 3))
    y = 50 * np.sin(3 * X[:, 0]) + rng.normal(0, 5, 200)
    _, info = tune_svr(X, y, n_trials=2, seed=0, cv_folds=2, C_range=(1e5, 1e6), max_iter=5)
    assert info["n_capped_fits"] == 4 and all(t["capped_fits"] == 2 for t in info["trials"])


def test_tune_svr_searches_at_least_5000_images_by_default_config():
    import yaml

    svr = yaml.safe_load(open("config/config.yaml"))["models"]["svr"]
    assert svr["n_trials"] >= 64 and svr["cv_folds"] == 5 and svr["search_max_iter"] == -1
    assert svr["search_max_samples"] == 0 or svr["search_max_samples"] >= 5000
    assert svr["gammas"] == ["scale", "auto"] and svr["epsilon_range"] == [0.1, 0.5]
    assert svr["C_range"] == [1e-5, 1e6]
    paper = yaml.safe_load(open("config/paper.yaml"))["models"]["svr"]
    assert paper["n_trials"] == 1024


def test_svr_feeds_pca_components_unscaled_and_fits_the_pca_on_its_training_data(tmp_path):
    rng = np.random.default_rng(5)
    latent = rng.normal(size=(300, 3)) * np.array([10.0, 3.0, 1.0])
    X = latent @ rng.normal(size=(3, 20)) + 0.01 * rng.normal(size=(300, 20))
    y = latent[:, 0] + 0.5 * latent[:, 1]
    model = SVRegressor(C=100.0, epsilon=0.01, standardize=False, n_components=3).fit(X, y)
    from sklearn.decomposition import PCA
    from sklearn.svm import SVR

    pca = PCA(n_components=3, svd_solver="full").fit(X)
    np.testing.assert_allclose(model.pca_mean_, X.mean(axis=0))
    Z = pca.transform(X)  # the components as they are: no standardization
    assert np.all(model.scaler_scale_ == 1.0) and np.all(model.scaler_mean_ == 0.0)
    assert model.gamma_ == pytest.approx(1.0 / (3 * Z.var()))
    ref = SVR(C=100.0, epsilon=0.01, gamma=model.gamma_).fit(Z, y).predict(Z)
    np.testing.assert_allclose(model.predict(X), ref, rtol=1e-6, atol=1e-6)
    standardized = SVRegressor(C=100.0, epsilon=0.01, n_components=3).fit(X, y)
    assert not np.allclose(standardized.predict(X), model.predict(X), atol=1e-3)
    model.save(tmp_path / "m.npz")
    loaded = SVRegressor.load(tmp_path / "m.npz")
    assert not loaded.standardize and loaded.n_components == 3
    assert np.array_equal(loaded.predict(X), model.predict(X))


def test_grid_svr_scales_with_the_labels_and_records_every_point():
    rng = np.random.default_rng(6)
    X = rng.uniform(-1, 1, (150, 2))
    y = 20 * np.sin(2 * X[:, 0]) + X[:, 1] + rng.normal(0, 0.5, 150)
    grid = {"C": [0.1, 10.0], "epsilon": [0.01, 0.1], "gamma": ["scale", "auto"]}
    best, info = grid_svr(X, y, grid, seed=0, cv_folds=3)
    # standardized inputs: 'auto' == 'scale', so 2 x 2 points
    assert len(info["points"]) == info["n_trials"] == 4
    assert best["C"] == pytest.approx(10.0 * y.std())  # a large C fits a smooth signal
    # C and epsilon relative to the label spread: labels x 100 give the same choice x 100
    best100, info100 = grid_svr(X, 100 * y, grid, seed=0, cv_folds=3)
    assert best100["C"] == pytest.approx(100 * best["C"])
    assert best100["epsilon"] == pytest.approx(100 * best["epsilon"])
    assert info100["best_cv_rmse"] == pytest.approx(100 * info["best_cv_rmse"], rel=1e-3)
    # unscaled PCA input: 'scale' and 'auto' differ, both are tried
    _, info_pca = grid_svr(X, y, grid, seed=0, cv_folds=3, standardize=False, n_components=2)
    assert {p["gamma"] for p in info_pca["points"]} == {"scale", "auto"}


def test_svr_searches_leave_whole_runs_out_when_given_runs():
    """CH's test split is held-out runs: with runs as groups the CV scores fits on others.

    Each run has its own offset, which a run-identifying feature makes learnable within a
    run: shuffled folds reward learning it, run-grouped folds cannot, and their RMSE is the
    mean of refits that never saw the held-out run.
    """
    from sklearn.model_selection import LeaveOneGroupOut

    rng = np.random.default_rng(8)
    runs = np.repeat(np.arange(4), 40)
    offset = np.array([-30.0, 10.0, 25.0, -5.0])
    x = rng.uniform(-1, 1, len(runs))
    X = np.column_stack([x, runs + rng.normal(0, 0.05, len(runs))])
    y = 20 * x + offset[runs]
    grid = {"C": [10.0], "epsilon": [0.01], "gamma": ["scale"]}
    _, shuffled = grid_svr(X, y, grid, seed=0, cv_folds=4)
    _, grouped = grid_svr(X, y, grid, seed=0, cv_folds=5, groups=runs)
    assert shuffled["cv_groups"] == 0 and grouped["cv_groups"] == 4
    assert grouped["cv_folds"] == 4  # min(cv_folds, runs)
    assert grouped["best_cv_rmse"] > 3 * shuffled["best_cv_rmse"]
    by_hand = []
    for fit, held in LeaveOneGroupOut().split(X, y, runs):
        model = SVRegressor(C=10.0 * y.std(), epsilon=0.01 * y.std(), gamma="scale")
        pred = model.fit(X[fit], y[fit]).predict(X[held])
        by_hand.append(np.sqrt(np.mean((pred - y[held]) ** 2)))
    assert grouped["best_cv_rmse"] == pytest.approx(np.mean(by_hand), rel=1e-6)
    # the TPE search takes the same folds
    _, tpe = tune_svr(X, y, n_trials=2, seed=0, cv_folds=5, groups=runs)
    assert tpe["cv_groups"] == 4 and tpe["cv_folds"] == 4


def test_fraction_fits_every_preprocessing_step_on_its_training_subset():
    from microprop.io import TEST, TRAIN, Dataset
    from microprop.models import fit_evaluate, training_subset

    rng = np.random.default_rng(7)
    n = 400
    X = rng.normal(size=(n, 8)) * np.linspace(1, 4, 8) + rng.normal(size=(n, 1)) * 3
    y = X[:, 0] * 10 + 100
    ds = Dataset(X, y, np.where(np.arange(n) % 5 == 0, TEST, TRAIN))
    subset = training_subset(ds.train_idx, 0.1, 0)
    pca_svr, _, _ = fit_evaluate(SVRegressor(C=10.0, standardize=False, n_components=4), ds, 0.1, 0)
    np.testing.assert_allclose(pca_svr.pca_mean_, X[subset].mean(axis=0))
    assert not np.allclose(pca_svr.pca_mean_, X[ds.train_idx].mean(axis=0))
    svr, _, _ = fit_evaluate(SVRegressor(C=10.0), ds, 0.1, 0)
    np.testing.assert_allclose(svr.scaler_scale_, X[subset].std(axis=0))
    pcr, _, _ = fit_evaluate(PiecewiseConstantRegressor(), ds, 0.1, 0)
    np.testing.assert_allclose(pcr.feature_min_, X[subset].min(axis=0))


def test_parse_model_id():
    assert parse_model_id("densenet121-pretrained") == ("densenet121", True, False)
    for bad in ("resnet50", "p4m", "p4m-sym", "resnet18-cnn", "resnet18-pretrained-sym"):
        with pytest.raises(ValueError, match="not a CNN model id"):
            parse_model_id(bad)


def train_mode_loss(model: CNNRegressor, X, y, net=None) -> float:
    """MSE of the standardized targets on images ``X`` with batch statistics (train-mode
    batch norm, so the running statistics a forward pass updates do not matter), by the
    fitted network or by ``net`` behind the same input standardization."""
    import copy

    wrapper = copy.deepcopy(model.model_)
    if net is not None:
        wrapper.net = net
    wrapper.train()
    with torch.no_grad():
        out = wrapper(torch.from_numpy(X[:, None])).float()
    target = torch.as_tensor((y - model.y_mean_) / model.y_std_, dtype=torch.float32)
    return float(torch.mean((out - target) ** 2))


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_architecture_has_one_output_and_trains(arch):
    """One output; training moves every parameter away from the seeded initial network
    and lowers the loss on the training images. A small learning rate (3e-5) keeps the
    first steps downhill for every architecture (at the default 1e-3 the resnets' first
    steps overshoot on 6 images: loss 1.9 -> 3.0 for resnet18)."""
    X, y = grey_images(6, 0)
    model = CNNRegressor(
        arch=arch, max_epochs=1, min_steps=0, batch_size=4, threads=1, seed=0, lr=3e-5
    )
    model.fit(X, y)
    pred = model.predict(X)
    assert pred.shape == (6,) and np.isfinite(pred).all()
    assert head_of(model.model_.net).out_features == 1
    initial = build_network(arch, seed=0)  # the network fit() starts from for seed 0
    start = dict(initial.named_parameters())
    unmoved = [
        name
        for name, p in model.model_.net.named_parameters()
        if torch.equal(p.detach().cpu(), start[name].detach())
    ]
    assert not unmoved, unmoved
    assert train_mode_loss(model, X, y) < train_mode_loss(model, X, y, initial)


@pytest.mark.slow  # trains a CNN for many steps on the CPU
def test_cnn_learns_keeps_best_checkpoint_and_is_deterministic(tmp_path):
    """A small ResNet18 (bf16 autocast where the CPU has it) lowers its validation loss
    over a few epochs, keeps the checkpoint of the lowest validation loss, is not
    flagged, beats the mean on held-out images and repeats itself for one seed."""
    X, y = grey_images(160, 1)
    opts = dict(arch="resnet18", max_epochs=4, batch_size=16, threads=2, seed=5, min_steps=0)
    opts.update(plateau_patience=5, patience=20)  # the paper's patiences
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
        model = CNNRegressor(max_epochs=1, min_steps=0, batch_size=8, threads=2, seed=0).fit(X, y)
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
    opts = dict(protocol="mucha", max_epochs=2, min_steps=0, batch_size=16, threads=2, seed=0)
    without = CNNRegressor(bn_recalibrate=False, **opts).fit(X, y)
    with_bn = CNNRegressor(bn_recalibrate=True, **opts).fit(X, y)
    assert not without.bn_recalibrated_
    assert with_bn.check_loss_ <= without.check_loss_
    if not with_bn.bn_recalibrated_:  # discarded: the very same weights and statistics
        a, b = without.model_.state_dict(), with_bn.model_.state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow  # trains a CNN for many steps on the CPU
def test_mucha_protocol_trains_resnet34_on_three_channels():
    # The paper's MuCha protocol (SGD, L1, fixed lr) needs far more steps than a unit
    # test can afford to beat the mean predictor; here: it trains and predicts.
    X, y = grey_images(48, 2, channels=3)
    model = CNNRegressor(protocol="mucha", max_epochs=2, batch_size=16, threads=2, seed=0)
    model.set_params(min_steps=0).fit(X[:32], y[:32])
    assert model.n_val_ == 0 and model.hyperparameters()["arch"] == "resnet34"
    assert [len(model.model_.net.get_submodule(f"layer{i}")) for i in range(1, 5)] == [3, 4, 6, 3]
    assert len(model.history_) == 2 and all(np.isfinite(h["train_loss"]) for h in model.history_)
    assert np.isfinite(model.predict(X[32:])).all()
    with pytest.raises(ValueError, match="3 channel"):
        model.predict(X[:2, 0])


@pytest.mark.slow  # trains a CNN for many steps on the CPU
def test_mucha_protocol_reduces_its_l1_loss():
    """SGD (lr 1e-3, momentum 0.9) with the L1 loss optimizes: over 30 steps on 64
    images whose brightness encodes the target, the training loss falls by a third.
    (Eval-mode predictions need many more steps, for BatchNorm's running statistics.)"""
    rng = np.random.default_rng(0)
    y = rng.uniform(0, 255, 64)
    noise = rng.normal(0, 30, (64, 3, 64, 64))
    X = np.clip(y[:, None, None, None] + noise, 0, 255).astype(np.uint8)
    model = CNNRegressor(protocol="mucha", max_epochs=15, batch_size=32, threads=2, seed=0)
    model.set_params(min_steps=0)
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
    model = CNNRegressor(pretrained=True, max_epochs=1, head_epochs=1, min_steps=0, threads=1)
    model.fit(X, y)
    assert [h["phase"] for h in model.history_] == ["head", "finetune"]
    assert model.history_[1]["lr"] == pytest.approx(1e-4)
    # epochs count over both phases; the best checkpoint may come from either
    summary = model.training_summary()
    assert summary["epochs_run"] == 2 and summary["max_epochs"] == 2
    best = int(np.argmin([h["val_loss"] for h in model.history_])) + 1
    assert summary["best_epoch"] == best


def test_min_steps_stretches_epochs_and_patiences_at_small_fractions():
    """8 fitting images in batches of 4 are 2 steps per epoch: min_steps 6 needs 3 epochs
    where max_epochs allows 1, and the patiences grow by the same factor."""
    X, y = grey_images(10, 2)
    opts = dict(arch="resnet18", batch_size=4, threads=1, seed=0, bn_recalibrate=False)
    model = CNNRegressor(max_epochs=1, min_steps=6, patience=2, plateau_patience=1, **opts)
    model.fit(X, y)
    assert model.n_fit_ == 8 and model.epochs_ == 3 and model.epochs_run_ == 3
    assert model.training_summary()["max_epochs"] == 3
    assert (model.patience_, model.plateau_patience_) == (6, 3)
    plain = CNNRegressor(max_epochs=1, min_steps=2, **opts).fit(X, y)  # 1 epoch is enough
    assert plain.epochs_ == plain.epochs_run_ == 1


def test_min_steps_raises_the_fixed_epochs_of_the_mucha_protocol():
    """MuCha trains a fixed number of epochs: on 8 images in batches of 4 (2 steps per
    epoch) min_steps 6 makes 3 of the 1 asked for (a small dataset such as cfd's)."""
    X, y = grey_images(8, 2, channels=3)
    opts = dict(protocol="mucha", batch_size=4, threads=1, seed=0, bn_recalibrate=False)
    model = CNNRegressor(max_epochs=1, min_steps=6, **opts).fit(X, y)
    assert model.epochs_ == model.epochs_run_ == len(model.history_) == 3
    assert model.training_summary()["max_epochs"] == 3
    assert CNNRegressor(max_epochs=1, min_steps=0, **opts).fit(X, y).epochs_run_ == 1


def test_augment_batch_transforms_the_image_and_recomputes_mucha_channels():
    from microprop.cfd import random_symmetry
    from microprop.features.mucha import MultiChannel

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 64, 64), dtype=np.uint8)
    channels = {"wavelet": "sym4", "rescale_image": False}
    X = torch.from_numpy(MultiChannel(**channels).transform(images))
    spec = {"group": "kolmogorov", "k": 4, "channels": channels}
    out = augment_batch(X, spec, np.random.default_rng(3)).numpy()
    moved = random_symmetry(images, np.random.default_rng(3), 4)  # the same draws
    assert not np.array_equal(moved, images)
    assert np.array_equal(out, MultiChannel(**channels).transform(moved))
    grey = augment_batch(X[:, :1], {"group": "kolmogorov", "k": 4}, np.random.default_rng(3))
    assert np.array_equal(grey.numpy()[:, 0], moved)


def test_square_augmentation_moves_each_image_by_d4_and_a_periodic_shift():
    """The "square" group (Ising, CH) draws resnet18-sym's transforms from the numpy
    generator: reproducible per seed, every channel the same transformed image, and each
    output image one of the 8 x 16 x 16 D4-and-shift images of its input."""
    from microprop.symmetry import d4

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 16, 16), dtype=np.uint8)
    X = torch.from_numpy(np.repeat(images[:, None], 3, axis=1))
    out = augment_batch(X, {"group": "square"}, np.random.default_rng(3)).numpy()
    again = augment_batch(X, {"group": "square"}, np.random.default_rng(3)).numpy()
    assert np.array_equal(out, again) and (out == out[:, :1]).all()
    for image, moved in zip(images, out[:, 0], strict=True):
        orbit = [
            np.roll(d4(torch.from_numpy(image), g).numpy(), (-a, -b), axis=(0, 1))
            for g in range(8)
            for a in range(16)
            for b in range(16)
        ]
        assert sum(np.array_equal(moved, o) for o in orbit) >= 1
    assert not np.array_equal(out[:, 0], images)


def test_augmented_cnn_trains_saves_and_refuses_an_unknown_group(tmp_path):
    X, y = grey_images(12, 2, channels=3)
    spec = {"group": "kolmogorov", "k": 4, "channels": {"wavelet": "sym4"}}
    opts = dict(protocol="mucha", batch_size=4, threads=1, seed=0, bn_recalibrate=False)
    opts.update(min_steps=0)
    model = CNNRegressor(max_epochs=1, augment=spec, **opts).fit(X, y)
    plain = CNNRegressor(max_epochs=1, **opts).fit(X, y)
    assert model.history_[0]["train_loss"] != plain.history_[0]["train_loss"]
    model.save(tmp_path / "m.pt")
    loaded = CNNRegressor.load(tmp_path / "m.pt")
    assert loaded.augment == spec
    np.testing.assert_allclose(loaded.predict(X), model.predict(X), rtol=1e-5)
    with pytest.raises(ValueError, match="augment group"):
        CNNRegressor(max_epochs=1, augment={"group": "d4"}, **opts).fit(X, y)


def test_validation_split_holds_out_whole_groups_and_keeps_the_random_split():
    """With groups the validation rows are whole groups, round(fraction x groups) of them
    (one at least, never all); without groups (or with one) the split is the random one
    of before, drawn from the same generator state; fraction 0 gives no validation."""
    groups = np.repeat([3, 7, 1, 9, 4], 6)  # 5 runs of 6 images
    for fraction, n_groups in ((0.2, 1), (0.4, 2), (0.01, 1), (0.99, 4)):
        gen = torch.Generator().manual_seed(0)
        val, fit = validation_split(len(groups), fraction, gen, groups)
        assert len(np.unique(groups[val])) == n_groups
        assert not set(groups[val]) & set(groups[fit])
        assert np.array_equal(np.sort(np.concatenate([val, fit])), np.arange(len(groups)))
    picked = set()
    for seed in range(20):
        val, _ = validation_split(30, 0.2, torch.Generator().manual_seed(seed), groups)
        picked.add(tuple(np.unique(groups[val])))
    assert len(picked) > 1  # the held-out run depends on the seed
    random_split = validation_split(30, 0.2, torch.Generator().manual_seed(5))
    for one_group in (None, np.zeros(30, dtype=int)):
        same = validation_split(30, 0.2, torch.Generator().manual_seed(5), one_group)
        assert all(np.array_equal(a, b) for a, b in zip(same, random_split, strict=True))
    assert len(random_split[0]) == 6
    val, fit = validation_split(30, 0.0, torch.Generator().manual_seed(5), groups)
    assert len(val) == 0 and len(fit) == 30
    with pytest.raises(ValueError, match="29 labels for 30 images"):
        validation_split(30, 0.2, torch.Generator(), groups[:29])


def test_cnn_validates_on_whole_groups_when_given_groups():
    X, y = grey_images(24, 4)
    groups = np.repeat([0, 1, 2, 3], 6)
    model = CNNRegressor(max_epochs=1, batch_size=4, threads=1, seed=0, bn_recalibrate=False)
    model.set_params(min_steps=0).fit(X, y, groups=groups)
    held_out = np.unique(groups[model.val_idx_])
    assert model.n_val_ == 6 and len(held_out) == 1 and model.val_groups_ == held_out.tolist()
    assert model.y_range_ == (y[groups != held_out[0]].min(), y[groups != held_out[0]].max())


def test_fit_evaluate_calibrates_a_cnn_on_whole_runs_with_fit_groups():
    """fit_groups: the CNN's validation part, and so its conformal calibration set, is
    the training images of whole runs; no test row and no fitted run among them."""
    from microprop.io import TEST, TRAIN, Dataset
    from microprop.models import fit_evaluate

    X, y = grey_images(30, 5)
    runs = np.repeat([0, 1, 2, 3, 4], 6)
    data = Dataset(X, y, np.where(runs == 4, TEST, TRAIN))
    estimator = CNNRegressor(max_epochs=1, batch_size=4, threads=1, seed=0, bn_recalibrate=False)
    estimator.set_params(min_steps=0)
    calibration = {"method": "validation", "score": "constant"}
    options = dict(flatten=False, calibration=calibration, groups=runs, fit_groups=True)
    model, metrics, _ = fit_evaluate(estimator, data, 1.0, 0, **options)
    (cal,) = model.conformal_.sets.values()
    assert len(np.unique(runs[cal.index])) == 1 and len(cal) == 6
    assert runs[cal.index][0] in (0, 1, 2, 3) and model.val_groups_ == [runs[cal.index][0]]
    with pytest.raises(ValueError, match="fit_groups needs groups"):
        fit_evaluate(estimator, data, 1.0, 0, flatten=False, fit_groups=True)


def test_predictions_are_clipped_to_the_fitting_labels_range(tmp_path):
    """clip_predictions: the range is that of the fitting images' labels (the validation
    part left out), predict clips to it, the range is saved, and a model file from
    before clipping existed loads without it and predicts unclipped."""
    X, y = grey_images(20, 2)
    model = CNNRegressor(max_epochs=1, min_steps=0, batch_size=4, threads=1, seed=0).fit(X, y)
    fit_rows = np.setdiff1d(np.arange(len(y)), model.val_idx_)
    assert model.n_val_ > 0 and model.y_range_ == (y[fit_rows].min(), y[fit_rows].max())
    model.clip_predictions = False
    raw = model.predict(X)
    lo, hi = np.quantile(raw, [0.25, 0.75])  # a narrow range: clipping must act
    model.clip_predictions, model.y_range_ = True, (lo, hi)
    clipped = model.predict(X)
    assert np.array_equal(clipped, np.clip(raw, lo, hi)) and not np.array_equal(clipped, raw)
    model.save(tmp_path / "m.pt")
    assert np.array_equal(CNNRegressor.load(tmp_path / "m.pt").predict(X), clipped)
    blob = torch.load(tmp_path / "m.pt", weights_only=True)
    del blob["meta"]["y_range"]  # the file format of before
    torch.save(blob, tmp_path / "old.pt")
    old = CNNRegressor.load(tmp_path / "old.pt")
    assert not old.clip_predictions and np.array_equal(old.predict(X), raw)


def test_mucha_weight_averaging_averages_the_last_epochs(monkeypatch):
    """swa_share: the final weights are the mean of the end-of-epoch weights of the
    last ceil(share x epochs) epochs, with BatchNorm statistics recomputed for them."""
    from torch.optim.swa_utils import AveragedModel

    X, y = grey_images(24, 2, channels=3)
    opts = dict(protocol="mucha", max_epochs=4, batch_size=8, threads=1, seed=0)
    opts.update(bn_recalibrate=False, min_steps=0)
    snapshots, update = [], AveragedModel.update_parameters

    def record(self, model):  # the end-of-epoch weights the average receives
        snapshots.append({k: v.detach().clone() for k, v in model.named_parameters()})
        update(self, model)

    monkeypatch.setattr(AveragedModel, "update_parameters", record)
    averaged = CNNRegressor(swa_share=0.5, **opts).fit(X, y)
    plain = CNNRegressor(**opts).fit(X, y)
    assert averaged.swa_epochs_ == 2 and len(snapshots) == 2
    params = dict(averaged.model_.named_parameters())
    for name, value in snapshots[-1].items():
        mean = (snapshots[0][name] + value) / 2
        torch.testing.assert_close(params[name].detach(), mean, rtol=1e-5, atol=1e-6)
    # the last snapshot is where the plain run ends: same seed, same trajectory
    last = dict(plain.model_.named_parameters())
    assert all(torch.equal(last[k].detach(), v) for k, v in snapshots[-1].items())
    bn = [m for m in averaged.model_.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    bn_plain = [m for m in plain.model_.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert not torch.equal(bn[0].running_mean, bn_plain[0].running_mean)
    assert np.isfinite(averaged.predict(X)).all()
