"""Config validation: a typo or a wrong type stops the run before any job, naming the key."""

from pathlib import Path

import pytest
import yaml
from helpers import REPO, copy_workflow, merge, merged_config, snakemake

from microprop import registry
from microprop.config import ConfigError, check_config, config_problems

SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())


def walk(schema, path="config"):
    for key, sub in schema.get("properties", {}).items():
        yield f"{path}.{key}", sub
        if sub.get("type") == "object":
            yield from walk(sub, f"{path}.{key}")


@pytest.mark.parametrize("path, sub", list(walk(SCHEMA)), ids=lambda v: str(v)[:60])
def test_every_key_has_type_description_default(path, sub):
    assert {"type", "description", "default"} <= set(sub), path
    if sub["type"] == "object":
        assert sub.get("additionalProperties") is False, f"{path} must refuse unknown keys"


@pytest.fixture(scope="module")
def workflow_copy(tmp_path_factory) -> Path:
    """Dry runs happen in a copy: they never touch the checkout's .snakemake or results."""
    return copy_workflow(tmp_path_factory.mktemp("dryrun"))


def dry_run(overlay: str, tmp_path: Path, work: Path):
    bad = tmp_path / "overlay.yaml"
    bad.write_text(overlay)
    return snakemake(work, "-n", "--configfile", str(bad), check=False)


@pytest.mark.parametrize(
    "overlay, key",
    [
        ("ising:\n  n_imagse: 10\n", "n_imagse"),
        ("isnig:\n  n_images: 10\n", "isnig"),
        ("ising:\n  n_images: many\n", "n_images"),
        ("ising:\n  shard_size: 0\n", "shard_size"),
        ("seed: -1\n", "seed"),
        ("ch:\n  figure_run: 25\n", "ch.figure_run"),
        ("models:\n  cnn:\n    device: gpu\n", "models.cnn.device"),
        ("cfd:\n  re_range: [0.0, 800.0]\n", "cfd.re_range"),
        ("cfd:\n  resolution: 96\n", "cfd.resolution"),
        ("cfd:\n  resolution: 32\n", "cfd.resolution"),
    ],
)
def test_bad_config_stops_before_any_job_and_names_the_key(overlay, key, tmp_path, workflow_copy):
    proc = dry_run(overlay, tmp_path, workflow_copy)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert key in out
    assert "Job stats" not in out
    assert "rule simulate_ising" not in out and "rule simulate_cfd" not in out


# Each entry: the overlays of one documented command, in its --configfile order.
SHIPPED = [
    ("config/config.yaml",),
    ("config/paper.yaml",),
    ("config/offline.yaml",),
    ("config/ch_spectral.yaml",),
    ("config/ch_plane_strain.yaml",),
    ("config/uncertainty_check.yaml",),
    ("config/demo.yaml",),
    ("config/paper.yaml", "config/paper_ising_features.yaml"),
    (
        "config/paper.yaml",
        "config/paper_ising_features.yaml",
        "config/paper_ising_physfeat2_search.yaml",
    ),
    ("config/paper.yaml", "config/paper_ising_features.yaml", "config/paper_ising_cnn.yaml"),
    ("config/paper.yaml", "config/paper_ising_twopoint.yaml"),
    (
        "config/paper.yaml",
        "config/paper_ising_twopoint.yaml",
        "config/paper_ising_twopoint_fast.yaml",
    ),
    ("tests/config/smoke.yaml",),
]


@pytest.mark.parametrize("overlays", SHIPPED, ids=lambda o: "+".join(Path(f).stem for f in o))
def test_shipped_configs_are_valid(overlays, workflow_copy):
    proc = snakemake(workflow_copy, "-n", "--configfile", *overlays, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Job stats" in proc.stdout + proc.stderr


def test_shipped_configs_pass_the_cross_field_checks():
    for overlays in SHIPPED[1:]:
        assert config_problems(merged_config(*overlays)) == [], overlays


def test_every_config_file_is_checked():
    """A new overlay in config/ cannot ship without a dry run above."""
    checked = {f for overlays in SHIPPED for f in overlays}
    shipped = {str(p.relative_to(REPO)) for p in (REPO / "config").glob("*.yaml")}
    assert shipped <= checked, sorted(shipped - checked)


# Each entry breaks one relation between keys and names the key the message must carry.
CROSS_FIELD = {
    "ising test split not smaller than the data": (
        {"ising": {"n_test": 10000}},
        "ising.n_test",
    ),
    "cfd test split not smaller than the data": ({"cfd": {"n_test": 1000}}, "cfd.n_test"),
    "cfd Reynolds numbers not positive": ({"cfd": {"re_range": [-1.0, 800.0]}}, "cfd.re_range"),
    "cfd grid not a power of 2": ({"cfd": {"resolution": 96}}, "cfd.resolution"),
    "cfd grid finer than the image": (
        {"cfd": {"resolution": 64, "image_size": 128}},
        "cfd.resolution",
    ),
    "ch test runs not fewer than runs": ({"ch": {"n_test_runs": 20}}, "ch.n_test_runs"),
    "ch figure run that is not simulated": ({"ch": {"figure_run": 25}}, "ch.figure_run"),
    "stage means of raw codes": (
        {"features": {"latent": {"pooling": "none"}}},
        "features.latent.stage_means",
    ),
    "unknown torch device": ({"models": {"cnn": {"device": "gpu"}}}, "models.cnn.device"),
    "cuda without index digits": (
        {"features": {"cnnpca": {"device": "cuda:x"}}},
        "features.cnnpca.device",
    ),
    "empty datasets": ({"datasets": []}, "datasets"),
    "a dataset twice": ({"datasets": ["ising", "ising"]}, "datasets"),
    "empty model ids": ({"models": {"ids": []}}, "models.ids"),
    "a model id twice": ({"models": {"ids": ["grad-pcr", "grad-pcr"]}}, "models.ids"),
    "a seed twice": ({"studies": {"seeds": [0, 0]}}, "studies.seeds"),
    "a fraction twice": ({"studies": {"fractions": [0.1, 1, 1.0]}}, "studies.fractions"),
    "fraction above one": ({"studies": {"fractions": [0.5, 1.5]}}, "studies.fractions"),
    "fraction zero": ({"studies": {"fractions": [0.0, 1.0]}}, "studies.fractions"),
    "range in decreasing order": (
        {"models": {"svr": {"epsilon_range": [0.5, 0.1]}}},
        "models.svr.epsilon_range",
    ),
    "validation fraction zero": (
        {"models": {"cnn": {"val_fraction": 0.0}}},
        "models.cnn.val_fraction",
    ),
    # sizes that cannot train (issue 44)
    "test split of one image": ({"cfd": {"n_test": 1}}, "cfd.n_test"),
    "scored on one test image": ({"studies": {"max_test": {"ch": 1}}}, "studies.max_test.ch"),
    "a CNN capped at one image": (
        {"models": {"cnn": {"budget": {"resnet152": {"max_train": 1}}}}},
        "models.cnn.budget.resnet152.max_train",
    ),
    "MuCha's split calibration leaves one image to fit": (
        {"models": {"mucha": {"max_train": 2}}},
        "models.mucha.max_train",
    ),
}


def test_the_default_config_has_no_problems():
    assert config_problems(merged_config()) == []


def _differences(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            yield from _differences(a.get(key), b.get(key), f"{path}.{key}".lstrip("."))
    elif a != b:
        yield f"{path}: config/config.yaml {a!r}, schema default {b!r}"


def test_schema_defaults_equal_the_default_config():
    """One set of defaults: the schema fills in exactly what config/config.yaml says, so
    an overlay that leaves a key out gets the same value either way."""
    from snakemake.utils import validate

    schema = str(REPO / "workflow/schemas/config.schema.yaml")
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    validate(config, schema)
    defaults = {}
    validate(defaults, schema)
    assert list(_differences(config, defaults)) == []


# What the rules build or call with config values, the config section it reads, its
# keyword names that the config spells otherwise, and keywords whose config key of the
# same name means something else (the reason beside it). Keys the config sets per dataset
# or per feature (a mapping: models.pcr.bin_width, features.twopoint.cutoff) have no single
# default and are left out (PiecewiseConstantRegressor and TwoPointStats have only those);
# so are keywords the config does not set.
PYTHON_DEFAULTS = [
    ("microprop.models.cnn:CNNRegressor", "models.cnn", {"download": "download_weights"}),
    ("microprop.models.svr:SVRegressor", "models.svr", {}),
    (
        "microprop.features.cnn:ResNetEmbedding",
        "features.cnnpca",
        {"weights": "embedding_weights", "download": "download_weights"},
    ),
    ("microprop.features.psd:PSDLineFit", "features.psd", {}),
    ("microprop.features.psd:PSDStack", "features.psd", {}),
    ("microprop.features.mucha:MultiChannel", "features.mucha", {}),
    ("microprop.features.latent:ConvAutoencoder", "features.latent", {}),
    ("microprop.features.latent:train_autoencoder", "features.latent", {}),
    ("microprop.features.latent:latent_features", "features.latent", {}),
    ("microprop.design:design_study", "studies.design", {}),
    ("microprop.uncertainty:Conformal", "uncertainty", {}),
    ("microprop.ch.params:CHParams", "ch", {}),
    ("microprop.cfd:CFDParams", "cfd", {}),
    ("microprop.ising:simulate_shard", "ising", {}),
]
OTHER_MEANING = {
    "augment": "models.cnn.augment lists datasets; CNNRegressor takes the group spec",
    "threads": "the rule's threads:, passed by the script (0: every core)",
}


def _section(config, dotted):
    for key in dotted.split("."):
        config = config[key]
    return config


@pytest.mark.parametrize(
    ("target", "section", "renames"), PYTHON_DEFAULTS, ids=[t[0] for t in PYTHON_DEFAULTS]
)
def test_python_defaults_equal_the_default_config(target, section, renames):
    """One set of defaults: a Python default is config/config.yaml's value (a direct caller
    gets what the workflow runs), or the keyword has none and the rule passes it."""
    import importlib
    import inspect

    module, name = target.split(":")
    params = inspect.signature(getattr(importlib.import_module(module), name)).parameters
    config = _section(yaml.safe_load((REPO / "config/config.yaml").read_text()), section)
    compared, drift = 0, []
    for keyword, param in params.items():
        key = renames.get(keyword, keyword)
        if key not in config or keyword in OTHER_MEANING or isinstance(config[key], dict):
            continue
        if param.default is inspect.Parameter.empty:
            continue  # required: every caller passes it
        compared += 1
        default = list(param.default) if isinstance(param.default, tuple) else param.default
        if default != config[key]:
            drift.append(
                f"{name}({keyword}={param.default!r}) but {section}.{key}: {config[key]!r}"
            )
    assert drift == []
    assert compared  # the table names a section the callable reads


def test_mucha_passes_every_value_where_it_differs_from_the_cnn_defaults():
    """CNNRegressor's defaults are models.cnn's; MuCha (models.mucha) always passes its own."""
    import inspect

    from microprop.models.cnn import CNNRegressor
    from microprop.options import mucha_options

    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    params = inspect.signature(CNNRegressor).parameters
    mucha = dict(config["models"]["mucha"], max_epochs=config["models"]["mucha"]["epochs"])
    passed = mucha_options(config, "ising")
    differ = [
        k for k in params if k in mucha and k not in OTHER_MEANING and params[k].default != mucha[k]
    ]
    assert set(differ) == {"max_epochs", "min_steps", "swa_share"}
    assert set(differ) <= set(passed)


@pytest.mark.parametrize("case", list(CROSS_FIELD))
def test_cross_field_problem_is_named(case):
    overlay, key = CROSS_FIELD[case]
    config = merge(merged_config(), overlay)
    problems = config_problems(config)
    assert len(problems) == 1 and problems[0].startswith(key), problems
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        check_config(config)


def test_sizes_that_cannot_train_are_named_with_their_keys():
    """Issue 44: `ising: {n_images: 3, n_test: 1}` passed validation and failed late in
    train_svr ("training diverged (non-finite scores {'r2': nan})")."""
    problems = config_problems(merge(merged_config(), {"ising": {"n_images": 3, "n_test": 1}}))
    assert problems[0].startswith("ising.n_test (1): a test split of 1 image cannot score")
    text = "\n".join(problems)
    # 2 training images: MuCha holds 1 out to calibrate, resnet18 at 0.1 % gets 1
    assert "ising.n_images - ising.n_test" in text and "mucha-resnet34" in text
    assert "studies.symmetry.fractions 0.001 of ising's 2 training images" in text
    # a fraction that leaves a CNN one image, on two datasets, is named for each
    overlay = {"studies": {"fractions": [0.0001, 1.0], "fraction_models": ["resnet18"]}}
    problems = config_problems(merge(merged_config(), overlay))
    assert [p.split(":")[0] for p in problems] == [
        "studies.fractions 0.0001 of ising's 9000 training images (ising.n_images - ising.n_test)",
        "studies.fractions 0.0001 of cfd's 800 training images (cfd.n_images - cfd.n_test)",
    ], problems
    assert all("1 image for resnet18, which fits on at least 2" in p for p in problems)
    # PCR and SVR fit on one image (infinite intervals, with a warning): no problem
    overlay["studies"]["fraction_models"] = ["grad-pcr", "grad-svr"]
    assert config_problems(merge(merged_config(), overlay)) == []


@pytest.mark.parametrize("study", ["symmetry", "semisupervised"])
def test_a_small_data_study_on_cfd_is_stopped(study):
    """Issue 42: cfd's 0.1 % of 800 training images is 1 image, on which resnet18 cannot
    fit; the default small-data studies leave cfd out, and putting it back is named."""
    config = merged_config()
    assert "cfd" in config["datasets"] and "cfd" not in config["studies"][study]["datasets"]
    overlay = {"studies": {study: {"datasets": ["ising", "ch", "cfd"]}}}
    problems = config_problems(merge(config, overlay))
    cnns = [m for m in config["studies"][study]["models"] if registry.model(m).kind == "cnn"]
    assert problems == [
        f"studies.{study}.fractions 0.001 of cfd's 800 training images (cfd.n_images - "
        f"cfd.n_test): 1 image for {model}, which fits on at least 2"
        for model in cnns
    ]


def test_every_model_of_the_default_config_gets_what_it_fits_on():
    """Issue 42: every training of the default plan, at every fraction, on every dataset,
    keeps at least FIT_MIN images to fit after its calibration part."""
    from microprop.config import FIT_MIN, _trainings, calibration_method, split_sizes, subset_size

    config = merged_config()
    smallest = {}
    for dataset in config["datasets"]:
        n_train = split_sizes(config, dataset)[0]
        for model, frac, _ in _trainings(config, dataset):
            kind = registry.model(model).kind
            n = subset_size(n_train, frac)
            if calibration_method(config, kind, frac) == "split":
                n -= min(max(1, round(config["uncertainty"]["calibration_fraction"] * n)), n - 1)
            assert n >= FIT_MIN[kind], (dataset, model, frac)
            smallest[kind] = min(smallest.get(kind, n), n)
    # the fraction study's 0.1 % of cfd (1 image) is the smallest: PCR and SVR only
    assert smallest["pcr"] == smallest["svr"] == 1 and smallest["cnn"] >= 2
