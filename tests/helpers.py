"""Helpers for tests that run the workflow: the repository, copies of it, snakemake."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
SMOKE = "tests/config/smoke.yaml"


def repository_files() -> list[str]:
    """The repository's own files, relative paths: tracked, or new and not ignored (no
    results, caches or build products such as src/microprop.egg-info)."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    return sorted(filter(None, files))


def copy_workflow(dest: Path) -> Path:
    """Copy the repository's files (tracked or not ignored; no results) to ``dest``."""
    for name in repository_files():
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def merge(base: dict, overlay: dict) -> dict:
    """Snakemake's --configfile merge: nested mappings update key by key."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def merged_config(*overlays: str) -> dict:
    """config/config.yaml with overlay files (paths relative to the repository) merged."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    for overlay in overlays:
        config = merge(config, yaml.safe_load((REPO / overlay).read_text()) or {})
    return config


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: float = 1800):
    """Run snakemake in ``workdir``; output captured, raised with the log on failure."""
    proc = subprocess.run(
        [SNAKEMAKE, "--cores", "2", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def assert_figure_drawn(png: Path) -> None:
    """A PNG that shows data: coloured marks (matplotlib draws data in colour, axes and
    text in black) or, for image panels, a large share of non-white pixels. An empty
    canvas or bare axes fail; a file's size says neither."""
    import matplotlib.image
    import numpy as np

    rgb = matplotlib.image.imread(png)[..., :3].reshape(-1, 3)
    coloured = int(np.count_nonzero(rgb.max(axis=1) - rgb.min(axis=1) > 0.15))
    ink = float(np.mean(rgb.min(axis=1) < 0.9))
    assert coloured >= 100 or ink > 0.05, f"{png}: {coloured} coloured pixels, ink {ink:.3f}"
