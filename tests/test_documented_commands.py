"""The snakemake commands documented in profiles/README.md do what they say, checked by
dry runs in a copy of the workflow: a command that names a target plans only the jobs of
that target, one without plans the whole study.

Issue 44: `--forcerun fig08_confusion results/figures/...` read the figure as a second
rule to force and planned the default targets (34 jobs instead of 9).
"""

from __future__ import annotations

import re
import shlex
import subprocess

import pytest
from helpers import REPO, SNAKEMAKE, copy_workflow

DOC = REPO / "profiles/README.md"


def documented_commands(text: str) -> list[list[str]]:
    """The one-line `.venv/bin/snakemake ...` commands of the bash blocks of a page
    (comments dropped; --unlock and multi-line commands left out: no plan to compare)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            if not line.startswith(".venv/bin/snakemake") or line.endswith("\\"):
                continue
            if "--unlock" not in line:
                commands.append(shlex.split(line))
    return commands


COMMANDS = documented_commands(DOC.read_text())


def test_the_page_documents_commands_with_and_without_targets():
    assert any("--forcerun" in c for c in COMMANDS), COMMANDS
    assert any(not any(a.startswith("results/") for a in c) for c in COMMANDS), COMMANDS


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("documented"))


def plan(workdir, args: list[str]) -> dict[str, int]:
    """Jobs per rule of a dry run of `snakemake ARGS` (args without the executable)."""
    proc = subprocess.run(
        [SNAKEMAKE, "-n", "--quiet", "rules", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    table = proc.stdout.split("Job stats:")[1]
    counts = {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M)}
    counts.pop("total")
    return counts


@pytest.mark.workflow  # dry runs of the whole default study (~1 min in all)
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[1:]))
def test_documented_command_plans_what_it_says(fresh, command):
    args = command[1:]
    targets = [a for a in args if a.startswith("results/")]
    planned = plan(fresh, args)
    if not targets:  # the whole study
        assert planned.get("all") == 1, planned
        return
    assert "all" not in planned, f"plans the default targets, not {targets}: {planned}"
    profile = args[args.index("--profile") : args.index("--profile") + 2]
    assert planned == plan(fresh, [*profile, *targets])  # only the target's jobs
    if "--forcerun" in args:
        forced = args[args.index("--forcerun") + 1]
        assert planned.get(forced) == 1, planned
