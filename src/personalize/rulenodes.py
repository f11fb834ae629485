"""Typed rules: all/any/not and conditions, evaluated with a trace or compiled for the hot path."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

from .errors import RuleError
from .operators import compile_operand
from .scope import MISSING, MappingScope, Scope, split_ref, walk
from .values import TYPE_HINT, described

__all__ = [
    "All",
    "AnyOf",
    "Bindings",
    "Condition",
    "Not",
    "Predicate",
    "Rule",
    "RuleSource",
    "TraceEntry",
]

Predicate = Callable[[Mapping[str, Any], Mapping[str, Any], Scope], bool]


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One evaluated condition: where it is written, its text, the value it saw, its result."""

    path: str
    condition: str
    value: Any
    result: bool


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

        It is generated Python, one expression for the whole rule (see ``RuleSource``): a call
        per condition and per all/any/not cost more than the comparisons themselves.
        """
        source = RuleSource(names)
        try:
            body = source.expression(self)
            code = compile(
                f"def rule(data, values, scope):\n    return {body}\n",
                f"<rule {self.file}:{self.line}>",
                "exec",
            )
        except (SyntaxError, RecursionError, MemoryError):
            # Nested too deeply for one expression: run as evaluate does.
            return _evaluated(self)
        namespace = dict(source.bound)
        exec(code, namespace)  # our own source: every value in it is bound by name
        run: Predicate = namespace["rule"]
        return run


def _evaluated(rule: Rule) -> Predicate:
    """A predicate that asks ``rule.evaluate`` over the same values."""

    def run(data: Mapping[str, Any], values: Mapping[str, Any], scope: Scope) -> bool:
        return rule.evaluate(MappingScope(data, now=scope.now, tz=scope.tz, names=values))

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
    """Holds when its rule does not. Its rule's trace entries are negated: ``not(tier = Gold)``
    seen ``'Gold'`` is false, so that the condition that held is the one that failed."""

    rule: Rule

    def evaluate(self, scope: Scope, trace: list[TraceEntry] | None = None) -> bool:
        if trace is None:
            return not self.rule.evaluate(scope)
        start = len(trace)
        result = not self.rule.evaluate(scope, trace)
        trace[start:] = [
            TraceEntry(e.path, f"not({e.condition})", e.value, not e.result) for e in trace[start:]
        ]
        return result

    def conditions(self) -> Iterator[Condition]:
        return self.rule.conditions()

    def describe(self) -> str:
        return f"not({self.rule.describe()})"


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


# `quick(value)` is `operand <symbol> value` for these operators (operators.compile_operand).
_INLINE = {"eq": "==", "ne": "!=", "gt": "<", "gte": "<=", "lt": ">", "lte": ">="}


class Bindings:
    """The objects a generated source uses, each bound to a name (``_0``, ``_1``…) in
    ``bound``, the namespace it runs in: no value is ever written into the source."""

    def __init__(self, **preset: Any) -> None:
        self.bound: dict[str, Any] = dict(preset)

    def bind(self, value: Any) -> str:
        name = f"_{len(self.bound)}"
        self.bound[name] = value
        return name


class RuleSource(Bindings):
    """A rule as one Python expression over ``data``, ``values`` and ``scope``.

    Each condition reads its value as ``MappingScope(data, names=values)`` would — from
    ``values`` for a name in ``names``, else from ``data`` — and gives ``quick(v)`` for the
    exact types in ``fast`` (inline for comparisons), ``absent`` for a missing or None value,
    else ``test(v, scope)``: ``evaluate``'s answer without the trace and error locating.
    Every object the source uses is bound by name in ``bound``; nothing from a rule's file is
    ever written into the source.
    """

    def __init__(self, names: Set[str]) -> None:
        super().__init__(MISSING=MISSING, walk=walk)
        self.names = names

    def expression(self, rule: Rule) -> str:
        if isinstance(rule, All | AnyOf):
            parts = [self.expression(each) for each in rule.rules]
            joiner = " and " if isinstance(rule, All) else " or "
            return f"({joiner.join(parts)})" if parts else str(isinstance(rule, All))
        if isinstance(rule, Not):
            return f"(not {self.expression(rule.rule)})"
        if isinstance(rule, Condition):
            return self.condition(rule)
        return f"{self.bind(_evaluated(rule))}(data, values, scope)"  # a rule defined elsewhere

    def condition(self, leaf: Condition) -> str:
        ref = self.bind(leaf.ref)
        if leaf.ref in self.names:
            lookup = f"values[{ref}]"
        elif "." in leaf.ref:
            lookup = f"walk(data, {self.bind(split_ref(leaf.ref))}, {ref})"
        else:
            lookup = f"data.get({ref}, MISSING)"
        absent = "True" if leaf._absent else "False"
        test = f"{self.bind(leaf._test)}(v, scope)"
        if not leaf._fast:
            return f"({absent} if (v := {lookup}) is MISSING or v is None else {test})"
        rest = f"{absent} if v is MISSING or v is None else {test}"
        symbol = _INLINE.get(leaf.op)
        quick = (
            f"{self.bind(leaf.operand)} {symbol} v" if symbol else f"{self.bind(leaf._quick)}(v)"
        )
        return f"(({quick}) if type(v := {lookup}) in {self.bind(leaf._fast)} else {rest})"


def _condition_from(
    ref: str, op: str, operand: Any, path: str, file: str | None, line: int | None
) -> Condition:
    return Condition(ref=ref, op=op, operand=operand, path=path, file=file, line=line)
