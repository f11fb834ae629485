"""Token protection: Jinja tokens become inert markers to cross MJML and the CSS inliner."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from .errors import RegistryError
from .includes import Source
from .restore import Markers, Restored, Token, restore

__all__ = [
    "MJ_TAG",
    "TOKEN",
    "Markers",
    "Protected",
    "Restored",
    "Token",
    "check_structure",
    "choose_markers",
    "protect",
    "restore",
    "sentinels",
]

# A Jinja expression, statement or comment; quoted strings inside may hold '}}' or '%}', and
# backslash-escaped quotes ('here\'s'), as Jinja's own lexer reads them.
TOKEN = re.compile(
    r"""\{\{(?:[^}'"]|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\}(?!\}))*\}\}"""
    r"""|\{%(?:[^%'"]|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|%(?!\}))*%\}"""
    r"""|\{\#.*?\#\}""",
    re.S,
)
# `{{ nickname | default('friend') }}`: the field a default stands in for, to name it in warnings.
_DEFAULTED = re.compile(
    r"^(\{\{[-+]?\s*)([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(\s*\|\s*(?:default|d)\b)"
)
MJ_TAG = re.compile(r"<(/?)(mj-[\w-]+|mjml)\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*?)(/?)>")
_HEAD_TEXT = frozenset({"mj-title", "mj-preview"})
_COUNTED_PARENTS = frozenset(
    {"mj-section", "mj-group", "mj-carousel", "mjml", "mj-head", "mj-attributes", "mj-navbar"}
    | {"mj-social", "mj-social-element"}
)

_TEXT, _TAG, _DQ, _SQ, _COMMENT = range(5)
_NEXT_IN_TAG = re.compile(r"[\"'>]")
_NEWLINE_WS = re.compile(r"\s*\n\s*")


def choose_markers(texts: Iterable[str]) -> Markers:
    """Markers that occur in none of ``texts`` (so static content is never mistaken for one)."""
    corpus = "\n".join(texts)
    for prefix, suffix in (("zq", "qz"), ("xj", "jx"), ("vk", "kv"), ("qzx", "xzq")):
        candidate = Markers(prefix, suffix)
        if not candidate.pattern.search(corpus):
            return candidate
    raise RegistryError("the project's templates contain every marker pattern personalize uses")


@dataclass(frozen=True)
class Protected:
    """Source text with every Jinja token replaced by a marker.

    ``reference`` is the source as written, tokens included, with the same whitespace kept
    from MJML as in ``text`` (see ``protect``): the reference path renders it with Jinja.
    """

    text: str
    tokens: tuple[Token, ...]
    reference: str = ""


def protect(source: Source, *, markers: Markers, start: int) -> Protected:
    """Replace the Jinja tokens of ``source`` with markers numbered from ``start``.

    Expressions become bare alphanumeric markers (they survive attribute values, URLs and CSS);
    block tags in content become HTML comments (HTML5 parsers would move bare text out of
    tables), block tags inside attribute values or HTML comments become bare markers. Jinja
    comments are dropped. Whitespace inside multi-line attribute values is folded to one space,
    as MJML expects.

    Whitespace controls (``{{-``, ``-%}``, ``{#-``…) strip the source's whitespace here, as
    Jinja would, and leave the tokens: in the compiled output they would strip whitespace that
    MJML or the text converter wrote (a ``<br>``'s line break) instead of the author's. A run of
    whitespace with a line break between an element and a block tag in content is written
    ``&#10;`` (here and in ``reference``): MJML drops such a run next to a comment, while on the
    reference path it may join the text the tag prints.

    Raises:
        RegistryError: a token sits inside a tag outside a quoted attribute value, or in the
            head outside ``<mj-title>``/``<mj-preview>``.
    """
    text = source.text
    out: list[str] = []
    reference: list[str] = []
    tokens: list[Token] = []
    scan = _Scanner(out)
    pos = 0
    line = 1
    after = _Edge(strips=False, sentinel=False)
    for match in TOKEN.finditer(text):
        token_text = match.group()
        before = _Edge(
            strips=token_text[2:3] == "-",
            sentinel=token_text.startswith("{%"),  # if it stands in content (checked later)
        )
        reference.append(_data(scan, text[pos : match.start()], after, before))
        reference.append(token_text)
        line += text.count("\n", pos, match.start())
        pos = match.end()
        if token_text.startswith("{#"):
            line += token_text.count("\n")
            after = _Edge(strips=token_text[-3:-2] == "-", sentinel=False)
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
        after = _Edge(strips=token_text[-3:-2] == "-", sentinel=block and not in_tag)
        line += token_text.count("\n")
        jinja = _without_controls(token_text)
        if not block:
            jinja = _DEFAULTED.sub(r"\1\2 | _named('\2')\3", jinja)
        number = start + len(tokens)
        out.append(markers.comment(number) if block and not in_tag else markers.expr(number))
        comment = scan.state == _COMMENT
        tokens.append(Token(number, jinja, block, file, file_line, in_tag, comment))
    reference.append(_data(scan, text[pos:], after, _Edge(strips=False, sentinel=False)))
    return Protected("".join(out), tuple(tokens), "".join(reference))


@dataclass(frozen=True)
class _Edge:
    """The token on one side of a run of text: does it strip whitespace toward the text
    (``{{-`` before it, ``-}}`` after it), and is it a block tag (a sentinel comment)?"""

    strips: bool
    sentinel: bool


_SPACE = " \t\r\n\f"  # HTML's whitespace, which MJML drops in a run with a line break
# Elements whose content MJML writes out as HTML: whitespace there is text.
_HTML_CONTENT = frozenset({
    "mj-text", "mj-button", "mj-raw", "mj-table", "mj-navbar-link", "mj-social-element",
    "mj-accordion-title", "mj-accordion-text",
})  # fmt: skip


def _data(scan: _Scanner, data: str, after: _Edge, before: _Edge) -> str:
    """Feed the text between two tokens to ``scan``; return it as the reference path keeps it.

    Applies the tokens' whitespace controls as Jinja does (``data`` loses its leading
    whitespace after ``-}}``, its trailing whitespace before ``{{-``), and writes ``&#10;``
    for the line breaks of a run of whitespace between a block tag in content and an element
    (or another block tag), which MJML would drop.
    """
    kept = data.lstrip() if after.strips else data
    kept = kept.rstrip() if before.strips else kept
    middle = kept.strip(_SPACE)
    lead = kept[: len(kept) - len(kept.lstrip(_SPACE))]
    trail = kept[len(lead) + len(middle) :]
    content = scan.state == _TEXT and scan.mj_parent in _HTML_CONTENT
    fold_lead = (
        content
        and after.sentinel
        and "\n" in lead
        and (_inline(_FIRST_TAG.match(middle)) if middle else before.sentinel)
    )
    scan.feed(_gap(lead) if fold_lead else lead)
    scan.feed(middle)
    content = scan.state == _TEXT and scan.mj_parent in _HTML_CONTENT
    fold_trail = (
        content
        and before.sentinel
        and "\n" in trail
        and middle.endswith(">")
        and _inline(_LAST_TAG.search(middle, max(middle.rfind("<"), 0)))
    )
    scan.feed(_gap(trail) if fold_trail else trail)
    # The reference keeps the whitespace Jinja strips itself; only the gaps differ from data.
    if fold_lead:
        data = _gap(lead) + data[len(lead) :]
    if fold_trail:
        data = data[: len(data) - len(trail)] + _gap(trail)
    return data


# The tag (or comment) that starts or ends a run of text, and its name.
_FIRST_TAG = re.compile(r"<(?:!--|/?(?P<name>[A-Za-z][\w:-]*))")
_LAST_TAG = re.compile(r"(?:-->|</?(?P<name>[A-Za-z][\w:-]*)(?:[^<>\"']|\"[^\"]*\"|'[^']*')*>)\Z")
# Next to these (and at the edges of mj- elements other than _INLINE_CONTENT), whitespace never
# shows (nor reaches the text part), whether MJML keeps it or not: it is left to MJML, so that
# such emails keep their bytes.
_BLOCK_LEVEL = frozenset({
    "address", "article", "aside", "blockquote", "br", "caption", "center", "col", "colgroup",
    "dd", "div", "dl", "dt", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4",
    "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
})  # fmt: skip
_INLINE_CONTENT = frozenset({"mj-button", "mj-navbar-link", "mj-social-element"})


def _inline(tag: re.Match[str] | None) -> bool:
    """Whether whitespace next to this tag (or comment) may show between words."""
    if tag is None:
        return False
    name = (tag.group("name") or "").lower()
    if name.startswith("mj-") or name == "mjml":
        return name in _INLINE_CONTENT  # its content's edges are those of a link
    return name not in _BLOCK_LEVEL


def _without_controls(token: str) -> str:
    """``token`` without the "-" after its opening or before its closing braces."""
    if token[2:3] == "-":
        token = token[:2] + token[3:]
    if token[-3:-2] == "-":
        token = token[:-3] + token[-2:]
    return token


def _gap(run: str) -> str:
    # A character reference is not whitespace to MJML, so it keeps the run; HTML parsers (the
    # inliner's) read it as the line break it stands for and write that back.
    return run.replace("\n", "&#10;")


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


def sentinels(
    text: str, markers: Markers, tokens: Mapping[int, Token]
) -> Iterator[tuple[re.Match[str], Token]]:
    """The block tags standing between elements in protected ``text``, in order: comment
    sentinels, and the bare markers of block tags written inside an HTML comment."""
    for match in markers.pattern.finditer(text):
        token = tokens.get(int(match.group(1) or match.group(2)))
        if token is not None and token.block and (match.group(1) or token.in_comment):
            yield match, token


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
        [(m.start(), 0, m) for m in MJ_TAG.finditer(text)]
        + [(m.start(), 1, m) for m, _ in sentinels(text, markers, tokens)]
    )
    for _, is_block, match in events:
        if is_block:
            parent = stack[-1] if stack else "the document root"
            if parent in _COUNTED_PARENTS or not (stack or fragment):
                token = tokens[int(match.group(1) or match.group(2))]
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
    "mj-social": "MJML writes a cell for each child; list the elements without a condition, or "
    "put the condition around the whole mj-social",
    "mj-social-element": "MJML writes the label's cell only for an element with content; put "
    "the condition around the whole mj-social, or print the label with an expression",
}
