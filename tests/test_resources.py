"""What jobs ask the scheduler for (microprop.resources): GPUs only where there is one."""

import re
import sys
import types

import pytest
import yaml
from helpers import REPO
from slurm.harness import GPU_RULES

from microprop import resources
from microprop.resources import gpus_for


@pytest.mark.parametrize(
    ("device", "cuda", "gpus"),
    [
        ("cpu", True, 0),
        ("cpu", False, 0),
        ("cuda", False, 1),
        ("cuda:1", False, 1),
        ("auto", True, 1),
        ("auto", False, 0),
    ],
)
def test_a_job_asks_for_a_gpu_only_where_its_device_is_cuda(device, cuda, gpus):
    assert gpus_for(device, cuda=cuda) == gpus


@pytest.mark.parametrize("available", [True, False])
def test_auto_follows_what_torch_sees(monkeypatch, available):
    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=lambda: available))
    monkeypatch.setitem(sys.modules, "torch", fake)
    resources.cuda_present.cache_clear()
    try:
        assert gpus_for("auto") == int(available)
    finally:
        resources.cuda_present.cache_clear()


def test_without_torch_no_gpu_is_asked_for(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    resources.cuda_present.cache_clear()
    try:
        assert resources.cuda_present() is False
    finally:
        resources.cuda_present.cache_clear()


def rules_declaring_gpus() -> dict[str, str]:
    """rule name -> the value of its `gpu=` resource, over rules/*.smk."""
    found = {}
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for block in re.split(r"^(?=rule )", smk.read_text(), flags=re.M):
            name = re.match(r"rule (\w+):", block)
            gpu = re.search(r"^\s+gpu=([^,\n]+)", block, flags=re.M)
            if name and gpu:
                found[name.group(1)] = gpu.group(1).strip()
    return found


def test_gpu_rules_ask_through_the_device_not_a_constant():
    """A constant gpu=1 would hold every CPU training to profiles/default's gpu limit (one
    at a time on a machine without a GPU)."""
    declared = rules_declaring_gpus()
    assert set(declared) == set(GPU_RULES)
    assert set(declared.values()) == {"cnn_gpus", "embedding_gpus"}, declared
    smk = (REPO / "rules/models.smk").read_text() + (REPO / "rules/features.smk").read_text()
    for rule in GPU_RULES:  # threads: the scheduler packs them by cores instead
        block = smk.split(f"rule {rule}:")[1].split("\nrule ")[0]
        assert re.search(r"^    threads: \S", block, flags=re.M), rule


def test_the_slurm_profile_gives_every_gpu_rule_a_gpu():
    """On a cluster the login node that evaluates the resources need not have a GPU: the
    profile sets gpu=1 for the GPU rules itself, and scopes the workstation limit per job."""
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    for rule in GPU_RULES:
        assert profile["set-resources"][rule]["gpu"] == 1, rule
    assert profile["set-resource-scopes"]["gpu"] == "local"
    default = yaml.safe_load((REPO / "profiles/default/config.yaml").read_text())
    assert default["resources"]["gpu"] >= 1
