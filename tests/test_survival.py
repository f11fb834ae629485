"""Compiled output against its tokens: dropped or copied by MJML, missing from the text part."""

from __future__ import annotations

import pytest

from personalize.errors import RenderError
from personalize.protect import Markers, Token
from personalize.survival import check_blocks, check_survival, drop_empty_conditions

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
            "modules/hero/a.mjml line 5: MJML copied {% if tier %} 2 times — move the tag into "
            "the content of a column (mj-text, mj-raw)",
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
        ({2: "{%- if a %}", 3: "{% endif %}"}, "<2><3>", "<2><3>"),  # whitespace control: kept
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
