"""The recipient schema: declared fields, and validation of a record into a Recipient."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from datetime import datetime
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

from .config import FieldSpec, Settings, setting_error
from .declarations import declared_fields, named_type
from .errors import ConfigError, RecipientError, did_you_mean, short_repr
from .fieldtypes import (
    BUILTIN_TYPES,
    RESERVED_NAMES,
    blank,
    builtin_types,
    choice_check,
    drop_blank,
    lean_list,
    lean_text,
    lean_types,
    length_first,
    zone,
)
from .fieldtypes import URL_PATTERN as URL_PATTERN
from .recipient import Recipient as Recipient
from .recipient import message_for, new_recipient, recipient_error, shown_id

__all__ = ["BUILTIN_TYPES", "RESERVED_NAMES", "Recipient", "Schema", "build_schema"]


class Schema:
    """The declared recipient fields, compiled into fast pydantic validators."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._project = settings.project
        self._limits = settings.limits
        self.fields: dict[str, FieldSpec] = declared_fields(settings)
        self.types = settings.recipient.types
        self.tz = zone(self._project.timezone)
        limit = self._limits.max_string_length
        # The simple types' annotations, built once for all fields; then with the lean forms.
        builtin = builtin_types(
            max_string=limit, max_items=self._limits.max_list_length, aware=self._aware
        )
        self._simple = {
            False: builtin,
            True: builtin | lean_types(max_string=limit, aware=self._aware),
        }
        self._built: dict[tuple[str, bool], Any] = {}
        self._given: dict[tuple[str, ...], Any] = {}
        self._text = lean_text(limit)
        where = ("recipient", "fields")
        # Built first: each default is validated with these types (see `_default`).
        self._record = self._typed_dict("Recipient", self.fields, where)
        # A dict record is tried first with the lean types, its blank fields dropped and its
        # result wrapped by `validate` itself: pydantic calling Python for each costs more,
        # and the fields left after the drop tell which ones are defaulted.
        lean = self._typed_dict("Recipient", self.fields, where, lean=True)
        self._lean: Callable[[Any], dict[str, Any]] = TypeAdapter(lean).validator.validate_python
        self.defaults = {
            name: spec.default for name, spec in self.fields.items() if spec.has_default
        }
        self._default_names = frozenset(self.defaults)
        for name in self.types:
            # Types no field uses yet are checked too: their mistakes are settings mistakes.
            self._annotation(name, ("recipient", "types", name))

    # -- building ---------------------------------------------------------------------------

    @functools.cached_property
    def _adapter(self) -> TypeAdapter[Any]:
        # Validation as it always was, blanks dropped inside pydantic: for other mappings and
        # for whatever the lean try refused, so that these are accepted or reported exactly as
        # before. Built on first use: valid JSON records never need it.
        record: Any = Annotated[self._record, BeforeValidator(drop_blank)]
        return TypeAdapter(record)

    def _typed_dict(
        self,
        name: str,
        specs: Mapping[str, FieldSpec],
        where: tuple[str, ...],
        *,
        lean: bool = False,
    ) -> Any:
        annotations: dict[str, Any] = {}
        for field, spec in specs.items():
            kind = spec.type.strip()
            listed = named_type(kind) != kind
            if spec.max_length is not None and not listed and kind not in _SIZED:
                # pydantic would fail every record (or the default) with a TypeError.
                raise self._error(
                    (*where, field, "max_length"),
                    f"max_length does not apply to a field of type {kind!r}",
                    "remove it: max_length limits text (characters), list[…] and map (items)",
                )
            if lean and kind == "str":
                # Blank text is refused, not kept: the full validation drops it as missing.
                annotation = self._text
            else:
                # A field's own max_length would replace a lean type's limits (an address's
                # 254 characters, the project's) where it adds to the built-in type's checks.
                # A lean list keeps its form, which refuses iterators (the try must not use
                # them up), and checks the tighter limit itself, before its items.
                own = lean and (spec.max_length is None or listed)
                annotation = self._annotation(
                    spec.type, (*where, field, "type"), lean=own, max_items=spec.max_length
                )
            constraints: dict[str, Any] = {}
            if spec.max_length is not None and not (lean and listed):
                if listed or kind == "map":
                    # A list's (or map's) own limit, like the project's, before its items.
                    check = BeforeValidator(length_first(spec.max_length))
                    annotation = Annotated[annotation, check]
                else:
                    constraints["max_length"] = spec.max_length
            if spec.choices is not None:
                if not lean:
                    self._check_choices(annotation, spec, (*where, field, "choices"))
                choices = frozenset(spec.choices)
                annotation = Annotated[annotation, AfterValidator(choice_check(choices))]
            if constraints:
                annotation = Annotated[annotation, Field(**constraints)]
            if spec.has_default:
                default = self._default(annotation, spec, (*where, field, "default"))
                annotation = NotRequired[Annotated[annotation, default]]
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

    def _default(self, annotation: Any, spec: FieldSpec, where: tuple[str, ...]) -> Any:
        # Validated once, with the built-in types (the lean ones may refuse a valid default,
        # such as a URL in spaces): the lean build, second, finds it here.
        if where not in self._given:
            self._given[where] = _default_field(self._check_default(annotation, spec, where))
        return self._given[where]

    def _check_default(self, annotation: Any, spec: FieldSpec, where: tuple[str, ...]) -> Any:
        # A default that does not fit its own type would fail every record that lacks the
        # field; it is a settings mistake, so it is reported once, at load time. The value it
        # validates to is the one every such record gets: validation gives it each time.
        hint = f"give a default that is a valid {spec.type.strip()}, or remove it"
        return self._probe(annotation, spec.default, where, "default", hint)

    def _check_choices(self, annotation: Any, spec: FieldSpec, where: tuple[str, ...]) -> None:
        # A choice that the field's type refuses, or changes (1 for a str field holds '1'),
        # can never equal a record's value.
        for choice in spec.choices or ():
            hint = f"give choices that are valid {spec.type.strip()} values"
            value = self._probe(annotation, choice, where, "choice", hint)
            if value != choice:
                raise self._error(
                    where,
                    f"choice {short_repr(choice)} can never match: a {spec.type.strip()} field "
                    f"holds it as {short_repr(value)}",
                    f"write the choice as {short_repr(value)}",
                )

    def _probe(
        self, annotation: Any, value: Any, where: tuple[str, ...], what: str, hint: str
    ) -> Any:
        probe = self._with_config(TypedDict("Probe", {"value": annotation}))  # type: ignore[operator]
        try:
            return TypeAdapter(probe).validate_python({"value": value})["value"]
        except ValidationError as exc:
            reason = message_for(exc.errors(include_url=False)[0])
            message = f"{what} {short_repr(value)} does not fit: {reason}"
            raise self._error(where, message, hint) from None

    def _annotation(
        self,
        type_name: str,
        where: tuple[str, ...],
        *,
        lean: bool = False,
        max_items: int | None = None,
    ) -> Any:
        # `max_items`: a field's own limit, for a lean list (not for the lists inside it).
        type_name = type_name.strip()
        items = self._limits.max_list_length
        simple = self._simple[lean]
        if type_name in simple:
            return simple[type_name]
        match = re.fullmatch(r"list\[(.+)\]", type_name)
        if match:
            item: Any = self._annotation(match.group(1), where, lean=lean)
            if lean:
                return lean_list(item, min(items, max_items or items))
            return Annotated[tuple[item, ...], BeforeValidator(length_first(items))]
        if type_name in self.types:
            key = (type_name, lean)
            if key not in self._built:
                self._built[key] = None  # guards against recursive types
                specs = self.types[type_name]
                typed = self._typed_dict(
                    type_name, specs, ("recipient", "types", type_name), lean=lean
                )
                # Blank counts as missing at every depth. The lean types refuse every blank
                # value but an optional field's null (which is missing anyway), so only the
                # full validation needs the (per-object, Python-level) pass.
                if not lean:
                    typed = Annotated[typed, BeforeValidator(drop_blank)]
                self._built[key] = Annotated[typed, AfterValidator(MappingProxyType)]
            if self._built[key] is None:
                raise self._error(where, f"type {type_name!r} contains itself", None)
            return self._built[key]
        known = (*BUILTIN_TYPES, *self.types)
        raise self._error(
            where,
            f"unknown field type {type_name!r}",
            did_you_mean(type_name, known)
            or f"use one of {', '.join(BUILTIN_TYPES)}, list[T], or a type declared under "
            "[recipient.types]",
        )

    def _error(self, where: tuple[str, ...], message: str, hint: str | None) -> ConfigError:
        return setting_error(self._settings, where, message, hint)

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
                inner = named_type(spec.type)
                if inner in self.types and inner not in seen:
                    walk(f"{path}.", self.types[inner], seen | {inner})

        walk("", self.fields, frozenset())
        return frozenset(out)

    def spec(self, path: str) -> FieldSpec | None:
        """The declaration of a dotted field path (``links.unsubscribe``), or ``None``."""
        specs: Mapping[str, FieldSpec] = self.fields
        spec: FieldSpec | None = None
        for part in path.split("."):
            if spec is not None:
                specs = self.types.get(named_type(spec.type), {})
            spec = specs.get(part)
            if spec is None:
                return None
        return spec

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
        if type(record) is dict:
            try:
                values = record.values()
                # Blank fields count as missing: dropped so that defaults apply. Text of spaces
                # only is left in (it is rare), for the lean types to refuse.
                kept = drop_blank(record) if "" in values or None in values else record
                data = self._lean(kept)
            except Exception:
                # Refused by the lean types, or a value that cannot be compared with "": the
                # record is validated as ever, which accepts or reports it.
                pass
            else:
                # A field with a default is defaulted exactly when its value is missing or
                # blank, that is when the drop left it out (blanks left in were refused).
                defaulted = self._default_names.difference(kept) or _NONE_DEFAULTED
                return self._recipient(data, defaulted)
        return self._validate_other(record, source=source, line=line)

    def _validate_other(
        self, record: Mapping[str, Any] | Recipient, *, source: str | None, line: int | None
    ) -> Recipient:
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
            rid = shown_id(record.get("id"))
            raise recipient_error(
                exc, rid=rid, source=source, line=line, limits=self._limits
            ) from None
        get = record.get
        defaulted = [name for name in self.defaults if blank(get(name))]
        return self._recipient(data, frozenset(defaulted) if defaulted else _NONE_DEFAULTED)

    def _recipient(self, data: dict[str, Any], defaulted: frozenset[str]) -> Recipient:
        project = self._project
        # Every declared field is in `data`, these three included (see _with_builtin_fields).
        return new_recipient(
            data["id"],
            MappingProxyType(data),
            data["locale"] or project.locale,
            data["timezone"] or project.timezone,
            data["currency"] or project.currency,
            defaulted,
        )


_NONE_DEFAULTED: frozenset[str] = frozenset()
# The types a max_length applies to (besides list[T]): text, and map (entries).
_SIZED = frozenset({"str", "email", "url", "locale", "timezone", "currency", "map"})


def _default_field(value: Any) -> Any:
    """The ``Field`` that gives ``value``, a validated default, to every record lacking it."""
    try:
        hash(value)
    except TypeError:
        # pydantic deep-copies a default it cannot hash (a tuple of objects, a map), which a
        # read-only mapping does not survive; the value is immutable, so hand out the one.
        return Field(default_factory=lambda: value)
    return Field(default=value)


def build_schema(settings: Settings) -> Schema:
    """Compile the ``[recipient]`` declarations of ``settings`` into a validator."""
    return Schema(settings)
