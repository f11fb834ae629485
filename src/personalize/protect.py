"""Token protection: Jinja tokens become inert markers to cross MJML and the CSS inliner."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .errors import RegistryError
from .includes import Source
from .restore import EXPR, Restored, restore

__all__ = [
    "TOKEN",
    "Markers",
    "Protected",
    "Restored",
    "Token",
    "check_structure",
    "choose_markers",
    "protect",
    "restore",
]

# A Jinja expression, statement or comment; quoted strings inside may hold '}}' or '%}'.
TOKEN = re.compile(
    r"""\{\{(?:[^}'"]|'[^']*'|"[^"]*"|\}(?!\}))*\}\}"""
    r"""|\{%(?:[^%'"]|'[^']*'|"[^"]*"|%(?!\}))*%\}"""
    r"""|\{\#.*?\#\}""",
    re.S,
)
# `{{ nickname | default('friend') }}`: the field a default stands in for, to name it in warnings.
_DEFAULTED = re.compile(
    r"^(\{\{[-+]?\s*)([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(\s*\|\s*(?:default|d)\b)"
)
_MJ_TAG = re.compile(r"<(/?)(mj-[\w-]+|mjml)\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*?)(/?)>")
_HEAD_TEXT = frozenset({"mj-title", "mj-preview"})
_COUNTED_PARENTS = frozenset(
    {"mj-section", "mj-group", "mj-carousel", "mjml", "mj-head", "mj-attributes", "mj-navbar"}
)

_TEXT, _TAG, _DQ, _SQ, _COMMENT = range(5)
_NEXT_IN_TAG = re.compile(r"[\"'>]")
_NEWLINE_WS = re.compile(r"\s*\n\s*")


@dataclass(frozen=True)
class Markers:
    """The marker alphabet: ``zq12qz`` for expressions, ``<!--zq13qz-->`` for block tags."""

    prefix: str = "zq"
    suffix: str = "qz"

    def expr(self, number: int) -> str:
        """The bare marker for token ``number``."""
        return f"{self.prefix}{number}{self.suffix}"

    def comment(self, number: int) -> str:
        """The comment sentinel for block token ``number`` (HTML5 parsers keep it in place)."""
        return f"<!--{self.prefix}{number}{self.suffix}-->"

    @property
    def pattern(self) -> re.Pattern[str]:
        """Matches a comment sentinel (group 1) or a bare marker (group 2)."""
        p, s = re.escape(self.prefix), re.escape(self.suffix)
        return re.compile(rf"<!--{p}(\d+){s}-->|{p}(\d+){s}")

    @property
    def comment_pattern(self) -> re.Pattern[str]:
        """Matches the text of a sentinel or region-fence comment, for the text converter."""
        return re.compile(rf"{re.escape(self.prefix)}[be]?\d+{re.escape(self.suffix)}")


def choose_markers(texts: Iterable[str]) -> Markers:
    """Markers that occur in none of ``texts`` (so static content is never mistaken for one)."""
    corpus = "\n".join(texts)
    for prefix, suffix in (("zq", "qz"), ("xj", "jx"), ("vk", "kv"), ("qzx", "xzq")):
        candidate = Markers(prefix, suffix)
        if not candidate.pattern.search(corpus):
            return candidate
    raise RegistryError("the project's templates contain every marker pattern personalize uses")


@dataclass(frozen=True)
class Token:
    """One Jinja tag of a layout or module, and where it came from."""

    id: int
    text: str
    block: bool
    file: str
    line: int
    in_tag: bool

    @property
    def expression(self) -> str:
        """The expression inside ``{{ … }}`` (empty for block tags)."""
        match = EXPR.fullmatch(self.text)
        return match.group(2).strip() if match and not self.block else ""


@dataclass(frozen=True)
class Protected:
    """Source text with every Jinja token replaced by a marker."""

    text: str
    tokens: tuple[Token, ...]


def protect(source: Source, *, markers: Markers, start: int) -> Protected:
    """Replace the Jinja tokens of ``source`` with markers numbered from ``start``.

    Expressions become bare alphanumeric markers (they survive attribute values, URLs and CSS);
    block tags in content become HTML comments (HTML5 parsers would move bare text out of
    tables), block tags inside attribute values become bare markers. Jinja comments are dropped.
    Whitespace inside multi-line attribute values is folded to one space, as MJML expects.

    Raises:
        RegistryError: a token sits inside a tag outside a quoted attribute value, or in the
            head outside ``<mj-title>``/``<mj-preview>``.
    """
    text = source.text
    out: list[str] = []
    tokens: list[Token] = []
    scan = _Scanner(out)
    pos = 0
    line = 1
    for match in TOKEN.finditer(text):
        scan.feed(text[pos : match.start()])
        line += text.count("\n", pos, match.start())
        pos = match.end()
        token_text = match.group()
        if token_text.startswith("{#"):
            line += token_text.count("\n")
            continue
        file, file_line = source.origin(line)
        if scan.state == _TAG:
            raise RegistryError(
                f"Jinja tag {token_text!r} sits inside a tag but outside an attribute value",
                file=file,
                line=file_line,
                hint='put tokens inside quoted attribute values: <mj-image alt="{{ name }}"/>',
            )
        if scan.in_head and (scan.mj_parent not in _HEAD_TEXT or token_text.startswith("{%")):
            raise RegistryError(
                f"Jinja tag {token_text!r} in <{scan.mj_parent}> inside <mj-head>",
                file=file,
                line=file_line,
                hint="the head is compiled once per variant; only <mj-title> and <mj-preview> "
                "may hold {{ expressions }}",
            )
        in_tag = scan.state != _TEXT
        block = token_text.startswith("{%")
        if not block:
            token_text = _DEFAULTED.sub(r"\1\2 | _named('\2')\3", token_text)
        number = start + len(tokens)
        out.append(markers.comment(number) if block and not in_tag else markers.expr(number))
        tokens.append(Token(number, token_text, block, file, file_line, in_tag))
        line += token_text.count("\n")
    scan.feed(text[pos:])
    return Protected("".join(out), tuple(tokens))


class _Scanner:
    """Tracks whether text is content, inside a tag, an attribute value or a comment."""

    def __init__(self, out: list[str]) -> None:
        self.out = out
        self.state = _TEXT
        self.stack: list[str] = []
        self._tag = ""
        self._closing = False
        self._last = ""

    @property
    def in_head(self) -> bool:
        return "mj-head" in self.stack

    @property
    def mj_parent(self) -> str:
        return self.stack[-1] if self.stack else ""

    def feed(self, chunk: str) -> None:
        i, n, out = 0, len(chunk), self.out
        while i < n:
            if self.state == _TEXT:
                j = chunk.find("<", i)
                if j < 0:
                    out.append(chunk[i:])
                    return
                out.append(chunk[i:j])
                if chunk.startswith("<!--", j):
                    out.append("<!--")
                    self.state, i = _COMMENT, j + 4
                    continue
                tag = re.match(r"<(/?)([A-Za-z][\w:-]*)", chunk[j:])
                if tag:
                    self.state, self._tag, self._closing = (
                        _TAG,
                        tag.group(2).lower(),
                        bool(tag.group(1)),
                    )
                    self._last = ""
                out.append("<")
                i = j + 1
            elif self.state == _TAG:
                found = _NEXT_IN_TAG.search(chunk, i)
                if not found:
                    out.append(chunk[i:])
                    self._last = chunk[-1:] or self._last
                    return
                j = found.start()
                out.append(chunk[i : j + 1])
                self._last = chunk[j - 1 : j] if j > i else self._last
                char = chunk[j]
                if char == ">":
                    self._close_tag()
                    self.state = _TEXT
                else:
                    self.state = _DQ if char == '"' else _SQ
                i = j + 1
            elif self.state in (_DQ, _SQ):
                quote = '"' if self.state == _DQ else "'"
                j = chunk.find(quote, i)
                value = chunk[i:] if j < 0 else chunk[i:j]
                out.append(_NEWLINE_WS.sub(" ", value))
                if j < 0:
                    return
                out.append(quote)
                self.state, i, self._last = _TAG, j + 1, quote
            else:
                j = chunk.find("-->", i)
                if j < 0:
                    out.append(chunk[i:])
                    return
                out.append(chunk[i : j + 3])
                self.state, i = _TEXT, j + 3

    def _close_tag(self) -> None:
        name = self._tag
        if not (name.startswith("mj-") or name == "mjml"):
            return
        if self._closing:
            if name in self.stack:
                while self.stack and self.stack.pop() != name:
                    pass
        elif self._last != "/":
            self.stack.append(name)


def check_structure(
    text: str, *, markers: Markers, tokens: Mapping[int, Token], fragment: bool = False
) -> None:
    """Refuse block tags around structure that MJML lays out by counting it.

    MJML sizes columns by how many share a section, and writes a width class into the head for
    each column size it meets; a carousel numbers its images. A loop or condition around such
    elements would give a per-recipient layout that a once-per-variant compile cannot know.
    Loops over sections, over column children (``mj-text``, ``mj-image``…), and over rows
    inside ``mj-table`` are fine.

    ``fragment`` is for a module body checked alone: its top level sits in a layout's body.

    Raises:
        RegistryError: names the template file and line of the offending block tag.
    """
    stack: list[str] = []
    events = sorted(
        [(m.start(), 0, m) for m in _MJ_TAG.finditer(text)]
        + [(m.start(), 1, m) for m in markers.pattern.finditer(text) if m.group(1)]
    )
    for _, is_block, match in events:
        if is_block:
            parent = stack[-1] if stack else "the document root"
            if parent in _COUNTED_PARENTS or not (stack or fragment):
                token = tokens[int(match.group(1))]
                raise RegistryError(
                    f"{token.text} cannot wrap the children of <{parent}>"
                    if stack
                    else f"{token.text} sits outside the email body",
                    file=token.file,
                    line=token.line,
                    hint=_STRUCTURE_HINTS.get(parent, "move the tag inside a section or column"),
                )
            continue
        closing, name, _attrs, selfclose = match.groups()
        if closing:
            if name in stack:
                while stack.pop() != name:
                    pass
        elif not selfclose:
            stack.append(name)


_STRUCTURE_HINTS = {
    "mj-section": "MJML sizes columns by their count per section; repeat whole sections, or "
    "loop inside one column (rows of an mj-table, or mj-text)",
    "mj-group": "MJML sizes columns by their count per group; loop inside one column instead",
    "mj-carousel": "a carousel numbers its images; list the images without a loop",
}
