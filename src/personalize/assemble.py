"""Assembly: layout + modules into one MJML document, and the string fix-ups around MJML."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from .filters import right_to_left
from .includes import Source
from .protect import Markers
from .registry import Layout

__all__ = [
    "Split",
    "assemble",
    "head_for",
    "lift_sentinels",
    "locator",
    "region_marks",
    "rows_inside_tbody",
    "scope_regions",
    "split_regions",
]

_SLOT_TAG = re.compile(r"<slot\b([^>]*?)/?>(?:\s*</slot>)?", re.IGNORECASE)
_SLOT_NAME = re.compile(r"""name\s*=\s*["']([^"']*)["']""")
# An HTML comment (to its end, or the text's if unclosed): a tag written in one is no tag.
_COMMENT = r"<!--.*?(?:-->|\Z)"
_MJML_OPEN = re.compile(rf"{_COMMENT}|<mjml\b([^>]*)>", re.S)
_HEAD_OPEN = re.compile(rf"{_COMMENT}|<mj-head\b([^>]*?)\s*(/?)>", re.S)
_CONDITIONAL = re.compile(r"<!--\[if ([^\]]+)\]>(.*?)<!\[endif\]-->", re.S)
INLINE_CSS = "/* inline */"


def region_marks(markers: Markers, index: int) -> tuple[str, str]:
    """The comments that fence the module filling slot ``index`` of a layout."""
    return (
        f"<!--{markers.prefix}b{index}{markers.suffix}-->",
        f"<!--{markers.prefix}e{index}{markers.suffix}-->",
    )


def assemble(
    layout: str,
    modules: Mapping[str, str],
    *,
    locale: str,
    head: Collection[str],
    css: Collection[str],
    fences: Sequence[str] = (),
    markers: Markers | None = None,
    scoped: bool = False,
) -> str:
    """Fill a layout's slots with module bodies and add the per-variant head.

    Works on raw sources (reference path) and protected ones (compile path) alike. With
    ``fences`` (slot names) and ``markers``, each filled slot is fenced by region comments so
    the compiled HTML can be cut into the layout's skeleton and one region per module. With
    ``scoped`` (raw sources), each module body is a ``{% with %}`` block, as the compile path
    makes its regions (``scope_regions``).
    """

    def fill(match: re.Match[str]) -> str:
        name = _slot_name(match.group(1))
        body = modules.get(name, "")
        if body and markers is not None and name in fences:
            begin, end = region_marks(markers, list(fences).index(name))
            return begin + body + end
        if body and scoped:
            return SCOPE[0] + body + SCOPE[1]
        return body

    text = _SLOT_TAG.sub(fill, layout)

    def root(match: re.Match[str]) -> str:
        attrs = match.group(1)
        if "lang=" not in attrs:
            attrs += f' lang="{locale.replace("_", "-")}"'
        if "dir=" not in attrs and right_to_left(locale):
            attrs += ' dir="rtl"'
        return f"<mjml{attrs}>"

    opened = _first_tag(_MJML_OPEN, text)
    if opened:
        text = text[: opened.start()] + root(opened) + text[opened.end() :]
    extra = "".join(head) + "".join(
        f'<mj-style inline="inline">{c.removeprefix(INLINE_CSS)}</mj-style>'
        if c.startswith(INLINE_CSS)
        else f"<mj-style>{c}</mj-style>"
        for c in css
    )
    if not extra:
        return text
    found = _first_tag(_HEAD_OPEN, text)
    if found and found.group(2):  # <mj-head />: MJML accepts it, and it gets content here
        head_element = f"<mj-head{found.group(1)}>{extra}</mj-head>"
        return text[: found.start()] + head_element + text[found.end() :]
    if found:
        return text[: found.end()] + extra + text[found.end() :]
    opened = _first_tag(_MJML_OPEN, text)
    at = opened.end() if opened else 0
    return text[:at] + f"<mj-head>{extra}</mj-head>" + text[at:]


def _first_tag(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """The first match of ``pattern`` (comments or a tag) that is the tag, not a comment."""
    return next((m for m in pattern.finditer(text) if not m.group().startswith("<!--")), None)


def _slot_name(attrs: str) -> str:
    match = _SLOT_NAME.search(attrs)
    return match.group(1) if match else ""


def head_for(layout: Layout, subject: str, preheader: str) -> list[str]:
    """The ``mj-title``/``mj-preview`` a layout needs, unless it writes its own."""
    text = re.sub(_COMMENT, "", layout.body.text, flags=re.S)  # a commented-out title is none
    head = [] if "<mj-title" in text else [f"<mj-title>{subject}</mj-title>"]
    if "<mj-preview" not in text:
        head.append(f"<mj-preview>{preheader}</mj-preview>")
    return head


def lift_sentinels(html: str, markers: Markers) -> str:
    """Move our comments out of Outlook conditional comments.

    Inside ``mj-wrapper`` MRML writes a child comment into its ``<!--[if mso | IE]>`` markup;
    the comment's ``-->`` would end that conditional early and leak Outlook-only tags to every
    client. Split the conditional around it: Outlook reads the same markup, others see none.
    """
    ours = re.compile(rf"<!--{re.escape(markers.prefix)}[be]?\d+{re.escape(markers.suffix)}-->")

    def split(match: re.Match[str]) -> str:
        condition, inner = match.group(1), match.group(2)
        if "<!--" not in inner:
            return match.group()
        out, pos = [], 0
        for found in ours.finditer(inner):
            if inner[pos : found.start()]:
                out.append(f"<!--[if {condition}]>{inner[pos : found.start()]}<![endif]-->")
            out.append(found.group())
            pos = found.end()
        if inner[pos:]:
            out.append(f"<!--[if {condition}]>{inner[pos:]}<![endif]-->")
        return "".join(out)

    return _CONDITIONAL.sub(split, html)


def rows_inside_tbody(html: str, markers: Markers) -> str:
    """Move loop sentinels that precede a table's first row into the ``<tbody>``.

    HTML5 parsers open ``<tbody>`` at the first ``<tr>``, after a ``{% for %}`` sentinel that
    precedes it; left there, the loop would repeat ``<tbody>``.
    """
    p, s = re.escape(markers.prefix), re.escape(markers.suffix)
    leading = re.compile(rf"(<table\b[^>]*>)((?:\s*<!--{p}\d+{s}-->)+)(\s*<tbody>)")
    return leading.sub(lambda m: m.group(1) + m.group(3) + m.group(2), html)


@dataclass(frozen=True)
class Split:
    """Compiled output cut at region fences: the skeleton with one hole per region."""

    skeleton: str
    regions: tuple[tuple[int, str], ...]  # (slot index, region text)


def split_regions(text: str, markers: Markers, holes: Mapping[int, str]) -> Split | None:
    """Cut ``text`` at the fences of every slot in ``holes`` (index → marker for the hole).

    Returns ``None`` when a fence is missing, repeated or out of order — the caller then
    compiles the variant whole, which is always correct, only slower to build.
    """
    regions: list[tuple[int, str]] = []
    skeleton: list[str] = []
    pos = 0
    for index in sorted(holes):
        begin, end = region_marks(markers, index)
        start = text.find(begin, pos)
        stop = text.find(end, start + len(begin)) if start >= 0 else -1
        if start < 0 or stop < 0 or text.count(begin) != 1 or text.count(end) != 1:
            return None
        skeleton += [text[pos:start], holes[index]]
        regions.append((index, text[start + len(begin) : stop]))
        pos = stop + len(end)
    skeleton.append(text[pos:])
    return Split("".join(skeleton), tuple(regions))


# A module's {% set %} and {% macro %} names stay inside it, in every form of a variant: in one
# template, each module that sets names is a {% with %} block (a block costs each render an
# assignment per name it reads; a module that sets none needs none); in pieces, its region's
# names are undone after it (templating.Composite). It still reads what the layout set before it.
SCOPE = ("{% with %}", "{% endwith %}")


def scope_regions(text: str, markers: Markers, scoped: Collection[int]) -> str:
    """Template source with the fences of the regions in ``scoped`` (slot indices) as the
    ``{% with %}`` block around each, and the other fences dropped."""
    p, s = re.escape(markers.prefix), re.escape(markers.suffix)

    def fence(match: re.Match[str]) -> str:
        return SCOPE[match[1] == "e"] if int(match[2]) in scoped else ""

    return re.sub(rf"<!--{p}([be])(\d+){s}-->", fence, text)


def strip_fences(text: str, markers: Markers) -> str:
    """Remove region fences (for the whole-variant fallback)."""
    p, s = re.escape(markers.prefix), re.escape(markers.suffix)
    return re.sub(rf"<!--{p}[be]\d+{s}-->", "", text)


def locator(
    source: str,
    layout: tuple[str, Source],
    regions: Mapping[int, Source],
    markers: Markers,
) -> Callable[[int], tuple[str, int | None]]:
    """The file and line of an offset in an assembled ``source`` (for a compiler's error).

    ``layout`` is the layout's text as assembled and its source. ``regions`` maps a fenced
    region's index (``region_marks``) to its module's source: an offset inside one is a line
    of that module; past one, the last line of the module before it. Before every module it is
    a line of the layout, less the lines the inserted head (above ``<mj-body``) added.
    """
    text, origin = layout
    spans = []
    for index, module in regions.items():
        begin, end = region_marks(markers, index)
        start = source.find(begin)
        if start >= 0:
            start += len(begin)
            spans.append((start, source.find(end, start), module))
    filled = sum(source.count("\n", start, stop) for start, stop, _ in spans)
    head = source.count("\n") - filled - text.count("\n")
    body = source.find("<mj-body")

    def locate(offset: int) -> tuple[str, int | None]:
        line = source.count("\n", 0, offset)
        for start, stop, module in spans:
            if start <= offset <= stop:
                return module.origin(source.count("\n", start, offset) + 1)
        before = [(start, stop, module) for start, stop, module in spans if stop < offset]
        if before:
            # MJML noticed only after a module ended (an unbalanced tag in it closed the
            # layout's element): its last line, where "on this line or above" holds.
            start, stop, module = before[-1]
            last = start + len(source[start:stop].rstrip())
            return module.origin(source.count("\n", start, last) + 1)
        if 0 <= body < offset:
            line -= head
        return origin.origin(max(line, 0) + 1)

    return locate
