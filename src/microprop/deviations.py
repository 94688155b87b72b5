"""The table of deviations from the paper, generated from the shipped configs.

Every value in ``config/*.yaml`` that the paper does not give carries a comment with the
marker ``assumption, not from the paper`` and its reasoning, either at the end of the
key's line or in the comment block just above the key (a block at the top of a file
covers the whole file). :func:`collect` finds each marker and the key it belongs to;
:func:`markdown` renders them as the page ``docs/deviations.md``, which is generated,
never edited by hand::

    PYTHONPATH=src python -m microprop.deviations config > docs/deviations.md

``tests/test_docs.py`` fails when the committed page differs from what this writes.

>>> text = '''
... a:
...   b: 1 # assumption, not from the paper: a guess
...   # the paper's value
...   c: 2
... '''
>>> [(d.key, d.value, d.note) for d in collect_text(text, "x.yaml")]
[('a.b', '1', 'a guess')]
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

MARKER = "assumption, not from the paper"
_KEY = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z0-9_.\-]+):(?:\s|$)")
_WHOLE_FILE = "(whole file)"
_SENTENCE = re.compile(r"[.;:]\s+(?=[A-Z]|assumption)")


@dataclass(frozen=True)
class Deviation:
    """One marked value: its file, dotted key path, value as written and reasoning."""

    file: str
    key: str
    value: str
    note: str


def _comment(line: str) -> str | None:
    """The comment of a YAML line (text after the first '#' outside quotes), or None."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[i + 1 :].strip()
    return None


def _note(comment: str) -> str | None:
    """The reasoning after the marker in a comment (joined over lines), or None."""
    text = " ".join(comment.split())
    at = text.lower().find(MARKER)
    if at < 0:
        return None
    ends = [m.end() for m in _SENTENCE.finditer(text) if m.end() <= at]
    start = max([0, *ends, text.rfind("Every value", 0, at)])
    text = text[start:]  # from the sentence that holds the marker on
    if text.lower().startswith(MARKER):  # the reasoning follows the marker
        return text[len(MARKER) :].lstrip(":; ").strip()
    return text


def _lookup(data, path: list[str]):
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _render(value) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, separators=(", ", ": "))
    return text if len(text) <= 60 else text[:57] + "..."


def collect_text(text: str, name: str) -> list[Deviation]:
    """The marked values of one config file's text (``name`` labels the rows)."""
    data = yaml.safe_load(text) or {}
    found: list[Deviation] = []
    path: list[tuple[int, str]] = []  # (indent, key) of the enclosing keys
    block: list[str] = []  # the comment lines above the current line
    seen_key = False
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            if not seen_key and block:  # the file's header comment
                note = _note(" ".join(block))
                if note is not None:
                    found.append(Deviation(name, _WHOLE_FILE, "", note))
            block = []
            continue
        if stripped.startswith("#"):
            block.append(stripped.lstrip("#").strip())
            continue
        match = _KEY.match(line)
        if match:
            indent = len(match["indent"])
            while path and path[-1][0] >= indent:
                path.pop()
            path.append((indent, match["key"]))
            keys = [k for _, k in path]
            value = _render(_lookup(data, keys))
            if not seen_key and block:
                note = _note(" ".join(block))
                if note is not None:
                    found.append(Deviation(name, _WHOLE_FILE, "", note))
                block = []
            seen_key = True
            notes = [_note(c) for c in (" ".join(block), _comment(line) or "")]
            notes = [n for n in notes if n is not None]
            if notes:  # the block above the key and the key's own comment, in order
                found.append(Deviation(name, ".".join(keys), value, " / ".join(notes)))
        else:  # a continuation line (a flow list); its comment belongs to the last key
            note = _note(_comment(line) or "")
            if note is not None and path:
                keys = [k for _, k in path]
                found.append(Deviation(name, ".".join(keys), _render(_lookup(data, keys)), note))
        block = []
    return found


def collect(config_dir: str | Path = "config") -> list[Deviation]:
    """The marked values of every ``*.yaml`` in ``config_dir``, config.yaml first."""
    files = sorted(Path(config_dir).glob("*.yaml"), key=lambda p: (p.name != "config.yaml", p))
    return [d for f in files for d in collect_text(f.read_text(), f"config/{f.name}")]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(deviations: list[Deviation]) -> str:
    """The page docs/deviations.md: one table row per marked value."""
    lines = [
        "# Deviations from the paper",
        "",
        "<!-- generated by `python -m microprop.deviations config`; do not edit by hand -->",
        "",
        "Every value of the shipped configs that the paper does not give, with the",
        f"reasoning of its `# {MARKER}` comment ([Configuration](configuration.md)).",
        "`config/config.yaml` is the default; the other files are overlays merged over it.",
        f"{len(deviations)} marked values.",
        "",
        "| file | key | value | why |",
        "|---|---|---|---|",
    ]
    for d in deviations:
        value = f"`{_cell(d.value)}`" if d.value else ""
        note = _cell(d.note) or "(no reason given beyond the marker)"
        lines.append(f"| `{d.file}` | `{_cell(d.key)}` | {value} | {note} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Print docs/deviations.md for the configs in argv[0] (default: config)."""
    args = sys.argv[1:] if argv is None else argv
    sys.stdout.write(markdown(collect(args[0] if args else "config")))


if __name__ == "__main__":
    main()
