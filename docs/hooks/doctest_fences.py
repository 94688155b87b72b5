"""Griffe extension for the API reference: doctests in docstrings become code blocks.

The package's docstrings are plain text with doctests (``>>>`` lines and their output).
Read as Markdown, a ``>>>`` line is a block quote and ``[a][b]`` in an expression or a
result is a reference link, so mkdocstrings would mangle them (and the strict build warn
on the "links"). This extension fences each doctest, from its first ``>>>`` line to the
next blank line, as a ``pycon`` code block. Only the rendered page changes; the
docstrings and their doctests stay as they are.
"""

from __future__ import annotations

import griffe


def fence_doctests(text: str) -> str:
    """Wrap every doctest run of lines (``>>>`` to the next blank line) in a code fence."""
    out: list[str] = []
    indent = None
    for line in text.split("\n"):
        stripped = line.lstrip()
        if indent is None and stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            out += ["", f"{indent}```pycon"]
        elif indent is not None and not stripped:
            out += [f"{indent}```", ""]
            indent = None
        out.append(line)
    if indent is not None:
        out.append(f"{indent}```")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Fence the doctests of every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(obj.docstring.value)
