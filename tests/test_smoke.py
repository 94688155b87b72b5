"""The thinnest path, simulation -> dataset -> feature -> model -> figure, run by snakemake."""

import json

import h5py
import numpy as np
import pandas as pd
import pytest
from helpers import SMOKE, assert_figure_drawn, copy_workflow, snakemake

pytestmark = pytest.mark.workflow


def test_ising_path_to_the_confusion_figure(tmp_path):
    work = copy_workflow(tmp_path)
    only_pcr = work / "only_pcr.yaml"
    only_pcr.write_text("datasets: [ising]\nmodels:\n  ids: [grad-pcr]\n")
    target = "results/figures/fig08_confusion_ising.png"
    snakemake(work, "--configfile", SMOKE, str(only_pcr), "--", target, timeout=180)

    assert_figure_drawn(work / target)
    assert (work / target).with_suffix(".pdf").read_bytes().startswith(b"%PDF")
    # the shards are temporary (only assemble reads them); the dataset is write-protected
    assert not list((work / "results/sims/ising").glob("shard_*.h5"))
    assert not (work / "results/data/ising.h5").stat().st_mode & 0o222
    with h5py.File(work / "results/data/ising.h5") as f:
        assert f["images"].shape[1:] == (64, 64)
        n, n_test = len(f["property"]), int(np.sum(f["split"][()] == b"test"))
    metrics = json.loads(
        (work / "results/models/ising/grad-pcr/frac1.0/seed0/metrics.json").read_text()
    )
    assert metrics["n_test"] == n_test and metrics["n_train"] == n - n_test
    assert metrics["r2"] > 0.8  # grad separates temperatures well (the paper: 0.951)
    assert (work / "results/data/ising.md").read_text().startswith("# Dataset `ising`")
    for rule in ("simulate_ising", "assemble", "features", "train_pcr", "fig08_confusion"):
        assert list((work / "results/logs" / rule).glob("*.log")), rule
        assert list((work / "results/benchmarks" / rule).glob("*.tsv")), rule


def test_cfd_path_to_table2(tmp_path):
    """The Kolmogorov-flow dataset (tiny, short spin-up) through one feature model and
    mucha-resnet34 to its Table 2 column and the Fig. 8 and Fig. E.20 figures (the smoke
    run leaves cfd out: every model on a third dataset costs more than 3 minutes)."""
    work = copy_workflow(tmp_path)
    overlay = work / "cfd_only.yaml"
    overlay.write_text("datasets: [cfd]\nmodels:\n  ids: [physfeat2-svr, mucha-resnet34]\n")
    targets = [
        "results/tables/table2.md",
        "results/figures/fig08_confusion_cfd.png",
        "results/figures/fig03_psd_cfd.png",
    ]
    snakemake(work, "--configfile", SMOKE, str(overlay), "--", *targets, timeout=600)

    for png in targets[1:]:
        assert_figure_drawn(work / png)
    with h5py.File(work / "results/data/cfd.h5") as f:
        re, split = f["property"][()], f["split"][()]
        attrs = json.loads(f.attrs["simulation"])
        assert f["images"].shape == (40, 64, 64)
    assert np.all((re >= 1) & (re <= 800)) and int(np.sum(split == b"test")) == 10
    # the test split spreads over Re: a test image in each quarter of the Re order
    ranks = np.argsort(np.argsort(re))[split == b"test"]
    assert len(set(ranks * 4 // len(re))) == 4
    assert attrs["forcing_wavenumber"] == 4 and attrs["spinup_steps"] == 204
    table = (work / "results/tables/table2.md").read_text()
    assert "## cfd" in table and "physfeat2-svr" in table and "mucha-resnet34" in table
    metrics_of = {}
    for model in ("physfeat2-svr", "mucha-resnet34"):
        metrics = metrics_of[model] = json.loads(
            (work / f"results/models/cfd/{model}/frac1.0/seed0/metrics.json").read_text()
        )
        assert metrics["n_test"] == 10 and metrics["n_train"] == 30
        # the scores are those of the test images' true labels
        pred = pd.read_csv(work / f"results/models/cfd/{model}/frac1.0/seed0/predictions.csv")
        np.testing.assert_array_equal(pred["true"], re[pred["index"]])
        assert set(pred["index"]) == set(np.flatnonzero(split == b"test"))
        rmse = np.sqrt(np.mean((pred["predicted"] - pred["true"]) ** 2))
        assert metrics["rmse"] == pytest.approx(rmse)
    # physfeat2-svr beats the mean predictor of the test labels (R2 > 0); MuCha takes one
    # SGD step here (a path test: 200 steps with its cfd augmentation take minutes)
    assert metrics_of["physfeat2-svr"]["rmse"] < np.std(re[split == b"test"])
    # the default trains MuCha on the flow's symmetry group, channels recomputed
    augment = metrics["hyperparameters"]["augment"]
    assert augment["group"] == "kolmogorov" and augment["k"] == 4
    assert augment["channels"] == {"wavelet": "sym4", "rescale_image": False}
