"""Symmetry-aware CNNs (microprop.symmetry): the group, the p4m layers, the
augmentation, and the invariance of resnet18-sym (with test-time averaging) and of
p4m-cnn, against resnet18, which is not invariant (so the tests have power)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from microprop.models.cnn import CNNRegressor
from microprop.symmetry import (
    INV,
    MUL,
    ORDER,
    P4MConv,
    d4,
    random_symmetry,
)


def test_d4_is_a_group_of_eight_distinct_transforms():
    x = torch.arange(9.0).view(3, 3)
    images = {tuple(d4(x, g).flatten().tolist()) for g in range(ORDER)}
    assert len(images) == ORDER
    e = range(ORDER)
    assert all(MUL[0, g] == g == MUL[g, 0] for g in e)  # identity
    assert all(MUL[INV[g], g] == 0 == MUL[g, INV[g]] for g in e)  # inverses
    assert all(MUL[MUL[a, b], c] == MUL[a, MUL[b, c]] for a in e for b in e for c in e)
    assert MUL[2, 2] != 0 and MUL[2, MUL[2, MUL[2, 2]]] == 0  # a quarter turn has order 4
    assert not np.array_equal(MUL, MUL.T)  # D4 is not abelian


@pytest.mark.parametrize("lifting", [True, False])
def test_p4m_convolution_is_equivariant(lifting):
    """Transforming the input by h transforms every output plane by h in space and moves
    group plane g to h g."""
    torch.manual_seed(0)
    conv = P4MConv(3, 4, lifting=lifting)
    shape = (2, 3, 16, 16) if lifting else (2, 3, ORDER, 16, 16)
    x = torch.randn(shape)
    out = conv(x)
    assert out.shape == (2, 4, ORDER, 16, 16)
    for h in range(ORDER):
        if lifting:
            xh = d4(x, h)
        else:  # a regular field: plane g of the transformed input is plane h^-1 g, moved
            xh = torch.stack([d4(x[:, :, MUL[INV[h], g]], h) for g in range(ORDER)], 2)
        expected = torch.stack([d4(out[:, :, MUL[INV[h], g]], h) for g in range(ORDER)], 2)
        torch.testing.assert_close(conv(xh), expected, atol=1e-5, rtol=1e-5)


def test_random_symmetry_applies_a_d4_element_and_a_periodic_shift_per_image():
    x = torch.arange(2 * 64, dtype=torch.float32).view(2, 1, 8, 8)
    gen = torch.Generator().manual_seed(3)
    out = random_symmetry(x, gen)
    again = random_symmetry(x, torch.Generator().manual_seed(3))
    assert torch.equal(out, again)  # reproducible from the generator
    for i in range(2):
        shifts = [(a, b) for a in range(8) for b in range(8)]
        candidates = [torch.roll(d4(x[i], g), s, (-2, -1)) for g in range(ORDER) for s in shifts]
        assert any(torch.equal(out[i], c) for c in candidates)
    draws = torch.stack([random_symmetry(x, gen) for _ in range(20)])
    assert len({tuple(d.flatten().tolist()) for d in draws[:, 0]}) > 10  # not one fixed transform


def _fitted(model_id_kwargs, X, y):
    opts = dict(max_epochs=1, min_steps=0, batch_size=4, threads=1, seed=0, bn_recalibrate=False)
    return CNNRegressor(**model_id_kwargs, **opts).fit(X, y)


@pytest.fixture(scope="module")
def fitted_models():
    """resnet18, resnet18-sym and p4m-cnn after one short epoch on random images."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (12, 64, 64), dtype=np.uint8)
    y = X.reshape(12, -1).mean(axis=1) + rng.normal(0, 5, 12)
    return {
        "resnet18": _fitted({"arch": "resnet18"}, X, y),
        "resnet18-sym": _fitted({"arch": "resnet18", "symmetric": True}, X, y),
        "p4m-cnn": _fitted({"arch": "p4m"}, X, y),
    }


def _changes(model, images, transform):
    """The largest change of the predictions under ``transform``, in units of y_std."""
    base = model.predict(images)
    moved = model.predict(np.ascontiguousarray(transform(images)))
    return float(np.abs(moved - base).max()) / model.y_std_


D4_TRANSFORMS = [lambda x, g=g: d4(torch.from_numpy(x), g).numpy() for g in range(1, ORDER)]
TOL = 1e-4  # float32 rounding: the transformed image is summed in another order


def test_symmetric_models_are_invariant_and_resnet18_is_not(fitted_models):
    rng = np.random.default_rng(1)
    test = rng.integers(0, 256, (4, 64, 64), dtype=np.uint8)
    shift32 = lambda x: np.roll(x, (32, 32), (-2, -1))  # noqa: E731, ResNet's total stride
    shift_odd = lambda x: np.roll(x, (3, 17), (-2, -1))  # noqa: E731
    sym, p4m, plain = (fitted_models[k] for k in ("resnet18-sym", "p4m-cnn", "resnet18"))
    for t in D4_TRANSFORMS:
        assert _changes(sym, test, t) < TOL
        assert _changes(p4m, test, t) < TOL
    assert _changes(sym, test, shift32) < TOL  # circular padding: exact at the stride
    assert _changes(p4m, test, shift32) < TOL
    assert _changes(p4m, test, shift_odd) < TOL  # adaptive polyphase sampling: any shift
    # the plain network (zero padding, no averaging) sees the transforms
    assert max(_changes(plain, test, t) for t in D4_TRANSFORMS) > 100 * TOL
    assert _changes(plain, test, shift32) > 100 * TOL


def test_symmetric_model_round_trip_keeps_the_averaging(fitted_models, tmp_path):
    sym = fitted_models["resnet18-sym"]
    sym.save(tmp_path / "model.pt")
    loaded = CNNRegressor.load(tmp_path / "model.pt")
    test = np.random.default_rng(2).integers(0, 256, (3, 64, 64), dtype=np.uint8)
    np.testing.assert_allclose(loaded.predict(test), sym.predict(test), rtol=1e-6)
    assert loaded.model_.average_d4
