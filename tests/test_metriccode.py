"""Tests for the metric plan's generated code: the same cache as each group's own path."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from functools import partial
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personalize import metricplan
from personalize.errors import RuleError
from personalize.metrics import Metric, MetricPlan
from personalize.rules import MappingScope
from personalize.segments import parse_metric
from personalize.yamlfile import load_yaml
from zones import FixedZone

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
FIELDS = frozenset(
    {"orders", "orders.total", "orders.at", "orders.placed", "orders.category"}
    | {"signup_at", "logins"}
)
# Every kind over one list, in and out of windows (two stamp fields), with and without
# `where`; a date-time field read whole; a list of bare date-times.
SPECS = {
    "n": "{count: orders}",
    "n30": "{count: orders, within: 30d}",
    "n365": "{count: orders, within: 365d}",
    "totals": "{count: orders.total}",
    "spend": "{sum: orders.total, within: 365d}",
    "avg": "{avg: orders.total}",
    "low": "{min: orders.total}",
    "high": "{max: orders.total, within: 30d}",
    "first": "{min: orders.at, within: 30d}",
    "last": "{max: orders.at}",
    "since": "{days_since: orders.at}",
    "since30": "{days_since: orders.at, within: 30d, at: placed}",
    "shoes": "{count: orders, where: {category: shoes}}",
    "big": "{sum: orders.total, where: {total: {gt: 5}}, within: 30d}",
    "signup": "{days_since: signup_at}",
    "visits": "{count: logins}",
    "visit": "{max: logins}",
    "seen": "{days_since: logins}",
}


def parsed(name: str, spec: str) -> Metric:
    doc = load_yaml(f"metrics:\n  {name}: {spec}\n", file="segments.yaml")
    return parse_metric(
        name, doc.data["metrics"][name], doc=doc, path=("metrics", name), fields=FIELDS
    )


METRICS = [parsed(name, spec) for name, spec in SPECS.items()]
PLAN = MetricPlan(METRICS, frozenset(SPECS))


SHARED = FixedZone(2)  # one zone object shared by several stamps
ZONES: list[Callable[[], tzinfo | None]] = [
    lambda: UTC,
    lambda: timezone(timedelta(hours=-5)),
    lambda: BERLIN,
    lambda: FixedZone(1),
    lambda: SHARED,
    lambda: None,
]
STAMPS = st.builds(
    lambda days, zone: (NOW - timedelta(days=days)).astimezone(UTC).replace(tzinfo=zone()),
    st.floats(min_value=-3, max_value=500, allow_nan=False),
    st.sampled_from(ZONES),
)
NUMBERS = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_infinity=False),
    st.decimals(allow_infinity=False, places=2),
    st.sampled_from([Decimal("NaN"), float("nan"), True, "12"]),
)
VALUES = st.one_of(st.none(), STAMPS, NUMBERS)
ITEM = st.fixed_dictionaries(
    {},
    optional={
        "at": st.one_of(STAMPS, VALUES),
        "placed": STAMPS,
        "total": st.one_of(NUMBERS, VALUES),
        "category": st.sampled_from(["shoes", "bags", None]),
    },
)
ITEMS = st.one_of(ITEM, ITEM.map(MappingProxyType), st.none(), st.integers())
LISTS = st.one_of(
    st.lists(ITEM, max_size=5),
    st.lists(ITEM.map(MappingProxyType), max_size=5).map(tuple),
    st.lists(ITEMS, max_size=4),
)
DATA = st.fixed_dictionaries(
    {},
    optional={
        "orders": st.one_of(LISTS, VALUES, st.text(max_size=3)),
        "signup_at": st.one_of(VALUES, st.lists(STAMPS, max_size=3)),
        "logins": st.one_of(st.lists(st.one_of(STAMPS, st.none()), max_size=4), VALUES),
    },
)
NOWS = st.sampled_from([NOW, NOW.astimezone(BERLIN), NOW.replace(tzinfo=FixedZone(3)), NOW])


def by_groups(plan: MetricPlan, scope: MappingScope) -> dict[Any, Any]:
    """The cache as each group's own path fills it, group by group (the generated code's
    fallback, and what the plan did before it had generated code)."""
    cache: dict[Any, Any] = {}
    utc = scope.now.astimezone(UTC) if scope.now.utcoffset() is not None else scope.now
    for group in plan._groups:
        try:
            group.prefill(scope, cache, utc, metricplan._spans(group, scope.now))
        except Exception:
            continue
    return cache


def described(cache: dict[Any, Any]) -> dict[Any, str]:
    return {key: f"{type(value).__name__} {value!r}" for key, value in cache.items()}


def outcome(call: Callable[[], Any]) -> str:
    try:
        return repr(call())
    except RuleError as err:
        return str(err)


@settings(max_examples=400, deadline=None)
@given(data=DATA, now=NOWS)
def test_the_generated_code_fills_what_the_groups_fill(data: dict[str, Any], now: datetime) -> None:
    scope = MappingScope(data, now=now, tz=BERLIN)
    cache: dict[Any, Any] = {}
    PLAN.prefill(scope, cache)
    assert described(cache) == described(by_groups(PLAN, scope))
    for m in METRICS:  # and every metric then reads as the checked path computes it
        assert outcome(partial(m.compute, scope, cache=cache)) == outcome(partial(m.compute, scope))


def order(days: float, total: Any = Decimal("10.00"), **more: Any) -> MappingProxyType[str, Any]:
    return MappingProxyType({"at": NOW - timedelta(days=days), "total": total, **more})


def test_plain_data_takes_the_generated_path(monkeypatch: pytest.MonkeyPatch) -> None:
    fallbacks: list[str] = []
    monkeypatch.setattr(metricplan._Group, "prefill", lambda g, *_: fallbacks.append(g.head))
    plan = MetricPlan(METRICS, frozenset(SPECS))  # its code calls the patched fallback
    data = {
        "orders": (order(1, placed=NOW), order(45, Decimal("5.50"), category="shoes")),
        "signup_at": NOW - timedelta(days=400, hours=1),
        "logins": [NOW - timedelta(days=2), None],
    }
    cache: dict[Any, Any] = {}
    plan.prefill(MappingScope(data, now=NOW, tz=BERLIN), cache)
    assert fallbacks == []
    values = {m.name: cache[m._key] for m in METRICS}
    assert values == {
        "n": 2,
        "n30": 1,
        "n365": 2,
        "totals": 2,
        "spend": Decimal("15.50"),
        "avg": Decimal("7.75"),
        "low": Decimal("5.50"),
        "high": Decimal("10.00"),
        "first": NOW - timedelta(days=1),
        "last": NOW - timedelta(days=1),
        "since": 1,
        "since30": 1,
        "shoes": 1,
        "big": Decimal("10.00"),
        "signup": 400,
        "visits": 1,
        "visit": NOW - timedelta(days=2),
        "seen": 2,
    }


def test_a_misfit_hands_the_whole_group_to_its_own_path() -> None:
    # A Decimal and a float do not add up in the plan: the sums go the checked way, and the
    # group's other metrics still come from the group's own path, none from half-done code.
    data = {"orders": [order(1), order(2, 1.5)]}
    scope = MappingScope(data, now=NOW, tz=BERLIN)
    cache: dict[Any, Any] = {}
    PLAN.prefill(scope, cache)
    assert described(cache) == described(by_groups(PLAN, scope))
    keys = {m.name: m._key for m in METRICS}
    assert keys["spend"] not in cache
    assert keys["avg"] not in cache
    assert cache[keys["n30"]] == 2
    assert cache[keys["low"]] == 1.5


def test_a_window_past_the_calendar_leaves_its_group_to_the_checked_path() -> None:
    plan = MetricPlan([parsed("m", "{count: orders, within: 999999w}")], frozenset({"m"}))
    cache: dict[Any, Any] = {}
    plan.prefill(MappingScope({"orders": []}, now=NOW, tz=BERLIN), cache)
    assert cache == {}


def test_field_names_stay_data() -> None:
    name = 'x"]) or __import__("os") #'
    fields = frozenset({"orders", f"orders.{name}"})
    doc = load_yaml(f"metrics:\n  m: {{sum: 'orders.{name}'}}\n", file="segments.yaml")
    m = parse_metric("m", doc.data["metrics"]["m"], doc=doc, path=("metrics", "m"), fields=fields)
    cache: dict[Any, Any] = {}
    plan = MetricPlan([m], frozenset({"m"}))
    plan.prefill(MappingScope({"orders": [{name: 2}, {name: 3}]}, now=NOW, tz=BERLIN), cache)
    assert cache == {m._key: 5}


def test_null_items_are_skipped_the_same_on_every_path() -> None:
    # Only unvalidated data holds null items: the plan leaves such a group to the checked
    # path, which skips them as the docs say, never raising.
    data = {"orders": [None, order(1, category="shoes"), None], "logins": [None, NOW]}
    scope = MappingScope(data, now=NOW, tz=BERLIN)
    cache: dict[Any, Any] = {}
    PLAN.prefill(scope, cache)
    assert described(cache) == described(by_groups(PLAN, scope))
    values = {m.name: m.compute(scope, cache=cache) for m in METRICS}
    assert values == {m.name: m.compute(scope) for m in METRICS}
    assert (values["n"], values["n30"], values["totals"], values["shoes"]) == (1, 1, 1, 1)
    assert (values["spend"], values["since"], values["visits"]) == (Decimal("10.00"), 1, 1)
