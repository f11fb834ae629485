"""Tests for project settings: defaults, where they are read from, and every kind of mistake."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from personalize.config import (
    FieldSpec,
    LimitSettings,
    MessageSettings,
    ProjectSettings,
    RenderSettings,
    Settings,
    load_settings,
    setting_error,
    setting_line,
)
from personalize.errors import ConfigError
from personalize.textfiles import read_text_file
from personalize.tomllines import toml_line


def project(tmp_path: Path, text: str, *, name: str = "personalize.toml") -> Path:
    """A project folder holding one settings file."""
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def settings_error(tmp_path: Path, text: str, *, name: str = "personalize.toml") -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(project(tmp_path, text, name=name))
    return str(caught.value)


# -- defaults and sources -------------------------------------------------------------------


def test_an_empty_settings_file_gives_the_defaults(tmp_path: Path) -> None:
    settings = load_settings(project(tmp_path, ""))
    assert settings.root == tmp_path.resolve()
    assert settings.file == "personalize.toml"
    assert settings.project == ProjectSettings()
    assert settings.project.model_dump() == {
        "name": "personalize project",
        "timezone": "UTC",
        "locale": "en_US",
        "currency": "USD",
        "now": None,
        "templates": "templates",
        "modules": "modules",
        "segments": "segments.yaml",
        "personas": "personas.jsonl",
    }
    assert settings.render.model_dump() == {
        "inliner": "css-inline",
        "cache_size": 256,
        "merge_after": 1_000,
        "clip_bytes": 102_000,
        "max_depth": 200,
        "max_source_bytes": 1_000_000,
        "web_fonts": False,
        "code_cache": None,
    }
    assert settings.limits.model_dump() == {
        "max_string_length": 10_000,
        "max_list_length": 1_000,
        "max_output_bytes": 2_000_000,
        "max_range": 1_000,
        "max_loop_iterations": 100_000,
    }
    assert settings.message == MessageSettings()
    assert settings.message.model_dump() == {"sender": None, "reply_to": None, "unsubscribe": None}
    assert dict(settings.recipient.fields) == {}
    assert dict(settings.recipient.types) == {}


def test_values_from_the_file(tmp_path: Path) -> None:
    settings = load_settings(
        project(
            tmp_path,
            """\
[project]
name = "Northwind"
timezone = "Europe/Berlin"
locale = "de-DE"
currency = "eur"
now = 2026-11-27T09:00:00+01:00
templates = "layouts"

[render]
inliner = "premailer"
cache_size = 8

[limits]
max_string_length = 1_000_000
max_list_length = 100_000

[message]
sender = "Shop <shop@example.com>"
unsubscribe = "links.unsubscribe"
""",
        )
    )
    assert settings.project.name == "Northwind"
    assert settings.project.timezone == "Europe/Berlin"
    assert settings.project.locale == "de_DE"
    assert settings.project.currency == "EUR"
    assert settings.project.now == datetime(2026, 11, 27, 9, tzinfo=timezone(timedelta(hours=1)))
    assert settings.project.templates == "layouts"
    assert (settings.render.inliner, settings.render.cache_size) == ("premailer", 8)
    assert settings.limits.max_string_length == 1_000_000
    assert settings.limits.max_list_length == 100_000
    assert settings.message.sender == "Shop <shop@example.com>"
    assert settings.path("layouts") == tmp_path.resolve() / "layouts"


def test_now_may_be_a_quoted_string_with_an_offset(tmp_path: Path) -> None:
    settings = load_settings(project(tmp_path, '[project]\nnow = "2026-11-27T08:00:00Z"\n'))
    assert settings.project.now == datetime(2026, 11, 27, 8, tzinfo=UTC)


def test_tool_personalize_in_pyproject(tmp_path: Path) -> None:
    text = '[project]\nname = "pkg"\n\n[tool.personalize.project]\ntimezone = "Europe/Berlin"\n'
    settings = load_settings(project(tmp_path, text, name="pyproject.toml"))
    assert settings.file == "pyproject.toml"
    assert settings.project.timezone == "Europe/Berlin"
    assert settings.project.name == "personalize project"  # [project] of pyproject is not ours


def test_personalize_toml_wins_over_pyproject(tmp_path: Path) -> None:
    project(
        tmp_path, '[tool.personalize.project]\nname = "from pyproject"\n', name="pyproject.toml"
    )
    project(tmp_path, '[project]\nname = "from personalize.toml"\n')
    settings = load_settings(tmp_path)
    assert (settings.file, settings.project.name) == ("personalize.toml", "from personalize.toml")


def test_a_relative_root_is_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project(tmp_path, "")
    monkeypatch.chdir(tmp_path)
    assert load_settings(Path(".")).root == tmp_path.resolve()


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(project(tmp_path, ""))
    with pytest.raises(ValidationError):
        settings.project.timezone = "Europe/Berlin"


# -- field specs ----------------------------------------------------------------------------


def test_field_specs_as_a_type_name_or_a_table(tmp_path: Path) -> None:
    settings = load_settings(
        project(
            tmp_path,
            """\
[recipient.fields]
last_name = "str"
tier = {type = "str", default = "Bronze", choices = ["Bronze", "Gold"], description = "Tier"}
email = {type = "email", required = true}
nick = {type = "str", max_length = 20}
orders = "list[order]"

[recipient.types.order]
at = "datetime"
total = {type = "decimal", required = true}
""",
        )
    )
    fields = settings.recipient.fields
    assert fields["last_name"] == FieldSpec(type="str")
    assert fields["tier"] == FieldSpec(
        type="str", default="Bronze", choices=("Bronze", "Gold"), description="Tier"
    )
    assert fields["email"].required
    assert fields["nick"].max_length == 20
    assert fields["orders"].type == "list[order]"
    assert list(fields) == ["last_name", "tier", "email", "nick", "orders"]
    order = settings.recipient.types["order"]
    assert order == {
        "at": FieldSpec(type="datetime"),
        "total": FieldSpec(type="decimal", required=True),
    }


HAS_DEFAULT_CASES = [
    ("no default", FieldSpec(type="int"), False),
    ("zero", FieldSpec(type="int", default=0), True),
    ("empty text", FieldSpec(type="str", default=""), True),
    ("false", FieldSpec(type="bool", default=False), True),
    ("empty list", FieldSpec(type="list[int]", default=[]), True),
]


@pytest.mark.parametrize(
    ("spec", "expected"), [c[1:] for c in HAS_DEFAULT_CASES], ids=[c[0] for c in HAS_DEFAULT_CASES]
)
def test_has_default(spec: FieldSpec, expected: bool) -> None:
    assert spec.has_default is expected


# -- errors ---------------------------------------------------------------------------------

TOML_HINT = "check quoting and brackets; strings need double quotes"
SECTIONS = "sections: limits, message, project, recipient, render"

ERROR_CASES = [
    (
        "invalid TOML",
        '[project]\nname = "x"\ntimezone = Europe/Berlin\n',
        "personalize.toml line 3: invalid TOML: Invalid value (at line 3, column 12) — "
        f"{TOML_HINT}",
    ),
    (
        "unclosed table header",
        "[project\n",
        f"personalize.toml line 1: invalid TOML: Expected ']' at the end of a table declaration "
        f"(at line 1, column 9) — {TOML_HINT}",
    ),
    (
        "a file that stops short",
        '[project]\nname = "x"\ninl',
        "personalize.toml line 3: invalid TOML: Expected '=' after a key in a key/value pair "
        f"(at end of document) — {TOML_HINT}",
    ),
    (
        "an unterminated multi-line string, blank lines after it",
        '[project]\nname = """x\n\n\n',
        "personalize.toml line 2: invalid TOML: Unterminated string (at end of document) — "
        f"{TOML_HINT}",
    ),
    (
        "an unterminated string on the last line",
        '[project]\nname = "x',
        "personalize.toml line 2: invalid TOML: Unterminated string (at end of document) — "
        f"{TOML_HINT}",
    ),
    (
        "nesting too deep for the parser",
        "[render]\nweb_fonts = false\ncache_size = " + "[" * 5_000 + "]" * 5_000 + "\n",
        "personalize.toml line 3: the TOML is nested too deeply — flatten the structure; "
        "settings need only a few levels",
    ),
    (
        "an empty path",
        '[project]\nname = "x"\nsegments = ""\n',
        "personalize.toml line 3: project.segments: expected a path relative to the project "
        "folder, such as 'segments.yaml', got ''",
    ),
    (
        "a blank folder path",
        '[project]\ntemplates = " "\n',
        "personalize.toml line 2: project.templates: expected a path relative to the project "
        "folder, such as 'templates', got ' '",
    ),
    (
        "unknown setting in a table",
        '[project]\nname = "x"\n\ntimezon = "UTC"\n',
        "personalize.toml line 4: project.timezon: unknown setting 'timezon' — did you mean "
        "'timezone'?",
    ),
    (
        "unknown section",
        '[project]\nname = "x"\n[rendr]\ninliner = "premailer"\n',
        "personalize.toml line 3: rendr: unknown setting 'rendr' — did you mean 'render'?",
    ),
    (
        "unknown top-level key, nothing close",
        'color = "red"\n',
        f"personalize.toml line 1: color: unknown setting 'color' — {SECTIONS}",
    ),
    (
        "root is not a setting",
        'root = "/etc"\n',
        f"personalize.toml line 1: root: unknown setting 'root' — {SECTIONS}",
    ),
    (
        "file is not a setting",
        '\nfile = "x"\n',
        f"personalize.toml line 2: file: unknown setting 'file' — {SECTIONS}",
    ),
    (
        "a nested table that is not a setting",
        '[project]\nname = "a"\n[project.extra]\nx = 1\n',
        "personalize.toml line 3: project.extra: unknown setting 'extra'",
    ),
    (
        "unknown key in a field spec",
        '[recipient.fields]\ntier = "str"\npoints = {type = "int", defualt = 0}\n',
        "personalize.toml line 3: recipient.fields.points.defualt: unknown setting 'defualt' — "
        "did you mean 'default'?",
    ),
    (
        "misspelt type in a named type reports the typo, not the missing type",
        '[recipient.types.order]\nat = {tpye = "datetime"}\n',
        "personalize.toml line 2: recipient.types.order.at.tpye: unknown setting 'tpye' (and 1 "
        "more problem) — did you mean 'type'?",
    ),
    (
        "unknown time zone",
        '[project]\ntimezone = "Mars/Olympus"\n',
        "personalize.toml line 2: project.timezone: unknown time zone 'Mars/Olympus' (expected "
        "e.g. 'Europe/Berlin')",
    ),
    (
        "empty time zone",
        '[project]\ntimezone = ""\n',
        "personalize.toml line 2: project.timezone: unknown time zone '' (expected e.g. "
        "'Europe/Berlin')",
    ),
    (
        "path-like time zone",
        '[project]\ntimezone = "../../etc/passwd"\n',
        "personalize.toml line 2: project.timezone: unknown time zone '../../etc/passwd' "
        "(expected e.g. 'Europe/Berlin')",
    ),
    (
        "bad locale",
        '[project]\nlocale = "german"\n',
        "personalize.toml line 2: project.locale: expected a locale such as 'en_US' or 'de_DE', "
        "got 'german'",
    ),
    (
        "bad currency",
        '[project]\ncurrency = "EURO"\n',
        "personalize.toml line 2: project.currency: expected an ISO 4217 code such as 'EUR', "
        "got 'EURO'",
    ),
    (
        "now without an offset",
        "[project]\nnow = 2026-11-27T09:00:00\n",
        "personalize.toml line 2: project.now: 'now' needs a UTC offset, e.g. "
        "2026-11-27T09:00:00+01:00",
    ),
    (
        "now as a quoted string without an offset",
        '[project]\nnow = "2026-11-27T09:00:00"\n',
        "personalize.toml line 2: project.now: 'now' needs a UTC offset, e.g. "
        "2026-11-27T09:00:00+01:00",
    ),
    (
        "now that is not a date",
        '[project]\nnow = "tomorrow"\n',
        "personalize.toml line 2: project.now: expected a date-time such as "
        "2026-11-27T09:00:00+01:00 (got 'tomorrow')",
    ),
    (
        "wrong type",
        "[project]\ntimezone = 5\n",
        "personalize.toml line 2: project.timezone: expected text in double quotes (got 5)",
    ),
    (
        "several problems",
        "[project]\nname = 5\ntimezone = 6\nlocale = 7\n",
        "personalize.toml line 2: project.name: expected text in double quotes (got 5) (and 2 "
        "more problems)",
    ),
    (
        "a section that is not a table",
        "project = 5\n",
        "personalize.toml line 1: project: expected a table (got 5)",
    ),
    (
        "unknown inliner",
        '[render]\ninliner = "juice"\n',
        "personalize.toml line 2: render.inliner: expected 'css-inline' or 'premailer' "
        "(got 'juice')",
    ),
    (
        "a negative merge_after",
        "[render]\nmerge_after = -1\n",
        "personalize.toml line 2: render.merge_after: expected a number at least 0 (got -1)",
    ),
    (
        "a limit out of range",
        "[limits]\nmax_string_length = 0\n",
        "personalize.toml line 2: limits.max_string_length: expected a number at least 1 (got 0)",
    ),
    (
        "a field spec that is neither a name nor a table",
        "[recipient.fields]\nx = 5\n",
        "personalize.toml line 2: recipient.fields.x: expected a type name or a table such as "
        '{type = "int", default = 0} (got 5)',
    ),
    (
        "choices that are not scalars",
        '[recipient.fields]\nx = {type = "str", choices = [["a"]]}\n',
        "personalize.toml line 2: recipient.fields.x.choices: choices must be text, numbers or "
        "true/false, got ['a']",
    ),
    (
        "choices holding a table",
        '[recipient.fields]\nx = {type = "str", choices = [{a = 1}]}\n',
        "personalize.toml line 2: recipient.fields.x.choices: choices must be text, numbers or "
        "true/false, got {'a': 1}",
    ),
    (
        "max_length below 1",
        '[recipient.fields]\nx = {type = "str", max_length = 0}\n',
        "personalize.toml line 2: recipient.fields.x.max_length: expected a number at least 1 "
        "(got 0)",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES]
)
def test_settings_errors(tmp_path: Path, text: str, expected: str) -> None:
    assert settings_error(tmp_path, text) == expected


PYPROJECT_ERROR_CASES = [
    (
        "unknown setting, line in pyproject",
        '[project]\nname = "pkg"\n\n[tool.personalize.project]\ntimezon = "UTC"\n',
        "pyproject.toml line 5: project.timezon: unknown setting 'timezon' — did you mean "
        "'timezone'?",
    ),
    (
        "unknown section",
        '[tool.personalize.projct]\nname = "x"\n',
        "pyproject.toml line 1: projct: unknown setting 'projct' — did you mean 'project'?",
    ),
    (
        "no tool.personalize table",
        "[tool.black]\nline-length = 100\n",
        "pyproject.toml: pyproject.toml has no [tool.personalize] table — add one, or create "
        "personalize.toml",
    ),
    (
        "tool is not a table",
        'tool = "x"\n',
        "pyproject.toml: pyproject.toml has no [tool.personalize] table — add one, or create "
        "personalize.toml",
    ),
    (
        "tool.personalize is not a table",
        "[tool]\npersonalize = 5\n",
        "pyproject.toml: pyproject.toml has no [tool.personalize] table — add one, or create "
        "personalize.toml",
    ),
    (
        "invalid TOML",
        "[tool.personalize\n",
        f"pyproject.toml line 1: invalid TOML: Expected ']' at the end of a table declaration "
        f"(at line 1, column 18) — {TOML_HINT}",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [c[1:] for c in PYPROJECT_ERROR_CASES],
    ids=[c[0] for c in PYPROJECT_ERROR_CASES],
)
def test_pyproject_errors(tmp_path: Path, text: str, expected: str) -> None:
    assert settings_error(tmp_path, text, name="pyproject.toml") == expected


def test_a_missing_project_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError) as caught:
        load_settings(missing)
    assert str(caught.value) == (
        f"project folder {str(missing)!r} does not exist — pass the folder that holds "
        "personalize.toml (--project DIR)"
    )


def test_a_folder_without_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)
    assert str(caught.value) == (
        f"no personalize.toml in {str(tmp_path.resolve())!r} — run this inside a project folder "
        "or pass --project; a project needs personalize.toml (or [tool.personalize] in "
        "pyproject.toml)"
    )


def test_a_file_instead_of_a_folder(tmp_path: Path) -> None:
    file = project(tmp_path, "") / "personalize.toml"
    with pytest.raises(ConfigError) as caught:
        load_settings(file)
    assert str(caught.value) == (
        f"project folder {str(file)!r} is a file, not a folder — pass the folder that holds it, "
        f"{str(tmp_path)!r} (--project DIR)"
    )
    other = tmp_path / "personas.jsonl"
    other.write_text("")
    with pytest.raises(ConfigError) as caught:
        load_settings(other)
    assert str(caught.value) == (
        f"project folder {str(other)!r} is a file, not a folder — pass the folder that holds "
        "personalize.toml (--project DIR)"
    )


def test_a_settings_file_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "personalize.toml").write_bytes(b'[project]\nname = "caf\xe9"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)
    assert str(caught.value) == (
        "personalize.toml line 2: not valid UTF-8 (invalid continuation byte at byte 21) — "
        "save it as a UTF-8 text file"
    )


def test_a_settings_file_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    (tmp_path / "personalize.toml").write_bytes(b'\xef\xbb\xbf[project]\r\nname = "shop"\r\n')
    assert load_settings(tmp_path).project.name == "shop"


def test_a_folder_named_like_the_settings_file(tmp_path: Path) -> None:
    (tmp_path / "segments.yaml").mkdir()
    with pytest.raises(ConfigError) as caught:
        read_text_file(tmp_path / "segments.yaml")
    assert str(caught.value) == (
        "segments.yaml: cannot read the file: Is a directory — pass a file, not a folder"
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_rather_than_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "segments.yaml")  # reading it would wait for a writer forever
    with pytest.raises(ConfigError) as caught:
        read_text_file(tmp_path / "segments.yaml")
    assert str(caught.value) == (
        "segments.yaml: cannot read the file: it is a named pipe, not a regular file — point "
        "the setting at a regular text file"
    )


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_a_device_is_refused_rather_than_read() -> None:
    with pytest.raises(ConfigError) as caught:
        read_text_file(Path("/dev/zero"), file="personas.jsonl")
    assert str(caught.value) == (
        "personas.jsonl: cannot read the file: it is a device, not a regular file — point the "
        "setting at a regular text file"
    )


# -- the models on their own ----------------------------------------------------------------


def test_models_reject_unknown_keys_directly() -> None:
    with pytest.raises(ValidationError):
        RenderSettings(cache=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        LimitSettings(max_list_length=0)


def test_settings_path_is_relative_to_the_root(tmp_path: Path) -> None:
    settings = Settings(root=tmp_path)
    assert settings.path("segments.yaml") == tmp_path / "segments.yaml"


# -- toml_line ------------------------------------------------------------------------------

TOML = """\
# settings
name = "top"

[project]
name = "Northwind"
"timezone" = "UTC"

[recipient.fields]
tier = {type = "str"}
  points = "int"

[recipient.types.order]
at = "datetime"

[ tool.personalize.project ]
locale = "de_DE"
"""

TOML_LINE_CASES: list[tuple[str, tuple[str, ...], int | None]] = [
    ("top-level key", ("name",), 2),
    ("table header", ("project",), 4),
    ("key in a table", ("project", "name"), 5),
    ("quoted key", ("project", "timezone"), 6),
    ("dotted header", ("recipient", "fields"), 8),
    ("key under a dotted header", ("recipient", "fields", "tier"), 9),
    ("indented key", ("recipient", "fields", "points"), 10),
    (
        "key inside an inline table falls back to the key",
        ("recipient", "fields", "tier", "type"),
        9,
    ),
    ("named type", ("recipient", "types", "order"), 12),
    ("field of a named type", ("recipient", "types", "order", "at"), 13),
    ("header with spaces", ("tool", "personalize", "project", "locale"), 16),
    ("unknown key falls back to its table", ("project", "nope"), 4),
    ("nothing matches", ("nope",), None),
]


def test_toml_lines_are_counted_at_newlines_only() -> None:
    # str.splitlines() also breaks at U+2028 and other separators a string may hold.
    text = '[project]\nname = "a\u2028b\x1cc\x85d"\nlocale = "de_DE"\n'
    assert toml_line(text, ("project", "locale")) == 3


@pytest.mark.parametrize(
    ("path", "line"), [c[1:] for c in TOML_LINE_CASES], ids=[c[0] for c in TOML_LINE_CASES]
)
def test_toml_line(path: tuple[str, ...], line: int | None) -> None:
    assert toml_line(TOML, path) == line


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[render]\ncache_size = "big"\n',
            "personalize.toml line 2: render.cache_size: expected a whole number (got 'big')",
        ),
        (
            '[render]\ninliner = "premailr"\n',
            "personalize.toml line 2: render.inliner: expected 'css-inline' or 'premailer' "
            "(got 'premailr') — did you mean 'premailer'?",
        ),
        (
            '[project]\ntimezone = "Europe/Berln"\n',
            "personalize.toml line 2: project.timezone: unknown time zone 'Europe/Berln' "
            "(did you mean 'Europe/Berlin'?)",
        ),
        (
            "[recipient.fields]\ntier = 5\n",
            "personalize.toml line 2: recipient.fields.tier: expected a type name or a table "
            'such as {type = "int", default = 0} (got 5)',
        ),
        (
            "[project]\nname = 5\n",
            "personalize.toml line 2: project.name: expected text in double quotes (got 5)",
        ),
    ],
    ids=["not-a-number", "literal-typo", "zone-typo", "field-not-a-table", "not-text"],
)
def test_settings_errors_say_what_was_expected_in_our_words(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(project(tmp_path, text))
    assert str(caught.value) == message


# -- values taken as written, and checked where they are written ----------------------------

NOW_HINT = "pin a time between years 1 and 9999 in UTC, e.g. 2026-11-27T09:00:00+01:00"
UNIX_HINT = "write the date-time with its UTC offset, not a Unix time"
HOST_ZONE_HINT = (
    "name the zone, e.g. 'Europe/Berlin': these files differ between machines, and so would "
    "the emails"
)

STRICT_CASES = [
    (
        "true as a number",
        "[render]\ncache_size = true\n",
        "render.cache_size: expected a whole number (got True)",
    ),
    (
        "text as a number",
        '[render]\ncache_size = "256"\n',
        "render.cache_size: expected a whole number (got '256')",
    ),
    (
        "a float as a number",
        "[render]\ncache_size = 1e3\n",
        "render.cache_size: expected a whole number (got 1000.0)",
    ),
    (
        "false as 0",
        "[render]\nmerge_after = false\n",
        "render.merge_after: expected a whole number (got False)",
    ),
    (
        "a fraction",
        "[limits]\nmax_output_bytes = 2_000_000.5\n",
        "limits.max_output_bytes: expected a whole number (got 2000000.5)",
    ),
    (
        "text as a bool",
        '[render]\nweb_fonts = "yes"\n',
        "render.web_fonts: expected true or false (got 'yes')",
    ),
    (
        "1 as a bool",
        "[render]\nweb_fonts = 1\n",
        "render.web_fonts: expected true or false (got 1)",
    ),
    (
        "text as required",
        '[recipient.fields]\nx = {type = "str", required = "yes"}\n',
        "recipient.fields.x.required: expected true or false (got 'yes')",
    ),
    (
        "a float as max_length",
        '[recipient.fields]\nx = {type = "str", max_length = 2.0}\n',
        "recipient.fields.x.max_length: expected a whole number (got 2.0)",
    ),
    (
        "now as a number",
        "[project]\nnow = 1764230400\n",
        "project.now: expected a date-time such as 2026-11-27T09:00:00+01:00 (got 1764230400) "
        f"— {UNIX_HINT}",
    ),
    (
        "now as text of digits",
        '[project]\nnow = "1764230400"\n',
        "project.now: expected a date-time such as 2026-11-27T09:00:00+01:00 (got '1764230400') "
        f"— {UNIX_HINT}",
    ),
    (
        "now before year 1 in UTC",
        "[project]\nnow = 0001-01-01T00:30:00+01:00\n",
        "project.now: the render time 0001-01-01T00:30:00+01:00 is out of range: in UTC it "
        f"falls before the start of year 1 — {NOW_HINT}",
    ),
    (
        "now after year 9999 in UTC",
        '[project]\nnow = "9999-12-31T23:30:00-01:00"\n',
        "project.now: the render time 9999-12-31T23:30:00-01:00 is out of range: in UTC it "
        f"falls after the end of year 9999 — {NOW_HINT}",
    ),
    (
        "the host's zone",
        '[project]\ntimezone = "localtime"\n',
        "project.timezone: time zone 'localtime' is a file of this machine's zone database, "
        f"not an IANA zone — {HOST_ZONE_HINT}",
    ),
    (
        "a leap-second zone file",
        '[project]\ntimezone = "right/UTC"\n',
        "project.timezone: time zone 'right/UTC' is a file of this machine's zone database, "
        f"not an IANA zone — {HOST_ZONE_HINT}",
    ),
    (
        "a posix zone file",
        '[project]\ntimezone = "posix/Europe/Berlin"\n',
        "project.timezone: time zone 'posix/Europe/Berlin' is a file of this machine's zone "
        f"database, not an IANA zone — {HOST_ZONE_HINT}",
    ),
    (
        "posixrules",
        '[project]\ntimezone = "posixrules"\n',
        "project.timezone: time zone 'posixrules' is a file of this machine's zone database, "
        f"not an IANA zone — {HOST_ZONE_HINT}",
    ),
    (
        "no choices",
        '[recipient.fields]\nx = {type = "str", choices = []}\n',
        "recipient.fields.x.choices: no choices given: no value could ever match — list the "
        'allowed values, e.g. choices = ["Bronze", "Gold"], or remove choices',
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in STRICT_CASES], ids=[c[0] for c in STRICT_CASES]
)
def test_settings_are_taken_as_written_and_checked_at_their_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert settings_error(tmp_path, text) == f"personalize.toml line 2: {expected}"


def test_a_zone_name_is_read_without_surrounding_spaces(tmp_path: Path) -> None:
    settings = load_settings(project(tmp_path, '[project]\ntimezone = " Europe/Berlin "\n'))
    assert settings.project.timezone == "Europe/Berlin"


def test_a_misspelt_zone_is_not_offered_a_host_file(tmp_path: Path) -> None:
    assert settings_error(tmp_path, '[project]\ntimezone = "localtim"\n') == (
        "personalize.toml line 2: project.timezone: unknown time zone 'localtim' "
        "(expected e.g. 'Europe/Berlin')"
    )


def test_now_at_the_edges_of_the_range_loads(tmp_path: Path) -> None:
    text = "[project]\nnow = 0001-01-01T00:30:00-01:00\n"
    assert load_settings(project(tmp_path, text)).project.now == datetime(
        1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=-1))
    )


def test_a_header_with_a_comment_after_it_is_found() -> None:
    text = '[project]\nname = "x"\n\n[render]   # how variants are built\ninliner = "x"\n'
    assert toml_line(text, ("render", "inliner")) == 5
    assert toml_line(text, ("render",)) == 4


def test_a_quoted_header_part_may_hold_brackets_spaces_and_dots() -> None:
    text = (
        '[recipient.types."list[int]"]  # never usable\nx = "int"\n'
        '[recipient.types."home address"]\ncity = "str"\n'
        '[recipient . types . "a.b"]\nc = "str"\n'
    )
    assert toml_line(text, ("recipient", "types", "list[int]", "x")) == 2
    assert toml_line(text, ("recipient", "types", "home address", "city")) == 4
    assert toml_line(text, ("recipient", "types", "a.b", "c")) == 6


def test_a_byte_order_mark_hides_no_line() -> None:
    assert toml_line('\ufeff[message]\nsender = "x"\n', ("message", "sender")) == 2
    assert toml_line('\ufeffname = "x"\n', ("name",)) == 1


def test_an_error_under_a_commented_header_names_its_line(tmp_path: Path) -> None:
    text = '[render]   # how variants are built\ninliner = "cssinline"\n'
    assert settings_error(tmp_path, text) == (
        "personalize.toml line 2: render.inliner: expected 'css-inline' or 'premailer' "
        "(got 'cssinline') — did you mean 'css-inline'?"
    )


def test_a_setting_found_wrong_after_loading_is_located_in_a_file_with_a_bom(
    tmp_path: Path,
) -> None:
    path = project(tmp_path, "")
    (path / "personalize.toml").write_bytes(b'\xef\xbb\xbf[message]\nsender = "x"\n')
    settings = load_settings(path)
    assert setting_line(settings, ("message", "sender")) == 2
    error = setting_error(settings, ("message", "sender"), "bad", "fix it")
    assert str(error) == "personalize.toml line 2: message.sender: bad — fix it"


@pytest.mark.parametrize(
    ("section", "model"),
    [
        ("project", ProjectSettings),
        ("render", RenderSettings),
        ("limits", LimitSettings),
        ("message", MessageSettings),
    ],
)
def test_every_setting_has_its_row_in_the_file_format_reference(
    section: str, model: type[BaseModel]
) -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "file-format.md").read_text("utf-8")
    start = text.index(f"### `[{section}]`")
    table = text[start : text.index("\n### ", start + 1)]
    missing = [name for name in model.model_fields if f"\n| `{name}` |" not in table]
    assert not missing, f"docs/file-format.md [{section}] has no row for {missing}"
