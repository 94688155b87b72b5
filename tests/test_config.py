"""Config validation: a typo or a wrong type stops the run before any job, naming the key."""

from pathlib import Path

import pytest
import yaml
from helpers import REPO, copy_workflow, merge, merged_config, snakemake

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
        ("ch:\n  figure_run: 9\n", "ch.figure_run"),
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
    ("config/paper.yaml", "config/paper_ising_features.yaml"),
    (
        "config/paper.yaml",
        "config/paper_ising_features.yaml",
        "config/paper_ising_physfeat2_search.yaml",
    ),
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
    "ch test runs not fewer than runs": ({"ch": {"n_test_runs": 6}}, "ch.n_test_runs"),
    "ch figure run that is not simulated": ({"ch": {"figure_run": 9}}, "ch.figure_run"),
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
}


def test_the_default_config_has_no_problems():
    assert config_problems(merged_config()) == []


@pytest.mark.parametrize("case", list(CROSS_FIELD))
def test_cross_field_problem_is_named(case):
    overlay, key = CROSS_FIELD[case]
    config = merge(merged_config(), overlay)
    problems = config_problems(config)
    assert len(problems) == 1 and problems[0].startswith(key), problems
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        check_config(config)
