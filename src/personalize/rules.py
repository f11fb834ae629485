"""The rule language: rule data parsed into typed rules, and evaluation over a mapping."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from .errors import RuleError, format_path
from .operators import OPERATORS
from .rulenodes import All, AnyOf, Condition, Not, Predicate, Rule, TraceEntry
from .scope import MISSING, MappingScope, Scope
from .scope import walk as walk
from .values import parse_duration, written
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

    Under a ``not`` the entries are negated (``not(tier = Bronze)``), so a condition that held
    there, and so made the rule fail, is listed with the value it saw.
    """
    return [entry for entry in trace if not entry.result]
