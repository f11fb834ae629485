"""Jinja's lexer with a root rule that skips static text quickly; the tokens are the same."""

from __future__ import annotations

import re
from typing import Any

from jinja2.lexer import Lexer

__all__ = ["FastLexer", "fast_lexer"]

# Jinja's root rule is "(.*?)(?:" + tag openers + ")": a lazy prefix that tries every opener at
# every character, ~130 ns a character of static text. Compiled MJML is mostly static text
# (26 KB an email), so lexing was a fifth of building a variant. With the default delimiters
# and no line statements, every opener starts with "{" and one of "{%#", and at such a place
# one of them always matches ("{%" is a block when it is no raw block), so the lazy prefix
# ends at the first such place, or the rule fails where none is left: exactly what this
# possessive prefix matches, in a tight loop over other characters.
_SLOW_ROOT = "(.*?)(?:"
_FAST_ROOT = r"([^{]*+(?:\{(?![{%#])[^{]*+)*+)(?:"


class FastLexer(Lexer):
    """A ``Lexer`` whose root rule scans static text in C; the same tokens and errors."""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        if not _defaults(environment):
            return
        first, *rest = self.rules["root"]
        slow = first.pattern
        if slow.pattern.startswith(_SLOW_ROOT):
            fast = re.compile(_FAST_ROOT + slow.pattern[len(_SLOW_ROOT) :], slow.flags)
            self.rules["root"] = [first._replace(pattern=fast), *rest]


_LEXERS: dict[tuple[object, ...], FastLexer] = {}


def fast_lexer(environment: Any) -> FastLexer:
    """The environment's lexer, shared by environments that lex alike (as ``get_lexer``)."""
    key = (
        environment.block_start_string,
        environment.block_end_string,
        environment.variable_start_string,
        environment.variable_end_string,
        environment.comment_start_string,
        environment.comment_end_string,
        environment.line_statement_prefix,
        environment.line_comment_prefix,
        environment.trim_blocks,
        environment.lstrip_blocks,
        environment.newline_sequence,
        environment.keep_trailing_newline,
    )
    lexer = _LEXERS.get(key)
    if lexer is None:
        lexer = _LEXERS[key] = FastLexer(environment)
    return lexer


def _defaults(environment: Any) -> bool:
    return (
        environment.block_start_string == "{%"
        and environment.variable_start_string == "{{"
        and environment.comment_start_string == "{#"
        and environment.line_statement_prefix is None
        and environment.line_comment_prefix is None
    )
