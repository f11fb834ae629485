"""The rule language: rule data parsed into typed rules, evaluated with a trace or compiled."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from types import MappingProxyType
from typing import Any, Final

from .errors import RuleError, format_path, short_repr
from .operators import (
    OPERATORS,
    TYPE_HINT,
    Scope,
    compile_operand,
    described,
    parse_duration,
    written,
)
from .yamlfile import Document

__all__ = [
    "MISSING",
    "OPERATORS",
    "All",
    "AnyOf",
    "Condition",
    "MappingScope",
    "Not",
    "Predicate",
    "Rule",
    "Scope",
    "TraceEntry",
    "evaluate",
    "failed_conditions",
    "parse_duration",
    "parse_rule",
]


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
_PLAIN_MAPPINGS: Final = frozenset({dict, MappingProxyType})
Predicate = Callable[[Mapping[str, Any], Mapping[str, Any], Scope], bool]


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One evaluated condition: where it is written, its text, the value it saw, its result."""

    path: str
    condition: str
    value: Any
    result: bool


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
        # Exact types first: an ABC check costs more than the rest of a classify's setup.
        if type(data) not in _PLAIN_MAPPINGS and not isinstance(data, Mapping):
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

    def compiled(self, names: Set[str]) -> Predicate:
        """The rule as one function of ``(data, values, scope)``, for the hot path.

        Refs in ``names`` are read from ``values`` (metric and segment results: all of them
        there, and no others), other refs from ``data``, as ``MappingScope(data, names=values)``
        reads them. The function gives ``evaluate``'s result without a trace, or raises (any
        exception) on values it does not foresee: callers then ask ``evaluate``, which decides.
        This base version, for rules defined elsewhere, asks ``evaluate`` itself.
        """

        def run(data: Mapping[str, Any], values: Mapping[str, Any], scope: Scope) -> bool:
            return self.evaluate(MappingScope(data, now=scope.now, tz=scope.tz, names=values))

        return run


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

    def compiled(self, names: Set[str]) -> Predicate:
        runs = tuple(rule.compiled(names) for rule in self.rules)

        def run(data: Mapping[str, Any], values: Mapping[str, Any], scope: Scope) -> bool:
            for each in runs:  # noqa: SIM110
                if not each(data, values, scope):
                    return False
            return True

        return run


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

    def compiled(self, names: Set[str]) -> Predicate:
        runs = tuple(rule.compiled(names) for rule in self.rules)

        def run(data: Mapping[str, Any], values: Mapping[str, Any], scope: Scope) -> bool:
            for each in runs:  # noqa: SIM110
                if each(data, values, scope):
                    return True
            return False

        return run


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

    def compiled(self, names: Set[str]) -> Predicate:
        inner = self.rule.compiled(names)

        def run(data: Mapping[str, Any], values: Mapping[str, Any], scope: Scope) -> bool:
            return not inner(data, values, scope)

        return run


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
    _test: Callable[[Any, Scope], bool] = field(init=False, repr=False, compare=False)
    _absent: bool = field(init=False, repr=False, compare=False)
    _text: str = field(init=False, repr=False, compare=False)
    _quick: Callable[[Any], bool] = field(init=False, repr=False, compare=False)
    _fast: tuple[type, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = compile_operand(self.ref, self.op, self.operand)
        object.__setattr__(self, "operand", compiled.value)
        for name in ("test", "absent", "text", "quick", "fast"):
            object.__setattr__(self, f"_{name}", getattr(compiled, name))

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

    def compiled(self, names: Set[str]) -> Predicate:
        ref, test, absent, quick, fast = self.ref, self._test, self._absent, self._quick, self._fast
        named = ref in names
        parts = _split(ref) if "." in ref and not named else None

        def run(data: Mapping[str, Any], values: Mapping[str, Any], scope: Scope) -> bool:
            # The same lookup as MappingScope's, and the same test, minus the trace and the
            # error locating that `evaluate` adds when the caller falls back to it.
            if named:
                value = values[ref]
            elif parts is None:
                value = data.get(ref, MISSING)
            else:
                value = walk(data, parts, ref)
            if type(value) in fast:
                return quick(value)
            if value is MISSING or value is None:
                return absent
            return test(value, scope)

        return run


def _condition_from(
    ref: str, op: str, operand: Any, path: str, file: str | None, line: int | None
) -> Condition:
    return Condition(ref=ref, op=op, operand=operand, path=path, file=file, line=line)


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
        got = "a list" if isinstance(data, list) else written(data)
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
                f"{key!r} needs a non-empty list of rules, got {written(value)}",
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
            path, f"expected a field, metric or segment name, got {written(key)}", hint=hint
        )
    if not isinstance(value, Mapping):
        if value is None or isinstance(value, list):
            hint = "write {in: [Gold, Silver]} to match any of several values"
            if value is None:
                hint = "write {exists: false} to test for a missing value"
            raise doc.error(here, f"expected a value or operators, got {written(value)}", hint=hint)
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
