"""What a trained model's folder may hold: nothing from a diverged training."""

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from microprop.io import TEST, TRAIN, Dataset
from microprop.models import fit_evaluate
from microprop.models.run import write_model_outputs


def test_a_diverged_training_stops_before_any_file(tmp_path):
    """Non-finite predictions or scores never reach predictions.csv, metrics.json or a table."""

    class Diverged:
        def fit(self, X, y):
            return self

        def predict(self, X):
            return np.full(len(X), np.nan)

    data = Dataset(np.arange(20.0)[:, None], np.arange(20.0), np.array([TRAIN, TEST] * 10))
    with pytest.raises(ValueError, match="10 of 10 predictions are not finite"):
        fit_evaluate(Diverged(), data, 1.0, 0)
    out = SimpleNamespace(**{k: tmp_path / k for k in ("model", "predictions", "metrics")})
    table = pd.DataFrame({"index": [1], "true": [1.0], "predicted": [np.inf]})
    metrics = {"model": "grad-pcr", "dataset": "ising", "rmse": 1.0, "mae": 1.0, "r2": 0.5}
    with pytest.raises(ValueError, match="grad-pcr on ising: not written, the training diverged"):
        write_model_outputs(out, None, metrics, table)
    table["predicted"] = [1.0]
    with pytest.raises(ValueError, match="'r2': nan"):
        write_model_outputs(out, None, {**metrics, "r2": float("nan")}, table)
    assert not list(tmp_path.iterdir())


def strict_loads(text: str):
    """json.loads as jq or JavaScript read: NaN and Infinity are errors."""

    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_infinite_intervals_give_strict_json_null_widths_and_a_warning(tmp_path, caplog):
    """Issue 44: 8 calibration images are too few for 90 % intervals; metrics.json held
    `Infinity` (not JSON). It now holds null, says why in `warnings`, and the log warns."""
    from microprop.models import PiecewiseConstantRegressor
    from microprop.studies import uncertainty_table

    rng = np.random.default_rng(0)
    y = rng.uniform(0, 10, 20)
    split = np.array([TRAIN] * 8 + [TEST] * 12)
    data = Dataset(y[:, None] + rng.normal(0, 0.5, (20, 1)), y, split)
    calibration = {"method": "cv", "folds": 4, "level": 0.9, "score": "constant"}
    model, metrics, table = fit_evaluate(
        PiecewiseConstantRegressor(bin_width=1.0), data, 1.0, 0, calibration=calibration
    )
    assert np.isinf(metrics["mean_width"]) and np.isinf(table["upper"]).all()
    metrics.update(model="grad-pcr", dataset="toy")
    names = ("model", "predictions", "metrics", "conformal")
    out = SimpleNamespace(**{k: tmp_path / f"{k}.out" for k in names})
    with caplog.at_level("WARNING", logger="microprop"):
        write_model_outputs(out, model, metrics, table)
    written = strict_loads(out.metrics.read_text())
    assert written["mean_width"] is None and written["rmse"] == pytest.approx(metrics["rmse"])
    assert written["warnings"] == [
        "infinite prediction intervals: 8 calibration images are too few for the 90% level "
        "(lower/upper -inf/inf in predictions.csv, widths null in metrics.json)"
    ]
    assert "grad-pcr on toy: infinite prediction intervals" in caplog.text
    # the uncertainty table reads the null widths back as infinite, not as missing
    row = uncertainty_table([out.metrics]).query("score == 'constant'").iloc[0]
    assert np.isinf(row["mean_width"]) and row["coverage"] == 1.0
