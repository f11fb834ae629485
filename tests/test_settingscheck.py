"""[project] settings that Babel or the folders decide on: checked at load, and by lint."""

from __future__ import annotations

from pathlib import Path

import pytest

from personalize import ConfigError, Project
from personalize.config import load_settings
from personalize.lint import lint_project
from personalize.settingscheck import project_setting_problems
from projects import starter_kit_copy

LOCALE = 'locale = "en_US"                    # for recipients without a locale'
CURRENCY = 'currency = "USD"                    # for recipients without a currency'
NOW = 'now = "2026-11-27T09:00:00+01:00"'
LOCALE_HINT = "use a locale Babel knows, such as 'en_US' or 'de_DE'"
CURRENCY_HINT = "use an ISO 4217 code that Babel knows, such as 'EUR' or 'USD'"


def _located(root: Path) -> list[tuple[str, int | None, str, str | None]]:
    """Lint's findings in personalize.toml: line, message and hint."""
    findings = lint_project(root).findings
    return [(f.file, f.line, f.message, f.hint) for f in findings if f.file == "personalize.toml"]


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        (
            (LOCALE, 'locale = "zz"'),
            f"personalize.toml line 7: project.locale: unknown locale 'zz' — {LOCALE_HINT}",
        ),
        (
            (LOCALE, 'locale = "xx_YY"'),
            f"personalize.toml line 7: project.locale: unknown locale 'xx_YY' — {LOCALE_HINT}",
        ),
        (
            (CURRENCY, 'currency = "XYZ"'),
            f"personalize.toml line 8: project.currency: unknown currency 'XYZ' — {CURRENCY_HINT}",
        ),
        (
            (NOW, "now = 0001-01-01T00:30:00+01:00"),
            "personalize.toml line 9: project.now: the render time 0001-01-01T00:30:00+01:00 is "
            "out of range: in UTC it falls before the start of year 1 — pin a time between "
            "years 1 and 9999 in UTC, e.g. 2026-11-27T09:00:00+01:00",
        ),
    ],
    ids=["unknown-locale", "unknown-region", "unknown-currency", "now-out-of-range"],
)
def test_a_project_default_that_every_render_would_trip_over_stops_the_load(
    tmp_path: Path, replace: tuple[str, str], message: str
) -> None:
    root = starter_kit_copy(tmp_path, replace)
    with pytest.raises(ConfigError) as caught:
        Project.load(root)
    assert str(caught.value) == message
    # lint reports it once, at the setting, not once per persona at the segments file.
    error = caught.value
    assert _located(root) == [
        ("personalize.toml", error.line, f"{error.path}: {error.message}", error.hint)
    ]
    assert len(lint_project(root).findings) == 1


def test_lint_reports_an_unknown_locale_and_currency_together(tmp_path: Path) -> None:
    root = starter_kit_copy(tmp_path, (LOCALE, 'locale = "zz"'))
    toml = root / "personalize.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(CURRENCY, 'currency = "XYZ"'))
    assert _located(root) == [
        ("personalize.toml", 7, "project.locale: unknown locale 'zz'", LOCALE_HINT),
        ("personalize.toml", 8, "project.currency: unknown currency 'XYZ'", CURRENCY_HINT),
    ]


def test_known_locales_and_currencies_pass(tmp_path: Path) -> None:
    toml = '[project]\nlocale = "sr-Latn-RS"\ncurrency = "eur"\n'
    (tmp_path / "personalize.toml").write_text(toml, encoding="utf-8")
    assert project_setting_problems(load_settings(tmp_path)) == []


FOLDER_CASES = [
    (
        "missing templates",
        'templates = "tpl/x"',
        "personalize.toml line 9: project.templates: no tpl/x/ folder — create it, or set "
        "templates to the folder that holds the layouts (*.mjml)",
    ),
    (
        "missing modules",
        'modules = "mods"',
        "personalize.toml line 9: project.modules: no mods/ folder — create it, or set modules "
        "to the folder that holds the modules (*.mjml, in subfolders)",
    ),
    (
        "a file as templates",
        'templates = "segments.yaml"',
        "personalize.toml line 9: project.templates: 'segments.yaml' is not a folder — create "
        "it, or set templates to the folder that holds the layouts (*.mjml)",
    ),
]


@pytest.mark.parametrize(
    ("setting", "message"), [c[1:] for c in FOLDER_CASES], ids=[c[0] for c in FOLDER_CASES]
)
def test_a_folder_that_is_set_but_missing_is_reported_at_its_setting(
    tmp_path: Path, setting: str, message: str
) -> None:
    root = starter_kit_copy(tmp_path, (CURRENCY, f"{CURRENCY}\n{setting}"))
    with pytest.raises(ConfigError) as caught:
        Project.load(root)
    assert str(caught.value) == message
    error = caught.value
    located = ("personalize.toml", 9, f"{error.path}: {error.message}", error.hint)
    assert _located(root) == [located]
    # Lint says it once: the registry's own report, without a line, is left out.
    assert [f.message for f in lint_project(root).findings if "folder" in f.message] == [
        f"{error.path}: {error.message}"
    ]


def test_a_default_folder_that_is_missing_is_left_to_the_registry(tmp_path: Path) -> None:
    (tmp_path / "personalize.toml").write_text("", encoding="utf-8")
    assert project_setting_problems(load_settings(tmp_path)) == []
