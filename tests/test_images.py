"""The one image validator (microprop.images.check_images) and its callers."""

import numpy as np
import pytest

from microprop import registry
from microprop.images import check_images


@pytest.mark.parametrize(
    ("array", "options", "message"),
    [
        (np.zeros((8, 8)), {}, "expected grayscale images of shape (N, H, W), got shape (8, 8)"),
        (np.zeros((1, 2, 8, 8)), {}, "got shape (1, 2, 8, 8)"),
        (np.zeros((2, 8, 8, 1, 1)), {"channels": True}, "(N, H, W) or (N, C, H, W)"),
        (np.zeros((2, 32, 32)), {"shape": (64, 64)}, "(N, 64, 64), got shape (2, 32, 32)"),
        (np.zeros((0, 8, 8)), {"min_count": 1}, "at least 1 image(s)"),
        (np.zeros((2, 8, 8), np.float32), {"uint8": True}, "dtype float32 (convert to uint8"),
        (np.full((2, 8, 8), -1), {"uint8": True}, "got values in -1..-1"),
    ],
)
def test_refusals_name_the_source_what_was_expected_and_what_came(array, options, message):
    with pytest.raises(ValueError, match="^stack.npy: ") as err:
        check_images(array, "stack.npy", **options)
    assert message in str(err.value)


def test_what_comes_back():
    x = np.arange(16, dtype=np.int64).reshape(1, 4, 4)
    assert check_images(x) is not None and check_images(x).dtype == np.int64  # as given
    assert check_images(x, uint8=True).dtype == np.uint8
    assert np.array_equal(check_images(x, uint8=True), x)
    assert check_images(x[0], single=True).shape == (1, 4, 4)
    assert check_images(x, channels=True).shape == (1, 1, 4, 4)
    assert check_images(np.zeros((2, 3, 4, 4)), channels=True).shape == (2, 3, 4, 4)
    assert check_images(np.zeros((0, 4, 4))).shape == (0, 4, 4)  # no minimum unless asked


@pytest.mark.parametrize("feature", registry.feature_names("features"))
def test_every_stateless_feature_refuses_what_is_not_a_stack(feature):
    import importlib

    module, name = registry.FEATURE_SETS[feature].transformer.split(":")
    transformer = getattr(importlib.import_module(module), name)()
    with pytest.raises(ValueError, match=r"images: expected grayscale images .*got shape \(8, 8\)"):
        transformer.fit_transform(np.zeros((8, 8), np.uint8))


def test_the_cnn_and_prediction_use_it():
    from microprop.models.cnn import CNNRegressor
    from microprop.models.run import check_prediction_images

    with pytest.raises(ValueError, match=r"\(N, H, W\) or \(N, C, H, W\), got shape \(4, 64\)"):
        CNNRegressor().fit(np.zeros((4, 64), np.uint8), np.arange(4.0))
    assert check_prediction_images(np.zeros((64, 64), np.uint8)).shape == (1, 64, 64)
    with pytest.raises(ValueError, match=r"^x: expected .*\(N, 64, 64\) uint8 0..255, got sha"):
        check_prediction_images(np.zeros((2, 32, 32), np.uint8), "x")


def test_one_definition():
    """No module checks image stacks on its own again (the three of before: features'
    batching, models.run and the CNN's (N, C, H, W) conversion)."""
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src" / "microprop"
    own = [
        p.relative_to(src).as_posix()
        for p in src.rglob("*.py")
        if "expected images" in p.read_text() or "def check_images" in p.read_text()
    ]
    assert own == ["images.py"]
