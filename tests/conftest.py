"""Shared fixtures: one smoke run of the whole workflow per test session."""

from pathlib import Path

import pytest
from helpers import SMOKE, copy_workflow, snakemake


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """A copy of the workflow with the whole smoke workflow run in it (once per session)."""
    work = copy_workflow(tmp_path_factory.mktemp("smoke"))
    snakemake(work, "--configfile", SMOKE)
    return work
