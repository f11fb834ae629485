"""Variant compilation: assembly, once-per-variant caching, token survival, structure checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from personalize import Project, RecipientError, RegistryError, RenderError
from personalize.assemble import assemble
from personalize.compile import compile_document
from personalize.config import load_settings
from personalize.templating import make_environments
from personalize.testing import canonical_html
from personalize.text import normalize_text
from projects import ANN, HERO, LAYOUT, make_project, module


def test_assemble_fills_slots_and_adds_language_and_head() -> None:
    layout = '<mjml><mj-body><slot name="a"/><slot name="b" optional/></mj-body></mjml>'
    out = assemble(layout, {"a": "<A/>"}, locale="ar_EG", head=["<mj-title>T</mj-title>"], css=[])
    assert out == (
        '<mjml lang="ar-EG" dir="rtl"><mj-head><mj-title>T</mj-title></mj-head>'
        "<mj-body><A/></mj-body></mjml>"
    )


def test_assemble_keeps_a_declared_language_and_merges_css_into_the_head() -> None:
    layout = '<mjml lang="it"><mj-head><mj-title>x</mj-title></mj-head><mj-body/></mjml>'
    out = assemble(layout, {}, locale="de_DE", head=[], css=["a{}", "/* inline */b{}"])
    assert out == (
        '<mjml lang="it"><mj-head><mj-style>a{}</mj-style><mj-style inline="inline">b{}'
        "</mj-style><mj-title>x</mj-title></mj-head><mj-body/></mjml>"
    )


def test_each_variant_compiles_once(tmp_path: Path) -> None:
    project = Project.load(make_project(tmp_path))
    for name in ("Ann", "Bo", "Cy"):
        project.render("news", {**ANN, "first_name": name})
    project.render("news", {**ANN, "locale": "de_DE"})
    assert project.cache_info == {"size": 2, "hits": 2, "misses": 2, "merged": 0}


def test_subject_preheader_and_title_come_from_the_layout(tmp_path: Path) -> None:
    email = Project.load(make_project(tmp_path)).render("news", ANN)
    assert email.subject == "Hello Ann"
    assert email.preheader == "News for Ann"
    assert "<title>Hello Ann</title>" in email.html
    assert "News for Ann" in email.html  # the hidden preview text
    assert not re.search(r"zq\d+qz|\{\{|\{%", email.html + email.text)


def test_a_chosen_module_overrides_the_subject(tmp_path: Path) -> None:
    hero = module('subject: "VIP news, {{ first_name }}"', "<mj-section/>")
    project = Project.load(make_project(tmp_path, modules={"hero/default": hero}))
    assert project.render("news", ANN).subject == "VIP news, Ann"


def test_a_token_mjml_drops_is_reported_at_its_line(tmp_path: Path) -> None:
    hero = module(
        "description: x",
        """
        <mj-section>
          <mj-column width="{{ tier }}"><mj-text>x</mj-text></mj-column>
        </mj-section>
        """,
    )
    project = Project.load(make_project(tmp_path, modules={"hero/default": hero}))
    with pytest.raises(RenderError) as caught:
        project.render("news", ANN)
    assert str(caught.value) == (
        "modules/hero/default.mjml line 5 (recipient ann): MJML dropped {{ tier }} from width= "
        "of <mj-column> — MJML reads some attributes as numbers (width on mj-column/mj-image, "
        "title on mj-button…) and leaves out those the element does not have; use a literal "
        "value there, or an attribute <mj-column> has"
    )


def test_loops_over_columns_are_refused_at_load(tmp_path: Path) -> None:
    hero = module(
        "description: x",
        """
        <mj-section>
          {% for o in orders %}
          <mj-column><mj-text>{{ o.total }}</mj-text></mj-column>
          {% endfor %}
        </mj-section>
        """,
    )
    with pytest.raises(RegistryError) as caught:
        Project.load(make_project(tmp_path, modules={"hero/default": hero}))
    assert str(caught.value).startswith(
        "modules/hero/default.mjml line 5: {% for o in orders %} cannot wrap the children of "
        "<mj-section>"
    )


def test_loops_over_sections_and_rows_compile_once_for_any_length(tmp_path: Path) -> None:
    hero = module(
        "description: x",
        """
        {% for o in orders %}
        <mj-section><mj-column><mj-text>Order {{ loop.index }}: {{ o.total | money }}</mj-text>
        </mj-column></mj-section>
        {% endfor %}
        <mj-section><mj-column><mj-table>
          {% for o in orders %}<tr><td>{{ o.total }}</td></tr>{% endfor %}
        </mj-table></mj-column></mj-section>
        """,
    )
    project = Project.load(make_project(tmp_path, modules={"hero/default": hero}))
    orders = [{"at": "2026-11-20T10:00:00Z", "total": str(n)} for n in (5, 7, 9)]
    three = project.render("news", {**ANN, "orders": orders})
    none = project.render("news", ANN)
    assert three.html.count("Order ") == 3
    assert "Order 3: $9.00" in three.text
    assert "Order" not in none.html
    assert project.cache_info["misses"] == 1
    # All rows in one tbody: the loop sentinel was moved inside the tbody the inliner opened.
    assert re.search(r"<tbody>\s*(<tr><td[^>]*>[579]</td></tr>\s*){3}</tbody>", three.html)


def test_hero_module_default(tmp_path: Path) -> None:
    # The helper's fallback module renders its greeting into both parts.
    email = Project.load(make_project(tmp_path, modules={"hero/default": HERO})).render("news", ANN)
    assert "Hi Ann" in email.html
    assert "Hi Ann" in email.text


def test_conditions_that_hold_nothing_in_the_text_part_leave_its_template(tmp_path: Path) -> None:
    # The image is left out of the text part: its condition there would hold nothing.
    hero = module(
        "description: x",
        """
        <mj-section><mj-column><mj-text>
          {% if first_name %}{% if nickname %}<img src="https://x.example/a">{% endif %}{% endif %}
          {%- if first_name %}<img src="https://x.example/b">{% endif -%}
          {% if first_name %}Hi {{ first_name }}{% endif %}
        </mj-text></mj-column></mj-section>
        """,
    )
    project = Project.load(make_project(tmp_path, modules={"hero/default": hero}))
    email = project.render("news", {**ANN, "nickname": "A"})
    assert email.html.count("https://x.example/") == 2
    assert email.text == "Hi Ann\n"
    variant = project.variant("news", project.decide("news", ANN), "en_US")
    text = variant.text.source
    assert "nickname" not in text  # both conditions went, the inner one first
    # Whitespace controls were applied to the source, so that condition went too; the one
    # with content stays.
    assert text.count("if first_name") == 1
    assert "nickname" in variant.html.source  # the HTML still evaluates it


# -- compile_document: one document on its own, with the checks a project's layouts get -------


def _document(body: str) -> str:
    return (
        "<mjml><mj-body><mj-section><mj-column><mj-text>"
        f"{body}</mj-text></mj-column></mj-section></mj-body></mjml>"
    )


def _compile_document(tmp_path: Path, body: str) -> tuple[str, str]:
    root = make_project(tmp_path)
    settings = load_settings(root)
    html, text = compile_document(
        _document(body),
        file="doc.mjml",
        root=root,
        envs=make_environments(settings.limits),
        settings=settings,
    )
    data = {"first_name": "Ann", "v": "V"}
    return html.render(data), normalize_text(text.render(data))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "{% raw %}{{ x }}{% endraw %}",
            "doc.mjml line 1: {% raw %} is not supported here — print a literal with "
            "{{ '{{' }} instead",
        ),
        (
            "{% include 'x.html' %}",
            "doc.mjml line 1: {% include %} is not supported — compose emails with layouts, "
            "slots and mj-include instead; reuse markup with a {% macro %}",
        ),
        (
            "{{ v.__class__ }}",
            "doc.mjml line 1: unsafe attribute '__class__' — names starting with '_' are not "
            "reachable from templates",
        ),
    ],
    ids=["raw", "include", "underscore"],
)
def test_a_document_gets_the_load_checks(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(RegistryError) as caught:
        _compile_document(tmp_path, body)
    assert str(caught.value) == message


def test_a_document_uses_any_names_its_mapping_holds(tmp_path: Path) -> None:
    _, text = _compile_document(tmp_path, "Hi {{ first_name }}, {{ v }}")
    assert text == "Hi Ann, V\n"


def test_a_linked_image_with_a_token_in_its_alt_compiles(tmp_path: Path) -> None:
    _, text = _compile_document(
        tmp_path,
        '<a href="https://e.com/shop"><img src="https://e.com/l.png" alt="{{ first_name }}">'
        " Visit our shop</a>",
    )
    assert text == "Visit our shop (https://e.com/shop)\n"


# -- markup a table would lose, included stylesheets and heads --------------------------------

TABLE_HINT = (
    "HTML parsers move text and elements out of a table, away from the tag, so every recipient "
    "would get them; in a column or hero, give an mj-raw table rows only (<tr><td>…</td></tr>), "
    "or put the content in an mj-text"
)
VIP_RAW = "<mj-raw>{% if tier == 'Gold' %}<p>VIP code: GOLD50</p>{% endif %}</mj-raw>"


def test_a_block_tag_around_content_a_table_would_lose_is_refused_at_load(tmp_path: Path) -> None:
    hero = module(
        "description: x",
        f"""
        <mj-section><mj-column>
          <mj-text>Hello</mj-text>
          {VIP_RAW}
        </mj-column></mj-section>
        """,
    )
    with pytest.raises(RegistryError) as caught:
        Project.load(make_project(tmp_path, modules={"hero/default": hero}))
    assert str(caught.value) == (
        "modules/hero/default.mjml line 6: {% if tier == 'Gold' %} wraps markup that MJML "
        f"writes straight into a table (<mj-raw> in <mj-column>) — {TABLE_HINT}"
    )


def test_the_same_content_in_a_layouts_column_is_refused_when_the_variant_compiles(
    tmp_path: Path,
) -> None:
    layout = LAYOUT.replace(
        '<slot name="hero"/>', '<mj-section><mj-column><slot name="hero"/></mj-column></mj-section>'
    )
    hero = module("description: x", VIP_RAW)
    project = Project.load(
        make_project(tmp_path, layouts={"news": layout}, modules={"hero/default": hero})
    )
    with pytest.raises(RegistryError) as caught:
        project.render("news", ANN)
    assert str(caught.value) == (
        "modules/hero/default.mjml line 4 (recipient ann): {% if tier == 'Gold' %} wraps markup "
        "that MJML "
        f"writes straight into a table (<mj-raw> in <mj-column>) — {TABLE_HINT}"
    )


HEAD_HINT = (
    "the head is compiled once per variant; only <mj-title> and <mj-preview> may hold "
    "{{ expressions }}"
)


@pytest.mark.parametrize(
    ("include", "partial", "message"),
    [
        (
            'type="css"',
            ".a { color: red; }\n.x { color: {{ tier }}; }",
            f"partials/p line 2: Jinja tag '{{{{ tier }}}}' in <mj-style> inside <mj-head> — "
            f"{HEAD_HINT}",
        ),
        (
            'type="css" css-inline="inline"',
            ".a { color: red; }\n{% if tier %}.x { color: red; }{% endif %}",
            f"partials/p line 2: Jinja tag '{{% if tier %}}' in <mj-style> inside <mj-head> — "
            f"{HEAD_HINT}",
        ),
        (
            "",
            "<mjml><mj-head>\n<mj-style>.x { color: {{ tier }} }</mj-style>\n</mj-head>"
            "<mj-body></mj-body></mjml>",
            f"partials/p line 2: Jinja tag '{{{{ tier }}}}' in <mj-style> inside <mj-head> — "
            f"{HEAD_HINT}",
        ),
        (
            "",
            "<mjml><mj-head>\n<mj-title>Hi {{ first_name }}</mj-title>\n</mj-head>"
            "<mj-body></mj-body></mjml>",
            "partials/p line 2: Jinja tag '{{ first_name }}' in <mj-title> inside <mj-head> — an "
            "included document's head is the same for everyone; write a personal title or "
            "preview in the layout's own <mj-title> or <mj-preview>",
        ),
        (
            "",
            "<mjml><mj-head>\n<mj-raw><script>alert(1)</script></mj-raw>\n</mj-head>"
            "<mj-body></mj-body></mjml>",
            "partials/p line 2: <script> elements are not allowed: '<script>' — email clients "
            "never run scripts; remove the element",
        ),
    ],
    ids=["css", "inline-css", "head-style", "head-title", "head-script"],
)
def test_included_stylesheets_and_heads_get_the_head_checks(
    tmp_path: Path, include: str, partial: str, message: str
) -> None:
    layout = LAYOUT.replace("<mjml>", f'<mjml><mj-include path="../partials/p" {include}/>')
    root = make_project(tmp_path, layouts={"news": layout}, extra={"partials/p": partial})
    with pytest.raises(RegistryError) as caught:
        Project.load(root)
    assert str(caught.value) == message


def test_a_documents_included_stylesheet_gets_the_head_checks(tmp_path: Path) -> None:
    (tmp_path / "brand.css").write_text(".x { color: {{ v }}; }", encoding="utf-8")
    with pytest.raises(RegistryError) as caught:
        _compile_document(tmp_path, 'x</mj-text><mj-include path="brand.css" type="css"/><mj-text>')
    assert str(caught.value) == (
        f"brand.css line 1: Jinja tag '{{{{ v }}}}' in <mj-style> inside <mj-head> — {HEAD_HINT}"
    )


def test_markers_avoid_the_text_of_included_stylesheets(tmp_path: Path) -> None:
    # "zq1qz" in the stylesheet would otherwise be taken for the first token and replaced.
    layout = LAYOUT.replace("<mjml>", '<mjml><mj-include path="../partials/p.css" type="css"/>')
    root = make_project(
        tmp_path, layouts={"news": layout}, extra={"partials/p.css": ".zq1qz { color: red }"}
    )
    email = Project.load(root).render("news", ANN)
    assert ".zq1qz { color: red }" in email.html
    assert "Hi Ann" in email.text


FIELDS = """
[render]
inliner = "{inliner}"

[recipient.fields]
bg = {{type = "url", default = "https://img.example/bg.png"}}
path = {{type = "str", default = "gold"}}
color = {{type = "str", default = "#00ff00"}}
vip = {{type = "bool", default = false}}
"""


def _body_project(
    tmp_path: Path, body: str, *, inliner: str = "css-inline", head: str = ""
) -> Project:
    layout = (
        f'---\nsubject: "Hi"\n---\n<mjml>{head}<mj-body>\n{body}\n<slot name="extra" optional/>'
        "</mj-body></mjml>\n"
    )
    root = make_project(
        tmp_path,
        settings=FIELDS.format(inliner=inliner),
        segments="segments: {}\n",
        layouts={"doc": layout},
        modules={},
    )
    return Project.load(root)


def _same_as_reference(project: Project, recipient: dict[str, object]) -> str:
    fast = project.render("doc", recipient)
    reference = project.render_reference("doc", recipient)
    assert fast.text == reference.text
    assert canonical_html(fast.html) == canonical_html(reference.html)
    return fast.html


def test_a_self_closing_head_gets_the_title_and_preview(tmp_path: Path) -> None:
    # MJML accepts <mj-head />; the subject's <mj-title> and <mj-preview> once went after it.
    project = _body_project(tmp_path, "<mj-section/>", head="<mj-head />")
    email = project.render("doc", {"id": "ann"})
    assert "<title>Hi</title>" in email.html
    _same_as_reference(project, {"id": "ann"})


@pytest.mark.parametrize(
    "head",
    [
        "<!-- <mj-head/> --><mj-head><mj-attributes/></mj-head>",
        "<!-- <mj-head> --><mj-head />",
        "<!-- <mj-title>Old</mj-title> --><mj-head />",
    ],
    ids=["head", "self-closing", "title"],
)
def test_a_commented_out_head_or_title_is_no_head(tmp_path: Path, head: str) -> None:
    # The title and preview once went into the comment, and MJML "dropped {{ _subject }}".
    project = _body_project(tmp_path, "<mj-section/>", head=head)
    assert "<title>Hi</title>" in _same_as_reference(project, {"id": "ann"})


COLUMN = "<mj-column><mj-text>x</mj-text></mj-column>"
BACKGROUNDS = {
    "section": f'<mj-section background-url="{{{{ bg }}}}">{COLUMN}</mj-section>',
    "full-width": f'<mj-section full-width="full-width" background-url="{{{{ bg }}}}">{COLUMN}'
    "</mj-section>",
    "wrapper": f'<mj-wrapper background-url="{{{{ bg }}}}"><mj-section>{COLUMN}</mj-section>'
    "</mj-wrapper>",
    "hero": '<mj-hero background-url="{{ bg | url }}" background-height="100px" '
    'background-width="600px"><mj-text>x</mj-text></mj-hero>',
    "path": f'<mj-section background-url="https://img.example/{{{{ path }}}}.png">{COLUMN}'
    "</mj-section>",
    "start-and-path": f'<mj-section background-url="{{{{ bg }}}}/{{{{ path }}}}.png">{COLUMN}'
    "</mj-section>",
}


@pytest.mark.parametrize("inliner", ["css-inline", "premailer"])
@pytest.mark.parametrize("element", list(BACKGROUNDS))
def test_a_background_url_token_renders_as_on_the_reference_path(
    tmp_path: Path, element: str, inliner: str
) -> None:
    # MJML copies background-url into url('…') of style=, background= and Outlook's VML src=.
    project = _body_project(tmp_path, BACKGROUNDS[element], inliner=inliner)
    for bg, path in [
        ("https://img.example/bg.png", "gold"),
        ("https://img.example/b%20g.jpg?a=1&b=2", "tiers/gold"),
        ("https://img.example/x", "123_a"),
    ]:
        html = _same_as_reference(project, {"id": "ann", "bg": bg, "path": path})
        assert re.search(r"url\('?https://img\.example/", html)


def test_quotes_and_parentheses_in_a_background_url_are_percent_encoded(tmp_path: Path) -> None:
    project = _body_project(tmp_path, BACKGROUNDS["start-and-path"])
    html = project.render(
        "doc", {"id": "ann", "bg": "https://img.example/p(1)'", "path": 'a b")'}
    ).html
    encoded = "https://img.example/p%281%29%27/a%20b%22%29.png"
    assert html.count(f"url('{encoded}')") == 2  # the <div>'s and the <table>'s style
    # The attributes that are no CSS only need HTML escaping.
    assert 'background="https://img.example/p(1)&#39;/a b&#34;).png"' in html


def test_a_background_url_must_be_an_http_url(tmp_path: Path) -> None:
    project = _body_project(tmp_path, BACKGROUNDS["section"])
    with pytest.raises(RecipientError) as caught:
        project.render("doc", {"id": "ann", "bg": "mailto:ann@example.com"})
    assert str(caught.value) == (
        "templates/doc.mjml line 5 (recipient ann): bg: expected an http(s) URL inside url(…), "
        "got 'mailto:ann@example.com' — only http and https addresses may come from data in a "
        "CSS url(…)"
    )


BLOCK_URLS = {
    "href-start": '<mj-section><mj-column><mj-button href="{% if vip %}{{ bg }}{% else %}'
    'https://x.example/{% endif %}">x</mj-button></mj-column></mj-section>',
    "href-path": '<mj-section><mj-column><mj-button href="https://x.example/{% if vip %}'
    '{{ path }}{% endif %}">x</mj-button></mj-column></mj-section>',
    "raw-start": "<mj-raw><div style=\"background:url('{% if vip %}{{ bg }}{% endif %}')\">x"
    "</div></mj-raw>",
    "raw-path": '<mj-raw><a href="{% if vip %}{{ bg }}{% endif %}/{{ path }}">x</a></mj-raw>',
}


@pytest.mark.parametrize("element", list(BLOCK_URLS))
def test_a_url_with_block_tags_renders_as_on_the_reference_path(
    tmp_path: Path, element: str
) -> None:
    project = _body_project(tmp_path, BLOCK_URLS[element])
    for vip in (True, False):
        html = _same_as_reference(project, {"id": "ann", "vip": vip, "path": "tiers/gold"})
        assert SHOWN[element] in html or not vip


SHOWN = {
    "href-start": 'href="https://img.example/bg.png"',
    "href-path": 'href="https://x.example/tiers/gold"',
    "raw-start": "url('https://img.example/bg.png')",
    "raw-path": 'href="https://img.example/bg.png/tiers/gold"',
}


IMPORTANT = "<mj-head><mj-style>.brand div { color: #17324D !important; }</mj-style></mj-head>"


def test_a_value_an_important_rule_overrides_renders_as_on_the_reference_path(
    tmp_path: Path,
) -> None:
    # css-inline replaces the declaration holding the token with the rule's: so it does for
    # every recipient when Jinja renders first.
    body = (
        '<mj-section><mj-column><mj-text css-class="brand" color="{{ color }}">Hi</mj-text>'
        '<mj-text color="{{ color }}">There</mj-text></mj-column></mj-section>'
    )
    project = _body_project(tmp_path, body, head=IMPORTANT)
    html = _same_as_reference(project, {"id": "ann", "color": "#ff0000"})
    assert 'color: #17324D !important">Hi' in html
    assert 'color:#ff0000;">There' in html


def test_a_block_tag_an_important_rule_drops_names_the_inliner_and_the_rule(
    tmp_path: Path,
) -> None:
    body = (
        '<mj-section><mj-column><mj-text css-class="brand"\n'
        ' color="{% if vip %}#ff0000{% else %}#00ff00{% endif %}">Hi</mj-text>'
        "</mj-column></mj-section>"
    )
    project = _body_project(tmp_path, body, head=IMPORTANT)
    with pytest.raises(RenderError) as caught:
        project.render("doc", {"id": "ann"})
    assert str(caught.value) == (
        "templates/doc.mjml line 6 (recipient ann): the CSS inliner (css-inline) dropped "
        "{% if vip %} from style= of <div>: the rule '.brand div' overrides that declaration "
        "with !important — the rule's value wins for every recipient, and the tag goes with "
        "the declaration; choose the value in one expression instead ({{ a if tier else b }}), "
        "or take !important out of the rule"
    )


def test_a_declaration_the_inliner_drops_as_invalid_names_the_inliner(tmp_path: Path) -> None:
    # premailer leaves out 'color:#zq1qz' (no color), where it would keep '#00ff00': the
    # compiled path cannot render as Jinja-first would.
    body = (
        '<mj-section><mj-column><mj-text css-class="brand" color="#{{ color }}">Hi</mj-text>'
        "</mj-column></mj-section>"
    )
    project = _body_project(tmp_path, body, inliner="premailer", head=IMPORTANT)
    with pytest.raises(RenderError) as caught:
        project.render("doc", {"id": "ann", "color": "00ff00"})
    assert str(caught.value) == (
        "templates/doc.mjml line 5 (recipient ann): the CSS inliner (premailer) dropped "
        "{{ color }} from style= of <div> — it rewrites style attributes and leaves out "
        "declarations it reads as invalid or repeated; let one token hold the whole value "
        "({{ c }}, not #{{ c }}), and set each property once"
    )


def test_markup_mjml_refuses_is_located_at_the_module_line_it_stopped_at(tmp_path: Path) -> None:
    # A CDATA section in an mj-table passes the load; MJML refuses it at the render. The error
    # names the module and the line MJML stopped at, not an offset in the assembled source or
    # a line of the layout.
    hero = module(
        "description: x",
        """
        <mj-section><mj-column>
          <mj-text>Hi {{ first_name }}</mj-text>
          <mj-table>
            <tr><td>a</td></tr>
            <![CDATA[ b ]]>
          </mj-table>
        </mj-column></mj-section>
        """,
    )
    project = Project.load(make_project(tmp_path, modules={"hero/default": hero}))
    with pytest.raises(RenderError) as caught:
        project.render("news", ANN)
    error = caught.value
    assert (error.file, error.line) == ("modules/hero/default.mjml", 8)
    assert str(error).startswith(
        "modules/hero/default.mjml line 8 (recipient ann): MJML could not compile "
        "templates/news.mjml with modules/hero/default.mjml: "
    )
    assert "position" not in str(error)
