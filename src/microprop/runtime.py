"""Where the time of a run goes: wall and CPU seconds per job, rule and stage, and the
critical path through the job DAG (issue 42).

Every rule writes a benchmark file, ``results/benchmarks/{rule}/{wildcards}.tsv``
(Snakemake's ``benchmark:``: ``s`` the wall seconds, ``cpu_time`` the CPU seconds of the
job's processes). Which jobs make up a run, and which job feeds which, is Snakemake's job
DAG: the workflow records it when a run starts (``onstart`` in the Snakefile,
:func:`dag_records`, ``results/benchmarks/dag.json``), with every job of the invocation,
those already up to date included, so a resumed run is described whole. The DAG is taken
from Snakemake itself rather than re-derived from the rules (a rule-level graph links a
job to every job of its parent rules, e.g. grad-svr to the physfeat2 features, and
lengthens the path) or from ``--d3dag`` (its nodes carry no wildcards, and it drops the
edges from finished jobs).

The critical path is the chain of jobs, parent to child, with the largest sum of wall
seconds: no number of cores runs the workflow faster. With ``cores`` cores no schedule
beats ``max(critical path, CPU seconds / cores)`` either.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

# Every rule of rules/*.smk in one stage (tests/test_runtime.py checks that each rule is
# here exactly once); `all` runs nothing.
STAGES: dict[str, tuple[str, ...]] = {
    "simulate": ("simulate_ising", "simulate_ch", "simulate_cfd", "assemble"),
    "features": ("features", "cnn_embedding", "features_cnnpca", "autoencoder"),
    "models": ("train_pcr", "train_svr", "train_cnn", "train_mucha", "train_blend"),
    "studies": (
        "table2",
        "metrics_table",
        "fraction_study",
        "symmetry_study",
        "sklearn_zoo",
        "pca_study",
        "uncertainty_table",
        "semisupervised_study",
        "design_study",
        "runtime",
    ),
    "figures": (
        "fig01_examples",
        "fig02_histograms",
        "fig03_psd",
        "fig04_features",
        "fig07_mucha",
        "fig08_confusion",
        "fig09_fraction",
        "fig10_timing",
        "figB12_pixel_pca",
        "figB13_pca_scree",
        "figB14_pca_confusion",
        "figD18_zoo_rmse",
        "figD19_zoo_r2",
        "fig_sym_fraction",
        "fig_uncertainty",
        "fig_latent",
        "fig_semisupervised",
        "fig_design",
        "ch_energy",
    ),
}
STAGE_OF = {rule: stage for stage, rules in STAGES.items() for rule in rules}
OTHER = "other"  # a rule no stage lists (named in the tables, never dropped)
UNMEASURED_RULES = ("all", "runtime")  # no benchmark yet when the tables are written


def stage_of(rule: str) -> str:
    """The stage of a rule (``other`` for a rule :data:`STAGES` does not list).

    >>> stage_of("train_svr"), stage_of("assemble"), stage_of("new_rule")
    ('models', 'simulate', 'other')
    """
    return STAGE_OF.get(rule, OTHER)


# --------------------------------------------------------------------- the job DAG


def dag_records(dag) -> list[dict]:
    """Snakemake's job DAG as plain records: ``rule``, ``benchmark`` (path or None), ``log``
    and ``parents`` (indices of the jobs it reads outputs of), one per job.

    ``dag`` is Snakemake's DAG object as the Snakefile's ``onstart`` sees it
    (``workflow.dag``): only ``dag.jobs``, ``dag.dependencies[job]`` (parent job -> files)
    and each job's ``rule.name``, ``benchmark`` and ``log`` are read.
    """
    jobs = list(dag.jobs)
    index = {job: i for i, job in enumerate(jobs)}
    return [
        {
            "rule": job.rule.name,
            "benchmark": str(job.benchmark) if job.benchmark else None,
            "log": [str(f) for f in job.log],
            "parents": sorted(index[p] for p in dag.dependencies[job] if p in index),
        }
        for job in jobs
    ]


def write_dag(path: str | os.PathLike, records: Sequence[Mapping], cores=None) -> None:
    """Write the job DAG (:func:`dag_records`) and the run's cores as JSON, atomically."""
    from microprop.io import atomic_path

    try:
        cores = int(cores)
    except (TypeError, ValueError):  # no --cores (a cluster executor)
        cores = None
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"cores": cores, "jobs": list(records)}, indent=0))


def read_dag(path: str | os.PathLike) -> dict:
    """The recorded DAG: {"cores": int or None, "jobs": [records]}."""
    return json.loads(Path(path).read_text())


# --------------------------------------------------------------------- benchmarks


def read_benchmark(path: str | os.PathLike) -> dict:
    """Wall seconds ``s``, CPU seconds ``cpu_time`` and peak memory ``max_rss`` (MB) of a
    benchmark file (the mean over repeats; NaN where Snakemake wrote NA), and ``end``, the
    file's modification time (the job's end, Unix seconds)."""
    path = Path(path)
    table = pd.read_csv(path, sep="\t", na_values=["NA", "-"])
    values = {}
    for column in ("s", "cpu_time", "max_rss"):
        data = pd.to_numeric(table[column], errors="coerce") if column in table else None
        values[column] = float(data.mean()) if data is not None and data.notna().any() else math.nan
    values["end"] = path.stat().st_mtime
    return values


def job_name(record: Mapping) -> str:
    """A job's wildcards as its benchmark (or log) file names them ('' for none)."""
    path = record.get("benchmark") or (record.get("log") or [""])[0]
    stem = Path(path).stem if path else ""
    return "" if stem == record["rule"] else stem


def job_table(dag: Mapping, root: str | os.PathLike = ".") -> pd.DataFrame:
    """One row per job of the recorded DAG: rule, stage, name, benchmark path, its
    measurements (NaN where the file is missing: the job has not run under this
    benchmark, or failed) and ``parents`` (row numbers)."""
    rows = []
    for i, record in enumerate(dag["jobs"]):
        bench = record.get("benchmark")
        path = Path(root) / bench if bench else None
        measured = path is not None and path.is_file()
        values = (
            read_benchmark(path)
            if measured
            else dict.fromkeys(("s", "cpu_time", "max_rss", "end"), math.nan)
        )
        rows.append(
            {
                "job": i,
                "rule": record["rule"],
                "stage": stage_of(record["rule"]),
                "name": job_name(record),
                "benchmark": bench or "",
                "measured": measured,
                **values,
                "parents": list(record.get("parents", [])),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------- critical path


def critical_path(weights: Sequence[float], parents: Sequence[Iterable[int]]) -> list[int]:
    """The jobs (indices, first to last) of the heaviest chain through a DAG whose job
    ``i`` takes ``weights[i]`` (NaN counts 0) and reads the outputs of ``parents[i]``.

    >>> critical_path([1, 5, 2, 1], [[], [0], [0], [1, 2]])  # 0 -> 1 -> 3: 7
    [0, 1, 3]
    >>> critical_path([], [])
    []
    """
    n = len(weights)
    w = [0.0 if not np.isfinite(x) else float(x) for x in weights]
    children: list[list[int]] = [[] for _ in range(n)]
    waiting = [0] * n
    for i, ps in enumerate(parents):
        for p in set(ps):
            children[p].append(i)
            waiting[i] += 1
    order = [i for i in range(n) if waiting[i] == 0]
    for i in order:  # Kahn's algorithm: `order` grows while it is walked
        for c in children[i]:
            waiting[c] -= 1
            if waiting[c] == 0:
                order.append(c)
    if len(order) != n:
        raise ValueError("the job graph has a cycle")
    finish, best_parent = [0.0] * n, [-1] * n
    for i in order:
        if ps := sorted(set(parents[i])):
            best_parent[i] = max(ps, key=lambda p: finish[p])  # ties: the first parent
        finish[i] = (finish[best_parent[i]] if ps else 0.0) + w[i]
    if not n:
        return []
    last = max(range(n), key=lambda i: finish[i])
    path = [last]
    while best_parent[path[-1]] >= 0:
        path.append(best_parent[path[-1]])
    return path[::-1]


# --------------------------------------------------------------------- tables


def runtime_tables(jobs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per rule and per stage: jobs, jobs measured, wall and CPU seconds (sums), the
    longest job, and the wall seconds on the critical path; ``jobs`` gains
    ``critical`` (on the path) and the path in order.
    """
    jobs = jobs.copy()
    path = critical_path(jobs["s"].tolist(), jobs["parents"].tolist()) if len(jobs) else []
    jobs["critical"] = jobs["job"].isin(path)
    jobs["critical_order"] = jobs["job"].map({j: k for k, j in enumerate(path)})
    jobs["critical_s"] = jobs["s"].where(jobs["critical"], 0.0).fillna(0.0)

    def summarize(keys):
        grouped = jobs.groupby(keys, sort=False)
        out = grouped.agg(
            jobs=("job", "count"),
            measured=("measured", "sum"),
            wall_s=("s", "sum"),
            cpu_s=("cpu_time", "sum"),
            max_job_s=("s", "max"),
            critical_s=("critical_s", "sum"),
        )
        return out.reset_index()

    order = {stage: i for i, stage in enumerate([*STAGES, OTHER])}
    stages = summarize(["stage"]).sort_values("stage", key=lambda s: s.map(order))
    rules = summarize(["stage", "rule"])
    rules["_o"] = rules["stage"].map(order)
    rules = rules.sort_values(["_o", "wall_s"], ascending=[True, False]).drop(columns="_o")
    critical = jobs.dropna(subset=["critical_order"]).sort_values("critical_order")
    return {
        "jobs": jobs,
        "rules": rules.reset_index(drop=True),
        "stages": stages.reset_index(drop=True),
        "critical": critical[["rule", "stage", "name", "s", "cpu_time"]].reset_index(drop=True),
    }


def summary(jobs: pd.DataFrame, cores: int | None = None) -> dict:
    """Totals of a run: wall and CPU seconds of all jobs, the critical path, the span
    from the first job's start to the last one's end (across sessions if the run was
    resumed), and with ``cores`` the lower bound max(critical path, CPU / cores)."""
    tables = runtime_tables(jobs)
    measured = jobs[jobs["measured"]]
    critical_s = float(tables["critical"]["s"].fillna(0.0).sum())
    cpu_s = float(measured["cpu_time"].fillna(0.0).sum())
    span = (
        float((measured["end"]).max() - (measured["end"] - measured["s"]).min())
        if len(measured)
        else 0.0
    )
    missing = jobs[~jobs["measured"] & ~jobs["rule"].isin(UNMEASURED_RULES)]
    out = {
        "jobs": int(len(jobs)),
        "measured": int(len(measured)),
        "unmeasured": missing["rule"].value_counts().to_dict(),
        "wall_s": float(measured["s"].fillna(0.0).sum()),
        "cpu_s": cpu_s,
        "critical_s": critical_s,
        "span_s": span,
        "cores": cores,
    }
    if cores:
        out["bound_s"] = max(critical_s, cpu_s / cores)
    return out


def hms(seconds: float) -> str:
    """Seconds as h:mm:ss.

    >>> hms(3725.4), hms(59.6)
    ('1:02:05', '0:01:00')
    """
    if not np.isfinite(seconds):
        return ""
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _seconds(value: float) -> str:
    """A number of seconds for a table: whole above 100, one decimal below, '' for NaN.

    >>> _seconds(1234.5), _seconds(4.37), _seconds(float("nan"))
    ('1,234', '4.4', '')
    """
    if pd.isna(value):
        return ""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"


def _seconds_table(frame: pd.DataFrame) -> str:
    shown = frame.copy()
    for column in shown.columns:
        if column.endswith("_s") or column in ("s", "cpu_time"):
            shown[column] = shown[column].map(_seconds)
    return shown.to_markdown(index=False)


def runtime_markdown(jobs: pd.DataFrame, cores: int | None = None, max_path: int = 40) -> str:
    """The run-time report: totals, per stage, per rule, and the critical path."""
    tables, total = runtime_tables(jobs), summary(jobs, cores)
    lines = [
        "# Where the time of the run went\n",
        "From the benchmark files of every job of the run's job DAG "
        "(`results/benchmarks/`; wall seconds `s`, CPU seconds `cpu_time`). The critical "
        "path is the chain of jobs, each reading the one before, with the most wall time: "
        "no number of cores finishes sooner.\n",
        f"- jobs: {total['jobs']}, measured {total['measured']}",
        f"- wall time of all jobs, one after another: {hms(total['wall_s'])} "
        f"({total['wall_s']:,.0f} s)",
        f"- CPU time of all jobs: {hms(total['cpu_s'])} ({total['cpu_s']:,.0f} s)",
        f"- critical path: {hms(total['critical_s'])} ({total['critical_s']:,.0f} s, "
        f"{len(tables['critical'])} jobs)",
        f"- first start to last end: {hms(total['span_s'])} (across sessions if the run "
        "was resumed)",
    ]
    if cores:
        lines.append(
            f"- no schedule on {cores} core{'s' * (cores != 1)} is shorter than "
            f"{hms(total['bound_s'])} (the critical path, or the CPU time over the cores)"
        )
    if total["unmeasured"]:
        named = ", ".join(f"{rule} {n}" for rule, n in total["unmeasured"].items())
        lines.append(f"- jobs without a benchmark file (not run, or failed): {named}")
    lines += ["", "## Per stage\n", _seconds_table(tables["stages"]), ""]
    lines += ["## Per rule\n", _seconds_table(tables["rules"]), ""]
    path = tables["critical"]
    lines += ["## Critical path\n"]
    if len(path) > max_path:
        lines.append(f"The {max_path} longest of its {len(path)} jobs, in order:\n")
        path = path[path["s"].rank(ascending=False, method="first") <= max_path]
    lines += [_seconds_table(path), ""]
    return "\n".join(lines)
