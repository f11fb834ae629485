"""Project settings: ``personalize.toml`` (or ``[tool.personalize]`` in ``pyproject.toml``)."""

from __future__ import annotations

import re
import stat
import tomllib
import zoneinfo
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from .errors import ConfigError, did_you_mean, format_path, short_repr

__all__ = [
    "FieldSpec",
    "LimitSettings",
    "MessageSettings",
    "ProjectSettings",
    "RecipientSettings",
    "RenderSettings",
    "Settings",
    "load_settings",
]

SETTINGS_FILE = "personalize.toml"
_LOCALE = re.compile(r"^[a-z]{2,3}(_[A-Z][a-z]{3})?(_[A-Z]{2}|_\d{3})?$")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProjectSettings(_Model):
    """``[project]``: names, defaults for recipients, where the files are."""

    name: str = "personalize project"
    timezone: str = "UTC"
    locale: str = "en_US"
    currency: str = "USD"
    now: datetime | None = None
    templates: str = "templates"
    modules: str = "modules"
    segments: str = "segments.yaml"
    personas: str = "personas.jsonl"

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            close = did_you_mean(value, zoneinfo.available_timezones())
            expected = close or "expected e.g. 'Europe/Berlin'"
            raise ValueError(f"unknown time zone {value!r} ({expected})") from None
        return value

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        value = value.replace("-", "_")
        if not _LOCALE.match(value):
            raise ValueError(f"expected a locale such as 'en_US' or 'de_DE', got {value!r}")
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{3}", value):
            raise ValueError(f"expected an ISO 4217 code such as 'EUR', got {value!r}")
        return value.upper()

    @field_validator("templates", "modules", "segments", "personas")
    @classmethod
    def _path(cls, value: str, info: ValidationInfo) -> str:
        # An empty path is the project folder itself, which no file can be read from.
        if not value.strip():
            default = cls.model_fields[str(info.field_name)].default
            raise ValueError(
                f"expected a path relative to the project folder, such as {default!r}, "
                f"got {value!r}"
            )
        return value

    @field_validator("now")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("'now' needs a UTC offset, e.g. 2026-11-27T09:00:00+01:00")
        return value


class RenderSettings(_Model):
    """``[render]``: how variants are compiled and cached."""

    inliner: Literal["css-inline", "premailer"] = "css-inline"
    cache_size: int = Field(default=256, ge=1, le=100_000)
    merge_after: int = Field(default=1_000, ge=0)
    clip_bytes: int = Field(default=102_000, ge=1_000)
    max_depth: int = Field(default=200, ge=10, le=2_000)
    max_source_bytes: int = Field(default=1_000_000, ge=10_000)
    web_fonts: bool = False


class LimitSettings(_Model):
    """``[limits]``: per-recipient resource limits that keep one bad record from hurting a send."""

    max_string_length: int = Field(default=10_000, ge=1)
    max_list_length: int = Field(default=1_000, ge=1)
    max_output_bytes: int = Field(default=2_000_000, ge=10_000)
    max_range: int = Field(default=1_000, ge=1)
    max_loop_iterations: int = Field(default=100_000, ge=1)


class MessageSettings(_Model):
    """``[message]``: defaults for the MIME message built from a rendered email."""

    sender: str | None = None
    reply_to: str | None = None
    unsubscribe: str | None = None  # dotted field path holding each recipient's unsubscribe URL


class FieldSpec(_Model):
    """One declared recipient field: a type, and optionally a default and constraints."""

    type: str
    default: Any = None
    required: bool = False
    description: str = ""
    choices: tuple[Any, ...] | None = None
    max_length: int | None = Field(default=None, ge=1)

    @field_validator("choices")
    @classmethod
    def _scalar_choices(cls, value: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        # Choices are compared with recipient values and kept in a set: only scalars fit.
        for item in value or ():
            if not isinstance(item, str | int | float | bool):
                raise ValueError(f"choices must be text, numbers or true/false, got {item!r}")
        return value

    @property
    def has_default(self) -> bool:
        """Whether a default is declared (``None`` means no default)."""
        return self.default is not None


def _spec(value: Any) -> Any:
    return {"type": value} if isinstance(value, str) else value


class RecipientSettings(_Model):
    """``[recipient]``: the declared fields and named object types of a recipient record."""

    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    types: dict[str, dict[str, FieldSpec]] = Field(default_factory=dict)

    @field_validator("fields", mode="before")
    @classmethod
    def _fields(cls, value: Any) -> Any:
        return {k: _spec(v) for k, v in value.items()} if isinstance(value, dict) else value

    @field_validator("types", mode="before")
    @classmethod
    def _types(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {
            name: {k: _spec(v) for k, v in body.items()} if isinstance(body, dict) else body
            for name, body in value.items()
        }


class Settings(_Model):
    """Everything in the settings file, plus where it was found."""

    root: Path
    file: str = SETTINGS_FILE
    project: ProjectSettings = Field(default_factory=ProjectSettings)
    render: RenderSettings = Field(default_factory=RenderSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    message: MessageSettings = Field(default_factory=MessageSettings)
    recipient: RecipientSettings = Field(default_factory=RecipientSettings)

    def path(self, relative: str) -> Path:
        """A project-relative path made absolute."""
        return self.root / relative


def load_settings(root: Path) -> Settings:
    """Read ``personalize.toml``, or ``[tool.personalize]`` from ``pyproject.toml``.

    Raises:
        ConfigError: the folder is not a project, or a setting is invalid (names file, line, key).
    """
    root = root.resolve()
    if not root.is_dir():
        raise ConfigError(
            f"project folder {str(root)!r} does not exist",
            hint="pass the folder that holds personalize.toml (--project DIR)",
        )
    file = root / SETTINGS_FILE
    prefix: tuple[str, ...] = ()
    data: Any
    if file.is_file():
        text = read_text_file(file)
        data = _parse_toml(text, SETTINGS_FILE)
    elif (root / "pyproject.toml").is_file():
        file = root / "pyproject.toml"
        text = read_text_file(file)
        tool = _parse_toml(text, "pyproject.toml").get("tool")
        data = tool.get("personalize") if isinstance(tool, dict) else None
        prefix = ("tool", "personalize")
        if not isinstance(data, dict):
            raise ConfigError(
                "pyproject.toml has no [tool.personalize] table",
                file="pyproject.toml",
                hint=f"add one, or create {SETTINGS_FILE}",
            )
    else:
        raise ConfigError(
            f"no {SETTINGS_FILE} in {str(root)!r}",
            hint=f"run this inside a project folder or pass --project; a project needs "
            f"{SETTINGS_FILE} (or [tool.personalize] in pyproject.toml)",
        )
    for key in data:
        if key not in _KNOWN[()]:
            # Checked here, not by the model: 'root' and 'file' are model fields set by us.
            raise ConfigError(
                f"unknown setting {key!r}",
                file=file.name,
                line=toml_line(text, (*prefix, key)),
                path=key,
                hint=did_you_mean(key, _KNOWN[()]) or f"sections: {', '.join(sorted(_KNOWN[()]))}",
            )
    try:
        return Settings(root=root, file=file.name, **data)
    except ValidationError as exc:
        raise _config_error(exc, text, file.name, prefix) from None


def setting_line(settings: Settings, path: tuple[str, ...]) -> int | None:
    """The line of a setting in the project's settings file, for errors found after loading."""
    prefix = ("tool", "personalize") if settings.file == "pyproject.toml" else ()
    try:
        text = (settings.root / settings.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return toml_line(text, (*prefix, *path))


def read_text_file(path: Path, *, file: str | None = None) -> str:
    """A project file's text, or a ``ConfigError`` naming ``file`` (default: its name).

    Newlines are read universally and a leading byte-order mark is dropped, as editors on
    Windows write one.
    """
    name = file or path.name
    refuse_special_file(path, file=name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        hint = "pass a file, not a folder" if path.is_dir() else "check the path and permissions"
        message = f"cannot read the file: {exc.strerror or exc}"
        raise ConfigError(message, file=name, hint=hint) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not valid UTF-8 ({exc.reason} at byte {exc.start})",
            file=name,
            line=data.count(b"\n", 0, exc.start) + 1,
            hint="save it as a UTF-8 text file",
        ) from None
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def refuse_special_file(path: Path, *, file: str) -> None:
    """Refuse a named pipe, device or socket, which reading would block on or never finish.

    Raises:
        ConfigError: naming ``file`` and what ``path`` is instead of a regular file.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # reading it will say why
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return  # a folder: reading it says so
    kind = (
        "a named pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    )
    raise ConfigError(
        f"cannot read the file: it is {kind}, not a regular file",
        file=file,
        hint="point the setting at a regular text file",
    )


def _parse_toml(text: str, name: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        # "(at end of document)": the last line, where the file stopped short.
        last = text.count("\n", 0, len(text.rstrip("\n"))) + 1
        raise ConfigError(
            f"invalid TOML: {exc}",
            file=name,
            line=int(match.group(1)) if match else last,
            hint="check quoting and brackets; strings need double quotes",
        ) from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError(
            "the TOML is nested too deeply",
            file=name,
            line=_deepest_line(text),
            hint="flatten the structure; settings need only a few levels",
        ) from None


def _deepest_line(text: str) -> int:
    """The line where brackets nest deepest: a guess (brackets in strings count too), but the
    line of a structure deep enough to stop the parser stands out."""
    depth = deepest = 0
    line = found = 1
    for char in text:
        if char == "\n":
            line += 1
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest, found = depth, line
        elif char in "]}":
            depth = max(depth - 1, 0)
    return found


_KNOWN = {
    (): {"project", "render", "limits", "message", "recipient"},
    ("project",): set(ProjectSettings.model_fields),
    ("render",): set(RenderSettings.model_fields),
    ("limits",): set(LimitSettings.model_fields),
    ("message",): set(MessageSettings.model_fields),
    ("recipient",): set(RecipientSettings.model_fields),
}
_FIELD_SPEC_KEYS = set(FieldSpec.model_fields)


# pydantic's words where they name our classes or say less than they could.
_PLAIN = {
    "model_type": "expected a table",
    "dict_type": "expected a table",
    "datetime_from_date_parsing": "expected a date-time such as 2026-11-27T09:00:00+01:00",
    "datetime_parsing": "expected a date-time such as 2026-11-27T09:00:00+01:00",
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected text in double quotes",
}


def _config_error(
    exc: ValidationError, text: str, file: str, prefix: tuple[str, ...]
) -> ConfigError:
    errors = exc.errors(include_url=False)
    # A misspelt key also makes the key it was meant to be "missing": report the typo.
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(part for part in err["loc"] if part not in ("function-after", "str"))
    path = format_path(loc)
    hint: str | None = None
    if err["type"] == "extra_forbidden":
        message = f"unknown setting {str(loc[-1])!r}"
        parent = tuple(map(str, loc[:-1]))
        known = _KNOWN.get(parent, ())
        if parent[:2] in (("recipient", "fields"), ("recipient", "types")):
            known = _FIELD_SPEC_KEYS
        hint = did_you_mean(str(loc[-1]), known)
    else:
        message = _PLAIN.get(err["type"]) or err["msg"].removeprefix("Value error, ")
        if err["type"] == "model_type" and loc[:1] == ("recipient",) and len(loc) > 2:
            message = 'expected a type name or a table such as {type = "int", default = 0}'
        elif err["type"] in ("greater_than_equal", "less_than_equal"):
            bound = (err.get("ctx") or {}).get("ge", (err.get("ctx") or {}).get("le"))
            word = "at least" if err["type"] == "greater_than_equal" else "at most"
            message = f"expected a number {word} {bound}"
        if "input" in err and err["type"] not in ("missing", "value_error"):
            message += f" (got {short_repr(err['input'])})"
        if err["type"] == "literal_error":
            expected = str((err.get("ctx") or {}).get("expected", ""))
            message = f"expected {expected} (got {short_repr(err.get('input'))})"
            if isinstance(err.get("input"), str):
                hint = did_you_mean(err["input"], re.findall(r"'([^']*)'", expected))
    more = len(exc.errors()) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigError(
        message, file=file, line=toml_line(text, (*prefix, *map(str, loc))), path=path, hint=hint
    )


def toml_line(text: str, path: tuple[str, ...]) -> int | None:
    """Best-effort line of a dotted key path in TOML source (tomllib keeps no positions).

    Looks for the deepest part of ``path`` that appears as a table header or a key.
    """
    # Split at '\n' only, as editors and tomllib count lines: splitlines() also breaks at
    # U+2028 and other separators that a string value may hold.
    lines = [raw.strip() for raw in text.split("\n")]
    for depth in range(len(path), 0, -1):
        table, key = ".".join(path[: depth - 1]), path[depth - 1]
        in_table = table == ""
        for number, line in enumerate(lines, start=1):
            header = re.fullmatch(r"\[+\s*([^\]]+?)\s*\]+", line)
            if header:
                name = header.group(1).replace('"', "").replace(" ", "")
                if name == ".".join(path[:depth]):
                    return number
                in_table = name == table
            elif in_table and re.match(rf'"?{re.escape(key)}"?\s*=', line):
                return number
    return None
