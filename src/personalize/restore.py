"""Tokens, their markers, and restoring them in compiled HTML or text, with URL and CSS checks."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import RenderError

__all__ = ["EXPR", "Markers", "Restored", "Token", "restore"]

# A Jinja expression: its whitespace controls (groups 1 and 3) and the expression (group 2).
EXPR = re.compile(r"\{\{([-+]?)(.*?)([-+]?)\}\}", re.S)
_HTML_TAG = re.compile(
    r"<!--.*?-->"
    r"|<([A-Za-z][\w:-]*)((?:\s+[^\s=>/\"']+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*/?>",
    re.S,
)
_ATTR = re.compile(r"([^\s=>/\"']+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+)))?")
_URL_ATTRS = frozenset(
    {
        "href",
        "src",
        "action",
        "formaction",
        "poster",
        "cite",
        "longdesc",
        "usemap",
        "xlink:href",
        "background",
        "srcset",
        "data",
    }
)
_CSS_ATTRS = frozenset({"style", "bgcolor", "color", "fillcolor", "strokecolor"})
# The address inside a CSS url(…) of a style attribute: MJML writes background-url there as
# url('…'), premailer rewrites it to url(…); a quote may be written as a character reference.
_CSS_URL = re.compile(
    r"(?<![\w-])url\(\s*(&#0*39;|&#x0*27;|&apos;|&quot;|&#0*34;|&#x0*22;|['\"])?", re.I
)
_UNQUOTED_URL_END = re.compile(r"[\s)]")
# The checks by context: a filter, written after the token's expression.
_URL_CHECK = "_url"
_CSS_CHECK = "_css"
_CSS_URL_START = "_css_url"  # safevalues.css_url: an http(s) URL, percent-encoded
_CSS_URL_PART = "_css_url(False)"  # after a literal start: percent-encoded only
_STYLE_ELEMENT = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.S | re.I)
_SAFE_URL_PREFIX = re.compile(r"^\s*(?:https?:|mailto:|tel:|/|#|\?)", re.I)


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


@dataclass(frozen=True)
class Token:
    """One Jinja tag of a layout or module, and where it came from.

    ``text`` is the tag as the compiled templates run it: without the whitespace controls
    (``{{-``, ``-%}``), which ``protect`` has already applied to the source around it.
    """

    id: int
    text: str
    block: bool
    file: str
    line: int
    in_tag: bool
    in_comment: bool = False  # inside an HTML comment (``in_tag`` too): no sentinel there

    @property
    def expression(self) -> str:
        """The expression inside ``{{ … }}`` (empty for block tags)."""
        match = EXPR.fullmatch(self.text)
        return match.group(2).strip() if match and not self.block else ""


@dataclass(frozen=True)
class Restored:
    """Template source with tokens back, and the token behind each template line."""

    source: str
    lines: Mapping[int, Token] = field(default_factory=dict)


def restore(
    compiled: str,
    tokens: Mapping[int, Token],
    *,
    markers: Markers,
    contexts: bool,
) -> Restored:
    """Put the original tokens back into compiled HTML (or text) and return template source.

    Each token is preceded by ``{#\\n#}`` so that it starts a template line of its own: a
    render error's line then names the token, hence its module file and line. With
    ``contexts``, tokens that start a URL attribute are checked by ``_url`` and tokens in CSS
    by ``_css``, whatever the template author wrote; in the address of a ``url(…)`` in a
    ``style`` attribute (MJML's ``background-url``), by ``_css_url``. Static ``{{``,
    ``{%`` and ``{#`` that MJML or the inliner produced are escaped so Jinja prints them.
    """
    compiled = re.sub(r"\{(?=[{%#])", "{{ '{' }}", compiled)
    special = _contexts(compiled, markers, tokens) if contexts else {}
    pieces: list[str] = []
    lines: dict[int, Token] = {}
    line = 1
    pos = 0
    for match in markers.pattern.finditer(compiled):
        static = compiled[pos : match.start()]
        pieces.append(static)
        line += static.count("\n")
        number = int(match.group(1) or match.group(2))
        token = tokens.get(number)
        if token is None:
            pieces.append(match.group())
            pos = match.end()
            continue
        text = _wrap(token, special.get(match.start()))
        pieces.append("{#\n#}" + text)
        line += 1
        for offset in range(text.count("\n") + 1):
            lines[line + offset] = token
        line += text.count("\n")
        pos = match.end()
    pieces.append(compiled[pos:])
    return Restored("".join(pieces), lines)


def _wrap(token: Token, context: str | None) -> str:
    if context is None or token.block:
        return token.text
    match = EXPR.fullmatch(token.text)
    if match is None:
        return token.text
    left, expression, right = match.groups()
    if context == _URL_CHECK and re.search(r"\|\s*url\s*$", expression):
        return token.text
    return f"{{{{{left} ({expression.strip()}) | {context} {right}}}}}"


def _contexts(
    compiled: str, markers: Markers, tokens: Mapping[int, Token], base: int = 0
) -> dict[int, str]:
    """Positions of markers that need a URL or CSS check, found by attribute."""
    found: dict[int, str] = {}
    bare = re.compile(rf"{re.escape(markers.prefix)}(\d+){re.escape(markers.suffix)}")
    for block in _STYLE_ELEMENT.finditer(compiled):  # e.g. a <style> inside mj-raw
        for hit in bare.finditer(block.group(1)):
            found[base + block.start(1) + hit.start()] = _CSS_CHECK
    for match in _HTML_TAG.finditer(compiled):
        whole = match.group()
        if whole.startswith("<!--"):
            if whole.startswith("<!--[if"):  # Outlook parses conditional comments as HTML
                found.update(_contexts(whole[4:-3], markers, tokens, base + match.start() + 4))
            continue
        tag, attrs = match.group(1).lower(), match.group(2)
        if not attrs or not bare.search(attrs):
            continue
        attrs_start = base + match.start(2)
        for attr in _ATTR.finditer(attrs):
            name = attr.group(1).lower()
            group = next((g for g in (2, 3, 4) if attr.group(g) is not None), None)
            if group is None:
                continue
            value, value_start = attr.group(group), attrs_start + attr.start(group)
            hits = list(bare.finditer(value))
            if not hits:
                continue
            token = tokens.get(int(hits[0].group(1)))
            if name.startswith("on"):
                _attr_error(
                    token,
                    f"a token in the event handler {name}= of <{tag}>",
                    "event handlers are not allowed in emails",
                )
            if name in _URL_ATTRS:
                refusal = (
                    f"the link scheme in {name}= of <{tag}> is not literal",
                    "start the URL with https://, mailto: or /, or let a token hold the "
                    'whole URL: href="{{ link | url }}"',
                )
                starts = _address_starts(value, 0, hits, tokens, refusal)
                for position, start in starts.items():
                    if start:
                        found[value_start + position] = _URL_CHECK
            elif name in _CSS_ATTRS:
                checks = _in_urls(value, hits, tokens, tag) if name == "style" else {}
                for hit in hits:
                    found[value_start + hit.start()] = checks.get(hit.start(), _CSS_CHECK)
    return found


def _address_starts(
    value: str,
    start: int,
    hits: list[re.Match[str]],
    tokens: Mapping[int, Token],
    refusal: tuple[str, str],
) -> dict[int, bool]:
    """For each expression marker in ``hits`` (those of an address that begins at ``start`` of
    ``value``), whether it may begin the address (so needs the URL check) or follows a literal
    safe start; ``refusal`` (message, hint) if one follows a literal start that is not safe.

    Block tags may leave out what they hold, so only the text before the first marker of any
    kind is a fixed start; otherwise an expression is checked as a start unless the text since
    the marker before it is a safe start (after an expression, the address has begun).
    """
    expressions = [hit for hit in hits if not _is_block(hit, tokens)]
    if not expressions:
        return {}
    literal = htmllib.unescape(value[start : hits[0].start()])
    if _SAFE_URL_PREFIX.match(literal):
        return dict.fromkeys((hit.start() for hit in expressions), False)
    if literal:
        _attr_error(tokens.get(int(expressions[0].group(1))), *refusal)
    starts: dict[int, bool] = {}
    previous, after_expression = start, False
    for hit in hits:
        if _is_block(hit, tokens):
            previous, after_expression = hit.end(), False
            continue
        if after_expression:
            starts[hit.start()] = False
        else:
            before = htmllib.unescape(value[previous : hit.start()])
            if before and not _SAFE_URL_PREFIX.match(before):
                _attr_error(tokens.get(int(hit.group(1))), *refusal)
            starts[hit.start()] = not before
        previous, after_expression = hit.end(), True
    return starts


def _is_block(hit: re.Match[str], tokens: Mapping[int, Token]) -> bool:
    token = tokens.get(int(hit.group(1)))
    return token is not None and token.block


def _url_spans(style: str) -> list[tuple[int, int]]:
    """Where the address inside each ``url(…)`` of a style attribute's value starts and ends."""
    spans = []
    for opened in _CSS_URL.finditer(style):
        start, quote = opened.end(), opened.group(1)
        if quote:
            end = style.find(quote, start)
        else:
            unquoted = _UNQUOTED_URL_END.search(style, start)
            end = unquoted.start() if unquoted else -1
        spans.append((start, len(style) if end < 0 else end))
    return spans


def _in_urls(
    style: str, hits: list[re.Match[str]], tokens: Mapping[int, Token], tag: str
) -> dict[int, str]:
    """The checks of the expression markers inside a ``url(…)`` of ``style``, by position: the
    URL check where one may begin the address, else percent-encoding after a literal safe start.
    """
    refusal = (
        f"the link scheme in url(…) in style= of <{tag}> is not literal",
        "start the address with https:// or /, or let a token hold the whole URL: "
        'background-url="{{ image }}"',
    )
    checks: dict[int, str] = {}
    for start, end in _url_spans(style):
        inside = [hit for hit in hits if start <= hit.start() < end]
        if not inside:
            continue
        starts = _address_starts(style, start, inside, tokens, refusal)
        for position, begins in starts.items():
            checks[position] = _CSS_URL_START if begins else _CSS_URL_PART
    return checks


def _attr_error(token: Token | None, message: str, hint: str) -> None:
    raise RenderError(
        message,
        file=token.file if token else None,
        line=token.line if token else None,
        hint=hint,
    )
