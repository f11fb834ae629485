"""The fast lexer gives exactly Jinja's tokens and errors, and the sandboxes use it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from jinja2.lexer import Lexer

from personalize.config import LimitSettings
from personalize.templating import make_environments
from personalize.templating.lexer import FastLexer, fast_lexer

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = (
    {},
    {"trim_blocks": True},
    {"lstrip_blocks": True},
    {"trim_blocks": True, "lstrip_blocks": True, "keep_trailing_newline": True},
)
# Text made of the pieces tags are made of, so that openers, closers, whitespace control and
# raw blocks meet in every order.
PIECES = st.sampled_from(
    ["{", "}", "%", "#", "-", "+", " ", "\n", "\t", "x", "é", "raw", "endraw", "if", "{{", "}}"]
)
SOURCES = st.lists(PIECES, max_size=40).map("".join)


def _tokens(lexer: Lexer, source: str) -> list[Any] | tuple[str, str, int | None]:
    """The lexer's tokens, or the error it raises (type, message, line)."""
    try:
        return list(lexer.tokeniter(source, None))
    except jinja2.TemplateSyntaxError as exc:
        return (type(exc).__name__, exc.message or "", exc.lineno)


@pytest.mark.parametrize("options", OPTIONS, ids=str)
@settings(max_examples=300)
@given(source=SOURCES)
@example(source="{{{ x }}")
@example(source="{ {% raw %}{{ {% endraw %}")
@example(source="a {#- c -#} b {%- if x +%}")
@example(source="{%raw%}{% endraw")
@example(source="{")
def test_same_tokens_as_jinja(options: dict[str, bool], source: str) -> None:
    env = jinja2.Environment(**options)
    assert _tokens(FastLexer(env), source) == _tokens(Lexer(env), source)


def test_same_tokens_for_every_bundled_template() -> None:
    env = jinja2.Environment(keep_trailing_newline=True)
    files = sorted([*(ROOT / "templates").rglob("*.mjml"), *(ROOT / "modules").rglob("*.mjml")])
    assert len(files) >= 12
    for path in files:
        source = path.read_text(encoding="utf-8")
        assert _tokens(FastLexer(env), source) == _tokens(Lexer(env), source), path


def test_other_delimiters_keep_jinjas_root_rule() -> None:
    env = jinja2.Environment(line_statement_prefix="%", variable_start_string="[[")
    fast, slow = FastLexer(env), Lexer(env)
    assert fast.rules["root"][0].pattern.pattern == slow.rules["root"][0].pattern.pattern
    source = "a [[ x }}\n% if y\nb\n% endif\n"
    assert _tokens(fast, source) == _tokens(slow, source)


def test_default_delimiters_get_the_fast_root_rule() -> None:
    env = jinja2.Environment()
    fast, slow = FastLexer(env), Lexer(env)
    assert fast.rules["root"][0].pattern.pattern != slow.rules["root"][0].pattern.pattern
    assert fast.rules["root"][1:] == slow.rules["root"][1:]


def test_the_sandboxes_lex_with_it() -> None:
    envs = make_environments(LimitSettings())
    assert isinstance(envs.html.lexer, FastLexer)
    assert envs.text.lexer is fast_lexer(envs.text)
    # The HTML and text sandboxes lex alike, so they share one lexer, as get_lexer would.
    assert envs.html.lexer is envs.text.lexer
