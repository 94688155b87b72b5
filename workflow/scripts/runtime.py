"""Rule runtime: wall and CPU seconds per rule and stage, and the critical path."""

from pathlib import Path

from microprop.io import atomic_path
from microprop.logs import setup_logging
from microprop.runtime import job_table, read_dag, runtime_markdown, runtime_tables

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

if Path(sm.params.dag).is_file():
    dag = read_dag(sm.params.dag)
else:  # the run could not record its DAG (a warning when it started): no edges
    log.warning("%s missing: no critical path, every benchmark file counted", sm.params.dag)
    benchmarks = sorted(Path(sm.params.root, "results/benchmarks").glob("*/*.tsv"))
    dag = {"cores": None, "jobs": [
        {"rule": p.parent.name, "benchmark": str(p), "log": [], "parents": []} for p in benchmarks
    ]}  # fmt: skip
jobs = job_table(dag, sm.params.root)
tables = runtime_tables(jobs)
with atomic_path(sm.output.jobs) as tmp:
    tables["jobs"].drop(columns="parents").to_csv(tmp, index=False)
with atomic_path(sm.output.csv) as tmp:
    tables["rules"].to_csv(tmp, index=False)
with atomic_path(sm.output.md) as tmp:
    tmp.write_text(runtime_markdown(jobs, dag.get("cores")))
log.info("run time per stage:\n%s", tables["stages"].to_string())
