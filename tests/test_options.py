"""Config-to-option translation (microprop.options) and the SVR's hyperparameter dispatch."""

import numpy as np
import pytest
from helpers import REPO, merged_config
from snakemake.utils import validate

from microprop import options
from microprop.models.svr import choose_hyperparameters
from microprop.resources import cnn_train_minutes

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


def load_config(*overlays: str) -> dict:
    config = merged_config(*overlays)
    validate(config, str(SCHEMA))  # fills in the schema's defaults
    return config


@pytest.fixture(scope="module")
def config():
    return load_config()


@pytest.fixture(scope="module")
def smoke():
    return load_config("tests/config/smoke.yaml")


def test_feature_options_follow_the_psd_and_mucha_sections(config):
    psd = config["features"]["psd"]
    assert options.feature_options(config, "grad", "ising") == {}
    assert options.feature_options(config, "physfeat2", "ch") == {
        "n_bins": psd["n_bins"],
        "spectrum": psd["physfeat2_spectrum"]["ch"],
    }


def test_svr_method_and_values_follow_the_model_and_the_switches(config):
    svr = config["models"]["svr"]
    assert options.svr_method(config, "physfeat2-svr") == ("tpe" if svr["search"] else "fixed")
    assert options.svr_method(config, "grad-svr") == ("grid" if svr["cv"] else "fixed")
    no_search = {"models": {"svr": {**svr, "search": False, "cv": False}}}
    assert options.svr_method(no_search, "physfeat2-svr") == "fixed"
    assert options.svr_method(no_search, "latent-svr") == "fixed"
    assert options.svr_hyperparameters(config, "physfeat2-svr", "ising") == svr["final"]["ising"]
    assert options.svr_hyperparameters(config, "grad-svr", "ch") == svr["hyperparameters"]["ch"]
    assert options.svr_runtime_minutes(config, "physfeat2-svr") == 60 + svr["n_trials"]
    assert options.svr_runtime_minutes(config, "grad-svr") == 60


def test_cnnpca_svr_fits_its_pca_on_unscaled_components(config):
    n = config["features"]["cnnpca"]["n_components"]["ch"]
    cache = config["models"]["svr"]["cache_size"]
    assert options.svr_model_options(config, "cnnpca-svr", "ch") == {
        "cache_size": cache,
        "standardize": False,
        "n_components": n,
    }
    assert options.svr_model_options(config, "grad-svr", "ch") == {
        "cache_size": cache,
        "standardize": True,
        "n_components": 0,
    }


def test_search_options_rename_the_config_keys(smoke):
    search = options.svr_search_options(smoke)
    assert search["max_samples"] == smoke["models"]["svr"]["search_max_samples"] == 200
    assert search["relative"] == smoke["models"]["svr"]["grid_relative"]
    assert search["grid_max_samples"] == 200


def test_cnn_options_rename_download_and_apply_the_budget(smoke):
    cnn = smoke["models"]["cnn"]
    opts = options.cnn_options(smoke, "resnet152")
    assert opts["download"] is cnn["download_weights"] is False
    assert "download_weights" not in opts
    assert (opts["max_train"], opts["max_epochs"], opts["head_epochs"]) == (32, 1, 1)
    assert opts["cpu_amp"] == ("resnet152" not in cnn["cpu_float32"])
    # an id without a budget entry: no cap, the section's epochs
    no_budget = {"models": {"cnn": {**cnn, "budget": {}}}}
    assert options.cnn_budget(no_budget, "resnet18-pretrained") == {
        "max_train": 0,
        "max_epochs": cnn["max_epochs"],
        "head_epochs": cnn["head_epochs"],
    }


def test_mucha_options_share_the_cnn_settings(smoke):
    opts = options.mucha_options(smoke, "cfd")
    assert opts["max_epochs"] == smoke["models"]["mucha"]["epochs_by_dataset"]["cfd"]
    assert opts["max_train"] == 64
    for key in options.CNN_SHARED_KEYS:
        assert opts[key] == smoke["models"]["cnn"][key]
    assert options.symmetry_augment(smoke, "ch", "cnn")
    assert not options.symmetry_augment(smoke, "ising", "cnn")


def test_max_test_and_calibration(smoke):
    assert options.max_test(smoke, "ising", "1.0") == 0
    assert options.max_test(smoke, "ising", "0.1") == 40
    assert options.max_test(smoke, "cfd", "0.1") == 0
    calibration = options.calibration_options(smoke, "svr")
    assert calibration["method"] == smoke["uncertainty"]["calibration"]["svr"]
    assert calibration["level"] == smoke["uncertainty"]["level"]


def test_fraction_studies_calibrate_on_a_split_and_table2_by_cv(config):
    """Issue 42: below fraction 1 a PCR or SVR fits once and calibrates on a held-out part
    (uncertainty.fraction_calibration); Table 2's models keep the cv calibration."""
    uncertainty = config["uncertainty"]
    assert uncertainty["calibration"]["svr"] == uncertainty["calibration"]["pcr"] == "cv"
    for family in ("pcr", "svr"):
        full = options.calibration_options(config, family, "1.0")
        assert full == options.calibration_options(config, family)  # the default: Table 2
        assert full["method"] == "cv" and full["folds"] == uncertainty["cv_folds"]
        assert "fraction" not in full
        part = options.calibration_options(config, family, "0.01")
        assert part["method"] == "split"
        assert part["fraction"] == uncertainty["calibration_fraction"]
        assert {k: v for k, v in part.items() if k not in ("method", "fraction")} == {
            k: v for k, v in full.items() if k not in ("method", "folds")
        }
        # CH: the cv calibration adds leave-runs-out folds; the split follows split_by_run
        assert options.calibration_by_run(config, family, "1.0") is uncertainty["group_by_run"]
        assert options.calibration_by_run(config, family, "0.1") is uncertainty["split_by_run"]
    for family in ("cnn", "mucha"):  # no extra fits to save: unchanged
        assert options.calibration_options(config, family, "0.1") == options.calibration_options(
            config, family, "1.0"
        )
    # an overlay keeps cv at every fraction
    cv_everywhere = {
        **config,
        "uncertainty": {
            **uncertainty,
            "fraction_calibration": {**uncertainty["fraction_calibration"], "svr": "cv"},
        },
    }
    assert options.calibration_options(cv_everywhere, "svr", "0.1")["method"] == "cv"


def test_cnn_runtime_plan(config):
    # the paper's CH: 20 runs, 2 held out, 2000 + 10000 / 10 images per run; the training
    # split capped at ch.max_train images (0: every image of the training runs)
    ch = config["ch"]
    per_run = ch["part1_steps"] + ch["part2_steps"] // ch["save_every"]
    runs_images = (ch["n_runs"] - ch["n_test_runs"]) * per_run
    assert options.training_images(config, "ch") == min(runs_images, ch["max_train"])
    uncapped = {**config, "ch": {**ch, "max_train": 0}}
    assert options.training_images(uncapped, "ch") == runs_images
    arch, n, epochs = options.cnn_training_plan(config, "resnet18-sym", "ising")
    assert arch == "resnet18"
    assert epochs >= 1 and n >= 1
    assert cnn_train_minutes(n, epochs, arch, "cpu") >= 5
    arch, n, _ = options.cnn_training_plan(config, "mucha-resnet34", "ch")
    assert arch == "resnet34"


@pytest.mark.parametrize("method", ["fixed", "grid", "tpe"])
def test_choose_hyperparameters_dispatches_on_the_method(method, smoke):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X @ [1.0, 2.0, 0.5] + rng.normal(scale=0.1, size=60)
    search = options.svr_search_options(smoke)
    fixed = {"C": 10.0, "gamma": "scale", "epsilon": 0.1}
    hyper, record, used = choose_hyperparameters(method, X, y, fixed, search, seed=0)
    assert used == method
    if method == "fixed":
        assert hyper == fixed and record is None
    else:
        assert set(hyper) == {"C", "gamma", "epsilon"} and record["best_cv_rmse"] > 0


def test_too_few_samples_for_cv_fall_back_to_fixed_values(smoke):
    search = options.svr_search_options(smoke)  # 3 folds: 6 samples needed
    fixed = {"C": 1.0, "gamma": "scale", "epsilon": 0.1}
    X, y = np.zeros((5, 2)), np.arange(5.0)
    assert choose_hyperparameters("grid", X, y, fixed, search) == (fixed, None, "fixed")
    with pytest.raises(ValueError, match="unknown method"):
        choose_hyperparameters("bayes", np.zeros((9, 2)), np.arange(9.0), fixed, search)
