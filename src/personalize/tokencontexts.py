"""Where each restored token stands in the compiled HTML, and the check its place needs."""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from .errors import RenderError
from .safevalues import URL_ATTRIBUTES, URL_LISTS, Spot, list_parts, part_at, spot_after

if TYPE_CHECKING:  # restore imports this module; the types are only annotations here
    from .restore import Markers, Token

__all__ = ["URL_CHECK", "token_checks"]

_HTML_TAG = re.compile(
    r"<!--.*?-->"
    r"|<([A-Za-z][\w:-]*)((?:\s+[^\s=>/\"']+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*/?>",
    re.S,
)
# A start tag as browsers read it, one attribute at a time, for tags _HTML_TAG cannot parse
# (MRML writes rel='a"b' as rel="a\\" b"=""): group 1 is the '>' that ends it.
_TAG_OPEN = re.compile(r"<([A-Za-z][^\s/>]*)")
_BROWSER_ATTR = re.compile(
    r"[\s/]*(?:(>)|[^\s/>][^\s/>=]*(?:\s*=\s*(?:\"[^\"]*\"?|'[^']*'?|[^\s>]*))?)"
)
_UNREAD_HINT = "write the attribute value without '\"' inside single quotes, e.g. use &quot;"
_ATTR = re.compile(r"([^\s=>/\"']+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+)))?")

_CSS_ATTRS = frozenset({"style", "bgcolor", "color", "fillcolor", "strokecolor"})
# The address inside a CSS url(…) of a style attribute: MJML writes background-url there as
# url('…'), premailer rewrites it to url(…); a quote may be written as a character reference.
_CSS_URL = re.compile(
    r"(?<![\w-])url\(\s*(&#0*39;|&#x0*27;|&apos;|&quot;|&#0*34;|&#x0*22;|['\"])?", re.I
)
_UNQUOTED_URL_END = re.compile(r"[\s)]")
# The checks by context: a filter, written after the token's expression. Later in a link,
# _url_part("after-host") and the like check that the value keeps the host (filters.url_part).
URL_CHECK = "_url"
_CSS_CHECK = "_css"
_CSS_URL_START = "_css_url"  # safevalues.css_url: an http(s) URL, percent-encoded
_CSS_URL_PART = "_css_url(False)"  # after a literal start: percent-encoded only
_STYLE_ELEMENT = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.S | re.I)
_BLOCK_KEYWORD = re.compile(r"\{%\s*(\w+)")


def token_checks(
    compiled: str, markers: Markers, tokens: Mapping[int, Token], base: int = 0
) -> dict[int, str]:
    """Positions of markers that need a URL or CSS check, found by attribute."""
    found: dict[int, str] = {}
    bare = re.compile(rf"{re.escape(markers.prefix)}(\d+){re.escape(markers.suffix)}")
    if not bare.search(compiled):
        return found
    styles = list(_STYLE_ELEMENT.finditer(compiled))
    tags = list(_HTML_TAG.finditer(compiled))
    for block in styles:  # e.g. a <style> inside mj-raw
        for hit in bare.finditer(block.group(1)):
            found[base + block.start(1) + hit.start()] = _CSS_CHECK
    _refuse_unread(compiled, [b.span(1) for b in styles] + [m.span() for m in tags], bare, tokens)
    for match in tags:
        whole = match.group()
        if whole.startswith("<!--"):
            if whole.startswith("<!--[if"):  # Outlook parses conditional comments as HTML
                found.update(token_checks(whole[4:-3], markers, tokens, base + match.start() + 4))
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
            if name in URL_ATTRIBUTES:
                where = f"{name}= of <{tag}>"
                hint = (
                    "start the URL with https://, mailto: or /, or let a token hold the whole "
                    'URL: href="{{ link | url }}"'
                )
                for position, check in _url_checks(value, name, hits, tokens, where, hint):
                    found[value_start + position] = check
            elif name in _CSS_ATTRS:
                checks = _in_urls(value, hits, tokens, tag) if name == "style" else {}
                for hit in hits:
                    found[value_start + hit.start()] = checks.get(hit.start(), _CSS_CHECK)
    return found


def _refuse_unread(
    html: str, read: list[tuple[int, int]], bare: re.Pattern[str], tokens: Mapping[int, Token]
) -> None:
    """Refuse a token inside a start tag that ``_HTML_TAG`` could not parse: no URL, CSS or
    event-handler check would apply to it, so it must not pass unchecked."""
    # Whether a position falls in a read span, by bisection: spans may nest, so each is paired
    # with the furthest end of the spans that start at or before it.
    read.sort()
    starts = [start for start, _ in read]
    reach = list(itertools.accumulate((end for _, end in read), max))
    for opened in _TAG_OPEN.finditer(html):
        index = bisect.bisect_right(starts, opened.start()) - 1
        if index >= 0 and opened.start() < reach[index]:
            continue
        position, end = opened.end(), len(html)
        while step := _BROWSER_ATTR.match(html, position):
            if step.group(1) or step.end() == position:
                end = step.end() if step.group(1) else end
                break
            position = step.end()
        if hit := bare.search(html, opened.start(), end):
            _attr_error(
                tokens.get(int(hit.group(1))),
                f"cannot read the attributes of <{opened.group(1).lower()}> around the token, "
                "so no URL or CSS check could apply to it",
                _UNREAD_HINT,
            )


def _url_checks(
    value: str,
    name: str,
    hits: list[re.Match[str]],
    tokens: Mapping[int, Token],
    where: str,
    hint: str,
) -> Iterator[tuple[int, str]]:
    """The check of each expression marker in the value of URL attribute ``name``, by position.

    In a list (srcset, ping) each URL is an address of its own, and a token in one may print
    no space; a token in a srcset descriptor may print neither a space nor a comma.
    """
    listed = name in URL_LISTS
    parts = list_parts(value, srcset=name != "ping") if listed else [(0, len(value), True)]
    for start, end, is_url in parts:
        inside = [hit for hit in hits if start <= hit.start() < end]
        if not is_url:
            yield from ((hit.start(), '_url_part("descriptor")') for hit in inside)
            continue
        checks = _address_checks(value, start, end, inside, tokens, where, hint)
        for position, check in checks.items():
            if check is None:
                yield position, URL_CHECK
            elif check or listed:
                places = f"{check} list".strip() if listed else check
                yield position, f'_url_part("{places}")'


def _address_checks(
    value: str,
    start: int,
    end: int,
    hits: list[re.Match[str]],
    tokens: Mapping[int, Token],
    where: str,
    hint: str,
) -> dict[int, str | None]:
    """The check of each expression marker in ``hits`` (an address from ``start`` to ``end``
    of ``value``): ``None`` where it may begin the address (the URL check), else the places of
    ``safevalues.check_url_part`` it sits at (``""``: none, the host is settled).

    Block tags may leave out what they hold, or repeat it: the states an address may be in
    are followed through ``{% if %}`` branches and ``{% for %}`` loops (until the states at
    each loop's end stop growing), and any other block tag may follow any earlier state.
    """
    loops: dict[int, set[Spot]] = {}
    while True:
        checks: dict[int, str | None] = {}
        ends = _walk(value, (start, end), hits, tokens, (where, hint), loops, checks)
        if ends == loops:
            return checks
        loops = ends


def _walk(
    value: str,
    span: tuple[int, int],
    hits: list[re.Match[str]],
    tokens: Mapping[int, Token],
    refusal: tuple[str, str],
    loops: dict[int, set[Spot]],
    checks: dict[int, str | None],
) -> dict[int, set[Spot]]:
    """One pass of ``_address_checks``: fills ``checks``, returns the states at each loop's end
    (by the position of its ``{% for %}``) for the next pass to start the loop with too."""
    states, seen = {Spot.START}, {Spot.START}
    # Open {% if %}/{% for %}: keyword, position, states at entry, at the ends of the branches
    # so far, and where skipping it leaves (the entry, until an {% else %}).
    stack: list[tuple[str, int, set[Spot], set[Spot], set[Spot]]] = []
    ends: dict[int, set[Spot]] = {}
    position = span[0]
    for index, hit in enumerate(hits):
        states = {spot_after(state, value[position : hit.start()]) for state in states}
        seen |= states
        token = tokens.get(int(hit.group(1)))
        text = token.text if token and token.block else ""
        word = keyword.group(1) if (keyword := _BLOCK_KEYWORD.match(text)) else ""
        if not text:  # an expression
            after = value[hit.end() : hits[index + 1].start() if index + 1 < len(hits) else span[1]]
            checks[hit.start()], states = _check(states, after, token, refusal)
        elif word in ("if", "for"):
            states = states | loops.get(hit.start(), set())
            stack.append((word, hit.start(), states, set(), set(states)))
        elif word in ("elif", "else") and stack:
            stack[-1][3].update(states)
            if word == "else":
                stack[-1][4].clear()
            states = stack[-1][2]
        elif stack and word == f"end{stack[-1][0]}":
            kind, opened, _, exits, skipped = stack.pop()
            states = exits | states | skipped
            if kind == "for":
                ends[opened] = states
        elif word not in ("with", "endwith") and not (word == "set" and "=" in text):
            states = states | seen | {Spot.START}  # a macro, call, filter… may print anything
        seen |= states
        position = hit.end()
    return ends


def _check(
    spots: set[Spot], after: str, token: Token | None, refusal: tuple[str, str]
) -> tuple[str | None, set[Spot]]:
    """The check of an expression at one of ``spots`` (``None``: the URL check) with literal
    text ``after`` it, and where the link may be after it."""
    where, hint = refusal
    if Spot.UNSAFE in spots:
        _attr_error(token, f"the link scheme in {where} is not literal", hint)
    if Spot.START in spots:
        if spots & {Spot.NO_HOST, Spot.HOST, Spot.LABEL}:
            _attr_error(
                token,
                f"the token in {where} may begin the link or continue the host before it",
                "write the link's start (https://host/) in every branch of the block tags "
                "before the token, or in none",
            )
        return None, {Spot.OPEN} | (spots & {Spot.SETTLED, Spot.OPEN})
    places, later = set(), set()
    for spot in spots:
        place, after_spot = part_at(spot, after)
        places.add(place)
        later |= after_spot
    return " ".join(sorted(places - {""})), later


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
    URL check where one may begin the address, else percent-encoding (and the host checks of
    ``_address_checks``) after a literal safe start.
    """
    where = f"url(…) in style= of <{tag}>"
    hint = (
        "start the address with https:// or /, or let a token hold the whole URL: "
        'background-url="{{ image }}"'
    )
    found: dict[int, str] = {}
    for start, end in _url_spans(style):
        inside = [hit for hit in hits if start <= hit.start() < end]
        if not inside:
            continue
        checks = _address_checks(style, start, end, inside, tokens, where, hint)
        for position, check in checks.items():
            if check is None:
                found[position] = _CSS_URL_START
            else:
                found[position] = f'_css_url(False, at="{check}")' if check else _CSS_URL_PART
    return found


def _attr_error(token: Token | None, message: str, hint: str) -> None:
    raise RenderError(
        message,
        file=token.file if token else None,
        line=token.line if token else None,
        hint=hint,
    )
