"""The model and feature registry: one place that the rules, scripts and package read."""

import re
from pathlib import Path

import pytest
import yaml

from microprop import features, registry, studies
from microprop.config import MODEL_ID_KEYS, config_problems
from microprop.models.cnn import parse_model_id
from microprop.models.run import feature_name, model_kind

REPO = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
CONFIG = yaml.safe_load((REPO / "config/config.yaml").read_text())


def test_the_default_config_names_registered_models_only():
    assert registry.unknown_model_ids(CONFIG["models"]["ids"]) == []


@pytest.mark.parametrize("model_id", registry.model_ids())
def test_the_package_reads_kind_and_feature_set_from_the_registry(model_id):
    entry = registry.model(model_id)
    assert model_kind(model_id) == entry.kind
    assert feature_name(model_id) == entry.feature
    if entry.kind == "cnn":
        assert parse_model_id(model_id) == (entry.arch, entry.pretrained, entry.sym)
    else:
        with pytest.raises(ValueError, match="not a CNN model id"):
            parse_model_id(model_id)
    if entry.kind in ("pcr", "svr", "mucha"):
        assert entry.feature in registry.FEATURE_SETS
    if entry.kind == "svr":
        assert entry.search in ("tpe", "grid")


def test_unknown_model_id_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown model id 'resnet50'.*grad-pcr"):
        registry.model("resnet50")


@pytest.mark.parametrize("kind", registry.KINDS)
def test_each_training_rule_matches_exactly_its_kind(kind):
    rule_pattern = re.compile(f"^(?:{registry.pattern(registry.model_ids(kind))})$")
    for m in registry.MODELS.values():
        assert bool(rule_pattern.match(m.id)) == (m.kind == kind), m.id


def test_table2_marks_the_models_beyond_the_paper():
    beyond = {m.id for m in registry.MODELS.values() if m.beyond_paper}
    assert set(studies.BEYOND_PAPER) == beyond
    assert {"resnet18-sym", "p4m-cnn", "latent-svr"} <= beyond
    assert not {"physfeat2-svr", "resnet18", "mucha-resnet34"} & beyond
    assert set(studies.SYMMETRIC_CNNS) == {"resnet18-sym", "p4m-cnn"}  # sym or p4m


def test_a_cnn_beyond_the_paper_is_not_symmetry_aware_by_itself():
    plain = registry.Model("resnet34", "cnn", arch="resnet34", beyond_paper=True)
    assert not plain.symmetry_aware
    assert registry.Model("resnet34-sym", "cnn", arch="resnet34", sym=True).symmetry_aware
    assert not registry.Model("x-svr", "svr", feature="grad").symmetry_aware


def test_feature_transformers_are_the_registered_stateless_sets():
    stateless = registry.feature_names("features")
    assert {"grad", "physfeat1", "physfeat2", "mucha"} <= set(stateless)
    assert list(features.FEATURES) == [*stateless, "cnnembed"]
    assert features.FEATURES["physfeat2"] is features.PSDStack


def test_a_model_reads_its_feature_file():
    assert registry.FEATURE_SETS["cnnpca"].input_file == "cnnembed"  # the PCA is in the SVR
    assert registry.FEATURE_SETS["physfeat2"].input_file == "physfeat2"


def test_feature_options_from_the_config():
    config = CONFIG["features"]
    psd = config["psd"]
    options = {name: f.options(config, "ch") for name, f in registry.FEATURE_SETS.items()}
    assert options["grad"] == {}
    assert options["physfeat1"] == {"n_bins": psd["n_bins"], "floor": psd["floor"]}
    assert options["physfeat2"] == {
        "n_bins": psd["n_bins"],
        "spectrum": psd["physfeat2_spectrum"]["ch"],
    }
    assert set(options["mucha"]) == {"wavelet", "rescale_image"}


def _model_id_keys(node, path=""):
    """Dotted config keys whose schema refers to the model id type."""
    if isinstance(node, dict):
        ref = node.get("$ref", "") + str(node.get("items", {}).get("$ref", ""))
        if ref.endswith("models/properties/ids/items"):
            yield path
        for key, sub in (node.get("properties") or {}).items():
            yield from _model_id_keys(sub, f"{path}.{key}" if path else key)


def test_every_model_id_key_of_the_schema_is_checked_against_the_registry():
    assert {"models.ids", *_model_id_keys(SCHEMA)} == set(MODEL_ID_KEYS)


@pytest.mark.parametrize("key", MODEL_ID_KEYS)
def test_an_unregistered_model_id_is_a_config_problem_naming_the_key(key):
    *parents, leaf = key.split(".")
    config = node = {}
    for name in parents:
        node = node.setdefault(name, {})
    node[leaf] = "resnet50" if leaf == "baseline" else ["grad-pcr", "resnet50"]
    problems = config_problems(config)
    assert len(problems) == 1 and problems[0].startswith(f"{key}: unknown model ids ['resnet50']")


def test_a_blend_weighs_registered_models_and_only_a_blend_has_members():
    blends = [m for m in registry.MODELS.values() if m.kind == "blend"]
    assert blends, "issue 47's blend is registered"
    for m in blends:
        assert len(m.members) >= 2 and m.beyond_paper
        assert all(registry.model(member).kind != "blend" for member in m.members)
    with pytest.raises(ValueError, match="two members"):
        registry.Model("lonely-blend", "blend", members=("grad-pcr",))
    with pytest.raises(ValueError, match="two members"):
        registry.Model("x-svr", "svr", feature="grad", members=("grad-pcr", "resnet18"))
