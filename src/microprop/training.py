"""The one torch training loop: the CNN regressors, the autoencoder, the design models.

:func:`train_epochs` runs the epochs of every network microprop trains: shuffled
mini-batches (:func:`shuffled_batches`, drawn from the caller's generator), one optimizer
step per batch (under the caller's autocast and gradient scaler, if any), the validation
loss after every epoch, the plateau scheduler, the best checkpoint by validation loss
(:class:`Checkpoint`, which may span several calls: the two phases of a pretrained CNN),
early stopping after ``patience`` epochs without a lower validation loss, the history
and a progress line per epoch (rate, ETA). What differs between the networks is the
caller's: which batches (augmentation, the CNN's skipped one-image batch), which
validation (the CNN's R², the autoencoder's reconstruction loss) and which optimizer.

Its users: :class:`microprop.models.cnn.CNNRegressor` (both protocols and phases) and
:func:`fit_torch` (a seeded validation part of the given rows, Adam, the best epoch
restored), which trains the autoencoder (:func:`microprop.features.latent.train_autoencoder`)
and the property models of the design study (:func:`microprop.design.fit_property_model`).

It imports no ``features`` or ``models`` module, so both use it without a cycle.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from microprop.splits import n_groups, validation_split
from microprop.symmetry import random_symmetry

log = logging.getLogger("microprop")


@dataclass
class Checkpoint:
    """The best weights by validation loss over one or several :func:`train_epochs` calls.

    ``epochs_run`` counts the epochs of every call; ``epoch`` is that count at the best.
    """

    loss: float = math.inf
    state: dict | None = None
    epoch: int = 0
    epochs_run: int = 0

    def offer(self, model: nn.Module, loss: float) -> None:
        """Keep ``model``'s weights if ``loss`` is lower than the best so far."""
        if loss < self.loss:
            self.loss, self.epoch = loss, self.epochs_run
            self.state = copy.deepcopy(model.state_dict())


def shuffled_batches(n: int, batch_size: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Row indices 0..n-1 in a random order from ``gen``, in batches of ``batch_size``.

    >>> [b.tolist() for b in shuffled_batches(5, 2, torch.Generator().manual_seed(0))]
    [[4, 0], [1, 3], [2]]
    """
    return torch.randperm(n, generator=gen).split(batch_size)


def train_epochs(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable,
    batches: Callable[[], Iterable[tuple[torch.Tensor, torch.Tensor]]],
    n_fit: int,
    epochs: int,
    validate: Callable[[], dict] | None = None,
    *,
    scheduler=None,
    patience: int | None = None,
    checkpoint: Checkpoint | None = None,
    autocast: Callable = contextlib.nullcontext,
    scaler: torch.amp.GradScaler | None = None,
    after_epoch: Callable[[int], None] | None = None,
    name: str = "train",
) -> list[dict]:
    """Train ``model`` for ``epochs`` epochs at most; returns one history record per epoch.

    ``batches()`` yields an epoch's (inputs, targets) batches (``n_fit`` rows in all);
    the loss is ``loss_fn(model(inputs).float(), targets)`` under ``autocast()``, scaled
    by ``scaler`` (fp16) when given. ``validate()`` (eval mode is the caller's) returns
    ``{"val_loss": float or None, ...}``; its other items go into the record. With a
    validation loss: ``scheduler.step(val_loss)``, the best weights offered to
    ``checkpoint``, and a stop after ``patience`` epochs without a lower validation loss
    than this call's best. ``after_epoch(epoch)`` runs after each epoch's validation.

    >>> net = nn.Linear(1, 1); x = torch.linspace(-1, 1, 8)[:, None]
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
    >>> h = train_epochs(net, opt, nn.functional.mse_loss, lambda: [(x, 2 * x)], 8, 3)
    >>> [r["epoch"] for r in h], h[-1]["train_loss"] < h[0]["train_loss"]
    ([1, 2, 3], True)
    """
    checkpoint = checkpoint if checkpoint is not None else Checkpoint()
    scaler = scaler if scaler is not None else torch.amp.GradScaler(enabled=False)
    history, best, stale = [], math.inf, 0
    t_start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        t0 = time.perf_counter()
        total = 0.0  # becomes a float64 tensor on the model's device: no sync per step
        for x, y in batches():
            optimizer.zero_grad(set_to_none=True)
            with autocast():
                loss = loss_fn(model(x).float(), y)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            total = total + loss.detach().double() * len(x)
        train_loss = float(total) / n_fit
        train_seconds = time.perf_counter() - t0
        record = validate() if validate is not None else {"val_loss": None}
        val_loss = record["val_loss"]
        seconds = time.perf_counter() - t0
        checkpoint.epochs_run += 1
        if after_epoch is not None:
            after_epoch(epoch)
        lr = optimizer.param_groups[0]["lr"]
        history.append(
            {
                "phase": name,
                "epoch": epoch,
                "train_loss": train_loss,
                **record,
                "lr": lr,
                "seconds": seconds,
                "train_seconds": train_seconds,
            }
        )
        extra = ", ".join(
            f"{k} {v:.4g}" for k, v in record.items() if k != "val_loss" and v is not None
        )
        log.info(
            "%s epoch %d/%d: train loss %.4g, val loss %s%s, lr %.2g, %.1f s"
            " (%.1f training images/s), ETA <= %.0f s",
            name,
            epoch,
            epochs,
            train_loss,
            f"{val_loss:.4g}" if val_loss is not None else "-",
            f" ({extra})" if extra else "",
            lr,
            seconds,
            n_fit / max(train_seconds, 1e-9),
            (time.perf_counter() - t_start) / epoch * (epochs - epoch),
        )
        if val_loss is None:
            continue
        if scheduler is not None:
            scheduler.step(val_loss)
        checkpoint.offer(model, val_loss)
        if val_loss < best:
            best, stale = val_loss, 0
        else:
            stale += 1
            if patience is not None and stale >= patience:
                log.info("%s: early stop after %d epochs (best val loss %.4g)", name, epoch, best)
                break
    return history


def fit_torch(
    model: nn.Module,
    loss_fn,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    seed: int,
    max_epochs: int,
    batch_size: int,
    lr: float,
    patience: int,
    val_fraction: float = 0.1,
    augment: bool = False,
    name: str = "model",
    groups=None,
) -> dict:
    """Train ``model`` with Adam on ``loss_fn(model(x), y)`` (:func:`train_epochs`);
    returns the summary and the history.

    A seeded ``val_fraction`` of the given (training) rows is held out: training stops
    after ``patience`` epochs without a lower validation loss and the best epoch's
    weights are restored. With ``groups`` (a run id per row, two runs or more) the held-out
    rows are whole runs (:func:`~microprop.splits.validation_split`, the CNNs' rule),
    listed in the summary's ``val_groups``. Batches and the initial split come from
    ``seed``. ``augment`` trains on a random D4 transform and periodic shift of every
    image batch (:func:`~microprop.symmetry.random_symmetry`), the targets transformed
    alike when they are the inputs (an autoencoder); validation sees the images as they
    are. The loop's settings have no defaults: the callers' differ (the autoencoder's are
    ``features.latent`` of the config, the design models' their own).

    >>> net = nn.Linear(1, 1); x = torch.linspace(-1, 1, 64)[:, None]
    >>> h = fit_torch(net, nn.functional.mse_loss, x, 3 * x, seed=0, max_epochs=200,
    ...               batch_size=64, lr=0.05, patience=4)
    >>> round(float(net.weight.detach()), 1), h["best_epoch"] > 0
    (3.0, True)
    """
    gen = torch.Generator().manual_seed(seed)
    val_groups = []
    if n_groups(groups):
        val, fit = validation_split(len(inputs), val_fraction, gen, groups)
        val_groups = np.unique(np.asarray(groups)[val]).tolist()
        val, fit = torch.from_numpy(val), torch.from_numpy(fit)
    else:  # the random rows of before, drawn from the same generator state
        perm = torch.randperm(len(inputs), generator=gen)
        n_val = max(1, int(round(val_fraction * len(inputs)))) if len(inputs) > 1 else 0
        val, fit = perm[:n_val], perm[n_val:]
        if len(fit) == 0:
            val, fit = perm[:0], perm

    def batches():
        for idx in shuffled_batches(len(fit), batch_size, gen):
            b = fit[idx]
            x, y = inputs[b], targets[b]
            if augment:
                x = random_symmetry(x, gen)
                y = x if targets is inputs else y
            yield x, y

    def validate() -> dict:
        rows = val if len(val) else fit
        model.eval()
        with torch.no_grad():
            total = sum(
                float(loss_fn(model(inputs[b]), targets[b])) * len(b)
                for b in rows.split(4 * batch_size)
            )
        return {"val_loss": total / len(rows)}

    t0 = time.perf_counter()
    checkpoint = Checkpoint()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = train_epochs(
        model, opt, loss_fn, batches, len(fit), max_epochs, validate,
        patience=patience, checkpoint=checkpoint, name=name,
    )  # fmt: skip
    if checkpoint.state is None:
        raise ValueError(f"{name}: no finite validation loss in {len(history)} epochs (diverged)")
    model.load_state_dict(checkpoint.state)
    model.eval()
    return {
        "best_epoch": checkpoint.epoch,
        "best_val_loss": checkpoint.loss,
        "epochs": len(history),
        "n_fit": len(fit),
        "n_val": len(val),
        "val_groups": val_groups,
        "seconds": time.perf_counter() - t0,
        "history": history,
    }
