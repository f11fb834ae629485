"""Tests for safe YAML loading: values, the line of every key path, front matter, bad input."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personalize.errors import ConfigError
from personalize.frontmatter import MODULE_KEYS
from personalize.yamlfile import (
    MAX_DEPTH,
    MAX_VALUES,
    Document,
    load_yaml,
    split_front_matter,
)

NESTED = """\
metrics:
  orders_30d: {count: orders, within: 30d}
segments:
  vip:
    description: Big spenders
    when:
      all:
        - {orders_30d: {gt: 5}}
        - tier: Gold
"""


def load_error(text: str, *, first_line: int = 1) -> str:
    with pytest.raises(ConfigError) as caught:
        load_yaml(text, file="f.yaml", first_line=first_line)
    return str(caught.value)


def front_error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        split_front_matter(text, file="modules/hero/a.mjml", keys=MODULE_KEYS)
    return str(caught.value)


# -- values and lines -----------------------------------------------------------------------


def test_values_are_plain_python() -> None:
    doc = load_yaml(NESTED, file="segments.yaml")
    assert doc.file == "segments.yaml"
    assert doc.data == {
        "metrics": {"orders_30d": {"count": "orders", "within": "30d"}},
        "segments": {
            "vip": {
                "description": "Big spenders",
                "when": {"all": [{"orders_30d": {"gt": 5}}, {"tier": "Gold"}]},
            }
        },
    }


LINE_CASES: list[tuple[str, tuple[str | int, ...], int]] = [
    ("top-level key", ("metrics",), 1),
    ("flow mapping key", ("metrics", "orders_30d"), 2),
    ("key inside a flow mapping", ("metrics", "orders_30d", "within"), 2),
    ("second section", ("segments",), 3),
    ("nested key", ("segments", "vip"), 4),
    ("deeper key", ("segments", "vip", "description"), 5),
    ("list under a key", ("segments", "vip", "when", "all"), 7),
    ("first list item", ("segments", "vip", "when", "all", 0), 8),
    ("key in the first list item", ("segments", "vip", "when", "all", 0, "orders_30d"), 8),
    ("second list item", ("segments", "vip", "when", "all", 1), 9),
    ("key in the second list item", ("segments", "vip", "when", "all", 1, "tier"), 9),
    ("unknown child falls back to its parent", ("segments", "vip", "nope", 3), 4),
    ("unknown list index falls back to the list", ("segments", "vip", "when", "all", 7), 7),
    ("the root", (), 1),
]


@pytest.mark.parametrize(
    ("path", "line"), [c[1:] for c in LINE_CASES], ids=[c[0] for c in LINE_CASES]
)
def test_every_key_path_has_its_line(path: tuple[str | int, ...], line: int) -> None:
    assert load_yaml(NESTED, file="f.yaml").line(path) == line


def test_first_line_offsets_every_line() -> None:
    doc = load_yaml(NESTED, file="f.yaml", first_line=10)
    assert doc.line(("segments", "vip", "when", "all", 1, "tier")) == 18
    assert doc.line(("metrics",)) == 10


def test_a_document_without_lines_has_no_line() -> None:
    assert Document({"a": 1}, "f").line(("a",)) is None


def test_document_error_is_located() -> None:
    doc = load_yaml(NESTED, file="segments.yaml")
    err = doc.error(("segments", "vip", "when", "all", 1), "bad rule", hint="fix it")
    assert str(err) == "segments.yaml line 9: segments.vip.when.all[1]: bad rule — fix it"
    assert (err.file, err.line, err.path) == ("segments.yaml", 9, "segments.vip.when.all[1]")


EMPTY_CASES = [("empty", ""), ("comment only", "# nothing\n"), ("explicit null", "~\n")]


@pytest.mark.parametrize("text", [c[1] for c in EMPTY_CASES], ids=[c[0] for c in EMPTY_CASES])
def test_empty_documents_are_none(text: str) -> None:
    assert load_yaml(text, file="f.yaml").data is None


SCALAR_CASES: list[tuple[str, str, Any]] = [
    ("int", "1", 1),
    ("underscored int", "1_000", 1000),
    ("float", "1.5", 1.5),
    ("bool", "true", True),
    ("null", "null", None),
    ("date", "2026-11-20", dt.date(2026, 11, 20)),
    (
        "aware timestamp",
        "2026-11-20T09:00:00+01:00",
        dt.datetime(2026, 11, 20, 9, tzinfo=dt.timezone(dt.timedelta(hours=1))),
    ),
    ("quoted date stays text", "'2026-11-20'", "2026-11-20"),
    ("explicit str tag", "!!str 5", "5"),
    ("plain text", "Hi there", "Hi there"),
    ("octal-looking text", "0o99", "0o99"),
]


@pytest.mark.parametrize(
    ("source", "value"), [c[1:] for c in SCALAR_CASES], ids=[c[0] for c in SCALAR_CASES]
)
def test_scalars(source: str, value: Any) -> None:
    assert load_yaml(f"a: {source}\n", file="f.yaml").data == {"a": value}


def test_aliases_repeat_their_anchor() -> None:
    doc = load_yaml("base: &b {x: 1}\ncopy: *b\n", file="f.yaml")
    assert doc.data == {"base": {"x": 1}, "copy": {"x": 1}}


def test_a_top_level_list() -> None:
    doc = load_yaml("- a\n- b: 1\n", file="f.yaml")
    assert doc.data == ["a", {"b": 1}]
    assert doc.line((1, "b")) == 2


# -- errors ---------------------------------------------------------------------------------

TAG_HINT = "only plain YAML values are allowed (no !!python or custom tags)"
QUOTE_HINT = "check indentation and quoting; strings with ': ' or '#' need quotes"
VALUE_HINT = "fix the value, or quote it to keep it as text"
CHAR_HINT = "delete it: most editors do not show it (it often comes with copied text)"

ERROR_CASES = [
    (
        "duplicate top-level key",
        "a: 1\nb: 2\na: 3\n",
        "f.yaml line 3: duplicate key 'a' — 'a' is already set on line 1; keep one",
    ),
    (
        "duplicate nested key",
        "seg:\n  vip: 1\n  vip: 2\n",
        "f.yaml line 3: seg: duplicate key 'vip' — 'vip' is already set on line 2; keep one",
    ),
    (
        "duplicate key in a list item",
        "- a\n- b: 1\n  b: 2\n",
        "f.yaml line 3: [1]: duplicate key 'b' — 'b' is already set on line 2; keep one",
    ),
    (
        "duplicate key in a flow mapping",
        "x: {a: 1, a: 2}\n",
        "f.yaml line 1: x: duplicate key 'a' — 'a' is already set on line 1; keep one",
    ),
    (
        "python object tag on a scalar",
        "a: !!python/object:os.system ls\n",
        f"f.yaml line 1: unsupported YAML tag 'tag:yaml.org,2002:python/object:os.system' — "
        f"{TAG_HINT}",
    ),
    (
        "python name tag",
        "a: 1\nb: !!python/name:os.system\n",
        f"f.yaml line 2: unsupported YAML tag 'tag:yaml.org,2002:python/name:os.system' — "
        f"{TAG_HINT}",
    ),
    (
        "python apply tag on a sequence",
        "a: !!python/object/apply:os.system [ls]\n",
        f"f.yaml line 1: unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' "
        f"— {TAG_HINT}",
    ),
    (
        "python object tag on a mapping",
        "a:\n  b: !!python/object:collections.OrderedDict {x: 1}\n",
        f"f.yaml line 2: unsupported YAML tag 'tag:yaml.org,2002:python/object:collections."
        f"OrderedDict' — {TAG_HINT}",
    ),
    ("custom tag", "a: !secret x\n", f"f.yaml line 1: unsupported YAML tag '!secret' — {TAG_HINT}"),
    (
        "set tag",
        "a: !!set {x, y}\n",
        f"f.yaml line 1: unsupported YAML tag 'tag:yaml.org,2002:set' — {TAG_HINT}",
    ),
    (
        "merge key",
        "a: &x {b: 1}\nc:\n  <<: *x\n",
        f"f.yaml line 3: unsupported YAML tag 'tag:yaml.org,2002:merge' — {TAG_HINT}",
    ),
    (
        "impossible date",
        "when:\n  from: 2026-13-01\n",
        f"f.yaml line 2: invalid timestamp '2026-13-01' — {VALUE_HINT}",
    ),
    (
        "impossible day",
        "a: 2026-02-30\n",
        f"f.yaml line 1: invalid timestamp '2026-02-30' — {VALUE_HINT}",
    ),
    ("bad explicit int", "a: !!int abc\n", f"f.yaml line 1: invalid int 'abc' — {VALUE_HINT}"),
    ("bad explicit bool", "a: !!bool abc\n", f"f.yaml line 1: invalid bool 'abc' — {VALUE_HINT}"),
    (
        "bad explicit timestamp",
        "a: !!timestamp abc\n",
        f"f.yaml line 1: invalid timestamp 'abc' — {VALUE_HINT}",
    ),
    ("non-scalar key", "? [a]\n: 1\n", "f.yaml line 1: mapping keys must be plain strings"),
    (
        "mapping value where none is allowed",
        "a: 1\nb: c: d\n",
        f"f.yaml line 2: invalid YAML: mapping values are not allowed here — {QUOTE_HINT}",
    ),
    (
        "unclosed quote",
        "a: 1\nb: 'x\n",
        f"f.yaml line 3: invalid YAML: found unexpected end of stream — {QUOTE_HINT}",
    ),
    (
        "tab indentation",
        "a:\n\t- b\n",
        f"f.yaml line 2: invalid YAML: found character '\\t' that cannot start any token — "
        f"{QUOTE_HINT}",
    ),
    (
        "undefined alias",
        "a: *nope\n",
        f"f.yaml line 1: invalid YAML: found undefined alias 'nope' — {QUOTE_HINT}",
    ),
    (
        "two documents",
        "a: 1\n---\nb: 2\n",
        f"f.yaml line 2: invalid YAML: but found another document — {QUOTE_HINT}",
    ),
    (
        "a control character",
        "a: 1\nb: x\x1b[0m\n",
        f"f.yaml line 2: invalid YAML: control character U+001B is not allowed — {CHAR_HINT}",
    ),
    (
        "a noncharacter",
        "a: 1\n\nb: '\ufffe'\n",
        f"f.yaml line 3: invalid YAML: character U+FFFE is not allowed — {CHAR_HINT}",
    ),
    (
        "a control character after a line separator",
        "a: 'x\u2028y'\nb: \x00\n",
        f"f.yaml line 2: invalid YAML: control character U+0000 is not allowed — {CHAR_HINT}",
    ),
    (
        "a line separator that breaks a value",
        "seg:\n  vip:\n    description: High\u2028value\n    when: {tier: Gold}\n",
        "f.yaml line 4: invalid YAML: could not find expected ':' — line 3 holds an invisible "
        "line separator (U+2028), which YAML reads as a line break: delete it, or quote the text",
    ),
    (
        "a paragraph separator that breaks a value",
        "a: 1\nb: x\u2029y: z: w\n",
        "f.yaml line 2: invalid YAML: mapping values are not allowed here — line 2 holds an "
        "invisible paragraph separator (U+2029), which YAML reads as a line break: delete it, or "
        "quote the text",
    ),
    (
        "a line separator far above an error",
        "a: 'x\u2028y'\n\n\n\n\nb: c: d\n",
        f"f.yaml line 6: invalid YAML: mapping values are not allowed here — {QUOTE_HINT}",
    ),
    (
        "alias inside its own anchor (list)",
        "a: &x [*x]\n",
        "f.yaml line 1: a[0]: an alias refers to a value that contains it — an anchor (&name) "
        "cannot be used (*name) inside its own value",
    ),
    (
        "alias inside its own anchor (mapping)",
        "a: &x {b: *x}\n",
        "f.yaml line 1: a.b: an alias refers to a value that contains it — an anchor (&name) "
        "cannot be used (*name) inside its own value",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES]
)
def test_load_errors(text: str, expected: str) -> None:
    assert load_error(text) == expected


def test_errors_are_offset_by_first_line() -> None:
    assert load_error("a: 1\na: 2\n", first_line=5) == (
        "f.yaml line 6: duplicate key 'a' — 'a' is already set on line 5; keep one"
    )
    assert load_error("a: !!python/name:os.system\n", first_line=5).startswith("f.yaml line 5:")
    assert load_error("a: b: c\n", first_line=5).startswith("f.yaml line 5: invalid YAML")


@pytest.mark.parametrize("separator", ["\x85", "\u2028", "\u2029"], ids=["nel", "ls", "ps"])
def test_lines_are_counted_at_newlines_only(separator: str) -> None:
    # PyYAML also breaks lines at these; editors do not, and neither do the lines we report.
    text = f"a: 'x{separator}y'\nb: \"{separator}\"\nc:\n  d: [1,\n{separator}  2]\n  e: 3\n"
    doc = load_yaml(text, file="f.yaml", first_line=10)
    kept = " " if separator == "\x85" else separator  # YAML folds NEL in a quoted text
    assert doc.data == {"a": f"x{kept}y", "b": kept, "c": {"d": [1, 2], "e": 3}}
    assert [doc.line(path) for path in [("a",), ("b",), ("c",), ("c", "d"), ("c", "e")]] == [
        10,
        11,
        12,
        13,
        15,
    ]


def test_a_yaml_bomb_is_stopped() -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for index, name in enumerate("bcdefg", start=1):
        previous = "abcdefg"[index - 1]
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    message = load_error("\n".join(levels) + "\n")
    assert f"the YAML holds more than {MAX_VALUES:,} values" in message
    assert message.endswith("— aliases (*name) repeat their anchor's value; use fewer of them")


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    depth = 2_000
    assert load_error("a: 1\nb: " + "[" * depth + "]" * depth) == (
        "f.yaml line 2: the YAML is nested too deeply — flatten the structure; settings and "
        "rules need only a few levels"
    )


def test_nesting_past_max_depth_is_a_located_error() -> None:
    # Deep enough for PyYAML but not for what reads a rule: a located error, not a crash.
    rule = "{not: " * 400 + "{tier: Gold}" + "}" * 400
    assert load_error(f"vip:\n  description: x\n  when: {rule}\n", first_line=3) == (
        "f.yaml line 5: the YAML is nested too deeply — flatten the structure; settings and "
        "rules need only a few levels"
    )
    deepest = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)  # a value at a path of MAX_DEPTH
    assert load_yaml(deepest, file="f.yaml").line((0,) * MAX_DEPTH) == 1
    assert load_error("[" + deepest + "]").startswith("f.yaml line 1: the YAML is nested too")


@given(st.text(max_size=80))
def test_load_yaml_is_total(text: str) -> None:
    # Any text parses or is a ConfigError; no other exception escapes.
    error: ConfigError | None = None
    try:
        load_yaml(text, file="f.yaml")
    except ConfigError as err:
        error = err
    assert error is None or error.file == "f.yaml"


# PyYAML does not join escaped surrogate pairs ("\\ud83d\\ude00"), so the text stays in the
# Basic Multilingual Plane; json.dumps escapes everything else.
_BMP = st.text(st.characters(max_codepoint=0xFFFF, codec="utf-8"), max_size=5)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | _BMP,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(_BMP.filter(bool), inner, max_size=3)
        ),
        max_leaves=10,
    )
)
def test_json_is_read_back_unchanged(value: Any) -> None:
    assert load_yaml(json.dumps(value), file="f.json").data == value


# -- front matter ---------------------------------------------------------------------------

MODULE = """\
---
slot: hero
segments: [vip]
priority: 50
---
<mj-section>
  <mj-text>Hi</mj-text>
</mj-section>
"""


def test_front_matter_is_split_from_the_body() -> None:
    front, body, first = split_front_matter(MODULE, file="modules/hero/a.mjml", keys=MODULE_KEYS)
    assert front.data == {"slot": "hero", "segments": ["vip"], "priority": 50}
    assert front.file == "modules/hero/a.mjml"
    assert body == "<mj-section>\n  <mj-text>Hi</mj-text>\n</mj-section>\n"
    assert first == 6
    assert body.split("\n")[0] == MODULE.split("\n")[first - 1]


def test_front_matter_after_blank_lines_keeps_file_lines() -> None:
    front, _, _ = split_front_matter("\n\n" + MODULE, file="m.mjml", keys=MODULE_KEYS)
    assert (front.line(("slot",)), front.line(("priority",))) == (4, 6)


LATE_FRONT_CASES = [
    (
        "after a comment",
        "<!-- Bronze tier fallback -->\n---\nsegments: [gold]\n---\n<mj-section/>\n",
        "m.mjml line 2: front matter must start the file: with other text above it, it would "
        "be sent as body text — move the comment on line 1 below the closing '---' on line 4",
    ),
    (
        "after a comment of two lines and a blank line",
        "<!-- a\n b -->\n\n---\nsubject: Hi\n---\n",
        "m.mjml line 4: front matter must start the file: with other text above it, it would "
        "be sent as body text — move the comment on lines 1–2 below the closing '---' on line 6",
    ),
    (
        "after other text",
        "\ufeffHello\n---\nslot: hero\ntitle: x\n---\n",
        "m.mjml line 2: front matter must start the file: with other text above it, it would "
        "be sent as body text — move the text on line 1 below the closing '---' on line 5",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"), [c[1:] for c in LATE_FRONT_CASES], ids=[c[0] for c in LATE_FRONT_CASES]
)
def test_front_matter_below_other_text_is_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        split_front_matter(text, file="m.mjml", keys=MODULE_KEYS)
    assert str(info.value) == message


def test_front_matter_lines_are_file_lines() -> None:
    front, _, _ = split_front_matter(MODULE, file="m.mjml", keys=MODULE_KEYS)
    assert front.line(("slot",)) == 2
    assert front.line(("segments", 0)) == 3
    assert front.line(("priority",)) == 4
    err = front.error(("segments", 0), "unknown segment 'vip'")
    assert str(err) == "m.mjml line 3: segments[0]: unknown segment 'vip'"


NO_FRONT_CASES = [
    ("plain body", "<mj-section/>\n"),
    ("dashes not alone on the first line", "--- slot: hero\n---\nbody\n"),
    ("four dashes", "----\nbody\n"),
    ("a later block without a known key", "<!-- x -->\n---\ntitle: hi\n---\n"),
    ("a later block that is not YAML", "<mj-text>\n---\n: [\n---\n</mj-text>\n"),
    ("a later fence never closed", "<!-- x -->\n---\nslot: hero\n"),
    ("empty file", ""),
]


@pytest.mark.parametrize("text", [c[1] for c in NO_FRONT_CASES], ids=[c[0] for c in NO_FRONT_CASES])
def test_text_without_front_matter_is_all_body(text: str) -> None:
    front, body, first = split_front_matter(text, file="m.mjml", keys=MODULE_KEYS)
    assert (front.data, body, first) == ({}, text, 1)


FRONT_CASES: list[tuple[str, str, dict[str, Any], str, int]] = [
    ("empty front matter", "---\n---\nbody\n", {}, "body\n", 3),
    ("blank front matter", "---\n\n   \n---\nbody", {}, "body", 5),
    ("comment-only front matter", "---\n# nothing\n---\nbody", {}, "body", 4),
    ("no body", "---\na: 1\n---", {"a": 1}, "", 4),
    ("trailing spaces on the fences", "--- \na: 1\n---  \nbody", {"a": 1}, "body", 4),
    ("windows line endings", "---\r\na: 1\r\n---\r\nbody\r\n", {"a": 1}, "body\r\n", 4),
    ("byte-order mark", "\ufeff---\na: 1\n---\nbody", {"a": 1}, "body", 4),
    ("leading blank lines", "\n \r\n---\na: 1\n---\nbody", {"a": 1}, "body", 6),
    ("byte-order mark and a blank line", "\ufeff\n---\na: 1\n---\nbody", {"a": 1}, "body", 5),
    ("a later fence stays in the body", "---\na: 1\n---\nx\n---\n", {"a": 1}, "x\n---\n", 4),
]


@pytest.mark.parametrize(
    ("text", "data", "body", "first"),
    [c[1:] for c in FRONT_CASES],
    ids=[c[0] for c in FRONT_CASES],
)
def test_front_matter_shapes(text: str, data: dict[str, Any], body: str, first: int) -> None:
    front, rest, line = split_front_matter(text, file="m.mjml", keys=MODULE_KEYS)
    assert (front.data, rest, line) == (data, body, first)


FRONT_ERROR_CASES = [
    (
        "never closed",
        "---\nslot: hero\n<mj-section/>\n",
        "modules/hero/a.mjml line 1: front matter is never closed — end the front matter with "
        "a line holding only '---'",
    ),
    (
        "never closed, after a blank line",
        "\n---\nslot: hero\n<mj-section/>\n",
        "modules/hero/a.mjml line 2: front matter is never closed — end the front matter with "
        "a line holding only '---'",
    ),
    (
        "a list, after a blank line",
        "\n---\n- hero\n---\nbody\n",
        "modules/hero/a.mjml line 3: front matter must be a mapping of keys to values — write it "
        "as 'key: value' lines between the two '---' lines",
    ),
    (
        "a list",
        "---\n- hero\n---\nbody\n",
        "modules/hero/a.mjml line 2: front matter must be a mapping of keys to values — write it "
        "as 'key: value' lines between the two '---' lines",
    ),
    (
        "a scalar",
        "---\nhero\n---\nbody\n",
        "modules/hero/a.mjml line 2: front matter must be a mapping of keys to values — write it "
        "as 'key: value' lines between the two '---' lines",
    ),
    (
        "duplicate key reports file lines",
        "---\nslot: hero\npriority: 1\npriority: 2\n---\nbody\n",
        "modules/hero/a.mjml line 4: duplicate key 'priority' — 'priority' is already set on "
        "line 3; keep one",
    ),
    (
        "syntax error reports the file line",
        "---\nslot: hero\nsubject: Hi: there\n---\nbody\n",
        f"modules/hero/a.mjml line 3: invalid YAML: mapping values are not allowed here — "
        f"{QUOTE_HINT}",
    ),
    (
        "python tag reports the file line",
        "---\nslot: hero\n\nwhen: !!python/object/apply:os.system [ls]\n---\n",
        f"modules/hero/a.mjml line 4: unsupported YAML tag "
        f"'tag:yaml.org,2002:python/object/apply:os.system' — {TAG_HINT}",
    ),
    (
        "a control character reports the file line",
        "---\nslot: hero\n\ndescription: x\x00\n---\nbody\n",
        f"modules/hero/a.mjml line 4: invalid YAML: control character U+0000 is not allowed — "
        f"{CHAR_HINT}",
    ),
    (
        "a key after a line separator reports the file line",
        "---\ndescription: 'Everyone,\u2028and more'\nslot: hero\npriority: 1\npriority: 2\n---\n",
        "modules/hero/a.mjml line 5: duplicate key 'priority' — 'priority' is already set on "
        "line 4; keep one",
    ),
    (
        "bad date reports the file line",
        "---\nactive:\n  from: 2026-13-01\n---\n",
        f"modules/hero/a.mjml line 3: invalid timestamp '2026-13-01' — {VALUE_HINT}",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in FRONT_ERROR_CASES], ids=[c[0] for c in FRONT_ERROR_CASES]
)
def test_front_matter_errors(text: str, expected: str) -> None:
    assert front_error(text) == expected
