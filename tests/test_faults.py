"""Fault injection (issue 44): bad input, impossible configs and interrupted or competing
runs end with a clear message and an exit code, never with a silent wrong result, a
Python traceback for a user's mistake or a half-written file.

Each test asserts the exit code, the message and that no partial output is left. Cases
kept elsewhere (not repeated here):

- typos, wrong types, unknown keys, negative sizes, contradicting keys in a config:
  tests/test_config.py (dry runs stopped before any job, naming the key);
- bad images (shape, dtype, range, colour mode), corrupt model files, metrics.json
  without its keys: tests/test_predict.py;
- truncated or modified dataset and feature files: tests/test_dataset.py (checksums);
- a diverged training writes nothing: tests/test_model_outputs.py;
- a run killed mid-way resumes to results identical to an uninterrupted run (models'
  metrics.json included, timings aside), locally and under SLURM: tests/test_resume.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import SMOKE, SNAKEMAKE, copy_workflow, snakemake
from test_predict import train_model_dir

from microprop.cli import main
from microprop.io import TEST, TRAIN, checksum, write_h5
from microprop.models import PiecewiseConstantRegressor

# --- microprop predict ------------------------------------------------------------------


def write_dataset(path: Path, name: str, property_name: str, shift: float = 0.0) -> Path:
    """A small dataset file as the workflow writes it: dataset name, property, checksum."""
    rng = np.random.default_rng(len(name))
    v = rng.uniform(20, 235, 40)
    images = np.clip(v[:, None, None] + rng.normal(0, 30, (40, 64, 64)), 0, 255).astype(np.uint8)
    prop = v + shift
    split = np.where(np.arange(40) % 5 == 0, TEST, TRAIN)
    attrs = {
        "dataset": name,
        "property_name": property_name,
        "checksum": checksum(images, prop, split),
    }
    write_h5(path, {"images": images, "property": prop, "split": split}, attrs)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """An Ising-like and a CH-like dataset file and a grad-pcr model of the Ising one."""
    root = tmp_path_factory.mktemp("faults")
    ising = write_dataset(root / "ising.h5", "ising", "temperature label")
    ch = write_dataset(root / "ch.h5", "ch", "total free energy", shift=2500.0)
    model = train_model_dir(
        root, ising, "grad-pcr", PiecewiseConstantRegressor(bin_width=1.0), "grad"
    )
    metrics = json.loads((model / "metrics.json").read_text())
    (model / "metrics.json").write_text(json.dumps({**metrics, "dataset": "ising"}))
    return {"ising": ising, "ch": ch, "model": model, "root": root}


def predict(capsys, *args: str) -> tuple[int, list[str]]:
    code = main(["predict", *args])
    return code, capsys.readouterr().err.strip().splitlines()


def assert_refused(code: int, lines: list[str], *fragments: str) -> None:
    """Exit 2 and exactly one line, `microprop predict: error: ...` with the fragments."""
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith("microprop predict: error: "), lines
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def no_partial_files(folder: Path) -> None:
    assert not list(folder.glob(".*.partial-*")), list(folder.iterdir())


def test_predict_refuses_images_of_another_dataset(files, tmp_path, capsys):
    """An Ising model on CH images answered 48 'temperatures' with exit 0 (issue 44)."""
    out = tmp_path / "p.csv"
    code, lines = predict(
        capsys, "--model", str(files["model"]), "--images", str(files["ch"]), "--out", str(out)
    )
    assert_refused(
        code,
        lines,
        f"{files['ch']}: images of the dataset 'ch' (total free energy)",
        "grad-pcr was trained on 'ising'",
        "--allow-other-dataset",
    )
    assert not out.exists()
    no_partial_files(tmp_path)
    # the explicit override predicts, and says what it overrode
    code, lines = predict(
        capsys,
        *("--model", str(files["model"]), "--images", str(files["ch"])),
        *("--out", str(out), "--allow-other-dataset"),
    )
    assert code == 0 and out.is_file()
    assert lines[0].startswith("microprop predict: warning: ") and "'ch'" in lines[0], lines
    # its own dataset passes without a warning
    code, lines = predict(capsys, "--model", str(files["model"]), "--images", str(files["ising"]),
                          "--out", str(out))  # fmt: skip
    assert code == 0 and not any("warning" in line for line in lines), lines


def test_predict_out_into_a_missing_folder_is_one_line(files, tmp_path, capsys):
    out = tmp_path / "no" / "such" / "p.csv"
    code, lines = predict(
        capsys, "--model", str(files["model"]), "--images", str(files["ising"]), "--out", str(out)
    )
    assert_refused(code, lines, f"--out {out}: the folder {out.parent} does not exist")
    assert not (tmp_path / "no").exists()
    code, lines = predict(capsys, "--model", str(files["model"]), "--images", str(files["ising"]),
                          "--out", str(tmp_path))  # fmt: skip
    assert_refused(code, lines, f"--out {tmp_path}: is a folder")


def test_predict_on_an_empty_metrics_json_says_what_is_wrong(files, tmp_path, capsys):
    """metrics.json holding `{}` was reported as 'no metrics.json' (issue 44)."""
    folder = tmp_path / "model"
    folder.mkdir()
    for f in files["model"].iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / "metrics.json").write_text("{}")
    out = tmp_path / "p.csv"
    code, lines = predict(
        capsys, "--model", str(folder), "--images", str(files["ising"]), "--out", str(out)
    )
    assert_refused(code, lines, f"{folder / 'metrics.json'}: holds {{}}", "'model'")
    assert "no metrics.json" not in lines[0]
    assert not out.exists()


@pytest.mark.parametrize("fault", ["flipped label", "truncated"])
def test_predict_refuses_a_corrupt_dataset_file(files, tmp_path, capsys, fault):
    """A bit-flipped label would have given a wrong `true` column silently."""
    bad = tmp_path / "ising.h5"
    bad.write_bytes(files["ising"].read_bytes())
    if fault == "flipped label":
        with h5py.File(bad, "r+") as f:
            prop = f["property"][()]
            prop[3] = -prop[3]
            f["property"][...] = prop
        message = f"{bad}: content checksum mismatch"
    else:
        bad.write_bytes(bad.read_bytes()[:3000])
        message = f"{bad}: cannot be read as an HDF5 file"
    out = tmp_path / "p.csv"
    code, lines = predict(
        capsys, "--model", str(files["model"]), "--images", str(bad), "--out", str(out)
    )
    assert_refused(code, lines, message)
    assert not out.exists()
    no_partial_files(tmp_path)


# --- the workflow -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A copy of the workflow (no results) for the workflow cases."""
    return copy_workflow(tmp_path_factory.mktemp("faults_workflow"))


def listing(workdir: Path) -> list[Path]:
    """Every path under results/ (none: an empty list)."""
    return sorted((workdir / "results").rglob("*")) if (workdir / "results").exists() else []


def overlay(tmp_path: Path, text: str) -> str:
    path = tmp_path / "overlay.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "text, keys",
    [
        # issue 44: passed the dry run, failed late in train_svr ("r2: nan")
        ("ising:\n  n_images: 3\n  n_test: 1\n", ["ising.n_test (1)", "ising.n_images"]),
        ("studies:\n  max_test: {ising: 1}\n", ["studies.max_test.ising (1)"]),
        (
            "studies:\n  fractions: [0.001, 1.0]\n  fraction_models: [resnet18]\n",
            ["studies.fractions 0.001 of ch's 48 training images"],
        ),
    ],
    ids=["test split of one image", "one scored image", "fraction leaving a CNN one image"],
)
def test_impossible_sizes_stop_before_any_job(work, tmp_path, text, keys):
    before = listing(work)
    proc = snakemake(work, "-n", "--configfile", SMOKE, overlay(tmp_path, text), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-2000:]
    assert "invalid config (no job was started):" in out
    for key in keys:
        assert key in out, out[-2000:]
    assert "Job stats" not in out and "Traceback" not in out
    assert listing(work) == before


def touch_every_output(workdir: Path, *args: str) -> None:
    """Make every output of the run exist and up to date without running a job: empty
    files, then `snakemake --touch` (which needs them present) in the DAG's order."""
    summary = snakemake(workdir, "--summary", *args).stdout.splitlines()[1:]
    for line in summary:
        path = workdir / line.split("\t")[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    snakemake(workdir, "--touch", *args)
    assert "Nothing to be done" in snakemake(workdir, "-n", *args).stdout


def planned_rules(workdir: Path, *args: str) -> dict[str, int]:
    proc = snakemake(workdir, "-n", "--quiet", "rules", *args)
    if "Nothing to be done" in proc.stdout:
        return {}
    table = proc.stdout.split("Job stats:")[1]
    counts = {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M)}
    counts.pop("total")
    return counts


@pytest.mark.workflow  # the whole smoke DAG, touched end to end four times (~1 min)
def test_deleted_models_tables_and_figures_are_rebuilt_by_the_default_run(tmp_path):
    """`rm -rf results/models` then a run gave "Nothing to be done" (issue 44): the
    trained models were no targets, and the tables made from them were up to date."""
    workdir = copy_workflow(tmp_path)
    args = ("--configfile", SMOKE)
    fresh = planned_rules(workdir, *args)
    trained = {rule: n for rule, n in fresh.items() if rule.startswith("train_")}
    assert sum(trained.values()) > 20, fresh
    touch_every_output(workdir, *args)
    for product in ("results/models", "results/tables", "results/figures"):
        subprocess.run(["rm", "-rf", str(workdir / product)], check=True)
        again = planned_rules(workdir, *args)
        if product == "results/models":
            assert {r: n for r, n in again.items() if r.startswith("train_")} == trained
        assert again.get("all") == 1, (product, again)
        touch_every_output(workdir, *args)  # back to up to date for the next product


def test_a_locked_directory_is_refused_and_left_as_it_is(work):
    """A second run while the first holds the directory (here: its lock left by a kill)
    stops with Snakemake's lock message, starts no job and writes nothing."""
    target = "results/sims/ising/shard_0.h5"
    first = subprocess.Popen(
        [SNAKEMAKE, target, "--cores", "1", "--configfile", SMOKE],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not list((work / ".snakemake/locks").glob("*")):
            assert first.poll() is None, "the first run ended before it locked the directory"
            assert time.monotonic() < deadline, "the first run never locked the directory"
            time.sleep(0.2)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)  # its own session: nothing else is hit
        first.wait(60)
    before = listing(work)
    second = snakemake(work, "results/data/ising.h5", "--configfile", SMOKE, check=False)
    out = second.stdout + second.stderr
    assert second.returncode == 1, out[-2000:]
    assert "Directory cannot be locked" in out and "--unlock" in out
    assert "Traceback" not in out and "Job stats" not in out
    assert listing(work) == before
    # the documented way out: --unlock, then the run goes ahead (dry run: nothing written)
    snakemake(work, "--configfile", SMOKE, "--unlock")
    assert "Job stats" in snakemake(work, target, "-n", "--configfile", SMOKE).stdout


def strict_loads(text: str):
    """json.loads as jq or JavaScript read: NaN and Infinity are errors."""

    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.workflow
def test_every_json_and_table_of_the_smoke_run_is_strict(smoke_run):
    """27 metrics.json of a smoke run held `Infinity` (issue 44), and Table 2's markdown
    the literal `nan`. Now: strict JSON everywhere, and a model with infinite intervals
    (MuCha calibrates on 13 images, 6 after the adaptive score's residual fit) says so."""
    results = smoke_run / "results"
    files = sorted(results.rglob("*.json"))
    assert len(files) > 50
    warned = set()
    for path in files:
        data = strict_loads(path.read_text())  # raises on NaN / Infinity
        if path.name == "metrics.json" and "mean_width" in data and data["mean_width"] is None:
            assert data["warnings"][0].startswith("infinite prediction intervals: "), path
            warned.add(data["model"])
    assert "mucha-resnet34" in warned, warned
    tables = sorted((results / "tables").glob("*.md")) + sorted((results / "tables").glob("*.csv"))
    assert tables
    for path in tables:
        assert not re.search(r"(^|[|,\s])nan([|,\s]|$)", path.read_text(), flags=re.M), path
