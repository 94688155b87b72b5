"""Helpers of tests/test_slurm.py and tests/test_resume.py: copy the repository into a
temporary directory, run the smoke workflow there (locally or through the SLURM profile),
bring up the single-node SLURM of tests/slurm/up.sh, and compare two results/ trees.

The test modules import it as ``slurm.harness`` (tests/ is on pytest's pythonpath) and
share one local reference run of the smoke workflow through ``reference_run``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UP_SH = REPO / "tests" / "slurm" / "up.sh"
SMOKE_CONFIG = "tests/config/smoke.yaml"
SLICE_CONFIG = "tests/slurm/slice.yaml"  # restricts the smoke run to the Ising slice

# The smoke slice: Ising shards -> dataset -> grad feature -> grad-pcr -> Fig. 8, plus the
# ResNet18 embedding, a rule that declares resources gpu=1.
FIG08 = "results/figures/fig08_confusion_ising.png"
DATASET = "results/data/ising.h5"
GPU_OUTPUT = "results/features/ising/cnnembed.h5"
GPU_RULES = ("cnn_embedding", "train_cnn", "train_mucha")  # rules declaring gpu=1
SHARDS = "results/sims/ising"

# Every run uses one thread per job: the same thread count locally and under SLURM (so
# floating-point results can be compared exactly), and two jobs side by side on the
# 2-CPU test node.
COMMON_ARGS = ["--configfile", SMOKE_CONFIG, SLICE_CONFIG, "--max-threads", "1"]
LOCAL_ARGS = ["--cores", "2"]
# The test cluster has no accounting daemon: job status comes from squeue (the cluster
# keeps finished jobs for MinJobAge=3600 s); poll every 2 s instead of the default 40 s.
SLURM_ARGS = [
    "--profile",
    "profiles/slurm",
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--slurm-no-account",
    "--jobs",
    "4",
]

# Keys of metrics.json and HDF5 attributes that hold wall-clock timings: they differ from
# run to run by nature and are left out of the comparisons (everything else must match):
# these names, and any name ending in "seconds" (e.g. pca_seconds).
TIMING_KEYS = {"seconds", "timing", "timings", "elapsed", "wall_time", "duration"}


def is_timing(key: str) -> bool:
    return key in TIMING_KEYS or key.endswith("seconds")


# Files compared by content; figures only by presence (PNG/PDF carry renderer metadata).
SKIP_DIRS = ("results/logs/", "results/benchmarks/")
PRESENCE_ONLY = (".png", ".pdf", ".svg")

SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+)")


def snakemake_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", *args]


def copy_repo(dest: Path) -> Path:
    """Copy the repository's files (tracked, and untracked ones git does not ignore)."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            check=True,
            capture_output=True,
        ).stdout
        files = [f for f in out.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "results", ".snakemake", "__pycache__", ".pytest_cache"}
        files = [
            str(p.relative_to(REPO))
            for p in REPO.rglob("*")
            if p.is_file() and not skip.intersection(p.relative_to(REPO).parts)
        ]
    for rel in files:
        src = REPO / rel
        if not src.is_file():  # deleted in the working tree
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    return dest


def run(workdir: Path, args: list[str], log: Path, timeout: float = 600) -> str:
    """Run snakemake in workdir; return its output, fail with the tail of it."""
    with open(log, "w") as fh:
        proc = subprocess.run(
            snakemake_cmd(*args),
            cwd=workdir,
            stdout=fh,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            start_new_session=True,
        )
    text = log.read_text()
    if proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}) in {workdir}:\n" + text[-6000:]
        )
    return text


def _ctrl_c_as_at_a_terminal() -> None:
    """SIGINT back to its default in the child: a shell starts a background job (`make test
    &`, a CI runner's) with SIGINT ignored, and children inherit that; snakemake would then
    ignore the test's Ctrl-C (and react only when the signal kills one of its squeue calls,
    a race)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(workdir: Path, args: list[str], log: Path) -> subprocess.Popen:
    """Start snakemake in its own process group (for killing it and its children), with
    SIGINT handled as in a terminal."""
    return subprocess.Popen(
        snakemake_cmd(*args),
        cwd=workdir,
        stdout=open(log, "w"),  # noqa: SIM115 - closed with the process
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_ctrl_c_as_at_a_terminal,  # noqa: PLW1509 - no threads start children here
    )


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"snakemake ended ({proc.returncode}) before {what}")
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def kill_group(proc: subprocess.Popen, sig: int, timeout: float = 120) -> int:
    """Send sig to the process group of proc and wait for proc to end."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        return proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def incomplete_markers(workdir: Path) -> set[str]:
    """Outputs snakemake has marked incomplete (.snakemake/incomplete/<base64 path>)."""
    d = workdir / ".snakemake" / "incomplete"
    if not d.is_dir():
        return set()
    names = set()
    for p in d.iterdir():
        try:
            names.add(base64.b64decode(p.name.encode()).decode())
        except ValueError:
            continue
    return names


def planned_outputs(dry_run_log: str) -> set[str]:
    """Outputs of the jobs a dry run (-n) would run, parsed from its job listing."""
    outputs = set()
    for line in dry_run_log.splitlines():
        m = re.match(r"\s+output: (.*)$", line)
        if m:
            outputs.update(s.strip() for s in m.group(1).split(","))
    return outputs


# --- SLURM ---------------------------------------------------------------------------


def slurm_up() -> None:
    """Start the single-node SLURM (idempotent); skip the test only where SLURM cannot be
    installed here (tests/slurm/up.sh exits 3), fail on any other problem."""
    import pytest

    if shutil.which("bash") is None:
        pytest.skip("SLURM test cluster: bash not found")
    proc = subprocess.run(["bash", str(UP_SH)], capture_output=True, text=True, timeout=900)
    if proc.returncode == 3:
        pytest.skip(f"SLURM cannot be installed on this machine: {proc.stderr.strip()}")
    if proc.returncode != 0:
        pytest.fail(f"tests/slurm/up.sh failed ({proc.returncode}):\n{proc.stderr[-4000:]}")


def submitted_job_ids(log_text: str) -> list[str]:
    return SUBMITTED.findall(log_text)


def slurm_job_states(job_ids: list[str]) -> dict[str, str]:
    """State of each job, from squeue (finished jobs stay listed for MinJobAge)."""
    out = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%i|%T", "--jobs", ",".join(job_ids)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(line.split("|", 1) for line in out.split())


def slurm_job_info(job_id: str) -> str:
    return subprocess.run(
        ["scontrol", "show", "job", job_id], check=True, capture_output=True, text=True
    ).stdout


# --- comparing results ---------------------------------------------------------------


def result_files(root: Path) -> set[str]:
    base = root / "results"
    if not base.is_dir():
        return set()
    files = {str(p.relative_to(root)) for p in base.rglob("*") if p.is_file()}
    return {f for f in files if not f.startswith(SKIP_DIRS)}


def _drop_timings(obj):
    if isinstance(obj, dict):
        return {k: _drop_timings(v) for k, v in obj.items() if not is_timing(k)}
    if isinstance(obj, list):
        return [_drop_timings(v) for v in obj]
    return obj


def _compare_h5(a: Path, b: Path) -> list[str]:
    import h5py
    import numpy as np

    diffs = []
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        items_a, items_b = {}, {}
        fa.visititems(lambda name, obj: items_a.__setitem__(name, obj))
        fb.visititems(lambda name, obj: items_b.__setitem__(name, obj))
        if set(items_a) != set(items_b):
            diffs.append(f"members differ: {sorted(set(items_a) ^ set(items_b))}")
        for name in sorted(set(items_a) & set(items_b)):
            oa, ob = items_a[name], items_b[name]
            if isinstance(oa, h5py.Dataset):
                va, vb = oa[()], ob[()]
                if va.shape != vb.shape or va.dtype != vb.dtype or not np.array_equal(va, vb):
                    diffs.append(f"dataset {name} differs")
        for name, oa, ob in [("/", fa, fb)] + [
            (n, items_a[n], items_b[n]) for n in sorted(set(items_a) & set(items_b))
        ]:
            keys = {k for k in set(oa.attrs) | set(ob.attrs) if not is_timing(k)}
            for key in sorted(keys):
                va, vb = oa.attrs.get(key), ob.attrs.get(key)
                if not np.array_equal(np.asarray(va), np.asarray(vb)):
                    diffs.append(f"attribute {name}:{key} differs: {va!r} != {vb!r}")
    return diffs


def _compare_npz(a: Path, b: Path) -> list[str]:
    import numpy as np

    with np.load(a, allow_pickle=False) as za, np.load(b, allow_pickle=False) as zb:
        if set(za.files) != set(zb.files):
            return [f"arrays differ: {sorted(set(za.files) ^ set(zb.files))}"]
        return [f"array {k} differs" for k in za.files if not np.array_equal(za[k], zb[k])]


def compare_file(a: Path, b: Path) -> list[str]:
    """Differences between two result files (empty list: equal)."""
    suffix = a.suffix
    if suffix in PRESENCE_ONLY:
        return [] if b.stat().st_size > 0 else ["empty"]
    if suffix == ".h5":
        return _compare_h5(a, b)
    if suffix == ".npz":
        return _compare_npz(a, b)
    if suffix == ".json":
        ja, jb = json.loads(a.read_text()), json.loads(b.read_text())
        return [] if _drop_timings(ja) == _drop_timings(jb) else ["JSON fields differ"]
    return [] if a.read_bytes() == b.read_bytes() else ["content differs"]


def compare_results(reference: Path, other: Path, files: set[str] | None = None) -> list[str]:
    """Compare other's results/ with the reference run's, file by file.

    files: the files to compare (default: all of other's results); each must exist in
    both trees. Logs and benchmarks are not compared; timings are left out.
    """
    files = result_files(other) if files is None else files
    ref_files = result_files(reference)
    problems = [f"{f}: not in the reference run" for f in sorted(files - ref_files)]
    for f in sorted(files & ref_files):
        if not (other / f).is_file():
            problems.append(f"{f}: missing")
            continue
        try:
            problems += [f"{f}: {d}" for d in compare_file(reference / f, other / f)]
        except Exception as exc:  # unreadable (e.g. a partial HDF5 file)
            problems.append(f"{f}: unreadable ({exc.__class__.__name__}: {exc})")
    return problems


# --- the shared reference run ----------------------------------------------------------

_REFERENCE: dict[str, Path] = {}


def reference_run(tmp_path_factory) -> Path:
    """An uninterrupted local run of the smoke slice (Fig. 8 and the GPU rule's output),
    made once per test session. It keeps the temporary Ising shards (--notemp), so that
    the shards an interrupted run finished can be compared with it."""
    if "dir" not in _REFERENCE:
        workdir = copy_repo(tmp_path_factory.mktemp("reference") / "repo")
        args = [FIG08, GPU_OUTPUT, *COMMON_ARGS, *LOCAL_ARGS, "--notemp"]
        run(workdir, args, workdir / "snakemake.log")
        _REFERENCE["dir"] = workdir
    return _REFERENCE["dir"]
