"""Tests for the generated segment function: results, order, groups, fallbacks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from personalize.errors import RuleError
from personalize.rules import Condition, MappingScope, Not, Rule
from personalize.segmentcode import segment_run
from personalize.segmentfile import Segment
from personalize.segmentgroups import Group, GroupResolution

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
    values: dict[str, Any] = {}
    assert run(pairs, {"spend": float("nan")}, values) == ([], None)
    assert values == {"big": False}


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
