"""The generated RFM and score code gives what the checked path gives, on any values."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personalize.errors import RuleError
from personalize.scope import MappingScope
from personalize.scorecode import derive_run
from personalize.scores import PointsRule, Score
from personalize.segments import Segments, load_segments

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
FIELDS = frozenset({"id", "days", "freq", "opens", "clicks", "money", "money.total"})
TEXT = """\
rfm:
  recency: days
  frequency: freq
  monetary: money.total
  cut_points:
    recency: [10, 20.5, 30, 40]
    frequency: [1, 1, 2, 4]
    monetary: [25.19, 75.5, 144, 273.29]
scores:
  engagement:
    weighted: {opens: 0.5, clicks: 0.3, money.total: 0.2}
    normalize: {opens: {max: 10}, clicks: {min: -5, max: 5, invert: true}, money.total: {max: 300}}
  activity:
    points:
      - {when: {days: {lte: 30}}, add: 10}
      - {per: opens, add: 5}
      - {per: days, every: 30, add: -3}
      - {when: {all: [{freq: {gt: 1}}, {not: {clicks: {exists: true}}}]}, per: freq, add: 2}
  halves:
    points:
      - {per: clicks, every: 2.5, add: 1.5}
  blend:
    weighted: {engagement: 2, activity: 1, r_score: 1, halves: 1}
    normalize: {activity: {min: -10, max: 90}, r_score: {min: 1, max: 5}, halves: {max: 9}}
segments:
  known: {when: {days: {exists: true}}}
"""


@pytest.fixture(scope="module")
def segments(tmp_path_factory: pytest.TempPathFactory) -> Segments:
    path: Path = tmp_path_factory.mktemp("scorecode") / "segments.yaml"
    path.write_text(TEXT, encoding="utf-8")
    return load_segments(path, file="segments.yaml", fields=FIELDS)


NUMBERS = st.one_of(
    st.integers(min_value=-100, max_value=400),
    st.integers(),
    st.floats(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
    st.lists(st.integers(), max_size=2),
)
DATA = st.fixed_dictionaries(
    {},
    optional={
        "days": NUMBERS,
        "freq": NUMBERS,
        "opens": NUMBERS,
        "clicks": NUMBERS,
        "money": st.one_of(NUMBERS, st.fixed_dictionaries({}, optional={"total": NUMBERS})),
    },
)


def _derived(segments: Segments, data: dict[str, Any], *, generated: bool) -> object:
    values: dict[str, Any] = {}
    scope = MappingScope(data, now=NOW, names=values)
    try:
        if generated:
            segments._derive_run(scope, values)
        else:
            segments._derive(scope, values, {})  # the checked path (with a trace)
    except RuleError as exc:
        return ("error", str(exc))
    return values


@settings(max_examples=600, deadline=None)
@given(data=DATA)
def test_the_generated_code_gives_the_checked_values_or_error(
    segments: Segments, data: dict[str, Any]
) -> None:
    checked = _derived(segments, data, generated=False)
    generated = _derived(segments, data, generated=True)
    assert generated == checked
    if isinstance(checked, dict):  # equal, and of the same types (1 is not 1.0 here)
        assert [type(v) for v in generated.values()] == [type(v) for v in checked.values()]  # type: ignore[union-attr]


def test_plain_values_take_the_generated_path(segments: Segments) -> None:
    data = {"days": 12, "freq": 3, "opens": 4, "clicks": 2, "money": {"total": 80.5}}
    with patch.object(Score, "compute", side_effect=AssertionError("the checked path ran")):
        values = _derived(segments, data, generated=True)
    assert values == {
        "r_score": 4,
        "f_score": 4,
        "m_score": 3,
        "rfm": "443",
        "engagement": 0.343667,  # 0.5 × 4/10 + 0.3 × (1 − 7/10) + 0.2 × 80.5/300
        "activity": 30,  # 10 (days ≤ 30) + 5 × 4 opens − 3 × (12 // 30); clicks exist
        "halves": 0.0,  # 1.5 × (2 // 2.5): a float line
        "blend": 1.837334,  # 2 × 0.343667 + 40/100 + (4 − 1)/4 + 0/9
    }
    assert type(values["halves"]) is float  # type: ignore[index]
    assert values == _derived(segments, data, generated=False)


def test_a_misfit_hands_its_score_to_the_checked_path(segments: Segments) -> None:
    data = {"days": 12, "freq": 3, "opens": Decimal("4"), "clicks": 2}
    seen: list[str] = []
    compute = Score.compute

    def spy(self: Score, *args: Any, **kwargs: Any) -> int | float:
        seen.append(self.name)
        return compute(self, *args, **kwargs)

    with patch.object(Score, "compute", spy):
        values = _derived(segments, data, generated=True)
    assert seen == ["engagement", "activity"]  # the two that read opens, each alone
    assert values == _derived(segments, data, generated=False)


def test_a_bad_value_is_the_checked_path_s_located_error(segments: Segments) -> None:
    error = _derived(segments, {"days": 5, "opens": "many"}, generated=True)
    assert error == _derived(segments, {"days": 5, "opens": "many"}, generated=False)
    assert error == (
        "error",
        "segments.yaml line 11: scores.engagement.weighted.opens: score 'engagement': expected "
        "a finite number, got 'many' (text) — check the field's type in the recipient schema",
    )


def test_field_names_stay_data(tmp_path: Path) -> None:
    path = tmp_path / "segments.yaml"
    path.write_text(TEXT.replace("opens", "'o) #'"), encoding="utf-8")
    fields = FIELDS | {"o) #"}
    segments = load_segments(path, file="segments.yaml", fields=fields)
    data = {"days": 12, "freq": 3, "o) #": 4, "clicks": 2}
    assert _derived(segments, data, generated=True) == _derived(segments, data, generated=False)


EVERY = st.one_of(
    st.integers(1, 100),
    st.decimals(min_value="0.001", max_value=100, places=3).map(float),
    st.sampled_from([0.1, 0.3, 2.5, 1e-3]),
)
FINITE = st.one_of(
    st.integers(-(10**30), 10**30),
    st.floats(-1e12, 1e12),
    st.decimals(min_value=-(10**9), max_value=10**9, places=4),
    st.decimals(min_value=-10, max_value=10, places=1),
)


@settings(max_examples=400, deadline=None)
@given(every=EVERY, value=FINITE)
def test_every_counts_exactly_on_both_paths(every: int | float, value: Any) -> None:
    score = Score("s", "points", rules=(PointsRule(1, "v", every=every),))
    run = derive_run(None, (score,), frozenset())
    values: dict[str, Any] = {}
    run(MappingScope({"v": value}, now=NOW, names=values), values)
    checked = score.compute(MappingScope({"v": value}, now=NOW), trace=[])
    # Floats count as the decimals they print as, as a written 'every' does.
    exact = [Fraction(repr(x)) if isinstance(x, float) else Fraction(x) for x in (value, every)]
    assert values["s"] == checked == math.floor(exact[0] / exact[1])
    assert type(values["s"]) is type(checked) is int
