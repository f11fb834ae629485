"""Project settings: ``personalize.toml`` (or ``[tool.personalize]`` in ``pyproject.toml``)."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from .errors import ConfigError, did_you_mean, format_path, render_time_problem, short_repr
from .fieldtypes import check_timezone, host_zone_file
from .textfiles import read_text_file
from .tomllines import parse_toml, toml_line

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


class _SettingError(ValueError):
    """A setting's value refused with a hint, which the ``ConfigError`` carries."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


# Whole numbers and true/false as written: pydantic would read true as 1, "256" and 1e3 as
# 256 and 1000, and "yes" or 1 as true.
def _int(default: int, *, ge: int, le: int | None = None) -> Any:
    return Field(default=default, strict=True, ge=ge, le=le)


_EXAMPLE_NOW = "2026-11-27T09:00:00+01:00"


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
            return check_timezone(value)
        except ValueError:
            pass
        if host_zone_file(value.strip()):
            raise _SettingError(
                f"time zone {value.strip()!r} is a file of this machine's zone database, "
                "not an IANA zone",
                hint="name the zone, e.g. 'Europe/Berlin': these files differ between "
                "machines, and so would the emails",
            )
        zones = [name for name in zoneinfo.available_timezones() if not host_zone_file(name)]
        expected = did_you_mean(value, zones) or "expected e.g. 'Europe/Berlin'"
        raise ValueError(f"unknown time zone {value!r} ({expected})")

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

    @field_validator("now", mode="before")
    @classmethod
    def _not_a_number(cls, value: Any) -> Any:
        # pydantic reads a number (or text of digits) as seconds since 1970 in UTC.
        if isinstance(value, int | float) or (
            isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+(\.\d*)?\s*", value)
        ):
            raise _SettingError(
                f"expected a date-time such as {_EXAMPLE_NOW} (got {short_repr(value)})",
                hint="write the date-time with its UTC offset, not a Unix time",
            )
        return value

    @field_validator("now")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"'now' needs a UTC offset, e.g. {_EXAMPLE_NOW}")
        problem = render_time_problem(value)
        if problem:
            raise _SettingError(
                problem, hint="pin a time between years 1 and 9999 in UTC, e.g. " + _EXAMPLE_NOW
            )
        return value


class RenderSettings(_Model):
    """``[render]``: how variants are compiled and cached."""

    inliner: Literal["css-inline", "premailer"] = "css-inline"
    cache_size: int = _int(256, ge=1, le=100_000)
    merge_after: int = _int(1_000, ge=0)
    clip_bytes: int = _int(102_000, ge=1_000)
    max_depth: int = _int(200, ge=10, le=2_000)
    max_source_bytes: int = _int(1_000_000, ge=10_000)
    web_fonts: bool = Field(default=False, strict=True)
    code_cache: str | None = None

    @field_validator("code_cache")
    @classmethod
    def _folder(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError(
                f"expected a folder for compiled templates, such as '.personalize-cache', "
                f"got {value!r}"
            )
        return value


class LimitSettings(_Model):
    """``[limits]``: per-recipient resource limits that keep one bad record from hurting a send."""

    max_string_length: int = _int(10_000, ge=1)
    max_list_length: int = _int(1_000, ge=1)
    max_output_bytes: int = _int(2_000_000, ge=10_000)
    max_range: int = _int(1_000, ge=1)
    max_loop_iterations: int = _int(100_000, ge=1)


class MessageSettings(_Model):
    """``[message]``: defaults for the MIME message built from a rendered email."""

    sender: str | None = None
    reply_to: str | None = None
    unsubscribe: str | None = None  # dotted field path holding each recipient's unsubscribe URL


class FieldSpec(_Model):
    """One declared recipient field: a type, and optionally a default and constraints."""

    type: str
    default: Any = None
    required: bool = Field(default=False, strict=True)
    description: str = ""
    choices: tuple[Any, ...] | None = None
    max_length: int | None = Field(default=None, ge=1, strict=True)

    @field_validator("choices")
    @classmethod
    def _scalar_choices(cls, value: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        if value == ():
            raise _SettingError(
                "no choices given: no value could ever match",
                hint='list the allowed values, e.g. choices = ["Bronze", "Gold"], or remove '
                "choices",
            )
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
        folder = "pass the folder that holds personalize.toml (--project DIR)"
        if not root.exists():
            raise ConfigError(f"project folder {str(root)!r} does not exist", hint=folder)
        # PERSONALIZE_PROJECT is not checked as --project is, and naming the settings file
        # instead of its folder is an easy slip.
        if root.name in (SETTINGS_FILE, "pyproject.toml"):
            folder = f"pass the folder that holds it, {str(root.parent)!r} (--project DIR)"
        raise ConfigError(f"project folder {str(root)!r} is a file, not a folder", hint=folder)
    file = root / SETTINGS_FILE
    prefix: tuple[str, ...] = ()
    data: Any
    if file.is_file():
        text = read_text_file(file)
        data = parse_toml(text, SETTINGS_FILE)
    elif (root / "pyproject.toml").is_file():
        file = root / "pyproject.toml"
        text = read_text_file(file)
        tool = parse_toml(text, "pyproject.toml").get("tool")
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


def setting_error(
    settings: Settings, path: tuple[str, ...], message: str, hint: str | None
) -> ConfigError:
    """A ``ConfigError`` for a setting found wrong after loading, at its line and key path."""
    return ConfigError(
        message,
        file=settings.file,
        line=setting_line(settings, path),
        path=".".join(path),
        hint=hint,
    )


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
    cause = (err.get("ctx") or {}).get("error")
    hint = cause.hint if isinstance(cause, _SettingError) else None
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
