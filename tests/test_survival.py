"""Tokens through MJML, the CSS inliner and the text part: dropped, copied or left out."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from personalize.errors import RegistryError, RenderError
from personalize.inlinecheck import check_inlined
from personalize.protect import Markers, Token
from personalize.survival import (
    check_blocks,
    check_pairs,
    check_survival,
    check_tables,
    drop_empty_conditions,
)

M = Markers()
FILE = "modules/hero/a.mjml"
VALUE = Token(1, "{{ tier }}", False, FILE, 4, False)
IF = Token(2, "{% if tier %}", True, FILE, 5, False)
ENDIF = Token(3, "{% endif %}", True, FILE, 7, False)
IN_TAG = Token(4, "{% if x %}", True, FILE, 9, True)
TOKENS = {t.id: t for t in (VALUE, IF, ENDIF, IN_TAG)}
SOURCE = f"<mj-text>{M.comment(2)}{M.expr(1)}{M.comment(3)}</mj-text>"


def test_output_with_every_token_once_passes() -> None:
    check_survival(f"<td>{M.comment(2)}{M.expr(1)}{M.comment(3)}</td>", TOKENS, M, SOURCE)
    # A value may be copied (MJML writes some twice, for Outlook); a token not in the source
    # (the hole of an empty slot) is not looked for.
    check_survival(f"{M.comment(2)}{M.expr(1)}{M.expr(1)}{M.comment(3)}", TOKENS, M, SOURCE)


@pytest.mark.parametrize(
    ("html", "message"),
    [
        (
            f"{M.comment(2)}{M.comment(3)}",
            "modules/hero/a.mjml line 4: MJML dropped {{ tier }} — MJML reads some attributes "
            "as numbers (width on mj-column/mj-image, title on mj-button…); use a literal value "
            "there",
        ),
        (
            f"{M.comment(2)}{M.expr(1)}{M.comment(2)}{M.comment(3)}",
            "modules/hero/a.mjml line 5: MJML copied {% if tier %} 2 times — choose the value in "
            "one expression instead ({{ a if tier else b }}), or put the tag around the whole "
            "section",
        ),
    ],
    ids=["dropped", "block-copied"],
)
def test_a_dropped_or_copied_token_is_an_error_at_its_line(html: str, message: str) -> None:
    with pytest.raises(RenderError) as caught:
        check_survival(html, TOKENS, M, SOURCE)
    assert str(caught.value) == message


def test_a_block_tag_the_text_part_leaves_out_is_an_error_at_its_line() -> None:
    check_blocks(f"{M.comment(2)}x{M.comment(3)}", TOKENS, M)  # in-tag blocks are not looked for
    with pytest.raises(RenderError) as caught:
        check_blocks(f"{M.comment(2)}x", TOKENS, M)
    assert str(caught.value) == (
        "modules/hero/a.mjml line 7: {% endif %} sits in a part of the email the text version "
        "leaves out — keep block tags out of hidden elements and the head"
    )


@pytest.mark.parametrize(
    ("tokens", "text", "expected"),
    [
        ({2: "{% if a %}", 3: "{% endif %}"}, "x<2><3>y", "xy"),
        # An outer condition that holds only an empty inner one goes too.
        (
            {2: "{% if a %}", 3: "{% if b %}", 4: "{% endif %}", 5: "{% endif %}"},
            "<2><3><4><5>",
            "",
        ),
        ({2: "{% if a %}", 3: "{% endif %}"}, "<2>x<3>", "<2>x<3>"),  # it holds something
        # protect leaves no whitespace controls; if one were left, its tags would stay.
        ({2: "{%- if a %}", 3: "{% endif %}"}, "<2><3>", "<2><3>"),
        ({2: "{% if a %}", 3: "{% endif -%}"}, "<2><3>", "<2><3>"),
        ({2: "{% for o in x %}", 3: "{% endfor %}"}, "<2><3>", "<2><3>"),  # loops are left
    ],
)
def test_conditions_that_hold_nothing_are_dropped_from_the_text(
    tokens: dict[int, str], text: str, expected: str
) -> None:
    found = {n: Token(n, t, True, FILE, n, False) for n, t in tokens.items()}
    marked = text
    for n in tokens:
        marked = marked.replace(f"<{n}>", M.comment(n))
    got = drop_empty_conditions(marked, found, M)
    for n in tokens:
        got = got.replace(M.comment(n), f"<{n}>")
    assert got == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            f'<mj-column width="{M.expr(1)}"><mj-text>x</mj-text></mj-column>',
            "modules/hero/a.mjml line 4: MJML dropped {{ tier }} from width= of <mj-column> — "
            "MJML reads some attributes as numbers (width on mj-column/mj-image, title on "
            "mj-button…) and leaves out those the element does not have; use a literal value "
            "there, or an attribute <mj-column> has",
        ),
        (
            f'<mj-text align="left" mj-class="big {M.expr(1)}">x</mj-text>',
            "modules/hero/a.mjml line 4: MJML dropped {{ tier }} from mj-class= of <mj-text> — "
            "MJML resolves mj-class once per variant, against the head's <mj-class> "
            "definitions; list the classes literally, or put the token in css-class",
        ),
        (
            f"<mj-text>{M.expr(1)}</mj-text>",
            "modules/hero/a.mjml line 4: MJML dropped {{ tier }} — MJML reads some attributes "
            "as numbers (width on mj-column/mj-image, title on mj-button…); use a literal value "
            "there",
        ),
    ],
    ids=["width", "mj-class", "content"],
)
def test_a_dropped_token_names_its_attribute_and_element(source: str, message: str) -> None:
    with pytest.raises(RenderError) as caught:
        check_survival("<td></td>", {1: VALUE}, M, source)
    assert str(caught.value) == message


def test_a_block_tag_inside_an_html_comment_must_reach_the_text_part() -> None:
    in_comment = Token(5, "{% if vip %}", True, FILE, 8, True, in_comment=True)
    check_blocks(M.comment(5), {5: in_comment}, M)
    with pytest.raises(RenderError) as caught:
        check_blocks("x", {5: in_comment}, M)
    assert str(caught.value) == (
        "modules/hero/a.mjml line 8: {% if vip %} sits in a part of the email the text version "
        "leaves out — keep block tags out of hidden elements and the head"
    )


RAW_HINT = (
    "HTML parsers move text and elements out of a table, away from the tag, so every recipient "
    "would get them; in a column or hero, give an mj-raw table rows only (<tr><td>…</td></tr>), "
    "or put the content in an mj-text"
)
TABLE_HINT = (
    "HTML parsers move text and elements out of a table, away from the tag, so every recipient "
    "would get them; put them inside the table's cells (<tr><td>…</td></tr>)"
)
TABLE_TOKENS = {
    t.id: t
    for t in (
        VALUE,
        IF,
        ENDIF,
        Token(6, "{% for i in items %}", True, FILE, 10, False),
        Token(7, "{% endfor %}", True, FILE, 11, False),
        Token(8, "{% else %}", True, FILE, 12, False),
    )
}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "<mj-column><mj-text>Hi</mj-text><mj-raw><!--zq2qz--><p>VIP</p><!--zq3qz--></mj-raw>"
            "</mj-column>",
            "modules/hero/a.mjml line 5: {% if tier %} wraps markup that MJML writes straight "
            f"into a table (<mj-raw> in <mj-column>) — {RAW_HINT}",
        ),
        (
            "<mj-hero><mj-raw><!--zq6qz-->zq1qz<!--zq7qz--></mj-raw></mj-hero>",
            "modules/hero/a.mjml line 10: {% for i in items %} wraps markup that MJML writes "
            f"straight into a table (<mj-raw> in <mj-hero>) — {RAW_HINT}",
        ),
        (
            # The content moves before the column's table, out of the open {% if %}.
            "<mj-column><!--zq2qz--><mj-text>a</mj-text><!--zq8qz--><mj-raw><b>b</b></mj-raw>"
            "<!--zq3qz--></mj-column>",
            "modules/hero/a.mjml line 5: {% if tier %} wraps markup that MJML writes straight "
            f"into a table (<mj-raw> in <mj-column>) — {RAW_HINT}",
        ),
        (
            "<mj-column><mj-table><!--zq2qz--><tr><td>a</td></tr>b<!--zq3qz--></mj-table>"
            "</mj-column>",
            "modules/hero/a.mjml line 5: {% if tier %} wraps markup that MJML writes straight "
            f"into a table (<mj-table>) — {TABLE_HINT}",
        ),
    ],
    ids=["raw-in-column", "raw-in-hero", "open-around-raw", "table"],
)
def test_block_tags_around_markup_a_table_would_lose_are_refused(source: str, message: str) -> None:
    with pytest.raises(RegistryError) as caught:
        check_tables(source, markers=M, tokens=TABLE_TOKENS)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "source",
    [
        # Rows and cells stay where they are.
        "<mj-column><mj-raw><!--zq6qz--><tr><td><p>zq1qz</p><table><tr><td>x</td></tr></table>"
        "</td></tr>&#10;<!--zq7qz--></mj-raw></mj-column>",
        "<mj-column><mj-table><!--zq6qz--><tr><td>zq1qz</td><td>y</tr><!--zq7qz--></mj-table>"
        "</mj-column>",
        # Directly in the body, or in a section's cell, mj-raw is no table content.
        "<mj-body><mj-raw><!--zq2qz--><p>VIP</p><!--zq3qz--></mj-raw></mj-body>",
        "<mj-section><mj-raw><!--zq2qz--><p>VIP</p><!--zq3qz--></mj-raw></mj-section>",
        # No block tag is crossed: a pair closed before the raw, or none at all.
        "<mj-column><!--zq2qz--><mj-text>a</mj-text><!--zq3qz--><mj-raw><p>b</p></mj-raw>"
        "</mj-column>",
        "<mj-column><mj-raw><p>zq1qz</p></mj-raw><!--zq2qz--><mj-text>a</mj-text><!--zq3qz-->"
        "</mj-column>",
        # Styles, comments and whitespace are no content.
        "<mj-column><mj-raw><!--zq2qz--><style>p{}</style><!-- x -->\n<!--zq3qz--></mj-raw>"
        "</mj-column>",
    ],
    ids=["rows", "table-rows", "body", "section", "closed-before", "no-blocks", "style"],
)
def test_markup_a_table_keeps_in_place_may_sit_in_block_tags(source: str) -> None:
    check_tables(source, markers=M, tokens=TABLE_TOKENS)


PAIRS_HINT = (
    "open and close a condition or loop inside the same element (around whole sections or "
    "columns' children, or inside one mj-text): MJML lays out the elements in between once for "
    "every recipient"
)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "<mj-section><mj-column><mj-text><!--zq2qz-->x</mj-text></mj-column><mj-column>"
            "<mj-text>y<!--zq3qz--></mj-text></mj-column></mj-section>",
            "modules/hero/a.mjml line 5: {% if tier %} and its {% endif %} sit in different "
            f"elements — {PAIRS_HINT}",
        ),
        (
            "<mj-column><mj-text><!--zq2qz-->x</mj-text><mj-text>y<!--zq8qz-->z</mj-text>"
            "<!--zq3qz--></mj-column>",
            "modules/hero/a.mjml line 5: {% if tier %} and its {% else %} sit in different "
            f"elements — {PAIRS_HINT}",
        ),
    ],
    ids=["columns", "else"],
)
def test_a_block_tag_closing_in_another_element_is_refused(source: str, message: str) -> None:
    with pytest.raises(RegistryError) as caught:
        check_pairs(source, markers=M, tokens=TABLE_TOKENS)
    assert str(caught.value) == message


def test_block_tags_closing_where_they_opened_pass() -> None:
    check_pairs(
        "<mj-body><!--zq6qz--><mj-section><mj-column><mj-social><mj-social-element>"
        "<!--zq2qz-->x<!--zq8qz-->y<!--zq3qz--></mj-social-element></mj-social><mj-text>"
        "</mj-text></mj-column></mj-section><!--zq7qz--></mj-body>",
        markers=M,
        tokens=TABLE_TOKENS,
    )
    # A module checked alone may close elements its layout opened.
    check_pairs(
        "<!--zq2qz--><mj-text>x</mj-text><!--zq3qz--></mj-column>", markers=M, tokens=TABLE_TOKENS
    )


def test_block_tags_inside_html_comments_count_for_the_table_rule() -> None:
    tokens = {
        5: Token(5, "{% if vip %}", True, FILE, 8, True, in_comment=True),
        6: Token(6, "{% endif %}", True, FILE, 8, True, in_comment=True),
    }
    with pytest.raises(RegistryError) as caught:
        check_tables(
            "<mj-column><mj-raw><!-- zq5qz --><p>VIP</p><!-- zq6qz --></mj-raw></mj-column>",
            markers=M,
            tokens=tokens,
        )
    assert str(caught.value) == (
        "modules/hero/a.mjml line 8: {% if vip %} wraps markup that MJML writes straight into a "
        f"table (<mj-raw> in <mj-column>) — {RAW_HINT}"
    )


def _no_rule(html: str) -> str:
    return html  # an inliner run that keeps every declaration


def _important(html: str) -> str:
    return html.replace("color: inherit", "color: red !important")


STYLED = f'<style>.x {{ color: red !important }}</style><p class="x" style="color: {M.expr(1)}">'


def test_a_value_an_important_rule_replaces_may_leave_its_style() -> None:
    after = '<style>.x { color: red !important }</style><p class="x" style="color: red !important">'
    check_inlined(STYLED, after, {1: VALUE}, M, inliner="css-inline", inline=_important)


@pytest.mark.parametrize(
    ("before", "after", "tokens", "inline", "message"),
    [
        (
            STYLED,
            '<p class="x" style="">',
            {1: VALUE},
            _no_rule,
            "modules/hero/a.mjml line 4: the CSS inliner (premailer) dropped {{ tier }} from "
            "style= of <p> — it rewrites style attributes and leaves out declarations it reads "
            "as invalid or repeated; let one token hold the whole value ({{ c }}, not #{{ c }}), "
            "and set each property once",
        ),
        (
            STYLED.replace(M.expr(1), M.expr(4)),
            _important(STYLED.replace(f"color: {M.expr(1)}", "color: inherit")),
            {4: IN_TAG},
            _important,
            "modules/hero/a.mjml line 9: the CSS inliner (premailer) dropped {% if x %} from "
            "style= of <p>: the rule '.x' overrides that declaration with !important — the "
            "rule's value wins for every recipient, and the tag goes with the declaration; "
            "choose the value in one expression instead ({{ a if tier else b }}), or take "
            "!important out of the rule",
        ),
        (
            # The rule is not in a <style> block of the output (it cannot be named).
            STYLED.replace(M.expr(1), M.expr(4)),
            '<p class="x" style="color: red !important">',
            {4: IN_TAG},
            _important,
            "modules/hero/a.mjml line 9: the CSS inliner (premailer) dropped {% if x %} from "
            "style= of <p>: a rule overrides that declaration with !important — the rule's "
            "value wins for every recipient, and the tag goes with the declaration; choose the "
            "value in one expression instead ({{ a if tier else b }}), or take !important out "
            "of the rule",
        ),
        (
            f'<a href="{M.expr(1)}">x</a>',
            "<a>x</a>",
            {1: VALUE},
            _important,
            "modules/hero/a.mjml line 4: the CSS inliner (premailer) dropped {{ tier }} from "
            "href= of <a> — it parses the HTML again and moves or drops what it cannot place; "
            "check the markup",
        ),
        (
            f"<td>{M.comment(2)}</td>",
            f"<td>{M.comment(2)}{M.comment(2)}</td>",
            {2: IF},
            _important,
            "modules/hero/a.mjml line 5: the CSS inliner (premailer) copied {% if tier %} 2 "
            "times — it parses the HTML again and moves or drops what it cannot place; check the "
            "markup",
        ),
    ],
    ids=["invalid", "block-overridden", "rule-unknown", "outside-style", "block-copied"],
)
def test_a_token_the_inliner_drops_names_the_inliner(
    before: str,
    after: str,
    tokens: dict[int, Token],
    inline: Callable[[str], str],
    message: str,
) -> None:
    with pytest.raises(RenderError) as caught:
        check_inlined(before, after, tokens, M, inliner="premailer", inline=inline)
    assert str(caught.value) == message
