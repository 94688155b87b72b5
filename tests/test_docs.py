"""The documentation site: every page that code, configs and the README name exists, the
navigation lists every page, and the generated deviations table is current."""

import re
from pathlib import Path

import yaml
from helpers import repository_files

from microprop.deviations import collect, collect_text, markdown

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
# where comments, docstrings and messages point users at documentation
SOURCES = ["config", "src", "workflow", "rules", "profiles", "benchmarks", "tests"]
FILES = ["Snakefile", "Makefile", ".ci/run", "README.md", "CHANGELOG.md", "mkdocs.yml"]
SUFFIXES = {".py", ".smk", ".yaml", ".yml", ".md", ".rst", ".txt", ""}
PAGE = re.compile(r"\bdocs/([A-Za-z0-9_./-]+?\.md)\b")
# a README heading as a reference ("README, 'CFD data'"): the README has no such sections
README_HEADING = re.compile(r"(?<![/\w])README(?!\.md)")


def source_files():
    """The repository's own files (tracked, or new and not ignored) under SOURCES and
    FILES: not build products such as src/microprop.egg-info or caches."""
    for name in repository_files():
        path = REPO / name
        top = Path(name).parts[0]
        if not path.is_file():
            continue
        if name in FILES or (top in SOURCES and path.suffix in SUFFIXES):
            yield path


def page_references(paths):
    """(file, line number, page) of every docs/<page>.md named in the files."""
    for path in paths:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for match in PAGE.finditer(line):
                yield path, number, match[1]


def test_pages_named_in_code_and_configs_exist():
    refs = list(page_references(source_files()))
    assert len(refs) > 20  # the configs' comments alone name more
    missing = [
        f"{path.relative_to(REPO)}:{number}: docs/{page}"
        for path, number, page in refs
        if not (DOCS / page).is_file()
    ]
    assert missing == []


def test_a_missing_page_is_found(tmp_path):
    """The check above bites: a comment naming a page that does not exist is reported."""
    config = tmp_path / "overlay.yaml"
    missing = "docs/" + "no-such-page.md"  # split, so that this file names no missing page
    config.write_text(f"seed: 1 # see {missing} and docs/cfd.md\n")
    pages = [page for _, _, page in page_references([config])]
    assert pages == ["no-such-page.md", "cfd.md"]
    assert [p for p in pages if not (DOCS / p).is_file()] == ["no-such-page.md"]


def test_no_reference_to_readme_headings():
    """Comments point at docs pages; the README is short and has no such sections."""
    this = Path(__file__).resolve()
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in source_files()
        if path.resolve() not in (this, REPO / "README.md", REPO / "CHANGELOG.md")
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if README_HEADING.search(line)
    ]
    assert found == []


def nav_pages(entries):
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            yield from nav_pages(value)
        else:
            yield value


def test_every_page_is_in_the_navigation():
    nav = list(nav_pages(yaml.safe_load((REPO / "mkdocs.yml").read_text())["nav"]))
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.glob("*.md"))
    assert [p for p in nav if not (DOCS / p).is_file()] == []
    assert sorted(nav) == pages


MARKED = """\
# An overlay. Every value below is an assumption, not from the paper: CPU budget.
datasets: [ising]

ising:
  n_images: 300 # assumption, not from the paper: small
  # a block over two lines (assumption, not
  # from the paper: the key below)
  n_test: 60
  shard_size: 100 # the paper's value
models:
  ids:
    [grad-pcr,
     grad-svr] # assumption, not from the paper: two models
  cnn:
    # assumption, not from the paper: above the key
    max_epochs: 3 # assumption, not from the paper: on the line
"""


def test_deviations_are_found_in_every_comment_form():
    rows = [(d.key, d.value, d.note) for d in collect_text(MARKED, "config/x.yaml")]
    assert rows == [
        ("(whole file)", "", "Every value below is an assumption, not from the paper: CPU budget."),
        ("ising.n_images", "300", "small"),
        (
            "ising.n_test",
            "60",
            "a block over two lines (assumption, not from the paper: the key below)",
        ),
        ("models.ids", '["grad-pcr", "grad-svr"]', "two models"),
        ("models.cnn.max_epochs", "3", "above the key / on the line"),
    ]


def test_every_shipped_config_with_markers_has_rows():
    rows = collect(REPO / "config")
    for path in sorted((REPO / "config").glob("*.yaml")):
        if "not from the paper" in " ".join(path.read_text().replace("#", " ").split()):
            assert any(d.file == f"config/{path.name}" for d in rows), path.name


def test_deviation_table_is_current():
    """docs/deviations.md is generated: rerun the command in its header after a config
    comment changes (docs/configuration.md)."""
    expected = markdown(collect(REPO / "config"))
    assert (DOCS / "deviations.md").read_text() == expected
