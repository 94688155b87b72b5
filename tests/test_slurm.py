"""The smoke workflow through a real SLURM: a single-node cluster on localhost
(tests/slurm/up.sh installs and starts munge, slurmctld and slurmd), driven by
`snakemake --profile profiles/slurm`. Every job must go through sbatch, the GPU rule must
get a GPU through the plugin's `gpu` resource, the Ising shards must run as one group job,
and the outputs must equal those of a local run."""

import re

import pytest
from slurm import harness as h

pytestmark = [pytest.mark.slow, pytest.mark.workflow]


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

    # Every job went through sbatch, and SLURM ran each to completion: one submission per
    # job, except the Ising shards, which ran as group jobs of up to 10 shards.
    job_ids = h.submitted_job_ids(log)
    group_jobs = re.findall(r"SLURM jobid (\d+) \(log: \S*/group_ising_shards", log)
    n_shards = len(list((reference / h.SHARDS).glob("shard_*.h5")))
    assert len(group_jobs) == -(-n_shards // 10) == log.count("Group job ising_shards")
    single_jobs = re.findall(r"^rule (\w+):", log, flags=re.MULTILINE)
    assert len(job_ids) == len(single_jobs) + len(group_jobs) >= 5, log[-4000:]
    # tables and figures run where snakemake runs (localrules), everything else by sbatch
    local = set(re.findall(r"localrule (\w+):", log)) - {"all"}
    assert "fig08_confusion" in local, log[-4000:]
    assert all(re.fullmatch(r"fig\w+|table2|metrics_table|ch_energy", r) for r in local), local
    states = h.slurm_job_states(job_ids)
    assert states == dict.fromkeys(job_ids, "COMPLETED"), states

    # The GPU rules (resources gpu=1; here cnn_embedding) were given a GPU by SLURM, the
    # others none. The plugin puts the rule name into the job's comment.
    info = {j: h.slurm_job_info(j) for j in job_ids}
    gpu_jobs = {
        j for j in job_ids if re.search(r"Comment=rule_({})".format("|".join(h.GPU_RULES)), info[j])
    }
    assert gpu_jobs, "no GPU rule was submitted"
    for j in job_ids:
        assert ("TresPerJob=gres:gpu:1" in info[j]) == (j in gpu_jobs), info[j]

    # Same outputs as the local run (timings excluded), and the same set of them; the
    # shards are temporary (the reference keeps them, --notemp) and gone once assembled.
    kept = {f for f in h.result_files(reference) if not f.startswith(h.SHARDS)}
    assert h.result_files(workdir) == kept
    assert h.compare_results(reference, workdir) == []
