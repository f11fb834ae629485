"""Operators of the rule language: each operator's operand checked and compiled to a test."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any, Final, NamedTuple

from .errors import RuleError, did_you_mean, short_repr
from .scope import Scope
from .values import (
    BOOL,
    DATE,
    DATETIME,
    DURATION,
    DURATION_HINT,
    LIST,
    MAPPING,
    NUMBER,
    TEXT,
    TYPE_HINT,
    aware,
    described,
    equal,
    instant,
    is_nan,
    kind_of,
    ordered,
    parse_duration,
    shown,
    written,
)
from .values import OTHER as OTHER

__all__ = [
    "OPERATORS",
    "TYPE_HINT",
    "Operand",
    "Scope",
    "compile_operand",
    "described",
    "equal",
    "instant",
    "kind_of",
    "parse_duration",
    "shown",
    "written",
]

OPERATORS: Final = (
    *("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "exists"),
    *("within", "before", "after"),
)
_SCALARS = frozenset({BOOL, NUMBER, TEXT, DATE, DATETIME})


# -- operand checking and compiling ----------------------------------------------------------

_Test = Callable[[Any, Scope], bool]
_Quick = Callable[[Any], bool]


def _never(value: Any) -> bool:
    raise AssertionError("no shortcut")  # unreachable: `fast` is empty


class Operand(NamedTuple):
    """A checked operand, ready to evaluate.

    Attributes:
        value: The operand, normalized (lists become tuples).
        test: Whether a present value passes; ``RuleError`` when it cannot be compared.
        absent: The result for an absent (``MISSING``) or ``None`` value.
        text: The condition as text, e.g. ``'tier = Gold'``.
        quick: ``test``'s answer, without a scope, for values whose exact type is in ``fast``;
            it may raise instead (a Decimal NaN), and the caller then asks ``test``.
        fast: The value types ``quick`` is for.
    """

    value: Any
    test: _Test
    absent: bool
    text: str
    quick: _Quick = _never
    fast: tuple[type, ...] = ()


_SYMBOLS = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_COMPARE = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
# `partial(_REFLECTED[op], operand)(value)` is `value <op> operand`, one C call.
_REFLECTED = {"gt": operator.lt, "gte": operator.le, "lt": operator.gt, "lte": operator.ge}
# Exact value types that plain `==`, `<`… already compare as the rule language does.
_PLAIN: dict[int, tuple[type, ...]] = {
    NUMBER: (int, float, Decimal),
    TEXT: (str,),
    BOOL: (bool,),
    DATE: (date,),
}
_SCALAR_TEXT = "a text, number, true/false or date value"


def _bad(message: str, hint: str) -> RuleError:
    return RuleError(message, hint=hint)


def _scalar(op: str, value: Any, what: str = "") -> int:
    kind = kind_of(value)
    if value is None:
        raise _bad(
            f"{what or repr(op)} needs a value, got null",
            "write {exists: false} to test for a missing value",
        )
    if kind == LIST:
        raise _bad(
            f"{what or repr(op)} needs a single value, got a list",
            "use 'in' to match any of several values",
        )
    if kind not in _SCALARS or is_nan(value):
        raise _bad(
            f"{what or repr(op)} needs {_SCALAR_TEXT}, got {written(value)}",
            "quote text; write dates as 2026-11-20",
        )
    return kind


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return f"[{', '.join(_fmt(item) for item in value)}]"
    if isinstance(value, str):
        # Quote text that would otherwise read as another kind of value, or as nothing.
        plain = value.strip() == value and value and not re.search(r"[,\[\]'\"]", value)
        return value if plain and not _reads_typed(value) else repr(value)
    return shown(value)


def _reads_typed(text: str) -> bool:
    if text.lower() in ("true", "false", "null", "yes", "no", "on", "off", "~"):
        return True
    for parse in (float, datetime.fromisoformat):
        try:
            parse(text)
        except ValueError:
            continue
        return True
    return False


def compile_operand(ref: str, op: str, raw: Any) -> Operand:
    """Check the operand of ``op`` and build its test (see ``Condition`` for the semantics).

    Raises:
        RuleError: an unknown operator, or an operand of the wrong type (no location).
    """
    if op in ("eq", "ne"):
        kind = _scalar(op, raw)
        want = op == "eq"
        # A fast path when the value has the operand's exact type and plain `==` is already
        # the type-aware answer (float NaN equals nothing by itself; datetimes need the zone).
        same = type(raw) if type(raw) in (str, int, float, bool, date) else None

        def test_eq(value: Any, scope: Scope) -> bool:
            if type(value) is same:
                return (value == raw) is want
            return equal(value, raw, kind, scope.tz) is want

        quick = partial(operator.eq if want else operator.ne, raw)
        text = f"{ref} {_SYMBOLS[op]} {_fmt(raw)}"
        return Operand(raw, test_eq, not want, text, quick, _PLAIN.get(kind, ()))
    if op in _COMPARE:
        kind = kind_of(raw)
        if kind not in (NUMBER, TEXT, DATE, DATETIME) or is_nan(raw):
            raise _bad(
                f"{op!r} needs a number, text or date, got {written(raw)}",
                "write dates as 2026-11-20; quote text",
            )
        compare = _COMPARE[op]
        # Plain ints and floats (NaN compares false by itself) and str take the short way.
        fast = (int, float) if kind == NUMBER else (str,) if kind == TEXT else ()

        def test_order(value: Any, scope: Scope) -> bool:
            if type(value) in fast:
                return bool(compare(value, raw))
            pair = ordered(value, raw, kind, scope.tz)
            return pair is not None and bool(compare(pair[0], pair[1]))

        quick = partial(_REFLECTED[op], raw)
        text = f"{ref} {_SYMBOLS[op]} {_fmt(raw)}"
        return Operand(raw, test_order, False, text, quick, _PLAIN.get(kind, ()))
    if op in ("in", "not_in"):
        return _compile_in(ref, op, raw)
    if op == "contains":
        return _compile_contains(ref, raw)
    if op == "exists":
        if not isinstance(raw, bool):
            raise _bad(
                f"'exists' needs true or false, got {written(raw)}",
                "write exists: true or exists: false",
            )

        def test_exists(value: Any, scope: Scope) -> bool:
            return raw

        text = f"{ref} exists" if raw else f"{ref} does not exist"
        return Operand(raw, test_exists, not raw, text)
    if op in ("within", "before", "after"):
        return _compile_time(ref, op, raw)
    nested = f"; to test a nested field write {ref}.{op}: …" if isinstance(op, str) else ""
    raise _bad(
        f"unknown operator {short_repr(op)}",
        did_you_mean(str(op), OPERATORS) or f"use one of {', '.join(OPERATORS)}{nested}",
    )


def _compile_in(ref: str, op: str, raw: Any) -> Operand:
    if not isinstance(raw, (list, tuple)):
        raise _bad(f"{op!r} needs a list, got {written(raw)}", f"write {op}: [Gold, Silver]")
    pools: dict[int, set[Any]] = {}
    moments: list[datetime] = []
    for item in raw:
        kind = _scalar(op, item, f"each {op!r} item")
        if kind == DATETIME:
            moments.append(item)
        else:
            pools.setdefault(kind, set()).add(item)
    frozen = {kind: frozenset(pool) for kind, pool in pools.items()}
    want = op == "in"

    texts = frozen.get(TEXT, frozenset())

    def test_in(value: Any, scope: Scope) -> bool:
        if type(value) is str:
            return (value in texts) is want
        kind = kind_of(value)
        if kind == DATETIME:
            found = any(equal(value, moment, DATETIME, scope.tz) for moment in moments)
        elif kind == NUMBER and is_nan(value):
            found = False
        else:
            pool = frozen.get(kind)
            found = pool is not None and value in pool
        return found is want

    operand = tuple(raw)
    text = f"{ref} {op.replace('_', ' ')} {_fmt(operand)}"
    quick = texts.__contains__ if want else partial(_outside, texts)
    return Operand(operand, test_in, not want, text, quick, (str,))


def _outside(pool: frozenset[Any], value: Any) -> bool:
    return value not in pool


def _compile_contains(ref: str, raw: Any) -> Operand:
    kind = _scalar("contains", raw)

    def test_contains(value: Any, scope: Scope) -> bool:
        value_kind = kind_of(value)
        if value_kind == TEXT:
            if kind != TEXT:
                raise RuleError(
                    f"cannot look for {described(raw)} in text {shown(value)}", hint=TYPE_HINT
                )
            return raw in value
        if value_kind == LIST:
            return any(equal(item, raw, kind, scope.tz) for item in value)
        if value_kind == MAPPING:
            return raw in value
        raise RuleError(
            f"'contains' needs text, a list or a mapping, got {described(value)}", hint=TYPE_HINT
        )

    return Operand(raw, test_contains, False, f"{ref} contains {_fmt(raw)}")


def _compile_time(ref: str, op: str, raw: Any) -> Operand:
    if op == "within":
        if not isinstance(raw, str):
            raise _bad(f"'within' needs a duration like '30d', got {written(raw)}", DURATION_HINT)
        window = parse_duration(raw)

        def test_within(value: Any, scope: Scope) -> bool:
            now = aware(scope.now, scope.tz)
            return now - window <= instant(value, scope.tz) <= now

        return Operand(raw, test_within, False, f"{ref} within {raw.strip()}")
    later = op == "after"
    fixed = _moment(raw)
    if fixed is not None:
        moment = fixed

        def test_fixed(value: Any, scope: Scope) -> bool:
            bound = instant(moment, scope.tz)
            seen = instant(value, scope.tz)
            return seen > bound if later else seen < bound

        return Operand(moment, test_fixed, False, f"{ref} {op} {_fmt(moment)}")
    if not isinstance(raw, str) or not DURATION.fullmatch(raw.strip()):
        raise _bad(
            f"{op!r} needs a date, a date-time or a duration like '30d', got {written(raw)}",
            "write a date as 2026-11-20 or a duration such as 30d, 12h or 2w",
        )
    span = parse_duration(raw)

    def test_relative(value: Any, scope: Scope) -> bool:
        bound = aware(scope.now, scope.tz) - span
        seen = instant(value, scope.tz)
        return seen > bound if later else seen < bound

    return Operand(raw, test_relative, False, f"{ref} {op} {raw.strip()} ago")


def _moment(raw: Any) -> date | None:
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw) if len(raw) == 10 else datetime.fromisoformat(raw)
        except ValueError:
            return None
    return None
