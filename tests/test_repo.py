"""The README opens with the two commands, and CI runs exactly the test one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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


def _links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return re.findall(r"\]\(([^)\s]+)\)", text)


DOCS = [
    ROOT / "README.md",
    ROOT / "CHANGELOG.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "examples" / "README.md",
]


@pytest.mark.parametrize("page", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_in_the_docs_resolve(page: Path) -> None:
    for link in _links(page):
        if re.match(r"[a-z]+:", link):
            continue  # an absolute URL
        target, _, anchor = link.partition("#")
        file = (page.parent / target).resolve() if target else page
        assert file.exists(), f"{page.relative_to(ROOT)}: broken link {link}"
        if anchor and file.suffix == ".md":
            assert anchor in _anchors(file), f"{page.relative_to(ROOT)}: no heading for {link}"


def _anchors(page: Path) -> set[str]:
    """GitHub heading anchors: lowercase, punctuation dropped, spaces to hyphens, -1 on repeats."""
    seen: dict[str, int] = {}
    anchors = set()
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    for heading in re.findall(r"^#+ (.+)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    anchors.update(re.findall(r'<a (?:name|id)="([^"]+)"', text))
    return anchors


def test_the_readme_command_list_runs_only_real_commands_and_options() -> None:
    from click.testing import CliRunner

    from personalize.cli import cli  # the package registers every command in the group

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## The command line.*?```sh\n(.+?)```", text, re.S)
    assert block, "README has a command list"
    lines = [line.split("#")[0].split() for line in block.group(1).splitlines()]
    commands = [words[1:] for words in lines if words and words[0] == "personalize"]
    assert {words[0] for words in commands} == set(cli.commands)
    for words in commands:
        command = cli.commands[words[0]]
        options = {o for p in command.params for o in p.opts}
        for word in words[1:]:
            assert not word.startswith("-") or word in options, (words, word)
        result = CliRunner().invoke(cli, [words[0], "--help"])
        assert result.exit_code == 0, result.output
