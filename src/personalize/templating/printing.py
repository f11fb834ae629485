"""How compiled templates print each value: escaped in HTML, cleaned in the text part."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from markupsafe import Markup, escape

from personalize.text import html_to_text

__all__ = [
    "NoValueError",
    "TextBlock",
    "escape_output",
    "finalize_html",
    "finalize_text",
    "join_text",
    "keeping_blocks",
    "print_html",
    "print_text",
]

# ASCII whitespace only: U+00A0 (as in Babel's "1.234,56\xa0€") stays.
_WS = re.compile(r"[ \t\n\r\f\v]+")
# The text converter marks line breaks and links with these noncharacters; data may not.
_NONCHARACTERS = re.compile("[\ufdd0-\ufdef]")
_TEXT_CLEANUP = re.compile("[\t\n\r\f\v\ufdd0-\ufdef]|  ")


class NoValueError(Exception):
    """A ``{{ expression }}`` evaluated to None: never print 'Hi None'."""


def finalize_html(value: Any) -> Any:
    if value is None:
        raise NoValueError
    return value


def _escape_via_markup(text: str, /) -> str:
    return str(escape(text))


try:  # MarkupSafe 3: escape() is a Python function around this C one
    from markupsafe._speedups import _escape_inner as _escape_str
except ImportError:  # MarkupSafe 2 (whose escape() is C) or no C speedups
    _escape_str = _escape_via_markup


def escape_output(value: Any, /) -> str:
    """``markupsafe.escape(value)`` as a plain ``str``: the same text without a ``Markup``.

    Compiled HTML templates print every ``{{ … }}`` through this (see
    ``CompiledTemplate.build``); their output is joined into one ``str``, so the ``Markup``
    that ``escape`` builds around each value (in Python, ~0.4 µs) is never needed.
    """
    if type(value) is str:
        return _escape_str(value)
    if hasattr(value, "__html__"):
        return value.__html__()  # type: ignore[no-any-return]
    return _escape_str(str(value))


class TextBlock(str):
    """A text template's macro, ``{% call %}`` or ``{% set %}…{% endset %}`` output: its own
    text (with the converter's marks) and values ``print_text`` cleaned, so it prints as it is,
    as ``Markup`` does in HTML. Only ``join_text`` builds one: ``TextBlock(x)`` (so
    ``type(s)(…)``, as the sandbox's ``str.format`` does) is a plain ``str``, printed as data."""

    __slots__ = ()

    def __new__(cls, text: object = "") -> Any:  # a str, not a TextBlock: see above
        return str(text)


def join_text(pieces: Iterable[str]) -> TextBlock:
    """The text environment's ``concat``: how its blocks join their output."""
    return str.__new__(TextBlock, "".join(pieces))


def keeping_blocks(markup: Callable[[Any], Markup]) -> Callable[[Any], Any]:
    """``|safe`` or ``|e`` for the text part: a block passes, as a macro's Markup in HTML."""
    return lambda value: value if type(value) is TextBlock else markup(value)


# Not a mark: pads markup for the converter, which drops spaces at either end of a document.
_PAD = "\ufdef"


def _markup_text(value: Markup) -> str:
    """A ``Markup`` value (``|e``, ``|safe``) as the text part shows it: the text of its HTML."""
    if "<" not in value:  # |e's output, or entities: the text of the value, as data
        return _clean_text(value.unescape() if "&" in value else str(value))
    # Mark characters in its data go first, so that only the value's real tags make marks,
    # as they make elements in the HTML. (The converter, like unescape(), drops character
    # references to noncharacters.)
    return html_to_text(_PAD + _NONCHARACTERS.sub("", value) + _PAD).replace(_PAD, "")


def _clean_text(value: str) -> str:
    """Recipient data as the text part prints it: whitespace collapses as HTML would show it,
    so the text part matches the HTML; the converter's mark characters go."""
    # Fast paths: printable text with single spaces, or text (e.g. "1.234,56\xa0€") that
    # only fails isprintable() on characters we keep.
    if ("  " not in value and value.isprintable()) or not _TEXT_CLEANUP.search(value):
        return value
    return _WS.sub(" ", _NONCHARACTERS.sub("", value))


def finalize_text(value: Any) -> Any:
    if value is None:
        raise NoValueError
    if type(value) is TextBlock:  # the template's own text: its marks are the converter's
        return value
    if isinstance(value, Markup):
        return _markup_text(value)
    if isinstance(value, str):
        return _clean_text(value)
    return value


def print_html(value: Any, /) -> str:
    """``escape_output(finalize_html(value))`` in one call: how compiled HTML templates print
    each ``{{ … }}`` (see ``_Printer``)."""
    if type(value) is str:
        return _escape_str(value)
    if value is None:
        raise NoValueError
    if hasattr(value, "__html__"):
        return value.__html__()  # type: ignore[no-any-return]
    return _escape_str(str(value))


def print_text(value: Any, /) -> str:
    """``str(finalize_text(value))`` in one call: how compiled text templates print each
    ``{{ … }}`` (see ``_Printer``)."""
    if type(value) is str:
        if ("  " not in value and value.isprintable()) or not _TEXT_CLEANUP.search(value):
            return value
        return _WS.sub(" ", _NONCHARACTERS.sub("", value))
    return str(finalize_text(value))
