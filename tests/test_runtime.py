"""Where the time of a run goes (microprop.runtime, rule runtime; issue 42), on synthetic
benchmark files and job DAGs."""

import json
import math
import os
import re
import subprocess
import sys
from types import SimpleNamespace

import pandas as pd
import pytest
from helpers import REPO

from microprop import runtime
from microprop.runtime import (
    STAGES,
    critical_path,
    dag_records,
    job_table,
    runtime_markdown,
    runtime_tables,
    summary,
)

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def rule_blocks() -> dict[str, str]:
    """rule name -> its text, over rules/*.smk."""
    blocks = {}
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for block in re.split(r"^(?=rule )", smk.read_text(), flags=re.M):
            if m := re.match(r"rule (\w+):", block):
                blocks[m.group(1)] = block
    return blocks


def test_every_rule_is_in_one_stage():
    rules = set(rule_blocks())
    listed = [rule for stage in STAGES.values() for rule in stage]
    assert len(listed) == len(set(listed)), "a rule in two stages"
    assert set(listed) == rules, (rules - set(listed), set(listed) - rules)
    assert list(STAGES) == ["simulate", "features", "models", "studies", "figures"]


def test_every_rule_writes_its_benchmark_under_its_own_name():
    for rule, block in rule_blocks().items():
        m = re.search(r"^    benchmark:\n        benchpath\(\"(\w+)\"", block, flags=re.M)
        assert m and m.group(1) == rule, rule


def write_bench(root, rule, name, s, cpu, rows=1, na=False):
    path = root / "results" / "benchmarks" / rule / f"{name}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    cpu_text = "NA" if na else str(cpu)
    line = f"{s}\t0:00:00\t100.0\t200\t90\t95\t0\t0\t50\t{cpu_text}\n"
    path.write_text(HEADER + line * rows)
    return str(path.relative_to(root))


@pytest.fixture
def run(tmp_path):
    """A small run: two shards -> assemble -> two models -> a table -> a figure, plus a
    feature job that took long but is on a short branch, and a model that failed."""
    b = lambda *a, **k: write_bench(tmp_path, *a, **k)  # noqa: E731
    jobs = [
        {"rule": "simulate_ising", "benchmark": b("simulate_ising", "0", 10, 20), "parents": []},
        {"rule": "simulate_ising", "benchmark": b("simulate_ising", "1", 30, 55), "parents": []},
        {"rule": "assemble", "benchmark": b("assemble", "ising", 5, 4), "parents": [0, 1]},
        {"rule": "features", "benchmark": b("features", "ising_grad", 50, 90), "parents": [2]},
        {"rule": "train_cnn", "benchmark": b("train_cnn", "ising_resnet18_1.0_0", 100, 190),
         "parents": [2]},
        {"rule": "train_svr", "benchmark": b("train_svr", "ising_grad-svr_1.0_0", 20, 20,
                                             rows=2), "parents": [3]},
        {"rule": "train_pcr", "benchmark": "results/benchmarks/train_pcr/ising_grad-pcr_1.0_0.tsv",
         "parents": [3]},  # failed: no benchmark file
        {"rule": "table2", "benchmark": b("table2", "table2", 2, 1, na=True), "parents": [4, 5]},
        {"rule": "fig08_confusion", "benchmark": b("fig08_confusion", "ising", 3, 3),
         "parents": [4, 5]},
        {"rule": "runtime", "benchmark": "results/benchmarks/runtime/runtime.tsv",
         "parents": [7, 8]},
        {"rule": "all", "benchmark": None, "log": [], "parents": [7, 8, 9]},
    ]  # fmt: skip
    return tmp_path, {"cores": 2, "jobs": jobs}


def test_critical_path_is_the_heaviest_chain():
    # 0 -> 2 -> 3 weighs 1 + 4 + 1; 1 -> 3 weighs 5 + 1; ties keep the first parent
    assert critical_path([1, 5, 4, 1], [[], [], [0], [1, 2]]) == [1, 3]
    assert critical_path([1, 5, 4.5, 1], [[], [], [0], [1, 2]]) == [0, 2, 3]
    assert critical_path([2, 2, 1], [[], [], [0, 1]]) == [0, 2]
    assert critical_path([math.nan, 1.0], [[], [0]]) == [0, 1]  # unmeasured counts 0
    assert critical_path([3.0, 1.0], [[], []]) == [0]  # no edges: the longest job
    with pytest.raises(ValueError, match="cycle"):
        critical_path([1, 1], [[1], [0]])


def test_tables_per_rule_and_stage_and_the_critical_path(run):
    root, dag = run
    jobs = job_table(dag, root)
    assert jobs.loc[5, "s"] == 20 and jobs.loc[7, "s"] == 2 and math.isnan(jobs.loc[7, "cpu_time"])
    assert not jobs.loc[6, "measured"] and jobs.loc[4, "name"] == "ising_resnet18_1.0_0"
    tables = runtime_tables(jobs)
    path = tables["critical"]
    # shard 1 (30) -> assemble (5) -> resnet18 (100) -> fig08 (3) = 138, not the
    # features branch 30 + 5 + 50 + 20 + 3 = 108
    assert path["rule"].tolist() == ["simulate_ising", "assemble", "train_cnn", "fig08_confusion"]
    assert path["name"].tolist() == ["1", "ising", "ising_resnet18_1.0_0", "ising"]
    stages = tables["stages"].set_index("stage")
    assert stages.loc["simulate", "wall_s"] == 45 and stages.loc["simulate", "cpu_s"] == 79
    assert stages.loc["models", "jobs"] == 3 and stages.loc["models", "measured"] == 2
    assert stages.loc["models", "wall_s"] == 120 and stages.loc["models", "critical_s"] == 100
    assert stages.loc["features", "critical_s"] == 0
    assert list(stages.index[:5]) == list(STAGES)
    rules = tables["rules"].set_index("rule")
    assert (
        rules.loc["simulate_ising", "jobs"] == 2 and rules.loc["simulate_ising", "max_job_s"] == 30
    )
    assert rules.loc["train_cnn", "stage"] == "models"
    total = summary(jobs, cores=2)
    assert total["critical_s"] == 138 and total["wall_s"] == 220
    assert total["cpu_s"] == 20 + 55 + 4 + 90 + 190 + 20 + 3
    assert total["bound_s"] == max(138, total["cpu_s"] / 2)
    assert total["unmeasured"] == {"train_pcr": 1}  # runtime and all are not counted


def test_markdown_names_the_totals_the_path_and_the_missing(run):
    root, dag = run
    md = runtime_markdown(job_table(dag, root), cores=2)
    assert "critical path: 0:02:18 (138 s, 4 jobs)" in md
    assert "no schedule on 2 cores is shorter than 0:03:11" in md
    assert "jobs without a benchmark file (not run, or failed): train_pcr 1" in md
    assert "| train_cnn " in md and "## Per stage" in md and "nan" not in md


def test_the_dag_of_snakemake_becomes_plain_records():
    class Job:  # the attributes dag_records reads of a Snakemake job
        def __init__(self, rule, benchmark):
            self.rule = SimpleNamespace(name=rule)
            self.benchmark = benchmark
            self.log = [f"results/logs/{rule}/x.log"]

    a, b, c = (
        Job("assemble", "results/benchmarks/assemble/ising.tsv"),
        Job("table2", None),
        Job("features", "results/benchmarks/features/ising_grad.tsv"),
    )
    dag = SimpleNamespace(jobs=[a, c, b], dependencies={a: {}, c: {a: {"f"}}, b: {a: {}, c: {}}})
    records = dag_records(dag)
    assert [r["rule"] for r in records] == ["assemble", "features", "table2"]
    assert records[2] == {"rule": "table2", "benchmark": None, "log": ["results/logs/table2/x.log"],
                          "parents": [0, 1]}  # fmt: skip
    assert records[1]["parents"] == [0]


def run_script(stub: dict) -> None:
    """workflow/scripts/runtime.py with a stand-in `snakemake` object, in its own process
    (the script sets up logging for the whole process, as in a job)."""
    code = (
        "import json, runpy, sys\n"
        "from types import SimpleNamespace as N\n"
        "s = json.loads(sys.argv[1])\n"
        "sm = N(log=s['log'], params=N(**s['params']), output=N(**s['output']))\n"
        "runpy.run_path(s['script'], init_globals={'snakemake': sm})\n"
    )
    stub = {**stub, "script": str(REPO / "workflow/scripts/runtime.py")}
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    subprocess.run([sys.executable, "-c", code, json.dumps(stub)], check=True, env=env)


def test_the_rule_script_writes_its_three_tables(run, tmp_path):
    root, dag = run
    (root / "dag.json").write_text(json.dumps(dag))
    out = {k: tmp_path / "out" / f"{k}.x" for k in ("md", "csv", "jobs")}
    (tmp_path / "out").mkdir()  # Snakemake makes the log's folder
    log = tmp_path / "out" / "runtime.log"
    stub = {
        "log": [str(log)],
        "params": {"dag": str(root / "dag.json"), "root": str(root)},
        "output": {k: str(v) for k, v in out.items()},
    }
    run_script(stub)
    assert "critical path: 0:02:18" in out["md"].read_text()
    rules = pd.read_csv(out["csv"])
    assert {"stage", "rule", "jobs", "wall_s", "cpu_s", "critical_s"} <= set(rules.columns)
    jobs = pd.read_csv(out["jobs"])
    assert len(jobs) == len(dag["jobs"]) and jobs["critical"].sum() == 4
    # without the recorded DAG: every benchmark file found, no edges
    (root / "dag.json").unlink()
    run_script(stub)
    assert len(pd.read_csv(out["jobs"])) == 8  # the benchmark files written above
    assert "dag.json missing" in log.read_text()


def test_unknown_rules_are_counted_as_other():
    assert runtime.stage_of("a_new_rule") == "other"
