"""What a trained model's folder may hold: nothing from a diverged training."""

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
