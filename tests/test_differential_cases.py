"""Compile-once equals the reference path for the templates the compile review found apart.

Each case renders the same recipients both ways and compares the text parts exactly, the
HTML's ``canonical_html``, and the HTML with character references decoded (MJML and the
inliner write ``'`` where Jinja wrote ``&#39;``), so that a whitespace difference counts here
whatever ``canonical_html`` hides.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pytest

from personalize import Project
from personalize.testing import canonical_html
from projects import SETTINGS, make_project, module

FIELDS = SETTINGS.replace(
    'tier = {type = "str", default = "Bronze"}',
    'tier = {type = "str", default = "Bronze"}\nitems = {type = "list[str]", default = []}',
)
GOLD = {"id": "ann", "email": "ann@example.com", "first_name": "Ann", "tier": "Gold"}
SILVER = {"id": "bob", "email": "bob@example.com", "first_name": "Bob", "tier": "Silver"}
RECORDS = [
    {**GOLD, "items": ["a", "b"]},
    SILVER,
    {**SILVER, "id": "ob", "first_name": "O'Brien", "items": ["c"]},
]

CASES = {
    # 2: block tags inside HTML comments run in both parts.
    "comment-if": "Hi<!-- {% if tier == 'Gold' %} -->, gold member<!-- {% endif %} -->!",
    "comment-for": "<!-- {% for i in items %} --><p>{{ i }}</p><!-- {% endfor %} -->end",
    "comment-set": "<!-- {% set greeting = 'Hey' %} -->{{ greeting }} {{ first_name }}",
    # 3: strings with escaped quotes are tokens.
    "escaped-quote": "Hi {{ first_name }}, {{ 'here\\'s' }} your code",
    "escaped-quote-block": (
        "{% if first_name == 'O\\'Brien' %}Top o the morning{% else %}Hi{% endif %}"
    ),
    # 4: left whitespace controls strip the author's whitespace.
    "left-expression": "Hello {{- first_name }}!",
    "left-comment": "a {#- note #} b {# note -#} c",
    "left-pre": "<pre>a\n  {%- if tier == 'Gold' %}\n  b\n  {%- endif %}\nc</pre>",
    # 9: a right control before a <br> keeps the text part's line break.
    "right-before-br": "{{ first_name -}}<br/>{% if tier == 'Gold' %}Gold{% endif -%}\n<br/>end",
    "left-attributes": (
        "<a class=\"btn {%- if tier == 'Gold' %}-gold{% endif %}\" "
        'href="https://a.example/ {{- tier }}">Go</a>'
    ),
    # 5: a line break between an inline element and a block tag stays a space.
    "gap-if": (
        "\n  Dear <b>{{ first_name }}</b>\n  {% if tier == 'Gold' %}(our Gold member){% endif %}"
        '\n  <a href="https://a.example/">Shop</a>\n'
    ),
    "gap-loop": "<i>x</i>\n{% for i in items %}<b>{{ i }}</b>\n{% endfor %}\n<i>y</i>",
    "gap-blocks": (
        "<i>x</i>\n{% if items %}<b>some</b>{% endif %}\n{% if tier == 'Gold' %}<b>gold</b>"
        "{% endif %}\n<i>y</i>"
    ),
    "gap-br": "a<br/>\n  {% if tier == 'Gold' %}<a href=\"https://a.example/\">b</a>{% endif %}",
}


def _module(text: str) -> str:
    return module(
        "description: x",
        f"""
        <mj-section><mj-column>
          <mj-text>{text}</mj-text>
          {{% if items %}}<mj-table>
            {{% for i in items %}}
            <tr><td>{{{{ i }}}}</td></tr>
            {{% endfor %}}
          </mj-table>{{% endif %}}
        </mj-column></mj-section>
        """,
    )


def _project(root: Path, text: str, inliner: str = "css-inline") -> Project:
    settings = f'{FIELDS}\n[render]\ninliner = "{inliner}"\n'
    return Project.load(
        make_project(root, settings=settings, modules={"hero/default": _module(text)})
    )


def _same(project: Project, record: dict[str, Any]) -> None:
    fast = project.render("news", record)
    reference = project.render_reference("news", record)
    assert fast.text == reference.text
    assert canonical_html(fast.html) == canonical_html(reference.html)
    assert html.unescape(fast.html) == html.unescape(reference.html)


@pytest.mark.parametrize("case", CASES)
def test_compiled_equals_reference(tmp_path: Path, case: str) -> None:
    project = _project(tmp_path, CASES[case])
    for record in RECORDS:
        _same(project, record)


@pytest.mark.parametrize("case", ["comment-if", "left-expression", "right-before-br", "gap-if"])
def test_compiled_equals_reference_with_premailer(tmp_path: Path, case: str) -> None:
    project = _project(tmp_path, CASES[case], inliner="premailer")
    for record in RECORDS[:2]:
        _same(project, record)


@pytest.mark.parametrize(
    ("case", "record", "text"),
    [
        ("comment-if", SILVER, "Hi!"),
        ("escaped-quote", GOLD, "Hi Ann, here's your code"),
        ("left-expression", GOLD, "HelloAnn!"),
        ("right-before-br", GOLD, "Ann\nGold\nend"),
        ("gap-if", GOLD, "Dear Ann (our Gold member) Shop (https://a.example/)"),
        ("gap-loop", RECORDS[0], "x a b y"),
    ],
)
def test_the_text_part_is_what_the_author_wrote(
    tmp_path: Path, case: str, record: dict[str, Any], text: str
) -> None:
    email = _project(tmp_path, CASES[case]).render("news", record)
    assert email.text.startswith(f"{text}\n")


def test_controls_in_attributes_strip_the_authors_whitespace(tmp_path: Path) -> None:
    email = _project(tmp_path, CASES["left-attributes"]).render("news", GOLD)
    assert '<a class="btn-gold" href="https://a.example/Gold">Go</a>' in email.html


def test_a_loop_at_the_end_of_a_buttons_label_keeps_the_space_after_it(tmp_path: Path) -> None:
    hero = module(
        "description: x",
        """
        <mj-section><mj-column>
          <mj-button href="https://a.example/">{% for i in items %}{{ i }}{% endfor %}
          </mj-button>
        </mj-column></mj-section>
        """,
    )
    root = make_project(tmp_path, settings=FIELDS, modules={"hero/default": hero})
    project = Project.load(root)
    _same(project, RECORDS[0])
    assert ">ab\n  </a>" in project.render("news", RECORDS[0]).html
