"""mkdocs hooks: a line ``{{ results("NAME") }}`` in a page becomes the table of
``docs/results/NAME.json``, the file a benchmark writes (``--docs-table``), so that the figures
on the benchmark pages are the benchmark's own output, never retyped.

The JSON holds ``columns`` (header cells), ``rows`` (lists of cells), ``command`` (what
reproduces it) and optionally ``note``. A missing or malformed file fails the build.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

_MARKER = re.compile(r'^\{\{ results\("([\w.-]+)"\) \}\}$', re.MULTILINE)


def _cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def render(path: Path) -> str:
    """The Markdown table (and its command line) of one results file."""
    table = json.loads(path.read_text())
    columns, rows = table["columns"], table["rows"]
    if any(len(row) != len(columns) for row in rows):
        raise ValueError(f"{path}: every row needs {len(columns)} cells")
    lines = ["| " + " | ".join(map(_cell, columns)) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(map(_cell, row)) + " |" for row in rows]
    lines += ["", f"Reproduce: `{table['command']}`" + (f". {table['note']}" if table.get("note") else "")]
    return "\n".join(lines)


def on_page_markdown(markdown: str, page, config, files) -> str:
    results = Path(config["docs_dir"]) / "results"
    return _MARKER.sub(lambda match: render(results / f"{match.group(1)}.json"), markdown)


# Docstrings cross-reference in Sphinx roles (:func:`name`), which mkdocstrings renders as the
# role's text before the code: keep the code only (and drop Sphinx's "~" shortening mark).
_SPHINX_ROLE = re.compile(r":(?:func|class|mod|meth|attr|data|exc):<code>~?")


def on_page_content(html: str, page, config, files) -> str:
    return _SPHINX_ROLE.sub("<code>", html)
