"""`microprop predict`: round trip against predictions.csv, and refusal of bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from microprop.cli import main
from microprop.features import FEATURES
from microprop.io import TEST, TRAIN, load_dataset, write_features, write_h5
from microprop.models import PiecewiseConstantRegressor, SVRegressor, fit_evaluate
from microprop.models.cnn import CNNRegressor
from microprop.models.run import feature_record, save_model


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A tiny dataset: grey level v plus noise, property v, 12 test images."""
    rng = np.random.default_rng(0)
    v = rng.uniform(20, 235, 60)
    images = np.clip(v[:, None, None] + rng.normal(0, 30, (60, 64, 64)), 0, 255).astype(np.uint8)
    split = np.where(np.arange(60) % 5 == 0, TEST, TRAIN)
    path = tmp_path_factory.mktemp("data") / "toy.h5"
    write_h5(path, {"images": images, "property": v, "split": split})
    return path


def train_model_dir(tmp_path, dataset, model_id, estimator, feature=None):
    """What the train_* scripts write: metrics.json, predictions.csv, the model file."""
    ds = load_dataset(dataset)
    attrs = None
    options, extra = {}, {}
    if feature == "cnnpca":  # the embedding; the SVR fits its PCA on the training split
        from microprop.features import ResNetEmbedding

        extra = {"weights": "random", "image_size": 64}  # as rule cnn_embedding writes
        features = ResNetEmbedding(weights="random", seed=0).fit().transform(ds.images)
    elif feature == "latent":  # an (untrained) autoencoder's pooled codes, as the rule writes them
        from microprop.features.latent import ConvAutoencoder, latent_features, save_autoencoder

        ae = ConvAutoencoder(latent_size=16, channels=(8, 16, 32, 64))
        save_autoencoder(ae, tmp_path / "autoencoder.pt")
        pooling = {"pooling": "orbit", "shift_step": 8, "stage_means": True}
        features = latent_features(ae, ds.images, **pooling)
    elif feature == "physfeat2-full":  # a feature option the model must replay
        options = {"spectrum": "full"}
        features = FEATURES["physfeat2"](**options).fit_transform(ds.images)
    elif feature == "twopoint":  # options other than the defaults, replayed from the record
        options = {"cutoff": 5, "field": "state"}
        features = FEATURES["twopoint"](**options).fit_transform(ds.images)
    elif feature:
        features = FEATURES[feature]().fit_transform(ds.images)
    if feature:
        if feature == "latent":
            extra, options = {"autoencoder": str(tmp_path / "autoencoder.pt")}, pooling
        write_features(tmp_path / f"{feature}.h5", features, ds, {"options": options, **extra})
        from microprop.io import load_features

        data = load_features(tmp_path / f"{feature}.h5")
        attrs = data.attrs
    else:
        data = ds
    is_cnn = isinstance(estimator, CNNRegressor)
    model, metrics, table = fit_evaluate(estimator, data, 1.0, 0, flatten=not is_cnn)
    n_components = getattr(model, "n_components", 0)  # the SVR's own PCA (train_svr)
    record = feature_record(model_id, attrs, seed=0, n_components=n_components)
    metrics.update(model=model_id, dataset="toy", features=record)
    out = tmp_path / model_id
    out.mkdir()
    save_model(model, out / ("model.pt" if is_cnn else "model.npz"))
    table.to_csv(out / "predictions.csv", index=False)
    (out / "metrics.json").write_text(json.dumps(metrics))
    return out


@pytest.mark.parametrize(
    ("model_id", "factory", "feature"),
    [
        ("grad-pcr", lambda: PiecewiseConstantRegressor(bin_width=1.0), "grad"),
        ("physfeat2-svr", lambda: SVRegressor(C=100.0, gamma=1 / 64, epsilon=0.12), "physfeat2"),
        (
            "physfeat2-svr",
            lambda: SVRegressor(C=100.0, gamma=1 / 64, epsilon=0.12),
            "physfeat2-full",
        ),
        (
            "cnnpca-svr",
            lambda: SVRegressor(C=100.0, epsilon=0.1, standardize=False, n_components=5),
            "cnnpca",
        ),
        ("latent-svr", lambda: SVRegressor(C=100.0, epsilon=0.1), "latent"),
        (
            "twopoint-svr",
            lambda: SVRegressor(C=100.0, epsilon=0.1, standardize=False, n_components=5),
            "twopoint",
        ),
        (
            "resnet18",
            lambda: CNNRegressor(max_epochs=1, min_steps=0, batch_size=16, threads=2),
            None,
        ),
        (
            "mucha-resnet34",
            lambda: CNNRegressor(
                arch="resnet34", protocol="mucha", max_epochs=1, min_steps=0, batch_size=16
            ),
            "mucha",
        ),
    ],
)
def test_predict_round_trips(tmp_path, dataset, model_id, factory, feature):
    model_dir = train_model_dir(tmp_path, dataset, model_id, factory(), feature)
    out = tmp_path / "out.csv"
    args = ["predict", "--model", str(model_dir), "--images", str(dataset), "--out", str(out)]
    assert main([*args, "--split", "test"]) == 0
    got, want = pd.read_csv(out), pd.read_csv(model_dir / "predictions.csv")
    assert got["index"].tolist() == want["index"].tolist()
    # latent-svr re-encodes the images with its float32 autoencoder, whose convolutions
    # round differently with another batch split or thread count: codes agree to ~1e-6
    # relative, the SVR's predictions to ~1e-5 (measured 1.3e-5 on CI)
    rtol = 1e-4 if feature == "latent" else 1e-6
    np.testing.assert_allclose(got["predicted"], want["predicted"], rtol=rtol, atol=1e-6)
    np.testing.assert_allclose(got["true"], want["true"])
    # the same images as a .npy stack and as a folder of PNGs
    images = load_dataset(dataset).images[want["index"].to_numpy()]
    np.save(tmp_path / "stack.npy", images)
    assert main(["predict", "--model", str(model_dir), "--images", str(tmp_path / "stack.npy"),
                 "--out", str(out)]) == 0  # fmt: skip
    np.testing.assert_allclose(pd.read_csv(out)["predicted"], want["predicted"], rtol=rtol)
    from PIL import Image

    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, im in enumerate(images):
        Image.fromarray(im, mode="L").save(folder / f"img_{i:03d}.png")
    assert main(["predict", "--model", str(model_dir), "--images", str(folder), "--out",
                 str(out)]) == 0  # fmt: skip
    table = pd.read_csv(out)
    assert table["file"].iloc[0] == "img_000.png"
    np.testing.assert_allclose(table["predicted"], want["predicted"], rtol=rtol)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((3, 32, 32), np.uint8), "shape (3, 32, 32)"),
        (np.zeros((3, 64, 64), np.float32), "dtype float32"),
        (np.full((3, 64, 64), 300, np.int16), "values in 300..300"),
        (np.zeros((3, 3, 64, 64), np.uint8), "shape (3, 3, 64, 64)"),
    ],
)
def test_predict_refuses_bad_images(tmp_path, dataset, capsys, array, message):
    model_dir = train_model_dir(
        tmp_path, dataset, "grad-pcr", PiecewiseConstantRegressor(bin_width=1.0), "grad"
    )
    np.save(tmp_path / "bad.npy", array)
    code = main(["predict", "--model", str(model_dir), "--images", str(tmp_path / "bad.npy")])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "(N, 64, 64) uint8 0..255" in err


def test_predict_refuses_colour_png_and_non_model_dir(tmp_path, dataset, capsys):
    from PIL import Image

    folder = tmp_path / "rgb"
    folder.mkdir()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(folder / "a.png")
    model_dir = train_model_dir(
        tmp_path, dataset, "grad-pcr", PiecewiseConstantRegressor(bin_width=1.0), "grad"
    )
    assert main(["predict", "--model", str(model_dir), "--images", str(folder)]) == 2
    assert "8-bit grayscale PNG" in capsys.readouterr().err
    assert main(["predict", "--model", str(tmp_path), "--images", str(dataset)]) == 2
    assert "no metrics.json" in capsys.readouterr().err


@pytest.fixture
def pcr_dir(tmp_path, dataset):
    return train_model_dir(
        tmp_path, dataset, "grad-pcr", PiecewiseConstantRegressor(bin_width=1.0), "grad"
    )


def predict_error(capsys, model_dir, images) -> str:
    """Run predict, check exit code 2 and one line on stderr; return that line."""
    code = main(["predict", "--model", str(model_dir), "--images", str(images)])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("microprop predict: error: "), err
    return lines[0]


def test_predict_refuses_a_corrupt_or_non_hdf5_file(tmp_path, pcr_dir, capsys):
    fake = tmp_path / "fake.h5"
    fake.write_bytes(b"this is not HDF5" * 100)
    assert f"{fake}: cannot be read as an HDF5 file" in predict_error(capsys, pcr_dir, fake)
    npy = tmp_path / "fake.npy"
    npy.write_bytes(b"not numpy")
    assert f"{npy}: not a readable .npy array" in predict_error(capsys, pcr_dir, npy)


@pytest.mark.parametrize("model_file", ["model.npz", "model.pt"])
def test_predict_refuses_a_model_file_that_is_not_a_model(
    tmp_path, dataset, pcr_dir, capsys, model_file
):
    if model_file == "model.pt":  # a CNN model folder whose state dict is garbage
        metrics = json.loads((pcr_dir / "metrics.json").read_text())
        metrics.update(model="resnet18", features={"name": None, "options": {}})
        (pcr_dir / "metrics.json").write_text(json.dumps(metrics))
    (pcr_dir / model_file).write_bytes(b"\x00garbage" * 50)
    line = predict_error(capsys, pcr_dir, dataset)
    assert f"{pcr_dir / model_file}: not a " in line and "model file" in line


@pytest.mark.parametrize("broken", ["no model key", "no features name", "not json"])
def test_predict_refuses_metrics_without_its_keys(dataset, pcr_dir, capsys, broken):
    path = pcr_dir / "metrics.json"
    metrics = json.loads(path.read_text())
    if broken == "no model key":
        del metrics["model"]
    elif broken == "no features name":
        metrics["features"] = {"options": {}}
    path.write_text("{not json" if broken == "not json" else json.dumps(metrics))
    line = predict_error(capsys, pcr_dir, dataset)
    assert str(path) in line
    assert {"no model key": "'model'", "no features name": "'name'", "not json": "JSON"}[
        broken
    ] in line


def test_predict_accepts_1_bit_pngs(tmp_path, pcr_dir):
    """Ising images are two-valued: a 1-bit PNG gives the same prediction as uint8 0/255."""
    from PIL import Image

    rng = np.random.default_rng(1)
    spins = rng.random((3, 64, 64)) < np.array([0.1, 0.5, 0.9])[:, None, None]
    folder = tmp_path / "bits"
    folder.mkdir()
    for i, s in enumerate(spins):
        Image.fromarray(s).save(folder / f"{i}.png")  # bool array -> mode "1"
        assert Image.open(folder / f"{i}.png").mode == "1"
    np.save(tmp_path / "bytes.npy", spins.astype(np.uint8) * 255)
    out1, out2 = tmp_path / "1.csv", tmp_path / "2.csv"
    assert (
        main(["predict", "--model", str(pcr_dir), "--images", str(folder), "--out", str(out1)]) == 0
    )
    assert main(["predict", "--model", str(pcr_dir), "--images", str(tmp_path / "bytes.npy"),
                 "--out", str(out2)]) == 0  # fmt: skip
    np.testing.assert_array_equal(pd.read_csv(out1)["predicted"], pd.read_csv(out2)["predicted"])
