"""A canonical, diff-friendly form of HTML: one line per tag, text run or comment."""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["canonical_html"]

_WS = re.compile(r"\s+")
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
_DECLARATIONS = re.compile(r"\s*;\s*")


def _style(value: str) -> str:
    # Inliners differ in spacing ("a:b;c:d" vs "a: b; c: d"); the declarations are what count.
    parts = []
    for declaration in _DECLARATIONS.split(value.strip().rstrip(";")):
        if ":" in declaration:
            prop, _, val = declaration.partition(":")
            parts.append(f"{prop.strip().lower()}: {_WS.sub(' ', val.strip())}")
        elif declaration.strip():
            parts.append(declaration.strip())
    return "; ".join(parts)


class _Canonical(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.depth = 0
        self._text: list[str] = []

    def _flush(self) -> None:
        text = _WS.sub(" ", "".join(self._text)).strip()
        self._text.clear()
        if text:
            self.lines.append("  " * self.depth + repr(text)[1:-1])

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._flush()
        shown = []
        for name, value in sorted(attrs):
            value = value or ""
            value = _style(value) if name == "style" else _WS.sub(" ", value).strip()
            shown.append(f'{name}="{value}"')
        self.lines.append("  " * self.depth + f"<{' '.join([tag, *shown])}>")
        if tag not in _VOID:
            self.depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.depth -= 1

    def handle_endtag(self, tag: str) -> None:
        self._flush()
        if tag not in _VOID:
            self.depth = max(self.depth - 1, 0)
            self.lines.append("  " * self.depth + f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def handle_comment(self, data: str) -> None:
        self._flush()
        text = _WS.sub(" ", data).strip()
        if text:
            self.lines.append("  " * self.depth + f"<!-- {text} -->")

    def handle_decl(self, decl: str) -> None:
        self.lines.append(f"<!{decl.lower()}>")


_CONDITIONAL = re.compile(r"<!--\[if ([^\]]+)\]>(.*?)<!\[endif\]-->", re.S)


def _merge_conditionals(html: str) -> str:
    # `<!--[if mso]>a<![endif]--><!--[if mso]>b<![endif]-->` is `<!--[if mso]>ab<![endif]-->`
    # to Outlook and nothing to other clients; keep one spelling.
    out: list[str] = []
    pos = 0
    previous: tuple[str, int] | None = None  # (condition, index in out of its inner text)
    for match in _CONDITIONAL.finditer(html):
        between = html[pos : match.start()]
        condition, inner = match.group(1), match.group(2)
        if previous and previous[0] == condition and not between.strip():
            out[previous[1]] += inner
        else:
            out.append(between)
            out += [f"<!--[if {condition}]>", inner, "<![endif]-->"]
            previous = (condition, len(out) - 2)
        pos = match.end()
    out.append(html[pos:])
    return "".join(out)


def canonical_html(html: str) -> str:
    """One line per tag, text run or comment; attributes sorted; whitespace and entities settled.

    Two HTML strings that a browser would treat alike — up to whitespace, attribute order,
    entity spelling (``&#34;`` or ``"``), style-declaration spacing, and Outlook conditional
    comments split in two — give the same canonical text, and a readable line diff where they
    do not.
    """
    parser = _Canonical()
    parser.feed(_merge_conditionals(html))
    parser.close()
    parser._flush()
    return "\n".join(parser.lines) + "\n"
