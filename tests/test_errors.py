"""Tests for the error hierarchy: locations, str(), hints and the small formatting helpers."""

from __future__ import annotations

import pickle
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personalize.errors import (
    ConfigError,
    DecisionError,
    PersonalizeError,
    RecipientError,
    RegistryError,
    RenderError,
    RuleError,
    did_you_mean,
    escaped_id,
    format_path,
    short_repr,
)

# -- str() and location ---------------------------------------------------------------------

STR_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("message only", {}, "bad value"),
    ("file", {"file": "segments.yaml"}, "segments.yaml: bad value"),
    ("file and line", {"file": "segments.yaml", "line": 3}, "segments.yaml line 3: bad value"),
    ("line without file is dropped", {"line": 3}, "bad value"),
    ("line 0 counts as no line", {"file": "a.yaml", "line": 0}, "a.yaml: bad value"),
    ("recipient alone", {"recipient": "r-17"}, "recipient r-17: bad value"),
    (
        "file, line and recipient",
        {"file": "p.jsonl", "line": 42, "recipient": "r-17"},
        "p.jsonl line 42 (recipient r-17): bad value",
    ),
    (
        "file and recipient",
        {"file": "p.jsonl", "recipient": "x"},
        "p.jsonl (recipient x): bad value",
    ),
    ("path alone", {"path": "orders[3].total"}, "orders[3].total: bad value"),
    ("empty path is no path", {"path": ""}, "bad value"),
    ("hint alone", {"hint": "fix it"}, "bad value — fix it"),
    (
        "everything",
        {
            "file": "p.jsonl",
            "line": 3,
            "recipient": "x",
            "path": "orders[0].at",
            "hint": "use ISO dates",
        },
        "p.jsonl line 3 (recipient x): orders[0].at: bad value — use ISO dates",
    ),
    ("recipient id 0 is shown", {"recipient": "0"}, "recipient 0: bad value"),
]


@pytest.mark.parametrize(
    ("kwargs", "expected"), [c[1:] for c in STR_CASES], ids=[c[0] for c in STR_CASES]
)
def test_str_joins_location_path_message_and_hint(kwargs: dict[str, Any], expected: str) -> None:
    err = ConfigError("bad value", **kwargs)
    assert str(err) == expected
    assert err.args == (expected,)


LOCATION_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("nothing", {}, ""),
    ("file", {"file": "a.mjml"}, "a.mjml"),
    ("file and line", {"file": "a.mjml", "line": 7}, "a.mjml line 7"),
    ("recipient", {"recipient": "ann"}, "recipient ann"),
    ("both", {"file": "a.mjml", "line": 7, "recipient": "ann"}, "a.mjml line 7 (recipient ann)"),
    # An id comes from data: a line break or a terminal escape in it must not forge a log line.
    (
        "id with control characters escaped",
        {"recipient": "c-1\nfailed: x \x1b[31mhere"},
        "recipient 'c-1\\nfailed: x \\x1b[31mhere'",
    ),
    (
        "escaped id next to a file",
        {"file": "a.mjml", "line": 7, "recipient": "a\rb"},
        "a.mjml line 7 (recipient 'a\\rb')",
    ),
    ("bidi override in an id escaped", {"recipient": "\u202eann"}, "recipient '\\u202eann'"),
    ("long id cut", {"recipient": "x" * 65}, "recipient '" + "x" * 62 + "…"),
    ("id of 64 characters kept", {"recipient": "x" * 64}, "recipient " + "x" * 64),
    # Validation passes ids already escaped: escaping them again would show them twice quoted.
    ("shown id kept as it is", {"recipient": "'a\\nb'"}, "recipient 'a\\nb'"),
]


@pytest.mark.parametrize(
    ("kwargs", "expected"), [c[1:] for c in LOCATION_CASES], ids=[c[0] for c in LOCATION_CASES]
)
def test_location(kwargs: dict[str, Any], expected: str) -> None:
    assert PersonalizeError("m", **kwargs).location == expected


@pytest.mark.parametrize(
    "kind",
    [ConfigError, RecipientError, RuleError, RegistryError, DecisionError, RenderError],
    ids=lambda k: k.__name__,
)
def test_every_error_is_a_personalize_error(kind: type[PersonalizeError]) -> None:
    err = kind("m", file="f", line=1)
    assert isinstance(err, PersonalizeError)
    assert str(err) == "f line 1: m"
    assert err.to_dict()["type"] == kind.__name__


def test_an_id_is_escaped_in_every_kind_of_error_and_after_with_context() -> None:
    raw = "c-1\nfailed: x"
    for kind in (RecipientError, RenderError, ConfigError):
        assert str(kind("bad value", recipient=raw)) == "recipient 'c-1\\nfailed: x': bad value"
    filled = RenderError("bad value", file="a.mjml", line=2).with_context(recipient=raw)
    assert str(filled) == "a.mjml line 2 (recipient 'c-1\\nfailed: x'): bad value"
    assert filled.recipient == raw  # programs get the id as it is


@given(st.text())
def test_escaped_id_is_short_printable_and_stable(raw: str) -> None:
    shown = escaped_id(raw)
    assert len(shown) <= 64
    assert shown.isprintable()
    assert escaped_id(shown) == shown


def test_to_dict_holds_every_field() -> None:
    err = RecipientError(
        "expected a number", file="p.jsonl", line=2, recipient="x", path="a", hint="h"
    )
    assert err.to_dict() == {
        "type": "RecipientError",
        "message": "expected a number",
        "file": "p.jsonl",
        "line": 2,
        "recipient": "x",
        "path": "a",
        "hint": "h",
    }


def test_errors_survive_pickling_with_their_fields() -> None:
    # Errors travel back from worker processes in render_many.
    err = RecipientError("m", file="p.jsonl", line=3, recipient="x", path="a.b", hint="h")
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is RecipientError
    assert copy.to_dict() == err.to_dict()
    assert str(copy) == str(err)


# -- with_context ---------------------------------------------------------------------------


def test_with_context_fills_only_missing_parts() -> None:
    err = RuleError("cannot compare", file="modules/a.mjml", line=4, path="tier", hint="h")
    located = err.with_context(file="segments.yaml", line=9, recipient="ann", path="other")
    assert type(located) is RuleError
    assert located.to_dict() == {
        "type": "RuleError",
        "message": "cannot compare",
        "file": "modules/a.mjml",
        "line": 4,
        "recipient": "ann",
        "path": "tier",
        "hint": "h",
    }
    assert str(located) == "modules/a.mjml line 4 (recipient ann): tier: cannot compare — h"


def test_with_context_keeps_an_existing_recipient_even_if_blank() -> None:
    err = RecipientError("m", recipient="")
    assert err.with_context(recipient="other").recipient == ""


def test_with_context_on_a_bare_error_adds_everything() -> None:
    located = ConfigError("m").with_context(file="f.yaml", line=2, recipient="r", path="a[0]")
    assert str(located) == "f.yaml line 2 (recipient r): a[0]: m"


def test_with_context_returns_a_new_error() -> None:
    err = ConfigError("m")
    assert err.with_context(file="f") is not err
    assert err.file is None


# -- did_you_mean ---------------------------------------------------------------------------

DID_YOU_MEAN_CASES = [
    ("typo", "vipp", ["vip", "lapsed"], "did you mean 'vip'?"),
    ("transposition", "timezoen", ["timezone", "locale"], "did you mean 'timezone'?"),
    ("nothing close", "xyz", ["vip", "lapsed"], None),
    ("no choices", "vip", [], None),
    ("the closest of several", "lapsd", ["lapsed", "lapse_risk", "vip"], "did you mean 'lapsed'?"),
    (
        "duplicates and order do not matter",
        "hro",
        ["hero", "hero", "offer"],
        "did you mean 'hero'?",
    ),
    ("exact match", "vip", ["vip"], "did you mean 'vip'?"),
    ("another case", "WEEKLY", ["cart-reminder", "weekly"], "did you mean 'weekly'?"),
]


@pytest.mark.parametrize(
    ("word", "choices", "expected"),
    [c[1:] for c in DID_YOU_MEAN_CASES],
    ids=[c[0] for c in DID_YOU_MEAN_CASES],
)
def test_did_you_mean(word: str, choices: list[str], expected: str | None) -> None:
    assert did_you_mean(word, choices) == expected


def test_did_you_mean_accepts_any_iterable() -> None:
    assert did_you_mean("hro", (name for name in ("hero", "offer"))) == "did you mean 'hero'?"
    assert did_you_mean("hro", {"hero": 1}.keys()) == "did you mean 'hero'?"


# -- short_repr -----------------------------------------------------------------------------


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def _nested_list(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def _nested_ordered(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = OrderedDict(a=value)
    return value


class _BrokenRepr:
    def __repr__(self) -> str:
        raise TypeError("no repr")


_LOOP: list[Any] = [1]
_LOOP.append(_LOOP)
_SELF: dict[str, Any] = {}
_SELF["me"] = _SELF

SHORT_REPR_CASES: list[tuple[str, Any, int, str]] = [
    ("short text", "abc", 60, "'abc'"),
    ("number", 12.5, 60, "12.5"),
    ("none", None, 60, "None"),
    ("list", [1, "a"], 60, "[1, 'a']"),
    ("exactly the limit", "a" * 8, 10, "'aaaaaaaa'"),
    ("one over the limit", "a" * 9, 10, "'aaaaaaaa…"),
    ("long text", "x" * 100, 60, "'" + "x" * 58 + "…"),
    ("newline and tab escaped", "a\nb\tc", 60, "'a\\nb\\tc'"),
    ("NUL, BEL and DEL escaped", "\x00\x07\x7f", 60, "'\\x00\\x07\\x7f'"),
    ("line separator escaped", "a\u2028b", 60, "'a\\u2028b'"),
    ("bidi override escaped", "\u202eevil", 60, "'\\u202eevil'"),
    ("lone surrogate escaped", "\ud800", 60, "'\\ud800'"),
    ("non-ASCII letters kept", "Müller", 60, "'Müller'"),
    ("long text with a quote", "it's " + "x" * 100, 10, "\"it's xxx…"),
    ("long text with both quotes", "it's \"" + "x" * 100, 10, "'it\\'s \"x…"),
    ("one-item tuple", (1,), 60, "(1,)"),
    ("empty containers", ([], (), {}, set(), frozenset()), 60, "([], (), {}, set(), frozenset())"),
    ("sets", [{1}, frozenset({"a"})], 60, "[{1}, frozenset({'a'})]"),
    (
        "nested mapping",
        {"a": [1, {"b": None}], (1, 2): 2.5},
        60,
        "{'a': [1, {'b': None}], (1, 2): 2.5}",
    ),
    ("list holding itself", _LOOP, 60, "[1, [...]]"),
    ("mapping holding itself", _SELF, 60, "{'me': {...}}"),
    ("int too large for repr", 10**5000, 60, "<int too large to show>"),
    ("int too large in a list", [1, 10**5000], 60, "[1, <int too large to show>]"),
    ("nested a thousand deep", _nested(100_000), 30, "{'a': {'a': {'a': {'a': {'a':…"),
    ("list nested deep", _nested_list(100_000), 10, "[[[[[[[[[…"),
    ("broken repr", _BrokenRepr(), 60, "<_BrokenRepr that cannot be shown>"),
    (
        "mapping type nested deep",
        _nested_ordered(5_000),
        60,
        "<OrderedDict nested too deeply to show>",
    ),
]


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [c[1:] for c in SHORT_REPR_CASES],
    ids=[c[0] for c in SHORT_REPR_CASES],
)
def test_short_repr(value: Any, limit: int, expected: str) -> None:
    assert short_repr(value, limit) == expected


@given(st.text(), st.integers(min_value=2, max_value=200))
def test_short_repr_is_short_and_printable(value: str, limit: int) -> None:
    shown = short_repr(value, limit)
    assert len(shown) <= limit
    assert shown.isprintable()


_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        | st.frozensets(_SCALARS, max_size=3)
    ),
    max_leaves=20,
)


@given(_VALUES, st.integers(min_value=2, max_value=200))
def test_short_repr_is_repr_cut_to_the_limit(value: Any, limit: int) -> None:
    text = repr(value)
    assert short_repr(value, limit) == (text if len(text) <= limit else text[: limit - 1] + "…")


def test_short_repr_of_a_huge_value_is_bounded() -> None:
    assert len(short_repr("a" * 1_000_000)) == 60
    assert len(short_repr(list(range(100_000)))) == 60


# -- format_path ----------------------------------------------------------------------------

FORMAT_PATH_CASES: list[tuple[str, tuple[str | int, ...], str]] = [
    ("empty", (), ""),
    ("one key", ("tier",), "tier"),
    ("nested keys", ("links", "shop"), "links.shop"),
    ("list index", ("orders", 3, "total"), "orders[3].total"),
    ("index last", ("segments", 0), "segments[0]"),
    ("index first", (0, "a"), "[0].a"),
    ("consecutive indexes", ("grid", 1, 2), "grid[1][2]"),
]


@pytest.mark.parametrize(
    ("path", "expected"), [c[1:] for c in FORMAT_PATH_CASES], ids=[c[0] for c in FORMAT_PATH_CASES]
)
def test_format_path(path: tuple[str | int, ...], expected: str) -> None:
    assert format_path(path) == expected


def test_format_path_accepts_a_generator() -> None:
    assert format_path(part for part in ("a", 1)) == "a[1]"
