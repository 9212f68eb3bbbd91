"""The README as a newcomer reads it: short, its set-up, Python example and shipped models near
the top, every command in it runs as written (the long ones parse; CI runs the quickstart)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from equilens.cli import build_parser, main
from equilens.registry import PRETRAINED

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.DOTALL)


def commands() -> list[list[str]]:
    """Every command line of the README's bash blocks, as words, without its comment."""
    lines = [line.split("  #")[0].strip() for block in blocks("bash") for line in block.splitlines()]
    return [shlex.split(line) for line in lines if line]


def test_readme_is_short_and_leads_with_what_a_newcomer_needs():
    lines = README.splitlines()
    assert len(lines) <= 150
    top = "\n".join(lines[:60])
    assert "uv run equilens quickstart" in top and "uv run --extra test pytest -q" in top  # the two set-up commands
    assert "```python" in top and "equilens.load(" in top
    assert all(f"`{name}`" in top for name in PRETRAINED)  # the shipped models' table
    assert "Python 3.10–3.13" in top


def test_readme_links_resolve():
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target


def lens_jpegs(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[:150, :150] - 74.5
    for k, name in enumerate(names):
        ring = np.exp(-0.5 * ((np.hypot(x, y) - 18 - 2 * k) / 2) ** 2) + 3 * np.exp(-0.5 * (x**2 + y**2) / 9)
        Image.fromarray((255 * ring / ring.max()).astype(np.uint8)).save(folder / name, quality=75)


def test_every_readme_command_runs_or_parses(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lens_jpegs(tmp_path / "new_images", ["a.jpg", "b.jpg"])
    found = set()
    for words in commands():
        if words[:2] == ["uv", "run"]:
            # `uv run [--extra X] PROGRAM ...`: the extras exist; the programs are run below or by CI.
            extras = [words[i + 1] for i, w in enumerate(words) if w == "--extra"]
            pyproject = (ROOT / "pyproject.toml").read_text()
            assert all(f"\n{extra} = [" in pyproject for extra in extras), words
            found.add(words[words.index("run") + 1 + 2 * len(extras)])
            continue
        assert words[0] == "equilens", words
        if words[1] == "predict":  # cheap: run it as written
            assert main(words[1:]) == 0
            assert Path(words[words.index("--out") + 1]).read_text().count("\n") == 3
        else:  # minutes of simulation or training: the options must parse as written
            build_parser().parse_args(words[1:])
        found.add(words[1])
    assert {"quickstart", "train", "evaluate", "predict"} <= found


def test_readme_python_example_runs_as_written(tmp_path, monkeypatch, capsys):
    (example,) = blocks("python")
    monkeypatch.chdir(tmp_path)
    lens_jpegs(tmp_path, re.findall(r'"(\w+\.jpg)"', example))
    exec(compile(example, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    scores = [float(v) for v in re.findall(r"[\d.e-]+", printed)]
    assert len(scores) == 2 and all(0 <= s <= 1 for s in scores)


@pytest.mark.parametrize("name", PRETRAINED)
def test_shipped_model_table_links_its_card(name):
    assert f"[{name}.md](src/equilens/pretrained/{name}.md)" in README
