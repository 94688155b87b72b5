"""The one torch training loop (microprop.training), shared by the CNNs, the autoencoder
and the design study's property models."""

import pytest
import torch
from torch import nn

from microprop.training import Checkpoint, fit_torch, shuffled_batches, train_epochs


def line_problem(n=8):
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, n)[:, None]
    return nn.Linear(1, 1), x, 2 * x


def scripted(losses):
    """A validate() that reports the given losses, one per epoch."""
    it = iter(losses)
    return lambda: {"val_loss": next(it), "val_r2": 0.5}


def test_early_stopping_checkpoint_and_history():
    net, x, y = line_problem()
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    best = Checkpoint()
    history = train_epochs(
        net, opt, nn.functional.mse_loss, lambda: [(x, y)], len(x), 10,
        scripted([3.0, 2.0, 2.5, 2.6, 1.0]), patience=2, checkpoint=best, name="train",
    )  # fmt: skip
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]  # 2 epochs without a lower loss
    assert (best.loss, best.epoch, best.epochs_run) == (2.0, 2, 4)
    assert set(history[0]) == {
        "phase", "epoch", "train_loss", "val_loss", "val_r2", "lr", "seconds", "train_seconds"
    }  # fmt: skip
    assert history[0]["phase"] == "train" and history[0]["val_r2"] == 0.5


def test_the_checkpoint_spans_phases_and_each_phase_has_its_own_patience():
    net, x, y = line_problem()
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    best = Checkpoint()
    loop = (net, opt, nn.functional.mse_loss, lambda: [(x, y)], len(x))
    train_epochs(*loop, 2, scripted([1.0, 0.5]), patience=1, checkpoint=best, name="head")
    # the second phase starts its own best: 0.8 is an improvement there, not overall
    h = train_epochs(*loop, 5, scripted([0.8, 0.9, 0.3]), patience=1, checkpoint=best)
    assert len(h) == 2 and best.epochs_run == 4 and (best.loss, best.epoch) == (0.5, 2)


def test_the_scheduler_sees_the_validation_loss_and_no_validation_runs_every_epoch():
    net, x, y = line_problem()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    h = train_epochs(
        net, opt, nn.functional.mse_loss, lambda: [(x, y)], len(x), 3,
        scripted([1.0, 1.0, 1.0]), scheduler=plateau,
    )  # fmt: skip
    assert [r["lr"] for r in h] == pytest.approx([0.1, 0.1, 0.05])
    seen, best = [], Checkpoint()
    h = train_epochs(
        net, opt, nn.functional.mse_loss, lambda: [(x, y)], len(x), 3,
        patience=1, checkpoint=best, after_epoch=seen.append,
    )  # fmt: skip
    assert len(h) == 3 and seen == [1, 2, 3] and best.state is None


def test_train_loss_is_the_row_weighted_mean_of_the_batch_losses():
    net, x, y = line_problem(5)
    opt = torch.optim.SGD(net.parameters(), lr=0.0)  # no change: the losses are known
    with torch.no_grad():
        full = [float(nn.functional.mse_loss(net(x[b]), y[b])) for b in (slice(0, 2), slice(2, 5))]
    batches = lambda: [(x[:2], y[:2]), (x[2:], y[2:])]  # noqa: E731
    h = train_epochs(net, opt, nn.functional.mse_loss, batches, 5, 1)
    assert h[0]["train_loss"] == pytest.approx((2 * full[0] + 3 * full[1]) / 5, rel=1e-12)


def test_shuffled_batches_are_the_generators_permutation():
    order = torch.randperm(7, generator=torch.Generator().manual_seed(3))
    got = shuffled_batches(7, 3, torch.Generator().manual_seed(3))
    assert [b.tolist() for b in got] == [order[:3].tolist(), order[3:6].tolist(), [order[6]]]


def test_fit_torch_restores_the_best_epoch_and_refuses_a_diverged_run():
    net, x, y = line_problem(32)
    loop = dict(batch_size=64, lr=0.05, patience=5)
    h = fit_torch(net, nn.functional.mse_loss, x, y, seed=0, max_epochs=5, **loop)
    assert h["epochs"] == 5 and h["n_fit"] + h["n_val"] == 32
    assert h["best_val_loss"] == min(r["val_loss"] for r in h["history"])
    with pytest.raises(ValueError, match="no finite validation loss"):
        fit_torch(nn.Linear(1, 1), nn.functional.mse_loss, x, y * float("nan"), 0, 2, **loop)
