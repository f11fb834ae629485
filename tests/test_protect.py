"""Token protection: markers in, the same tokens out, with their origins and context checks."""

from __future__ import annotations

import pytest

from personalize.errors import RegistryError, RenderError
from personalize.includes import Source
from personalize.protect import (
    Markers,
    Token,
    check_structure,
    choose_markers,
    protect,
    restore,
)

M = Markers()


def _protect(text: str, *, file: str = "modules/hero/a.mjml", first_line: int = 5):
    return protect(Source.from_text(text, file=file, first_line=first_line), markers=M, start=1)


def test_expressions_become_bare_markers_and_blocks_become_comments() -> None:
    protected = _protect("<mj-text>Hi {{ name }}{% if vip %}!{% endif %}</mj-text>")
    assert protected.text == "<mj-text>Hi zq1qz<!--zq2qz-->!<!--zq3qz--></mj-text>"
    assert [t.text for t in protected.tokens] == ["{{ name }}", "{% if vip %}", "{% endif %}"]
    assert [t.block for t in protected.tokens] == [False, True, True]


def test_block_tags_inside_attribute_values_stay_bare() -> None:
    protected = _protect('<mj-button css-class="{% if vip %}gold{% endif %}">Go</mj-button>')
    assert protected.text == '<mj-button css-class="zq1qzgoldzq2qz">Go</mj-button>'
    assert all(t.in_tag for t in protected.tokens)


def test_jinja_comments_vanish_and_keep_line_numbers() -> None:
    protected = _protect("{# a\nnote #}\n<mj-text>{{ x }}</mj-text>")
    assert protected.text == "\n<mj-text>zq1qz</mj-text>"
    assert protected.tokens[0].line == 7  # the body starts on file line 5


def test_token_origins_follow_includes() -> None:
    source = Source(
        "<mj-text>{{ a }}</mj-text>\n<mj-text>{{ b }}</mj-text>",
        (("templates/weekly.mjml", 9), ("partials/footer.mjml", 3)),
    )
    protected = protect(source, markers=M, start=10)
    assert [(t.id, t.file, t.line) for t in protected.tokens] == [
        (10, "templates/weekly.mjml", 9),
        (11, "partials/footer.mjml", 3),
    ]


def test_tokens_may_hold_quotes_and_angle_brackets() -> None:
    protected = _protect(
        """<mj-image alt="{{ name ~ ">" }}" src="{{ "x" if a < b else 'y' }}"/>"""
        """<mj-text>{% if a > 1 and b == "}}" %}x{% endif %}</mj-text>"""
    )
    assert protected.text == (
        '<mj-image alt="zq1qz" src="zq2qz"/><mj-text><!--zq3qz-->x<!--zq4qz--></mj-text>'
    )


def test_multi_line_attribute_values_are_folded_for_mjml() -> None:
    protected = _protect('<mj-text font-family="Helvetica,\n      Arial">x</mj-text>')
    assert protected.text == '<mj-text font-family="Helvetica, Arial">x</mj-text>'


def test_text_outside_tags_keeps_its_newlines() -> None:
    protected = _protect("<mj-text>\n  a\n  b\n</mj-text>")
    assert protected.text == "<mj-text>\n  a\n  b\n</mj-text>"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "<mj-text {{ attrs }}>x</mj-text>",
            "modules/hero/a.mjml line 5: Jinja tag '{{ attrs }}' sits inside a tag but outside "
            "an attribute value — put tokens inside quoted attribute values: "
            '<mj-image alt="{{ name }}"/>',
        ),
        (
            "<mjml><mj-head>\n<mj-style>.a { color: {{ c }} }</mj-style></mj-head></mjml>",
            "modules/hero/a.mjml line 6: Jinja tag '{{ c }}' in <mj-style> inside <mj-head> — "
            "the head is compiled once per variant; only <mj-title> and <mj-preview> may hold "
            "{{ expressions }}",
        ),
        (
            "<mjml><mj-head><mj-title>{% if a %}x{% endif %}</mj-title></mj-head></mjml>",
            "modules/hero/a.mjml line 5: Jinja tag '{% if a %}' in <mj-title> inside <mj-head> — "
            "the head is compiled once per variant; only <mj-title> and <mj-preview> may hold "
            "{{ expressions }}",
        ),
    ],
    ids=["in-tag", "in-style", "block-in-title"],
)
def test_misplaced_tokens_are_refused_with_their_line(text: str, message: str) -> None:
    with pytest.raises(RegistryError) as caught:
        _protect(text)
    assert str(caught.value) == message


def test_title_and_preview_may_hold_expressions() -> None:
    protected = _protect("<mjml><mj-head><mj-title>{{ s }}</mj-title></mj-head></mjml>")
    assert protected.text == "<mjml><mj-head><mj-title>zq1qz</mj-title></mj-head></mjml>"


def test_choose_markers_avoids_text_that_looks_like_a_marker() -> None:
    assert choose_markers(["plain"]) == Markers("zq", "qz")
    assert choose_markers(["we sell zq12qz widgets"]) == Markers("xj", "jx")


def _tokens(*texts: str) -> dict[int, Token]:
    return {
        n: Token(n, text, text.startswith("{%"), "modules/m.mjml", 10 + n, False)
        for n, text in enumerate(texts, start=1)
    }


def test_restore_puts_every_token_on_its_own_template_line() -> None:
    tokens = _tokens("{{ a }}", "{% if b %}", "{% endif %}")
    restored = restore("<p>zq1qz<!--zq2qz-->x<!--zq3qz--></p>", tokens, markers=M, contexts=False)
    assert restored.source == "<p>{#\n#}{{ a }}{#\n#}{% if b %}x{#\n#}{% endif %}</p>"
    assert {line: t.id for line, t in restored.lines.items()} == {2: 1, 3: 2, 4: 3}


def test_restore_escapes_static_jinja_delimiters() -> None:
    restored = restore("<style>a{#b{}{%c</style>", {}, markers=M, contexts=False)
    assert restored.source == "<style>a{{ '{' }}#b{}{{ '{' }}%c</style>"


@pytest.mark.parametrize(
    ("html", "token", "expected"),
    [
        ('<a href="zq1qz">x</a>', "{{ link }}", '<a href="{#\n#}{{ (link) | _url }}">x</a>'),
        ('<a href="zq1qz">x</a>', "{{ link | url }}", '<a href="{#\n#}{{ link | url }}">x</a>'),
        (
            '<a href="https://shop.example/?u=zq1qz">x</a>',
            "{{ id }}",
            '<a href="https://shop.example/?u={#\n#}{{ id }}">x</a>',
        ),
        (
            '<td style="color:zq1qz">x</td>',
            "{{ c }}",
            '<td style="color:{#\n#}{{ (c) | _css }}">x</td>',
        ),
        (
            '<td bgcolor="zq1qz">x</td>',
            "{{- c -}}",
            '<td bgcolor="{#\n#}{{- (c) | _css -}}">x</td>',
        ),
        ('<img alt="zq1qz">', "{{ name }}", '<img alt="{#\n#}{{ name }}">'),
        (
            '<!--[if mso]><v:fill src="zq1qz"/><![endif]-->',
            "{{ img }}",
            '<!--[if mso]><v:fill src="{#\n#}{{ (img) | _url }}"/><![endif]-->',
        ),
    ],
    ids=["href-start", "explicit-url", "href-query", "style", "bgcolor", "alt", "outlook-vml"],
)
def test_restore_checks_urls_and_css_by_context(html: str, token: str, expected: str) -> None:
    assert restore(html, _tokens(token), markers=M, contexts=True).source == expected


@pytest.mark.parametrize(
    ("html", "message"),
    [
        (
            '<a onclick="zq1qz">x</a>',
            "modules/m.mjml line 11: a token in the event handler onclick= of <a> — event "
            "handlers are not allowed in emails",
        ),
        (
            '<a href="java zq1qz">x</a>',
            "modules/m.mjml line 11: the link scheme in href= of <a> is not literal — start the "
            "URL with https://, mailto: or /, or let a token hold the whole URL: "
            'href="{{ link | url }}"',
        ),
    ],
    ids=["event-handler", "scheme-not-literal"],
)
def test_restore_refuses_unsafe_attribute_contexts(html: str, message: str) -> None:
    with pytest.raises(RenderError) as caught:
        restore(html, _tokens("{{ x }}"), markers=M, contexts=True)
    assert str(caught.value) == message


def test_loops_around_sections_and_column_children_are_fine() -> None:
    tokens = _tokens("{% for p in ps %}", "{% endfor %}")
    check_structure(
        "<mj-body><!--zq1qz--><mj-section><mj-column><mj-text>x</mj-text></mj-column>"
        "</mj-section><!--zq2qz--></mj-body>",
        markers=M,
        tokens=tokens,
    )
    check_structure(
        "<mj-column><!--zq1qz--><mj-text>x</mj-text><!--zq2qz--></mj-column>",
        markers=M,
        tokens=tokens,
    )


@pytest.mark.parametrize("width", ["", ' width="33%"'])
def test_loops_around_columns_are_refused(width: str) -> None:
    tokens = _tokens("{% for p in ps %}", "{% endfor %}")
    with pytest.raises(RegistryError) as caught:
        check_structure(
            f"<mj-section><!--zq1qz--><mj-column{width}><mj-text>x</mj-text></mj-column>"
            "<!--zq2qz--></mj-section>",
            markers=M,
            tokens=tokens,
        )
    assert str(caught.value) == (
        "modules/m.mjml line 11: {% for p in ps %} cannot wrap the children of <mj-section> — "
        "MJML sizes columns by their count per section; repeat whole sections, or loop inside "
        "one column (rows of an mj-table, or mj-text)"
    )


def test_block_tags_in_a_carousel_are_refused() -> None:
    with pytest.raises(RegistryError, match="cannot wrap the children of <mj-carousel>"):
        check_structure(
            "<mj-carousel><!--zq1qz--><mj-carousel-image src='x'/><!--zq2qz--></mj-carousel>",
            markers=M,
            tokens=_tokens("{% if a %}", "{% endif %}"),
        )


def test_token_expression() -> None:
    token = Token(1, "{{- links.shop | url -}}", False, "f", 1, True)
    assert token.expression == "links.shop | url"
    assert Token(2, "{% if a %}", True, "f", 1, False).expression == ""
