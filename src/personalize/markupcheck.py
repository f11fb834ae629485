"""Load-time markup checks: balanced mj- tags, refused elements and attributes, size, depth."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import NamedTuple

from .errors import RegistryError, short_repr
from .includes import Source
from .safevalues import URL_ATTRIBUTES

__all__ = ["DEPTH_HINT", "SIZE_HINT", "check_markup", "markup_depth", "source_size"]

# Jinja tokens may hold quotes, "<" and ">"; strings inside them are matched whole.
# Strings may hold backslash-escaped quotes, as Jinja's do: 'here\'s'.
_JINJA = re.compile(
    r"""\{\{(?:[^}"']|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\}(?!\}))*\}\}"""
    r"""|\{%(?:[^%"']|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|%(?!\}))*%\}"""
    r"""|\{\#.*?\#\}""",
    re.DOTALL,
)
# One leading "<" lets the regex engine skip text fast; possessive quantifiers keep a tag
# without its ">" linear.
_TAG = re.compile(
    r"""<(?:!--.*?-->|!\[CDATA\[.*?\]\]>"""
    r"""|(?P<close>/)?(?P<name>[A-Za-z][\w:.-]*+)"""
    r"""(?P<attrs>(?:[^>"']++|"[^"]*+"|'[^']*+')*+)>)""",
    re.DOTALL,
)
_ATTR = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
# Attributes as the MJML compiler reads them (in mj- tags and the HTML inside them alike): a
# name as in XML (a letter or "_", then letters, digits, "-", "_" and "."; one ":" may join a
# prefix, which may be empty), then optionally = and a quoted value; whitespace between
# attributes. Anything else stops it with no position, so load finds it first.
_NCNAME = r"[^\W\d][\w.-]*+"
_ATTR_NAME = re.compile(rf"(?:(?:{_NCNAME})?+:)?{_NCNAME}")
_QUOTED = r"""(?:"[^"]*+"|'[^']*+')"""
_READABLE_ATTRS = re.compile(rf"(?:\s++{_ATTR_NAME.pattern}(?:\s*+=\s*+{_QUOTED})?+)*+\s*+/?")
_VALUE = re.compile(rf"\s*+=\s*+({_QUOTED})?")
_SPACE = re.compile(r"\s*+")
_UNQUOTED = re.compile(r"[^\s>]*+")
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
    size or depth limits. HTML inside ``mj-text`` and friends need not
    balance. Jinja tokens are skipped, so ``{% if a > b %}`` inside a tag is fine.

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
    too_deep: tuple[int, int] | None = None
    for tag in _scan(scanned):
        if not tag.closing:
            _check_tag(tag, scanned, source.text, error)
        is_mj = tag.name == "mjml" or tag.name.startswith("mj-")
        if tag.closing:
            _close(stack, open_names, tag.name)
            if is_mj:
                _close_mj(mj_stack, tag, error)
        elif not tag.self_closing:
            stack.append(tag.name)
            open_names[tag.name] = open_names.get(tag.name, 0) + 1
            if len(stack) > max_depth and (too_deep is None or len(stack) > too_deep[0]):
                too_deep = (len(stack), too_deep[1] if too_deep else tag.start)
            if is_mj:
                mj_stack.append(tag)
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
        if name == "srcdoc" and (token := _JINJA.search(shown)):
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
    _check_attribute_syntax(tag, original, error)


def _check_attribute_syntax(tag: _Tag, original: str, error: _Locator) -> None:
    """Refuse attributes the MJML compiler cannot read (it says only "unable to parse").

    ``tag.attrs`` has its Jinja tokens blanked, so a token standing for a value
    (``href={{ url }}``) reads as a missing value, which it is to the compiler as well.
    """
    attrs = tag.attrs
    if _READABLE_ATTRS.fullmatch(attrs):
        return
    position, previous, quoted = 0, 0, False
    while True:
        start = _after_space(attrs, position)
        if _READABLE_ATTRS.fullmatch(attrs, start):  # only the end is left
            return
        glued = start == position > 0
        shown = _shown(original, tag, previous if glued else start)
        where = tag.attrs_start + (previous if glued else start)
        if glued and quoted:
            raise error(
                where,
                f"attribute {attrs[previous:start].split('=')[0].strip()!r} of <{tag.name}> "
                f"runs into the next one: {shown}",
                "the MJML compiler needs a space between attributes; add one after the "
                "closing quote",
            )
        name = None if glued else _ATTR_NAME.match(attrs, start)
        if name is None:
            raise error(
                where,
                f"<{tag.name}> has an attribute the MJML compiler cannot read: {shown}",
                "attribute names start with a letter or _ and hold letters, digits, -, _ and ., "
                "with at most one : (as in xlink:href); rename or remove the attribute",
            )
        value = _VALUE.match(attrs, name.end())
        if value is not None and value.group(1) is None:
            word = _unquoted(original, tag.attrs_start + attrs.index("=", name.end()) + 1)
            raise error(
                where,
                f"attribute {name.group()!r} of <{tag.name}> has a value without quotes: {shown}",
                "the MJML compiler needs quotes around every value; write "
                f'{name.group()}="{word or "…"}"',
            )
        position = name.end() if value is None else value.end()
        previous, quoted = start, value is not None


def _after_space(text: str, at: int) -> int:
    found = _SPACE.match(text, at)
    return found.end() if found else at


def _unquoted(original: str, at: int) -> str:
    """The value written without quotes after the ``=`` that ends at ``at``: a Jinja token
    whole (it may hold spaces), or the text up to a space or the tag's end."""
    at = _after_space(original, at)
    found = _JINJA.match(original, at) or _UNQUOTED.match(original, at)
    return found.group() if found else ""


def _shown(original: str, tag: _Tag, start: int) -> str:
    """The tag's attributes as written from ``start`` on (their first line), for messages."""
    return short_repr(original[tag.attrs_start + start : tag.end - 1].strip().split("\n")[0])


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


def _close(stack: list[str], open_names: dict[str, int], name: str) -> None:
    if not open_names.get(name):
        return
    while stack:
        popped = stack.pop()
        open_names[popped] -= 1
        if popped == name:
            return


def _scan(text: str) -> Iterator[_Tag]:
    """Start and end tags in ``text``, skipping comments, CDATA and raw-text content."""
    position = 0
    search = _TAG.search
    while (match := search(text, position)) is not None:
        position = match.end()
        close, name, attrs = match.group("close", "name", "attrs")
        if name is None:
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
    return _JINJA.sub(_blank, text)


def _blank(match: re.Match[str]) -> str:
    return "\n".join(" " * len(part) for part in match.group().split("\n"))


def _is_url_attr(name: str) -> bool:
    return name in _URL_ATTRS or name.endswith(("-url", "-src", "-href", ":href"))


def _is_refresh(value: str) -> bool:
    """Whether an ``http-equiv`` value (Jinja tokens included) is, or may render as, refresh."""
    return bool(_JINJA.search(value)) or _CONTROL.sub("", html.unescape(value)).lower() == "refresh"


def _is_script_url(value: str, separator: re.Pattern[str] | None = None) -> bool:
    """Whether ``value`` (Jinja tokens included) may render as a script URL.

    The URL may start after any token: an ``{% else %}`` branch, or text after a value printed
    empty. So the text with every token left out is checked, and the text after each token.
    Browsers drop whitespace and control characters inside the scheme, and decode entities
    before they split a list (``separator``) into its URLs, each of which is checked.
    """
    runs = _JINJA.split(value) if "{" in value else [value]
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
