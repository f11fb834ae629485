"""Tests for segments.yaml: loading and validation, classification, membership and traces."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personalize.errors import ConfigError, RuleError
from personalize.metrics import Metric, MetricPlan
from personalize.rules import MISSING, Condition, Rule, Scope, TraceEntry
from personalize.segments import Membership, Segment, Segments, load_segments
from zones import FixedZone

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
FIELDS = frozenset(
    {
        "id",
        "tier",
        "email",
        "links",
        "signup_at",
        "orders",
        "orders.total",
        "orders.at",
        "orders.category",
    }
)
EXAMPLE = """\
metrics:
  orders_30d:       {count: orders, within: 30d}
  spend_365d:       {sum: orders.total, within: 365d, at: at}
  avg_order:        {avg: orders.total}
  biggest_order:    {max: orders.total}
  days_since_order: {days_since: orders.at}
  days_since_signup: {days_since: signup_at}
  shoe_orders:      {count: orders, where: {category: shoes}}
segments:
  vip:
    description: More than 5 orders in 30 days and 500+ spent in a year
    when: {all: [{orders_30d: {gt: 5}}, {spend_365d: {gte: 500}}]}
  lapsed: {when: {days_since_order: {gte: 90}}}
  gold_vip: {when: {all: [{vip: true}, {tier: Gold}]}}
  shop_link: {when: {links.shop: {exists: true}}}
"""


def load(tmp_path: Path, text: str, fields: frozenset[str] = FIELDS) -> Segments:
    path = tmp_path / "segments.yaml"
    path.write_text(text, encoding="utf-8")
    return load_segments(path, file="segments.yaml", fields=fields)


def orders(count: int, *, days_apart: float, total: float) -> list[dict[str, Any]]:
    return [
        {"total": total, "at": NOW - timedelta(days=i * days_apart), "category": "shoes"}
        for i in range(count)
    ]


# -- loading -------------------------------------------------------------------------------


def test_a_missing_file_means_no_segments(tmp_path: Path) -> None:
    segments = load_segments(tmp_path / "nope.yaml", file="segments.yaml", fields=FIELDS)
    assert (dict(segments.metrics), dict(segments.segments), segments.names) == ({}, {}, ())
    membership = segments.classify({}, now=NOW, tz=UTC)
    assert membership == Membership(frozenset(), {}, {})


def test_an_empty_file_means_no_segments(tmp_path: Path) -> None:
    assert load(tmp_path, "# nothing yet\n").names == ()


def test_load_keeps_file_order_and_parses_everything(tmp_path: Path) -> None:
    segments = load(tmp_path, EXAMPLE)
    assert segments.file == "segments.yaml"
    assert list(segments.metrics) == [
        "orders_30d",
        "spend_365d",
        "avg_order",
        "biggest_order",
        "days_since_order",
        "days_since_signup",
        "shoe_orders",
    ]
    assert segments.names == ("vip", "lapsed", "gold_vip", "shop_link")
    vip = segments.segments["vip"]
    assert vip == Segment(
        "vip",
        "More than 5 orders in 30 days and 500+ spent in a year",
        vip.rule,
        10,
    )
    assert vip.rule.describe() == "all(orders_30d > 5, spend_365d >= 500)"
    assert segments.segments["lapsed"].description == ""
    assert segments.metrics["spend_365d"] == Metric(
        "spend_365d", "sum", "orders.total", timedelta(days=365), "at", None, 3, "segments.yaml"
    )


def L(line: int) -> str:
    return f"segments.yaml line {line}: "


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "segmnets: {}\n",
            L(1) + "segmnets: unknown section 'segmnets' — did you mean 'segments'?",
            id="unknown-section",
        ),
        pytest.param(
            "- vip\n",
            "segments.yaml line 1: expected a mapping with 'metrics:' and 'segments:', got "
            "['vip'] — start the file with 'metrics:' or 'segments:'",
            id="not-a-mapping",
        ),
        pytest.param(
            "segments: [vip]\n",
            L(1) + "segments: 'segments' must be a mapping of names to definitions, got ['vip'] "
            "— write one 'segment_name: ...' per line under 'segments:'",
            id="section-not-a-mapping",
        ),
        pytest.param(
            "segments:\n  vip:\n    descripton: Best\n    when: {tier: Gold}\n",
            L(3) + "segments.vip.descripton: unknown key 'descripton' — did you mean "
            "'description'?",
            id="unknown-segment-key",
        ),
        pytest.param(
            "segments:\n  vip:\n    description: Best\n",
            L(2) + "segments.vip: segment 'vip' needs a 'when:' rule — write e.g. vip: {when: "
            "{orders_30d: {gt: 5}}}",
            id="no-when",
        ),
        pytest.param(
            "segments:\n  vip: {when: {tier: Gold}, description: 5}\n",
            L(2) + "segments.vip.description: 'description' must be text, got 5 — quote it",
            id="description-not-text",
        ),
        pytest.param(
            "metrics:\n  orders_30d: {count: orders}\nsegments:\n  vip:\n    when:\n"
            "      all:\n        - {tier: Gold}\n        - {orders_3d: {gt: 5}}\n",
            L(8) + "segments.vip.when.all[1]: unknown name 'orders_3d' — did you mean "
            "'orders_30d'?",
            id="unknown-ref",
        ),
        pytest.param(
            "segments:\n  vip: {when: {zzz: 1}}\n",
            L(2) + "segments.vip.when: unknown name 'zzz' — declare it under metrics: or "
            "segments:, or as a recipient field",
            id="unknown-ref-no-suggestion",
        ),
        pytest.param(
            "metrics:\n  tier: {count: orders}\n",
            L(2) + "metrics.tier: metric 'tier' has the same name as a recipient field — rename "
            "it: rules could not tell the two apart",
            id="metric-clashes-with-field",
        ),
        pytest.param(
            "segments:\n  big: {when: {tier: Gold}}\nmetrics:\n  big: {count: orders}\n",
            L(4) + "metrics.big: metric 'big' has the same name as a segment — rename it: rules "
            "could not tell the two apart",
            id="metric-clashes-with-segment",
        ),
        pytest.param(
            "metrics:\n  big: {count: orders}\nsegments:\n  big: {when: {tier: Gold}}\n",
            L(4) + "segments.big: segment 'big' has the same name as a metric — rename it: rules "
            "could not tell the two apart",
            id="segment-clashes-with-metric",
        ),
        pytest.param(
            "metrics:\n  range: {count: orders}\n",
            L(2) + "metrics.range: metric name 'range' is reserved: templates use it for "
            "something else — rename it; reserved are False, None, True, caller, cycler, dict, "
            "false, joiner, kwargs, lipsum, loop, namespace, none, now, range, segments, self, "
            "super, true, varargs",
            id="metric-with-a-reserved-name",
        ),
        pytest.param(
            "metrics:\n  n: {count: orders}\nscores:\n  now: {weighted: {n: 1}}\n",
            L(4) + "scores.now: score name 'now' is reserved: templates use it for something "
            "else — rename it; reserved are False, None, True, caller, cycler, dict, false, "
            "joiner, kwargs, lipsum, loop, namespace, none, now, range, segments, self, super, "
            "true, varargs",
            id="score-with-a-reserved-name",
        ),
        pytest.param(
            "segments:\n  email: {when: {tier: Gold}}\n",
            L(2) + "segments.email: segment 'email' has the same name as a recipient field — "
            "rename it: rules could not tell the two apart",
            id="segment-clashes-with-field",
        ),
        pytest.param(
            "segments:\n  a.b: {when: {tier: Gold}}\n",
            L(2) + "segments.a.b: invalid name 'a.b' — use letters, digits, '_' and '-', "
            "starting with a letter",
            id="dotted-name",
        ),
        pytest.param(
            "segments:\n  any: {when: {tier: Gold}}\n",
            L(2) + "segments.any: invalid name 'any' — 'all', 'any' and 'not' are reserved for "
            "combining rules",
            id="reserved-name",
        ),
        pytest.param(
            "segments:\n  a: {when: {b: true}}\n  b: {when: {a: true}}\n",
            L(2) + "segments.a.when: segment 'a' depends on itself: a → b → a — remove one of "
            "the references to break the loop",
            id="cycle",
        ),
        pytest.param(
            "segments:\n  a: {when: {tier: Gold}}\n  b: {when: {all: [{a: true}, {c: true}]}}\n"
            "  c:\n    when:\n      any:\n        - {tier: Silver}\n        - {b: true}\n",
            L(3) + "segments.b.when.all[1]: segment 'b' depends on itself: b → c → b — remove one "
            "of the references to break the loop",
            id="longer-cycle",
        ),
        pytest.param(
            "segments:\n  a: {when: {not: {a: true}}}\n",
            L(2) + "segments.a.when.not: segment 'a' depends on itself: a → a — remove one of the "
            "references to break the loop",
            id="self-reference",
        ),
        pytest.param(
            "metrics:\n  m: {count: orders, within: 30d, at: placed}\n",
            L(2) + "metrics.m.within: 'within' needs a timestamp, but the items of 'orders' have "
            "no field 'placed' — set 'at:' to the item field that holds each item's date",
            id="metric-error",
        ),
        pytest.param(
            "segments:\n  vip: {when: {tier: {gtt: 5}}}\n",
            L(2) + "segments.vip.when.tier.gtt: unknown operator 'gtt' — did you mean 'gt'?",
            id="rule-error",
        ),
        pytest.param(
            "segments:\n  vip: {when: {tier: Gold}}\n  vip: {when: {tier: Silver}}\n",
            L(3) + "segments: duplicate key 'vip' — 'vip' is already set on line 2; keep one",
            id="duplicate",
        ),
    ],
)
def test_load_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert str(info.value) == message


def test_refs_below_a_map_field_are_accepted(tmp_path: Path) -> None:
    segments = load(tmp_path, "segments:\n  s: {when: {links.shop: {exists: true}}}\n")
    assert segments.segments["s"].rule.refs() == frozenset({"links.shop"})


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "segments.yaml"
    path.write_bytes(b"segments: \xff\n")
    with pytest.raises(ConfigError) as info:
        load_segments(path, file="segments.yaml", fields=FIELDS)
    assert info.value.file == "segments.yaml"
    assert info.value.hint == "save it as a UTF-8 text file"


# -- classification --------------------------------------------------------------------------

VIP_DATA = {
    "id": "r-1",
    "tier": "Gold",
    "signup_at": datetime(2026, 1, 1, tzinfo=UTC),
    "links": {"shop": "https://example.com"},
    "orders": orders(8, days_apart=3, total=100.0),
}


def test_classify(tmp_path: Path) -> None:
    membership = load(tmp_path, EXAMPLE).classify(VIP_DATA, now=NOW, tz=BERLIN)
    assert membership.segments == frozenset({"vip", "gold_vip", "shop_link"})
    assert "vip" in membership
    assert "lapsed" not in membership
    assert dict(membership.metrics) == {
        "orders_30d": 8,
        "spend_365d": 800.0,
        "avg_order": 100.0,
        "biggest_order": 100.0,
        "days_since_order": 0,
        "days_since_signup": 323,
        "shoe_orders": 8,
    }
    assert list(membership.metrics) == list(load(tmp_path, EXAMPLE).metrics)
    assert dict(membership.trace) == {}


def test_classify_a_lapsed_recipient(tmp_path: Path) -> None:
    history = orders(2, days_apart=10, total=5.0)
    history[0]["at"] = NOW - timedelta(days=100)
    history[1]["at"] = NOW - timedelta(days=95)
    data = {"id": "r-2", "tier": "Silver", "orders": history}
    membership = load(tmp_path, EXAMPLE).classify(data, now=NOW, tz=BERLIN)
    assert membership.segments == frozenset({"lapsed"})
    assert membership.metrics["days_since_order"] == 95
    assert membership.metrics["days_since_signup"] is None


def test_classify_with_trace(tmp_path: Path) -> None:
    data = {**VIP_DATA, "orders": orders(3, days_apart=3, total=100.0)}
    membership = load(tmp_path, EXAMPLE).classify(data, now=NOW, tz=BERLIN, trace=True)
    assert list(membership.trace) == ["vip", "lapsed", "gold_vip", "shop_link"]
    assert membership.trace == {
        "vip": (TraceEntry("segments.vip.when.all[0]", "orders_30d > 5", 3, False),),
        "lapsed": (TraceEntry("segments.lapsed.when", "days_since_order >= 90", 0, False),),
        "gold_vip": (TraceEntry("segments.gold_vip.when.all[0]", "vip = true", False, False),),
        "shop_link": (
            TraceEntry("segments.shop_link.when", "links.shop exists", "https://example.com", True),
        ),
    }


def test_trace_shows_missing_values(tmp_path: Path) -> None:
    membership = load(tmp_path, EXAMPLE).classify({}, now=NOW, tz=UTC, trace=True)
    assert membership.trace["shop_link"] == (
        TraceEntry("segments.shop_link.when", "links.shop exists", MISSING, False),
    )
    assert membership.trace["lapsed"][0].value is None  # days_since of no orders


@dataclass(frozen=True, kw_only=True, slots=True)
class Counting(Rule):
    """A rule that records each evaluation (to check that segments are evaluated once)."""

    calls: list[str]

    def evaluate(self, scope: Scope, trace: list[TraceEntry] | None = None) -> bool:
        self.calls.append("evaluated")
        return True

    def conditions(self) -> Any:
        return iter(())

    def describe(self) -> str:
        return "counting"


def test_a_segment_used_by_others_is_evaluated_once_and_first() -> None:
    calls: list[str] = []
    segments = Segments(
        file="segments.yaml",
        metrics={},
        segments={
            "uses_base": Segment("uses_base", "", Condition(ref="base", op="eq", operand=True)),
            "also": Segment("also", "", Condition(ref="base", op="ne", operand=False)),
            "base": Segment("base", "", Counting(calls=calls)),
        },
    )
    membership = segments.classify({}, now=NOW, tz=UTC, trace=True)
    assert calls == ["evaluated"]
    assert membership.segments == frozenset({"uses_base", "also", "base"})
    assert list(membership.trace) == ["uses_base", "also", "base"]


def test_every_metric_is_computed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    segments = load(tmp_path, EXAMPLE)
    computed: list[str] = []
    original = Metric.compute

    def spy(self: Metric, scope: Scope, *, cache: dict[Any, Any] | None = None) -> Any:
        computed.append(self.name)
        return original(self, scope, cache=cache)

    monkeypatch.setattr(Metric, "compute", spy)
    fast = segments.classify(VIP_DATA, now=NOW, tz=BERLIN)
    assert computed == []  # the plan computed every one, and its values are used as they are
    monkeypatch.setattr(MetricPlan, "prefill", lambda self, scope, cache: None)
    checked = segments.classify(VIP_DATA, now=NOW, tz=BERLIN)
    assert computed == list(segments.metrics)  # each once, by the checked path, in file order
    assert checked == fast


def test_segments_built_in_code_reject_cycles() -> None:
    loop = {
        "a": Segment("a", "", Condition(ref="b", op="eq", operand=True, line=4)),
        "b": Segment("b", "", Condition(ref="a", op="eq", operand=True)),
    }
    with pytest.raises(ConfigError, match=r"segment 'a' depends on itself: a → b → a"):
        Segments(file="segments.yaml", metrics={}, segments=loop)


def test_rule_errors_name_the_recipient(tmp_path: Path) -> None:
    segments = load(tmp_path, "segments:\n  big: {when: {tier: {gt: 5}}}\n")
    with pytest.raises(RuleError) as info:
        segments.classify({"tier": "Gold"}, now=NOW, tz=UTC, recipient="r-7")
    assert str(info.value) == (
        "segments.yaml line 2 (recipient r-7): tier: cannot compare 'Gold' (text) with 5 "
        "(number) — check the field's type in the recipient schema"
    )
    assert info.value.recipient == "r-7"


def test_metric_errors_name_the_recipient(tmp_path: Path) -> None:
    segments = load(tmp_path, EXAMPLE)
    data = {"orders": [{"total": 1, "at": NOW}, {"total": "lots", "at": NOW}]}
    with pytest.raises(RuleError) as info:
        segments.classify(data, now=NOW, tz=UTC, recipient="r-8")
    assert str(info.value) == (
        "segments.yaml line 3 (recipient r-8): orders[1].total: metric 'spend_365d': expected "
        "numbers, got 'lots' (text) — check the field's type in the recipient schema"
    )


def test_bad_data_is_a_rule_error_with_the_recipient(tmp_path: Path) -> None:
    segments = load(tmp_path, EXAMPLE)
    with pytest.raises(RuleError) as info:
        segments.classify(["not", "a", "mapping"], now=NOW, tz=UTC, recipient="r-9")  # type: ignore[arg-type]
    assert info.value.recipient == "r-9"
    assert info.value.file == "segments.yaml"


JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=8),
        st.sampled_from(["2026-11-20", "2026-11-01T10:00:00Z", "Gold"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(["total", "at", "category", "shop", "x"]), inner, max_size=4
        ),
    ),
    max_leaves=12,
)
RECIPIENTS = st.dictionaries(st.sampled_from(sorted(FIELDS)), JSON, max_size=6)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=RECIPIENTS)
def test_classify_is_total(tmp_path: Path, data: dict[str, Any]) -> None:
    segments = load(tmp_path, EXAMPLE)
    try:
        membership: Membership | RuleError = segments.classify(
            data, now=NOW, tz=BERLIN, recipient="r", trace=True
        )
    except RuleError as err:
        membership = err
    if isinstance(membership, RuleError):
        assert membership.recipient == "r"
        assert membership.file == "segments.yaml"
    else:
        assert membership.segments <= set(segments.names)
        assert set(membership.metrics) == set(segments.metrics)


def test_segments_survive_pickling(tmp_path: Path) -> None:
    segments = load(tmp_path, EXAMPLE)
    copy = pickle.loads(pickle.dumps(segments))
    assert copy.names == segments.names
    membership = segments.classify(VIP_DATA, now=NOW, tz=BERLIN, trace=True)
    assert copy.classify(VIP_DATA, now=NOW, tz=BERLIN, trace=True) == membership
    assert pickle.loads(pickle.dumps(membership)) == membership


# -- the fast path agrees with the checked path ------------------------------------------------

# Shaped like the bundled starter kit's segments.yaml, plus the metric kinds it lacks.
BUNDLED = """\
metrics:
  orders_30d:        {count: orders, within: 30d}
  orders_365d:       {count: orders, within: 365d}
  spend_365d:        {sum: orders.total, within: 365d}
  avg_order:         {avg: orders.total}
  biggest_order:     {max: orders.total}
  smallest_recent:   {min: orders.total, within: 90d}
  days_since_order:  {days_since: orders.at}
  last_order_at:     {max: orders.at}
  first_order_at:    {min: orders.at, within: 365d}
  shoe_orders:       {count: orders, where: {category: shoes}}
  shoe_spend:        {sum: orders.total, within: 90d, where: {category: {in: [shoes, boots]}}}
  days_since_signup: {days_since: signup_at}
  days_since_open:   {days_since: last_open_at}
  cart_items:        {count: cart}
  cart_value:        {sum: cart.price}
  cart_units:        {sum: cart.quantity}
segments:
  vip: {when: {all: [{orders_365d: {gte: 5}}, {spend_365d: {gte: 500}}]}}
  recent_purchaser: {when: {days_since_order: {lte: 14}}}
  abandoned_cart: {when: {cart_items: {gt: 0}}}
  lapsed:
    when:
      any:
        - {days_since_order: {gte: 90}}
        - {all: [{days_since_order: {exists: false}}, {days_since_signup: {gte: 90}}]}
  new_subscriber: {when: {signup_at: {within: 14d}}}
  gold: {when: {tier: Gold}}
  silver_or_gold: {when: {tier: {in: [Silver, Gold]}}}
  not_gold: {when: {not: {tier: Gold}}}
  big_basket: {when: {avg_order: {gt: 100.5}}}
  gold_vip: {when: {all: [{vip: true}, {gold: true}]}}
"""
BUNDLED_FIELDS = FIELDS | {"last_open_at", "cart", "cart.price", "cart.quantity", "cart.sku"}


SHARED_ZONE = FixedZone(2)
ZONES = st.one_of(
    st.sampled_from([UTC, BERLIN, ZoneInfo("America/New_York"), SHARED_ZONE]),
    st.integers(-12, 14).map(FixedZone),
    st.integers(-12, 14).map(lambda hours: timezone(timedelta(hours=hours))),
)
MOMENTS = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31))
WALL = NOW.astimezone(BERLIN).replace(tzinfo=None)
GOOD_STAMPS = st.one_of(
    st.builds(lambda moment, zone: moment.replace(tzinfo=zone), MOMENTS, ZONES),
    st.just(NOW - timedelta(days=30)),  # a window's very edge
    # Berlin wall times near now's, some days back (across DST changes, in the fold too):
    # where wall-clock and UTC arithmetic part ways.
    st.builds(
        lambda days, minutes, fold: (WALL - timedelta(days=days, minutes=minutes)).replace(
            tzinfo=BERLIN, fold=fold
        ),
        st.integers(0, 400),
        st.integers(-90, 90),
        st.integers(0, 1),
    ),
    st.none(),
)
BAD_STAMPS = st.one_of(
    MOMENTS,  # naive
    st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31)),
    st.sampled_from(["2026-11-01T10:00:00+01:00", "2026-10-01", "soon"]),
)
# Mostly what a validated recipient holds; now and then what the fast path leaves alone.
STAMPS = st.one_of(GOOD_STAMPS, GOOD_STAMPS, GOOD_STAMPS, GOOD_STAMPS, BAD_STAMPS)
GOOD_AMOUNTS = st.one_of(
    st.decimals(min_value=0, max_value=10_000, places=2), st.integers(0, 10_000), st.none()
)
BAD_AMOUNTS = st.one_of(
    st.floats(0, 10_000),  # with Decimal: added as floats, by the checked path
    st.sampled_from([Decimal("NaN"), float("nan"), True, "12.50", Decimal("sNaN")]),
)
AMOUNTS = st.one_of(GOOD_AMOUNTS, GOOD_AMOUNTS, GOOD_AMOUNTS, BAD_AMOUNTS)


def record(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Items as validated data (mapping proxies) or as plain dicts, with fields left out."""
    items = st.fixed_dictionaries({}, optional=fields)
    return st.one_of(items, items.map(MappingProxyType))


ORDERS = record(
    at=STAMPS, total=AMOUNTS, category=st.sampled_from(["shoes", "boots", "bags", None])
)
CART = record(price=AMOUNTS, quantity=st.integers(0, 5))
KIT_RECIPIENTS = st.fixed_dictionaries(
    {},
    optional={
        "tier": st.sampled_from(["Gold", "Silver", "Bronze", None]),
        "signup_at": STAMPS,
        "last_open_at": STAMPS,
        "orders": st.one_of(st.lists(ORDERS, max_size=6), st.lists(ORDERS).map(tuple), st.none()),
        "cart": st.one_of(*[st.lists(CART, max_size=3).map(tuple)] * 3, st.just([1, 2])),
    },
).map(MappingProxyType)


def classified(segments: Segments, data: Any, now: datetime, *, trace: bool) -> Any:
    try:
        return segments.classify(data, now=now, tz=BERLIN, recipient="r", trace=trace)
    except RuleError as err:
        return err


def same(a: Any, b: Any) -> bool:
    """Equal values of the same type; NaN equals NaN, and date-times keep their zone."""
    return type(a) is type(b) and (a == b or repr(a) == repr(b)) and repr(a) == repr(b)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=KIT_RECIPIENTS,
    now=st.sampled_from([NOW, NOW.astimezone(BERLIN)])
    | ZONES.map(lambda zone: NOW.astimezone(zone)),
)
def test_the_fast_path_agrees_with_the_checked_path(
    tmp_path: Path, data: Mapping[str, Any], now: datetime
) -> None:
    # `trace=True` runs everything by the checked path: the reference.
    segments = load(tmp_path, BUNDLED, BUNDLED_FIELDS)
    fast = classified(segments, data, now, trace=False)
    reference = classified(segments, data, now, trace=True)
    if isinstance(reference, RuleError) or isinstance(fast, RuleError):
        assert str(fast) == str(reference)
        return
    assert fast.segments == reference.segments
    assert list(fast.metrics) == list(reference.metrics)
    for name, value in reference.metrics.items():
        assert same(fast.metrics[name], value), name


KIT_VERA = MappingProxyType(
    {
        "tier": "Gold",
        "signup_at": datetime(2023, 3, 2, 10, tzinfo=FixedZone(1)),
        "last_open_at": None,
        "orders": tuple(
            MappingProxyType(
                {"at": NOW - timedelta(days=days, hours=1), "total": Decimal(total), "category": c}
            )
            for days, total, c in [
                (3, "129.00", "shoes"),
                (40, "89.50", None),
                (300, "210", "bags"),
            ]
        ),
        "cart": (),
    }
)


def test_well_typed_data_takes_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    segments = load(tmp_path, BUNDLED, BUNDLED_FIELDS)
    reference = segments.classify(KIT_VERA, now=NOW, tz=BERLIN, trace=True)

    def checked(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the checked path ran")

    monkeypatch.setattr(Metric, "_compute", checked)
    monkeypatch.setattr(Condition, "evaluate", checked)
    fast = segments.classify(KIT_VERA, now=NOW, tz=BERLIN)
    expected = {"gold", "silver_or_gold", "big_basket", "recent_purchaser"}
    assert fast.segments == reference.segments == expected
    assert dict(fast.metrics) == dict(reference.metrics)
    assert fast.metrics["days_since_order"] == 3


def test_unforeseen_data_falls_back_to_the_checked_path(tmp_path: Path) -> None:
    segments = load(tmp_path, BUNDLED, BUNDLED_FIELDS)
    mixed = {"orders": [{"total": Decimal("1.5"), "at": NOW}, {"total": 1.5, "at": NOW}]}
    membership = segments.classify(mixed, now=NOW, tz=BERLIN)
    assert membership.metrics["spend_365d"] == 3.0  # Decimal and float add up as floats
    bad = {"orders": [{"total": "lots", "at": NOW}]}
    with pytest.raises(RuleError) as info:
        segments.classify(bad, now=NOW, tz=BERLIN, recipient="r-1")
    assert str(info.value) == (
        "segments.yaml line 4 (recipient r-1): orders[0].total: metric 'spend_365d': expected "
        "numbers, got 'lots' (text) — check the field's type in the recipient schema"
    )
