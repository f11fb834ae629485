"""Tests for scores in segments.yaml: loading errors, the math, and use in rules and templates."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personalize import Project
from personalize.errors import ConfigError, RuleError
from personalize.rulenodes import Condition
from personalize.scope import MappingScope
from personalize.scorecode import derive_run
from personalize.scores import PointsRule, Score, WeightedInput
from personalize.segments import Segments, load_segments
from projects import SETTINGS, make_project, module

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
FIELDS = frozenset(
    {"id", "tier", "opens", "clicks", "visits", "rate", "orders", "orders.at", "orders.total"}
)
METRICS = """\
metrics:
  orders_30d: {count: orders, within: 30d}
  days_since_order: {days_since: orders.at}
"""
EXAMPLE = (
    METRICS
    + """\
scores:
  engagement:
    description: Opens, clicks and visits, each scaled to 0..1
    weighted:  {opens: 0.5, clicks: 0.3, visits: 0.2}
    normalize: {opens: {max: 10}, clicks: {max: 5}, visits: {max: 20}}
  activity:
    points:
      - {when: {days_since_order: {lte: 30}}, add: 10}
      - {per: opens, add: 5}
      - {per: days_since_order, every: 30, add: -3}
  blend:
    weighted: {engagement: 2, activity: 1}
    normalize: {activity: {min: -10, max: 90}}
segments:
  engaged: {when: {engagement: {gte: 0.6}}}
  active: {when: {activity: {gt: 20}}}
"""
)


def load(tmp_path: Path, text: str) -> Segments:
    path = tmp_path / "segments.yaml"
    path.write_text(text, encoding="utf-8")
    return load_segments(path, file="segments.yaml", fields=FIELDS)


def orders(*days_ago: float) -> list[dict[str, Any]]:
    return [{"at": NOW - timedelta(days=days), "total": Decimal("10.00")} for days in days_ago]


def L(line: int) -> str:
    return f"segments.yaml line {line}: "


E7 = "segments.yaml line 7 (recipient r-1): scores.engagement."
TYPE = " — check the field's type in the recipient schema"


# -- loading -------------------------------------------------------------------------------------


def test_load_parses_both_kinds(tmp_path: Path) -> None:
    segments = load(tmp_path, EXAMPLE)
    engagement, activity, blend = segments.scores.values()
    assert engagement == Score(
        "engagement",
        "weighted",
        "Opens, clicks and visits, each scaled to 0..1",
        inputs=(
            WeightedInput("opens", 0.5, 0.0, 10.0, False, "scores.engagement.weighted.opens", 7),
            WeightedInput("clicks", 0.3, 0.0, 5.0, False, "scores.engagement.weighted.clicks", 7),
            WeightedInput("visits", 0.2, 0.0, 20.0, False, "scores.engagement.weighted.visits", 7),
        ),
        line=5,
        file="segments.yaml",
    )
    assert [rule.describe() for rule in activity.rules] == [
        "+10 if days_since_order <= 30",
        "+5 per opens",
        "-3 per every 30 days_since_order",
    ]
    assert activity.rules[1] == PointsRule(5, "opens", None, None, "scores.activity.points[1]", 12)
    assert blend.inputs[1].low == -10.0
    assert segments.computed == (
        "orders_30d",
        "days_since_order",
        "engagement",
        "activity",
        "blend",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "scores:\n  s: 5\n",
            L(2) + "scores.s: score 's' must be a mapping, got 5 — write e.g. {weighted: "
            "{opens_30d: 0.6, clicks_30d: 0.4}}",
            id="not-a-mapping",
        ),
        pytest.param(
            "scores:\n  s: {weigted: {opens: 1}}\n",
            L(2) + "scores.s.weigted: unknown key 'weigted' — did you mean 'weighted'?",
            id="unknown-key",
        ),
        pytest.param(
            "scores:\n  s: {description: x}\n",
            L(2) + "scores.s: score 's' needs 'weighted:' or 'points:' — write e.g. {weighted: "
            "{opens_30d: 0.6, clicks_30d: 0.4}} or {points: [{per: opens_30d, add: 5}]}",
            id="no-kind",
        ),
        pytest.param(
            "scores:\n  s: {weighted: {opens: 1}, points: [{add: 1}]}\n",
            L(2) + "scores.s.points: score 's' has both 'weighted' and 'points' — one kind per "
            "score; split it into two scores",
            id="two-kinds",
        ),
        pytest.param(
            "scores:\n  s: {weighted: [opens, clicks]}\n",
            L(2) + "scores.s.weighted: 'weighted' needs a mapping of names to weights, got "
            "['opens', 'clicks'] — write e.g. weighted: {opens_30d: 0.6, clicks_30d: 0.4}",
            id="weighted-not-a-mapping",
        ),
        pytest.param(
            "scores:\n  s: {weighted: {opens: yes}}\n",
            L(2) + "scores.s.weighted.opens: the weight of 'opens' must be a number, got true — "
            "write a number such as 5, -3 or 0.25",
            id="weight-not-a-number",
        ),
        pytest.param(
            "scores:\n  s:\n    weighted: {opens: 1}\n    normalize: {opnes: {max: 10}}\n",
            L(4) + "scores.s.normalize.opnes: 'opnes' is not an input of the weighted score — "
            "did you mean 'opens'?",
            id="normalize-unknown-input",
        ),
        pytest.param(
            "scores:\n  s:\n    weighted: {opens: 1}\n    normalize: {opens: {top: 10}}\n",
            L(4) + "scores.s.normalize.opens.top: unknown key 'top' — use min, max and invert",
            id="normalize-unknown-key",
        ),
        pytest.param(
            "scores:\n  s:\n    weighted: {opens: 1}\n    normalize: {opens: {min: 5, max: 5}}\n",
            L(4) + "scores.s.normalize.opens: 'max' must be greater than 'min', got min 5 and "
            "max 5 — to score lower values higher, keep min < max and add 'invert: true'",
            id="empty-range",
        ),
        pytest.param(
            "scores:\n  s:\n    weighted: {opens: 1}\n    normalize: {opens: {invert: 1}}\n",
            L(4) + "scores.s.normalize.opens.invert: 'invert' must be true or false, got 1",
            id="invert-not-bool",
        ),
        pytest.param(
            "scores:\n  s:\n    weighted: {opens: 1}\n    normalize: {opens: 10}\n",
            L(4) + "scores.s.normalize.opens: expected a range such as {max: 20}, got 10 — give "
            "'min' (default 0), 'max' (default 1) and optionally 'invert: true'",
            id="range-not-a-mapping",
        ),
        pytest.param(
            "scores:\n  s: {points: []}\n",
            L(2) + "scores.s.points: 'points' needs a non-empty list of lines, got [] — write "
            "e.g. points: [{per: opens_30d, add: 5}, {when: {tier: Gold}, add: 20}]",
            id="no-points",
        ),
        pytest.param(
            "scores:\n  s:\n    points:\n      - {per: opens}\n",
            L(4) + "scores.s.points[0]: a points line needs 'add' — write e.g. add: 5",
            id="no-add",
        ),
        pytest.param(
            "scores:\n  s:\n    points:\n      - {per: opens, add: five}\n",
            L(4) + "scores.s.points[0].add: 'add' must be a number, got 'five' — write a number "
            "such as 5, -3 or 0.25",
            id="add-not-a-number",
        ),
        pytest.param(
            "scores:\n  s:\n    points:\n      - {per: opens, add: .inf}\n",
            L(4) + "scores.s.points[0].add: 'add' must be a number, got inf — write a number "
            "such as 5, -3 or 0.25",
            id="add-infinite",
        ),
        pytest.param(
            "scores:\n  s:\n    points:\n      - {add: 1, every: 30}\n",
            L(4) + "scores.s.points[0].every: 'every' needs 'per', got every: 30 — write e.g. "
            "{per: days_since_open, every: 30, add: -3}",
            id="every-without-per",
        ),
        pytest.param(
            "scores:\n  s:\n    points:\n      - {per: opens, add: 1, every: 0}\n",
            L(4) + "scores.s.points[0].every: 'every' must be positive, got every: 0 — write "
            "e.g. {per: days_since_open, every: 30, add: -3}",
            id="every-zero",
        ),
        pytest.param(
            "scores:\n  s:\n    points:\n      - {per: [opens], add: 1}\n",
            L(4) + "scores.s.points[0].per: 'per' needs a metric, score or field name, got "
            "['opens'] — e.g. per: opens_30d",
            id="per-not-a-name",
        ),
        pytest.param(
            "scores:\n  s:\n    points:\n      - {add: 1, wen: {tier: Gold}}\n",
            L(4) + "scores.s.points[0].wen: unknown key 'wen' — did you mean 'when'?",
            id="points-unknown-key",
        ),
        pytest.param(
            "scores:\n  s:\n    points:\n      - {add: 1, when: {tier: {gtt: 1}}}\n",
            L(4) + "scores.s.points[0].when.tier.gtt: unknown operator 'gtt' — did you mean 'gt'?",
            id="bad-when",
        ),
        pytest.param(
            "scores:\n  s:\n    normalize: {opens: {max: 2}}\n    points: [{add: 1}]\n",
            L(3) + "scores.s.normalize: 'normalize' belongs to a weighted score — a point system "
            "adds points as written; remove 'normalize'",
            id="normalize-with-points",
        ),
        pytest.param(
            "scores:\n  s: {weighted: {opnes: 1}}\n",
            L(2) + "scores.s.weighted.opnes: unknown name 'opnes' — did you mean 'opens'?",
            id="unknown-input",
        ),
        pytest.param(
            "scores:\n  s:\n    points:\n      - {add: 1, when: {zzz: 1}}\n",
            L(4) + "scores.s.points[0].when: unknown name 'zzz' — use a metric, an RFM value, an "
            "earlier score or a recipient field",
            id="unknown-when-ref",
        ),
        pytest.param(
            "scores:\n  s: {weighted: {vip: 1}}\nsegments:\n  vip: {when: {tier: Gold}}\n",
            L(2) + "scores.s.weighted.vip: score 's' reads segment 'vip' — scores are computed "
            "before segments: read the segment's metrics instead",
            id="reads-a-segment",
        ),
        pytest.param(
            "scores:\n  a: {weighted: {b: 1}}\n  b: {weighted: {opens: 1}}\n",
            L(2) + "scores.a.weighted.b: score 'a' reads score 'b', which comes after it — "
            "declare 'b' above 'a'",
            id="reads-a-later-score",
        ),
        pytest.param(
            "scores:\n  a: {points: [{per: a, add: 1}]}\n",
            L(2) + "scores.a.points[0].per: score 'a' reads itself — its value is not known "
            "while it is computed: read what it is built from",
            id="reads-itself",
        ),
        pytest.param(
            METRICS + "scores:\n  orders_30d: {weighted: {opens: 1}}\n",
            L(5) + "scores.orders_30d: score 'orders_30d' has the same name as a metric — rename "
            "it: rules could not tell the two apart",
            id="clashes-with-metric",
        ),
        pytest.param(
            "scores:\n  opens: {weighted: {clicks: 1}}\n",
            L(2) + "scores.opens: score 'opens' has the same name as a recipient field — rename "
            "it: rules could not tell the two apart",
            id="clashes-with-field",
        ),
        pytest.param(
            "scores:\n  s: {weighted: {opens: 1}}\nsegments:\n  s: {when: {tier: Gold}}\n",
            L(4) + "segments.s: segment 's' has the same name as a score — rename it: rules could "
            "not tell the two apart",
            id="segment-clashes-with-score",
        ),
        pytest.param(
            "scores:\n  s: {weighted: {opens: 1}, description: [x]}\n",
            L(2) + "scores.s.description: 'description' must be text, got ['x'] — quote it",
            id="description-not-text",
        ),
        pytest.param(
            "segments:\n  vip: {when: {engagment: {gte: 0.5}}}\nscores:\n  engagement: "
            "{weighted: {opens: 1}}\n",
            L(2) + "segments.vip.when: unknown name 'engagment' — did you mean 'engagement'?",
            id="segment-misspells-a-score",
        ),
    ],
)
def test_load_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert str(info.value) == message


# -- the math ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "engagement", "activity"),
    [
        pytest.param({}, 0.0, 0, id="nothing"),
        pytest.param({"opens": 5, "clicks": 5, "visits": 10}, 0.65, 25, id="halfway"),
        pytest.param({"opens": 30, "clicks": 50, "visits": 99}, 1.0, 150, id="clamped-high"),
        pytest.param({"opens": -4, "clicks": 0, "visits": 0}, 0.0, -20, id="clamped-low"),
        pytest.param({"opens": Decimal("2.5"), "visits": 1.0}, 0.135, 12.5, id="decimal-float"),
        pytest.param({"opens": 1, "orders": orders(3, 50)}, 0.05, 10 + 5 + 0, id="recent-order"),
        pytest.param({"opens": 0, "orders": orders(95)}, 0.0, -9, id="every-30-days-rounds-down"),
    ],
)
def test_score_math(
    tmp_path: Path, data: dict[str, Any], engagement: float, activity: float
) -> None:
    segments = load(tmp_path, EXAMPLE)
    values = segments.classify(data, now=NOW, tz=UTC).metrics
    assert (values["engagement"], values["activity"]) == (engagement, activity)
    assert type(values["engagement"]) is float
    blend = 2 * engagement + min(max((activity + 10) / 100, 0.0), 1.0)
    assert values["blend"] == round(blend, 6)


def test_points_stay_whole_numbers_unless_a_line_is_not() -> None:
    score = Score("p", "points", rules=(PointsRule(2, "opens"), PointsRule(0.1, "clicks")))
    scope = MappingScope({"opens": 3, "clicks": 2}, now=NOW)
    assert score.compute(scope) == 6.2
    whole = Score("p", "points", rules=(PointsRule(2, "opens"), PointsRule(-1)))
    assert whole.compute(scope) == 5
    assert type(whole.compute(scope)) is int


def test_weighted_scores_are_rounded_to_6_places() -> None:
    # 0.1 + 0.2 is 0.30000000000000004 in floats: a threshold of 0.3 must still hold.
    inputs = (WeightedInput("a", 0.1), WeightedInput("b", 0.2))
    score = Score("w", "weighted", inputs=inputs)
    assert score.compute(MappingScope({"a": 1, "b": 1}, now=NOW)) == 0.3


def test_invert_scores_lower_values_higher(tmp_path: Path) -> None:
    text = (
        METRICS + "scores:\n  fresh:\n    weighted: {days_since_order: 1}\n"
        "    normalize: {days_since_order: {max: 100, invert: true}}\n"
    )
    segments = load(tmp_path, text)
    fresh = [
        segments.classify({"orders": orders(days)}, now=NOW, tz=UTC).metrics["fresh"]
        for days in (0, 25, 100, 400)
    ]
    assert fresh == [1.0, 0.75, 0.0, 0.0]
    # A missing input adds nothing, inverted or not: never ordered is not "fresh".
    assert segments.classify({}, now=NOW, tz=UTC).metrics["fresh"] == 0.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            {"opens": "many"},
            E7 + "weighted.opens: score 'engagement': expected a finite number, got 'many' "
            "(text)" + TYPE,
            id="text-input",
        ),
        pytest.param(
            {"opens": True},
            E7 + "weighted.opens: score 'engagement': expected a finite number, got True "
            "(true/false)" + TYPE,
            id="bool-input",
        ),
        pytest.param(
            {"opens": float("nan")},
            E7 + "weighted.opens: score 'engagement': expected a finite number, got nan "
            "(number)" + TYPE,
            id="nan-input",
        ),
        pytest.param(
            {"visits": 10**400},
            E7 + "weighted.visits: score 'engagement': expected a finite number, got "
            "10000000000000000000000000000000000000000000000000000000000… (number)" + TYPE,
            id="huge-input",
        ),
    ],
)
def test_data_errors_name_the_score_and_recipient(
    tmp_path: Path, data: dict[str, Any], message: str
) -> None:
    segments = load(tmp_path, EXAMPLE)
    with pytest.raises(RuleError) as info:
        segments.classify(data, now=NOW, tz=UTC, recipient="r-1")
    assert str(info.value) == message


def test_points_per_a_text_value_is_a_located_error(tmp_path: Path) -> None:
    segments = load(tmp_path, "scores:\n  s:\n    points:\n      - {per: tier, add: 1}\n")
    with pytest.raises(RuleError) as info:
        segments.classify({"tier": "Gold"}, now=NOW, tz=UTC, recipient="r-1")
    assert str(info.value) == (
        "segments.yaml line 4 (recipient r-1): scores.s.points[0].per: score 's': expected a "
        "finite number, got 'Gold' (text) — check the field's type in the recipient schema"
    )
    huge = Score("p", "points", rules=(PointsRule(0.5, "opens"),), file="f.yaml", line=2)
    with pytest.raises(RuleError) as info:
        huge.compute(MappingScope({"opens": 10**400}, now=NOW))
    assert str(info.value) == (
        "f.yaml line 2: scores.p: score 'p': the points are too large to add up — check the "
        "field's type in the recipient schema"
    )


# -- scores in rules, traces, explain and templates -------------------------------------------


def test_segments_use_scores_like_metrics(tmp_path: Path) -> None:
    segments = load(tmp_path, EXAMPLE)
    data = {"opens": 9, "clicks": 4, "visits": 10, "orders": orders(3)}
    membership = segments.classify(data, now=NOW, tz=UTC)
    assert membership.segments == {"engaged", "active"}
    assert list(membership.metrics) == list(segments.computed)
    assert dict(membership.metrics) == {
        "orders_30d": 1,
        "days_since_order": 3,
        "engagement": 0.79,
        "activity": 55,
        "blend": 2.23,
    }


def test_traces_show_score_values_and_point_conditions(tmp_path: Path) -> None:
    segments = load(tmp_path, EXAMPLE)
    membership = segments.classify(
        {"opens": 9, "clicks": 4, "visits": 10, "orders": orders(40)}, now=NOW, tz=UTC, trace=True
    )
    (engaged,) = membership.trace["engaged"]
    assert (engaged.condition, engaged.value, engaged.result) == ("engagement >= 0.6", 0.79, True)
    (when,) = membership.trace["activity"]
    assert (when.path, when.condition, when.value, when.result) == (
        "scores.activity.points[0].when",
        "days_since_order <= 30",
        40,
        False,
    )
    assert "engagement" not in membership.trace  # a weighted score has no conditions


def test_a_bundled_persona_explains_its_scores() -> None:
    project = Project.load(Path(__file__).resolve().parents[1])
    text = str(project.explain("weekly", project.personas["vip-vera"]))
    assert "engagement=0.81, activity=55" in text
    assert "segments: vip, recent_purchaser, gold, engaged, champions\n" in text


def test_terms_show_how_each_input_and_point_line_added_up(tmp_path: Path) -> None:
    segments = load(tmp_path, EXAMPLE)
    data = {"opens": 9, "clicks": 4, "orders": orders(40, 95)}
    values = segments.classify(data, now=NOW, tz=UTC).metrics
    terms = segments.score_terms(data, values, now=NOW, tz=UTC)
    assert terms == {
        "engagement": (
            "opens=9 → 0.9 × 0.5 = 0.45",
            "clicks=4 → 0.8 × 0.3 = 0.24",
            "visits=nothing → 0",
        ),
        "activity": (
            "+10 if days_since_order <= 30: not met",
            "+5 per opens: opens=9 → +45",
            "-3 per every 30 days_since_order: days_since_order=40 → -3",
        ),
        "blend": (
            "engagement=0.69 → 0.69 × 2 = 1.38",
            "activity=42 → 0.52 × 1 = 0.52",
        ),
    }
    assert (values["engagement"], values["activity"], values["blend"]) == (0.69, 42, 1.9)
    inverted = Score("fresh", "weighted", inputs=(WeightedInput("d", 1, high=100, invert=True),))
    assert inverted.terms(MappingScope({"d": 25}, now=NOW)) == (
        "d=25 → 0.75 (inverted) × 1 = 0.75",
    )
    flat = Score("p", "points", rules=(PointsRule(-1), PointsRule(2, "x")))
    assert flat.terms(MappingScope({}, now=NOW)) == ("-1: -1", "+2 per x: x=nothing → 0")


def test_terms_count_an_exact_int_as_the_score_does() -> None:
    points = Score("p", "points", rules=(PointsRule(2, "x", every=3),))
    scope = MappingScope({"x": 2**60 + 1}, now=NOW)  # a float would lose its last digits
    assert points.compute(scope) == 768614336404564650
    assert points.terms(scope) == ("+2 per every 3 x: x=1152921504606846977 → +768614336404564650",)
    scope = MappingScope({"x": 10**400}, now=NOW)  # no float holds it; the score adds it up
    assert points.compute(scope) == 2 * (10**400 // 3)
    assert points.terms(scope) == (
        "+2 per every 3 x: x=(a whole number of ~401 digits) → +(a whole number of ~401 digits)",
    )


def test_the_terms_of_every_bundled_persona_add_up_to_its_scores() -> None:
    project = Project.load(Path(__file__).resolve().parents[1])
    for persona in project.personas.values():
        explanation = project.explain("weekly", persona)
        for name, terms in explanation.scores.items():
            added = sum(float(t.rsplit(" ", 1)[1]) for t in terms if not t.endswith("not met"))
            assert added == pytest.approx(explanation.metrics[name], abs=1e-6), (persona.id, name)


def test_templates_and_module_rules_see_scores(tmp_path: Path) -> None:
    settings = SETTINGS.replace('nickname = "str"', 'nickname = "str"\nopens = "int"')
    segments = textwrap.dedent(
        """
        metrics:
          orders_30d: {count: orders, within: 30d}
        scores:
          engagement: {weighted: {opens: 1}, normalize: {opens: {max: 10}}}
        segments:
          buyer: {when: {orders_30d: {gte: 1}}}
        """
    )
    hero = module(
        "when: {engagement: {gte: 0.5}}\npriority: 5",
        "<mj-section><mj-column><mj-text>Engagement {{ engagement }}, "
        "{{ '%.0f' | format(engagement * 100) }}%</mj-text></mj-column></mj-section>",
    )
    root = make_project(
        tmp_path, settings=settings, segments=segments, modules={"hero/engaged": hero}
    )
    (root / "modules" / "hero" / "default.mjml").write_text(
        "---\ndescription: fallback\n---\n<mj-section><mj-column><mj-text>Hi</mj-text>"
        "</mj-column></mj-section>\n",
        encoding="utf-8",
    )
    project = Project.load(root)
    record = {"id": "r", "email": "r@example.com", "opens": 7}
    email = project.render("news", record)
    assert email.decisions["hero"] == "hero/engaged"
    assert "Engagement 0.7, 70%" in email.text
    assert project.render("news", {**record, "opens": 2}).decisions["hero"] == "hero/default"


# -- properties ------------------------------------------------------------------------------------

AMOUNTS = st.one_of(
    st.integers(-50, 50),
    st.floats(-100, 100, allow_nan=False),
    st.decimals(min_value=-100, max_value=100, places=2),
    st.none(),
)
ODD = st.one_of(
    st.text(max_size=3), st.booleans(), st.just(float("nan")), st.just(10**400), st.just([1])
)
STAMPS = st.one_of(
    st.integers(0, 800).map(lambda days: NOW - timedelta(days=days)),
    st.just("2026-11-01"),
    st.just("later"),
    st.none(),
)
DATA = st.fixed_dictionaries(
    {},
    optional={
        "opens": st.one_of(AMOUNTS, AMOUNTS, ODD),
        "clicks": AMOUNTS,
        "visits": st.one_of(AMOUNTS, ODD),
        "tier": st.sampled_from(["Gold", "Silver", None, 3]),
        "orders": st.lists(
            st.fixed_dictionaries({}, optional={"at": STAMPS, "total": AMOUNTS}), max_size=4
        ),
    },
).map(MappingProxyType)
# The example plus RFM (a score and a segment read it), more segments and a group.
PROPERTY = (
    EXAMPLE.replace("scores:\n", "  spend: {sum: orders.total}\nscores:\n", 1)
    .replace("  blend:\n", "  valued:\n    weighted: {m_score: 1, r_score: 1}\n  blend:\n", 1)
    .replace("segments:\n", "segments:\n  gold: {when: {tier: Gold}}\n", 1)
    + "  blended: {when: {any: [{blend: {gt: 1}}, {activity: {lt: 0}}]}}\n"
    + "  top: {when: {r_score: {gte: 4}, f_score: {gte: 2}, valued: {gt: 3}}}\n"
    + "rfm:\n  recency: days_since_order\n  frequency: orders_30d\n  monetary: spend\n"
    + "  cut_points: {recency: [30, 90, 180, 365], frequency: [0, 1, 1, 3], "
    + "monetary: [0, 10.5, 20, 45.25]}\n"
    + "groups:\n  g: {exclusive: true, order: [gold, top, engaged, active]}\n"
)


def outcome(segments: Segments, data: Mapping[str, Any], *, trace: bool) -> Any:
    try:
        return segments.classify(data, now=NOW, tz=BERLIN, recipient="r", trace=trace)
    except RuleError as err:
        return err


@pytest.fixture(scope="module")
def property_segments(tmp_path_factory: pytest.TempPathFactory) -> Segments:
    return load(tmp_path_factory.mktemp("scores"), PROPERTY)


@settings(max_examples=300, deadline=None)
@given(data=DATA)
def test_classify_with_scores_is_total_and_the_fast_path_agrees(
    property_segments: Segments, data: Mapping[str, Any]
) -> None:
    segments = property_segments
    fast, checked = outcome(segments, data, trace=False), outcome(segments, data, trace=True)
    if isinstance(checked, RuleError) or isinstance(fast, RuleError):
        assert str(fast) == str(checked)
        assert isinstance(fast, RuleError)
        assert (fast.recipient, fast.file) == ("r", "segments.yaml")
        assert fast.line is not None
        return
    assert fast.segments == checked.segments <= set(segments.names)
    assert dict(fast.metrics) == dict(checked.metrics)
    assert dict(fast.groups) == dict(checked.groups)
    for name in segments.scores:
        assert type(fast.metrics[name]) in (int, float), name
    assert len(fast.segments & {"gold", "engaged", "active"}) <= 1


def test_compiled_point_rules_fall_back_to_the_checked_rule() -> None:
    when = Condition(ref="orders_30d", op="gt", operand=0, path="p", file="f", line=1)
    score = Score("s", "points", rules=(PointsRule(3, when=when),))
    # The generated code reads orders_30d from the computed values, where it is missing here:
    # its KeyError hands the score to the checked rule, which finds it in the data.
    run = derive_run(None, (score,), frozenset({"orders_30d"}))
    values: dict[str, Any] = {}
    run(MappingScope({"orders_30d": 2}, now=NOW, names=values), values)
    assert values == {"s": 3}


# -- numbers too large, and 'every' counted exactly ----------------------------------------------

HUGE = "1" + "0" * 310
SHOWN = "1" + "0" * 58 + "…"
MINUS = "-1" + "0" * 57 + "…"  # as shown, cut to the same length
SIZE = " — write a number between -1e308 and 1e308"
WEIGHTED = "scores:\n  s:\n    weighted: {opens: 1}\n    normalize: {opens: "


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            f"scores:\n  s:\n    points:\n      - {{per: opens, add: {HUGE}}}\n",
            L(4) + f"scores.s.points[0].add: 'add' is too large, got {SHOWN}{SIZE}",
            id="add",
        ),
        pytest.param(
            f"scores:\n  s:\n    points:\n      - {{per: opens, every: {HUGE}, add: 1}}\n",
            L(4) + f"scores.s.points[0].every: 'every' is too large, got {SHOWN}{SIZE}",
            id="every",
        ),
        pytest.param(
            f"scores:\n  s:\n    weighted: {{opens: -{HUGE}}}\n",
            L(3)
            + f"scores.s.weighted.opens: the weight of 'opens' is too large, got {MINUS}{SIZE}",
            id="weight",
        ),
        pytest.param(
            f"{WEIGHTED}{{max: {HUGE}}}}}\n",
            L(4) + f"scores.s.normalize.opens.max: 'max' is too large, got {SHOWN}{SIZE}",
            id="max",
        ),
        pytest.param(
            f"{WEIGHTED}{{min: -{HUGE}}}}}\n",
            L(4) + f"scores.s.normalize.opens.min: 'min' is too large, got {MINUS}{SIZE}",
            id="min",
        ),
    ],
)
def test_numbers_too_large_for_a_score_are_located_errors(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:  # was a bare OverflowError
        load(tmp_path, text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("value", "count"),
    [
        (Decimal("0.3"), 3),  # float division: 0.3 // 0.1 is 2.0
        (Decimal("0.7"), 7),  # and 0.7 // 0.1 is 6.0
        (0.3, 3),  # a float counts as the decimal it prints as
        (0.7, 7),
        (3, 30),  # 3 // 0.1 is 29.0
        (Decimal("0.29"), 2),
        (Decimal("-0.3"), -3),
        (Decimal("-0.25"), -3),  # floored, as // floors
        (-0.05, -1),
        (Decimal("1E+2"), 1000),
    ],
)
def test_every_counts_whole_multiples_exactly(tmp_path: Path, value: Any, count: int) -> None:
    text = "scores:\n  tenths:\n    points:\n      - {per: rate, every: 0.1, add: 2}\n"
    segments = load(tmp_path, text)
    for trace in (False, True):  # generated code and the checked path
        values = segments.classify({"rate": value}, now=NOW, tz=UTC, trace=trace).metrics
        assert values["tenths"] == 2 * count
        assert type(values["tenths"]) is int
    score = segments.scores["tenths"]
    assert score.terms(MappingScope({"rate": value}, now=NOW)) == (
        f"+2 per every 0.1 rate: rate={value if isinstance(value, Decimal) else f'{value:g}'} "
        f"→ {2 * count:+}",
    )


RFM_INLINE = (
    "rfm:\n  recency: days_since_order\n  frequency: orders_30d\n  monetary: days_since_order\n"
    "  cut_points: {recency: [1, 2, 3, 4], frequency: [1, 2, 3, 4], monetary: [1, 2, 3, 4]}\n"
)
ITSELF = "its value is not known while it is computed: read what it is built from"
RFM_CODE = "read r_score, f_score or m_score, the scores as numbers"


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        pytest.param(
            "  s: {weighted: {opens: 1, s: 1}}\n",
            L(5) + f"scores.s.weighted.s: score 's' reads itself — {ITSELF}",
            id="weighted-input",
        ),
        pytest.param(
            "  s:\n    points:\n      - {when: {s: {gt: 1}}, add: 1}\n",
            L(7) + f"scores.s.points[0].when: score 's' reads itself — {ITSELF}",
            id="when-rule",
        ),
        pytest.param(
            "  s: {weighted: {rfm: 1}}\n",
            L(5) + "scores.s.weighted.rfm: score 's' reads 'rfm', the RFM code as text (such as "
            f"'545') — {RFM_CODE}",
            id="weighted-rfm-code",
        ),
        pytest.param(
            "  s:\n    points:\n      - {per: rfm, add: 1}\n",
            L(7) + "scores.s.points[0].per: score 's' reads 'rfm', the RFM code as text (such as "
            f"'545') — {RFM_CODE}",
            id="per-rfm-code",
        ),
    ],
)
def test_a_score_cannot_add_up_itself_or_the_rfm_code(
    tmp_path: Path, scores: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, METRICS + "scores:\n" + scores + RFM_INLINE)
    assert str(info.value) == message


def test_a_score_rule_may_compare_the_rfm_code(tmp_path: Path) -> None:
    scores = "scores:\n  s:\n    points:\n      - {when: {rfm: '551'}, add: 1}\n"
    segments = load(tmp_path, METRICS + scores + RFM_INLINE)
    for count, points in ((5, 1), (4, 0)):  # codes 551 and 541
        data = {"orders": orders(*[0] * count)}
        assert segments.classify(data, now=NOW, tz=UTC).metrics["s"] == points
