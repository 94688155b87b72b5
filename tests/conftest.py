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


def pytest_collection_modifyitems(config, items):
    """A test that runs the workflow end to end (through smoke_run) must be marked
    `workflow`, so that `make test-fast` (-m "not slow and not workflow") leaves it out."""
    unmarked = [
        item.nodeid
        for item in items
        if "smoke_run" in getattr(item, "fixturenames", ())
        and item.get_closest_marker("workflow") is None
    ]
    if unmarked:
        raise pytest.UsageError(f"mark these tests @pytest.mark.workflow: {unmarked}")
