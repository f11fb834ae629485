"""What the CSS inliner did to the tokens: an !important override, or a token it lost."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping

from .errors import RenderError
from .protect import Markers, Token
from .survival import OPEN_ATTRIBUTE, marker_numbers

__all__ = ["check_inlined"]


def check_inlined(
    before: str,
    after: str,
    expected: Mapping[int, Token],
    markers: Markers,
    *,
    inliner: str,
    inline: Callable[[str], str],
) -> None:
    """Every token of the compiled ``before`` is still in ``after``, the HTML with its CSS
    inlined by ``inline``, block tags as often as before.

    An expression may leave a ``style`` attribute where an ``!important`` rule replaces its
    declaration whatever its value, as it does when Jinja renders first. Only when a token
    went, ``inline`` runs again on a copy of ``before`` with each declaration that held it
    set to ``inherit`` (valid for every property) and its element marked: where a rule still
    replaces ``inherit``, it replaces any value; where ``inherit`` stays, the inliner dropped
    the token's declaration as invalid, which a recipient's value might not be.

    Raises:
        RenderError: naming the token's file and line, the inliner and the element.
    """
    was, now = Counter(marker_numbers(before, markers)), Counter(marker_numbers(after, markers))
    gone = [t for n, t in expected.items() if now[n] < was[n] or (t.block and now[n] != was[n])]
    if not gone:
        return
    marked: dict[str, list[tuple[Token, str | None, int]]] = {}  # mark → token, property, count

    def neutral(tag: re.Match[str]) -> str:
        style = _style(tag.group())
        inside = [(t, markers.expr(t.id)) for t in gone if markers.expr(t.id) in style]
        if not inside:
            return tag.group()
        name = f"data-{markers.prefix}p{len(marked)}{markers.suffix}"
        marked[name] = [(t, *_held(style, m)) for t, m in inside]
        texts = [m for _, m in inside]
        rewritten = _STYLE.sub(lambda s: s[1] + _inherit(s[2], texts), tag.group(2), count=1)
        return f"<{tag.group(1)} {name}{rewritten}>"

    styles = _marked_styles(inline(_START_TAG.sub(neutral, before)), markers)
    explained: Counter[int] = Counter()
    for name, inside in marked.items():
        for token, prop, count in inside:
            if prop is not None and _important(styles.get(name, ""), prop):
                if token.block:
                    raise _inliner_error(token, before, markers, inliner, _rule(after, prop))
                explained[token.id] += count  # the rule's value, as for every recipient
    for token in gone:  # elsewhere, each token stays where it was
        if token.block or was[token.id] - now[token.id] > explained[token.id]:
            copies = now[token.id] if now[token.id] > was[token.id] else 0
            raise _inliner_error(token, before, markers, inliner, copies=copies)


_START_TAG = re.compile(r"<([A-Za-z][\w:-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")
_STYLE = re.compile(r"""(\sstyle\s*=\s*)("[^"]*"|'[^']*')""", re.IGNORECASE)
_IMPORTANT = re.compile(r"!\s*important\s*$", re.IGNORECASE)
_CSS_RULE = re.compile(r"([^{}]*)\{([^{}]*)\}")
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.DOTALL | re.IGNORECASE)


def _style(tag: str) -> str:
    """The declarations of a start tag's ``style`` attribute (empty without one)."""
    found = _STYLE.search(tag)
    return found.group(2)[1:-1] if found else ""


def _marked_styles(html: str, markers: Markers) -> dict[str, str]:
    """The style of each element ``check_inlined`` marked, by its mark (``data-zqp0qz``)."""
    mark = re.compile(rf"\s(data-{re.escape(markers.prefix)}p\d+{re.escape(markers.suffix)})\b")
    return {
        found[1]: _style(tag.group())
        for tag in _START_TAG.finditer(html)
        if (found := mark.search(tag.group(2)))
    }


def _declarations(style: str) -> list[tuple[str, str]]:
    pairs = (part.partition(":") for part in style.split(";"))
    return [(name.strip().lower(), value) for name, colon, value in pairs if colon]


def _held(style: str, marker: str) -> tuple[str | None, int]:
    """The property whose declaration in ``style`` holds ``marker``, and how often that
    property's declarations hold it."""
    found = [(name, value.count(marker)) for name, value in _declarations(style)]
    prop = next((name for name, count in found if count), None)
    return prop, sum(count for name, count in found if name == prop)


def _inherit(quoted: str, markers: list[str]) -> str:
    """A quoted style value with each declaration that holds one of ``markers`` set to
    ``inherit``."""
    parts = quoted[1:-1].split(";")
    for i, part in enumerate(parts):
        name, colon, value = part.partition(":")
        if colon and any(m in value for m in markers):
            parts[i] = f"{name}: inherit"
    return quoted[0] + ";".join(parts) + quoted[-1]


def _important(style: str, prop: str) -> bool:
    """Whether ``style`` sets ``prop`` with ``!important`` (and not to ``inherit``)."""
    values = [v.strip().lower() for n, v in _declarations(style) if n == prop]
    return any(_IMPORTANT.search(v) for v in values) and "inherit" not in values


def _rule(html: str, prop: str) -> str:
    """The first rule in ``html``'s style blocks that sets ``prop`` ``!important``."""
    for block in _STYLE_BLOCK.finditer(html):
        for rule in _CSS_RULE.finditer(block.group(1)):
            if _important(rule.group(2), prop):
                return f"the rule '{' '.join(rule.group(1).split())}'"
    return "a rule"


def _inliner_error(
    token: Token, before: str, markers: Markers, inliner: str, rule: str = "", copies: int = 0
) -> RenderError:
    found = OPEN_ATTRIBUTE.search(before, 0, before.find(markers.expr(token.id)) + 1)
    message = f"the CSS inliner ({inliner}) dropped {token.text}"
    message += f" from {found['attr']}= of <{found['tag']}>" if found else ""
    if copies:
        message = f"the CSS inliner ({inliner}) copied {token.text} {copies} times"
    if rule:
        message += f": {rule} overrides that declaration with !important"
        hint = (
            "the rule's value wins for every recipient, and the tag goes with the declaration; "
            "choose the value in one expression instead ({{ a if tier else b }}), or take "
            "!important out of the rule"
        )
    elif found is not None and found["attr"].lower() == "style":
        hint = (
            "it rewrites style attributes and leaves out declarations it reads as invalid or "
            "repeated; let one token hold the whole value ({{ c }}, not #{{ c }}), and set each "
            "property once"
        )
    else:
        hint = "it parses the HTML again and moves or drops what it cannot place; check the markup"
    return RenderError(message, file=token.file, line=token.line, hint=hint)


# The start tag and attribute a marker (the match's last character) stands in, if any.
