"""The rule language: rule data parsed into typed rules, and their evaluation with a trace."""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final, Protocol

from .errors import RuleError, did_you_mean, format_path, short_repr
from .yamlfile import Document

__all__ = [
    "MISSING",
    "OPERATORS",
    "All",
    "AnyOf",
    "Condition",
    "MappingScope",
    "Not",
    "Rule",
    "Scope",
    "TraceEntry",
    "evaluate",
    "failed_conditions",
    "parse_duration",
    "parse_rule",
]

OPERATORS: Final = (
    *("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "exists"),
    *("within", "before", "after"),
)
TYPE_HINT: Final = "check the field's type in the recipient schema"


class _Missing:
    """The type of ``MISSING``: one falsy instance that survives pickling."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "missing"

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
_UNSET: Final = object()
_NO_NAMES: Final[Mapping[str, Any]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One evaluated condition: where it is written, its text, the value it saw, its result."""

    path: str
    condition: str
    value: Any
    result: bool


class Scope(Protocol):
    """What a rule is evaluated against: values by name, and the moment and zone of "now"."""

    @property
    def now(self) -> datetime: ...

    @property
    def tz(self) -> tzinfo: ...

    def lookup(self, ref: str) -> Any:
        """The value of a field path, metric or segment; ``MISSING`` when absent."""
        ...


class MappingScope:
    """A ``Scope`` over a mapping: dotted refs walk nested mappings; ``names`` are looked up first.

    Args:
        data: The values, e.g. a recipient's fields or one item of a list field.
        now: The evaluation moment; a naive one is read in ``tz``.
        tz: The zone for naive date-times and for the midnight of dates.
        names: Values that shadow ``data`` (computed metrics and segment results).
    """

    __slots__ = ("data", "names", "now", "tz")

    def __init__(
        self,
        data: Mapping[str, Any],
        *,
        now: datetime,
        tz: tzinfo = UTC,
        names: Mapping[str, Any] = _NO_NAMES,
    ) -> None:
        if not isinstance(data, Mapping):
            raise RuleError(
                f"expected data as a mapping of field names to values, got {short_repr(data)}",
                hint="pass a dict such as {'tier': 'Gold'}",
            )
        if not isinstance(now, datetime) or not isinstance(tz, tzinfo):
            raise RuleError(
                f"expected 'now' to be a datetime and 'tz' a tzinfo, got {short_repr(now)} and "
                f"{short_repr(tz)}",
                hint="pass e.g. now=datetime.now(UTC), tz=ZoneInfo('Europe/Berlin')",
            )
        self.data = data
        self.now = now if now.tzinfo is not None else now.replace(tzinfo=tz)
        self.tz = tz
        self.names = names

    def lookup(self, ref: str) -> Any:
        """The value at ``ref``; ``MISSING`` when absent. Walking into a list is a ``RuleError``."""
        value = self.names.get(ref, _UNSET)
        if value is not _UNSET:
            return value
        if "." not in ref:
            return self.data.get(ref, MISSING)
        return walk(self.data, _split(ref), ref)


@functools.lru_cache(maxsize=1024)
def _split(ref: str) -> tuple[str, ...]:
    return tuple(ref.split("."))


def walk(data: Any, parts: Sequence[str], ref: str) -> Any:
    """Follow ``parts`` through nested mappings; ``MISSING`` when a step is absent or None."""
    value = data
    for index, part in enumerate(parts):
        if value is None or value is MISSING:
            return MISSING
        if not isinstance(value, Mapping):
            where = ".".join(parts[:index])
            if isinstance(value, (list, tuple)):
                raise RuleError(
                    f"{where!r} is a list, so {ref!r} names no single value",
                    path=ref,
                    hint=f"use a metric such as {{count: {where}}} or {{sum: {ref}}}",
                )
            raise RuleError(
                f"expected {where!r} to be a mapping to look up {ref!r}, got {described(value)}",
                path=ref,
                hint=TYPE_HINT,
            )
        value = value.get(part, MISSING)
    return MISSING if value is None else value


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
_SCALARS = frozenset({BOOL, NUMBER, TEXT, DATE, DATETIME})


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


def _is_nan(value: Any) -> bool:
    if isinstance(value, Decimal):
        return value.is_nan()
    return isinstance(value, float) and value != value


def _aware(moment: datetime, tz: tzinfo) -> datetime:
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
        return not _is_nan(value) and bool(value == operand)
    if kind == DATETIME:
        return _aware(value, tz) == _aware(operand, tz)
    return bool(value == operand)


def _ordered(value: Any, operand: Any, operand_kind: int, tz: tzinfo) -> tuple[Any, Any] | None:
    # The pair to compare, or None when the value is NaN (every order comparison is false).
    kind = kind_of(value)
    if operand_kind == NUMBER and kind == NUMBER:
        return None if _is_nan(value) else (value, operand)
    if operand_kind == TEXT and kind == TEXT:
        return value, operand
    if operand_kind == DATE and kind == DATE:
        return value, operand
    if operand_kind == DATE and kind == DATETIME:
        return _aware(value, tz).astimezone(tz).date(), operand
    if operand_kind == DATETIME and kind in (DATE, DATETIME):
        return instant(value, tz), _aware(operand, tz)
    raise RuleError(f"cannot compare {described(value)} with {described(operand)}", hint=TYPE_HINT)


# -- durations -----------------------------------------------------------------------------

_DURATION = re.compile(r"(\d{1,12})([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION_HINT = "write a whole number and a unit: s, m (minutes), h, d or w"


def parse_duration(text: str) -> timedelta:
    """Parse ``'30d'``, ``'12h'``, ``'2w'``, ``'45m'`` (minutes) or ``'90s'``.

    Raises:
        RuleError: ``text`` is not a whole number followed by one unit, or is too long.
    """
    match = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise RuleError(
            f"expected a duration such as '30d', '12h' or '2w', got {short_repr(text)}",
            hint=_DURATION_HINT,
        )
    try:
        return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    except OverflowError:
        raise RuleError(
            f"duration {short_repr(text)} is too long", hint="use at most 999999999 days"
        ) from None


# -- rules ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Rule:
    """A parsed rule. ``file`` and ``line`` say where it is written (for errors)."""

    file: str | None = None
    line: int | None = None

    def evaluate(self, scope: Scope, trace: list[TraceEntry] | None = None) -> bool:
        """Whether the rule holds in ``scope``; leaves append to ``trace`` when it is a list."""
        raise NotImplementedError

    def conditions(self) -> Iterator[Condition]:
        """Every condition (leaf) of the rule, in written order."""
        raise NotImplementedError

    def refs(self) -> frozenset[str]:
        """Every field path, metric or segment name the rule reads."""
        return frozenset(leaf.ref for leaf in self.conditions())

    def describe(self) -> str:
        """The rule as short text for people: ``'orders_30d > 5'``, ``'all(a > 1, b < 2)'``."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True, slots=True)
class All(Rule):
    """Holds when every rule holds; stops at the first that does not."""

    rules: tuple[Rule, ...]

    def evaluate(self, scope: Scope, trace: list[TraceEntry] | None = None) -> bool:
        # A plain loop: all() over a generator costs a frame per call on the hot path.
        for rule in self.rules:  # noqa: SIM110
            if not rule.evaluate(scope, trace):
                return False
        return True

    def conditions(self) -> Iterator[Condition]:
        for rule in self.rules:
            yield from rule.conditions()

    def describe(self) -> str:
        return f"all({', '.join(rule.describe() for rule in self.rules)})"


@dataclass(frozen=True, kw_only=True, slots=True)
class AnyOf(Rule):
    """Holds when some rule holds; stops at the first that does."""

    rules: tuple[Rule, ...]

    def evaluate(self, scope: Scope, trace: list[TraceEntry] | None = None) -> bool:
        for rule in self.rules:  # noqa: SIM110
            if rule.evaluate(scope, trace):
                return True
        return False

    def conditions(self) -> Iterator[Condition]:
        for rule in self.rules:
            yield from rule.conditions()

    def describe(self) -> str:
        return f"any({', '.join(rule.describe() for rule in self.rules)})"


@dataclass(frozen=True, kw_only=True, slots=True)
class Not(Rule):
    """Holds when its rule does not. Adds no trace entry of its own."""

    rule: Rule

    def evaluate(self, scope: Scope, trace: list[TraceEntry] | None = None) -> bool:
        return not self.rule.evaluate(scope, trace)

    def conditions(self) -> Iterator[Condition]:
        return self.rule.conditions()

    def describe(self) -> str:
        return f"not({self.rule.describe()})"


_Test = Callable[[Any, Scope], bool]


@dataclass(frozen=True, kw_only=True, slots=True)
class Condition(Rule):
    """One operator applied to the value of one ref.

    Semantics (the value is what ``scope.lookup(ref)`` returns):

    - An absent (``MISSING``) or ``None`` value never raises: ``exists: false``, ``ne`` and
      ``not_in`` are true, every other operator is false.
    - ``eq``/``ne``/``in``/``not_in`` are type-aware: a bool equals only a bool (``true`` is not
      ``1``), numbers (int, float, Decimal) compare numerically, a date equals only a date, text
      only text. NaN equals nothing.
    - ``gt``/``gte``/``lt``/``lte`` compare numbers with numbers, text with text, and dates and
      date-times with each other (a date operand against a date-time value compares the value's
      date in ``scope.tz``). NaN compares false. Anything else is a ``RuleError``.
    - ``contains``: in text, a substring (the operand must be text); in a list, some item equal
      to the operand; in a mapping, a key. Any other value is a ``RuleError``.
    - ``within: 30d`` holds when ``now - 30d <= value <= now``. ``before``/``after`` hold when
      the value is earlier/later than the bound: ``now`` minus a duration, a date (its midnight
      in ``scope.tz``) or a date-time. Time values may be date-times (naive ones are read in
      ``scope.tz``), dates (midnight in ``scope.tz``) or ISO strings; others are a ``RuleError``.

    Attributes:
        ref: A recipient field path (``address.city``), a metric or a segment name.
        op: One of ``OPERATORS``.
        operand: The operand, checked and normalized (lists become tuples).
        path: The key path of the condition in its file, used in traces.
    """

    ref: str
    op: str
    operand: Any
    path: str = ""
    _test: _Test = field(init=False, repr=False, compare=False)
    _absent: bool = field(init=False, repr=False, compare=False)
    _text: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        operand, test, absent, text = _compile(self.ref, self.op, self.operand)
        object.__setattr__(self, "operand", operand)
        object.__setattr__(self, "_test", test)
        object.__setattr__(self, "_absent", absent)
        object.__setattr__(self, "_text", text)

    def __reduce__(self) -> tuple[Any, ...]:
        # The compiled test is a closure; pickles (e.g. for worker processes) recompile it.
        fields = (self.ref, self.op, self.operand, self.path, self.file, self.line)
        return _condition_from, fields

    def evaluate(self, scope: Scope, trace: list[TraceEntry] | None = None) -> bool:
        value: Any = MISSING
        try:
            value = scope.lookup(self.ref)
            absent = value is MISSING or value is None
            result = self._absent if absent else self._test(value, scope)
        except RuleError as err:
            raise self._located(err) from None
        except (TypeError, ValueError, ArithmeticError):
            raise self._unforeseen(value) from None
        if trace is not None:
            trace.append(TraceEntry(self.path, self._text, value, result))
        return result

    def check(self, value: Any, scope: Scope) -> bool:
        """The condition applied to a value already looked up (e.g. a column of list items).

        Raises:
            RuleError: as ``evaluate`` does.
        """
        if value is MISSING or value is None:
            return self._absent
        try:
            return self._test(value, scope)
        except RuleError as err:
            raise self._located(err) from None
        except (TypeError, ValueError, ArithmeticError):
            raise self._unforeseen(value) from None

    def check_all(self, values: Sequence[Any], scope: Scope) -> list[bool]:
        """``check`` over many values at once, e.g. one field of every item of a list.

        Raises:
            RuleError: as ``evaluate`` does (for the first value that does not fit).
        """
        test, absent = self._test, self._absent
        try:
            return [absent if v is None or v is MISSING else test(v, scope) for v in values]
        except RuleError as err:
            raise self._located(err) from None
        except (TypeError, ValueError, ArithmeticError):
            for value in values:
                self.check(value, scope)  # raises, located, for the value that does not fit
            raise self._unforeseen(values) from None

    def _located(self, err: RuleError) -> RuleError:
        return RuleError(
            err.message,
            file=err.file or self.file,
            line=err.line or self.line,
            recipient=err.recipient,
            path=err.path or self.ref,
            hint=err.hint,
        )

    def _unforeseen(self, value: Any) -> RuleError:
        # A last guard so that evaluation stays total for values no branch foresaw.
        return RuleError(
            f"cannot evaluate '{self._text}' on {described(value)}",
            file=self.file,
            line=self.line,
            path=self.ref,
            hint=TYPE_HINT,
        )

    def conditions(self) -> Iterator[Condition]:
        yield self

    def describe(self) -> str:
        return self._text


def _condition_from(
    ref: str, op: str, operand: Any, path: str, file: str | None, line: int | None
) -> Condition:
    return Condition(ref=ref, op=op, operand=operand, path=path, file=file, line=line)


# -- operand checking and compiling ----------------------------------------------------------

_SYMBOLS = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_COMPARE = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
_SCALAR_TEXT = "a text, number, true/false or date value"


def _bad(message: str, hint: str) -> RuleError:
    return RuleError(message, hint=hint)


def _given(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return shown(value)


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
    if kind not in _SCALARS or _is_nan(value):
        raise _bad(
            f"{what or repr(op)} needs {_SCALAR_TEXT}, got {_given(value)}",
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


def _compile(ref: str, op: str, raw: Any) -> tuple[Any, _Test, bool, str]:
    """Check an operand; return it normalized, the test, the absent result and the text."""
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

        return raw, test_eq, not want, f"{ref} {_SYMBOLS[op]} {_fmt(raw)}"
    if op in _COMPARE:
        kind = kind_of(raw)
        if kind not in (NUMBER, TEXT, DATE, DATETIME) or _is_nan(raw):
            raise _bad(
                f"{op!r} needs a number, text or date, got {_given(raw)}",
                "write dates as 2026-11-20; quote text",
            )
        compare = _COMPARE[op]
        # Plain ints and floats (NaN compares false by itself) and str take the short way.
        fast = (int, float) if kind == NUMBER else (str,) if kind == TEXT else ()

        def test_order(value: Any, scope: Scope) -> bool:
            if type(value) in fast:
                return bool(compare(value, raw))
            pair = _ordered(value, raw, kind, scope.tz)
            return pair is not None and bool(compare(pair[0], pair[1]))

        return raw, test_order, False, f"{ref} {_SYMBOLS[op]} {_fmt(raw)}"
    if op in ("in", "not_in"):
        return _compile_in(ref, op, raw)
    if op == "contains":
        return _compile_contains(ref, raw)
    if op == "exists":
        if not isinstance(raw, bool):
            raise _bad(
                f"'exists' needs true or false, got {_given(raw)}",
                "write exists: true or exists: false",
            )

        def test_exists(value: Any, scope: Scope) -> bool:
            return raw

        return raw, test_exists, not raw, f"{ref} exists" if raw else f"{ref} does not exist"
    if op in ("within", "before", "after"):
        return _compile_time(ref, op, raw)
    nested = f"; to test a nested field write {ref}.{op}: …" if isinstance(op, str) else ""
    raise _bad(
        f"unknown operator {short_repr(op)}",
        did_you_mean(str(op), OPERATORS) or f"use one of {', '.join(OPERATORS)}{nested}",
    )


def _compile_in(ref: str, op: str, raw: Any) -> tuple[Any, _Test, bool, str]:
    if not isinstance(raw, (list, tuple)):
        raise _bad(f"{op!r} needs a list, got {_given(raw)}", f"write {op}: [Gold, Silver]")
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
        elif kind == NUMBER and _is_nan(value):
            found = False
        else:
            pool = frozen.get(kind)
            found = pool is not None and value in pool
        return found is want

    operand = tuple(raw)
    return operand, test_in, not want, f"{ref} {op.replace('_', ' ')} {_fmt(operand)}"


def _compile_contains(ref: str, raw: Any) -> tuple[Any, _Test, bool, str]:
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

    return raw, test_contains, False, f"{ref} contains {_fmt(raw)}"


def _compile_time(ref: str, op: str, raw: Any) -> tuple[Any, _Test, bool, str]:
    if op == "within":
        if not isinstance(raw, str):
            raise _bad(f"'within' needs a duration like '30d', got {_given(raw)}", _DURATION_HINT)
        window = parse_duration(raw)

        def test_within(value: Any, scope: Scope) -> bool:
            now = _aware(scope.now, scope.tz)
            return now - window <= instant(value, scope.tz) <= now

        return raw, test_within, False, f"{ref} within {raw.strip()}"
    later = op == "after"
    fixed = _moment(raw)
    if fixed is not None:
        moment = fixed

        def test_fixed(value: Any, scope: Scope) -> bool:
            bound = instant(moment, scope.tz)
            seen = instant(value, scope.tz)
            return seen > bound if later else seen < bound

        return moment, test_fixed, False, f"{ref} {op} {_fmt(moment)}"
    if not isinstance(raw, str) or not _DURATION.fullmatch(raw.strip()):
        raise _bad(
            f"{op!r} needs a date, a date-time or a duration like '30d', got {_given(raw)}",
            "write a date as 2026-11-20 or a duration such as 30d, 12h or 2w",
        )
    span = parse_duration(raw)

    def test_relative(value: Any, scope: Scope) -> bool:
        bound = _aware(scope.now, scope.tz) - span
        seen = instant(value, scope.tz)
        return seen > bound if later else seen < bound

    return raw, test_relative, False, f"{ref} {op} {raw.strip()} ago"


def _moment(raw: Any) -> date | None:
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw) if len(raw) == 10 else datetime.fromisoformat(raw)
        except ValueError:
            return None
    return None


# -- parsing -------------------------------------------------------------------------------

_RULE_HINT = "a rule maps a field, metric or segment name to a value, e.g. {tier: Gold}"


def parse_rule(data: Any, *, doc: Document, path: tuple[str | int, ...]) -> Rule:
    """Parse rule data (from YAML) into a typed ``Rule``.

    A mapping with several keys means all of them, in written order; a ref mapped to several
    operators means all of them. A scalar value is shorthand for ``eq``.

    Args:
        data: The rule as loaded from YAML.
        doc: The document it comes from (for file, lines and error locations).
        path: The key path of ``data`` within ``doc``.

    Raises:
        ConfigError: with file, line and key path, for any malformed rule.
    """
    if not isinstance(data, Mapping):
        got = "a list" if isinstance(data, list) else _given(data)
        hint = "combine rules with {all: [...]} or {any: [...]}" if got == "a list" else _RULE_HINT
        raise doc.error(path, f"expected a rule such as {{tier: Gold}}, got {got}", hint=hint)
    if not data:
        raise doc.error(path, "empty rule", hint="write at least one condition, e.g. {tier: Gold}")
    alone = len(data) == 1
    rules = [rule for key, value in data.items() for rule in _entry(key, value, alone, doc, path)]
    if len(rules) == 1:
        return rules[0]
    return All(rules=tuple(rules), file=doc.file, line=doc.line(path))


def _entry(
    key: Any, value: Any, alone: bool, doc: Document, path: tuple[str | int, ...]
) -> list[Rule]:
    # One key of a rule mapping: a combinator, or a ref with its operators (each one a leaf,
    # so that `{spend: {gte: 1, lt: 9}, tier: Gold}` reads as one flat all(…)).
    here = (*path, key)
    if key in ("all", "any"):
        if not isinstance(value, list) or not value:
            raise doc.error(
                here,
                f"{key!r} needs a non-empty list of rules, got {_given(value)}",
                hint=f"write {key}: [{{tier: Gold}}, {{orders_30d: {{gt: 5}}}}]",
            )
        rules = tuple(parse_rule(item, doc=doc, path=(*here, i)) for i, item in enumerate(value))
        kind = All if key == "all" else AnyOf
        return [kind(rules=rules, file=doc.file, line=doc.line(here))]
    if key == "not":
        if isinstance(value, list):
            raise doc.error(
                here,
                "'not' needs one rule, got a list",
                hint="write {not: {any: [...]}} to negate several rules",
            )
        rule = parse_rule(value, doc=doc, path=here)
        return [Not(rule=rule, file=doc.file, line=doc.line(here))]
    if not isinstance(key, str) or not all(key.split(".")):
        hint = "use a field path such as address.city, a metric or a segment name"
        if isinstance(key, bool):
            hint = "quote it: YAML reads yes/no/on/off as true/false"
        raise doc.error(
            path, f"expected a field, metric or segment name, got {_given(key)}", hint=hint
        )
    if not isinstance(value, Mapping):
        if value is None or isinstance(value, list):
            hint = "write {in: [Gold, Silver]} to match any of several values"
            if value is None:
                hint = "write {exists: false} to test for a missing value"
            raise doc.error(here, f"expected a value or operators, got {_given(value)}", hint=hint)
        return [_condition(key, "eq", value, doc, here, path if alone else here)]
    if not value:
        raise doc.error(here, "no operator given", hint=f"use one of {', '.join(OPERATORS)}")
    several = len(value) > 1
    return [
        _condition(
            key, op, operand, doc, (*here, op), (*here, op) if several else path if alone else here
        )
        for op, operand in value.items()
    ]


def _condition(
    ref: str,
    op: Any,
    operand: Any,
    doc: Document,
    where: tuple[str | int, ...],
    trace_path: tuple[str | int, ...],
) -> Condition:
    try:
        return Condition(
            ref=ref,
            op=op,
            operand=operand,
            path=format_path(trace_path),
            file=doc.file,
            line=doc.line(where),
        )
    except RuleError as err:
        raise doc.error(where, err.message, hint=err.hint) from None


# -- entry points --------------------------------------------------------------------------


def evaluate(
    rule: Rule,
    data: Mapping[str, Any],
    *,
    now: datetime,
    tz: tzinfo = UTC,
    trace: list[TraceEntry] | None = None,
) -> bool:
    """Evaluate ``rule`` over a plain mapping (dotted refs walk nested mappings).

    Args:
        rule: A parsed rule.
        data: The values, e.g. ``{"tier": "Gold", "links": {"shop": "https://…"}}``.
        now: The evaluation moment (a naive one is read in ``tz``).
        tz: The zone for naive date-times and the midnight of dates.
        trace: When a list, every evaluated condition is appended to it.

    Raises:
        RuleError: a value cannot be compared as the rule asks (never another exception).
    """
    return rule.evaluate(MappingScope(data, now=now, tz=tz), trace)


def failed_conditions(trace: Sequence[TraceEntry]) -> list[TraceEntry]:
    """The trace entries whose condition was false, in evaluation order.

    Under a ``not``, a condition that held is what made the rule fail; it is not listed here.
    """
    return [entry for entry in trace if not entry.result]
