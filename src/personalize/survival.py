"""Tokens against MJML, the inliner and the text converter: each comes through as it must."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Mapping

from .errors import RegistryError, RenderError
from .protect import MJ_TAG, Markers, Token, check_structure, sentinels

__all__ = [
    "OPEN_ATTRIBUTE",
    "check_blocks",
    "check_pairs",
    "check_shape",
    "check_survival",
    "check_tables",
    "drop_empty_conditions",
    "marker_numbers",
]


def marker_numbers(html: str, markers: Markers) -> list[int]:
    """The token number of every marker in ``html``, in order (one per copy)."""
    return [int(m.group(1) or m.group(2)) for m in markers.pattern.finditer(html)]


def check_survival(html: str, expected: Mapping[int, Token], markers: Markers, source: str) -> None:
    """Every token of ``source`` (the protected MJML) is in the compiled ``html``, block tags
    exactly once: MJML drops values it reads as numbers and copies some content.

    Raises:
        RenderError: naming the token's file and line.
    """
    seen = Counter(marker_numbers(html, markers))
    for number, token in expected.items():
        if markers.expr(number) not in source and markers.comment(number) not in source:
            continue  # a hole of an empty slot, or a title the layout writes itself
        count = seen[number]
        if count == 0:
            attr = OPEN_ATTRIBUTE.search(source, 0, source.find(markers.expr(number)) + 1)
            raise RenderError(
                f"MJML dropped {token.text}"
                + (f" from {attr['attr']}= of <{attr['tag']}>" if attr else ""),
                file=token.file,
                line=token.line,
                hint=_dropped_hint(attr),
            )
        if token.block and count != 1:
            raise RenderError(
                f"MJML copied {token.text} {count} times",
                file=token.file,
                line=token.line,
                hint="choose the value in one expression instead "
                "({{ a if tier else b }}), or put the tag around the whole section",
            )


def _dropped_hint(attr: re.Match[str] | None) -> str:
    numbers = "MJML reads some attributes as numbers (width on mj-column/mj-image, title on "
    if attr is None:
        return numbers + "mj-button…); use a literal value there"
    if attr["attr"] == "mj-class":
        return (
            "MJML resolves mj-class once per variant, against the head's <mj-class> "
            "definitions; list the classes literally, or put the token in css-class"
        )
    return (
        numbers + "mj-button…) and leaves out those the element does not have; use a literal "
        f"value there, or an attribute <{attr['tag']}> has"
    )


OPEN_ATTRIBUTE = re.compile(
    r"<(?P<tag>[A-Za-z][\w:-]*)(?:[^<>\"']|\"[^\"]*\"|'[^']*')*?\s(?P<attr>[^\s=/<>\"']+)"
    r"\s*=\s*(?:\"[^\"<>]*|'[^'<>]*)\Z"
)
# Tokens hold no whitespace controls: protect applied them to the source.
_IF = re.compile(r"\{%\s*if\s.*%\}", re.DOTALL)
_ENDIF = re.compile(r"\{%\s*endif\s*%\}")


def drop_empty_conditions(text: str, tokens: Mapping[int, Token], markers: Markers) -> str:
    """The text without ``{% if … %}{% endif %}`` pairs that hold nothing (and print nothing).

    Content the text part leaves out (an image, a spacer) often sits alone in a condition; the
    HTML still evaluates it, first, so the text part need not.
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
        placed = not token.in_tag or token.in_comment  # html_to_text keeps comments' tags
        if token.block and placed and markers.comment(number) not in text:
            raise RenderError(
                f"{token.text} sits in a part of the email the text version leaves out",
                file=token.file,
                line=token.line,
                hint="keep block tags out of hidden elements and the head",
            )


# An mj-raw in these is written straight into the body of the table MJML lays them out with.
_TABLE_PARENTS = frozenset({"mj-column", "mj-hero"})
_HTML_PIECE = re.compile(
    r"<!--.*?-->|<(style|script)\b.*?</\1\s*>|<(/?)([A-Za-z][\w:-]*)(?:[^>\"']|\"[^\"]*\"|'[^']*')*>"
    r"|[^<]+|<",
    re.S | re.I,
)
_ROWS = frozenset({"tbody", "thead", "tfoot", "tr", "colgroup", "col"})
_CELLS = frozenset({"td", "th", "caption"})
_OPENS = re.compile(
    r"\{%[-+]?\s*(?:(?:if|for|macro|call|filter|with|autoescape|trans)\b|set\b[^=]*%\})"
)
_MIDDLE = re.compile(r"\{%[-+]?\s*(?:else|elif|pluralize)\b")
_ENDS = re.compile(r"\{%[-+]?\s*end")


def check_shape(
    text: str, *, markers: Markers, tokens: Mapping[int, Token], fragment: bool = False
) -> None:
    """Every structure rule over protected MJML: ``check_structure`` (``fragment`` for a
    module body alone), ``check_tables`` and ``check_pairs``.

    Raises:
        RegistryError: naming the offending block tag's file and line.
    """
    check_structure(text, markers=markers, tokens=tokens, fragment=fragment)
    check_tables(text, markers=markers, tokens=tokens)
    check_pairs(text, markers=markers, tokens=tokens)


def check_tables(text: str, *, markers: Markers, tokens: Mapping[int, Token]) -> None:
    """Refuse block tags around markup that an HTML parser moves out of a table.

    MJML writes the content of an ``mj-table``, and of an ``mj-raw`` inside ``mj-column`` or
    ``mj-hero``, straight into a table. An HTML5 parser (css-inline's, a browser's) moves text
    and most elements it finds there to just before the table, but leaves comments, our block
    sentinels, in place: the markup would leave its ``{% if %}`` and reach every recipient.

    Raises:
        RegistryError: naming the block tag's file and line.
    """
    stack: list[tuple[str, int]] = []  # open mj- elements and where their content starts
    for match in MJ_TAG.finditer(text):
        closing, name, _attrs, selfclose = match.groups()
        if not closing:
            if not selfclose:
                stack.append((name, match.end()))
            continue
        if all(open_name != name for open_name, _ in stack):
            continue
        while (popped := stack.pop())[0] != name:
            pass
        parent, parent_start = stack[-1] if stack else ("", 0)
        raw = name == "mj-raw" and parent in _TABLE_PARENTS
        if not (raw or name == "mj-table") or not _fostered(text[popped[1] : match.start()]):
            continue
        inside = _blocks(text[popped[1] : match.start()], markers, tokens)
        crossed = inside[0] if inside else None
        if crossed is None and raw:  # moved before the column's table, past its open tags
            crossed = _open_block(_blocks(text[parent_start : match.start()], markers, tokens))
        if crossed is not None:
            where = f"<mj-raw> in <{parent}>" if raw else "<mj-table>"
            raise RegistryError(
                f"{crossed.text} wraps markup that MJML writes straight into a table ({where})",
                file=crossed.file,
                line=crossed.line,
                hint="HTML parsers move text and elements out of a table, away from the tag, "
                "so every recipient would get them; "
                + (
                    "in a column or hero, give an mj-raw table rows only "
                    "(<tr><td>…</td></tr>), or put the content in an mj-text"
                    if raw
                    else "put them inside the table's cells (<tr><td>…</td></tr>)"
                ),
            )


def _fostered(content: str) -> bool:
    """Whether ``content``, written into a table body, holds text or elements outside its
    cells (HTML parsers "foster-parent" them out of the table)."""
    modes = ["table"]  # per open table: "table", or "cell" inside one of its cells
    for piece in _HTML_PIECE.finditer(content):
        whole, name = piece.group(), piece.group(3)
        if whole.startswith("<!--") or piece.group(1):
            continue
        if name is None:  # text; "&#10;" is a line break protect kept from MJML
            if modes[-1] == "table" and whole.replace("&#10;", "").strip(" \t\r\n\f"):
                return True
            continue
        name = name.lower()
        ends_cell = name in _CELLS or name in _ROWS or name == "table"
        if modes[-1] == "cell" and ends_cell and (piece.group(2) or name != "table"):
            modes.pop()  # an end tag of the row or table, or a new cell, ends the cell
        if piece.group(2):
            if name == "table" and len(modes) > 1:
                modes.pop()
        elif modes[-1] == "cell":
            if name == "table":
                modes.append("table")
        elif name in _CELLS:
            modes.append("cell")
        elif name not in _ROWS:
            return True
    return False


def _blocks(text: str, markers: Markers, tokens: Mapping[int, Token]) -> list[Token]:
    """The block tags that stand between elements in ``text``, in order."""
    return [token for _, token in sentinels(text, markers, tokens)]


def _open_block(blocks: list[Token]) -> Token | None:
    """The innermost block tag of ``blocks`` still open at their end (or one that closes or
    continues a block opened before them)."""
    open_tags: list[Token] = []
    for token in blocks:
        if _ENDS.match(token.text):
            if not open_tags:
                return token
            open_tags.pop()
        elif _OPENS.match(token.text):
            open_tags.append(token)
        elif _MIDDLE.match(token.text) and not open_tags:
            return token
    return open_tags[-1] if open_tags else None


def check_pairs(text: str, *, markers: Markers, tokens: Mapping[int, Token]) -> None:
    """Refuse a block tag that closes (or continues, ``{% else %}``) in another MJML element
    than the one it opened in, e.g. an ``{% if %}`` from one column to the next.

    MJML lays out the elements in between once for every recipient (two columns at 50 %),
    where rendering the source with Jinja first would merge them for some (one at 100 %).

    Raises:
        RegistryError: naming the opening tag's file and line.
    """
    stack: list[tuple[str, int]] = []  # open mj- elements, and where each starts
    opened: list[tuple[Token, tuple[int, ...]]] = []
    events: list[tuple[int, re.Match[str], Token | None]] = sorted(
        [(m.start(), m, None) for m in MJ_TAG.finditer(text)]
        + [(m.start(), m, token) for m, token in sentinels(text, markers, tokens)],
        key=lambda event: event[0],
    )
    for start, match, token in events:
        if token is None:
            closing, name, _attrs, selfclose = match.groups()
            if not (closing or selfclose):
                stack.append((name, start))
            elif closing and any(open_name == name for open_name, _ in stack):
                while stack.pop()[0] != name:
                    pass
            continue
        here = tuple(at for _, at in stack)
        if _OPENS.match(token.text):
            opened.append((token, here))
        elif (_ENDS.match(token.text) or _MIDDLE.match(token.text)) and opened:
            first, where = opened.pop() if _ENDS.match(token.text) else opened[-1]
            if where != here:
                raise RegistryError(
                    f"{first.text} and its {token.text} sit in different elements",
                    file=first.file,
                    line=first.line,
                    hint="open and close a condition or loop inside the same element (around "
                    "whole sections or columns' children, or inside one mj-text): MJML lays out "
                    "the elements in between once for every recipient",
                )
