"""The environment that `make setup` builds from requirements.lock, and the per-rule conda
environment generated from the same lock."""

import importlib.util
import re
import subprocess
import sys
import tomllib

import yaml
from helpers import REPO


def test_dolfinx_and_torch_import():
    code = (
        "import h5py; from mpi4py import MPI; import dolfinx, torch, torchvision, numba;"
        "print(dolfinx.__version__, torch.__version__)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("0.")


def test_python_is_new_enough_for_dolfinx():
    assert sys.version_info >= (3, 12)


# --- the locked environment (requirements.lock) and the per-rule conda environment ------

LOCK = (REPO / "requirements.lock").read_text()
PINNED = dict(re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", LOCK, flags=re.M))


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_requirements() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = project["dependencies"] + project["optional-dependencies"]["dev"]
    return [canonical(re.match(r"[A-Za-z0-9._-]+", r).group()) for r in names]


def test_every_declared_dependency_is_pinned_with_hashes_in_the_lock():
    pinned = {canonical(n) for n in PINNED}
    missing = [n for n in declared_requirements() if n not in pinned]
    assert not missing, f"refresh the lock (make lock): {missing} not in requirements.lock"
    # every pin carries at least one hash (pip --require-hashes refuses it otherwise)
    blocks = re.split(r"\n(?=[A-Za-z0-9])", LOCK.split("\n", 2)[2])
    unhashed = [b.split()[0] for b in blocks if b.strip() and "--hash=sha256:" not in b]
    assert not unhashed


def test_the_venv_is_the_lock():
    """make setup installs exactly the lock: every pin that applies here, at its version."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    wrong = {}
    for line in lock_module().pins(LOCK):
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate():
            continue  # a pin for another platform (e.g. colorama on Windows)
        try:
            installed = version(req.name)
        except PackageNotFoundError:
            installed = None
        if installed is None or not req.specifier.contains(installed, prereleases=True):
            wrong[req.name] = (installed, str(req.specifier))
    assert not wrong, f"installed vs locked (run make setup): {wrong}"


def lock_module():
    """envs/conda_from_lock.py, which reads the lock's pins (also for the conda env)."""
    spec = importlib.util.spec_from_file_location(
        "conda_from_lock", REPO / "envs/conda_from_lock.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def conda_env() -> dict:
    return yaml.safe_load((REPO / "envs/microprop.yaml").read_text())


def test_conda_env_is_deployable_where_snakemake_copies_it():
    """No relative path (Snakemake builds the file from .snakemake/conda/<hash>.yaml)."""
    pip = next(d["pip"] for d in conda_env()["dependencies"] if isinstance(d, dict))
    for line in pip:
        assert not line.startswith(("-e", "-r", "-c", ".", "/", "file:")), line
        assert ".." not in line, line
        assert re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*==\S+", line), f"not pinned: {line}"


def test_conda_env_pins_exactly_the_lock():
    pip = next(d["pip"] for d in conda_env()["dependencies"] if isinstance(d, dict))
    assert pip == lock_module().pins(LOCK), "regenerate it: make lock"
    assert {canonical(p.split("==")[0]) for p in pip} == {canonical(n) for n in PINNED}
    python = next(d for d in conda_env()["dependencies"] if str(d).startswith("python="))
    assert tuple(map(int, python.split("=")[1].split("."))) >= (3, 12)  # dolfinx's wheel
