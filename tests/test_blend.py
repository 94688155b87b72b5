"""The blend of trained models (microprop.models.blend, issue 47): weights fitted on the
members' held-out predictions only, cross-fitted intervals, and prediction from images."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from microprop.io import TEST, TRAIN, load_dataset, load_features, write_features, write_h5
from microprop.models import PiecewiseConstantRegressor, SVRegressor, fit_evaluate
from microprop.models.blend import Blend, fit_blend
from microprop.models.run import TrainedModel, feature_record, write_model_outputs
from microprop.splits import fold_pairs
from microprop.uncertainty import CalibrationSet, Conformal, out_of_fold

CONFORMAL = {"level": 0.9, "score": "constant"}


def test_weights_follow_the_members_noise_and_drop_a_useless_member():
    rng = np.random.default_rng(1)
    y = rng.uniform(0, 255, 20000)
    good, fair = y + rng.normal(0, 5, y.size), y + rng.normal(0, 10, y.size)
    useless = rng.uniform(0, 255, y.size)  # knows nothing of y
    w = Blend().fit(np.column_stack([good, fair, useless]), y).weights_
    # inverse-variance weights 0.8 and 0.2; no negative weight for the useless member
    np.testing.assert_allclose(w, [0.8, 0.2, 0.0], atol=0.02)
    assert (w >= 0).all()


def test_out_of_fold_predictions_never_see_their_own_fold():
    rng = np.random.default_rng(2)
    P, y = rng.normal(size=(60, 2)), rng.normal(size=60)
    groups = np.repeat(np.arange(6), 10)
    got = out_of_fold(Blend(), P, y, np.arange(60), folds=3, seed=0, groups=groups)
    for fit, held in fold_pairs(60, 3, 0, groups):
        assert not set(groups[fit]) & set(groups[held])
        want = P[held] @ Blend().fit(P[fit], y[fit]).weights_
        np.testing.assert_allclose(got[held], want)


def _member(tmp_path, name, cal_rows, y, test_rows, noise, seed):
    """A trained member's folder as the train_* rules leave it (calibration set and test
    predictions with independent errors of scale ``noise``)."""
    rng = np.random.default_rng(seed)
    d = tmp_path / name / "frac1.0" / "seed0"
    d.mkdir(parents=True)
    cal = CalibrationSet(
        "cv", cal_rows, y[cal_rows], y[cal_rows] + rng.normal(0, noise, len(cal_rows))
    )
    Conformal([cal], **CONFORMAL).save(d / "conformal.npz")
    pred = y[test_rows] + rng.normal(0, noise, len(test_rows))
    pd.DataFrame({"index": test_rows, "true": y[test_rows], "predicted": pred}).to_csv(
        d / "predictions.csv", index=False
    )
    return d


def test_a_blend_beats_its_members_and_covers_at_its_level(tmp_path):
    rng = np.random.default_rng(3)
    y = rng.uniform(0, 255, 6000)
    train, test = np.arange(5000), np.arange(5000, 6000)
    svr = _member(tmp_path, "svr", train, y, test, noise=8.0, seed=4)  # every training row
    cnn = _member(tmp_path, "cnn", train[::5], y, test, noise=8.0, seed=5)  # its validation part
    blend, metrics, table = fit_blend(("svr", "cnn"), [svr, cnn], folds=5, seed=0, **CONFORMAL)
    assert metrics["hyperparameters"]["n_fit"] == 1000  # the rows both predicted held out
    np.testing.assert_allclose(blend.weights_, [0.5, 0.5], atol=0.05)
    members = [pd.read_csv(d / "predictions.csv") for d in (svr, cnn)]
    member_rmse = [np.sqrt(np.mean((t.predicted - t.true) ** 2)) for t in members]
    assert metrics["rmse"] < 0.8 * min(member_rmse)  # two independent errors: 8 / sqrt 2
    assert 0.86 < metrics["coverage"] < 0.94
    assert table["index"].tolist() == test.tolist()
    assert (table["lower"] <= table["predicted"]).all() and (
        table["predicted"] <= table["upper"]
    ).all()


def test_members_that_disagree_are_refused(tmp_path):
    y = np.arange(100.0)
    a = _member(tmp_path, "a", np.arange(0, 40), y, np.arange(90, 100), 1.0, 0)
    b = _member(tmp_path, "b", np.arange(50, 80), y, np.arange(90, 100), 1.0, 1)
    with pytest.raises(ValueError, match="share 0 rows"):
        fit_blend(("a", "b"), [a, b], folds=5, seed=0, **CONFORMAL)
    c = _member(tmp_path, "c", np.arange(0, 40), y, np.arange(80, 90), 1.0, 2)
    with pytest.raises(ValueError, match="other test images"):
        fit_blend(("a", "c"), [a, c], folds=5, seed=0, **CONFORMAL)


@pytest.fixture
def dataset(tmp_path):
    """Grey level v plus noise, property v; 20 test images."""
    rng = np.random.default_rng(0)
    v = rng.uniform(20, 235, 100)
    images = np.clip(v[:, None, None] + rng.normal(0, 30, (100, 64, 64)), 0, 255).astype(np.uint8)
    path = tmp_path / "toy.h5"
    write_h5(
        path, {"images": images, "property": v, "split": np.where(np.arange(100) % 5, TRAIN, TEST)}
    )
    return path


def _trained(models, dataset, model_id, estimator, feature):
    """A member trained by fit_evaluate with cv intervals, written as its rule does."""
    from microprop.features import FEATURES

    ds = load_dataset(dataset)
    path = models / f"{feature}.h5"
    write_features(path, FEATURES[feature]().fit_transform(ds.images), ds, {"options": {}})
    data = load_features(path)
    calibration = {"method": "cv", "folds": 3, **CONFORMAL}
    model, metrics, table = fit_evaluate(estimator, data, 1.0, 0, calibration=calibration)
    metrics.update(model=model_id, dataset="toy", features=feature_record(model_id, data.attrs))
    d = models / model_id / "frac1.0" / "seed0"
    d.mkdir(parents=True)
    write_model_outputs(_outputs(d), model, metrics, table)
    return d


def _outputs(d):
    names = {"metrics": "json", "predictions": "csv", "model": "npz", "conformal": "npz"}
    return SimpleNamespace(**{k: d / f"{k}.{ext}" for k, ext in names.items()})


def test_a_saved_blend_predicts_from_images_as_it_scored(tmp_path, dataset):
    members = ("grad-pcr", "physfeat2-svr")
    dirs = [
        _trained(tmp_path, dataset, "grad-pcr", PiecewiseConstantRegressor(bin_width=1.0), "grad"),
        _trained(
            tmp_path, dataset, "physfeat2-svr", SVRegressor(C=100.0, epsilon=0.1), "physfeat2"
        ),
    ]
    blend, metrics, table = fit_blend(members, dirs, folds=3, seed=0, **CONFORMAL)
    metrics.update(model="blend", dataset="toy")
    out = tmp_path / "blend" / "frac1.0" / "seed0"
    out.mkdir(parents=True)
    write_model_outputs(_outputs(out), blend, metrics, table)
    assert json.loads((out / "metrics.json").read_text())["hyperparameters"]["n_fit"] == 80

    loaded = TrainedModel(out)  # loads its members from the folders beside it
    images = load_dataset(dataset).images[table["index"].to_numpy()]
    np.testing.assert_allclose(loaded.predict(images), table["predicted"], rtol=1e-6)
    _, lower, upper = loaded.predict_intervals(images)
    np.testing.assert_allclose(lower, table["lower"], rtol=1e-6)
    np.testing.assert_allclose(upper, table["upper"], rtol=1e-6)
