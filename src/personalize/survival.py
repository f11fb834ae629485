"""Compiled output against its tokens: each survived MJML and the text converter as it must."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping

from .errors import RenderError
from .protect import Markers, Token

__all__ = ["check_blocks", "check_survival", "drop_empty_conditions"]


def check_survival(html: str, expected: Mapping[int, Token], markers: Markers, source: str) -> None:
    """Every token of ``source`` (the protected MJML) is in the compiled ``html``, block tags
    exactly once: MJML drops values it reads as numbers and copies some content.

    Raises:
        RenderError: naming the token's file and line.
    """
    seen: dict[int, int] = {}
    for match in markers.pattern.finditer(html):
        number = int(match.group(1) or match.group(2))
        seen[number] = seen.get(number, 0) + 1
    for number, token in expected.items():
        if markers.expr(number) not in source and markers.comment(number) not in source:
            continue  # a hole of an empty slot, or a title the layout writes itself
        count = seen.get(number, 0)
        if count == 0:
            raise RenderError(
                f"MJML dropped {token.text}",
                file=token.file,
                line=token.line,
                hint="MJML reads some attributes as numbers (width on mj-column/mj-image, "
                "title on mj-button…); use a literal value there",
            )
        if token.block and count != 1:
            raise RenderError(
                f"MJML copied {token.text} {count} times",
                file=token.file,
                line=token.line,
                hint="move the tag into the content of a column (mj-text, mj-raw)",
            )


_IF = re.compile(r"\{%(?!-)\s*if\s.*(?<!-)%\}", re.DOTALL)
_ENDIF = re.compile(r"\{%(?!-)\s*endif\s*(?<!-)%\}")


def drop_empty_conditions(text: str, tokens: Mapping[int, Token], markers: Markers) -> str:
    """The text without ``{% if … %}{% endif %}`` pairs that hold nothing (and print nothing).

    Content the text part leaves out (an image, a spacer) often sits alone in a condition; the
    HTML still evaluates it, first, so the text part need not. Whitespace controls keep theirs.
    """

    p, s = re.escape(markers.prefix), re.escape(markers.suffix)
    comment = re.compile(rf"<!--{p}(\d+){s}-->")

    def text_of(match: re.Match[str]) -> str:
        token = tokens.get(int(match[1]))
        return token.text if token is not None else ""

    while True:  # one pair at a time: an outer condition may hold nothing but an inner one
        for first, second in itertools.pairwise(comment.finditer(text)):
            if (
                first.end() == second.start()
                and _IF.fullmatch(text_of(first))
                and _ENDIF.fullmatch(text_of(second))
            ):
                text = text[: first.start()] + text[second.end() :]
                break
        else:
            return text


def check_blocks(text: str, expected: Mapping[int, Token], markers: Markers) -> None:
    """Every block tag between elements is in the text part too: its ``{% if %}`` or
    ``{% for %}`` must open and close there as in the HTML.

    Raises:
        RenderError: naming the token's file and line.
    """
    for number, token in expected.items():
        if token.block and not token.in_tag and markers.comment(number) not in text:
            raise RenderError(
                f"{token.text} sits in a part of the email the text version leaves out",
                file=token.file,
                line=token.line,
                hint="keep block tags out of hidden elements and the head",
            )
