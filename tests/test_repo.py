"""The README opens with the two commands, and CI runs exactly the test one."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    head = text.split("---", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", head, re.S)


def test_readme_opens_with_two_commands() -> None:
    commands = _commands()
    assert len(commands) == 2, commands
    install_and_render, install_and_test = commands
    assert "personalize render" in install_and_render
    assert "pytest" in install_and_test


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _commands()[1] in ci.splitlines()


def test_readme_render_command_names_existing_layouts() -> None:
    command = _commands()[0]
    layouts = re.search(r"personalize render ((?:[\w-]+ )+)--all", command)
    assert layouts, command
    for name in layouts.group(1).split():
        assert (ROOT / "templates" / f"{name}.mjml").is_file(), name
