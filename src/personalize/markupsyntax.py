"""Markup the MJML compiler cannot read: attribute syntax, stray "<", comments, open elements."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from .errors import RegistryError, short_repr
from .protect import TOKEN

__all__ = [
    "MRML_VOID",
    "check_attributes",
    "check_comment",
    "check_text",
    "escape_attribute_values",
]

# The MJML compiler (MRML) stops at each of these with "unable to parse next template" or
# "unexpected end of stream" and no position, so load finds them first, at their line.
# Offsets are into the scanned text, whose Jinja tokens are blanked (same offsets).
Raise = Callable[[int, str, str], RegistryError]

# Attributes as MRML reads them, in mj- tags and the HTML inside them alike: a name as in XML
# (a letter or "_", then letters, digits, "-", "_" and "."; one ":" may join a prefix, which
# may be empty), then optionally = and a quoted value; whitespace between attributes.
_NCNAME = r"[^\W\d][\w.-]*+"
_ATTR_NAME = re.compile(rf"(?:(?:{_NCNAME})?+:)?{_NCNAME}")
_QUOTED = r"""(?:"[^"]*+"|'[^']*+')"""
_READABLE_ATTRS = re.compile(rf"(?:\s++{_ATTR_NAME.pattern}(?:\s*+=\s*+{_QUOTED})?+)*+\s*+/?")
_VALUE = re.compile(rf"\s*+=\s*+({_QUOTED})?")
_SPACE = re.compile(r"\s*+")
_UNQUOTED = re.compile(r"[^\s>]*+")
_NAME_HINT = (
    "attribute names start with a letter or _ and hold letters, digits, -, _ and ., with at "
    "most one : (as in xlink:href); rename or remove the attribute"
)
# Elements MRML closes by themselves: HTML's void elements, written in lower case (<BR> and
# <keygen> wait for an end tag).
MRML_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param"}
    | {"source", "track", "wbr"}
)
# A "<" that the tag scanner left in text: it starts no tag, comment or CDATA section. One
# before a name (a letter) is a tag that never ends; MRML also takes names that start with
# "_", ":" or a non-ASCII letter, which the scanner does not see as tags.
_STRAY = re.compile(r"(?P<open><(?=/?[A-Za-z]))|<(?!/?(?:[^\W\d]|[_:]))")
# A comment MRML refuses, as XML does: "--" inside, or "-" just before its end.
_BAD_COMMENT = re.compile(r"<!--(?:.*?--(?!>)|.*?-(?=-->))", re.DOTALL)


def check_attributes(
    name: str, attrs: str, *, start: int, original: str, end: int, raise_at: Raise
) -> None:
    """Refuse the attributes of tag ``name`` that MRML cannot read.

    ``attrs`` (scanned, starting at ``start``) has its Jinja tokens blanked, so a token
    standing for a value (``href={{ url }}``) reads as a missing value, which it is to MRML as
    well; ``original`` holds the tokens, for messages; ``end`` is where the tag ends.
    """
    if _READABLE_ATTRS.fullmatch(attrs):
        return
    position, previous, quoted = 0, 0, False
    while True:
        at = _after_space(attrs, position)
        if _READABLE_ATTRS.fullmatch(attrs, at):  # only the end is left
            return
        glued = at == position > 0
        first = previous if glued else at
        shown = short_repr(original[start + first : end - 1].strip().split("\n")[0])
        if glued and quoted:
            raise raise_at(
                start + first,
                f"attribute {attrs[previous:at].split('=')[0].strip()!r} of <{name}> runs into "
                f"the next one: {shown}",
                "the MJML compiler needs a space between attributes; add one after the "
                "closing quote",
            )
        if attrs[at] == "<":  # the scanner ran on to the next tag's ">"
            begin = start - len(name) - 1
            raise raise_at(
                begin,
                f"a tag that never ends: {short_repr(original[begin : start + at])}",
                "end the tag with >, or write &lt; for a less-than sign in text",
            )
        found = None if glued else _ATTR_NAME.match(attrs, at)
        if found is None:
            raise raise_at(
                start + first,
                f"<{name}> has an attribute the MJML compiler cannot read: {shown}",
                _NAME_HINT,
            )
        value = _VALUE.match(attrs, found.end())
        if value is not None and value.group(1) is None:
            word = _unquoted(original, start + attrs.index("=", found.end()) + 1)
            raise raise_at(
                start + first,
                f"attribute {found.group()!r} of <{name}> has a value without quotes: {shown}",
                "the MJML compiler needs quotes around every value; write "
                f'{found.group()}="{word or "…"}"',
            )
        position = found.end() if value is None else value.end()
        previous, quoted = at, value is not None


def check_text(scanned: str, start: int, end: int, raise_at: Raise) -> None:
    """Refuse a ``<`` in the text between two tags (``scanned[start:end]``)."""
    if (stray := _STRAY.search(scanned, start, end)) is None:
        return
    at = stray.start()
    shown = short_repr(scanned[at : at + 30].split("\n")[0])
    if stray.group("open") is not None:
        raise raise_at(
            at,
            f"a tag that never ends: {shown}",
            "end the tag with >, check its quotes, or write &lt; for a less-than sign in text",
        )
    raise raise_at(
        at,
        f"a '<' that starts no tag: {shown}",
        "the MJML compiler reads every < as the start of a tag; write &lt; for a less-than "
        "sign in text",
    )


def check_comment(scanned: str, start: int, end: int, raise_at: Raise) -> None:
    """Refuse a comment (``scanned[start:end]``) that MRML cannot read."""
    if _BAD_COMMENT.match(scanned, start, end) is None:
        return
    raise raise_at(
        start,
        f"a comment the MJML compiler cannot read: {short_repr(scanned[start:end][:60])}",
        'it reads comments as XML does: no "--" inside and no "-" just before "-->"; change '
        "the hyphens (e.g. <!-- == header == -->)",
    )


def _after_space(text: str, at: int) -> int:
    found = _SPACE.match(text, at)
    return found.end() if found else at


def _unquoted(original: str, at: int) -> str:
    """The value written without quotes after the ``=`` that ends at ``at``: a Jinja token
    whole (it may hold spaces), or the text up to a space or the tag's end."""
    at = _after_space(original, at)
    found = TOKEN.match(original, at) or _UNQUOTED.match(original, at)
    return found.group() if found else ""


# MRML writes attribute values back with Rust's debug escapes: a backslash, tab or CR, and
# every character Rust does not print as is (U+00A0, U+202F, U+200D, soft hyphens…) come out
# as the text "\\", "\t", "\u{a0}". Written as character references, they reach the HTML as
# they were. Python's isprintable refuses the same classes (spaces other than " ", format and
# control characters, separators, unassigned and private-use code points), and a reference to
# a printable one is harmless; a combining mark opening a value is escaped by Rust too.
_TAG_ATTRS = re.compile(r"""<[A-Za-z][^\s>/"']*+(?:[^>"']++|"[^"]*+"|'[^']*+')*+>""")
_IN_QUOTES = re.compile(r""""[^"]*+"|'[^']*+'""")


def escape_attribute_values(source: str) -> str:
    """``source`` with the characters MRML would escape in attribute values written as
    character references (``&#160;``); text content, which MRML keeps, is left alone."""
    if not _escapes(source):
        return source
    return _TAG_ATTRS.sub(lambda tag: _IN_QUOTES.sub(_escape_value, tag.group()), source)


def _escapes(text: str) -> bool:
    """Whether ``text`` may hold a character MRML escapes (ASCII ones: backslash, tab, CR)."""
    return not text.isascii() or "\\" in text or "\t" in text or "\r" in text


def _escape_value(value: re.Match[str]) -> str:
    text = value.group()
    if not _escapes(text):
        return text
    inner = text[1:-1]
    out = [ch if (ch.isprintable() and ch != "\\") else f"&#{ord(ch)};" for ch in inner]
    if inner and unicodedata.combining(inner[0]):
        out[0] = f"&#{ord(inner[0])};"
    return f"{text[0]}{''.join(out)}{text[-1]}"
