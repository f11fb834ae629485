"""Tests for the rule language: parsing, operator semantics, traces, durations, totality."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personalize.errors import ConfigError, PersonalizeError, RuleError
from personalize.rules import (
    MISSING,
    All,
    AnyOf,
    Condition,
    MappingScope,
    Not,
    Rule,
    TraceEntry,
    evaluate,
    failed_conditions,
    parse_duration,
    parse_rule,
)
from personalize.yamlfile import Document, load_yaml

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def rule(text: str) -> Rule:
    """Parse ``when: <text>`` from a file named segments.yaml."""
    doc = load_yaml(f"when: {text}", file="segments.yaml")
    return parse_rule(doc.data["when"], doc=doc, path=("when",))


def check(text: str, data: dict[str, Any], *, tz: Any = BERLIN) -> bool:
    return evaluate(rule(text), data, now=NOW, tz=tz)


# -- MISSING -------------------------------------------------------------------------------


def test_missing_is_a_falsy_singleton_that_survives_pickling() -> None:
    assert not MISSING
    assert repr(MISSING) == "missing"
    assert pickle.loads(pickle.dumps(MISSING)) is MISSING


# -- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        pytest.param("{orders_30d: {gt: 5}}", Condition, id="condition"),
        pytest.param("{tier: Gold}", Condition, id="scalar-shorthand"),
        pytest.param("{all: [{a: 1}, {b: 2}]}", All, id="all"),
        pytest.param("{any: [{a: 1}]}", AnyOf, id="any"),
        pytest.param("{not: {a: 1}}", Not, id="not"),
        pytest.param("{a: {gt: 1}, b: {lt: 2}}", All, id="several-keys"),
        pytest.param("{spend: {gte: 100, lt: 500}}", All, id="several-operators"),
    ],
)
def test_parse_builds_the_right_rule(text: str, kind: type[Rule]) -> None:
    assert type(rule(text)) is kind


def test_scalar_shorthand_is_eq() -> None:
    parsed = rule("{tier: Gold}")
    assert isinstance(parsed, Condition)
    assert (parsed.ref, parsed.op, parsed.operand) == ("tier", "eq", "Gold")


def test_several_keys_and_operators_flatten_into_one_all_in_written_order() -> None:
    parsed = rule("{spend: {gte: 100, lt: 500}, tier: Gold}")
    assert parsed.describe() == "all(spend >= 100, spend < 500, tier = Gold)"


def test_refs_and_conditions() -> None:
    parsed = rule("{all: [{a: 1}, {not: {b.c: {gt: 2}}}, {any: [{a: 2}, {d: {exists: true}}]}]}")
    assert parsed.refs() == frozenset({"a", "b.c", "d"})
    assert [leaf.ref for leaf in parsed.conditions()] == ["a", "b.c", "a", "d"]


def test_rules_are_frozen_values() -> None:
    first, second = rule("{tier: {in: [Gold, Silver]}}"), rule("{tier: {in: [Gold, Silver]}}")
    assert first == second
    assert hash(first) == hash(second)
    with pytest.raises(AttributeError):
        first.ref = "x"  # type: ignore[attr-defined]


def test_conditions_can_be_built_in_code() -> None:
    condition = Condition(ref="orders_30d", op="gt", operand=5)
    assert condition.describe() == "orders_30d > 5"
    assert evaluate(condition, {"orders_30d": 6}, now=NOW)
    with pytest.raises(RuleError) as info:
        Condition(ref="a", op="in", operand="Gold")
    assert str(info.value) == "'in' needs a list, got 'Gold' — write in: [Gold, Silver]"


F = "segments.yaml line 1: "


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "{a: {gtt: 5}}",
            F + "when.a.gtt: unknown operator 'gtt' — did you mean 'gt'?",
            id="unknown-operator",
        ),
        pytest.param(
            "{address: {city: Berlin}}",
            F + "when.address.city: unknown operator 'city' — use one of eq, ne, gt, gte, lt, "
            "lte, in, not_in, contains, exists, within, before, after; to test a nested field "
            "write address.city: …",
            id="nested-field-as-operator",
        ),
        pytest.param(
            "{a: {in: Gold}}",
            F + "when.a.in: 'in' needs a list, got 'Gold' — write in: [Gold, Silver]",
            id="in-needs-list",
        ),
        pytest.param(
            "{a: {not_in: 5}}",
            F + "when.a.not_in: 'not_in' needs a list, got 5 — write not_in: [Gold, Silver]",
            id="not-in-needs-list",
        ),
        pytest.param(
            "{a: {in: [Gold, null]}}",
            F + "when.a.in: each 'in' item needs a value, got null — write {exists: false} to "
            "test for a missing value",
            id="in-item-null",
        ),
        pytest.param(
            "{a: {exists: yes please}}",
            F + "when.a.exists: 'exists' needs true or false, got 'yes please' — write exists: "
            "true or exists: false",
            id="exists-needs-bool",
        ),
        pytest.param(
            "{a: {within: 30}}",
            F + "when.a.within: 'within' needs a duration like '30d', got 30 — write a whole "
            "number and a unit: s, m (minutes), h, d or w",
            id="within-needs-duration",
        ),
        pytest.param(
            "{a: {within: 30 days}}",
            F + "when.a.within: expected a duration such as '30d', '12h' or '2w', got '30 days' "
            "— write a whole number and a unit: s, m (minutes), h, d or w",
            id="bad-duration",
        ),
        pytest.param(
            "{a: {within: 2026-01-01}}",
            F + "when.a.within: 'within' needs a duration like '30d', got 2026-01-01 — write a "
            "whole number and a unit: s, m (minutes), h, d or w",
            id="within-date",
        ),
        pytest.param(
            "{a: {before: yesterday}}",
            F + "when.a.before: 'before' needs a date, a date-time or a duration like '30d', "
            "got 'yesterday' — write a date as 2026-11-20 or a duration such as 30d, 12h or 2w",
            id="before-needs-time",
        ),
        pytest.param(
            "{a: {after: true}}",
            F + "when.a.after: 'after' needs a date, a date-time or a duration like '30d', "
            "got true — write a date as 2026-11-20 or a duration such as 30d, 12h or 2w",
            id="after-bool",
        ),
        pytest.param(
            "{a: {gt: true}}",
            F + "when.a.gt: 'gt' needs a number, text or date, got true — write dates as "
            "2026-11-20; quote text",
            id="gt-bool",
        ),
        pytest.param(
            "{a: {lte: [1]}}",
            F + "when.a.lte: 'lte' needs a number, text or date, got [1] — write dates as "
            "2026-11-20; quote text",
            id="lte-list",
        ),
        pytest.param(
            "{a: {gte: .nan}}",
            F + "when.a.gte: 'gte' needs a number, text or date, got nan — write dates as "
            "2026-11-20; quote text",
            id="gte-nan",
        ),
        pytest.param(
            "{a: {eq: [1, 2]}}",
            F + "when.a.eq: 'eq' needs a single value, got a list — use 'in' to match any of "
            "several values",
            id="eq-list",
        ),
        pytest.param(
            "{a: {ne: null}}",
            F + "when.a.ne: 'ne' needs a value, got null — write {exists: false} to test for a "
            "missing value",
            id="ne-null",
        ),
        pytest.param(
            "{a: {contains: {x: 1}}}",
            F + "when.a.contains: 'contains' needs a text, number, true/false or date value, "
            "got {'x': 1} — quote text; write dates as 2026-11-20",
            id="contains-mapping",
        ),
        pytest.param(
            "{a: null}",
            F + "when.a: expected a value or operators, got null — write {exists: false} to "
            "test for a missing value",
            id="shorthand-null",
        ),
        pytest.param(
            "{tier: [Gold, Silver]}",
            F + "when.tier: expected a value or operators, got ['Gold', 'Silver'] — write {in: "
            "[Gold, Silver]} to match any of several values",
            id="shorthand-list",
        ),
        pytest.param(
            "{a: {}}",
            F + "when.a: no operator given — use one of eq, ne, gt, gte, lt, lte, "
            "in, not_in, contains, exists, within, before, after",
            id="no-operator",
        ),
        pytest.param(
            "{all: []}",
            F + "when.all: 'all' needs a non-empty list of rules, got [] — write all: [{tier: "
            "Gold}, {orders_30d: {gt: 5}}]",
            id="empty-all",
        ),
        pytest.param(
            "{any: {a: 1}}",
            F + "when.any: 'any' needs a non-empty list of rules, got {'a': 1} — write any: "
            "[{tier: Gold}, {orders_30d: {gt: 5}}]",
            id="any-not-list",
        ),
        pytest.param(
            "{not: [{a: 1}]}",
            F + "when.not: 'not' needs one rule, got a list — write {not: {any: [...]}} to "
            "negate several rules",
            id="not-list",
        ),
        pytest.param(
            "vip",
            F + "when: expected a rule such as {tier: Gold}, got 'vip' — a rule maps a field, "
            "metric or segment name to a value, e.g. {tier: Gold}",
            id="string-rule",
        ),
        pytest.param(
            "[{a: 1}]",
            F + "when: expected a rule such as {tier: Gold}, got a list — combine rules with "
            "{all: [...]} or {any: [...]}",
            id="list-rule",
        ),
        pytest.param(
            "{}",
            F + "when: empty rule — write at least one condition, e.g. {tier: Gold}",
            id="empty-rule",
        ),
        pytest.param(
            "{all: [5]}",
            F + "when.all[0]: expected a rule such as {tier: Gold}, got 5 — a rule maps a "
            "field, metric or segment name to a value, e.g. {tier: Gold}",
            id="non-mapping-item",
        ),
        pytest.param(
            "{yes: 1}",
            F + "when: expected a field, metric or segment name, got true — quote it: YAML "
            "reads yes/no/on/off as true/false",
            id="bool-key",
        ),
        pytest.param(
            "{a..b: 1}",
            F + "when: expected a field, metric or segment name, got 'a..b' — use a field path "
            "such as address.city, a metric or a segment name",
            id="empty-path-part",
        ),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        rule(text)
    assert str(info.value) == message


def test_parse_errors_point_at_the_line_of_the_bad_operator() -> None:
    text = (
        "segments:\n"
        "  vip:\n"
        "    when:\n"
        "      all:\n"
        "        - {orders_30d: {gt: 5}}\n"
        "        - spend:\n"
        "            gte: 100\n"
        "            lt: lots\n"
        "            gtt: 3\n"
    )
    doc = load_yaml(text, file="segments.yaml")
    with pytest.raises(ConfigError) as info:
        parse_rule(doc.data["segments"]["vip"]["when"], doc=doc, path=("segments", "vip", "when"))
    err = info.value
    assert (err.file, err.line, err.path) == (
        "segments.yaml",
        9,
        "segments.vip.when.all[1].spend.gtt",
    )
    assert err.message == "unknown operator 'gtt'"
    assert err.hint == "did you mean 'gt'?"


def test_parsed_conditions_know_their_file_and_line() -> None:
    doc = load_yaml(
        "when:\n  all:\n    - tier: Gold\n    - orders_30d:\n        gt: 5\n", file="s.yaml"
    )
    parsed = parse_rule(doc.data["when"], doc=doc, path=("when",))
    assert [(c.file, c.line) for c in parsed.conditions()] == [("s.yaml", 3), ("s.yaml", 5)]


# -- durations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("30d", timedelta(days=30), id="days"),
        pytest.param("12h", timedelta(hours=12), id="hours"),
        pytest.param("2w", timedelta(weeks=2), id="weeks"),
        pytest.param("45m", timedelta(minutes=45), id="m-is-minutes"),
        pytest.param("90s", timedelta(seconds=90), id="seconds"),
        pytest.param(" 7d ", timedelta(days=7), id="surrounding-space"),
        pytest.param("0d", timedelta(0), id="zero"),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("30 days", id="words"),
        pytest.param("30", id="no-unit"),
        pytest.param("d", id="no-number"),
        pytest.param("1.5d", id="fraction"),
        pytest.param("-1d", id="negative"),
        pytest.param("30D", id="upper-case"),
        pytest.param("1d12h", id="compound"),
        pytest.param("", id="empty"),
        pytest.param(30, id="not-text"),
    ],
)
def test_parse_duration_rejects(text: Any) -> None:
    with pytest.raises(RuleError) as info:
        parse_duration(text)
    assert info.value.message == (f"expected a duration such as '30d', '12h' or '2w', got {text!r}")
    assert info.value.hint == "write a whole number and a unit: s, m (minutes), h, d or w"


def test_parse_duration_too_long() -> None:
    with pytest.raises(RuleError) as info:
        parse_duration("999999999999w")
    assert str(info.value) == "duration '999999999999w' is too long — use at most 999999999 days"


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from("smhdw"))
def test_parse_duration_property(amount: int, unit: str) -> None:
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    assert parse_duration(f"{amount}{unit}") == timedelta(seconds=amount * seconds)


# -- operator semantics --------------------------------------------------------------------

NAIVE = datetime(2026, 11, 20, 8, 0)  # read in Berlin: 07:00 UTC
SEMANTICS = [
    # absent and None values never raise
    ("{a: {exists: false}}", {}, True, "exists-false-missing"),
    ("{a: {exists: false}}", {"a": None}, True, "exists-false-none"),
    ("{a: {exists: true}}", {}, False, "exists-true-missing"),
    ("{a: {exists: true}}", {"a": 0}, True, "exists-true-zero"),
    ("{a: {exists: false}}", {"a": ""}, False, "exists-false-empty-text"),
    ("{a: {ne: 1}}", {}, True, "ne-missing"),
    ("{a: {not_in: [1]}}", {"a": None}, True, "not-in-none"),
    ("{a: 1}", {}, False, "eq-missing"),
    ("{a: {gt: 1}}", {"a": None}, False, "gt-none"),
    ("{a: {in: [1]}}", {}, False, "in-missing"),
    ("{a: {contains: x}}", {}, False, "contains-missing"),
    ("{a: {within: 30d}}", {"a": None}, False, "within-none"),
    ("{a: {before: 2026-01-01}}", {}, False, "before-missing"),
    ("{a: {after: 30d}}", {}, False, "after-missing"),
    # eq / ne are type-aware
    ("{a: 1}", {"a": 1}, True, "eq-int"),
    ("{a: 1}", {"a": 1.0}, True, "eq-int-float"),
    ("{a: 1}", {"a": Decimal("1.00")}, True, "eq-int-decimal"),
    ("{a: 0.5}", {"a": Decimal("0.5")}, True, "eq-float-decimal"),
    ("{a: 1}", {"a": True}, False, "true-is-not-1"),
    ("{a: true}", {"a": 1}, False, "1-is-not-true"),
    ("{a: true}", {"a": True}, True, "eq-bool"),
    ("{a: 1}", {"a": "1"}, False, "number-is-not-text"),
    ("{a: '1'}", {"a": 1}, False, "text-is-not-number"),
    ("{a: Gold}", {"a": "Gold"}, True, "eq-text"),
    ("{a: Gold}", {"a": "gold"}, False, "eq-text-case"),
    ("{a: 2026-11-20}", {"a": date(2026, 11, 20)}, True, "eq-date"),
    ("{a: 2026-11-20}", {"a": datetime(2026, 11, 20)}, False, "date-is-not-datetime"),
    ("{a: 2026-11-20}", {"a": "2026-11-20"}, False, "date-is-not-text"),
    ("{a: 2026-11-20T08:00:00}", {"a": NAIVE}, True, "eq-naive-datetimes"),
    ("{a: '2026-11-20T07:00:00+00:00'}", {"a": NAIVE}, False, "text-operand-not-datetime"),
    ("{a: {eq: 2026-11-20T07:00:00Z}}", {"a": NAIVE}, True, "naive-value-in-tz"),
    ("{a: {ne: 1}}", {"a": 2}, True, "ne"),
    ("{a: {ne: 1}}", {"a": True}, True, "ne-type-aware"),
    ("{a: 1}", {"a": float("nan")}, False, "nan-eq"),
    ("{a: {ne: 1}}", {"a": float("nan")}, True, "nan-ne"),
    ("{a: 1}", {"a": Decimal("NaN")}, False, "decimal-nan-eq"),
    ("{a: 1}", {"a": Decimal("sNaN")}, False, "decimal-snan-eq"),
    ("{a: 1}", {"a": 10**400}, False, "huge-int"),
    ("{a: 1}", {"a": [1]}, False, "list-is-not-scalar"),
    ("{a: 1}", {"a": {"x": 1}}, False, "mapping-is-not-scalar"),
    ("{a: x}", {"a": b"x"}, False, "bytes-are-not-text"),
    # order comparisons
    ("{a: {gt: 5}}", {"a": 6}, True, "gt"),
    ("{a: {gt: 5}}", {"a": 5}, False, "gt-equal"),
    ("{a: {gte: 5}}", {"a": 5.0}, True, "gte"),
    ("{a: {lt: 5}}", {"a": Decimal("4.99")}, True, "lt-decimal"),
    ("{a: {gte: 0.1}}", {"a": Decimal("0.1")}, False, "decimal-vs-float-exact"),
    ("{a: {gt: 1.5}}", {"a": 10**400}, True, "huge-int-vs-float"),
    ("{a: {lt: 1.5}}", {"a": float("-inf")}, True, "minus-infinity"),
    ("{a: {gt: 5}}", {"a": float("nan")}, False, "nan-gt"),
    ("{a: {lte: 5}}", {"a": float("nan")}, False, "nan-lte"),
    ("{a: {gt: 5}}", {"a": Decimal("NaN")}, False, "decimal-nan-gt"),
    ("{a: {lt: m}}", {"a": "apple"}, True, "text-order"),
    ("{a: {gte: 2026-11-20}}", {"a": date(2026, 11, 20)}, True, "date-order"),
    (
        "{a: {gte: 2026-11-20}}",
        {"a": datetime(2026, 11, 19, 23, 30, tzinfo=UTC)},
        True,
        "datetime-value-date-operand-in-tz",
    ),
    (
        "{a: {lt: 2026-11-20T00:00:00+01:00}}",
        {"a": date(2026, 11, 20)},
        False,
        "date-value-is-midnight-in-tz",
    ),
    ("{a: {gt: 2026-11-20T06:30:00Z}}", {"a": NAIVE}, True, "naive-value-vs-aware-operand"),
    ("{a: {lt: 2026-11-20T08:30:00}}", {"a": NAIVE}, True, "naive-both"),
    ("{a: {lt: 2026-11-20T07:30:00}}", {"a": NAIVE}, False, "naive-both-later"),
    # in / not_in
    ("{a: {in: [Gold, Silver]}}", {"a": "Silver"}, True, "in-text"),
    ("{a: {in: [1, 2]}}", {"a": 2.0}, True, "in-number"),
    ("{a: {in: [1, 2]}}", {"a": True}, False, "in-type-aware"),
    ("{a: {in: [true]}}", {"a": 1}, False, "in-bool-type-aware"),
    ("{a: {in: [1]}}", {"a": float("nan")}, False, "in-nan"),
    ("{a: {in: [1]}}", {"a": [1]}, False, "in-unhashable"),
    ("{a: {in: [2026-11-20T08:00:00]}}", {"a": NAIVE}, True, "in-datetime"),
    ("{a: {in: [2026-11-20]}}", {"a": NAIVE}, False, "in-date-vs-datetime"),
    ("{a: {not_in: [Gold]}}", {"a": "Silver"}, True, "not-in"),
    ("{a: {not_in: [Gold]}}", {"a": "Gold"}, False, "not-in-member"),
    # contains
    ("{a: {contains: old}}", {"a": "Gold"}, True, "contains-substring"),
    ("{a: {contains: sale}}", {"a": ["new", "sale"]}, True, "contains-list"),
    ("{a: {contains: 1}}", {"a": ["1", True]}, False, "contains-list-type-aware"),
    ("{a: {contains: 1}}", {"a": (1.0,)}, True, "contains-tuple"),
    ("{a: {contains: shop}}", {"a": {"shop": "https://x"}}, True, "contains-key"),
    ("{a: {contains: cart}}", {"a": {"shop": "https://x"}}, False, "contains-no-key"),
    # within / before / after
    ("{a: {within: 30d}}", {"a": NOW - timedelta(days=30)}, True, "within-lower-bound"),
    ("{a: {within: 30d}}", {"a": NOW - timedelta(days=30, seconds=1)}, False, "within-before"),
    ("{a: {within: 30d}}", {"a": NOW}, True, "within-now"),
    ("{a: {within: 30d}}", {"a": NOW + timedelta(seconds=1)}, False, "within-future"),
    ("{a: {within: 1d}}", {"a": "2026-11-19T10:00:00+00:00"}, True, "within-iso-text"),
    ("{a: {within: 1d}}", {"a": date(2026, 11, 20)}, True, "within-date-is-midnight"),
    ("{a: {within: 12h}}", {"a": NAIVE}, True, "within-naive"),
    ("{a: {before: 30d}}", {"a": NOW - timedelta(days=31)}, True, "before-duration"),
    ("{a: {before: 30d}}", {"a": NOW - timedelta(days=30)}, False, "before-is-strict"),
    ("{a: {after: 30d}}", {"a": NOW - timedelta(days=29)}, True, "after-duration"),
    (
        "{a: {before: 2026-11-20}}",
        {"a": datetime(2026, 11, 19, 23, 30, tzinfo=UTC)},
        False,
        "before-date-midnight-in-tz",
    ),
    (
        "{a: {before: 2026-11-20}}",
        {"a": datetime(2026, 11, 19, 22, 59, tzinfo=UTC)},
        True,
        "before-date-just-before-midnight",
    ),
    ("{a: {after: '2026-11-20T08:00:00Z'}}", {"a": NOW}, True, "after-iso-operand"),
    ("{a: {after: 2026-11-20}}", {"a": "2026-11-20"}, False, "after-same-date"),
    (
        "{a: {before: 2026-11-20T10:00:00+01:00}}",
        {"a": "2026-11-20T08:59:00Z"},
        True,
        "before-aware-operand",
    ),
    # combinators
    ("{all: [{a: 1}, {b: 2}]}", {"a": 1, "b": 2}, True, "all"),
    ("{all: [{a: 1}, {b: 2}]}", {"a": 1, "b": 3}, False, "all-fails"),
    ("{any: [{a: 1}, {b: 2}]}", {"a": 0, "b": 2}, True, "any"),
    ("{any: [{a: 1}, {b: 2}]}", {}, False, "any-fails"),
    ("{not: {a: 1}}", {}, True, "not"),
    ("{a: 1, b: 2}", {"a": 1, "b": 3}, False, "several-keys-are-all"),
    ("{a: {gte: 100, lt: 500}}", {"a": 300}, True, "several-operators-are-all"),
    ("{a: {gte: 100, lt: 500}}", {"a": 500}, False, "several-operators-fail"),
    # dotted paths
    ("{address.city: Berlin}", {"address": {"city": "Berlin"}}, True, "dotted"),
    ("{address.city: Berlin}", {"address": None}, False, "dotted-through-none"),
    ("{address.city: {exists: false}}", {}, True, "dotted-missing"),
]


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [pytest.param(text, data, expected, id=name) for text, data, expected, name in SEMANTICS],
)
def test_semantics(text: str, data: dict[str, Any], expected: bool) -> None:
    assert check(text, data) is expected


def test_date_operand_compares_the_values_date_in_the_scope_zone() -> None:
    late_evening_utc = {"a": datetime(2026, 11, 19, 23, 30, tzinfo=UTC)}
    assert check("{a: {gte: 2026-11-20}}", late_evening_utc, tz=BERLIN)
    assert not check("{a: {gte: 2026-11-20}}", late_evening_utc, tz=UTC)


def test_naive_now_is_read_in_the_zone() -> None:
    parsed = rule("{a: {within: 1h}}")
    value = {"a": datetime(2026, 11, 20, 8, 30, tzinfo=UTC)}
    assert evaluate(parsed, value, now=datetime(2026, 11, 20, 9, 0), tz=UTC)
    assert not evaluate(parsed, value, now=datetime(2026, 11, 20, 9, 0), tz=BERLIN)


def test_scope_names_shadow_data() -> None:
    scope = MappingScope({"vip": False}, now=NOW, names={"vip": True})
    assert rule("{vip: true}").evaluate(scope)


T = "segments.yaml line 1: a: "
HINT = " — check the field's type in the recipient schema"


@pytest.mark.parametrize(
    ("text", "data", "message"),
    [
        pytest.param(
            "{a: {gt: 5}}",
            {"a": "abc"},
            T + "cannot compare 'abc' (text) with 5 (number)" + HINT,
            id="text-vs-number",
        ),
        pytest.param(
            "{a: {gt: 5}}",
            {"a": True},
            T + "cannot compare True (true/false) with 5 (number)" + HINT,
            id="bool-gt",
        ),
        pytest.param(
            "{a: {lt: abc}}",
            {"a": 5},
            T + "cannot compare 5 (number) with 'abc' (text)" + HINT,
            id="number-vs-text",
        ),
        pytest.param(
            "{a: {gt: 2026-11-20}}",
            {"a": "2026-11-21"},
            T + "cannot compare '2026-11-21' (text) with 2026-11-20 (date)" + HINT,
            id="text-vs-date",
        ),
        pytest.param(
            "{a: {gte: 1}}",
            {"a": [1, 2]},
            T + "cannot compare [1, 2] (list) with 1 (number)" + HINT,
            id="list-gte",
        ),
        pytest.param(
            "{a: {gte: 1}}",
            {"a": b"1"},
            T + "cannot compare b'1' (bytes) with 1 (number)" + HINT,
            id="bytes-gte",
        ),
        pytest.param(
            "{a: {contains: 5}}",
            {"a": "abc"},
            T + "cannot look for 5 (number) in text 'abc'" + HINT,
            id="contains-number",
        ),
        pytest.param(
            "{a: {contains: x}}",
            {"a": 5},
            T + "'contains' needs text, a list or a mapping, got 5 (number)" + HINT,
            id="contains-in-number",
        ),
        pytest.param(
            "{a: {within: 30d}}",
            {"a": 5},
            T + "expected a date or date-time, got 5 (number)" + HINT,
            id="within-number",
        ),
        pytest.param(
            "{a: {after: 30d}}",
            {"a": "soon"},
            T + "expected an ISO date or date-time, got 'soon' (text)" + HINT,
            id="after-text",
        ),
        pytest.param(
            "{a: {before: 2026-01-01}}",
            {"a": True},
            T + "expected a date or date-time, got True (true/false)" + HINT,
            id="before-bool",
        ),
    ],
)
def test_evaluation_errors(text: str, data: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleError) as info:
        check(text, data)
    assert str(info.value) == message
    assert info.value.path == "a"


def test_walking_into_a_list_points_to_metrics() -> None:
    with pytest.raises(RuleError) as info:
        check("{orders.total: {gt: 5}}", {"orders": [{"total": 9}]})
    assert str(info.value) == (
        "segments.yaml line 1: orders.total: 'orders' is a list, so 'orders.total' names no "
        "single value — use a metric such as {count: orders} or {sum: orders.total}"
    )


def test_walking_into_text_is_a_type_error() -> None:
    with pytest.raises(RuleError) as info:
        check("{address.city: Berlin}", {"address": "Berlin"})
    assert str(info.value) == (
        "segments.yaml line 1: address.city: expected 'address' to be a mapping to look up "
        "'address.city', got 'Berlin' (text)" + HINT
    )


def test_bad_inputs_to_evaluate_are_rule_errors() -> None:
    with pytest.raises(RuleError, match="expected data as a mapping"):
        evaluate(rule("{a: 1}"), ["a"], now=NOW)  # type: ignore[arg-type]
    with pytest.raises(RuleError, match="expected 'now' to be a datetime and 'tz' a tzinfo"):
        evaluate(rule("{a: 1}"), {}, now=date(2026, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(RuleError, match="expected 'now' to be a datetime and 'tz' a tzinfo"):
        evaluate(rule("{a: 1}"), {}, now=NOW, tz="Europe/Berlin")  # type: ignore[arg-type]


# -- describe ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("{orders_30d: {gt: 5}}", "orders_30d > 5", id="gt"),
        pytest.param("{tier: {in: [Gold, Silver]}}", "tier in [Gold, Silver]", id="in"),
        pytest.param("{tier: {not_in: [Gold]}}", "tier not in [Gold]", id="not-in"),
        pytest.param("{tier: Gold}", "tier = Gold", id="eq"),
        pytest.param("{code: '5'}", "code = '5'", id="text-that-reads-as-number"),
        pytest.param("{flag: 'yes'}", "flag = 'yes'", id="text-that-reads-as-bool"),
        pytest.param("{name: ''}", "name = ''", id="empty-text"),
        pytest.param("{a: {ne: true}}", "a != true", id="ne-bool"),
        pytest.param("{a: {gte: 1.5, lte: 2}}", "all(a >= 1.5, a <= 2)", id="several"),
        pytest.param("{a: {exists: true}}", "a exists", id="exists"),
        pytest.param("{a: {exists: false}}", "a does not exist", id="not-exists"),
        pytest.param("{tags: {contains: sale}}", "tags contains sale", id="contains"),
        pytest.param("{seen: {within: 30d}}", "seen within 30d", id="within"),
        pytest.param("{seen: {before: 90d}}", "seen before 90d ago", id="before-duration"),
        pytest.param("{seen: {after: 2026-11-20}}", "seen after 2026-11-20", id="after-date"),
        pytest.param(
            "{seen: {after: 2026-11-20T09:00:00+01:00}}",
            "seen after 2026-11-20T09:00:00+01:00",
            id="after-datetime",
        ),
        pytest.param("{any: [{a: 1}, {not: {b: 2}}]}", "any(a = 1, not(b = 2))", id="combinators"),
    ],
)
def test_describe(text: str, expected: str) -> None:
    assert rule(text).describe() == expected


# -- traces --------------------------------------------------------------------------------

VIP = """
segments:
  vip:
    when:
      all:
        - {orders_30d: {gt: 5}}
        - {tier: {in: [Gold, Silver]}, spend: {gte: 100, lt: 500}}
        - {not: {email: {exists: false}}}
"""


def vip_rule() -> Rule:
    doc = load_yaml(VIP, file="segments.yaml")
    return parse_rule(
        doc.data["segments"]["vip"]["when"], doc=doc, path=("segments", "vip", "when")
    )


def test_trace_records_path_condition_value_and_result() -> None:
    trace: list[TraceEntry] = []
    data = {"orders_30d": 6, "tier": "Gold", "spend": 200, "email": "a@b.c"}
    assert evaluate(vip_rule(), data, now=NOW, trace=trace)
    assert trace == [
        TraceEntry("segments.vip.when.all[0]", "orders_30d > 5", 6, True),
        TraceEntry("segments.vip.when.all[1].tier", "tier in [Gold, Silver]", "Gold", True),
        TraceEntry("segments.vip.when.all[1].spend.gte", "spend >= 100", 200, True),
        TraceEntry("segments.vip.when.all[1].spend.lt", "spend < 500", 200, True),
        # Under `not`, the condition is negated: it held here, so its negation is false.
        TraceEntry("segments.vip.when.all[2].not", "not(email does not exist)", "a@b.c", True),
    ]


def test_trace_short_circuits_and_shows_missing() -> None:
    trace: list[TraceEntry] = []
    assert not evaluate(vip_rule(), {"orders_30d": 6}, now=NOW, trace=trace)
    assert trace == [
        TraceEntry("segments.vip.when.all[0]", "orders_30d > 5", 6, True),
        TraceEntry("segments.vip.when.all[1].tier", "tier in [Gold, Silver]", MISSING, False),
    ]
    assert trace[1].value is MISSING


def test_any_short_circuits() -> None:
    trace: list[TraceEntry] = []
    assert evaluate(rule("{any: [{a: 1}, {b: 2}]}"), {"a": 1}, now=NOW, trace=trace)
    assert [entry.condition for entry in trace] == ["a = 1"]


def test_failed_conditions() -> None:
    trace: list[TraceEntry] = []
    evaluate(rule("{any: [{a: 1}, {b: 2}, {c: 3}]}"), {"b": 3, "c": 3}, now=NOW, trace=trace)
    assert failed_conditions(trace) == [
        TraceEntry("when.any[0]", "a = 1", MISSING, False),
        TraceEntry("when.any[1]", "b = 2", 3, False),
    ]
    assert failed_conditions([]) == []


def test_a_not_negates_the_trace_of_its_rule() -> None:
    # The condition that held is what failed the rule: shown negated, with the value seen.
    trace: list[TraceEntry] = []
    assert not evaluate(rule("{not: {tier: Bronze}}"), {"tier": "Bronze"}, now=NOW, trace=trace)
    assert trace == [TraceEntry("when.not", "not(tier = Bronze)", "Bronze", False)]
    assert failed_conditions(trace) == trace


def test_failed_conditions_under_a_not_inside_all_and_any() -> None:
    trace: list[TraceEntry] = []
    negated = rule("{all: [{c: 1}, {not: {any: [{a: 1}, {b: 2}]}}]}")
    assert not evaluate(negated, {"a": 0, "b": 2, "c": 1}, now=NOW, trace=trace)
    assert failed_conditions(trace) == [
        TraceEntry("when.all[1].not.any[1]", "not(b = 2)", 2, False)
    ]


def test_a_double_not_restores_the_result() -> None:
    trace: list[TraceEntry] = []
    assert evaluate(rule("{not: {not: {a: 1}}}"), {"a": 1}, now=NOW, trace=trace)
    assert trace == [TraceEntry("when.not.not", "not(not(a = 1))", 1, True)]
    assert failed_conditions(trace) == []


# -- totality ------------------------------------------------------------------------------

REFS = ["a", "b", "n", "t", "when", "m.x", "m.y.z", "l"]
SCALARS = st.one_of(
    st.text(max_size=8),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    st.booleans(),
    st.dates(),
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
)
ORDERED = st.one_of(
    st.text(max_size=8), st.integers(), st.floats(allow_nan=False), st.dates(), st.datetimes()
)
DURATIONS = st.builds(
    lambda n, unit: f"{n}{unit}", st.integers(0, 100_000), st.sampled_from("smhdw")
)
OPERANDS: dict[str, st.SearchStrategy[Any]] = {
    "eq": SCALARS,
    "ne": SCALARS,
    "gt": ORDERED,
    "gte": ORDERED,
    "lt": ORDERED,
    "lte": ORDERED,
    "in": st.lists(SCALARS, max_size=4),
    "not_in": st.lists(SCALARS, max_size=4),
    "contains": SCALARS,
    "exists": st.booleans(),
    "within": DURATIONS,
    "before": st.one_of(DURATIONS, st.dates(), st.datetimes()),
    "after": st.one_of(DURATIONS, st.dates(), st.datetimes(timezones=st.timezones())),
}
CONDITIONS = st.sampled_from(sorted(OPERANDS)).flatmap(
    lambda op: st.builds(
        lambda ref, operand: {ref: {op: operand}}, st.sampled_from(REFS), OPERANDS[op]
    )
)
RULES = st.recursive(
    CONDITIONS,
    lambda inner: st.one_of(
        st.builds(lambda rules: {"all": rules}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda rules: {"any": rules}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda rule_: {"not": rule_}, inner),
    ),
    max_leaves=6,
)
JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=12),
        st.sampled_from(["2026-11-20", "2026-11-20T09:00:00+01:00", "2026-11-20T09:00:00"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from([*REFS, "x", "y"]), inner)
    ),
    max_leaves=10,
)
# Beyond JSON: values a validated or hand-built recipient may hold.
EXOTIC = st.one_of(
    JSON,
    st.decimals(allow_nan=True, allow_infinity=True),
    st.just(Decimal("sNaN")),
    st.integers(min_value=10**300, max_value=10**400),
    st.dates(),
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
    st.binary(max_size=4),
    st.tuples(st.integers(), st.text(max_size=3)),
    st.sets(st.integers(), max_size=3),
)
RECIPIENTS = st.dictionaries(
    st.sampled_from([*REFS, "m", "y"]),
    st.one_of(EXOTIC, st.dictionaries(st.sampled_from(["x", "y", "z"]), EXOTIC)),
)


@settings(max_examples=400, deadline=None)
@given(
    data=RULES,
    recipient=RECIPIENTS,
    now=st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
    tz=st.timezones(),
)
def test_evaluation_is_total(data: Any, recipient: dict[str, Any], now: datetime, tz: Any) -> None:
    parsed = parse_rule(data, doc=Document(data, "rules.yaml"), path=())
    trace: list[TraceEntry] = []
    result = outcome(lambda: evaluate(parsed, recipient, now=now, tz=tz, trace=trace))
    if isinstance(result, RuleError):
        assert result.file == "rules.yaml" or result.path == "now"
        assert result.path
    else:
        assert type(result) is bool
        assert all(type(entry.result) is bool for entry in trace)


@settings(max_examples=300, deadline=None)
@given(
    data=RULES,
    recipient=RECIPIENTS,
    named=st.dictionaries(st.sampled_from(["n", "t", "l"]), EXOTIC, max_size=2),
    now=st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
    tz=st.timezones(),
)
def test_compiled_rules_agree_with_evaluate(
    data: Any, recipient: dict[str, Any], named: dict[str, Any], now: datetime, tz: Any
) -> None:
    # A compiled rule gives evaluate's result, or raises and leaves the answer to evaluate.
    parsed = parse_rule(data, doc=Document(data, "rules.yaml"), path=())
    scope = outcome(lambda: MappingScope(recipient, now=now, tz=tz, names=named))
    if isinstance(scope, RuleError):  # a now outside years 1-9999 in UTC: no rule runs at all
        assert scope.path == "now"
        return
    expected = outcome(lambda: parsed.evaluate(scope))
    try:
        result = parsed.compiled(frozenset(named))(recipient, named, scope)
    except Exception:
        return
    assert result is expected


def test_compiled_rules_read_names_from_values_and_the_rest_from_data() -> None:
    parsed = rule("{all: [{vip: true}, {tier: {in: [Gold]}}, {links.shop: {exists: true}}]}")
    run = parsed.compiled(frozenset({"vip"}))
    scope = MappingScope({}, now=NOW)
    data = {"vip": False, "tier": "Gold", "links": {"shop": "https://x"}}
    assert run(data, {"vip": True}, scope)
    assert not run(data, {"vip": False}, scope)
    with pytest.raises(RuleError):  # what evaluate would raise, unlocated: callers fall back
        run({**data, "links": ["x"]}, {"vip": True}, scope)


@pytest.mark.parametrize("op", ["eq", "ne", "gt", "gte", "lt", "lte"])
@pytest.mark.parametrize(
    ("operand", "values"),
    [
        (5, [4, 5, 6, 4.5, 5.0, Decimal("5"), Decimal("5.5")]),
        (2.5, [2, 2.5, 3, Decimal("2.5")]),
        ("m", ["a", "m", "z", ""]),
        (date(2026, 11, 20), [date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 21)]),
    ],
)
def test_compiled_comparisons_agree_with_evaluate_below_at_and_above(
    op: str, operand: Any, values: list[Any]
) -> None:
    # The compiled rule writes comparisons inline for exact types; equal values are the edge
    # that random operands rarely hit.
    leaf = Condition(ref="v", op=op, operand=operand)
    run = leaf.compiled(frozenset())
    for value in values:
        scope = MappingScope({"v": value}, now=NOW)
        assert run({"v": value}, {}, scope) is leaf.evaluate(scope), value


def test_a_compiled_rule_reads_refs_and_operands_as_values_never_as_source() -> None:
    # The compiled rule is generated Python: text from a rules file must not become code.
    odd = "x) or (1"
    run = Condition(ref=odd, op="eq", operand="y') or ('").compiled(frozenset())
    scope = MappingScope({}, now=NOW)
    assert run({odd: "y') or ('"}, {}, scope) is True
    assert run({odd: "y"}, {}, scope) is False
    assert run({"x": "y') or ('"}, {}, scope) is False


def test_a_rule_nested_too_deeply_for_one_expression_runs_as_evaluate_does() -> None:
    nested: Rule = Condition(ref="a", op="gt", operand=1)
    for _ in range(400):  # past the parser's limit of nested parentheses
        nested = Not(rule=nested)
    run = nested.compiled(frozenset())
    for value in (0, 2, None):
        expected = nested.evaluate(MappingScope({"a": value}, now=NOW))
        assert run({"a": value}, {}, MappingScope({}, now=NOW)) is expected


def test_a_rule_defined_elsewhere_compiles_to_its_evaluate() -> None:
    class Even(Rule):
        def evaluate(self, scope: Any, trace: list[TraceEntry] | None = None) -> bool:
            return bool(scope.lookup("n") % 2 == 0)

    both = All(rules=(Condition(ref="a", op="exists", operand=True), Even()))
    run = both.compiled(frozenset({"n"}))
    scope = MappingScope({}, now=NOW)
    assert run({"a": 1}, {"n": 4}, scope) is True
    assert run({"a": 1}, {"n": 3}, scope) is False
    assert run({}, {"n": 4}, scope) is False


def outcome(call: Callable[[], Any]) -> Any:
    """The call's result, or the personalize error it raised (any other exception escapes)."""
    try:
        return call()
    except PersonalizeError as err:
        return err


RAW = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=6),
        st.dates(),
        st.sampled_from(
            OPERATORS_AND_COMBINATORS := [
                "eq",
                "ne",
                "gt",
                "in",
                "exists",
                "within",
                "before",
                "all",
                "any",
                "not",
            ]
        ),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(
                st.sampled_from(OPERATORS_AND_COMBINATORS + REFS), st.integers(), st.booleans()
            ),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(RAW)
def test_parsing_is_total(data: Any) -> None:
    parsed = outcome(lambda: parse_rule(data, doc=Document(data, "rules.yaml"), path=("when",)))
    if isinstance(parsed, PersonalizeError):
        assert type(parsed) is ConfigError
        assert parsed.file == "rules.yaml"
        assert parsed.message
    else:
        assert isinstance(parsed, Rule)
        assert parsed.describe()


def test_extreme_dates_stay_rule_errors() -> None:
    parsed = rule("{a: {within: 999999w}}")
    with pytest.raises(RuleError, match="cannot evaluate 'a within 999999w'"):
        evaluate(parsed, {"a": NOW}, now=NOW)
    far_east = timezone(timedelta(hours=14))
    assert evaluate(rule("{a: {before: 1d}}"), {"a": datetime(1, 1, 1, tzinfo=far_east)}, now=NOW)


def test_parsed_rules_survive_pickling() -> None:
    parsed = vip_rule()
    copy = pickle.loads(pickle.dumps(parsed))
    assert copy == parsed
    data = {"orders_30d": 6, "tier": "Gold", "spend": 200, "email": "a@b.c"}
    assert evaluate(copy, data, now=NOW)


def test_check_and_check_all_apply_a_condition_to_values() -> None:
    condition = rule("{total: {gt: 5}}")
    assert isinstance(condition, Condition)
    scope = MappingScope({}, now=NOW)
    assert condition.check(6, scope)
    assert not condition.check(MISSING, scope)
    assert condition.check_all([6, None, 5, 7.5], scope) == [True, False, False, True]
    with pytest.raises(RuleError) as info:
        condition.check_all([6, "x"], scope)
    assert str(info.value) == (
        "segments.yaml line 1: total: cannot compare 'x' (text) with 5 (number)" + HINT
    )
