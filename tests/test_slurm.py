"""The smoke workflow through a real SLURM: a single-node cluster on localhost
(tests/slurm/up.sh installs and starts munge, slurmctld and slurmd), driven by
`snakemake --profile profiles/slurm`. Every job must go through sbatch, the GPU rule must
get a GPU through the plugin's `gpu` resource, the Ising shards must run as one group job,
and the outputs must equal those of a local run."""

import importlib.util
import re
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.workflow]


def _harness():
    name = "microprop_tests_slurm_harness"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).parent / "slurm" / "harness.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


h = _harness()


@pytest.fixture(scope="module")
def slurm_cluster():
    h.slurm_up()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return h.reference_run(tmp_path_factory)


def test_slurm_profile_runs_smoke_workflow_like_a_local_run(slurm_cluster, reference, tmp_path):
    workdir = h.copy_repo(tmp_path / "repo")
    log = h.run(
        workdir,
        [h.FIG08, h.GPU_OUTPUT, *h.COMMON_ARGS, *h.SLURM_ARGS],
        workdir / "snakemake.log",
        timeout=900,
    )

    # Every job went through sbatch, and SLURM ran each to completion.
    job_ids = h.submitted_job_ids(log)
    # 3 shards as one group job, assemble, grad feature, grad-pcr, Fig. 8, embedding
    assert len(job_ids) == 6, log[-4000:]
    states = h.slurm_job_states(job_ids)
    assert states == dict.fromkeys(job_ids, "COMPLETED"), states
    assert set(re.findall(r"localrule (\w+):", log)) <= {"all"}

    # The shards ran together: one SLURM job for the ising_shards group.
    assert log.count("Group job ising_shards") == 1, log[-4000:]
    group_jobs = re.findall(r"SLURM jobid (\d+) \(log: \S*/group_ising_shards", log)
    assert len(group_jobs) == 1, log[-4000:]

    # The GPU rule (cnn_embedding, resources gpu=1) was given a GPU by SLURM.
    gpu_jobs = [
        j
        for j in job_ids
        if "rule_cnn_embedding" in h.slurm_job_info(j)  # the plugin's --comment
    ]
    assert len(gpu_jobs) == 1
    assert "gres:gpu:1" in h.slurm_job_info(gpu_jobs[0])
    cpu_jobs = [j for j in job_ids if j not in gpu_jobs]
    assert not any("TresPerJob=gres:gpu" in h.slurm_job_info(j) for j in cpu_jobs)

    # Same outputs as the local run (timings excluded), and the same set of them.
    assert h.result_files(workdir) == h.result_files(reference)
    assert h.compare_results(reference, workdir) == []
