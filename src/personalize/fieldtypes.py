"""Recipient field types: each built-in type's pydantic annotation and checks."""

from __future__ import annotations

import functools
import math
import re
import zoneinfo
from collections.abc import Callable, Mapping, Sized
from datetime import date, datetime, tzinfo
from decimal import Decimal
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    GetPydanticSchema,
    StringConstraints,
)
from pydantic_core import PydanticCustomError, core_schema

from .addresses import LABEL, LEAN_ATEXT, address_problem
from .errors import short_repr

__all__ = [
    "BUILTIN_TYPES",
    "EMAIL_EXPECTED",
    "RESERVED_NAMES",
    "SPACES",
    "URL_PATTERN",
    "blank",
    "builtin_types",
    "check_timezone",
    "choice_check",
    "drop_blank",
    "formatting_problem",
    "host_zone_file",
    "lean_list",
    "lean_text",
    "lean_types",
    "length_first",
    "zone",
]

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
# Names that templates read as something other than a field: set by render.context_for after
# the fields, the environments' globals, Jinja's own names and literals (a test checks them).
RESERVED_NAMES = frozenset(
    {"now", "segments", "range", "dict", "lipsum", "cycler", "joiner", "namespace"}
    | {"loop", "self", "caller", "varargs", "kwargs", "super"}
    | {"true", "false", "none", "True", "False", "None"}
)
# Noncharacters (U+FDD0–U+FDEF) are the text part's marks: refused in every kind of text.
_NONCHAR = "\ufdd0-\ufdef"
_MARKS = re.compile(f"[{_NONCHAR}]")
EMAIL_EXPECTED = "expected an email address such as 'ann@example.com'"
_LOCALE = re.compile(r"^[a-z]{2,3}(_[A-Z][a-z]{3})?(_[A-Z]{2}|_\d{3})?$")
_CONTAINERS = frozenset({list, tuple, dict})
# No surrounding `\s*` in the pattern: with Unicode spaces allowed inside the URL, that
# backtracks quadratically on hostile input (10,000 characters took half a second).
URL_PATTERN = rf"(?i)^(?:https?://|mailto:)[^\x00-\x20\x7f{_NONCHAR}]+$"


@functools.lru_cache(maxsize=512)
def zone(name: str) -> tzinfo:
    """The ``tzinfo`` of an IANA zone name (cached).

    Raises:
        zoneinfo.ZoneInfoNotFoundError: no such zone.
        ValueError: a malformed name.
    """
    return zoneinfo.ZoneInfo(name)


def _check_email(value: str) -> str:
    value = value.strip()
    problem = address_problem(value)
    if problem is not None:
        raise PydanticCustomError("email_address", EMAIL_EXPECTED, {"hint": problem})
    return value


def _not_bool(kind: str) -> Callable[[Any], Any]:
    # pydantic reads true as 1; a flag in a number field is a data error, not a number.
    def check(value: Any) -> Any:
        if type(value) is bool:  # bool has no subclasses
            raise PydanticCustomError(kind, "not a number")
        return value

    return check


def length_first(limit: int) -> Callable[[Any], Any]:
    """A check that refuses a list or mapping of more than ``limit`` items, before its items."""

    # pydantic checks a list's length only after validating its items: a 100,000-item list
    # would be validated item by item and reported by its first bad item, not by its size.
    def check(value: Any) -> Any:
        # Exact types first: the Sized check is a slow ABC check, and runs per list per record.
        if type(value) in _CONTAINERS:
            if len(value) > limit:
                raise PydanticCustomError("too_long", "too long", {"max_length": limit})
            return value
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
            if _MARKS.search(value):
                raise PydanticCustomError("noncharacter", "a noncharacter")
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


def host_zone_file(name: str) -> bool:
    """Whether ``name`` is a file of the host's zone database (``localtime``, ``right/…``),
    which differ between machines, rather than an IANA zone."""
    return name in ("localtime", "posixrules") or name.startswith(("posix/", "right/"))


def check_timezone(value: str) -> str:
    """``value`` without surrounding whitespace, if it names an IANA zone.

    Raises:
        ValueError: it names none, or a file of the host's zone database.
    """
    name = value.strip()
    try:
        if host_zone_file(name):
            raise ValueError(name)
        zone(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError("expected an IANA time zone such as 'Europe/Berlin'") from None
    return name


def _check_currency(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{3}", value.strip()):
        raise ValueError("expected an ISO 4217 currency code such as 'EUR'")
    return value.strip().upper()


_FORMATTING: Mapping[str, Callable[[str], str]] = MappingProxyType(
    {"locale": _check_locale, "timezone": check_timezone, "currency": _check_currency}
)


def formatting_problem(field: str, value: Any) -> str | None:
    """What is wrong with a recipient's ``id``, ``locale``, ``timezone`` or ``currency``.

    ``None`` when nothing is: each is text, the last three as validation leaves them
    (``de_DE``, not ``de-DE``).
    """
    if not isinstance(value, str):
        return f"expected text, got {short_repr(value)}"
    check = _FORMATTING.get(field)
    try:
        if check is None or check(value) == value:
            return None
        return f"expected {check(value)!r}, as validation writes it, got {value!r}"
    except ValueError as exc:
        return f"{exc}, got {short_repr(value)}"


def blank(value: Any) -> bool:
    """Whether a field's value counts as missing: None, or text of whitespace only."""
    return value is None or (type(value) is str and (not value or value.isspace()))


def drop_blank(value: Any) -> Any:
    """An object without its blank fields (``value`` itself when none is blank)."""
    # Blank strings and nulls count as missing, so that declared defaults apply to them.
    # Per object on the hot path: scan cheaply, copy only when something is blank.
    if type(value) is not dict:
        return (
            {k: v for k, v in value.items() if not blank(v)}
            if isinstance(value, Mapping)
            else value
        )
    for item in value.values():
        if item is None or item == "" or (type(item) is str and item[:1].isspace()):
            return {k: v for k, v in value.items() if not blank(v)}
    return value


def choice_check(choices: frozenset[Any]) -> Callable[[Any], Any]:
    """A check that refuses values outside ``choices``, listing them in its message."""

    def check(value: Any) -> Any:
        if value not in choices:
            listed = ", ".join(sorted(map(repr, choices)))
            raise ValueError(f"expected one of {listed}")
        return value

    return check


def builtin_types(
    *, max_string: int, max_items: int, aware: Callable[[datetime], datetime]
) -> dict[str, Any]:
    """The pydantic annotation of each built-in type but ``list[T]``, by type name.

    Args:
        max_string: The longest text allowed (also in ``map`` values and URLs).
        max_items: The most entries a ``map`` may hold.
        aware: Gives a naive date-time its zone.
    """
    # U+FDD0–U+FDEF are reserved for the text converter's marks (and invalid in text).
    text = Annotated[str, Field(max_length=max_string, pattern=f"^[^{_NONCHAR}]*$")]
    return {
        "str": text,
        "int": Annotated[int, BeforeValidator(_not_bool("int_type"))],
        "float": Annotated[float, BeforeValidator(_not_bool("float_type"))],
        "decimal": Annotated[Decimal, BeforeValidator(_not_bool("decimal_type"))],
        "bool": bool,
        "date": date,
        "datetime": Annotated[datetime, AfterValidator(aware)],
        "email": Annotated[str, AfterValidator(_check_email)],
        # Checked by pydantic-core itself (Rust regex, linear time): no Python call per URL.
        "url": Annotated[
            str,
            StringConstraints(strip_whitespace=True, max_length=max_string, pattern=URL_PATTERN),
        ],
        "locale": Annotated[str, AfterValidator(_check_locale)],
        "timezone": Annotated[str, AfterValidator(check_timezone)],
        "currency": Annotated[str, AfterValidator(_check_currency)],
        "map": Annotated[
            dict[str, Annotated[Any, AfterValidator(_map_value(max_string))]],
            BeforeValidator(length_first(max_items)),
            AfterValidator(MappingProxyType),
        ],
    }


# What str.isspace counts as whitespace, as a regex class; pydantic-core strips the same but
# U+001C–U+001F (Unicode White_Space). A test checks it against every character.
SPACES = "\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def _whole(_source: Any, _handler: Any) -> core_schema.CoreSchema:
    # A fresh schema for each field: pydantic may alter the schemas it is handed.
    return core_schema.union_schema(
        [
            core_schema.int_schema(strict=True),  # refuses bools
            core_schema.chain_schema(
                [core_schema.str_schema(strict=True), core_schema.int_schema()]
            ),
            core_schema.chain_schema(
                [core_schema.float_schema(strict=True), core_schema.int_schema()]
            ),
        ],
        mode="left_to_right",
    )


def lean_types(*, max_string: int, aware: Callable[[datetime], datetime]) -> dict[str, Any]:
    """Narrower forms of some built-in types, checked by pydantic-core alone (no Python call).

    Each accepts only values that its built-in type accepts, with the same result. The rest
    (another kind of number, a URL in spaces, blank text) fails, and `Schema.validate` then
    validates the record again with the built-in types, which report or accept it as ever.
    """

    # The patterns match only what the checks accept and leave as it is: nothing to strip
    # (no whitespace at either end), nothing to normalize ('de-DE', 'eur').
    def text(pattern: str, longest: int = max_string) -> Any:
        return Annotated[str, Field(max_length=longest, pattern=pattern)]

    return {
        "int": Annotated[int, GetPydanticSchema(_whole)],
        # An aware date-time as it is; a naive one still gets the project's zone.
        "datetime": Annotated[
            AwareDatetime | Annotated[datetime, AfterValidator(aware)],
            Field(union_mode="left_to_right"),
        ],
        # A dot-atom without '=' (so without '=?'), at most 64 characters (a dotted one 63),
        # and a domain with a dot; `address_problem` decides on anything else.
        "email": text(
            rf"^(?:[{LEAN_ATEXT}]{{1,64}}|[{LEAN_ATEXT}](?:\.?[{LEAN_ATEXT}]){{0,31}})"
            rf"@(?:{LABEL}\.)+{LABEL}$",
            min(254, max_string),
        ),
        "url": text(
            rf"(?i)^(?:https?://|mailto:)[^\x00-\x20\x7f{_NONCHAR}]*"
            rf"[^\x00-\x20\x7f{SPACES}{_NONCHAR}]$"
        ),
        "locale": text("^[a-z]{2,3}(?:_[A-Z][a-z]{3})?(?:_[A-Z]{2}|_[0-9]{3})?$"),
        "currency": text("^[A-Z]{3}$"),
    }


def lean_text(max_string: int) -> Any:
    """Text that is not blank: for fields whose blanks must be dropped, as missing, beforehand."""
    pattern = f"^[^{_NONCHAR}]*[^{SPACES}{_NONCHAR}][^{_NONCHAR}]*$"
    return Annotated[str, Field(max_length=max_string, pattern=pattern)]


def lean_list(item: Any, max_items: int) -> Any:
    """``list[T]`` of a list or tuple only (the lean try must not use up an iterator), of at
    most ``max_items`` items, counted before any item is read."""
    # pydantic-core checks a max_length while reading the items, and reads them all when one
    # fails: a million bad items took two seconds to refuse.
    check = length_first(max_items)

    def schema(source: Any, handler: Any) -> core_schema.CoreSchema:
        # A fresh schema for each field: pydantic may alter the schemas it is handed.
        size = core_schema.no_info_plain_validator_function(check)
        return core_schema.chain_schema(
            [core_schema.is_instance_schema((list, tuple)), size, handler(source)]
        )

    return Annotated[tuple[item, ...], GetPydanticSchema(schema)]
