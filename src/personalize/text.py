"""Derive an email's plain-text part from its HTML, as text holding break and link marks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from html.parser import HTMLParser
from typing import Protocol

from .textnorm import ALT, END, HREF, LINE, LINK, PARA, normalize_text, settle_static_breaks

__all__ = ["Event", "ParseCache", "html_to_text", "normalize_text", "settle_static_breaks"]

# The marks (see textnorm.py) let every choice that depends on text content wait until data is
# filled in: `html_to_text` leaves them, `normalize_text` resolves them after each render.

_PARA_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table"})
_LINE_TAGS = frozenset({
    "div", "tr", "td", "th", "ul", "ol", "li", "blockquote", "section", "article", "header",
    "footer", "pre", "main", "nav", "aside", "address", "figure", "figcaption", "dl", "dt", "dd",
    "caption", "center",
})  # fmt: skip
_SKIP_TAGS = frozenset({"head", "style", "script", "title"})
_HEAD_CONTENT = frozenset({"title", "style", "script", "meta", "link", "base", "noscript"})
_VOID_TAGS = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
})  # fmt: skip
_CLOSES_P = _PARA_TAGS | _LINE_TAGS  # start tags that end an open <p>, as in HTML
_P_SCOPE = frozenset({"table", "td", "th", "caption", "button", "html"})
_ROW_SCOPE = frozenset({"tr", "table"})
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
_HIDDEN_STYLE = re.compile(r"(?:^|[;\s])display\s*:\s*none\b", re.IGNORECASE)
_INLINE_BLOCK = re.compile(r"(?:^|[;\s])display\s*:\s*inline-block\b", re.IGNORECASE)
_RULE = "-" * 20


@dataclass(frozen=True, slots=True)
class _Open:
    """An element on the open-element stack."""

    tag: str
    hides: bool = False
    link: bool = False


_Attrs = Sequence[tuple[str, str | None]]
# One parser event: ("start", tag, attrs), ("end", tag, ()), ("data" or "comment", text, ()).
Event = tuple[str, str, _Attrs]


class ParseCache(Protocol):
    """Parsed pieces of HTML by their text (e.g. an ``LRUCache``): pieces that recur across
    variants are parsed once."""

    def get(self, key: str, build: Callable[[], tuple[Event, ...]]) -> tuple[Event, ...]: ...


class _UnsettledError(Exception):
    """A piece ended inside a construct: the HTML must be parsed whole."""


class _Tokenizer(HTMLParser):
    """html.parser's events for a piece of HTML, recorded for the converter to replay."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[Event] = []

    def handle_starttag(self, tag: str, attrs: _Attrs) -> None:
        self.events.append(("start", tag, attrs))

    def handle_startendtag(self, tag: str, attrs: _Attrs) -> None:
        # As in HTML, a self-closing slash on a non-void element is ignored.
        self.events.append(("start", tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        self.events.append(("end", tag, ()))

    def handle_data(self, data: str) -> None:
        self.events.append(("data", data, ()))

    def handle_comment(self, data: str) -> None:
        self.events.append(("comment", data, ()))

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:  # html.parser gives up on "<![" without a name; browsers skip it
            end = self.rawdata.find(">", i + 3)
            return -1 if end < 0 else end + 1

    def settled(self) -> bool:
        """Whether what was fed ends between constructs, in plain content (not, say, inside a
        tag or a <style>): then the next piece parses alone as it would after this one."""
        return self.cdata_elem is None and "<" not in self.rawdata


def _parse(html: str, *, last: bool = True) -> tuple[Event, ...]:
    """The parser events of ``html``; raises ``_UnsettledError`` if more HTML is to follow
    (``last=False``) and this piece does not end in plain content."""
    tokenizer = _Tokenizer()
    tokenizer.feed(html)
    if not (last or tokenizer.settled()):
        raise _UnsettledError
    tokenizer.close()
    return tuple(tokenizer.events)


def _parse_pieces(html: str, cut: re.Pattern[str], cache: ParseCache) -> tuple[Event, ...]:
    """The events of ``html``, parsed piece by piece (cut before each match of ``cut``), each
    piece once per ``cache``; the whole at once if a cut falls inside a construct."""
    starts = [0, *(m.start() for m in cut.finditer(html) if m.start())]
    events: list[Event] = []
    for start, end in zip(starts, [*starts[1:], len(html)], strict=True):
        piece = html[start:end]
        try:
            events.extend(cache.get(piece, partial(_parse, piece, last=end == len(html))))
        except _UnsettledError:
            return _parse(html)
    return tuple(events)


class _Converter:
    """Turns HTML parser events into text holding soft-break and link marks."""

    def __init__(
        self, keep_comment: re.Pattern[str] | None, comment_blocks: re.Pattern[str] | None = None
    ) -> None:
        self._keep = keep_comment
        self._blocks = comment_blocks
        self._out: list[str] = []
        self._stack: list[_Open] = []
        self._open: dict[str, int] = {}  # how many elements of each tag are open
        self._hidden = 0  # open elements that hide their content
        self._pre = 0  # open visible <pre> elements
        self._soft = ""  # the strongest soft break requested since the last content
        self._link_at = -1  # index in _out of the open link's first mark
        self._link_text = False  # whether the open link has text of its own
        self._href = ""
        self._alt: str | None = None

    def convert(self, events: Iterable[Event]) -> str:
        """The text of the HTML these events come from."""
        for kind, text, attrs in events:
            if kind == "data":
                self.handle_data(text)
            elif kind == "start":
                self.handle_starttag(text, attrs)
            elif kind == "end":
                self.handle_endtag(text)
            else:
                self.handle_comment(text)
        while self._stack:  # close whatever is still open
            self._pop()
        return "".join(self._out)

    # -- emitting ---------------------------------------------------------------------------

    def _break(self, mark: str) -> None:
        if not self._hidden and self._soft != PARA:
            self._soft = mark

    def _place_break(self) -> None:
        if self._soft:
            if self._out:
                self._trim()
                self._out.append(self._soft)
            self._soft = ""

    def _emit(self, text: str) -> None:
        # Spaces next to a break or another space mean nothing to normalize_text; leaving them
        # out here spares it work for every recipient. Whitespace alone does not place a pending
        # break, so that breaks merge across it.
        if text.strip(" \n"):
            self._place_break()
            self._link_text = self._link_at >= 0
        elif self._soft and not text.strip(" "):
            return
        if text[:1] == " " and self._last() in ("", " ", "\n", LINE, PARA):
            text = text.lstrip(" ")
        if text:
            self._out.append(text)

    def _last(self) -> str:
        """The last character emitted so far ("" at the start)."""
        for piece in reversed(self._out):
            if piece:
                return piece[-1]
        return ""

    def _trim(self) -> None:
        """Drop trailing spaces before a break."""
        while self._out and self._out[-1].endswith(" "):
            piece = self._out[-1].rstrip(" ")
            if piece:
                self._out[-1] = piece
                return
            self._out.pop()

    # -- the element stack ------------------------------------------------------------------

    def _find(self, tag: str, *, scope: frozenset[str] = frozenset()) -> int:
        if not self._open.get(tag):  # spares a walk down the stack: deep HTML stays linear
            return -1
        for index in range(len(self._stack) - 1, -1, -1):
            open_tag = self._stack[index].tag
            if open_tag == tag:
                return index
            if open_tag in scope:
                return -1
        return -1

    def _close_to(self, index: int) -> None:
        while len(self._stack) > index:
            self._pop()

    def _pop(self) -> None:
        element = self._stack.pop()
        self._open[element.tag] -= 1
        if element.hides:
            self._hidden -= 1
            return
        if self._hidden:
            return
        if element.link:
            self._close_link()
        elif element.tag == "pre":
            self._pre -= 1
        if element.tag in _PARA_TAGS:
            self._break(PARA)
        elif element.tag in _LINE_TAGS:
            self._break(LINE)

    def _open_link(self, href: str) -> None:
        self._place_break()
        self._link_at, self._link_text = len(self._out), False
        self._out.append(LINK)
        self._href, self._alt = _HTML_SPACE.sub(" ", href), None

    def _close_link(self) -> None:
        # Whatever the link holds stays in its text, breaks and spaces at the edges included:
        # only normalize_text knows, once data is in, whether the text is empty.
        self._place_break()
        if not self._link_text:
            # No text of its own (an image link): the alt text becomes the link's text. Data
            # can empty a link's text only where a marker stood, and normalize_text then falls
            # back to the alt text in the same way.
            self._out.append(self._alt or "")
        elif self._alt:
            self._out[self._link_at] = f"{LINK}{self._alt}{ALT}"
        self._out.append(f"{HREF}{self._href}{END}")
        self._link_at, self._link_text = -1, False

    def _close_implied(self, tag: str) -> None:
        """Close the elements that HTML ends implicitly when ``tag`` starts."""
        index = -1
        if tag == "a":
            index = self._find("a")
        elif tag in ("td", "th"):
            index = max(self._find("td", scope=_ROW_SCOPE), self._find("th", scope=_ROW_SCOPE))
        elif tag == "tr":
            index = self._find("tr", scope=frozenset({"table"}))
        elif tag == "li":
            index = self._find("li", scope=frozenset({"ul", "ol"}))
        if index < 0 and tag in _CLOSES_P:
            index = self._find("p", scope=_P_SCOPE)
        if index < 0 and tag not in _HEAD_CONTENT:
            index = self._find("head")
        if index >= 0:
            self._close_to(index)

    # -- parser events ----------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: _Attrs) -> None:
        if tag in _VOID_TAGS:
            self._void(tag, attrs)
            return
        self._close_implied(tag)
        style = _attr(attrs, "style")
        hides = tag in _SKIP_TAGS or bool(_HIDDEN_STYLE.search(style))
        link = tag == "a" and not (hides or self._hidden) and any(k == "href" for k, _ in attrs)
        if not (hides or self._hidden):
            if tag in _PARA_TAGS:
                self._break(PARA)
            elif tag in _LINE_TAGS:
                self._break(LINE)
            if tag == "li":
                self._emit("- ")
            elif tag == "pre":
                self._pre += 1
        if not (hides or self._hidden) and "inline-block" in style and _INLINE_BLOCK.search(style):
            self._emit(" ")  # inline blocks sit apart: MJML's navbar links touch in its HTML
        self._stack.append(_Open(tag, hides=hides, link=link))
        self._open[tag] = self._open.get(tag, 0) + 1
        self._hidden += hides
        if link:
            self._open_link(_attr(attrs, "href"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "br":  # HTML reads a stray </br> as <br>
            self._void(tag, [])
            return
        index = self._find(tag)
        if index >= 0:
            self._close_to(index)
        elif tag == "p" and not self._hidden:  # HTML reads a stray </p> as <p></p>
            self._break(PARA)

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self._emit(data if self._pre else _HTML_SPACE.sub(" ", data))

    def handle_comment(self, data: str) -> None:
        # Kept even inside hidden elements: they hold template block tags that must stay paired.
        if self._keep is not None and self._keep.fullmatch(data):
            found = [data]
        elif self._blocks is not None:
            # Block tags written inside another comment run in the HTML all the same.
            found = self._blocks.findall(data)
        else:
            return
        if found and not self._hidden:
            self._place_break()
        self._out.extend(f"<!--{sentinel}-->" for sentinel in found)

    def _void(self, tag: str, attrs: _Attrs) -> None:
        if self._hidden or _HIDDEN_STYLE.search(_attr(attrs, "style")):
            return
        if tag == "br":
            self._trim()
            self._out.append("\n")
        elif tag == "hr":
            self._break(LINE)
            self._emit(_RULE)
            self._break(LINE)
        elif tag == "img" and self._link_at >= 0 and self._alt is None:
            self._alt = _HTML_SPACE.sub(" ", _attr(attrs, "alt"))


def _attr(attrs: _Attrs, name: str) -> str:
    """The first value of attribute ``name`` ("" when absent or valueless), as HTML reads it."""
    for key, value in attrs:
        if key == name:
            return value or ""
    return ""


def html_to_text(
    html: str,
    *,
    keep_comment: re.Pattern[str] | None = None,
    comment_blocks: re.Pattern[str] | None = None,
    cut: re.Pattern[str] | None = None,
    cache: ParseCache | None = None,
) -> str:
    """Convert an email's HTML into the text of its plain-text part.

    The result holds internal marks for block breaks and links; pass it, or the text rendered
    from it, through `normalize_text`, which resolves them. Each piece of HTML converts on its
    own, so converting HTML that holds recipient markers and filling them in afterwards gives,
    after `normalize_text`, the same text as converting the filled-in HTML.

    Args:
        html: The HTML, possibly malformed.
        keep_comment: Comments whose whole text matches it are kept in place as ``<!--…-->``
            (template sentinels), even inside hidden elements; all other comments are dropped.
        comment_blocks: Inside the other comments, text that it matches (the markers of
            template block tags written in a comment) is kept as ``<!--…-->`` all the same.
        cut: Where the HTML may be parsed in pieces (before each match), e.g. the fences
            around a layout's slots; the result is the same.
        cache: Parsed pieces by their text, kept across calls (with ``cut``): a compiled
            variant parses only the pieces no earlier variant had.

    Returns:
        The text, with entities decoded and whitespace collapsed outside ``<pre>``.
    """
    events = _parse(html) if cut is None or cache is None else _parse_pieces(html, cut, cache)
    return _Converter(keep_comment, comment_blocks).convert(events)
