"""Tokens, their markers, and restoring them in compiled HTML or text, with URL and CSS checks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .templating import url_filtered
from .tokencontexts import URL_CHECK, token_checks

__all__ = ["EXPR", "Markers", "Restored", "Token", "restore"]

# A Jinja expression: its whitespace controls (groups 1 and 3) and the expression (group 2).
EXPR = re.compile(r"\{\{([-+]?)(.*?)([-+]?)\}\}", re.S)


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
    ``contexts``, tokens that start a URL attribute are checked by ``_url``, tokens later in a
    link by ``_url_part`` (where the host is not settled yet), and tokens in CSS by ``_css``,
    whatever the template author wrote; in the address of a ``url(…)`` in a ``style``
    attribute (MJML's ``background-url``), by ``_css_url``. Static ``{{``,
    ``{%`` and ``{#`` that MJML or the inliner produced are escaped so Jinja prints them.
    """
    compiled = re.sub(r"\{(?=[{%#])", "{{ '{' }}", compiled)
    special = token_checks(compiled, markers, tokens) if contexts else {}
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
    if context == URL_CHECK and url_filtered(token.text):
        return token.text
    return f"{{{{{left} ({expression.strip()}) | {context} {right}}}}}"
