"""The recipient schema: declared fields, and validation of a record into a Recipient."""

from __future__ import annotations

import functools
import math
import re
import zoneinfo
from collections.abc import Callable, Mapping, Sized
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from types import MappingProxyType
from typing import Annotated, Any, NotRequired

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

from .config import FieldSpec, LimitSettings, Settings, toml_line
from .errors import ConfigError, RecipientError, did_you_mean, format_path, short_repr

__all__ = ["BUILTIN_TYPES", "Recipient", "Schema", "build_schema"]

BUILTIN_TYPES = (
    "str",
    "int",
    "float",
    "decimal",
    "bool",
    "date",
    "datetime",
    "email",
    "url",
    "locale",
    "timezone",
    "currency",
    "map",
)
_EMAIL = re.compile(
    r"^[^@\s<>(),;:\"\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)
_LOCALE = re.compile(r"^[a-z]{2,3}(_[A-Z][a-z]{3})?(_[A-Z]{2}|_\d{3})?$")
# No surrounding `\s*` in the pattern: with Unicode spaces allowed inside the URL, that
# backtracks quadratically on hostile input (10,000 characters took half a second).
URL_PATTERN = r"(?i)^(?:https?://|mailto:)[^\x00-\x20\x7f]+$"


@dataclass(frozen=True, slots=True)
class Recipient:
    """A validated, immutable recipient.

    Attributes:
        id: The recipient's id (always a string).
        data: Every declared field (``None`` where an optional field is absent).
        locale: The recipient's locale, e.g. ``de_DE`` (project default when absent).
        timezone: An IANA time zone name (project default when absent).
        currency: An ISO 4217 code (project default when absent).
        defaulted: Fields whose value came from their declared default.
    """

    id: str
    data: Mapping[str, Any]
    locale: str
    timezone: str
    currency: str
    defaulted: frozenset[str] = frozenset()

    def __getitem__(self, name: str) -> Any:
        return self.data[name]

    def get(self, name: str, default: Any = None) -> Any:
        """A field's value, or ``default`` when it is absent or ``None``."""
        value = self.data.get(name)
        return default if value is None else value

    @property
    def tz(self) -> tzinfo:
        """The recipient's time zone as a ``tzinfo``."""
        return _zone(self.timezone)


@functools.lru_cache(maxsize=512)
def _zone(name: str) -> tzinfo:
    return zoneinfo.ZoneInfo(name)


def _check_email(value: str) -> str:
    value = value.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("expected an email address such as 'ann@example.com'")
    return value


def _not_bool(kind: str) -> Callable[[Any], Any]:
    # pydantic reads true as 1; a flag in a number field is a data error, not a number.
    def check(value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError(kind, "not a number")
        return value

    return check


def _length_first(limit: int) -> Callable[[Any], Any]:
    # pydantic checks a list's length only after validating its items: a 100,000-item list
    # would be validated item by item and reported by its first bad item, not by its size.
    def check(value: Any) -> Any:
        if isinstance(value, Sized) and not isinstance(value, str | bytes) and len(value) > limit:
            raise PydanticCustomError("too_long", "too long", {"max_length": limit})
        return value

    return check


def _map_value(limit: int) -> Callable[[Any], Any]:
    # One check instead of a union: a union reports one error per member, and coerced NaN
    # to the text 'nan'.
    def check(value: Any) -> Any:
        if value is None or isinstance(value, int):
            return value
        if isinstance(value, float | Decimal):
            if not math.isfinite(value):
                raise PydanticCustomError("finite_number", "not finite")
            return value
        if isinstance(value, str):
            if len(value) > limit:
                raise PydanticCustomError("string_too_long", "too long", {"max_length": limit})
            if not _encodable(value):
                raise PydanticCustomError("string_unicode", "lone surrogate")
            return value
        raise PydanticCustomError("map_value", "not a scalar")

    return check


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_locale(value: str) -> str:
    value = value.strip().replace("-", "_")
    if not _LOCALE.match(value):
        raise ValueError("expected a locale such as 'en_US' or 'de_DE'")
    return value


def _check_timezone(value: str) -> str:
    try:
        _zone(value.strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError("expected an IANA time zone such as 'Europe/Berlin'") from None
    return value.strip()


def _check_currency(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{3}", value.strip()):
        raise ValueError("expected an ISO 4217 currency code such as 'EUR'")
    return value.strip().upper()


def _blank(value: Any) -> bool:
    return value is None or (type(value) is str and (not value or value.isspace()))


def _drop_blank(value: Any) -> Any:
    # Blank strings and nulls count as missing, so that declared defaults apply to them.
    # Per object on the hot path: scan cheaply, copy only when something is blank.
    if type(value) is not dict:
        return (
            {k: v for k, v in value.items() if not _blank(v)}
            if isinstance(value, Mapping)
            else value
        )
    for item in value.values():
        if item is None or item == "" or (type(item) is str and item[:1].isspace()):
            return {k: v for k, v in value.items() if not _blank(v)}
    return value


class Schema:
    """The declared recipient fields, compiled into one fast pydantic validator."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._project = settings.project
        self._limits = settings.limits
        self.fields: dict[str, FieldSpec] = _with_builtin_fields(settings)
        self.types = settings.recipient.types
        self._file = settings.file
        self.tz = _zone(self._project.timezone)
        self._built: dict[str, Any] = {}
        self._adapter: TypeAdapter[Any] = TypeAdapter(self._record_type())
        self.defaults = {
            name: spec.default for name, spec in self.fields.items() if spec.has_default
        }

    # -- building ---------------------------------------------------------------------------

    def _record_type(self) -> Any:
        return Annotated[
            self._typed_dict("Recipient", self.fields, ("recipient", "fields")),
            BeforeValidator(_drop_blank),
            AfterValidator(MappingProxyType),
        ]

    def _typed_dict(self, name: str, specs: Mapping[str, FieldSpec], where: tuple[str, ...]) -> Any:
        annotations: dict[str, Any] = {}
        for field, spec in specs.items():
            annotation = self._annotation(spec.type, (*where, field, "type"))
            constraints: dict[str, Any] = {}
            if spec.max_length is not None:
                constraints["max_length"] = spec.max_length
            if spec.choices is not None:
                choices = frozenset(spec.choices)
                annotation = Annotated[annotation, AfterValidator(_choice_check(choices))]
            if constraints:
                annotation = Annotated[annotation, Field(**constraints)]
            if spec.has_default:
                self._check_default(annotation, spec, (*where, field, "default"))
                annotation = NotRequired[
                    Annotated[annotation, Field(default=spec.default, validate_default=True)]
                ]
            elif not spec.required:
                # Every declared field is present, None when absent (nested ones too), so
                # templates can test `{% if product.image %}` without a StrictUndefined error.
                annotation = NotRequired[Annotated[annotation | None, Field(default=None)]]
            annotations[field] = annotation
        return self._with_config(TypedDict(name, annotations))  # type: ignore[operator]

    def _with_config(self, typed: Any) -> Any:
        # pydantic reads a TypedDict's config from this attribute.
        typed.__pydantic_config__ = ConfigDict(
            extra="ignore",
            allow_inf_nan=False,
            str_max_length=self._limits.max_string_length,
            coerce_numbers_to_str=True,
        )
        return typed

    def _check_default(self, annotation: Any, spec: FieldSpec, where: tuple[str, ...]) -> None:
        # A default that does not fit its own type would fail every record that lacks the
        # field; it is a settings mistake, so it is reported once, at load time.
        probe = self._with_config(TypedDict("Default", {"value": annotation}))  # type: ignore[operator]
        try:
            TypeAdapter(probe).validate_python({"value": spec.default})
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            reason = _message(err)
            raise self._error(
                where,
                f"default {short_repr(spec.default)} does not fit: {reason}",
                f"give a default that is a valid {spec.type.strip()}, or remove it",
            ) from None

    def _annotation(self, type_name: str, where: tuple[str, ...]) -> Any:
        type_name = type_name.strip()
        limit = self._limits.max_string_length
        items = self._limits.max_list_length
        # U+FDD0–U+FDEF are reserved for the text converter's marks (and invalid in text).
        text = Annotated[str, Field(max_length=limit, pattern="^[^\ufdd0-\ufdef]*$")]
        simple: dict[str, Any] = {
            "str": text,
            "int": Annotated[int, BeforeValidator(_not_bool("int_type"))],
            "float": Annotated[float, BeforeValidator(_not_bool("float_type"))],
            "decimal": Annotated[Decimal, BeforeValidator(_not_bool("decimal_type"))],
            "bool": bool,
            "date": date,
            "datetime": Annotated[datetime, AfterValidator(self._aware)],
            "email": Annotated[str, AfterValidator(_check_email)],
            # Checked by pydantic-core itself (Rust regex, linear time): no Python call per URL.
            "url": Annotated[
                str,
                StringConstraints(strip_whitespace=True, max_length=limit, pattern=URL_PATTERN),
            ],
            "locale": Annotated[str, AfterValidator(_check_locale)],
            "timezone": Annotated[str, AfterValidator(_check_timezone)],
            "currency": Annotated[str, AfterValidator(_check_currency)],
            "map": Annotated[
                dict[str, Annotated[Any, AfterValidator(_map_value(limit))]],
                BeforeValidator(_length_first(items)),
                AfterValidator(MappingProxyType),
            ],
        }
        if type_name in simple:
            return simple[type_name]
        match = re.fullmatch(r"list\[(.+)\]", type_name)
        if match:
            item: Any = self._annotation(match.group(1), where)
            return Annotated[tuple[item, ...], BeforeValidator(_length_first(items))]
        if type_name in self.types:
            if type_name not in self._built:
                self._built[type_name] = None  # guards against recursive types
                specs = self.types[type_name]
                typed = self._typed_dict(type_name, specs, ("recipient", "types", type_name))
                # Blank counts as missing so that defaults apply; without defaults, skip the
                # (per-object, Python-level) pass.
                if any(spec.has_default for spec in specs.values()):
                    typed = Annotated[typed, BeforeValidator(_drop_blank)]
                self._built[type_name] = Annotated[typed, AfterValidator(MappingProxyType)]
            if self._built[type_name] is None:
                raise self._error(where, f"type {type_name!r} contains itself", None)
            return self._built[type_name]
        known = (*BUILTIN_TYPES, *self.types)
        raise self._error(
            where,
            f"unknown field type {type_name!r}",
            did_you_mean(type_name, known)
            or f"use one of {', '.join(BUILTIN_TYPES)}, list[T], or a type declared under "
            "[recipient.types]",
        )

    def _error(self, where: tuple[str, ...], message: str, hint: str | None) -> ConfigError:
        root = self._settings.root / self._file
        text = root.read_text(encoding="utf-8") if root.is_file() else ""
        # In pyproject.toml the settings live under [tool.personalize].
        prefix = ("tool", "personalize") if self._file == "pyproject.toml" else ()
        return ConfigError(
            message,
            file=self._file,
            line=toml_line(text, (*prefix, *where)),
            path=".".join(where),
            hint=hint,
        )

    def _aware(self, value: datetime) -> datetime:
        # Naive datetimes are read in the project's time zone (documented in file-format.md).
        return value.replace(tzinfo=self.tz) if value.tzinfo is None else value

    # -- queries ----------------------------------------------------------------------------

    def paths(self) -> frozenset[str]:
        """Every declared field path, nested ones dotted: ``orders``, ``orders.total``…"""
        out: set[str] = set()

        def walk(prefix: str, specs: Mapping[str, FieldSpec], seen: frozenset[str]) -> None:
            for name, spec in specs.items():
                path = f"{prefix}{name}"
                out.add(path)
                inner = re.fullmatch(r"(?:list\[)*(\w+)\]*", spec.type.strip())
                if inner and inner.group(1) in self.types and inner.group(1) not in seen:
                    walk(f"{path}.", self.types[inner.group(1)], seen | {inner.group(1)})

        walk("", self.fields, frozenset())
        return frozenset(out)

    # -- validation -------------------------------------------------------------------------

    def validate(
        self,
        record: Mapping[str, Any] | Recipient,
        *,
        source: str | None = None,
        line: int | None = None,
    ) -> Recipient:
        """Validate one record into an immutable ``Recipient``.

        Raises:
            RecipientError: names the recipient id, the field path, what was expected and
                the offending value, plus ``source`` and ``line`` when given.
        """
        if isinstance(record, Recipient):
            return record
        if not isinstance(record, Mapping):
            raise RecipientError(
                f"expected a JSON object (mapping of fields), got {type(record).__name__}",
                file=source,
                line=line,
            )
        rid = _shown_id(record.get("id"))
        try:
            data = self._adapter.validate_python(record)
        except ValidationError as exc:
            raise _recipient_error(exc, rid, source, line, self._limits) from None
        defaulted = frozenset(name for name in self.defaults if _blank(record.get(name)))
        project = self._project
        return Recipient(
            id=data["id"],
            data=data,
            locale=data.get("locale") or project.locale,
            timezone=data.get("timezone") or project.timezone,
            currency=data.get("currency") or project.currency,
            defaulted=defaulted,
        )


def _shown_id(raw: Any) -> str | None:
    # The id goes into every error message: keep it short and free of control characters.
    if not isinstance(raw, str | int) or not str(raw).strip():
        return None
    text = str(raw)
    return text if len(text) <= 64 and text.isprintable() else short_repr(text, 64)


def _choice_check(choices: frozenset[Any]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value not in choices:
            listed = ", ".join(sorted(map(repr, choices)))
            raise ValueError(f"expected one of {listed}")
        return value

    return check


def _with_builtin_fields(settings: Settings) -> dict[str, FieldSpec]:
    fields = dict(settings.recipient.fields)
    fields.setdefault("id", FieldSpec(type="str", required=True))
    if fields["id"].type != "str" or not fields["id"].required:
        fields["id"] = FieldSpec(type="str", required=True, description=fields["id"].description)
    fields.setdefault("locale", FieldSpec(type="locale"))
    fields.setdefault("timezone", FieldSpec(type="timezone"))
    fields.setdefault("currency", FieldSpec(type="currency"))
    return fields


_MESSAGES = {
    "missing": "required field is missing",
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "int_parsing_size": "expected a whole number",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "decimal_parsing": "expected a number",
    "decimal_type": "expected a number",
    "finite_number": "expected a finite number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected text",
    "string_unicode": "text holds an invalid character (a lone surrogate)",
    "string_pattern_mismatch": "text holds a Unicode noncharacter (U+FDD0–U+FDEF)",
    "url_pattern_mismatch": "expected an http(s) or mailto URL",
    "date_parsing": "expected an ISO date such as 2026-11-20",
    "date_from_datetime_parsing": "expected an ISO date such as 2026-11-20",
    "date_from_datetime_inexact": "expected an ISO date such as 2026-11-20 (without a time)",
    "date_type": "expected an ISO date such as 2026-11-20",
    "datetime_parsing": "expected an ISO date-time such as 2026-11-20T09:00:00+01:00",
    "datetime_from_date_parsing": "expected an ISO date-time such as 2026-11-20T09:00:00+01:00",
    "datetime_type": "expected an ISO date-time such as 2026-11-20T09:00:00+01:00",
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "dict_type": "expected an object",
    "model_type": "expected an object",
    "typed_dict_type": "expected an object",
    "map_value": "expected text, a number, true/false or null",
}
_SIZE_ERRORS = ("string_too_long", "too_long")


def _message(err: Any) -> str:
    """What was expected, in our words, for one pydantic error."""
    kind = err["type"]
    if kind == "string_pattern_mismatch" and (err.get("ctx") or {}).get("pattern") == URL_PATTERN:
        kind = "url_pattern_mismatch"  # the two patterns we set mean different things
    return _MESSAGES.get(kind) or str(err["msg"]).removeprefix("Value error, ")


def _recipient_error(
    exc: ValidationError,
    rid: str | None,
    source: str | None,
    line: int | None,
    limits: LimitSettings,
) -> RecipientError:
    errors = exc.errors(include_url=False)
    # A size limit is the most useful thing to report: the rest of such a value is noise.
    err = next((e for e in errors if e["type"] in _SIZE_ERRORS), errors[0])
    loc = [
        # Keys of a map come from the data: show them escaped, like any other value.
        p if isinstance(p, int) or (p.isprintable() and len(p) <= 64) else short_repr(p, 64)
        for p in err["loc"]
        if not (isinstance(p, str) and p.startswith("function-"))
    ]
    kind = err["type"]
    if kind in _SIZE_ERRORS:
        limit = (err.get("ctx") or {}).get("max_length")
        unit = "characters" if kind == "string_too_long" else "items"
        message = f"longer than the limit of {limit} {unit}"
        hint: str | None = (
            "raise [limits] in personalize.toml if this size is intended"
            if limit in (limits.max_string_length, limits.max_list_length)
            else "shorten it, or raise the field's max_length in personalize.toml"
        )
        value = err["input"]
        # A number checked as text (coerced) has a length only once converted.
        shown = (
            f"{type(value).__name__} of length {len(value)}"
            if isinstance(value, Sized)
            else short_repr(value)
        )
    else:
        message = _message(err)
        hint = "fix the record, or declare a default for the field" if kind == "missing" else None
        shown = short_repr(err["input"]) if kind != "missing" else ""
    if shown:
        message += f", got {shown}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return RecipientError(
        message, file=source, line=line, recipient=rid, path=format_path(loc), hint=hint
    )


def build_schema(settings: Settings) -> Schema:
    """Compile the ``[recipient]`` declarations of ``settings`` into a validator."""
    return Schema(settings)
