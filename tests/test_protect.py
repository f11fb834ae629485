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


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        (
            "<mj-social><!--zq1qz--><mj-social-element name='x' href='/x'>X</mj-social-element>"
            "<!--zq2qz--></mj-social>",
            "modules/m.mjml line 11: {% if a %} cannot wrap the children of <mj-social> — MJML "
            "writes a cell for each child; list the elements without a condition, or put the "
            "condition around the whole mj-social",
        ),
        (
            "<mj-social><mj-social-element name='x' href='/x'><!--zq1qz-->X<!--zq2qz-->"
            "</mj-social-element></mj-social>",
            "modules/m.mjml line 11: {% if a %} cannot wrap the children of <mj-social-element> "
            "— MJML writes the label's cell only for an element with content; put the condition "
            "around the whole mj-social, or print the label with an expression",
        ),
    ],
    ids=["around-elements", "label"],
)
def test_block_tags_in_social_icons_are_refused(tag: str, message: str) -> None:
    with pytest.raises(RegistryError) as caught:
        check_structure(tag, markers=M, tokens=_tokens("{% if a %}", "{% endif %}"))
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "token",
    [
        "{{ 'here\\'s' }}",
        '{{ "say \\"hi\\"" | upper }}',
        "{% if name == 'O\\'Brien' %}",
        "{{ name | replace('\"', '\\'') | urlencode }}",
    ],
)
def test_strings_with_escaped_quotes_stay_inside_their_token(token: str) -> None:
    protected = _protect(f'<mj-text>a {token} b</mj-text><mj-image alt="{token}"/>')
    first = "<!--zq1qz-->" if token.startswith("{%") else "zq1qz"
    assert protected.text == f'<mj-text>a {first} b</mj-text><mj-image alt="zq2qz"/>'
    assert [t.text for t in protected.tokens] == [token, token]


@pytest.mark.parametrize(
    ("source", "protected", "tokens"),
    [
        ("<p>Hello {{- name }}</p>", "<p>Hellozq1qz</p>", ["{{ name }}"]),
        ("<p>{{ name -}}\n  <br/>x</p>", "<p>zq1qz<br/>x</p>", ["{{ name }}"]),
        (
            '<mj-button css-class="btn {%- if a %}-gold{% endif %}">x</mj-button>',
            '<mj-button css-class="btnzq1qz-goldzq2qz">x</mj-button>',
            ["{% if a %}", "{% endif %}"],
        ),
        ("<p>a {#- note -#} b</p>", "<p>ab</p>", []),
        ("<p>a {# note #} {{- b }}</p>", "<p>a zq1qz</p>", ["{{ b }}"]),
        (
            "<pre>a\n  {%- if x -%}\n  b{% endif %}</pre>",
            "<pre>a<!--zq1qz-->b<!--zq2qz--></pre>",
            ["{% if x %}", "{% endif %}"],
        ),
    ],
    ids=["left", "right-before-br", "attribute", "comment", "comment-between", "pre"],
)
def test_whitespace_controls_strip_the_source_and_leave_the_tokens(
    source: str, protected: str, tokens: list[str]
) -> None:
    # Left in the compiled templates, a control would strip what MJML or the text converter
    # wrote next to the token (a <br>'s line break), not the author's whitespace.
    result = _protect(source)
    assert result.text == protected
    assert [t.text for t in result.tokens] == tokens
    assert result.reference == source  # Jinja applies them itself on the reference path


def test_a_line_break_run_between_an_inline_element_and_a_block_tag_is_kept_from_mjml() -> None:
    source = (
        "<mj-text>\n  Dear <b>{{ name }}</b>\n  {% if vip %}(VIP){% endif %}\n"
        "  <a href='/x'>Shop</a>{% if a %}\n{% endif %}\n</mj-text>"
    )
    result = _protect(source)
    assert result.text == (
        "<mj-text>\n  Dear <b>zq1qz</b>&#10;  <!--zq2qz-->(VIP)<!--zq3qz-->&#10;"
        "  <a href='/x'>Shop</a><!--zq4qz-->&#10;<!--zq5qz-->\n</mj-text>"
    )
    # The reference path renders the same runs, so both keep them for every recipient.
    assert result.reference == source.replace("</b>\n", "</b>&#10;").replace(
        "{% endif %}\n  <a", "{% endif %}&#10;  <a"
    ).replace("{% if a %}\n{% endif", "{% if a %}&#10;{% endif")


def test_the_edges_of_a_buttons_label_are_inline() -> None:
    # MJML writes the label into a link: whitespace at its end may show.
    result = _protect("<mj-button>{% for i in items %}{{ i }}{% endfor %}\n</mj-button>")
    assert result.text == "<mj-button><!--zq1qz-->zq2qz<!--zq3qz-->&#10;</mj-button>"


@pytest.mark.parametrize(
    "source",
    [
        "<mj-text>a<br/>\n  {% if x %}<a href='/x'>b</a>{% endif %}</mj-text>",  # block-level
        "<mj-table>{% for r in rs %}\n  <tr><td>x</td></tr>\n{% endfor %}</mj-table>",
        "<mj-column>\n  {% if x %}<mj-text>a</mj-text>{% endif %}\n</mj-column>",  # not content
        "<mj-text>a\n  {% if x %}b{% endif %}\n  c</mj-text>",  # text keeps its run in MJML
        '<mj-text title="a\n  {% if x %}b{% endif %}">c</mj-text>',  # an attribute value
    ],
    ids=["br", "rows", "between-components", "text", "attribute"],
)
def test_other_whitespace_is_left_to_mjml(source: str) -> None:
    result = _protect(source)
    assert "&#10;" not in result.text
    assert result.reference == source


def test_block_tags_inside_html_comments_are_marked_as_such() -> None:
    result = _protect("<mj-text>Hi<!-- {% if vip %} -->, VIP<!-- {% endif %} {{ x }} --></mj-text>")
    assert result.text == "<mj-text>Hi<!-- zq1qz -->, VIP<!-- zq2qz zq3qz --></mj-text>"
    assert [(t.in_tag, t.in_comment) for t in result.tokens] == [(True, True)] * 3


def test_block_tags_inside_html_comments_count_for_the_structure_rule() -> None:
    # Jinja runs them all the same: a loop in a comment would repeat the columns.
    protected = _protect(
        "<mj-section><!-- {% for p in ps %} --><mj-column><mj-text>x</mj-text></mj-column>"
        "<!-- {% endfor %} --></mj-section>"
    )
    with pytest.raises(RegistryError) as caught:
        check_structure(
            protected.text, markers=M, tokens={t.id: t for t in protected.tokens}, fragment=True
        )
    assert str(caught.value) == (
        "modules/hero/a.mjml line 5: {% for p in ps %} cannot wrap the children of <mj-section> — "
        "MJML sizes columns by their count per section; repeat whole sections, or loop inside "
        "one column (rows of an mj-table, or mj-text)"
    )
