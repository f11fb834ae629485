"""The recipient schema: declared fields, and validation of a record into a Recipient."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from types import MappingProxyType
from typing import Annotated, Any, NotRequired

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)
from typing_extensions import TypedDict

from .config import FieldSpec, Settings, toml_line
from .errors import ConfigError, RecipientError, did_you_mean, short_repr
from .fieldtypes import (
    BUILTIN_TYPES,
    blank,
    builtin_types,
    choice_check,
    drop_blank,
    length_first,
    message_for,
    recipient_error,
    zone,
)
from .fieldtypes import URL_PATTERN as URL_PATTERN

__all__ = ["BUILTIN_TYPES", "Recipient", "Schema", "build_schema"]


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
        return zone(self.timezone)


class Schema:
    """The declared recipient fields, compiled into one fast pydantic validator."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._project = settings.project
        self._limits = settings.limits
        self.fields: dict[str, FieldSpec] = _with_builtin_fields(settings)
        self.types = settings.recipient.types
        self._file = settings.file
        self.tz = zone(self._project.timezone)
        self._built: dict[str, Any] = {}
        self._adapter: TypeAdapter[Any] = TypeAdapter(self._record_type())
        self.defaults = {
            name: spec.default for name, spec in self.fields.items() if spec.has_default
        }

    # -- building ---------------------------------------------------------------------------

    def _record_type(self) -> Any:
        return Annotated[
            self._typed_dict("Recipient", self.fields, ("recipient", "fields")),
            BeforeValidator(drop_blank),
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
                annotation = Annotated[annotation, AfterValidator(choice_check(choices))]
            if constraints:
                annotation = Annotated[annotation, Field(**constraints)]
            if spec.has_default:
                self._check_default(annotation, spec, (*where, field, "default"))
                # pydantic deep-copies a default it cannot hash, for every record that lacks
                # the field; a list default validates to a tuple anyway, so give it one.
                default = tuple(spec.default) if type(spec.default) is list else spec.default
                annotation = NotRequired[
                    Annotated[annotation, Field(default=default, validate_default=True)]
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
            reason = message_for(err)
            raise self._error(
                where,
                f"default {short_repr(spec.default)} does not fit: {reason}",
                f"give a default that is a valid {spec.type.strip()}, or remove it",
            ) from None

    def _annotation(self, type_name: str, where: tuple[str, ...]) -> Any:
        type_name = type_name.strip()
        limit = self._limits.max_string_length
        items = self._limits.max_list_length
        simple = builtin_types(max_string=limit, max_items=items, aware=self._aware)
        if type_name in simple:
            return simple[type_name]
        match = re.fullmatch(r"list\[(.+)\]", type_name)
        if match:
            item: Any = self._annotation(match.group(1), where)
            return Annotated[tuple[item, ...], BeforeValidator(length_first(items))]
        if type_name in self.types:
            if type_name not in self._built:
                self._built[type_name] = None  # guards against recursive types
                specs = self.types[type_name]
                typed = self._typed_dict(type_name, specs, ("recipient", "types", type_name))
                # Blank counts as missing so that defaults apply; without defaults, skip the
                # (per-object, Python-level) pass.
                if any(spec.has_default for spec in specs.values()):
                    typed = Annotated[typed, BeforeValidator(drop_blank)]
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
        try:
            data = self._adapter.validate_python(record)
        except ValidationError as exc:
            rid = _shown_id(record.get("id"))
            raise recipient_error(
                exc, rid=rid, source=source, line=line, limits=self._limits
            ) from None
        get = record.get
        defaulted = [name for name in self.defaults if blank(get(name))]
        project = self._project
        return Recipient(
            id=data["id"],
            data=data,
            locale=data.get("locale") or project.locale,
            timezone=data.get("timezone") or project.timezone,
            currency=data.get("currency") or project.currency,
            defaulted=frozenset(defaulted) if defaulted else _NONE_DEFAULTED,
        )


_NONE_DEFAULTED: frozenset[str] = frozenset()


def _shown_id(raw: Any) -> str | None:
    # The id goes into every error message: keep it short and free of control characters.
    if not isinstance(raw, str | int) or not str(raw).strip():
        return None
    text = str(raw)
    return text if len(text) <= 64 and text.isprintable() else short_repr(text, 64)


def _with_builtin_fields(settings: Settings) -> dict[str, FieldSpec]:
    fields = dict(settings.recipient.fields)
    fields.setdefault("id", FieldSpec(type="str", required=True))
    if fields["id"].type != "str" or not fields["id"].required:
        fields["id"] = FieldSpec(type="str", required=True, description=fields["id"].description)
    fields.setdefault("locale", FieldSpec(type="locale"))
    fields.setdefault("timezone", FieldSpec(type="timezone"))
    fields.setdefault("currency", FieldSpec(type="currency"))
    return fields


def build_schema(settings: Settings) -> Schema:
    """Compile the ``[recipient]`` declarations of ``settings`` into a validator."""
    return Schema(settings)
