"""Resumable runs: kill the smoke workflow mid-run, locally (SIGKILL to its process group:
no clean-up at all) and under SLURM (SIGINT, as Ctrl-C: snakemake cancels its SLURM jobs),
then run it again. The second run must redo every job whose output is partial or was not
finished, keep finished work, and end with outputs identical to an uninterrupted run."""

import signal

import pytest
from slurm import harness as h

pytestmark = [pytest.mark.slow, pytest.mark.workflow]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return h.reference_run(tmp_path_factory)


def finished_shards(workdir):
    """Shard files that exist and that snakemake no longer marks incomplete."""
    marked = h.incomplete_markers(workdir)
    return {
        str(p.relative_to(workdir))
        for p in (workdir / h.SHARDS).glob("shard_*.h5")
        if str(p.relative_to(workdir)) not in marked
    }


def any_shard(workdir):
    return any((workdir / h.SHARDS).glob("shard_*.h5"))


def check_nothing_partial_is_kept(workdir, reference, args, finished):
    """After the kill: every output that is not identical to the reference run's, and
    every output marked incomplete, is planned to be made again; finished ones are not."""
    marked = h.incomplete_markers(workdir)
    assert marked, "the kill did not interrupt a running job"
    present = h.result_files(workdir)
    # A job killed while writing leaves atomic_path's temporary file (never a final name);
    # it is no output to plan: the next run's onstart deletes it (checked after the rerun).
    present = {p for p in present if ".partial-" not in p}
    differing = {p.split(":")[0] for p in h.compare_results(reference, workdir, present)}
    dry = h.run(workdir, [*args, "--dry-run"], workdir / "dry-run.log")
    planned = h.planned_outputs(dry)
    assert differing <= planned, (differing - planned, dry[-3000:])
    assert {m for m in marked if (workdir / m).exists()} <= planned, (marked, planned)
    assert not (finished & planned), (finished, planned)
    return differing, marked


def test_local_run_killed_with_sigkill_resumes(reference, tmp_path):
    workdir = h.copy_repo(tmp_path / "repo")
    args = [h.FIG08, *h.COMMON_ARGS, *h.LOCAL_ARGS]
    proc = h.start(workdir, args, workdir / "killed.log")
    h.wait_for(
        lambda: finished_shards(workdir) and h.incomplete_markers(workdir),
        300,
        "the first finished shard, with another job running",
        proc,
    )
    h.kill_group(proc, signal.SIGKILL)
    assert not (workdir / h.FIG08).exists()
    finished = finished_shards(workdir)

    # A hard kill leaves snakemake's lock behind: the documented first step is --unlock.
    h.run(workdir, [*args, "--unlock"], workdir / "unlock.log")
    check_nothing_partial_is_kept(workdir, reference, args, finished)

    # what a job killed while writing leaves (atomic_path's temporary name)
    stale = workdir / h.SHARDS / ".shard_0.h5.partial-99999999"
    stale.write_bytes(b"half a file")
    h.run(workdir, args, workdir / "rerun.log")
    assert (workdir / h.FIG08).is_file()
    assert h.compare_results(reference, workdir) == []
    assert not list((workdir / "results").rglob(".*.partial-*")), "stale partial files kept"


def test_slurm_run_interrupted_resumes(reference, tmp_path):
    h.slurm_up()
    workdir = h.copy_repo(tmp_path / "repo")
    args = [h.DATASET, *h.COMMON_ARGS, *h.SLURM_ARGS]
    log = workdir / "killed.log"
    proc = h.start(workdir, args, log)
    # the shards run in one SLURM job; interrupt it when the first shard has been written
    h.wait_for(lambda: any_shard(workdir), 300, "the first shard file", proc)
    h.kill_group(proc, signal.SIGINT)
    job_ids = h.submitted_job_ids(log.read_text())
    assert job_ids, log.read_text()[-3000:]

    # snakemake cancelled its SLURM jobs: none is left running or waiting
    h.wait_for(
        lambda: (
            not {"PENDING", "RUNNING", "COMPLETING"} & set(h.slurm_job_states(job_ids).values())
        ),
        60,
        "the cancelled SLURM jobs to end",
    )
    assert "CANCELLED" in h.slurm_job_states(job_ids).values()
    assert not (workdir / h.DATASET).exists()

    check_nothing_partial_is_kept(workdir, reference, args, finished_shards(workdir))

    rerun = h.run(workdir, args, workdir / "rerun.log", timeout=900)
    assert h.submitted_job_ids(rerun)
    assert (workdir / h.DATASET).is_file()
    assert h.compare_results(reference, workdir) == []
