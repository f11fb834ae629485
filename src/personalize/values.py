"""Values of the rule language: kinds, type-aware equality and order, instants and durations."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final

from .errors import RuleError, short_repr

__all__ = [
    "BOOL",
    "DATE",
    "DATETIME",
    "DURATION",
    "DURATION_HINT",
    "LIST",
    "MAPPING",
    "NUMBER",
    "OTHER",
    "TEXT",
    "TYPE_HINT",
    "aware",
    "described",
    "equal",
    "instant",
    "is_nan",
    "kind_of",
    "ordered",
    "parse_duration",
    "shown",
    "written",
]

TYPE_HINT: Final = "check the field's type in the recipient schema"

# -- value kinds ---------------------------------------------------------------------------

BOOL, NUMBER, TEXT, DATE, DATETIME, LIST, MAPPING, OTHER = range(8)
_KIND_NAMES = ("true/false", "number", "text", "date", "date-time", "list", "mapping")
_EXACT_KINDS: dict[type, int] = {
    bool: BOOL,
    int: NUMBER,
    float: NUMBER,
    Decimal: NUMBER,
    str: TEXT,
    date: DATE,
    datetime: DATETIME,
    list: LIST,
    tuple: LIST,
    dict: MAPPING,
    MappingProxyType: MAPPING,
}


def kind_of(value: Any) -> int:
    """The kind of a value (``NUMBER``, ``TEXT``…); bools are never numbers."""
    kind = _EXACT_KINDS.get(type(value))
    if kind is not None:
        return kind
    if isinstance(value, (int, float, Decimal)):
        return NUMBER
    if isinstance(value, str):
        return TEXT
    if isinstance(value, date):
        return DATETIME if isinstance(value, datetime) else DATE
    if isinstance(value, (list, tuple)):
        return LIST
    if isinstance(value, Mapping):
        return MAPPING
    return OTHER


def shown(value: Any) -> str:
    """A value for messages and descriptions: dates in ISO form, others as a short repr."""
    if isinstance(value, date):
        return value.isoformat()
    return short_repr(value)


def described(value: Any) -> str:
    """``'abc' (text)``: a value with its kind, for type errors."""
    kind = kind_of(value)
    name = _KIND_NAMES[kind] if kind != OTHER else type(value).__name__
    return f"{shown(value)} ({name})"


def written(value: Any) -> str:
    """A value as YAML spells it, for messages: ``null``, ``true``, ``'Gold'``, ``2026-11-20``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return shown(value)


def is_nan(value: Any) -> bool:
    """Whether ``value`` is a float or Decimal NaN."""
    if isinstance(value, Decimal):
        return value.is_nan()
    return isinstance(value, float) and value != value


def aware(moment: datetime, tz: tzinfo) -> datetime:
    """``moment`` itself when it has a zone, else the same wall time in ``tz``."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def instant(value: Any, tz: tzinfo) -> datetime:
    """A time value as an aware datetime: naive ones and dates (midnight) are read in ``tz``.

    Raises:
        RuleError: ``value`` is not a date, a datetime or an ISO string.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(), tz)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise RuleError(
                f"expected an ISO date or date-time, got {described(value)}", hint=TYPE_HINT
            ) from None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)
    raise RuleError(f"expected a date or date-time, got {described(value)}", hint=TYPE_HINT)


def equal(value: Any, operand: Any, operand_kind: int, tz: tzinfo) -> bool:
    """Type-aware equality: only values of the same kind are equal; NaN equals nothing."""
    kind = kind_of(value)
    if kind != operand_kind:
        return False
    if kind == NUMBER:
        return not is_nan(value) and bool(value == operand)
    if kind == DATETIME:
        return aware(value, tz) == aware(operand, tz)
    return bool(value == operand)


def ordered(value: Any, operand: Any, operand_kind: int, tz: tzinfo) -> tuple[Any, Any] | None:
    """The pair to compare, or None when the value is NaN (every order comparison is false).

    Raises:
        RuleError: the value's kind cannot be compared with the operand's.
    """
    kind = kind_of(value)
    if operand_kind == NUMBER and kind == NUMBER:
        return None if is_nan(value) else (value, operand)
    if operand_kind == TEXT and kind == TEXT:
        return value, operand
    if operand_kind == DATE and kind == DATE:
        return value, operand
    if operand_kind == DATE and kind == DATETIME:
        return aware(value, tz).astimezone(tz).date(), operand
    if operand_kind == DATETIME and kind in (DATE, DATETIME):
        return instant(value, tz), aware(operand, tz)
    raise RuleError(f"cannot compare {described(value)} with {described(operand)}", hint=TYPE_HINT)


# -- durations -----------------------------------------------------------------------------

DURATION: Final = re.compile(r"(\d{1,12})([smhdw])")
DURATION_HINT: Final = "write a whole number and a unit: s, m (minutes), h, d or w"
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """Parse ``'30d'``, ``'12h'``, ``'2w'``, ``'45m'`` (minutes) or ``'90s'``.

    Raises:
        RuleError: ``text`` is not a whole number followed by one unit, or is too long.
    """
    match = DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise RuleError(
            f"expected a duration such as '30d', '12h' or '2w', got {short_repr(text)}",
            hint=DURATION_HINT,
        )
    try:
        return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    except OverflowError:
        raise RuleError(
            f"duration {short_repr(text)} is too long", hint="use at most 999999999 days"
        ) from None
