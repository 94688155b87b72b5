"""Feature sets (paper, section 3.1): PSD physics, symmetries, layouts, CNN-PCA, MuCha."""

import numpy as np
import pytest
import pywt
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator_cloneable,
    check_estimator_repr,
    check_get_params_invariance,
    check_mixin_order,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from microprop.features import (
    FEATURES,
    GradientNorm,
    MissingWeightsError,
    MultiChannel,
    PSDLineFit,
    PSDStack,
    ResNetEmbedding,
    TwoPointStats,
    autocorrelation,
    fit_pca,
    radial_psd,
    weights_file,
)
from microprop.features.cnn import resnet18_backbone
from microprop.features.mucha import wavelet_channel
from microprop.features.psd import ring_index
from microprop.io import TEST, TRAIN

N = 64
YY, XX = np.mgrid[0:N, 0:N]


def cosine(kx, ky, amplitude=1.0):
    return amplitude * np.cos(2 * np.pi * (kx * XX + ky * YY) / N)


def power_law_images(exponent, n=4, seed=0):
    """Random-phase images whose ring-averaged PSD goes as k^exponent, scaled to 0..255."""
    rng = np.random.default_rng(seed)
    k = ring_index((N, N)).astype(float)  # wavenumber of each mode's ring, -1 in corners
    filt = np.where(k > 0, k, 1.0) ** (exponent / 2) * (k > 0)
    out = np.fft.ifft2(np.fft.fft2(rng.standard_normal((n, N, N))) * filt).real
    lo, hi = out.min(axis=(1, 2), keepdims=True), out.max(axis=(1, 2), keepdims=True)
    return (out - lo) / (hi - lo) * 255.0


@pytest.fixture(scope="module")
def images():
    """Random, smooth (power-law) and Ising-like binary images, uint8."""
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, (2, N, N))
    smooth = power_law_images(-3.0, n=2, seed=2)
    binary = np.where(power_law_images(-2.0, n=2, seed=3) > 127, 255, 0)
    return np.concatenate([noise, smooth, binary]).astype(np.uint8)


# --- power spectral density ------------------------------------------------------------


@pytest.mark.parametrize(("kx", "ky", "k"), [(5, 0, 5), (0, 7, 7), (3, 4, 5), (-12, 5, 13)])
def test_psd_of_a_sinusoid_peaks_at_its_wavenumber(kx, ky, k):
    psd = radial_psd(cosine(kx, ky, 100.0)[None] + 128.0)[0]
    assert int(np.argmax(psd[1:])) + 1 == k
    assert np.count_nonzero(psd[1:] > 1e-6 * psd[k]) == 1  # all fluctuation power in one ring


def test_parseval_and_ring_counts():
    # band-limited image: every mode lies inside the 32 rings, so the rings hold all power
    u = 128 + cosine(3, 1, 40) + cosine(0, 9, 25) + cosine(-14, 20, 10) + 7 * np.sin(XX)
    psd = radial_psd(u[None])[0]
    counts = np.bincount(ring_index((N, N)).ravel() + 1)[1:]
    assert counts[0] == 1 and counts.sum() < N * N  # DC alone; corners k > 31.5 left out
    np.testing.assert_allclose((psd * counts).sum(), (u**2).sum(), rtol=1e-5)


def test_psd_matches_full_fft_reference(images):
    """The batched rfft2 + ring matrix equals the plain full-spectrum ring average."""
    idx = ring_index((N, N))
    power = np.abs(np.fft.fft2(images.astype(np.float64))) ** 2 / N**2
    ref = np.stack([np.bincount(idx[idx >= 0], p[idx >= 0], 32) for p in power])
    ref /= np.bincount(idx[idx >= 0], minlength=32)
    np.testing.assert_allclose(radial_psd(images), ref, rtol=2e-5, atol=1e-3)


def test_full_spectrum_rings_hold_every_mode_in_equal_width_bins(images):
    """spectrum="full": 32 equal-width bins of |k| over [0, k_max], edges to the upper bin."""
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(N) * N, np.fft.fftfreq(N) * N, indexing="ij"))
    # float reference; the 1e-9 puts the modes on an edge (k = b sqrt(2)) in the upper bin
    ref_idx = np.minimum(np.floor(k / (k.max() / 32) + 1e-9).astype(int), 31).ravel()
    u = images.astype(np.float64)
    power = np.abs(np.fft.fft2(u)) ** 2 / N**2
    counts = np.bincount(ref_idx, minlength=32)
    ref = np.stack([np.bincount(ref_idx, p.ravel(), 32) for p in power]) / counts
    psd = radial_psd(images, spectrum="full")
    np.testing.assert_allclose(psd, ref, rtol=2e-5, atol=1e-3)
    # every mode is in a ring: Parseval holds for any image, not only band-limited ones
    np.testing.assert_allclose((psd * counts).sum(axis=1), (u**2).sum(axis=(1, 2)), rtol=1e-5)
    assert counts[0] == 5 and counts.sum() == N * N  # DC and the four k = 1 modes; all modes


@pytest.mark.parametrize(("kx", "ky"), [(31, 31), (32, 32), (32, 0), (20, -25)])
def test_full_spectrum_keeps_the_corner_modes_the_inscribed_rings_drop(kx, ky):
    u = cosine(kx, ky, 100.0)[None] + 128.0
    b = ring_index((N, N), spectrum="full")[ky % N, kx % N]
    full = radial_psd(u, spectrum="full")[0]
    assert int(np.argmax(full[1:])) + 1 == b
    assert np.count_nonzero(full[1:] > 1e-6 * full[b]) == 1
    # the same wave beyond the Nyquist circle (k > 31.5) has no power in the inscribed rings
    assert np.hypot(kx, ky) < 31.5 or radial_psd(u)[0, 1:].max() < 1e-6 * full[b]


def test_unknown_spectrum_is_an_error(images):
    with pytest.raises(ValueError, match="spectrum"):
        ring_index((N, N), spectrum="corners")
    with pytest.raises(ValueError, match="spectrum"):
        PSDStack(spectrum="corners").fit_transform(images)


SYMMETRIES = {
    "rot90": lambda x: np.rot90(x, 1, axes=(1, 2)),
    "rot180": lambda x: np.rot90(x, 2, axes=(1, 2)),
    "rot270": lambda x: np.rot90(x, 3, axes=(1, 2)),
    "flip_rows": lambda x: x[:, ::-1],
    "flip_cols": lambda x: x[:, :, ::-1],
    "transpose": lambda x: x.transpose(0, 2, 1),
    "translate": lambda x: np.roll(x, (17, -5), axis=(1, 2)),
    "rot90_translate": lambda x: np.roll(np.rot90(x, 1, axes=(1, 2)), (3, 40), axis=(1, 2)),
}


INVARIANT = {
    "grad": {},
    "physfeat1": {},
    "physfeat2": {},
    "physfeat2-full": {"spectrum": "full"},
}


@pytest.mark.parametrize("feature", list(INVARIANT))
@pytest.mark.parametrize("symmetry", list(SYMMETRIES))
def test_invariant_under_rotations_flips_translations(images, feature, symmetry):
    f = FEATURES[feature.removesuffix("-full")](**INVARIANT[feature])
    before = f.fit_transform(images)
    after = f.fit_transform(np.ascontiguousarray(SYMMETRIES[symmetry](images)))
    np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-9)
    assert not np.allclose(before[0], before[-1])  # the features do tell images apart


def test_physfeat1_recovers_power_law_exponent():
    feats = PSDLineFit().fit_transform(power_law_images(-2.5, n=8, seed=5))
    assert feats.shape == (8, 2)
    intercept, slope = feats[:, 0], feats[:, 1]
    np.testing.assert_allclose(slope.mean(), -2.5, atol=0.1)
    # back-transformed intercept: the fitted normalised power at k = 1, P(1) = 10^b, for
    # P(k) = k^-2.5 / sum_k k^-2.5 (the PSD is normalised over k = 1..31)
    expected = 1 / (np.arange(1, 32.0) ** -2.5).sum()
    np.testing.assert_allclose(np.exp(np.log(intercept).mean()), expected, rtol=0.15)


def test_physfeat1_constant_image_is_finite():
    feats = PSDLineFit().fit_transform(np.full((2, N, N), 200, np.uint8))
    assert np.all(np.isfinite(feats))
    np.testing.assert_array_equal(feats[:, 1], 0.0)


@pytest.mark.parametrize("value", [0, 128, 255])
def test_physfeat2_layout_and_finite_on_constant_images(value):
    feats = PSDStack().fit_transform(np.full((3, N, N), value, np.uint8))
    assert feats.shape == (3, 2, 32)
    assert np.all(np.isfinite(feats))
    np.testing.assert_array_equal(feats[:, :, 1:], 0.0)  # no fluctuations: log10(0 + 1)
    np.testing.assert_array_equal(feats[:, 1], 0.0)  # zero gradient everywhere
    np.testing.assert_allclose(feats[:, 0, 0], np.log10(N * N * value**2 + 1.0))


def test_physfeat2_layout_on_random_images(images):
    feats = PSDStack().fit_transform(images)
    assert feats.shape == (len(images), 2, 32)
    assert np.all(np.isfinite(feats)) and np.all(feats >= 0)
    # row 0 is the image's PSD, row 1 that of its gradient magnitude (eq. 3 scaling)
    from microprop.features.grad import gradient_magnitude

    np.testing.assert_allclose(feats[:, 0], np.log10(radial_psd(images) + 1))
    np.testing.assert_allclose(
        feats[:, 1], np.log10(radial_psd(gradient_magnitude(images)) + 1), rtol=1e-6
    )


@pytest.mark.parametrize("feature", ["grad", "physfeat1", "physfeat2", "mucha", "twopoint"])
def test_threaded_chunks_give_the_same_features(images, feature):
    many = np.resize(images, (1100, N, N))  # more than one chunk of 1024
    one = FEATURES[feature](n_jobs=1).fit_transform(many)
    # bitwise equal: the number of threads never changes the numbers
    np.testing.assert_array_equal(FEATURES[feature](n_jobs=2).fit_transform(many), one)
    # a row does not depend on its neighbours (up to the GEMM's blocking, float32)
    sub = FEATURES[feature]().fit_transform(many[1030:1040])
    np.testing.assert_allclose(sub, one[1030:1040], rtol=1e-5, atol=1e-9)


# scikit-learn's own checks of the estimator API that need no data (check_estimator's
# data-driven checks feed 2-D tables; these transformers take (N, H, W) images)
API_CHECKS = (
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_get_params_invariance,
    check_set_params,
    check_estimator_cloneable,
    check_estimator_repr,
    check_mixin_order,
    check_do_not_raise_errors_in_init_or_set_params,
)
TRANSFORMERS = (GradientNorm, PSDLineFit, PSDStack, MultiChannel, TwoPointStats, ResNetEmbedding)


@pytest.mark.parametrize("cls", TRANSFORMERS, ids=lambda c: c.__name__)
def test_transformers_pass_sklearns_api_checks(cls):
    for check in API_CHECKS:
        check(cls.__name__, cls())


# A non-default value of a parameter that changes the output: the transformer (and its
# clone) must use what it was given. The base parameters keep the test offline.
PARAMETER_EFFECTS = [
    (PSDLineFit, {}, {"n_bins": 16}),
    (PSDLineFit, {}, {"floor": 1.0}),
    (PSDStack, {}, {"n_bins": 16}),
    (PSDStack, {}, {"spectrum": "full"}),
    (MultiChannel, {}, {"wavelet": "haar"}),
    (MultiChannel, {}, {"rescale_image": True}),
    (TwoPointStats, {}, {"cutoff": 2}),
    (TwoPointStats, {}, {"field": "state"}),
    (ResNetEmbedding, {"weights": "random"}, {"seed": 1}),
    (ResNetEmbedding, {"weights": "random"}, {"image_size": 32}),
]


@pytest.mark.parametrize(
    "cls, base, change",
    PARAMETER_EFFECTS,
    ids=[f"{c.__name__}-{next(iter(p))}" for c, _, p in PARAMETER_EFFECTS],
)
def test_a_non_default_parameter_changes_the_output(cls, base, change):
    images = (40 + 0.5 * power_law_images(-2.0, n=3)).astype(np.uint8)  # grey 40..167
    default = cls(**base).fit_transform(images)
    for est in (cls(**base, **change), clone(cls(**base, **change))):
        assert est.get_params() | change == est.get_params()
        out = est.fit_transform(images)
        assert out.shape != default.shape or not np.allclose(out, default), change
    # n_jobs changes only the speed
    if "n_jobs" in cls().get_params():
        np.testing.assert_array_equal(cls(**base, n_jobs=2).fit_transform(images), default)


def test_transformers_follow_sklearn_conventions():
    for cls in (GradientNorm, PSDLineFit, PSDStack, MultiChannel, ResNetEmbedding, TwoPointStats):
        est = cls()
        assert clone(est).get_params() == est.get_params()
    assert PSDLineFit(n_bins=16).fit_transform(np.zeros((1, N, N))).shape == (1, 2)


# --- CNN-PCA ----------------------------------------------------------------------------


def test_pca_sees_only_the_training_split():
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((60, 512)).astype(np.float32)
    split = np.array([TRAIN] * 40 + [TEST] * 20)
    pca = fit_pca(emb, split, n_components=10)
    changed = emb.copy()
    changed[40:] = rng.standard_normal((20, 512)) * 100
    pca2 = fit_pca(changed, split, n_components=10)
    np.testing.assert_array_equal(pca.components_, pca2.components_)
    np.testing.assert_array_equal(pca.mean_, pca2.mean_)
    changed[:5] += 10  # a change in the training rows does change it
    assert not np.allclose(fit_pca(changed, split, 10).mean_, pca.mean_)
    assert fit_pca(emb, split, n_components=150).n_components_ == 40  # capped by train rows


@pytest.fixture(scope="module")
def few_images():
    return np.random.default_rng(3).integers(0, 256, (3, N, N)).astype(np.uint8)


def test_random_embedding_is_seeded(few_images):
    a = ResNetEmbedding("random", device="cpu", seed=1).fit_transform(few_images)
    b = ResNetEmbedding("random", device="cpu", seed=1, batch_size=2).fit_transform(few_images)
    c = ResNetEmbedding("random", device="cpu", seed=2).fit_transform(few_images)
    assert a.shape == (3, 512) and a.dtype == np.float32
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert not np.allclose(a, c)


def test_imagenet_weights_load_from_torch_home(tmp_path, monkeypatch, few_images):
    import torch
    from torchvision.models import resnet18

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = weights_file("resnet18")
    assert path == tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    torch.manual_seed(123)
    saved = resnet18(weights=None).state_dict()
    path.parent.mkdir(parents=True)
    torch.save(saved, path)
    model = resnet18_backbone("imagenet", download=False)
    loaded = model.state_dict()
    for key in ("conv1.weight", "layer4.1.bn2.running_mean", "layer2.0.conv1.weight"):
        torch.testing.assert_close(loaded[key], saved[key], rtol=0, atol=0)
    assert "fc.weight" not in loaded  # classifier removed: the output is the 512-value pool
    emb = ResNetEmbedding("imagenet", device="cpu", download=False).fit_transform(few_images)
    assert emb.shape == (3, 512) and np.all(np.isfinite(emb))


def test_missing_imagenet_weights_error_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(MissingWeightsError) as err:
        resnet18_backbone("imagenet", download=False)
    expected = tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert str(expected) in str(err.value)
    assert "embedding_weights: random" in str(err.value)


def test_corrupt_weights_file_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    weights_file("resnet18").parent.mkdir(parents=True)
    weights_file("resnet18").write_bytes(b"not a checkpoint")
    with pytest.raises(MissingWeightsError, match="resnet18-f37072fd.pth"):
        resnet18_backbone("imagenet", download=False)


# --- MuCha ------------------------------------------------------------------------------


def test_mucha_channels_shapes_and_ranges(images):
    out = MultiChannel().fit_transform(images)
    assert out.shape == (len(images), 3, N, N) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, 0], images)  # the image itself, already 0..255
    for c in (1, 2):  # per-image min-max scaled to the full 0..255 range
        assert np.all(out[:, c].min(axis=(1, 2)) == 0)
        assert np.all(out[:, c].max(axis=(1, 2)) == 255)


def test_mucha_fft_channel_is_centred_and_wavelet_channel_is_diagonal_detail(images):
    const = np.full((1, N, N), 100, np.uint8)
    out = MultiChannel().fit_transform(const)[0]
    assert np.unravel_index(out[1].argmax(), (N, N)) == (N // 2, N // 2)  # zero frequency
    assert np.count_nonzero(out[1]) == 1
    np.testing.assert_array_equal(out[2], 0)  # no detail in a constant image

    _, (_, _, cd) = pywt.dwt2(images[0].astype(float), "sym4", mode="periodization")
    assert cd.shape == (N // 2, N // 2)
    wav = MultiChannel().fit_transform(images[:1])[0, 2].astype(float)
    expected = np.kron((cd - cd.min()) / (cd.max() - cd.min()) * 255, np.ones((2, 2)))
    np.testing.assert_allclose(wav, expected, atol=1.0)


def test_mucha_wavelet_channel_of_stripes_is_zero_not_amplified_round_off():
    """An image constant along x (or y) has no diagonal detail: cD is exactly zero, and
    float32 leaves round-off of ~1e-5 that min-max scaling must not blow up to 0..255
    (the laminar Kolmogorov flow sin(4y), Ising stripes)."""
    y = np.arange(N)
    stripes = np.rint(127.5 + 60 * np.sin(2 * np.pi * 4 * y / N)).astype(np.uint8)
    rows = np.repeat(stripes[:, None], N, axis=1)  # a function of y only
    pair = np.stack([rows, rows.T])
    assert np.abs(wavelet_channel(pair)).max() < 1e-3  # round-off of an exact zero
    out = MultiChannel().fit_transform(pair)
    np.testing.assert_array_equal(out[:, 2], 0)
    assert out[:, 1].max() == 255  # the FFT channel is untouched


def test_mucha_rejects_unknown_wavelet():
    with pytest.raises(ValueError, match="wavelet"):
        MultiChannel(wavelet="sym99").fit_transform(np.zeros((1, N, N), np.uint8))


# --- twopoint: periodic two-point autocorrelation (beyond the paper, issue 45) ----------


def direct_autocorrelation(u, cutoff):
    """f(ry, rx) = mean over x of u(x) u(x + r), periodic, by the direct sum (float64)."""
    u = np.asarray(u, dtype=np.float64)
    lags = range(-cutoff, cutoff + 1)
    return np.array(
        [[(u * np.roll(u, (-ry, -rx), axis=(0, 1))).mean() for rx in lags] for ry in lags]
    )


@pytest.mark.parametrize("shape", [(8, 8), (6, 10), (64, 64)])
@pytest.mark.parametrize("cutoff", [0, 1, 2])
def test_twopoint_equals_the_direct_sum(shape, cutoff):
    rng = np.random.default_rng(3)
    u = rng.normal(0.7, 1.0, (3, *shape))  # a mean on top: the m^2 added back is tested
    got = autocorrelation(u, cutoff)
    assert got.shape == (3, 2 * cutoff + 1, 2 * cutoff + 1) and got.dtype == np.float32
    for g, field in zip(got, u, strict=True):
        np.testing.assert_allclose(g, direct_autocorrelation(field, cutoff), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("field", "scale", "offset"), [("spin", 127.5, 1.0), ("state", 255, 0.0),
                                                        ("vorticity", 127.5, 1.0)])  # fmt: skip
def test_twopoint_transformer_correlates_the_local_state(field, scale, offset):
    images = np.random.default_rng(4).integers(0, 256, (4, 16, 12), dtype=np.uint8)
    got = TwoPointStats(cutoff=5, field=field).fit_transform(images)
    for g, x in zip(got, images, strict=True):
        want = direct_autocorrelation(x / scale - offset, 5)
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-5)


def test_twopoint_checkerboard():
    spins = (np.indices((N, N)).sum(axis=0) % 2 * 255).astype(np.uint8)
    got = TwoPointStats(cutoff=16).fit_transform(spins[None])[0]
    ry, rx = np.mgrid[-16:17, -16:17]
    np.testing.assert_allclose(got, (-1.0) ** (ry + rx), atol=1e-6)


@pytest.mark.parametrize("width", [1, 4, 8])
def test_twopoint_stripes_give_a_triangle_wave_along_the_stripes_normal(width):
    period = 2 * width
    stripes = np.where(XX % period < width, 255, 0).astype(np.uint8)  # vertical stripes
    got = TwoPointStats(cutoff=16).fit_transform(np.stack([stripes, stripes.T]))
    rx = np.arange(-16, 17)
    d = np.minimum(rx % period, -rx % period)  # distance to the nearest multiple of the period
    triangle = 1.0 - 4.0 * d / period  # autocorrelation of a +-1 square wave
    np.testing.assert_allclose(got[0], np.broadcast_to(triangle, (33, 33)), atol=1e-6)
    np.testing.assert_allclose(got[1], got[0].T, atol=1e-6)  # horizontal stripes: along ry


def test_twopoint_random_fields():
    rng = np.random.default_rng(5)
    spins = rng.choice(np.array([0, 255], np.uint8), (50, N, N))  # infinite temperature
    f = TwoPointStats(cutoff=8).fit_transform(spins)
    np.testing.assert_allclose(f[:, 8, 8], 1.0, rtol=1e-6)  # s^2 = 1
    off = np.delete(f.reshape(50, -1), 8 * 17 + 8, axis=1)
    assert np.abs(off.mean()) < 0.005 and 0.5 / N < off.std() < 2.0 / N  # ~ N(0, 1/N^2)
    # a two-phase state field of volume fraction p: f(0) = p, f(r != 0) -> p^2
    phase = (rng.random((50, N, N)) < 0.3).astype(np.uint8) * 255
    f = TwoPointStats(cutoff=8, field="state").fit_transform(phase)
    p = phase.mean(axis=(1, 2)) / 255
    np.testing.assert_allclose(f[:, 8, 8], p, rtol=1e-5)
    off = np.delete(f.reshape(50, -1), 8 * 17 + 8, axis=1)
    np.testing.assert_allclose(off.mean(axis=1), p**2, atol=0.003)


def test_twopoint_symmetries(images):
    f = TwoPointStats(cutoff=10)
    before = f.fit_transform(images)
    np.testing.assert_allclose(before, before[:, ::-1, ::-1], atol=1e-6)  # f(r) = f(-r)
    moved = np.roll(images, (17, -5), axis=(1, 2))
    np.testing.assert_allclose(f.fit_transform(moved), before, atol=1e-5)  # translations
    # a transpose or a 90-degree rotation of the image moves the lags the same way
    np.testing.assert_allclose(
        f.fit_transform(np.ascontiguousarray(images.transpose(0, 2, 1))),
        before.transpose(0, 2, 1),
        atol=1e-5,
    )
    rotated = np.ascontiguousarray(np.rot90(images, 1, axes=(1, 2)))
    np.testing.assert_allclose(
        f.fit_transform(rotated), np.rot90(before, 1, axes=(1, 2)), atol=1e-5
    )
    assert not np.allclose(before[0], before[-1])  # the features do tell images apart


def test_twopoint_float32_keeps_a_dominant_mean_precise():
    rng = np.random.default_rng(6)
    u = (rng.integers(250, 256, (8, N, N)) / 255).astype(np.float32)  # a state near 1
    got = autocorrelation(u, 3)
    for g, field in zip(got, u, strict=True):
        want = direct_autocorrelation(field, 3)  # float64 sums of the same float32 values
        # the fluctuations (~1e-4 of the mean's square ~0.98) come out to about the float32
        # spacing at 0.98 (6e-8; measured 5.5e-8), an FFT of the field with its mean: 2.4e-7
        np.testing.assert_allclose(g, want, rtol=0, atol=1e-7)


@pytest.mark.parametrize("kwargs", [{"cutoff": 32}, {"cutoff": -1}, {"field": "magnetization"}])
def test_twopoint_refuses_bad_options(kwargs):
    with pytest.raises(ValueError, match="cutoff|field"):
        TwoPointStats(**kwargs).fit_transform(np.zeros((1, N, N), np.uint8))
