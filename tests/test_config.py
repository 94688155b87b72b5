"""Config validation: a typo or a wrong type stops the run before any job, naming the key."""

from pathlib import Path

import pytest
import yaml
from helpers import REPO, snakemake

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


def dry_run(overlay: str, tmp_path: Path):
    bad = tmp_path / "overlay.yaml"
    bad.write_text(overlay)
    return snakemake(REPO, "-n", "--configfile", str(bad), check=False)


@pytest.mark.parametrize(
    "overlay, key",
    [
        ("ising:\n  n_imagse: 10\n", "n_imagse"),
        ("isnig:\n  n_images: 10\n", "isnig"),
        ("ising:\n  n_images: many\n", "n_images"),
        ("ising:\n  shard_size: 0\n", "shard_size"),
        ("seed: -1\n", "seed"),
    ],
)
def test_bad_config_stops_before_any_job_and_names_the_key(overlay, key, tmp_path):
    proc = dry_run(overlay, tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert key in out
    assert "Job stats" not in out and "rule simulate_ising" not in out


@pytest.mark.parametrize(
    "config", ["config/config.yaml", "config/paper.yaml", "tests/config/smoke.yaml"]
)
def test_shipped_configs_are_valid(config, tmp_path):
    proc = snakemake(REPO, "-n", "--configfile", config, "-q", check=False)
    assert proc.returncode == 0, proc.stderr
