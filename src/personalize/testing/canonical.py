"""A canonical, diff-friendly form of HTML: a line per block-level tag or run of inline content."""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache
from html.entities import html5
from html.parser import HTMLParser
from typing import NamedTuple

__all__ = ["canonical_html"]

# HTML collapses only these; U+00A0 and the other Unicode spaces are characters a reader sees.
_WS = re.compile(r"[ \t\n\r\f]+")
_DECLARATIONS = re.compile(r"[ \t\n\r\f]*;[ \t\n\r\f]*")
_VOID = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr",
    }
)  # fmt: skip
# Tags at which a line box starts or ends (or that hold no text): whitespace next to them is
# never rendered, so they get lines of their own. Every other tag is inline, kept on the line of
# the text around it, where a space or its absence shows.
_BLOCK = frozenset(
    {
        "address", "article", "aside", "base", "blockquote", "body", "br", "caption", "center",
        "col", "colgroup", "dd", "details", "dialog", "dir", "div", "dl", "dt", "fieldset",
        "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "head",
        "header", "hgroup", "hr", "html", "legend", "li", "link", "listing", "main", "menu",
        "meta", "nav", "ol", "optgroup", "option", "p", "plaintext", "pre", "script", "section",
        "style", "summary", "table", "tbody", "td", "template", "tfoot", "th", "thead", "title",
        "tr", "ul", "xmp",
    }
)  # fmt: skip
# Inline boxes with content of their own: a space before or after one is not collapsed away.
_ATOMIC = frozenset(
    {
        "audio", "button", "canvas", "embed", "iframe", "img", "input", "meter", "object",
        "progress", "select", "svg", "textarea", "video",
    }
)  # fmt: skip
_PRESERVE = frozenset({"listing", "plaintext", "pre", "textarea", "xmp"})
_PRESERVE_STYLE = re.compile(r"(?:^|;)\s*white-space\s*:\s*(?:pre|break-spaces)", re.I)
_INLINE_BOX = re.compile(r"(?:^|;)\s*display\s*:\s*inline-", re.I)
_CONDITIONAL = re.compile(r"\[if ([^\]]+)\]>(.*)<!\[endif\]", re.S)
_MS_SECTION = re.compile(r"(?i)(?:if|else|endif)(?![-_.a-z0-9])")
# `&` starts a character reference before `#`, before `name;`, or before a legacy entity name
# that needs no `;` (`&copy`, `&amp`): only there is it printed as `&amp;`, so `a & b` and
# `?u=1&t=2` read as written, and printed text always parses back to the same text.
_LEGACY = sorted((name for name in html5 if not name.endswith(";")), key=len, reverse=True)
_AMPERSAND = re.compile("&(?=#|[0-9A-Za-z]+;|" + "|".join(_LEGACY) + ")")


def _escape(text: str, *, quote: bool = False) -> str:
    """``text`` as it would be written in HTML: markup characters and invisible ones as entities."""
    text = _AMPERSAND.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")
    if quote:
        text = text.replace('"', "&quot;")
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _invisible(ch) for ch in text)


@lru_cache(maxsize=256)
def _invisible(ch: str) -> str:
    if ch == "\xa0":
        return "&nbsp;"
    if unicodedata.category(ch) in ("Co", "Cn"):
        # Private-use and unassigned characters print as they are: which are unassigned
        # depends on the Python version, and snapshots must not.
        return ch
    ref = f"&#x{ord(ch):x};"
    # Controls such as U+0001 or U+0080 cannot be written as references that parse back to
    # themselves (HTML maps or drops them); a browser shows them as nothing or a box.
    return ref if html.unescape(ref) == ch else "\ufffd"


def _raw(text: str) -> str:
    """Text that is printed without entities (comments, style, script): whitespace collapsed."""
    text = _WS.sub(" ", text)
    if text.isprintable():
        return text
    return "".join("\ufffd" if unicodedata.category(ch) == "Cc" else ch for ch in text)


def _style(value: str) -> str:
    # Inliners differ in spacing ("a:b;c:d" vs "a: b; c: d"); the declarations are what count.
    # Their order is kept: a later one overrides an earlier one of the same (or a shorthand)
    # property, so `margin:0;margin-top:5px` and the reverse look different.
    parts = []
    for declaration in _DECLARATIONS.split(_WS.sub(" ", value).strip(" ").rstrip(";")):
        if ":" in declaration:
            prop, _, val = declaration.partition(":")
            parts.append(f"{prop.strip(' ').lower()}: {val.strip(' ')}")
        elif declaration.strip(" "):
            parts.append(declaration.strip(" "))
    return "; ".join(parts)


def _attributes(attrs: list[tuple[str, str | None]]) -> list[str]:
    shown = []
    # By name only: of two attributes with one name the first counts, so their order stays.
    for name, value in sorted(attrs, key=lambda attr: attr[0]):
        value = _style(value or "") if name == "style" else _WS.sub(" ", value or "").strip(" ")
        shown.append(f'{name}="{_escape(value, quote=True)}"')
    return shown


class _Item(NamedTuple):
    kind: str  # "text", "tag" (inline, transparent), "box" (anything visible), "comment", "cond"
    text: str
    condition: str = ""  # of a conditional comment
    inner: str = ""


class _Canonical(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._open: list[tuple[str, bool]] = []  # open elements: (tag, is an inline box)
        self._line: list[_Item] = []
        self._indent = 0
        self._space = True  # the line so far is empty or ends in a collapsible space
        self._preserve: int | None = None  # len(_open) inside a whitespace-keeping element

    # -- lines -----------------------------------------------------------------------------

    def _add(self, item: _Item) -> None:
        if not self._line:
            self._indent = len(self._open)
        self._line.append(item)

    def flush(self) -> None:
        """End the current line."""
        items, self._line, self._space = self._line, [], True
        # A space at the end of a line box is not rendered, even inside inline elements.
        for k in range(len(items) - 1, -1, -1):
            if items[k].kind == "text":
                items[k] = items[k]._replace(text=items[k].text.removesuffix(" "))
            if items[k].kind not in ("tag", "comment", "cond"):
                break
        indent = "  " * self._indent
        shown = [item for item in items if item.text.strip(" ")]
        if shown and all(item.kind in ("comment", "cond") for item in shown):
            # Nothing between them renders: one line per comment reads better.
            self.lines += [indent + item.text for item in shown]
        elif text := "".join(item.text for item in items):
            self.lines.append(indent + text)

    # -- parser events ---------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        style = next((value or "" for name, value in attrs if name == "style"), "")
        block = tag in _BLOCK and self._preserve is None
        boxed = tag in _ATOMIC or bool(_INLINE_BOX.search(style))
        if block:
            self.flush()
        self._add(
            _Item("box" if block or boxed else "tag", f"<{' '.join([tag, *_attributes(attrs)])}>")
        )
        if tag not in _VOID:
            self._open.append((tag, boxed))
            if self._preserve is None and (tag in _PRESERVE or _PRESERVE_STYLE.search(style)):
                self._preserve = len(self._open)
                return  # a whitespace-keeping element stays on one line, escapes and all
        if block:
            self.flush()
        if boxed:
            self._space = False

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        block = tag in _BLOCK and self._preserve is None
        if block:
            self.flush()
        tags = [name for name, _ in self._open]
        boxed = tag in _ATOMIC
        if tag in tags:
            at = len(tags) - 1 - tags[::-1].index(tag)
            boxed = self._open[at][1]
            del self._open[at:]
        self._add(_Item("box" if block or boxed else "tag", f"</{tag}>"))
        if self._preserve is not None and len(self._open) < self._preserve:
            self._preserve = None
            block = tag in _BLOCK
        if block:
            self.flush()
        if boxed:
            self._space = False

    def handle_data(self, data: str) -> None:
        # The text of style and script is not HTML-decoded, so it is printed as it is.
        show = _raw if self.cdata_elem else _escape
        if self._preserve is not None:
            self._add(_Item("box", show(data)))
            self._space = False
            return
        text = _WS.sub(" ", data)
        if self._space:
            text = text.lstrip(" ")
        if text:
            self._space = text.endswith(" ")
            self._add(_Item("text", show(text)))

    def handle_comment(self, data: str) -> None:
        data = _raw(data)
        match = _CONDITIONAL.fullmatch(data)
        if not match:
            self._add(_Item("comment", f"<!--{data}-->"))
            return
        condition, inner = match.groups()
        # `<!--[if mso]>a<![endif]--> <!--[if mso]>b<![endif]-->` is `<!--[if mso]>ab<![endif]-->`
        # to Outlook and nothing to other clients; keep one spelling.
        k = len(self._line) - 1
        if k >= 0 and self._line[k] == _Item("text", " "):
            k -= 1
        if k >= 0 and self._line[k].kind == "cond" and self._line[k].condition == condition:
            inner = _raw(self._line[k].inner + inner)
            text = f"<!--[if {condition}]>{inner}<![endif]-->"
            self._line[k] = _Item("cond", text, condition, inner)
        else:
            self._add(_Item("cond", f"<!--{data}-->", condition, inner))

    def unknown_decl(self, data: str) -> None:
        # `<![if !mso]>…<![endif]>` (Outlook's downlevel-revealed form) and CDATA sections.
        data = _raw(data)
        self._add(_Item("comment", f"<![{data}]>" if _MS_SECTION.match(data) else f"<![{data}]]>"))

    def handle_pi(self, data: str) -> None:
        self._add(_Item("comment", f"<?{_raw(data)}>"))

    def handle_decl(self, decl: str) -> None:
        if self._preserve is None:
            self.flush()
        self._add(_Item("box", f"<!{_raw(decl).lower()}>"))
        if self._preserve is None:
            self.flush()

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:  # `<![foo]>`: a bogus comment to a browser, not an error
            return self.parse_bogus_comment(i)


def canonical_html(html: str) -> str:
    """HTML as lines that diff well: equal for spellings a reader cannot tell apart.

    Each block-level tag (``div``, ``p``, ``td``, ``br``, …) gets a line, indented by depth;
    text, inline tags (``a``, ``b``, ``span``, ``img``, …) and comments between them share one
    line, as the email shows them. Whitespace is collapsed as a browser collapses it, so a space
    next to an inline tag (``Hi <b>Ann</b>`` vs ``Hi<b>Ann</b>``) shows and whitespace between
    blocks does not; ``<pre>`` and ``white-space: pre`` keep theirs on one line, with newlines
    as ``&#xa;``. Attributes are sorted and style declarations spaced alike; text and attribute
    values are printed with ``&lt;``, ``&gt;``, ``&quot;`` (in attributes), ``&amp;`` (where it
    could start an entity), ``&nbsp;`` and ``&#x…;`` for invisible characters, whatever
    entities the input used; and Outlook conditional comments split in two are merged.
    ``canonical_html(canonical_html(x)) == canonical_html(x)``.
    """
    parser = _Canonical()
    # The newline that ends the last line would belong to a <pre> left open; it shows nothing.
    parser.feed(html.removesuffix("\n"))
    parser.close()
    parser.flush()
    return "\n".join(parser.lines) + "\n"
