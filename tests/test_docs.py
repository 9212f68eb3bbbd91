"""The documentation's benchmark tables: what benchmarks write (equilens.results) is what the
site's hook renders, and every committed table renders."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from equilens.results import write_docs_table

DOCS = Path(__file__).resolve().parents[1] / "docs"


def hook():
    spec = importlib.util.spec_from_file_location("results_tables", DOCS / "hooks" / "results_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", sorted((DOCS / "results").glob("*.json")), ids=lambda p: p.stem)
def test_committed_tables_render_and_are_used(path):
    table = hook().render(path)
    assert table.count("\n|") >= 2 and "Reproduce: `" in table
    pages = "".join(p.read_text() for p in DOCS.rglob("*.md"))
    assert f'{{{{ results("{path.stem}") }}}}' in pages


def test_a_benchmark_table_renders_with_its_command(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["benchmarks/x.py", "--seed", "1"])
    path = write_docs_table(tmp_path / "x.json", ["model", "AUC"], [["steerable", "0.99|1"]])
    page = hook().render(path)
    assert page.splitlines()[:3] == ["| model | AUC |", "|---|---|", "| steerable | 0.99\\|1 |"]
    assert "Reproduce: `python benchmarks/x.py --seed 1`" in page
    with pytest.raises(ValueError, match="2 cells"):
        write_docs_table(tmp_path / "bad.json", ["model", "AUC"], [["steerable"]])


def test_sphinx_roles_are_dropped_from_rendered_docstrings():
    html = "see :func:<code>~equilens.api.load</code> and :class:<code>LensModel</code>"
    assert hook().on_page_content(html, None, None, None) == "see <code>equilens.api.load</code> and <code>LensModel</code>"
