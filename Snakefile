# microprop: simulate microstructures, assemble datasets, compute features, train
# surrogate models and produce the tables and figures of Nguyen et al.
# Default config: config/config.yaml (workstation scale). Paper scale:
#   snakemake --cores all --configfile config/paper.yaml

import os
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

# This Snakefile and every rule script import microprop from the workflow's own src/, so
# a run uses the code beside it, in the .venv as in a per-rule conda environment (which
# pins the dependencies only, envs/microprop.yaml).
SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, SRC)
os.environ.update(
    PYTHONPATH=os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))
)


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "rules/common.smk"
include: "rules/simulate.smk"
include: "rules/assemble.smk"
include: "rules/features.smk"
include: "rules/models.smk"
include: "rules/studies.smk"
include: "rules/figures.smk"
include: "rules/latent.smk"


rule all:
    default_target: True
    input:
        final_targets(),


onstart:
    # a job killed while writing leaves .<name>.partial-<pid> beside its output
    from microprop.io import remove_stale_partials

    for path in remove_stale_partials("results"):
        print(f"removed {path}, left by an interrupted job", file=sys.stderr)
    record_dag()  # which job feeds which, for results/tables/runtime.md
