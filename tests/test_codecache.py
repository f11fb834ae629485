"""The on-disk code cache ([render] code_cache): same emails, nothing compiled when warm."""

from __future__ import annotations

import marshal
from pathlib import Path
from typing import Any

import pytest

from personalize import ConfigError, Project, settingscheck
from personalize.config import LimitSettings
from personalize.errors import PersonalizeError
from personalize.lint import lint_project
from personalize.templating import CodeCache, CompiledTemplate, make_environments
from personalize.templating import codecache as codecache_module
from projects import starter_kit_copy

RENDER = "[render]\n"
CACHED = '[render]\ncode_cache = ".cache/code"\n'


def _emails(project: Project, count: int | None = None) -> list[tuple[Any, ...]]:
    return [
        (email.subject, email.preheader, email.html, email.text, email.warnings)
        for layout in project.layouts
        for recipient in list(project.personas.values())[:count]
        for email in [project.render(layout, recipient)]
    ]


def _entries(root: Path) -> list[Path]:
    return sorted(p for p in (root / ".cache/code").rglob("*") if p.is_file())


def _no_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled a template that the code cache holds")

    monkeypatch.setattr(CompiledTemplate, "_compile", staticmethod(refuse))


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return Project.load(starter_kit_copy(tmp_path_factory.mktemp("plain"), (RENDER, RENDER)))


@pytest.fixture(scope="module")
def plain_emails(plain: Project) -> list[tuple[Any, ...]]:
    return _emails(plain)


def test_a_warm_cache_renders_the_same_emails_without_compiling_a_template(
    tmp_path: Path, plain_emails: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = starter_kit_copy(tmp_path, (RENDER, CACHED))
    assert _emails(Project.load(root)) == plain_emails  # cold: compiles and stores
    stored = _entries(root)
    assert stored
    _no_compiling(monkeypatch)
    assert _emails(Project.load(root)) == plain_emails  # warm: a new project loads them all
    assert _entries(root) == stored


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda data: b"",
        lambda data: b"garbage",
        lambda data: data.replace(b"personalize-code-cache 1", b"personalize-code-cache 0"),
        lambda data: b"personalize-code-cache 1" + marshal.dumps(("not", "code", 1)),
        lambda data: b"personalize-code-cache 1" + b"\xff" * 40,
    ],
    ids=["torn", "empty", "garbage", "old-format", "other-value", "bad-marshal"],
)
def test_an_entry_that_cannot_be_read_is_compiled_again_and_rewritten(
    tmp_path: Path, plain: Project, damage: Any
) -> None:
    root = starter_kit_copy(tmp_path, (RENDER, CACHED))
    _emails(Project.load(root), 2)
    entries = _entries(root)
    good = {path: path.read_bytes() for path in entries}
    for path in entries:
        path.write_bytes(damage(good[path]))
    assert _emails(Project.load(root), 2) == _emails(plain, 2)
    assert {path: path.read_bytes() for path in _entries(root)} == good


def test_an_entry_that_cannot_be_written_leaves_the_render_alone(
    tmp_path: Path, plain_emails: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = starter_kit_copy(tmp_path, (RENDER, CACHED))
    project = Project.load(root)
    loaded = _entries(root)  # what the load itself compiled (the layouts' lines)

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(codecache_module.tempfile, "mkstemp", full)
    assert _emails(project) == plain_emails
    assert _entries(root) == loaded


def test_a_render_error_is_located_the_same_from_cached_code(tmp_path: Path) -> None:
    root = starter_kit_copy(tmp_path, (RENDER, CACHED))
    record = {**Project.load(root).personas["vip-vera"].data, "points": 10**30}

    def failure() -> str:
        with pytest.raises(PersonalizeError) as caught:
            Project.load(root).render("weekly", record)
        return str(caught.value)

    cold = failure()
    assert cold.startswith("modules/loyalty/gold.mjml line 8 (recipient vip-vera): points: ")
    assert failure() == cold


def test_the_key_covers_the_source_the_file_name_the_environment_and_the_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    envs = make_environments(LimitSettings())
    cache = CodeCache(tmp_path)
    key = cache.key(envs.html, "Hi {{ name }}", "<a.html>")
    assert key == cache.key(envs.html, "Hi {{ name }}", "<a.html>")
    others = {
        cache.key(envs.html, "Hi {{ name }}!", "<a.html>"),
        cache.key(envs.html, "Hi {{ name }}", "<b.html>"),
        cache.key(envs.text, "Hi {{ name }}", "<a.html>"),
    }
    monkeypatch.setattr(codecache_module, "_code_print", lambda: b"edited personalize")
    others.add(cache.key(envs.html, "Hi {{ name }}", "<a.html>"))
    assert len(others) == 4
    assert key not in others


def test_entries_round_trip_and_a_missing_one_is_none(tmp_path: Path) -> None:
    cache = CodeCache(tmp_path / "cache")
    code = compile("x = 1", "<t>", "exec")
    assert cache.load("ab" * 32) is None
    cache.store("ab" * 32, (code, frozenset({"x"}), False))
    assert cache.load("ab" * 32) == (code, frozenset({"x"}), False)
    assert [p.name for p in (tmp_path / "cache").rglob("*")] == ["ab", "ab" * 32]


def test_a_folder_that_cannot_be_created_stops_the_load_at_its_setting(tmp_path: Path) -> None:
    root = starter_kit_copy(tmp_path, (RENDER, '[render]\ncode_cache = "personas.jsonl/code"\n'))
    with pytest.raises(ConfigError) as caught:
        Project.load(root)
    assert str(caught.value) == (
        "personalize.toml line 12: render.code_cache: cannot write compiled templates to "
        "'personas.jsonl/code': Not a directory — name a folder this process may create and "
        "write to, or remove the setting"
    )


def test_a_blank_folder_is_refused(tmp_path: Path) -> None:
    root = starter_kit_copy(tmp_path, (RENDER, '[render]\ncode_cache = " "\n'))
    with pytest.raises(ConfigError) as caught:
        Project.load(root)
    assert str(caught.value) == (
        "personalize.toml line 12: render.code_cache: expected a folder for compiled templates, "
        "such as '.personalize-cache', got ' '"
    )


def test_lint_reports_a_folder_that_cannot_be_written_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = starter_kit_copy(tmp_path, (RENDER, '[render]\ncode_cache = "cache/code"\n'))
    monkeypatch.setattr(settingscheck.os, "access", lambda path, mode: False)
    findings = [(f.file, f.line, f.code, f.message, f.hint) for f in lint_project(root).findings]
    assert findings == [
        (
            "personalize.toml",
            12,
            "L001",
            "render.code_cache: cannot write compiled templates to 'cache/code': Permission denied",
            "name a folder this process may create and write to, or remove the setting",
        )
    ]
    assert not (root / "cache").exists()
    with pytest.raises(ConfigError, match="Permission denied"):
        Project.load(root)
    assert not (root / "cache").exists()
