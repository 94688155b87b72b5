"""Latent features and inverse design (issue 19): the periodic autoencoder, the design
loop and the physics check of a design."""

import numpy as np
import pytest
import torch
from torch import nn

from microprop.ch.backend import image_to_grid
from microprop.ch.params import CHParams
from microprop.ch.protocol import to_uint8
from microprop.ch.spectral import SpectralCahnHilliard
from microprop.design import (
    CodePrior,
    design_latent,
    physics_energy,
    relative_error,
)
from microprop.features.latent import (
    ConvAutoencoder,
    as_tensor,
    decode,
    encode,
    invariant_codes,
    latent_features,
    load_autoencoder,
    reconstruction_rmse,
    save_autoencoder,
    train_autoencoder,
)
from microprop.training import fit_torch

# Physics check against the simulator's own energy of the field the image was sampled
# from: the image is that field on the 64 x 64 grid (its pixels are the nodes), quantized
# to 0..255. Against the spectral simulator of the test below the check is off by 2.2e-4
# (the uint8 quantization), so a tolerance of 1e-3 catches a 1% error in the check's
# energy. (On FEM-labelled CH data the check also carries the difference between the
# spectral and the P1 energy functionals, which is not what this test guards.)
LABEL_TOLERANCE = 1e-3


def torch_threads_one():
    torch.set_num_threads(1)


def stripes(n_images: int, seed: int = 0) -> np.ndarray:
    """uint8 periodic patterns: a product of cosines of random amplitude and phase."""
    rng = np.random.default_rng(seed)
    x = np.arange(64) / 64
    out = []
    for _ in range(n_images):
        a, (px, py) = rng.uniform(0.1, 0.45), rng.integers(0, 4, 2) / 4
        f = np.cos(2 * np.pi * (x[None, :] + px)) * np.cos(2 * np.pi * (x[:, None] + py))
        out.append(to_uint8(0.5 + a * f))
    return np.stack(out)


def test_autoencoder_reconstructs_a_periodic_pattern(tmp_path):
    torch_threads_one()
    images = stripes(32)
    ae, history = train_autoencoder(
        images,
        latent_size=16,
        channels=(8, 16, 32, 64),
        seed=0,
        max_epochs=30,
        lr=5e-3,
        batch_size=8,
        patience=30,
        augment=False,
    )
    trivial = float(np.sqrt(np.mean((images / 255.0 - images.mean() / 255.0) ** 2)))
    rmse = reconstruction_rmse(ae, stripes(8, seed=1))
    assert rmse < 0.2 * trivial, (rmse, trivial)
    # the saved model (state dict, weights_only) gives the same codes
    save_autoencoder(ae, tmp_path / "ae.pt")
    again = load_autoencoder(tmp_path / "ae.pt")
    assert np.array_equal(encode(again, images[:4]), encode(ae, images[:4]))


def test_early_stopping_holds_out_whole_runs_when_given_runs():
    """groups: the early-stopping part is whole runs (one of five at 10 %), named in the
    history; without groups it is a random 10 % of the rows, as before."""
    x = torch.linspace(-1, 1, 50)[:, None]
    runs = np.repeat([4, 8, 15, 16, 23], 10)
    loop = dict(batch_size=64, lr=1e-3, patience=4)
    for groups, n_val in ((runs, 10), (None, 5), (np.zeros(50, dtype=int), 5)):
        h = fit_torch(
            nn.Linear(1, 1), nn.functional.mse_loss, x, 2 * x, 0, 2, **loop, groups=groups
        )
        assert h["n_val"] == n_val and h["n_fit"] == 50 - n_val
        assert len(h["val_groups"]) == (1 if groups is runs else 0)
    picked = {
        tuple(
            fit_torch(nn.Linear(1, 1), nn.functional.mse_loss, x, x, s, 1, **loop, groups=runs)[
                "val_groups"
            ]
        )
        for s in range(8)
    }
    assert len(picked) > 1 and all(len(p) == 1 and p[0] in runs for p in picked)


@pytest.mark.parametrize("shift", [(16, 0), (0, 32), (48, 16)])
def test_a_shifted_image_gives_the_shifted_reconstruction(shift):
    """Periodic padding: a shift by multiples of the total stride (16) rolls the code
    map by whole cells and the reconstruction by the same shift."""
    torch_threads_one()
    torch.manual_seed(0)
    ae = ConvAutoencoder(latent_size=16, channels=(8, 16, 32, 64))
    for p in ae.parameters():  # larger weights than the initialisation: outputs that vary
        nn.init.normal_(p, std=0.3)
    image = np.random.default_rng(0).integers(0, 256, (1, 64, 64), dtype=np.uint8)
    shifted = np.roll(image, shift, axis=(1, 2))
    rec, rec_shifted = decode(ae, encode(ae, image)), decode(ae, encode(ae, shifted))
    assert rec.std() > 0.05
    # exact in a fresh process; after a dolfinx FEM solve in the same process (the CH
    # tests before this file) torch's float32 convolutions differ by up to 5.4e-5
    # (measured); zero instead of circular padding differs by 1.0
    assert np.allclose(rec_shifted, np.roll(rec, shift, axis=(1, 2)), rtol=0, atol=2e-4)
    code = encode(ae, image).reshape(1, 1, 4, 4)
    cells = (shift[0] // 16, shift[1] // 16)
    assert np.allclose(
        encode(ae, shifted).reshape(1, 1, 4, 4), np.roll(code, cells, (2, 3)), atol=1e-5
    )
    # a shift by less than the stride is not exact (the code is a 4 x 4 map)
    off = decode(ae, encode(ae, np.roll(image, (3, 0), axis=(1, 2))))
    assert np.abs(off - np.roll(rec, (3, 0), axis=(1, 2))).max() > 0.01


def test_pooled_codes_are_invariant_to_the_orbit_and_only_to_it():
    """The orbit-pooled codes of latent-svr do not change under D4 and shifts by
    multiples of shift_step; they do under a 1-pixel shift and differ between images."""
    torch_threads_one()
    torch.manual_seed(0)
    ae = ConvAutoencoder(latent_size=16, channels=(8, 16, 32, 64))
    for p in ae.parameters():
        nn.init.normal_(p, std=0.3)
    images = np.random.default_rng(1).integers(0, 256, (2, 64, 64), dtype=np.uint8)
    pooled = invariant_codes(ae, images, shift_step=8)
    assert pooled.shape == (2, 16) and pooled[0].std() > 1e-3
    assert np.abs(pooled[0] - pooled[1]).max() > 1e-3
    moved = [
        np.roll(images, (8, 24), axis=(1, 2)),
        np.flip(images, axis=2),
        np.rot90(np.roll(images, (-40, 0), axis=(1, 2)), k=3, axes=(1, 2)),
        np.swapaxes(images, 1, 2),
    ]
    for m in moved:
        assert np.allclose(
            invariant_codes(ae, np.ascontiguousarray(m), shift_step=8), pooled, atol=1e-5
        )
    off = invariant_codes(ae, np.roll(images, (1, 0), axis=(1, 2)), shift_step=8)
    assert np.abs(off - pooled).max() > 1e-4
    # with the stage means: the same code first, 8 + 16 + 32 + 64 means after it, invariant alike
    full = latent_features(ae, images, pooling="orbit", shift_step=8, stage_means=True)
    assert full.shape == (2, 16 + 120) and np.allclose(full[:, :16], pooled, atol=1e-6)
    assert np.abs(full[0, 16:] - full[1, 16:]).max() > 1e-4
    for m in moved:
        again = invariant_codes(ae, np.ascontiguousarray(m), shift_step=8, stage_means=True)
        assert np.allclose(again, full, atol=1e-5)
    off = invariant_codes(ae, np.roll(images, (1, 0), axis=(1, 2)), shift_step=8, stage_means=True)
    assert np.abs(off[:, 16:] - full[:, 16:]).max() > 1e-5
    assert np.array_equal(
        latent_features(ae, images, pooling="none", stage_means=False), encode(ae, images)
    )
    with pytest.raises(ValueError, match="divide the encoder stride"):
        invariant_codes(ae, images, shift_step=3)
    with pytest.raises(ValueError, match="unknown latent pooling"):
        latent_features(ae, images, pooling="mean")
    with pytest.raises(ValueError, match="stage_means needs pooling 'orbit'"):
        latent_features(ae, images, pooling="none", stage_means=True)


def test_stage_means_are_the_activation_means_of_a_symmetric_image():
    """For an image that every D4 transform and every shift of the orbit maps to itself
    (stripes of period shift_step along both axes, symmetric), the orbit average is the
    plain forward pass: each stage mean is the mean of that stage's activations, computed
    here layer by layer, and they tell a faint pattern from a strong one."""
    torch_threads_one()
    torch.manual_seed(2)
    ae = ConvAutoencoder(latent_size=16, channels=(8, 16, 32, 64))
    base = np.cos(2 * np.pi * (np.arange(16) + 0.5) / 16)
    wave = np.tile((base + base[::-1]) / 2, 4)  # exactly periodic and even, to the last bit
    tile = (wave[:, None] + wave[None]) / 4
    images = np.stack([127.5 + a * 255 * tile for a in (0.1, 0.9)]).round().astype(np.uint8)
    for im in images:
        assert np.array_equal(im, im.T) and np.array_equal(im, im[::-1])
    got = invariant_codes(ae, images, shift_step=16, stage_means=True)[:, 16:]
    x, expected = as_tensor(images), []
    with torch.no_grad():
        for layer in ae.encoder.net:
            x = layer(x)
            if isinstance(layer, nn.GELU):
                expected.append(x.mean(dim=(2, 3)))
    assert np.allclose(got, torch.cat(expected, 1).numpy(), atol=1e-6)
    assert np.abs(got[0] - got[1]).max() > 1e-3


def test_design_loop_reaches_the_known_optimum_of_a_toy_model():
    """f(z) = w.z: without the prior the design hits E* exactly; with the prior it is the
    minimizer of ((w.z - E*) / s)² + lam d_M(z)² / d, a linear system. The distance of a
    one-component prior is the Mahalanobis distance under the codes' mean and covariance."""
    torch_threads_one()
    rng = np.random.default_rng(0)
    prior = CodePrior(rng.normal(0.5, 1.0, (400, 4)), n_components=1)
    model = nn.Linear(4, 1, bias=False)
    w = np.array([1.0, -2.0, 0.5, 3.0])
    model.weight.data = torch.tensor(w[None], dtype=torch.float32)
    toy = lambda z: model(z)[:, 0]  # noqa: E731
    toy.parameters = model.parameters
    codes = torch.as_tensor(rng.normal(0.5, 1.0, (5, 4)), dtype=torch.float32)
    diff = codes.double().numpy() - prior.gmm.means_[0]
    mahalanobis2 = np.einsum("ni,ij,nj->n", diff, prior.gmm.precisions_[0], diff)
    assert np.allclose(prior.distance2(codes).numpy(), mahalanobis2, rtol=1e-4)
    targets = np.array([-5.0, 1.0, 7.0])
    z = design_latent(toy, prior, targets, seed=0, steps=800, lr=0.05, prior_weight=0.0, scale=1.0)
    assert np.allclose(z @ w, targets, atol=1e-3)
    lam, s, d = 4.0, 1.0, 4
    z = design_latent(toy, prior, targets, seed=0, steps=800, lr=0.05, prior_weight=lam, scale=s)
    P, mean = prior.gmm.precisions_[0], prior.gmm.means_[0]
    A = np.outer(w, w) / s**2 + lam * P / d
    for zi, t in zip(z, targets, strict=True):
        expected = np.linalg.solve(A, t * w / s**2 + lam * P @ mean / d)
        assert np.allclose(zi, expected, atol=1e-3)


def band_limited_field(n: int, seed: int = 0) -> np.ndarray:
    """A smooth periodic field in (0, 1) on the n x n node grid, modes |k| <= 5."""
    rng = np.random.default_rng(seed)
    x = np.arange(n) / n
    X, Y = np.meshgrid(x, x, indexing="ij")
    f = sum(
        rng.normal() * np.cos(2 * np.pi * (a * X + b * Y) + rng.uniform(0, 2 * np.pi))
        for a in range(-3, 4)
        for b in range(0, 4)
    )
    return 0.5 + 0.4 * f / np.abs(f).max()


def test_physics_check_is_the_simulators_energy():
    """Same code path: the energy of an image equals the spectral simulator's energy of
    the field it was sampled from (band-limited, so the interpolation is exact)."""
    params = CHParams()
    sim = SpectralCahnHilliard(params)
    sim.set_field(band_limited_field(params.n_cells))
    image = sim.image()  # pixel centres (grid nodes), image orientation
    k = params.n_cells // params.image_size
    assert np.allclose(image_to_grid(image, params.n_cells)[::k, ::k], sim.c[::k, ::k])
    e, expected = physics_energy(image, params), sim.energy()
    for part in ("bulk", "grad", "elastic", "total"):
        assert e[part] == pytest.approx(expected[part], rel=1e-9), part


def test_physics_check_is_close_to_the_label_of_a_simulated_image():
    """A simulated field after the paper's part 1 (spectral backend, default physics):
    its uint8 image's physics energy is within LABEL_TOLERANCE of the simulator's."""
    params = CHParams()
    sim = SpectralCahnHilliard(params)
    sim.set_initial_random(np.random.SeedSequence([0, 0]))
    for dt in params.dts()[: params.part1_steps]:
        sim.step(dt)
    label = sim.energy()["total"]
    check = physics_energy(to_uint8(sim.image()) / 255.0, params)["total"]
    assert relative_error(check, label) < LABEL_TOLERANCE
    # and the check is not trivially insensitive: a field of less contrast has another energy
    faded = 0.5 + 0.8 * (sim.image() - 0.5)
    assert relative_error(physics_energy(faded, params)["total"], label) > 2 * LABEL_TOLERANCE
