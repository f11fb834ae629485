"""The getting-started guide's project, built from the files the page shows, renders as shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from personalize.cli import app, main

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
SCRATCH = GUIDE[GUIDE.index("## A project from scratch") :]
FILES = (
    "personalize.toml",
    "segments.yaml",
    "templates/newsletter.mjml",
    "modules/hero/default.mjml",
    "modules/hero/thanks.mjml",
    "personas.jsonl",
)
BLOCK = re.compile(r"```[a-z]*\n(.*?)```", re.S)


def _block_after(marker: str) -> str:
    found = BLOCK.search(SCRATCH, SCRATCH.index(marker))
    assert found, marker
    return found.group(1)


def test_the_project_from_scratch_renders_as_the_guide_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.out, "width", 100)  # the guide's table, whatever the terminal
    for name in FILES:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_block_after(f"**`{name}`**"), encoding="utf-8")
    command = _block_after("Render it.").split("\n")[1].split()
    assert command[:2] == ["personalize", "render"]
    out = tmp_path / "out"
    main(["--project", str(tmp_path), *command[1:-1], str(out)])  # exits only on failure
    shown = BLOCK.search(SCRATCH, SCRATCH.index("`out/newsletter--ann.txt`"))
    assert shown
    assert (out / "newsletter--ann.txt").read_text(encoding="utf-8") == shown.group(1)
    table, wrote = SCRATCH[SCRATCH.index("newsletter — 1 email") :].split("```")[0].split("wrote")
    printed = capsys.readouterr()
    assert printed.out == table  # the table on stdout, the summary on stderr
    assert f"wrote{wrote}".replace("out/", f"{out}/") in printed.err
