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
    if feature:
        features = FEATURES[feature]().fit_transform(ds.images)
        write_features(tmp_path / f"{feature}.h5", features, ds, {"options": {}})
        from microprop.io import load_features

        data = load_features(tmp_path / f"{feature}.h5")
        attrs = data.attrs
    else:
        data = ds
    model, metrics, table = fit_evaluate(estimator, data, 1.0, 0, flatten=feature is not None)
    metrics.update(model=model_id, dataset="toy", features=feature_record(model_id, attrs))
    out = tmp_path / model_id
    out.mkdir()
    save_model(model, out / ("model.pt" if feature is None else "model.npz"))
    table.to_csv(out / "predictions.csv", index=False)
    (out / "metrics.json").write_text(json.dumps(metrics))
    return out


@pytest.mark.parametrize(
    ("model_id", "factory", "feature"),
    [
        ("grad-pcr", lambda: PiecewiseConstantRegressor(bin_width=1.0), "grad"),
        ("physfeat2-svr", lambda: SVRegressor(C=100.0, gamma=1 / 64, epsilon=0.12), "physfeat2"),
        ("resnet18", lambda: CNNRegressor(max_epochs=1, batch_size=16, threads=2), None),
    ],
)
def test_predict_round_trips(tmp_path, dataset, model_id, factory, feature):
    model_dir = train_model_dir(tmp_path, dataset, model_id, factory(), feature)
    out = tmp_path / "out.csv"
    args = ["predict", "--model", str(model_dir), "--images", str(dataset), "--out", str(out)]
    assert main([*args, "--split", "test"]) == 0
    got, want = pd.read_csv(out), pd.read_csv(model_dir / "predictions.csv")
    assert got["index"].tolist() == want["index"].tolist()
    np.testing.assert_allclose(got["predicted"], want["predicted"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got["true"], want["true"])
    # the same images as a .npy stack and as a folder of PNGs
    images = load_dataset(dataset).images[want["index"].to_numpy()]
    np.save(tmp_path / "stack.npy", images)
    assert main(["predict", "--model", str(model_dir), "--images", str(tmp_path / "stack.npy"),
                 "--out", str(out)]) == 0  # fmt: skip
    np.testing.assert_allclose(pd.read_csv(out)["predicted"], want["predicted"], rtol=1e-6)
    from PIL import Image

    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, im in enumerate(images):
        Image.fromarray(im, mode="L").save(folder / f"img_{i:03d}.png")
    assert main(["predict", "--model", str(model_dir), "--images", str(folder), "--out",
                 str(out)]) == 0  # fmt: skip
    table = pd.read_csv(out)
    assert table["file"].iloc[0] == "img_000.png"
    np.testing.assert_allclose(table["predicted"], want["predicted"], rtol=1e-6)


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
