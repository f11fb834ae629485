"""Tests for operands: checking and texts, and the scope-free shortcuts beside each test."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personalize.errors import RuleError
from personalize.operators import OPERATORS, Operand, compile_operand, written
from personalize.rules import MappingScope

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SCOPE = MappingScope({}, now=NOW, tz=ZoneInfo("Europe/Berlin"))


@pytest.mark.parametrize(
    ("op", "operand", "text", "absent", "fast"),
    [
        pytest.param("eq", "Gold", "a = Gold", False, (str,), id="eq-text"),
        pytest.param("ne", 5, "a != 5", True, (int, float, Decimal), id="ne-number"),
        pytest.param("eq", True, "a = true", False, (bool,), id="eq-bool"),
        pytest.param("eq", date(2026, 1, 2), "a = 2026-01-02", False, (date,), id="eq-date"),
        pytest.param("eq", NOW, "a = 2026-11-20T09:00:00+00:00", False, (), id="eq-datetime"),
        pytest.param("gte", 1.5, "a >= 1.5", False, (int, float, Decimal), id="gte"),
        pytest.param("lt", "m", "a < m", False, (str,), id="lt-text"),
        pytest.param("in", ["Gold", 5], "a in [Gold, 5]", False, (str,), id="in"),
        pytest.param("not_in", ["Gold"], "a not in [Gold]", True, (str,), id="not-in"),
        pytest.param("contains", "x", "a contains x", False, (), id="contains"),
        pytest.param("exists", False, "a does not exist", True, (), id="not-exists"),
        pytest.param("within", "30d", "a within 30d", False, (), id="within"),
        pytest.param("before", "2w", "a before 2w ago", False, (), id="before"),
    ],
)
def test_operands(op: str, operand: Any, text: str, absent: bool, fast: tuple[type, ...]) -> None:
    compiled = compile_operand("a", op, operand)
    assert isinstance(compiled, Operand)
    assert (compiled.text, compiled.absent, compiled.fast) == (text, absent, fast)


def test_operands_are_checked() -> None:
    with pytest.raises(RuleError) as info:
        compile_operand("a", "gt", [1])
    assert str(info.value) == (
        "'gt' needs a number, text or date, got [1] — write dates as 2026-11-20; quote text"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(None, "null", id="null"),
        pytest.param(True, "true", id="bool"),
        pytest.param("Gold", "'Gold'", id="text"),
        pytest.param(date(2026, 11, 20), "2026-11-20", id="date"),
        pytest.param([1, "a"], "[1, 'a']", id="list"),
    ],
)
def test_written(value: Any, text: str) -> None:
    assert written(value) == text


SMALL = st.integers(-3, 3)
OPERAND_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "number": st.one_of(SMALL, SMALL.map(float), st.floats(-3, 3), SMALL.map(Decimal)),
    "text": st.text("ab", max_size=2),
    "bool": st.booleans(),
    "date": st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 1, 3)),
}
OPERAND = st.one_of(*OPERAND_VALUES.values())
VALUES = st.one_of(
    *OPERAND_VALUES.values(),
    st.floats(allow_nan=True),
    st.sampled_from([Decimal("NaN"), Decimal("sNaN"), 10**400, NOW, NOW.replace(tzinfo=None)]),
)
OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in")


@settings(max_examples=500, deadline=None)
@given(
    op=st.sampled_from(OPS),
    operand=OPERAND,
    more=st.lists(OPERAND, max_size=3),
    value=VALUES,
)
def test_shortcuts_give_the_tests_answer(
    op: str, operand: Any, more: list[Any], value: Any
) -> None:
    try:
        compiled = compile_operand("a", op, [operand, *more] if op.endswith("in") else operand)
    except RuleError:
        return  # not an operand for this operator
    if type(value) not in compiled.fast:
        return
    try:
        expected: bool | RuleError = compiled.test(value, SCOPE)
    except RuleError as err:
        expected = err
    try:
        result = compiled.quick(value)
    except Exception:
        return  # allowed: the caller then asks the test
    assert result is expected


def test_every_operator_compiles() -> None:
    operands = {
        "in": [1],
        "not_in": [1],
        "exists": True,
        "within": "1d",
        "before": "1d",
        "after": "1d",
    }
    for op in OPERATORS:
        assert compile_operand("a", op, operands.get(op, 1)).text.startswith("a ")
