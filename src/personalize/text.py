"""Derive an email's plain-text part from its HTML, and normalize the rendered text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

__all__ = ["html_to_text", "normalize_text", "settle_static_breaks"]

# The compiler converts HTML that still holds recipient markers, renders the result per recipient,
# and must get what converting the fully rendered HTML gives. Every choice that depends on text
# content (is this link text empty? is there anything between these two blocks?) can change once
# data is filled in, so `html_to_text` never makes one: it leaves marks that `normalize_text`
# resolves after rendering. The marks are Unicode noncharacters, reserved for internal use.
_LINE = "\ufdd0"  # a soft line break at a block boundary; merges with adjacent breaks
_PARA = "\ufdd1"  # a soft paragraph break
_LINK = "\ufdd2"  # a link: _LINK alt _ALT text _HREF url _END
_ALT = "\ufdd3"
_HREF = "\ufdd4"
_END = "\ufdd5"

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
_RULE = "-" * 20


@dataclass(frozen=True, slots=True)
class _Open:
    """An element on the open-element stack."""

    tag: str
    hides: bool = False
    link: bool = False


class _Converter(HTMLParser):
    """Streams HTML events into text holding soft-break and link marks."""

    def __init__(self, keep_comment: re.Pattern[str] | None) -> None:
        super().__init__(convert_charrefs=True)
        self._keep = keep_comment
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

    def text(self) -> str:
        """Close whatever is still open and return the converted text."""
        self.close()
        while self._stack:
            self._pop()
        return "".join(self._out)

    # -- emitting ---------------------------------------------------------------------------

    def _break(self, mark: str) -> None:
        if not self._hidden and self._soft != _PARA:
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
        if text[:1] == " " and self._last() in ("", " ", "\n", _LINE, _PARA):
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
            self._break(_PARA)
        elif element.tag in _LINE_TAGS:
            self._break(_LINE)

    def _open_link(self, href: str) -> None:
        self._place_break()
        self._link_at, self._link_text = len(self._out), False
        self._out.append(_LINK)
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
            self._out[self._link_at] = f"{_LINK}{self._alt}{_ALT}"
        self._out.append(f"{_HREF}{self._href}{_END}")
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

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID_TAGS:
            self._void(tag, attrs)
            return
        self._close_implied(tag)
        hides = tag in _SKIP_TAGS or bool(_HIDDEN_STYLE.search(_attr(attrs, "style")))
        link = tag == "a" and not (hides or self._hidden) and any(k == "href" for k, _ in attrs)
        if not (hides or self._hidden):
            if tag in _PARA_TAGS:
                self._break(_PARA)
            elif tag in _LINE_TAGS:
                self._break(_LINE)
            if tag == "li":
                self._emit("- ")
            elif tag == "pre":
                self._pre += 1
        self._stack.append(_Open(tag, hides=hides, link=link))
        self._open[tag] = self._open.get(tag, 0) + 1
        self._hidden += hides
        if link:
            self._open_link(_attr(attrs, "href"))

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:  # html.parser gives up on "<![" without a name; browsers skip it
            end = self.rawdata.find(">", i + 3)
            return -1 if end < 0 else end + 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # As in HTML, a self-closing slash on a non-void element is ignored.
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "br":  # HTML reads a stray </br> as <br>
            self._void(tag, [])
            return
        index = self._find(tag)
        if index >= 0:
            self._close_to(index)
        elif tag == "p" and not self._hidden:  # HTML reads a stray </p> as <p></p>
            self._break(_PARA)

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self._emit(data if self._pre else _HTML_SPACE.sub(" ", data))

    def handle_comment(self, data: str) -> None:
        # Kept even inside hidden elements: they hold template block tags that must stay paired.
        if self._keep is not None and self._keep.fullmatch(data):
            if not self._hidden:
                self._place_break()
            self._out.append(f"<!--{data}-->")

    def _void(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._hidden or _HIDDEN_STYLE.search(_attr(attrs, "style")):
            return
        if tag == "br":
            self._trim()
            self._out.append("\n")
        elif tag == "hr":
            self._break(_LINE)
            self._emit(_RULE)
            self._break(_LINE)
        elif tag == "img" and self._link_at >= 0 and self._alt is None:
            self._alt = _HTML_SPACE.sub(" ", _attr(attrs, "alt"))


def _attr(attrs: list[tuple[str, str | None]], name: str) -> str:
    """The first value of attribute ``name`` ("" when absent or valueless), as HTML reads it."""
    for key, value in attrs:
        if key == name:
            return value or ""
    return ""


def html_to_text(html: str, *, keep_comment: re.Pattern[str] | None = None) -> str:
    """Convert an email's HTML into the text of its plain-text part.

    The result holds internal marks for block breaks and links; pass it, or the text rendered
    from it, through `normalize_text`, which resolves them. Each piece of HTML converts on its
    own, so converting HTML that holds recipient markers and filling them in afterwards gives,
    after `normalize_text`, the same text as converting the filled-in HTML.

    Args:
        html: The HTML, possibly malformed.
        keep_comment: Comments whose whole text matches it are kept in place as ``<!--…-->``
            (template sentinels), even inside hidden elements; all other comments are dropped.

    Returns:
        The text, with entities decoded and whitespace collapsed outside ``<pre>``.
    """
    converter = _Converter(keep_comment)
    converter.feed(html)
    return converter.text()


# normalize_text runs once per recipient. Scanning with `re` is fast only for patterns that start
# with a rare literal character, and `in` is fast only for single characters, so every step below
# is guarded by such a check and the common case is a few str.replace calls.
_EDGES = f" \n{_LINE}{_PARA}"
_BREAKS = ("\n", _LINE, _PARA)
# A link that is not simply "text (url)": with no text of its own or spaces after it; with no
# url, a fragment, javascript: or spaces around the url; or whose text may equal its url (their
# first characters do). Groups: alt, (first characters), text, url.
_ODD_LINK = re.compile(
    f"{_LINK}(?:([^{_ALT}{_HREF}]*+){_ALT})?"
    f"(?=[^{_HREF}]*+(?<=[{_EDGES}{_LINK}{_ALT}]){_HREF}"
    f"|[^{_HREF}]*+{_HREF}(?:[\\x00-\\x20#jJ{_END}]|[^{_END}]*+(?<=[\\x00-\\x20]){_END})"
    f"|[{_EDGES}]*+([^{_EDGES}{_HREF}]{{1,4}}+)[^{_HREF}]*+{_HREF}(?:mailto:)?\\2)"
    f"([^{_HREF}]*+){_HREF}([^{_END}]*+){_END}"
)
_ALT_PART = re.compile(f"{_LINK}[^{_ALT}{_HREF}]*+{_ALT}")
_SCRIPT_URL = re.compile(r"[\x00-\x20]*j\s*a\s*v\s*a\s*s\s*c\s*r\s*i\s*p\s*t\s*:", re.IGNORECASE)
_SPACE_RUN = re.compile("   *")
# A break with a space or another break next to it.
_CROWDED = {mark: re.compile(f"{mark}(?:[ \n{_LINE}{_PARA}]|(?<= {mark}))") for mark in _BREAKS}
_PARA_RUN = re.compile(f"{_PARA}[\n{_LINE}{_PARA}]*")
_LINE_BEFORE_NEWLINE = re.compile(f"{_LINE}{_LINE}*\n")
_LINE_AFTER_NEWLINE = re.compile(f"\n{_LINE}{_LINE}*")
_LINE_RUN = re.compile(f"{_LINE}{_LINE}*")
_BLANK_LINES = re.compile("\n\n\n\n*")
# Non-ASCII whitespace (as str.isspace sees it: U+00A0, U+200A…) and zero-width characters.
_INVISIBLE = (
    " \x85\xa0\xad\u034f\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u200b\u200c\u200d\u2028\u2029\u202f\u205f\u2060\u3000\ufeff"
)
_INVISIBLE_LINE = re.compile(f"\n[{_INVISIBLE}]+(?=\n)")
_ROUGH_LINES = re.compile("\n(?: |\n\n|(?<= \n))")  # a space at a line end, or 3 newlines


_MARK_RUN = re.compile(f"[ \n{_LINE}{_PARA}]+")
_LINKISH = frozenset((_LINK, _ALT, _HREF, _END))


def settle_static_breaks(
    text: str, dynamic: re.Pattern[str], *, fences: re.Pattern[str] | None = None
) -> str:
    """Resolve, once per variant, the soft breaks that no recipient's data can touch.

    ``text`` is ``html_to_text`` output still holding token markers (``dynamic`` matches
    them). A run of spaces, newlines and soft breaks between two static characters resolves
    the same way for everyone, so it is settled here exactly as `normalize_text` would;
    runs next to a marker, a link mark or either end are left for `normalize_text`. Runs may
    span ``fences`` (static comments that only mark where the output will be cut); the settled
    break goes before them.
    """
    text = _settle_links(text, dynamic)
    run = _MARK_RUN
    if fences is not None:
        run = re.compile(f"(?:[ \n{_LINE}{_PARA}]|{fences.pattern})+")
    starts: set[int] = set()
    ends: set[int] = set()
    for found in dynamic.finditer(text):
        starts.add(found.start())
        ends.add(found.end())
    size = len(text)

    def settle(match: re.Match[str]) -> str:
        whole = match.group()
        begin, end = match.span()
        if _LINE not in whole and _PARA not in whole:
            return whole
        if begin == 0 or end == size or begin in ends or end in starts:
            return whole
        if text[begin - 1] in _LINKISH or text[end] in _LINKISH:
            return whole
        kept = "".join(fences.findall(whole)) if fences is not None else ""
        breaks = fences.sub("", whole) if fences is not None else whole
        return ("\n\n" if _PARA in breaks or breaks.count("\n") >= 2 else "\n") + kept

    return run.sub(settle, text)


_ANY_LINK = re.compile(
    f"{_LINK}(?:([^{_ALT}{_HREF}{_LINK}]*){_ALT})?([^{_HREF}{_LINK}]*){_HREF}([^{_END}{_LINK}]*){_END}"
)


def _settle_links(text: str, dynamic: re.Pattern[str]) -> str:
    """Format, once per variant, the links whose rendered form data cannot change.

    A static link resolves here exactly as in `normalize_text`. A link with a static label
    and a URL that starts with a token also has one form, ``label (url)``: that token started
    an ``href`` in the HTML, where it was checked to be a non-empty http(s) or mailto URL
    (without spaces). Only labels with a space qualify: no such URL or address can equal them.
    """

    def settle(match: re.Match[str]) -> str:
        alt, label, url = match.group(1, 2, 3)
        if dynamic.search(label):
            return match.group()
        if not dynamic.search(url) and not (alt and dynamic.search(alt)):
            return _link(alt, label, url)
        core = label.strip(_EDGES)
        if " " not in core:  # a checked URL has no spaces, so such a label never equals it
            return match.group()
        first = dynamic.match(url)
        last = [m.end() for m in dynamic.finditer(url)][-1]
        if first is None and (not url or url[0] in " #jJ" or url[0] < " "):
            return match.group()
        whole = first is not None and first.end() == len(url)
        if not whole and (last == len(url) or url[-1] <= " "):
            return match.group()
        start = len(label) - len(label.lstrip(_EDGES))
        return label[:start] + f"{core} ({url.strip(' ')})" + label[start + len(core) :]

    return _ANY_LINK.sub(settle, text) if _LINK in text else text


def normalize_text(text: str) -> str:
    """Clean up a rendered text part; applying it twice changes nothing.

    Resolves the marks left by `html_to_text`: block boundaries that meet (with nothing but
    whitespace between) make one line or paragraph break, never more; links become
    ``text (url)``, just ``url`` when the text is empty or equals the url, and just ``text`` for
    ``#…`` and ``javascript:`` urls. Then turns CR LF and CR into LF, collapses runs of spaces
    and tabs, strips them from line ends, empties lines that hold nothing visible (only U+00A0,
    U+200A, zero-width spaces and the like), allows at most one blank line in a row, drops
    leading and trailing blank lines, and ends the text with one newline. Elsewhere U+00A0 is
    kept as is.

    Args:
        text: The text, e.g. a text template rendered for one recipient.

    Returns:
        The normalized text, or ``""`` when nothing visible is left.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\t" in text:
        text = text.replace("\t", " ")
    if _LINK in text or _ALT in text or _HREF in text or _END in text:
        text = _resolve_links(text)
    if "  " in text:
        text = _SPACE_RUN.sub(" ", text)
    if _LINE in text or _PARA in text:
        text = _resolve_breaks(text)
    elif _ROUGH_LINES.search(text):
        text = text.replace(" \n", "\n").replace("\n ", "\n")
        text = _BLANK_LINES.sub("\n\n", text)
    if not text.isascii():
        text = _drop_invisible_lines(text)
    text = text.strip(" \n")
    return f"{text}\n" if text else ""


def _drop_invisible_lines(text: str) -> str:
    """Empty the lines that hold nothing visible (spacers such as ``&nbsp;`` or ``&#8202;``)."""
    if _INVISIBLE_LINE.search(text):
        text = _INVISIBLE_LINE.sub("\n", text)
        if "\n\n\n" in text:
            text = _BLANK_LINES.sub("\n\n", text)
    # The first and last lines lose only newlines, which the caller strips anyway.
    end = text.find("\n")
    first = text if end < 0 else text[:end]
    if first and not first.strip(_INVISIBLE):
        text = text[len(first) :]
    start = text.rfind("\n") + 1
    if start < len(text) and not text[start:].strip(_INVISIBLE):
        text = text[:start]
    return text


def _resolve_links(text: str) -> str:
    if _LINK in text:
        text = _ODD_LINK.sub(_format_link, text)
    # What is left is plain "text (url)", or stray marks from data, which get the same treatment.
    if _ALT in text:
        text = _replace(_ALT_PART.sub("", text), _ALT, "")
    for mark, replacement in ((_LINK, ""), (_HREF, " ("), (_END, ")")):
        if mark in text:
            text = _replace(text, mark, replacement)
    return text


def _replace(text: str, mark: str, replacement: str) -> str:
    # For a one-character needle in text with characters beyond Latin-1 (every text with marks),
    # split and join is markedly faster than str.replace in CPython 3.11.
    return replacement.join(text.split(mark))


def _format_link(match: re.Match[str]) -> str:
    return _link(*match.group(1, 3, 4))


def _link(alt: str | None, label: str, url: str) -> str:
    """``text (url)``, or just one of them, with the label's edge breaks kept in place."""
    core = label.strip(_EDGES)
    if not core and alt:  # the alt text of the link's first image stands in for its text
        label += alt
        core = alt.strip(_EDGES)
    start = len(label) - len(label.lstrip(_EDGES))
    return label[:start] + _link_text(core, url.strip(" ")) + label[start + len(core) :]


def _link_text(text: str, url: str) -> str:
    if not url or url[0] == "#" or _SCRIPT_URL.match(url):
        return text
    if not text or _squash(text) in (_squash(url), _squash(url.removeprefix("mailto:"))):
        return url
    return f"{text} ({url})"


def _squash(text: str) -> str:
    return _SPACE_RUN.sub(" ", text) if "  " in text else text


def _resolve_breaks(text: str) -> str:
    """Turn soft breaks into newlines: a run of breaks and newlines keeps only its strongest."""
    if not any(mark in text and _CROWDED[mark].search(text) for mark in _BREAKS):
        text = _replace(text, _PARA, "\n\n") if _PARA in text else text
        return _replace(text, _LINE, "\n") if _LINE in text else text
    for mark in _BREAKS:  # spaces are single by now, so one pass per side is enough
        text = text.replace(f" {mark}", mark).replace(f"{mark} ", mark)
    text = _PARA_RUN.sub("\n\n", text)
    # A soft line break next to a newline is already satisfied by it.
    text = _LINE_BEFORE_NEWLINE.sub("\n", text)
    text = _LINE_AFTER_NEWLINE.sub("\n", text)
    text = _LINE_RUN.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text) if "\n\n\n" in text else text
