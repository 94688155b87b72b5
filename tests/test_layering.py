"""Layering: which package modules may import which (no import cycles)."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def imports(path: Path) -> set[str]:
    """Every microprop module a file imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return {n for n in names if n.startswith("microprop")}


def module_files(package: str) -> list[Path]:
    path = SRC / package.replace(".", "/")
    return sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]


@pytest.mark.parametrize("path", module_files("microprop.features"), ids=lambda p: p.stem)
def test_features_do_not_import_models(path):
    assert not {n for n in imports(path) if n.startswith("microprop.models")}


@pytest.mark.parametrize("module", ["microprop.registry", "microprop.splits", "microprop.images"])
def test_the_shared_tables_import_nothing_of_microprop(module):
    assert imports(module_files(module)[0]) == set()


def test_the_ch_backend_registry_imports_no_backend():
    assert imports(module_files("microprop.ch.backend")[0]) == {
        "microprop.ch.params",
        "microprop.ch.params.BACKENDS",
        "microprop.ch.params.CHParams",
    }


def test_every_configurable_backend_is_registered():
    from microprop.ch.backend import BACKEND_CLASSES
    from microprop.ch.params import BACKENDS

    assert tuple(BACKEND_CLASSES) == BACKENDS


def test_the_training_loop_imports_no_features_or_models():
    names = imports(module_files("microprop.training")[0])
    assert not {n for n in names if n.startswith(("microprop.features", "microprop.models"))}
