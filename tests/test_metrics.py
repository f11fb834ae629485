"""Tests for metrics: computations, windows, where filters, data errors, load-time checks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personalize.errors import ConfigError, RuleError
from personalize.metrics import Metric, MetricPlan
from personalize.rules import MappingScope
from personalize.segments import declared, parse_metric
from personalize.yamlfile import load_yaml
from zones import FixedZone

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
FIELDS = frozenset(
    {
        "orders",
        "orders.total",
        "orders.at",
        "orders.category",
        "orders.placed",
        "signup_at",
        "scores",
        "logins",
        "tier",
        "attributes",
        "profile",
        "profile.visits",
        "profile.visits.at",
    }
)


def metric(spec: str, fields: frozenset[str] = FIELDS) -> Metric:
    """Parse ``metrics: {m: <spec>}`` from segments.yaml (the metric is on line 2)."""
    doc = load_yaml(f"metrics:\n  m: {spec}\n", file="segments.yaml")
    return parse_metric(
        "m", doc.data["metrics"]["m"], doc=doc, path=("metrics", "m"), fields=fields
    )


def compute(spec: str, data: dict[str, Any]) -> Any:
    return metric(spec).compute(MappingScope(data, now=NOW, tz=BERLIN))


def order(total: Any, days_ago: float, category: str = "shoes") -> dict[str, Any]:
    return {"total": total, "at": NOW - timedelta(days=days_ago), "category": category}


ORDERS = [order(10, 1), order(20, 10, "bags"), order(30, 40), order(40, 400, "bags")]


@pytest.mark.parametrize(
    ("spec", "data", "expected"),
    [
        pytest.param("{count: orders}", {"orders": ORDERS}, 4, id="count"),
        pytest.param("{count: orders, within: 30d}", {"orders": ORDERS}, 2, id="count-window"),
        pytest.param("{sum: orders.total}", {"orders": ORDERS}, 100, id="sum"),
        pytest.param("{sum: orders.total, within: 365d}", {"orders": ORDERS}, 60, id="sum-window"),
        pytest.param("{avg: orders.total}", {"orders": ORDERS}, 25.0, id="avg"),
        pytest.param("{min: orders.total}", {"orders": ORDERS}, 10, id="min"),
        pytest.param("{max: orders.total, within: 30d}", {"orders": ORDERS}, 20, id="max-window"),
        pytest.param("{days_since: orders.at}", {"orders": ORDERS}, 1, id="days-since-latest"),
        pytest.param(
            "{days_since: signup_at}", {"signup_at": date(2026, 11, 10)}, 10, id="days-since-date"
        ),
        pytest.param(
            "{days_since: signup_at}",
            {"signup_at": "2026-11-18T09:00:01+00:00"},
            1,
            id="days-since-floors",
        ),
        pytest.param(
            "{days_since: signup_at}",
            {"signup_at": NOW + timedelta(days=2)},
            -2,
            id="days-since-future",
        ),
        pytest.param(
            "{days_since: logins}", {"logins": [date(2026, 11, 1)]}, 19, id="list-of-dates"
        ),
        pytest.param(
            "{count: orders, where: {category: shoes}}", {"orders": ORDERS}, 2, id="where"
        ),
        pytest.param(
            "{sum: orders.total, where: {category: bags}, within: 30d}",
            {"orders": ORDERS},
            20,
            id="where-and-window",
        ),
        pytest.param(
            "{count: orders, where: {all: [{category: bags}, {total: {gt: 25}}]}}",
            {"orders": ORDERS},
            1,
            id="compound-where",
        ),
        pytest.param("{sum: scores}", {"scores": [1, 2.5]}, 3.5, id="sum-of-list"),
        pytest.param(
            "{sum: orders.total}",
            {"orders": [{"total": Decimal("1.10")}, {"total": Decimal("2.20")}]},
            Decimal("3.30"),
            id="sum-decimal",
        ),
        pytest.param(
            "{sum: orders.total}",
            {"orders": [{"total": Decimal("1.5")}, {"total": 1.5}]},
            3.0,
            id="sum-decimal-and-float",
        ),
        pytest.param(
            "{max: orders.at}",
            {"orders": [{"at": date(2026, 1, 2)}, {"at": datetime(2026, 1, 1, tzinfo=UTC)}]},
            datetime(2026, 1, 2, tzinfo=BERLIN),
            id="max-dates",
        ),
        pytest.param(
            "{count: profile.visits, within: 7d}",
            {"profile": {"visits": [{"at": NOW}, {"at": NOW - timedelta(days=8)}]}},
            1,
            id="nested-list",
        ),
        # items whose value is absent or null are skipped
        pytest.param(
            "{avg: orders.total}",
            {"orders": [{"total": 10}, {"total": None}, {}]},
            10.0,
            id="avg-skips-missing",
        ),
        pytest.param(
            "{count: orders.total}", {"orders": [{"total": 10}, {}]}, 1, id="count-of-field"
        ),
        pytest.param(
            "{count: orders, within: 30d}",
            {"orders": [{"at": None}, {}, {"at": NOW}]},
            1,
            id="window-skips-missing-stamp",
        ),
        # null items (only in data that was not validated) are skipped by every metric
        pytest.param("{count: orders}", {"orders": [None, order(5, 1)]}, 1, id="null-item"),
        pytest.param(
            "{count: orders, within: 30d}",
            {"orders": [None, order(5, 1)]},
            1,
            id="null-item-window",
        ),
        pytest.param(
            "{count: orders, where: {category: shoes}}",
            {"orders": [order(5, 1), None]},
            1,
            id="null-item-where",
        ),
        pytest.param(
            "{count: orders, where: {category: {exists: false}}}",
            {"orders": [None, {"total": 1}]},
            1,
            id="null-item-where-absent",
        ),
        pytest.param(
            "{count: orders, where: {any: [{category: bags}, {total: {gt: 3}}]}}",
            {"orders": [None, order(5, 1)]},
            1,
            id="null-item-compound-where",
        ),
        pytest.param(
            "{count: orders.total}", {"orders": [None, order(5, 1)]}, 1, id="null-item-count"
        ),
        pytest.param("{sum: orders.total}", {"orders": [order(5, 1), None]}, 5, id="null-item-sum"),
        pytest.param(
            "{max: orders.at}",
            {"orders": [None, order(5, 1)]},
            NOW - timedelta(days=1),
            id="null-item-max",
        ),
        pytest.param(
            "{days_since: orders.at}", {"orders": [None, order(5, 2)]}, 2, id="null-item-since"
        ),
        pytest.param(
            "{count: profile.visits, within: 7d}",
            {"profile": {"visits": [None, {"at": NOW}]}},
            1,
            id="null-item-nested-list",
        ),
        # empty or absent lists
        pytest.param("{count: orders}", {"orders": []}, 0, id="count-empty"),
        pytest.param("{count: orders}", {}, 0, id="count-absent"),
        pytest.param("{sum: orders.total}", {"orders": None}, 0, id="sum-null"),
        pytest.param("{avg: orders.total}", {"orders": []}, None, id="avg-empty"),
        pytest.param("{min: orders.total}", {}, None, id="min-absent"),
        pytest.param("{max: orders.total}", {"orders": [{}]}, None, id="max-no-values"),
        pytest.param("{days_since: orders.at}", {"orders": []}, None, id="days-since-empty"),
        pytest.param("{days_since: signup_at}", {}, None, id="days-since-absent"),
        pytest.param("{count: profile.visits}", {"profile": None}, 0, id="absent-parent"),
    ],
)
def test_compute(spec: str, data: dict[str, Any], expected: Any) -> None:
    result = compute(spec, data)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("offset", "inside"),
    [
        pytest.param(timedelta(days=30), True, id="exactly-30d-ago"),
        pytest.param(timedelta(days=30, microseconds=1), False, id="just-before"),
        pytest.param(timedelta(0), True, id="now"),
        pytest.param(-timedelta(microseconds=1), False, id="future"),
    ],
)
def test_window_boundaries(offset: timedelta, inside: bool) -> None:
    assert compute("{count: orders, within: 30d}", {"orders": [{"at": NOW - offset}]}) == inside


def test_window_reads_naive_stamps_and_dates_in_the_zone() -> None:
    # Midnight 2026-10-21 in Berlin is 22:00 UTC the day before: inside a 30-day window that
    # starts at 2026-10-21 09:00 UTC? No — so the date counts only from the next day on.
    orders = [
        {"at": date(2026, 10, 21)},
        {"at": date(2026, 10, 22)},
        {"at": datetime(2026, 11, 20, 9, 30)},
    ]
    assert compute("{count: orders, within: 30d}", {"orders": orders}) == 2


def test_a_shared_cache_gives_the_same_values() -> None:
    specs = [
        "{count: orders, within: 30d}",
        "{sum: orders.total, within: 30d}",
        "{max: orders.total}",
        "{days_since: orders.at}",
        "{count: orders, where: {category: shoes}}",
    ]
    scope = MappingScope({"orders": ORDERS}, now=NOW, tz=BERLIN)
    cache: dict[Any, Any] = {}
    shared = [metric(spec).compute(scope, cache=cache) for spec in specs]
    assert shared == [metric(spec).compute(scope) for spec in specs] == [2, 30, 40, 1, 2]


E = "segments.yaml line 2: "
TYPE = " — check the field's type in the recipient schema"


@pytest.mark.parametrize(
    ("spec", "data", "message"),
    [
        pytest.param(
            "{sum: orders.total}",
            {"orders": [{"total": 1}, {"total": "abc"}]},
            E + "orders[1].total: metric 'm': expected numbers, got 'abc' (text)" + TYPE,
            id="text-in-sum",
        ),
        pytest.param(
            "{avg: orders.total}",
            {"orders": [{"total": True}]},
            E + "orders[0].total: metric 'm': expected numbers, got True (true/false)" + TYPE,
            id="bool-in-avg",
        ),
        pytest.param(
            "{max: orders.total}",
            {"orders": [{"total": [1]}]},
            E + "orders[0].total: metric 'm': expected numbers or dates, got [1] (list)" + TYPE,
            id="list-in-max",
        ),
        pytest.param(
            "{sum: orders.total}",
            {"orders": [{"total": 1}, "abc"]},
            E + "orders[1]: metric 'm': expected each item of 'orders' to be a mapping, got "
            "'abc' (text)",
            id="non-mapping-item",
        ),
        pytest.param(
            "{count: orders, within: 30d}",
            {"orders": [5]},
            E + "orders[0]: metric 'm': expected each item of 'orders' to be a mapping, got "
            "5 (number)",
            id="non-mapping-item-window",
        ),
        pytest.param(
            "{count: orders}",
            {"orders": "many"},
            E + "orders: metric 'm': expected a list, got 'many' (text)",
            id="non-list-source",
        ),
        pytest.param(
            "{count: orders, within: 30d}",
            {"orders": [{"at": NOW}, {"at": "yesterday"}]},
            E + "orders[1].at: metric 'm': expected an ISO date or date-time, got 'yesterday' "
            "(text)" + TYPE,
            id="bad-stamp",
        ),
        pytest.param(
            "{days_since: signup_at}",
            {"signup_at": 5},
            E + "signup_at: metric 'm': expected a date or date-time, got 5 (number)" + TYPE,
            id="days-since-number",
        ),
        pytest.param(
            "{count: orders, where: {total: {gt: 5}}}",
            {"orders": [{"total": 9}, {"total": "x"}]},
            E + "orders[1].total: metric 'm': cannot compare 'x' (text) with 5 (number)" + TYPE,
            id="where-type-error",
        ),
        pytest.param(
            "{max: orders.total}",
            {"orders": [{"total": 1}, {"total": date(2026, 1, 1)}]},
            E + "orders.total: metric 'm' cannot be computed: '>' not supported between "
            "instances of 'datetime.datetime' and 'int'" + TYPE,
            id="numbers-and-dates",
        ),
    ],
)
def test_data_errors(spec: str, data: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleError) as info:
        compute(spec, data)
    assert str(info.value) == message


L = "segments.yaml line 2: metrics.m"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            "{count: orders, whithin: 30d}",
            L + ".whithin: unknown key 'whithin' — did you mean 'within'?",
            id="unknown-key",
        ),
        pytest.param(
            "{within: 30d}",
            L + ": metric 'm' needs one of count, sum, avg, min, max, days_since — one kind per "
            "metric; split it into two metrics",
            id="no-kind",
        ),
        pytest.param(
            "{count: orders, sum: orders.total}",
            L + ".sum: metric 'm' has two kinds, 'count' and 'sum' — one kind per metric; split "
            "it into two metrics",
            id="two-kinds",
        ),
        pytest.param(
            "{count: ordrs}",
            L + ".count: unknown field 'ordrs' — did you mean 'orders'?",
            id="unknown-field",
        ),
        pytest.param(
            "{count: 5}",
            L + ".count: 'count' needs a field path such as 'orders' or 'orders.total', got 5 "
            "— name a list field, or a field of its items",
            id="source-not-text",
        ),
        pytest.param(
            "{count: orders, within: 30 days}",
            L + ".within: expected a duration such as '30d', '12h' or '2w', got '30 days' — "
            "write a whole number and a unit: s, m (minutes), h, d or w",
            id="bad-within",
        ),
        pytest.param(
            "{days_since: signup_at, within: 30d}",
            L + ".within: 'within' needs a timestamp, but the items of 'signup_at' have no "
            "field 'at' — set 'at:' to the item field that holds each item's date",
            id="within-without-timestamp",
        ),
        pytest.param(
            "{count: orders, within: 30d, at: placed_at}",
            L + ".within: 'within' needs a timestamp, but the items of 'orders' have no field "
            "'placed_at' — set 'at:' to the item field that holds each item's date",
            id="within-unknown-at",
        ),
        pytest.param(
            "{count: orders, where: {categry: shoes}}",
            L + ".where: unknown item field 'categry' — did you mean 'category'?",
            id="where-unknown-item-field",
        ),
        pytest.param(
            "{count: orders, where: {total: {gtt: 5}}}",
            L + ".where.total.gtt: unknown operator 'gtt' — did you mean 'gt'?",
            id="where-bad-rule",
        ),
        pytest.param(
            "[count, orders]",
            L + ": metric 'm' must be a mapping, got ['count', 'orders'] (list) — write e.g. "
            "{count: orders, within: 30d}",
            id="not-a-mapping",
        ),
    ],
)
def test_load_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        metric(spec)
    assert str(info.value) == message


def test_parsed_metric_fields() -> None:
    parsed = metric("{sum: orders.total, within: 365d, at: placed, where: {category: shoes}}")
    assert (parsed.name, parsed.kind, parsed.source) == ("m", "sum", "orders.total")
    assert (parsed.within, parsed.at, parsed.line, parsed.file) == (
        timedelta(days=365),
        "placed",
        2,
        "segments.yaml",
    )
    assert parsed.where is not None
    assert parsed.where.describe() == "category = shoes"


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        pytest.param("orders", True, id="declared"),
        pytest.param("orders.total", True, id="declared-nested"),
        pytest.param("attributes.color", True, id="below-a-leaf-map"),
        pytest.param("orders.nope", False, id="below-a-declared-type"),
        pytest.param("nope", False, id="unknown"),
        pytest.param("tier.x.y", True, id="deep-below-a-leaf"),
    ],
)
def test_declared(ref: str, expected: bool) -> None:
    assert declared(ref, FIELDS) is expected


JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=8),
        st.sampled_from(["2026-11-20", "2026-11-01T10:00:00Z"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["total", "at", "category", "x"]), inner, max_size=4),
    ),
    max_leaves=12,
)
SPECS = [
    "{count: orders}",
    "{count: orders, within: 30d}",
    "{sum: orders.total, within: 365d}",
    "{avg: orders.total}",
    "{min: orders.total}",
    "{max: orders.at}",
    "{days_since: orders.at}",
    "{days_since: signup_at}",
    "{count: orders, where: {category: shoes}}",
    "{sum: orders.total, where: {any: [{total: {gt: 5}}, {at: {within: 2w}}]}}",
]


@settings(max_examples=300, deadline=None)
@given(
    spec=st.sampled_from(SPECS),
    orders=JSON,
    signup=JSON,
    extra=st.sampled_from([Decimal("NaN"), Decimal("sNaN"), 10**400, float("nan"), b"x"]),
)
def test_compute_is_total(spec: str, orders: Any, signup: Any, extra: Any) -> None:
    if isinstance(orders, list) and orders and isinstance(orders[0], dict):
        orders[0]["total"] = extra
    data = {"orders": orders, "signup_at": signup}
    try:
        compute(spec, data)
    except RuleError as err:
        error: RuleError | None = err
    else:
        error = None
    if error is not None:
        assert error.file == "segments.yaml"
        assert error.message.startswith("metric 'm'")


def test_within_names_the_list_whose_items_lack_the_timestamp() -> None:
    with pytest.raises(ConfigError) as info:
        metric("{max: profile.visits.at, within: 7d, at: when}")
    assert info.value.message == (
        "'within' needs a timestamp, but the items of 'profile.visits' have no field 'when'"
    )


def test_where_keys_must_be_declared_item_fields() -> None:
    with pytest.raises(ConfigError, match="unknown item field 'color'"):
        metric("{count: attributes, where: {color: red}}")


# -- the plan (the fast path) agrees with the checked path ------------------------------------

NOW_BERLIN = NOW.astimezone(BERLIN)  # 10:00 CET
IN_SUMMER = datetime(2026, 10, 1, 10, 30, tzinfo=BERLIN)  # 49d 23h30m on the wall, 50d in UTC
FOLD_FIRST = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN)  # CEST: 00:30 UTC
FOLD_SECOND = datetime(2026, 10, 25, 2, 10, tzinfo=BERLIN, fold=1)  # CET: 01:10 UTC


def stamped(*stamps: Any) -> dict[str, Any]:
    return {"orders": [MappingProxyType({"at": stamp, "total": Decimal(1)}) for stamp in stamps]}


@pytest.mark.parametrize(
    ("spec", "data", "now", "taken"),
    [
        pytest.param("{count: orders, within: 30d}", {"orders": ORDERS}, NOW, True, id="window"),
        pytest.param(
            "{sum: orders.total, within: 365d}",
            {"orders": (MappingProxyType({"total": Decimal("1.10"), "at": NOW}),)},
            NOW_BERLIN,
            True,
            id="decimal-sum-in-window",
        ),
        pytest.param(
            "{avg: orders.total}", {"orders": [{"total": 1}, {"total": None}]}, NOW, True, id="gap"
        ),
        pytest.param(
            "{sum: orders.total}",
            {"orders": [{"total": Decimal("1.5")}, {"total": 1.5}]},
            NOW,
            False,
            id="decimal-and-float",
        ),
        pytest.param(
            "{days_since: orders.at}", stamped(IN_SUMMER), NOW, True, id="zone-unlike-now"
        ),
        pytest.param(  # now is read in UTC: the stamp's zone is no longer now's
            "{days_since: orders.at}", stamped(IN_SUMMER), NOW_BERLIN, True, id="now-s-zone"
        ),
        pytest.param(
            "{days_since: signup_at}", {"signup_at": IN_SUMMER}, NOW_BERLIN, True, id="scalar"
        ),
        pytest.param(
            "{days_since: signup_at}",
            {"signup_at": NOW.replace(tzinfo=None)},
            NOW,
            False,
            id="naive",
        ),
        pytest.param(
            "{max: orders.at}", stamped(FOLD_FIRST, FOLD_SECOND), NOW, False, id="shared-zone"
        ),
        pytest.param(
            "{max: orders.at}",
            stamped(
                datetime(2026, 1, 1, 1, tzinfo=FixedZone(1)),
                datetime(2026, 1, 1, tzinfo=FixedZone(0)),
            ),
            NOW,
            True,
            id="zones-of-their-own",
        ),
        pytest.param(
            "{min: orders.at, within: 30d}",
            stamped(NOW, NOW - timedelta(days=3), NOW - timedelta(days=40)),
            NOW,
            True,
            id="min-in-window",
        ),
        pytest.param(
            "{count: orders, where: {all: [{category: shoes}, {total: {gt: 15}}]}}",
            {"orders": tuple(map(MappingProxyType, ORDERS))},
            NOW,
            True,
            id="where",
        ),
        pytest.param("{count: orders}", {"orders": None}, NOW, True, id="absent"),
        pytest.param("{max: orders.total}", {"orders": []}, NOW, True, id="empty"),
        pytest.param(
            "{count: orders, within: 999999w}", {"orders": []}, NOW, False, id="window-overflow"
        ),
        pytest.param(
            "{count: orders, within: 30d}", {"orders": [5]}, NOW, False, id="not-a-mapping"
        ),
        pytest.param(
            "{max: orders.total}",
            {"orders": [{"total": Decimal("NaN")}, {"total": 1}]},
            NOW,
            False,
            id="decimal-nan",
        ),
        pytest.param("{sum: orders.total}", {"orders": [{"total": True}]}, NOW, False, id="bool"),
    ],
)
def test_the_plan_agrees_with_the_checked_path(
    spec: str, data: dict[str, Any], now: datetime, taken: bool
) -> None:
    m = metric(spec)
    scope = MappingScope(data, now=now, tz=BERLIN)
    cache: dict[Any, Any] = {}
    MetricPlan([m], frozenset({"m"})).prefill(scope, cache)
    assert bool(cache) is taken  # whether the plan computed it, or left it to the checked path
    fast, checked = (
        outcome(lambda: m.compute(scope, cache=cache)),
        outcome(lambda: m.compute(scope)),
    )
    assert type(fast) is type(checked)
    assert repr(fast) == repr(checked)


def outcome(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except RuleError as err:
        return str(err)


# -- the same instant, written in any zone, gives the same values ------------------------------


@pytest.mark.parametrize(
    "now",
    [NOW, NOW_BERLIN, NOW_BERLIN.replace(tzinfo=None), NOW.astimezone(FixedZone(5))],
    ids=["utc", "berlin", "naive-berlin", "fixed-offset"],
)
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # 1,200½ hours have passed; Berlin's clocks, put back an hour on 25 October, say 1,199½
        ("{days_since: orders.at}", 50),
        ("{count: orders, within: 50d}", 0),
        ("{count: orders, within: 1200h}", 0),
        ("{count: orders, within: 1201h}", 1),
    ],
)
def test_ages_and_windows_are_elapsed_time_whatever_the_zone_of_now(
    now: datetime, spec: str, expected: int
) -> None:
    # IN_SUMMER is 2026-10-01 10:30 CEST (08:30 UTC); NOW is 2026-11-20 09:00 UTC.
    scope = MappingScope(stamped(IN_SUMMER), now=now, tz=BERLIN)
    m = metric(spec)
    assert m.compute(scope) == expected
    cache: dict[Any, Any] = {}
    MetricPlan([m], frozenset({"m"})).prefill(scope, cache)
    assert m.compute(scope, cache=cache) == expected
