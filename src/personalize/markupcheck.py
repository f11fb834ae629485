"""Load-time markup checks: balanced mj- tags, refused elements and attributes, size, depth."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import NamedTuple

from .errors import RegistryError, short_repr
from .includes import Source
from .markupsyntax import MRML_VOID, check_attributes, check_comment, check_text
from .protect import TOKEN
from .safevalues import URL_ATTRIBUTES

__all__ = ["DEPTH_HINT", "SIZE_HINT", "check_markup", "markup_depth", "source_size"]

# One leading "<" lets the regex engine skip text fast; possessive quantifiers keep a tag
# without its ">" linear.
_TAG = re.compile(
    r"""<(?:!--.*?-->|!\[CDATA\[.*?\]\]>"""
    r"""|(?P<close>/)?(?P<name>[A-Za-z][\w:.-]*+)"""
    r"""(?P<attrs>(?:[^>"']++|"[^"]*+"|'[^']*+')*+)>)""",
    re.DOTALL,
)
_ATTR = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta"}
    | {"param", "source", "track", "wbr"}
)
# Elements whose content is not markup: scanning resumes after their end tag.
_RAW_TEXT = frozenset({"script", "style", "mj-style", "textarea", "xmp"})
_ANIMATE_HINT = (
    "it can change a link's href to a script URL, and email clients do not animate; remove "
    "the element"
)
_EMBED_HINT = (
    "it embeds content that no check sees, and email clients do not show it; remove the "
    "element, or link to the content with <a href>"
)
# Elements refused wherever they appear, with the hint that says why.
_REFUSED = {
    "script": "email clients never run scripts; remove the element",
    "iframe": _EMBED_HINT,
    "object": _EMBED_HINT,
    "embed": _EMBED_HINT,
    "frame": _EMBED_HINT,
    "frameset": _EMBED_HINT,
    "applet": _EMBED_HINT,
    "portal": _EMBED_HINT,
    "base": "it changes where every relative link goes; remove the element and write full URLs",
    "animate": _ANIMATE_HINT,
    "set": _ANIMATE_HINT,
    "animatemotion": _ANIMATE_HINT,
    "animatetransform": _ANIMATE_HINT,
}
# The attributes restore checks as URLs, and SVG animation values, which can become a link's
# href (the elements are refused too).
_URL_ATTRS = URL_ATTRIBUTES | {"to", "from", "values"}
# How list-valued URL attributes separate their URLs. Every comma counts in a srcset, where a
# browser splits only after a URL or its descriptors: refusing more is the safe side.
_URL_LISTS = {
    "srcset": re.compile(","),
    "imagesrcset": re.compile(","),
    "ping": re.compile(r"[\t\n\f\r ]"),
    "values": re.compile(";"),
}
_SCRIPT_SCHEMES = ("javascript:", "vbscript:")
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")

DEPTH_HINT = (
    "deeply nested markup crashes the MJML compiler; flatten it, or look for a missing closing tag"
)
SIZE_HINT = "move large content (inline images, long CSS, big tables) out of the template"


class _Tag(NamedTuple):
    """One start or end tag found by the scanner (offsets into the scanned text)."""

    name: str
    start: int
    end: int
    attrs_start: int
    attrs: str
    closing: bool
    self_closing: bool


def markup_depth(source: str) -> int:
    """How deeply the elements of ``source`` nest (void and self-closing tags count once).

    Unknown or stray end tags are ignored; an end tag closes every element opened after
    its start tag, as an HTML parser would.
    """
    # The same walk as _scan, without building tag objects: this runs once per variant.
    text = _blank_jinja(source)
    stack: list[str] = []
    open_names: dict[str, int] = {}
    deepest = 0
    position = 0
    search = _TAG.search
    while (match := search(text, position)) is not None:
        position = match.end()
        close, name, attrs = match.group("close", "name", "attrs")
        if name is None:
            continue
        name = name.lower()
        if close is not None:
            _close(stack, open_names, name)
        elif name not in _VOID and not attrs.rstrip().endswith("/"):
            stack.append(name)
            open_names[name] = open_names.get(name, 0) + 1
            deepest = max(deepest, len(stack))
            if name in _RAW_TEXT and (position := _raw_text_end(text, name, position)) < 0:
                break
    return deepest


def check_markup(source: Source, *, max_depth: int = 200, max_bytes: int = 1_000_000) -> None:
    """Check a layout or module body for markup that must never reach a recipient.

    Reports unbalanced or mismatched ``mj-*``/``mjml`` tags, ``<script>``, ``<iframe>``,
    ``<object>``, ``<embed>`` (and frames, applets, portals), ``<base>``, SVG animation
    (``<animate>``, ``<set>``, ``<animateMotion>``, ``<animateTransform>``) and
    ``<meta http-equiv="refresh">`` elements, ``on*=`` event-handler attributes, a ``"``
    inside a single-quoted attribute value, literal ``javascript:``/``vbscript:`` URLs (any
    URL of a ``srcset`` or ``ping`` list), Jinja tokens in ``srcdoc=``, and markup over the
    size or depth limits; and what the MJML compiler would stop at without saying where:
    attributes it cannot read, a ``<`` that starts no tag, a comment with ``--`` inside, an
    element left open inside an ``mj-`` element. Jinja tokens are skipped, so
    ``{% if a > b %}`` inside a tag is fine.

    Args:
        source: The markup and the origin of each of its lines.
        max_depth: The deepest element nesting allowed.
        max_bytes: The largest markup allowed, in UTF-8 bytes.

    Raises:
        RegistryError: The first problem found, with the file and line it came from.
    """
    size = source_size(source.text, max_bytes)
    if size > max_bytes:
        raise RegistryError(
            f"markup is {size:,} bytes, the limit is {max_bytes:,}",
            file=source.origin(1)[0],
            hint=SIZE_HINT,
        )
    scanned = _blank_jinja(source.text)
    error = _Locator(source)
    mj_stack: list[_Tag] = []
    stack: list[str] = []
    open_names: dict[str, int] = {}
    # The HTML elements open inside the innermost mj- element, as the MJML compiler counts
    # them: an end tag closes the last one opened, whatever its name.
    inside: list[list[_Tag]] = [[]]
    too_deep: tuple[int, int] | None = None
    for tag in _scan(scanned, error):
        if not tag.closing:
            _check_tag(tag, scanned, source.text, error)
        is_mj = tag.name == "mjml" or tag.name.startswith("mj-")
        if tag.closing:
            _close(stack, open_names, tag.name)
            if is_mj:
                _close_mj(mj_stack, tag, error)
                opened = inside.pop() if len(inside) > 1 else []
                if too_deep is None:  # too deep is the worse news, told after the scan
                    _left_open(opened, tag, scanned, error)
            elif inside[-1]:
                inside[-1].pop()
            elif mj_stack:
                _stray_end(tag, mj_stack[-1], scanned, error)
        else:
            if not is_mj and _compiler_opens(tag, scanned):
                inside[-1].append(tag)
            if tag.self_closing:
                continue
            stack.append(tag.name)
            open_names[tag.name] = open_names.get(tag.name, 0) + 1
            if len(stack) > max_depth and (too_deep is None or len(stack) > too_deep[0]):
                too_deep = (len(stack), too_deep[1] if too_deep else tag.start)
            if is_mj:
                mj_stack.append(tag)
                inside.append([])
    if too_deep is not None:
        raise error(
            too_deep[1],
            f"markup nests {too_deep[0]} levels deep, the limit is {max_depth}",
            DEPTH_HINT,
        )
    if mj_stack:
        tag = mj_stack[-1]
        raise error(
            tag.start,
            f"<{tag.name}> opened on line {error.line(tag.start)} is never closed",
            f"add </{tag.name}> where the element ends",
        )


class _Locator:
    """Turns offsets in a source into located ``RegistryError``s."""

    def __init__(self, source: Source) -> None:
        self.source = source

    def origin(self, offset: int) -> tuple[str, int]:
        return self.source.origin(self.source.line_at(offset))

    def line(self, offset: int, *, relative_to: int | None = None) -> str:
        """``"4"``, or ``"4 of partials/x.mjml"`` when that differs from the reported file."""
        file, line = self.origin(offset)
        if relative_to is not None and self.origin(relative_to)[0] != file:
            return f"{line} of {file}"
        return str(line)

    def __call__(self, offset: int, message: str, hint: str) -> RegistryError:
        file, line = self.origin(offset)
        return RegistryError(message, file=file, line=line, hint=hint)


def _check_tag(tag: _Tag, scanned: str, original: str, error: _Locator) -> None:
    written = original[tag.start : tag.end]
    if tag.name in _REFUSED:
        message = f"<{tag.name}> elements are not allowed: {short_repr(written)}"
        raise error(tag.start, message, _REFUSED[tag.name])
    for match in _ATTR.finditer(tag.attrs):
        name = match.group(1).lower()
        value_group = next((g for g in (2, 3, 4) if match.group(g) is not None), None)
        value = "" if value_group is None else match.group(value_group)
        shown = "" if value_group is None else _original(match, value_group, tag, original)
        # MRML writes rel='a"b' back as rel="a\" b"="", which restore cannot parse, so the
        # render-time checks would skip this element. Quotes inside tokens are blanked.
        if value_group == 3 and '"' in value:
            raise error(
                tag.start,
                f'{name}={short_repr(shown)} on <{tag.name}> holds a " inside single quotes',
                "the MJML compiler turns it into a broken attribute that the link and style "
                'checks cannot read; write &quot; for the ", or put double quotes around a '
                'value without "',
            )
        if tag.name == "meta" and name == "http-equiv" and _is_refresh(shown):
            raise error(
                tag.start,
                f"<meta http-equiv={short_repr(shown)}> is not allowed: {short_repr(written)}",
                "a refresh sends the reader to another page, and only a literal value shows it "
                "is none; remove the element, or link to the page with <a href>",
            )
        if name == "srcdoc" and (token := TOKEN.search(shown)):
            raise error(
                tag.start,
                f"Jinja tag {token.group()!r} in srcdoc= of <{tag.name}>",
                "a srcdoc is read as a page of its own after its entities are decoded, so "
                "escaped data would become markup there; remove the token",
            )
        if len(name) > 2 and name.startswith("on"):
            raise error(
                tag.start,
                f"event-handler attribute {name}={short_repr(shown)} is not allowed "
                f"on <{tag.name}>",
                "email clients never run scripts; remove the attribute",
            )
        if _is_url_attr(name) and _is_script_url(shown or value, _URL_LISTS.get(name)):
            raise error(
                tag.start,
                f"{name}={short_repr(shown)} on <{tag.name}> is a script URL",
                "use an http:, https:, mailto: or tel: URL",
            )
    # After the checks above, which read unquoted values too: what they refuse, say first.
    check_attributes(
        tag.name,
        tag.attrs,
        start=tag.attrs_start,
        original=original,
        end=tag.end,
        raise_at=error,
    )


def _original(match: re.Match[str], group: int, tag: _Tag, original: str) -> str:
    """The attribute value as written (Jinja tokens included), not as scanned."""
    start, end = match.span(group)
    return original[tag.attrs_start + start : tag.attrs_start + end]


def _close_mj(mj_stack: list[_Tag], tag: _Tag, error: _Locator) -> None:
    if mj_stack and mj_stack[-1].name == tag.name:
        mj_stack.pop()
        return
    here = error.line(tag.start)
    if not mj_stack:
        raise error(
            tag.start,
            f"</{tag.name}> on line {here} has no matching <{tag.name}>",
            f"remove it, or add <{tag.name}> where the element starts",
        )
    opened = mj_stack[-1]
    if any(outer.name == tag.name for outer in mj_stack):
        hint = f"close <{opened.name}> with </{opened.name}> first"
    else:
        hint = f"remove this </{tag.name}>, or add the missing <{tag.name}>"
    raise error(
        tag.start,
        f"</{tag.name}> on line {here} closes <{opened.name}> opened on line "
        f"{error.line(opened.start, relative_to=tag.start)}",
        hint,
    )


def _compiler_opens(tag: _Tag, scanned: str) -> bool:
    """Whether the MJML compiler waits for an end tag after this start tag: it closes only
    lower-case void elements (``<br>``, not ``<BR>``) and tags written with ``/>``."""
    return not tag.attrs.rstrip().endswith("/") and _written(tag, scanned) not in MRML_VOID


def _left_open(opened: list[_Tag], end: _Tag, scanned: str, error: _Locator) -> None:
    """Refuse an HTML element still open at ``end`` (an mj- end tag): the compiler would
    match the end tag to it and fail at the end of the document, naming no line."""
    if not opened:
        return
    tag = opened[0]
    written = _written(tag, scanned)
    void = tag.name in MRML_VOID
    raise error(
        tag.start,
        f"<{written}> opened on line {error.line(tag.start)} is still open at </{end.name}> "
        f"on line {error.line(end.start, relative_to=tag.start)}",
        f"write <{tag.name}> or <{written}/>: the MJML compiler waits for an end tag after "
        "any other spelling"
        if void
        else f"close it with </{written}> before </{end.name}>: the MJML compiler needs every "
        "element inside mj- elements closed (void ones such as <br> and <img> need not be), and "
        "one cannot open in an mj-raw and close in another",
    )


def _stray_end(tag: _Tag, parent: _Tag, scanned: str, error: _Locator) -> None:
    """Refuse an end tag with nothing open inside ``parent``: the compiler would take it as
    the end of ``parent`` (and fail later, or compile what follows as raw HTML)."""
    written = _written(tag, scanned)
    raise error(
        tag.start,
        f"</{written}> on line {error.line(tag.start)} closes nothing inside <{parent.name}> "
        f"opened on line {error.line(parent.start, relative_to=tag.start)}",
        f"remove it, or add the missing <{written}>: the MJML compiler would end the "
        f"<{parent.name}> here",
    )


def _written(tag: _Tag, scanned: str) -> str:
    """The tag's name as written (``BR``), where ``tag.name`` is lower case."""
    start = tag.start + (2 if scanned[tag.start + 1] == "/" else 1)
    return scanned[start : start + len(tag.name)]


def _close(stack: list[str], open_names: dict[str, int], name: str) -> None:
    if not open_names.get(name):
        return
    while stack:
        popped = stack.pop()
        open_names[popped] -= 1
        if popped == name:
            return


def _scan(text: str, error: _Locator) -> Iterator[_Tag]:
    """Start and end tags in ``text``, skipping comments, CDATA and raw-text content.

    Refuses, in order, a ``<`` in text that starts no tag and a comment that the MJML
    compiler cannot read.
    """
    position = 0
    search = _TAG.search
    while (match := search(text, position)) is not None:
        check_text(text, position, match.start(), error)
        position = match.end()
        close, name, attrs = match.group("close", "name", "attrs")
        if name is None:
            if text.startswith("<!--", match.start()):
                check_comment(text, match.start(), position, error)
            continue
        name = name.lower()
        closing = close is not None
        self_closing = closing or name in _VOID or attrs.rstrip().endswith("/")
        yield _Tag(
            name, match.start(), match.end(), match.start("attrs"), attrs, closing, self_closing
        )
        if not self_closing and name in _RAW_TEXT:
            position = _raw_text_end(text, name, position)
            if position < 0:
                return
    check_text(text, position, len(text), error)


def _raw_text_end(text: str, name: str, position: int) -> int:
    """Where the end tag of raw-text element ``name`` starts, or -1 when it never ends.

    As in HTML, an unclosed raw-text element swallows the rest of the text.
    """
    end = re.compile(rf"</{re.escape(name)}\s*>", re.IGNORECASE).search(text, position)
    return -1 if end is None else end.start()


def _blank_jinja(text: str) -> str:
    """``text`` with every Jinja token replaced by spaces (newlines kept, offsets unchanged)."""
    if "{" not in text:
        return text
    return TOKEN.sub(_blank, text)


def _blank(match: re.Match[str]) -> str:
    return "\n".join(" " * len(part) for part in match.group().split("\n"))


def _is_url_attr(name: str) -> bool:
    return name in _URL_ATTRS or name.endswith(("-url", "-src", "-href", ":href"))


def _is_refresh(value: str) -> bool:
    """Whether an ``http-equiv`` value (Jinja tokens included) is, or may render as, refresh."""
    return bool(TOKEN.search(value)) or _CONTROL.sub("", html.unescape(value)).lower() == "refresh"


def _is_script_url(value: str, separator: re.Pattern[str] | None = None) -> bool:
    """Whether ``value`` (Jinja tokens included) may render as a script URL.

    The URL may start after any token: an ``{% else %}`` branch, or text after a value printed
    empty. So the text with every token left out is checked, and the text after each token.
    Browsers drop whitespace and control characters inside the scheme, and decode entities
    before they split a list (``separator``) into its URLs, each of which is checked.
    """
    runs = TOKEN.split(value) if "{" in value else [value]
    for index in range(len(runs)):
        if index and not runs[index]:
            continue
        text = html.unescape("".join(runs[index:]))
        urls = [text] if separator is None else separator.split(text)
        if any(_CONTROL.sub("", url).lower().startswith(_SCRIPT_SCHEMES) for url in urls):
            return True
    return False


def source_size(text: str, limit: int) -> int:
    """The UTF-8 size of ``text``, exact only when it is near or over ``limit``."""
    if len(text) * 4 <= limit:
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))
