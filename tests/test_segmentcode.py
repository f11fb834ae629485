"""Tests for the generated segment function: results, order, groups, fallbacks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personalize.errors import RuleError
from personalize.rules import Condition, MappingScope, Not, Rule, parse_rule
from personalize.segmentcode import segment_run
from personalize.segmentfile import Segment
from personalize.segmentgroups import Group, GroupResolution
from personalize.segments import Segments
from personalize.yamlfile import Document
from test_rules import RECIPIENTS, RULES

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def merged(first: Mapping[str, Any], more: Mapping[str, Any]) -> Mapping[str, Any]:
    return {**first, **more}


def run(
    pairs: list[tuple[Segment, Group | None]], data: dict[str, Any], values: dict[str, Any]
) -> tuple[list[str], Mapping[str, GroupResolution] | None]:
    names = {*values, *(segment.name for segment, _ in pairs)}
    scope = MappingScope(data, now=NOW, names=values)
    return segment_run(pairs, frozenset(names), merged)(data, values, scope)


def above(name: str, ref: str, operand: int) -> Segment:
    return Segment(name, "", Condition(ref=ref, op="gt", operand=operand, line=3))


def test_each_segment_is_stored_in_values_and_members_keep_evaluation_order() -> None:
    pairs: list[tuple[Segment, Group | None]] = [
        (above("big", "spend", 100), None),
        (Segment("gold", "", Condition(ref="tier", op="eq", operand="Gold")), None),
        (Segment("big_gold", "", Condition(ref="big", op="eq", operand=True)), None),
        (above("many", "orders", 5), None),
    ]
    values: dict[str, Any] = {"spend": 150, "orders": 2}
    members, groups = run(pairs, {"tier": "Gold"}, values)
    assert members == ["big", "gold", "big_gold"]
    assert groups is None
    assert values == {
        "spend": 150,
        "orders": 2,
        "big": True,
        "gold": True,
        "big_gold": True,
        "many": False,
    }


def test_an_exclusive_group_keeps_its_first_member_and_several_groups_merge() -> None:
    first = Group("first", ("a", "b"))
    second = Group("second", ("c", "d"))
    pairs: list[tuple[Segment, Group | None]] = [
        (above("a", "n", 1), None),
        (above("b", "n", 0), first),
        (above("c", "n", 0), None),
        (above("d", "n", -1), second),
    ]
    values: dict[str, Any] = {"n": 2}
    members, groups = run(pairs, {}, values)
    assert members == ["a", "c"]
    assert (values["a"], values["b"], values["c"], values["d"]) == (True, False, True, False)
    assert groups is not None
    assert list(groups) == ["first", "second"]
    assert groups["first"].winner == "a"
    assert groups["second"].dropped == ("d",)


def test_a_rule_the_expression_cannot_answer_is_answered_by_evaluate() -> None:
    # A list where a number is compared: the expression raises, evaluate locates the error.
    pairs: list[tuple[Segment, Group | None]] = [(above("big", "spend", 100), None)]
    with pytest.raises(RuleError) as info:
        run(pairs, {"spend": [1, 2]}, {})
    assert str(info.value) == (
        "spend: cannot compare [1, 2] (list) with 100 (number) — check the field's type in the "
        "recipient schema"
    )
    # A Decimal NaN: the inline comparison raises; evaluate answers (NaN compares false).
    values: dict[str, Any] = {}
    assert run(pairs, {"spend": Decimal("NaN")}, values) == ([], None)
    assert values == {"big": False}
    below: list[tuple[Segment, Group | None]] = [
        (Segment("small", "", Condition(ref="spend", op="ne", operand=100)), None)
    ]
    assert run(below, {"spend": Decimal("NaN")}, {}) == (["small"], None)


def test_a_rule_nested_too_deeply_for_one_function_still_runs() -> None:
    deep: Rule = Condition(ref="n", op="gt", operand=1)
    for _ in range(400):  # past the parser's limit of nested parentheses
        deep = Not(rule=deep)
    pairs: list[tuple[Segment, Group | None]] = [
        (Segment("deep", "", deep), None),
        (above("big", "n", 1), None),
    ]
    assert run(pairs, {"n": 2}, {}) == (["deep", "big"], None)
    assert run(pairs, {"n": 0}, {}) == ([], None)


def test_names_and_refs_are_values_never_source() -> None:
    odd = "x'] or True or data['"
    pairs: list[tuple[Segment, Group | None]] = [
        (Segment(odd, "", Condition(ref=odd, op="eq", operand="yes")), None)
    ]
    values: dict[str, Any] = {}
    assert run(pairs, {odd: "yes"}, values) == ([odd], None)
    assert run(pairs, {odd: "no"}, {}) == ([], None)


GROUPED = Group("tiers", ("s1", "s2", "s3"))


@settings(max_examples=200, deadline=None)
@given(
    rules=st.lists(RULES, min_size=3, max_size=3),
    chained=st.sampled_from(
        [{"s1": True}, {"any": [{"s1": True}, {"s2": {"ne": False}}]}, {"not": {"s3": True}}]
    ),
    grouped=st.booleans(),
    recipient=RECIPIENTS,
)
def test_the_generated_function_agrees_with_the_checked_path(
    rules: list[Any], chained: Any, grouped: bool, recipient: dict[str, Any]
) -> None:
    # `trace=True` evaluates every rule by the checked path: the reference.
    def parsed(name: str, data: Any) -> Segment:
        return Segment(name, "", parse_rule(data, doc=Document(data, "segments.yaml"), path=()))

    segments = {f"s{i}": parsed(f"s{i}", data) for i, data in enumerate(rules, start=1)}
    segments["chained"] = parsed("chained", chained)
    built = Segments(
        file="segments.yaml",
        metrics={},
        segments=segments,
        groups={"tiers": GROUPED} if grouped else {},
    )

    def classified(trace: bool) -> Any:
        try:
            return built.classify(recipient, now=NOW, tz=UTC, recipient="r", trace=trace)
        except RuleError as err:
            return str(err)

    fast, reference = classified(False), classified(True)
    if isinstance(reference, str) or isinstance(fast, str):
        assert fast == reference
        return
    assert fast.segments == reference.segments
    assert dict(fast.groups) == dict(reference.groups)
