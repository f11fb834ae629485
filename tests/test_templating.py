"""The sandbox: load-time checks, resource limits, and located render errors."""

from __future__ import annotations

import time
from decimal import Decimal
from html.parser import HTMLParser
from types import MappingProxyType
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from jinja2.filters import do_indent, do_wordwrap
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

from personalize.config import LimitSettings
from personalize.errors import PersonalizeError, RecipientError, RegistryError, RenderError
from personalize.protect import Token
from personalize.templating import (
    CompiledTemplate,
    Composite,
    check_template,
    fresh,
    make_environments,
    printing,
    scan_template,
    sizes,
    url_filtered,
)

ENVS = make_environments(LimitSettings())
NAMES = {"first_name", "links", "cart", "items", "tier"}


def _origin(line: int) -> tuple[str, int]:
    return ("modules/hero/a.mjml", line + 4)


def _check(text: str) -> frozenset[str]:
    return check_template(ENVS.html, text, origin=_origin, names=NAMES).names


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{{ ''.__class__.__mro__ }}",
            "modules/hero/a.mjml line 5: unsafe attribute '__mro__' — names starting with '_' "
            "are not reachable from templates",
        ),
        (
            "{{ first_name['__class__'] }}",
            "modules/hero/a.mjml line 5: unsafe attribute '__class__' — names starting with '_' "
            "are not reachable from templates",
        ),
        (
            "x\n{{ first_name | attr('__class__') }}",
            "modules/hero/a.mjml line 6: template error: No filter named 'attr'. — |attr is "
            "disabled for safety",
        ),
        (
            "{{ first_name | uper }}",
            "modules/hero/a.mjml line 5: template error: No filter named 'uper'. — did you "
            "mean 'upper'?",
        ),
        (
            "\n\n{% if first_name %}",
            "modules/hero/a.mjml line 7: template syntax error: Unexpected end of template. Jinja "
            "was looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block "
            "that needs to be closed is 'if'.",
        ),
        (
            "Hi {{ frist_name }}",
            "modules/hero/a.mjml line 5: unknown name 'frist_name' — did you mean 'first_name'?",
        ),
        (
            "{% include 'x.html' %}",
            "modules/hero/a.mjml line 5: {% include %} is not supported — compose emails with "
            "layouts, slots and mj-include instead; reuse markup with a {% macro %}",
        ),
        (
            "a\n{% block greeting %}Hi{% endblock %}",
            "modules/hero/a.mjml line 6: {% block %} is not supported — compose emails with "
            "layouts, slots and mj-include instead; reuse markup with a {% macro %}",
        ),
        (
            "a\n{% raw %}{{ x }}{% endraw %}",
            "modules/hero/a.mjml line 6: {% raw %} is not supported here — print a literal with "
            "{{ '{{' }} instead",
        ),
        (
            "a\n{% set _budget = [10**9] %}",
            "modules/hero/a.mjml line 6: name '_budget' is reserved — names starting with '_' "
            "belong to personalize; choose another name",
        ),
        (
            "{% for _ in cart %}x{% endfor %}",
            "modules/hero/a.mjml line 5: name '_' is reserved — names starting with '_' belong "
            "to personalize; choose another name",
        ),
    ],
    ids=[
        "dunder-attr",
        "dunder-item",
        "attr-filter",
        "unknown-filter",
        "syntax",
        "unknown-name",
        "include",
        "block",
        "raw",
        "reserved-set",
        "reserved-loop-variable",
    ],
)
def test_templates_are_checked_before_any_recipient(text: str, message: str) -> None:
    with pytest.raises(RegistryError) as caught:
        _check(text)
    assert str(caught.value) == message


# -- filters whose result is markup built from data: refused in layouts and modules ------------

TOJSON = (
    "|tojson is not allowed in layouts and modules: its JSON keeps quotes unescaped, so "
    "recipient data inside an attribute could end it and add attributes — print the value "
    "itself, {{ value }}: it is HTML-escaped"
)
MARKUP_FILTER_CASES = {
    "tojson-in-attribute": ('<span data-track="{{ first_name | tojson }}">', 5, TOJSON),
    "tojson-by-map": ("a\n{{ items | map('tojson') | join }}", 6, TOJSON),
    "tojson-filter-block": ("a\n\n{% filter tojson %}{{ tier }}{% endfilter %}", 7, TOJSON),
    "xmlattr": (
        "<span {{ links | xmlattr }}>",
        5,
        "|xmlattr is not allowed in layouts and modules: it writes whole attributes, so "
        "recipient data could add attributes of its own — write each attribute out, "
        'title="{{ value }}": the value is HTML-escaped',
    ),
    "urlize": (
        "<p>\n{{ first_name | urlize }}</p>",
        6,
        "|urlize is not allowed in layouts and modules: it turns text into <a href> links, so "
        "recipient data could add links that no URL check sees — write the link out, "
        '<a href="{{ value | url }}">…</a>: the URL is checked and escaped',
    ),
}


@pytest.mark.parametrize(
    ("text", "line", "message"), MARKUP_FILTER_CASES.values(), ids=MARKUP_FILTER_CASES.keys()
)
def test_filters_that_build_markup_from_data_are_refused_in_html(
    text: str, line: int, message: str
) -> None:
    with pytest.raises(RegistryError) as caught:
        _check(text)
    assert str(caught.value) == f"modules/hero/a.mjml line {line}: {message}"
    # Subjects, preheaders and the text part are plain text: the filters stay there.
    check_template(ENVS.text, text, origin=_origin, names=NAMES)


def test_the_html_environment_lacks_the_markup_filters() -> None:
    assert {"tojson", "xmlattr", "urlize"}.isdisjoint(ENVS.html.filters)
    assert {"tojson", "xmlattr", "urlize"} <= set(ENVS.text.filters)
    # A name built at render time finds no filter either.
    template = _template("{{ items | map(first_name) | join }}")
    with pytest.raises(RenderError, match="No filter named 'tojson'"):
        template.render(_context(items=["a"], first_name="tojson"))


def test_indent_escapes_a_width_from_data_around_markup() -> None:
    # Jinja marks a text width safe as it is when the value is markup (a {% set %} block, a
    # macro's caller(), |e): a width from data then wrote markup.
    source = '{% set b %}x\ny{% endset %}<p title="{{ b | indent(v, true) }}">'
    out = _template(source).render(_context(v='" onclick="x() '))
    assert out == '<p title="&#34; onclick=&#34;x() x\n&#34; onclick=&#34;x() y">'
    # A plain value stays plain, escaped once when printed.
    out = _template("{{ v | indent('> ') }}").render(_context(v="a\n<b>"))
    assert out == "a\n&gt; &lt;b&gt;"


def test_truncate_shorter_than_its_end_is_a_located_argument_error() -> None:
    # Jinja asserts it, and a bare AssertionError escaped the render unlocated.
    template = _template("{{ v | truncate(2, true, '...') }}|{{ v | truncate(4) }}")
    with pytest.raises(RenderError) as caught:
        template.render(_context(v="abcdef"))
    assert caught.value.message == (
        "FilterArgumentError: truncate: the length (2) is shorter than the end it adds ('...')"
    )
    assert _template("{{ v | truncate(4) }}").render(_context(v="abcdefghijkl")) == "a..."


# Every filter of the HTML environment, with hostile data as its value and as its arguments:
# printed inside a double-quoted attribute and as text, data adds no attribute or element.
HOSTILE = "\" onmouseover=alert(1) x='<b>t</b>' \n\n https://evil.example/ a@b.example &quot;"
FILTER_CALLS = {
    "abs": [""], "batch": ["(2, v)"], "capitalize": [""], "center": ["(90)"], "count": [""],
    "css": [""], "d": ["(v)"], "date": [""], "datetime": [""], "default": ["(v, true)"],
    "dictsort": [""], "e": [""], "escape": [""], "filesizeformat": [""], "first": [""],
    "float": [""], "forceescape": [""], "format": ["(v)"], "groupby": ["('a')"],
    "indent": ["(v, true, true)"], "int": [""], "items": [""], "join": ["(v)"], "last": [""],
    "length": [""], "list": [""], "lower": [""], "map": ["('upper')"], "max": [""], "min": [""],
    "money": [""], "number": [""], "percent": [""], "pprint": [""], "random": [""],
    "reject": [""], "rejectattr": ["('a')"], "relative": [""], "replace": ["('o', v)", "('&', v)"],
    "reverse": [""], "round": [""], "select": [""], "selectattr": ["('a')"], "slice": ["(2)"],
    "sort": [""], "string": [""], "striptags": [""], "sum": [""], "time": [""], "title": [""],
    "trim": ["(v)"], "truncate": ["(30, true, w)"], "unique": [""], "upper": [""], "url": [""],
    "urlencode": [""], "wordcount": [""], "wordwrap": ["(10, true, v)"],
}  # fmt: skip
# |safe prints its value as markup by design (lint's L401); names with _ are personalize's.
UNAUDITED = {"safe"}


def test_every_html_filter_is_audited() -> None:
    public = {name for name in ENVS.html.filters if not name.startswith("_")}
    assert public - UNAUDITED == set(FILTER_CALLS)


class _Shape(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, tuple[str, ...]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(name for name, _ in attrs)))


@pytest.mark.parametrize(
    "expression",
    [
        f"{base} | {name}{args}"
        for name, calls in FILTER_CALLS.items()
        for args in calls
        for base in ("v", "(v | e)", "b", "('%s' | safe)", "[v, v]")
    ],
)
def test_no_html_filter_lets_data_add_markup(expression: str) -> None:
    printed = f"{{{{ {expression} }}}}"
    source = f'{{% set b %}}{{{{ v }}}}{{% endset %}}<span title="{printed}">{printed}</span>'
    try:
        out = _template(source).render(_context(v=HOSTILE, w='"><b x="'))
    except PersonalizeError:
        return  # the filter takes no text (|abs, |date…)
    shape = _Shape()
    shape.feed(out)
    assert shape.tags == [("span", ("title",))], out


# Python compiles a template into a function: it allows 20 nested loops, 100 indents and 200
# brackets (a chain of 198 filters or attributes), and Jinja's parser recurses at each bracket.
# (A chain of filters takes seconds to compile, in Jinja's optimizer: attributes stand in.)
TOO_DEEP_CASES = {
    "21-nested-for": "".join(f"{{% for a{i} in cart %}}" for i in range(21)) + "{% endfor %}" * 21,
    "99-nested-if": "{% if tier %}" * 99 + "x" + "{% endif %}" * 99,
    "198-chained-attributes": "{{ links" + ".shop" * 198 + " }}",
    "100-nested-parentheses": "{{ " + "(" * 100 + "first_name" + ")" * 100 + " }}",
    "2000-nested-lists": "{{ " + "[" * 2000 + "first_name" + "]" * 2000 + " }}",
}


@pytest.mark.parametrize("text", TOO_DEEP_CASES.values(), ids=TOO_DEEP_CASES.keys())
def test_a_template_that_nests_too_deeply_is_a_located_error(text: str) -> None:
    with pytest.raises(RegistryError) as caught:
        _check("\n\n" + text)
    assert str(caught.value) == (
        "modules/hero/a.mjml line 5: template nests too deeply to compile — nest fewer "
        "{% for %} and {% if %} blocks, and chain fewer filters, brackets or attributes in one "
        "expression"
    )


def test_lint_skips_the_names_of_a_template_too_deep_to_parse() -> None:
    text = TOO_DEEP_CASES["2000-nested-lists"]
    assert scan_template(ENVS.html, text, names=NAMES) is None


def test_a_compiled_template_that_nests_too_deeply_is_a_located_render_error() -> None:
    source = "{% if tier %}" * 99 + "x" + "{% endif %}" * 99
    with pytest.raises(RenderError) as caught:
        CompiledTemplate.build(
            ENVS.html, source, filename="<deep>", fallback=("templates/news.mjml", 7)
        )
    assert str(caught.value) == (
        "templates/news.mjml line 7: template nests too deeply to compile — nest fewer "
        "{% for %} and {% if %} blocks, and chain fewer filters, brackets or attributes in one "
        "expression"
    )


def test_check_reports_the_names_a_template_reads() -> None:
    assert _check("{% for i in cart %}{{ i.name }}{% endfor %}{{ tier }}{{ now }}") == {
        "cart",
        "tier",
        "now",
    }


@pytest.mark.parametrize(
    "text",
    [
        "{% if tier %}{% set label = 'many' %}{{ label }}{% endif %}",
        "{% if tier %}{% set label = 'a' %}{% else %}{% set label = 'b' %}{% endif %}{{ label }}",
        "{% for i in cart %}{% set label %}{{ i }}{% endset %}{{ label }}{% endfor %}",
    ],
    ids=["set-in-if", "set-in-both-branches", "block-set-in-loop"],
)
def test_a_name_the_template_sets_in_a_block_is_declared(text: str) -> None:
    assert "label" not in _check(text)


def test_undeclared_names_are_fine_under_default() -> None:
    assert "nickname" in _check("Hi {{ nickname | default('there') }}")


def _template(source: str, origins: dict[int, Token] | None = None, text: bool = False):
    env = ENVS.text if text else ENVS.html
    return CompiledTemplate.build(
        env, source, filename="<test>", origins=origins or {}, fallback=("templates/t.mjml", 1)
    )


def _context(**values: Any) -> dict[str, Any]:
    context = dict(ENVS.html.globals)
    context.update({"_budget": [LimitSettings().max_loop_iterations], "_warnings": []})
    context.update(values)
    return context


TOKEN = Token(7, "{{ nickname }}", False, "modules/hero/a.mjml", 12, False)


def test_printing_none_is_an_error_located_at_its_token() -> None:
    template = _template("Hi {#\n#}{{ nickname }}!", {2: TOKEN})
    with pytest.raises(RenderError) as caught:
        template.render(_context(nickname=None))
    assert str(caught.value) == (
        "modules/hero/a.mjml line 12: nickname: {{ nickname }} has no value for this recipient "
        "— declare a default for the field, or write {{ nickname | default('…') }}"
    )


def test_undefined_attributes_are_errors_located_at_their_token() -> None:
    token = Token(3, "{{ links.shop.deep }}", False, "modules/hero/b.mjml", 4, True)
    template = _template("x{#\n#}{{ links.shop.deep }}", {2: token})
    with pytest.raises(RenderError) as caught:
        template.render(_context(links=MappingProxyType({"shop": "https://x.example"})))
    assert str(caught.value) == (
        "modules/hero/b.mjml line 4: links.shop.deep: {{ links.shop.deep }}: 'str object' has "
        "no attribute 'deep' — declare the field in personalize.toml or give a default with "
        "|default('…')"
    )


MISSING_KEY_CASES = [
    (
        "a typo",
        "{{ links.shpo | url }}",
        {"shop": "https://x.example", "cart": "https://x.example/cart"},
        "modules/hero/b.mjml line 4: links.shpo: {{ links.shpo | url }}: field 'links' has no "
        "key 'shpo' — did you mean 'shop'?",
    ),
    (
        "nothing close",
        "{{ links.zzz }}",
        {"shop": "https://x.example", "cart": "https://x.example/cart"},
        "modules/hero/b.mjml line 4: links.zzz: {{ links.zzz }}: field 'links' has no key "
        "'zzz' — its keys: cart, shop",
    ),
    (
        "empty",
        "{{ links.shop }}",
        {},
        "modules/hero/b.mjml line 4: links.shop: {{ links.shop }}: field 'links' has no key "
        "'shop' — 'links' is empty for this recipient",
    ),
    (
        "unnamed parent",
        "{{ links['shop'].zzz }}",
        {"shop": {"a": "b"}},
        "modules/hero/b.mjml line 4: links: {{ links['shop'].zzz }}: the field has no key 'zzz' "
        "— its keys: a",
    ),
    (
        "many keys",
        "{{ links.zzz }}",
        {f"k{i:02}": "https://x.example" for i in range(12)},
        "modules/hero/b.mjml line 4: links.zzz: {{ links.zzz }}: field 'links' has no key "
        "'zzz' — its keys: k00, k01, k02, k03, k04, k05, k06, k07, k08, k09 and 2 more",
    ),
]


@pytest.mark.parametrize(
    ("expression", "links", "message"),
    [c[1:] for c in MISSING_KEY_CASES],
    ids=[c[0] for c in MISSING_KEY_CASES],
)
def test_a_key_a_mapping_field_lacks_is_named_with_its_keys(
    expression: str, links: dict[str, str], message: str
) -> None:
    token = Token(3, expression, False, "modules/hero/b.mjml", 4, True)
    template = _template("x{#\n#}" + expression, {2: token})
    with pytest.raises(RenderError) as caught:
        template.render(_context(links=MappingProxyType(links)))
    assert str(caught.value) == message


def test_filter_errors_get_the_location_and_field_of_their_token() -> None:
    token = Token(3, "{{ links.shop | url }}", False, "modules/hero/b.mjml", 9, True)
    template = _template('<a href="{#\n#}{{ links.shop | url }}">', {2: token})
    with pytest.raises(RecipientError) as caught:
        template.render(_context(links={"shop": "javascript:alert(1)"}))
    assert str(caught.value) == (
        "modules/hero/b.mjml line 9: links.shop: URL scheme 'javascript' is not allowed, got "
        "'javascript:alert(1)' — only http, https and mailto links may come from data"
    )


def test_values_are_escaped_and_never_rendered_as_templates() -> None:
    out = _template("<p>{{ v }}</p>").render(_context(v="{{ 7*7 }} <b>&'\"</b>"))
    assert out == "<p>{{ 7*7 }} &lt;b&gt;&amp;&#39;&#34;&lt;/b&gt;</p>"


def test_text_environment_does_not_escape_and_folds_whitespace() -> None:
    out = _template("Hi {{ v }}!", text=True).render(_context(v="Tom & Jerry <3\n\n  x"))
    assert out == "Hi Tom & Jerry <3 x!"


def test_mapping_keys_win_over_methods() -> None:
    out = _template("{{ cart.items }}").render(_context(cart=MappingProxyType({"items": 3})))
    assert out == "3"


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{{ 'a' * 10**9 }}", "over the limit of 2,000,000"),
        ("{{ 2 ** 100000 }}", "exponent 100000 is over the limit of 100"),
        ("{% for i in range(100000) %}x{% endfor %}", "range of 100,000 items is over the limit"),
        (
            "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
            "loops ran over the limit of 100,000 iterations per email",
        ),
        ("{{ '{0.__class__}'.format(v) }}", "unsafe or too costly"),
        ("{{ items.append(1) }}", "unsafe or too costly"),
        ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "recursion went too deep"),
    ],
    ids=["repeat", "power", "range", "nested-loops", "format", "mutation", "recursion"],
)
def test_costly_or_unsafe_operations_stop_quickly(source: str, fragment: str) -> None:
    started = time.perf_counter()
    with pytest.raises(RenderError) as caught:
        _template(source).render(_context(items=[], v="x"))
    assert fragment in str(caught.value)
    assert time.perf_counter() - started < 5


LOOPS = {
    "sized": "{% for a in items %}{% for b in items %}{% for c in items %}.{% endfor %}"
    "{% endfor %}{% endfor %}",
    "generators": "{% for a in items %}{% for b in items | select %}"
    "{% for c in items | map('abs') %}{% endfor %}{% endfor %}{% endfor %}",
    "loop-variables": "{% for a in items %}{% for b in items | select %}"
    "{% for c in items | select %}{{ loop.length }}{% endfor %}{% endfor %}{% endfor %}",
}
_ID = {source: name for name, source in LOOPS.items()}


def test_a_template_cannot_lift_its_loop_budget() -> None:
    # Refused at load (above); and were it compiled anyway, loops read the email's budget.
    source = "{% set _budget = [10**9] %}" + LOOPS["sized"]
    with pytest.raises(RenderError) as caught:
        _template(source).render(_context(items=tuple(range(1, 301))))
    assert "loops ran over the limit of 100,000 iterations per email" in str(caught.value)


@pytest.mark.parametrize("source", list(LOOPS.values()), ids=list(LOOPS))
def test_loops_over_data_count_towards_the_budget(source: str) -> None:
    # 300 × 300 × 300 is 27 million iterations: the budget of 100,000 stops it at once.
    started = time.perf_counter()
    with pytest.raises(RenderError) as caught:
        _template(source).render(_context(items=tuple(range(1, 301))))
    assert "loops ran over the limit of 100,000 iterations per email" in str(caught.value)
    assert time.perf_counter() - started < 1
    # Within the budget the loops run as written: 30 + 900 + 27,000 iterations.
    out = _template(source).render(_context(items=tuple(range(1, 31))))
    assert (
        out
        == {"sized": "." * 27_000, "generators": "", "loop-variables": "30" * 27_000}[_ID[source]]
    )


def test_the_loop_budget_is_shared_by_the_parts_of_one_email() -> None:
    template = _template("{% for a in items %}{% for b in items %}{% endfor %}{% endfor %}")
    context = _context(items=tuple(range(200)))  # 200 + 200 × 200 = 40,200 iterations
    template.render(context)
    template.render(context)
    with pytest.raises(RenderError, match="loops ran over the limit"):
        template.render(context)  # a third part would take it over 100,000


def test_render_errors_are_personalize_errors_with_a_fallback_location() -> None:
    with pytest.raises(PersonalizeError) as caught:
        _template("{{ 1 / 0 }}").render(_context())
    assert str(caught.value) == "templates/t.mjml line 1: ZeroDivisionError: division by zero"


STR_CALLS = (
    "{{ s.startswith('de') }}|{{ s.upper() }}|{{ s.split('_') | join('+') }}|"
    "{{ s.strip('_').title() }}|{{ s.count('e', 1) }}|{{ s.partition('_')[2] }}"
)


@pytest.mark.parametrize("text", [False, True], ids=["html", "text"])
def test_str_methods_called_directly_give_what_the_sandbox_gives(text: bool) -> None:
    # The fast path for str methods skips the sandbox's checks: same results, in loops too
    # (where Jinja passes _loop_vars to every call).
    source = f"{STR_CALLS}\n{{% for s in items %}}{STR_CALLS}{{% endfor %}}"
    got = _template(source, text=text).render(_context(s="de_DE", items=["en_US", "_x_"]))
    plain = ImmutableSandboxedEnvironment(autoescape=not text)
    expected = plain.from_string(source).render(s="de_DE", items=["en_US", "_x_"])
    assert got == expected
    assert got.startswith("True|DE_DE|de+DE|De_De|1|DE\n")


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{{ '{x.__class__}'.format_map(v) }}", "unsafe or too costly"),
        ("{% set m = '{0.__class__}'.format %}{{ m(v) }}", "unsafe or too costly"),
        ("{{ s.__class__ }}", "access to attribute '__class__' of 'str' object is unsafe."),
        ("{{ s.__len__() }}", "access to attribute '__len__' of 'str' object is unsafe."),
    ],
)
def test_str_methods_outside_the_fast_path_stay_checked(source: str, fragment: str) -> None:
    with pytest.raises(RenderError) as caught:
        _template(source).render(_context(s="x", v={"x": 1}))
    assert fragment in str(caught.value)


class _Html:
    def __html__(self) -> str:
        return "<b>as is</b>"


@pytest.mark.parametrize("escape_str", [printing._escape_str, printing._escape_via_markup])
@given(
    value=st.one_of(
        st.text(),
        st.integers(),
        st.decimals(allow_nan=False),
        st.floats(),
        st.text().map(Markup),
        st.just(_Html()),
    )
)
@example(value="<a title='x'>\"&\"</a>")
def test_escape_output_gives_what_markupsafe_escape_gives(escape_str: Any, value: Any) -> None:
    with patch.object(printing, "_escape_str", escape_str):
        assert printing.escape_output(value) == str(escape(value))


_PRINTED = st.one_of(
    st.none(),
    st.text(),
    st.text(alphabet=st.sampled_from(" \t\n\r\xa0\ufdd0\ufdd5ab<&")),
    st.integers(),
    st.decimals(allow_nan=False),
    st.text().map(Markup),
    st.text(alphabet=st.sampled_from(" \n\ufdd0\ufdd5ab<&;")).map(Markup),
    st.text(alphabet=st.sampled_from(" \n\ufdd0\ufdd5ab<&")).map(lambda t: ENVS.text.concat([t])),
    st.just(_Html()),
)


def _outcome(function: Any, value: Any) -> object:
    try:
        return function(value)
    except printing.NoValueError:
        return printing.NoValueError


@given(value=_PRINTED)
@example(value=None)
def test_print_html_is_finalize_then_escape(value: Any) -> None:
    expected = _outcome(lambda v: printing.escape_output(printing.finalize_html(v)), value)
    assert _outcome(printing.print_html, value) == expected


@given(value=_PRINTED)
@example(value="a  b\n\tc\ufdd0")
def test_print_text_is_finalize_then_str(value: Any) -> None:
    expected = _outcome(lambda v: str(printing.finalize_text(v)), value)
    got = _outcome(printing.print_text, value)
    assert got == expected
    assert got is printing.NoValueError or type(got) is str


@pytest.mark.parametrize(
    ("source", "text", "printer", "printed"),
    [
        ("{{ s }}", False, "_print_html(", "&lt;b&gt;  x"),
        ("{{ s }}", True, "_print_text(", "<b> x"),
        # Decided at compile time, but not HTML: Jinja's own str(environment.finalize(…)).
        (
            "{% autoescape false %}{{ s }}{% endautoescape %}",
            False,
            "str(environment.finalize(",
            "<b>  x",
        ),
    ],
)
def test_compiled_templates_print_through_one_call(
    source: str, text: bool, printer: str, printed: str
) -> None:
    env = ENVS.text if text else ENVS.html
    assert printer in env.compile(source, raw=True)
    template = _template(source, text=text)
    assert template.render(_context(s="<b>  x")) == printed
    with pytest.raises(RenderError, match="has no value for this recipient"):
        template.render(_context(s=None))


def test_templates_taking_turns_in_one_context_start_afresh() -> None:
    # Subject, preheader and text part of an email render in one Jinja context, in turn.
    counting = _template("{% set total = total + 1 %}{{ total }}", text=True)
    reading = _template("{{ total }}|{{ greeting | default('none') }}", text=True)
    setting = _template("{% set greeting = 'hi' %}{{ greeting }}", text=True)
    shared = counting.new_context(_context(total=1))
    assert [counting.render_in(fresh(shared)) for _ in range(3)] == ["2", "2", "2"]
    assert setting.render_in(fresh(shared)) == "hi"
    assert reading.render_in(fresh(shared)) == "1|none"
    assert reading.render_in(shared) == "1|none"
    assert setting.render_in(fresh(shared)) + reading.render_in(shared) == "hi1|hi"


def _filename(name: str, source: str) -> CompiledTemplate:
    return CompiledTemplate.build(ENVS.html, source, filename=f"<{name}>")


def test_a_composite_runs_each_region_in_its_hole_in_document_order() -> None:
    skeleton = _filename(
        "skeleton",
        "{% set a = 'A' %}[{{ _slot_0 }}]{% if flag %}[{{ _slot_1 }}]{% endif %}"
        "{{ b | default('-') }}",
    )
    first = _filename("first", "{{ a }}{% set b = 'B' %}{{ b }}")
    second = _filename("second", "{{ a }}{{ b | default('-') }}")
    composite = Composite(skeleton, (("_slot_0", first), ("_slot_1", second)))
    assert composite.render(_context(flag=True)) == "[AB][A-]-"
    assert composite.render(_context(flag=False)) == "[AB]-"
    # Undone after the region, and only what it set: the layout's own name is left.
    shared = skeleton.new_context(_context(flag=True, b="data"))
    assert composite.render_in(shared) == "[AB][Adata]data"
    assert shared.vars["a"] == "A"
    assert "b" not in shared.vars


@pytest.mark.parametrize(
    ("source", "assigned"),
    [
        ("{% set a = 1 %}{% set b, c = 1, 2 %}{% set d %}x{% endset %}", {"a", "b", "c", "d"}),
        (
            "{% if x %}{% set a = 1 %}{% elif y %}{% macro m() %}{% endmacro %}{% endif %}",
            {"a", "m"},
        ),
        (
            "{% for i in x %}{% set a = 1 %}{% endfor %}{% with %}{% set b = 1 %}{% endwith %}",
            set(),
        ),
        ("{% set ns = namespace(n=1) %}{% for i in x %}{% set ns.n = i %}{% endfor %}", {"ns"}),
    ],
)
def test_a_template_knows_the_names_it_sets_for_the_templates_after_it(
    source: str, assigned: set[str]
) -> None:
    assert _template(source).assigned == assigned


@pytest.mark.parametrize(
    ("source", "open_"),
    [
        ("a{{ _slot_0 }}{% if x %}{{ _slot_1 }}{% else %}{{ _slot_2 }}{% endif %}", True),
        ("{% for i in x %}{{ _slot_0 }}{% endfor %}", False),
        ("{% macro m() %}{{ _slot_0 }}{% endmacro %}{{ m() }}", False),
        ("{% with %}{{ _slot_0 }}{% endwith %}", False),
        ("{% if x %}{% filter upper %}{{ _slot_0 }}{% endfilter %}{% endif %}", False),
    ],
)
def test_a_skeleton_knows_whether_its_holes_stand_in_the_open(source: str, open_: bool) -> None:
    assert _template(source).holes_open is open_


def test_a_hole_in_a_macro_still_renders_its_region() -> None:
    # Never cut so (holes_open is false): the code generator's fallback for buffered output.
    skeleton = _filename("skeleton", "{% macro m() %}({{ _slot_0 }}){% endmacro %}{{ m() }}")
    region = _filename("region", "<b>{{ name }}</b>")
    composite = Composite(skeleton, (("_slot_0", region),))
    assert composite.render(_context(name="<i>")) == "(<b>&lt;i&gt;</b>)"


# Statements of a small template language over two names, `a` and `b`, and a macro `m`: set
# them (also in a condition), print them, define and call the macro.
_STATEMENT = st.one_of(
    st.sampled_from(["a", "b"]).flatmap(
        lambda n: st.sampled_from(
            [
                f"{{% set {n} = '{n}1' %}}",
                f"{{% set {n} = '{n}2' %}}",
                f"{{% if flag %}}{{% set {n} = '{n}3' %}}{{% endif %}}",
                f"[{{{{ {n} | default('-') }}}}]",
            ]
        )
    ),
    st.sampled_from(
        [
            "{% macro m() %}M{% endmacro %}",
            "({{ m() if m is defined else 'no m' }})",
            "{% for i in [1] %}{% set a = 'loop' %}{{ a }}{% endfor %}",
            "{% with %}{% set b = 'with' %}{{ b }}{% endwith %}",
            "text",
        ]
    ),
)
_SOURCE = st.lists(_STATEMENT, max_size=5).map("".join)


@given(
    skeleton=st.lists(_SOURCE, min_size=3, max_size=3),
    regions=st.lists(_SOURCE, min_size=2, max_size=2),
    guarded=st.booleans(),
    flag=st.booleans(),
    data=st.dictionaries(st.sampled_from(["a", "b"]), st.just("data")),
)
@example(  # a name the layout sets after the module's slot (see compiled._load_first)
    skeleton=["", "", "{% set a = 'a1' %}"],
    regions=["", "[{{ a | default('-') }}]"],
    guarded=False,
    flag=False,
    data={"a": "data"},
)
def test_a_composite_renders_what_its_whole_template_renders(
    skeleton: list[str], regions: list[str], guarded: bool, flag: bool, data: dict[str, str]
) -> None:
    # The whole template makes each module a {% with %} block (assemble.scope_regions); the
    # second hole may stand in a condition.
    holes = [
        "{{ _slot_0 }}",
        "{% if flag %}{{ _slot_1 }}{% endif %}" if guarded else "{{ _slot_1 }}",
    ]
    pieces = [f"{{% with %}}{r}{{% endwith %}}" for r in regions]
    whole = skeleton[0] + holes[0].replace("{{ _slot_0 }}", pieces[0]) + skeleton[1]
    whole += holes[1].replace("{{ _slot_1 }}", pieces[1]) + skeleton[2]
    composite = Composite(
        _filename("skeleton", skeleton[0] + holes[0] + skeleton[1] + holes[1] + skeleton[2]),
        tuple((f"_slot_{i}", _filename(f"region {i}", r)) for i, r in enumerate(regions)),
    )
    context = _context(flag=flag, **data)
    assert composite.render(context) == _filename("whole", whole).render(context)


# Values a template builds by an argument (a width, a count, a separator) are checked before
# they are built: per value, and all of an email's together, against max_output_bytes.
SMALL = make_environments(LimitSettings(max_output_bytes=10_000))
TOO_LARGE = {
    "center": ("{{ 'x' | center(20000) }}", "|center would build 20,000 characters"),
    "indent": ("{{ 'a\nb' | indent(20000) }}", "|indent could build up to 60,004 characters"),
    "wordwrap": (
        "{{ 'a b' | wordwrap(1, wrapstring=w) }}",
        "|wordwrap could build up to 45,003 characters",
    ),
    "format": ("{{ '%020000d' | format(1) }}", "|format could build up to 20,009 characters"),
    "percent": ("{{ '%020000d' % 1 }}", "'%' formatting could build up to 20,009 characters"),
    "percent-star": (
        "{{ '%*d' % (20000, 1) }}",
        "'%' formatting could build up to 20,008 characters",
    ),
    "str.format": ("{{ '{:>20000}'.format(1) }}", ".format() could build up to 20,010 characters"),
    "str.format_map": (
        "{{ '{x:>20000}'.format_map(v) }}",
        ".format() could build up to 20,011 characters",
    ),
    "ljust": ("{{ 'x'.ljust(20000) }}", ".ljust() would build 20,000 characters"),
    "rjust": ("{{ 'x'.rjust(20000) }}", ".rjust() would build 20,000 characters"),
    "zfill": ("{{ '1'.zfill(20000) }}", ".zfill() would build 20,000 characters"),
    "str.center": ("{{ 'x'.center(20000) }}", ".center() would build 20,000 characters"),
    "markup.center": ("{{ m.center(20000) }}", ".center() would build 20,000 characters"),
    "expandtabs": (
        "{{ ('\t' * 10).expandtabs(2000) }}",
        ".expandtabs() could build up to 20,000 characters",
    ),
    "str.replace": (
        "{{ 'aaaa'.replace('a', 'b' * 5000) }}",
        ".replace() would build 20,000 characters",
    ),
    "replace": (
        "{{ 'aaaa' | replace('a', 'b' * 5000) }}",
        "|replace would build 20,000 characters",
    ),
    "str.join": (
        "{{ ('b' * 5000).join(['1', '2', '3']) }}",
        ".join() would build 10,003 characters",
    ),
    "join": ("{{ ['1', '2', '3'] | join('b' * 5000) }}", "|join would build 10,003 characters"),
    "batch": ("{{ [1] | batch(20000, 0) | list | length }}", "|batch would build 20,000 items"),
    "slice": ("{{ [1] | slice(20000) | list | length }}", "|slice would build 20,001 items"),
    "lipsum": ("{{ lipsum(100) }}", "lipsum() could build up to 140,900 characters"),
    "repeat": ("{{ 'x' * 20000 }}", "repeating a value 20000 times would build 20,000 characters"),
    "repeat-list": (
        "{{ ['ab'] * 5000 }}",
        "repeating a value 5000 times would build 15,000 characters",
    ),
}
_SIZE_HINT = "build smaller values, or raise [limits] max_output_bytes if this size is intended"


def _small(source: str, context: dict[str, Any] | None = None, text: bool = False) -> str:
    env = SMALL.text if text else SMALL.html
    template = CompiledTemplate.build(
        env, source, filename="<test>", fallback=("templates/t.mjml", 1)
    )
    return template.render(context if context is not None else _context())


@pytest.mark.parametrize(("source", "message"), TOO_LARGE.values(), ids=TOO_LARGE.keys())
def test_a_value_built_by_an_argument_is_checked_before_it_is_built(
    source: str, message: str
) -> None:
    context = _context(w="x" * 5000, v={"x": 1}, m=Markup("<b>"))
    with pytest.raises(RenderError) as caught:
        _small(source, context)
    assert str(caught.value) == (
        f"templates/t.mjml line 1: unsafe or too costly: {message}, over the limit of 10,000 "
        f"— {_SIZE_HINT}"
    )


def test_tojson_in_text_is_checked_before_it_is_built() -> None:
    # Only subjects, preheaders and the text part have |tojson (see the markup filters).
    with pytest.raises(RenderError) as caught:
        _small("{{ 1 | tojson(20000) }}", text=True)
    assert str(caught.value) == (
        "templates/t.mjml line 1: unsafe or too costly: |tojson could build up to 20,001 "
        f"characters, over the limit of 10,000 — {_SIZE_HINT}"
    )


def test_a_power_is_checked_by_the_digits_it_would_have() -> None:
    with pytest.raises(RenderError) as caught:
        _small("{{ (10 ** 100) ** 100 }}")
    assert str(caught.value) == (
        "templates/t.mjml line 1: unsafe or too costly: raising to the power 100 would build a "
        f"number of about 10,024 digits, over the limit of 10,000 — {_SIZE_HINT}"
    )
    assert _small("{{ (10 ** 10) ** 100 }}") == str(10**1000)


def test_what_an_email_builds_counts_against_one_budget() -> None:
    context = _context()
    with pytest.raises(RenderError) as caught:
        _small("{% for i in range(3) %}{{ 'x' * 4000 }}{% endfor %}", context)
    assert str(caught.value) == (
        "templates/t.mjml line 1: unsafe or too costly: repeating a value 4000 times would take "
        "the text this email builds with *, join, replace, formatting and padding past the "
        f"limit of 10,000 characters (8,000 so far) — {_SIZE_HINT}"
    )


def test_the_budget_is_shared_by_the_parts_of_one_email_and_counts_what_is_added() -> None:
    context = _context(items=["y" * 100] * 50)
    # A join of data adds only its separators: 49 × 2 characters of 10,000.
    for _ in range(3):
        assert len(_small("{{ items | join(', ') }}", context, text=True)) == 5_098
    assert len(_small("{{ 'x' | center(9000) }}", context)) == 9_000
    with pytest.raises(RenderError) as caught:
        _small("{{ '{:>1000}'.format(1) }}", context, text=True)  # another part, same email
    assert str(caught.value) == (
        "templates/t.mjml line 1: unsafe or too costly: .format() would take the text this "
        "email builds with *, join, replace, formatting and padding past the limit of 10,000 "
        f"characters (9,293 so far) — {_SIZE_HINT}"
    )
    assert len(_small("{{ '{:>1000}'.format(1) }}", _context())) == 1_000  # a new email


def test_a_loop_of_large_values_stops_at_the_email_budget_quickly() -> None:
    # Each value is within the limit of 2,000,000; 40 of them are not (t33 of review r17).
    started = time.perf_counter()
    with pytest.raises(RenderError) as caught:
        _template("{% for i in range(40) %}{{ 'Q' * 1000000 }}{% endfor %}").render(_context())
    assert "past the limit of 2,000,000 characters (2,000,000 so far)" in str(caught.value)
    assert time.perf_counter() - started < 1


_M = Markup("<b>{}</b>")
SAME_AS_JINJA = [
    "{{ s | center(19) }}|{{ s | center }}|{{ 5 | center(3) }}",
    "{{ s | indent(2) }}|{{ s | indent('> ', first=True, blank=True) }}|{{ m | indent }}",
    "{{ s | wordwrap(5) }}|{{ s | wordwrap(3, wrapstring='<br>') }}|{{ s | wordwrap(2, false) }}",
    "{{ '%s-%05.1f' | format(s, 3.14159) }}|{{ '%(a)s!' | format(a=s) }}",
    "{{ (m ~ '%s') | format(s) }}|{{ '%s' | format(m) }}",
    "{{ '%s/%d' % (s, 7) }}|{{ '%-6s|' % s }}|{{ '%(a)r' % {'a': s} }}|{{ '%d%%' % 5 }}",
    "{{ 7 % 3 }}|{{ 7.5 % 2 }}|{{ '%*d' % (4, 1) }}|{{ '%.*f' % (2, 1.5) }}",
    "{{ '{0:>8}|{1:.2f}'.format(s, 2.5) }}|{{ '{a}'.format_map({'a': s}) }}|{{ m.format(s) }}",
    "{{ s | replace('a', '&') }}|{{ s | replace('a', m) }}|{{ m | replace('b', s) }}",
    "{{ s | replace('a', 'xyz', 1) }}|{{ s | replace('', '.') }}|{{ 12 | replace(1, 3) }}",
    "{{ items | join(', ') }}|{{ items | join(m) }}|{{ [m, s] | join('&') }}|{{ [1, 2] | join }}",
    "{{ rows | join('; ', attribute='n') }}|{{ (items | map('upper')) | join('-') }}",
    "{{ items | batch(2, '-') | list }}|{{ items | batch(2) | list }}",
    "{{ items | slice(2) | list }}|{{ [] | batch(3, 0) | list }}",
    "{{ items | slice(4, 0) | list }}",
    "{{ s.ljust(19, '.') }}|{{ s.rjust(19) }}|{{ '-4'.zfill(9) }}|{{ s.center(19, '*') }}",
    "{{ (s ~ '\t' ~ s).expandtabs(4) }}|{{ 'a\tb'.expandtabs() }}|{{ s.replace('a', 'bb') }}",
    "{{ ', '.join(items) }}|{{ m.join(items) }}|{{ m.center(12) }}|{{ m.replace('b', '<i>') }}",
    "{{ m.ljust(12, '.') }}|{{ m.zfill(12) }}|{{ s.replace('a', 'bb', 1) }}|{{ ''.join([]) }}",
]


_KINDS = ((False, "html"), (True, "text"))
# Only the text environment has |tojson (see the markup filters).
TEXT_ONLY = [
    "{{ rows | tojson(2) }}|{{ rows | tojson('  ') }}|{{ rows | tojson }}|{{ s | tojson(1) }}"
]


@pytest.mark.parametrize(
    ("source", "text"),
    [
        *(
            pytest.param(s, t, id=f"{i}-{k}")
            for i, s in enumerate(SAME_AS_JINJA)
            for t, k in _KINDS
        ),
        *(pytest.param(s, True, id=f"tojson{i}-text") for i, s in enumerate(TEXT_ONLY)),
    ],
)
def test_checked_filters_and_methods_give_what_jinja_gives(source: str, text: bool) -> None:
    values = {
        "s": "a & <a>-tag\nsecond  line a",
        "items": ["x", "<y>", "z"],
        "rows": [{"n": "a<'"}, {"n": 2}],
        "m": _M,
    }
    plain = ImmutableSandboxedEnvironment(
        autoescape=not text,
        finalize=printing.finalize_text if text else printing.finalize_html,
    )
    expected = plain.from_string(source).render(values)
    assert _template(source, text=text).render(_context(**values)) == expected


def test_lipsum_within_the_limit_gives_jinja_s_text() -> None:
    paragraphs = _template("{{ lipsum(3, false, 2, 4) }}").render(_context()).split("\n\n")
    assert len(paragraphs) == 3
    assert all(2 <= len(p.split()) <= 3 and p.endswith(".") for p in paragraphs)


_WRAPPED = st.text(alphabet=" \n\r\t-ab—\x0b\u2028\xa0", max_size=40)


@given(
    text=_WRAPPED,
    width=st.integers(1, 8),
    wrap=st.text(alphabet="<br>\n", max_size=4),
    long_words=st.booleans(),
    hyphens=st.booleans(),
)
def test_the_wordwrap_bound_holds(
    text: str, width: int, wrap: str, long_words: bool, hyphens: bool
) -> None:
    wrapped = do_wordwrap(ENVS.html, text, width, long_words, wrap, hyphens)
    assert len(wrapped) <= sizes.wordwrap_size(text, width, wrap)


@given(
    text=_WRAPPED,
    width=st.one_of(st.integers(1, 5), st.text(min_size=1, max_size=3)),
    first=st.booleans(),
    blank=st.booleans(),
)
def test_the_indent_bound_holds(text: str, width: int | str, first: bool, blank: bool) -> None:
    step = len(width) if isinstance(width, str) else width
    assert len(do_indent(text, width, first, blank)) <= sizes.indent_size(text, step)


@given(
    text=st.text(alphabet="ab&", max_size=12),
    old=st.text(alphabet="ab&", max_size=2),
    new=st.text(alphabet="ab&", max_size=4),
    count=st.integers(-1, 3),
)
def test_the_replace_size_holds(text: str, old: str, new: str, count: int) -> None:
    size = len(text.replace(old, new, count))
    assert sizes.replaced_size(text, old, new, count) == max(size, len(text))


@pytest.mark.parametrize(
    ("fmt", "args"),
    [
        ("%s", ("abc",)),
        ("%5s|%-5s", ("a", "b")),
        ("%r|%a", ("a\x00\U000e0000", "é")),
        ("%.3f", (1e308,)),
        ("%d", (1e308,)),
        ("%(a)s%(a)s%(a)r", {"a": "xyz"}),
        ("%s", {"a": 1}),
        ("%*d|%.*f", (7, 1, 5, 2.5)),
        ("%x %e %c %%", (255, 1.5, 65)),
        ("%f|%d", (Decimal("1e50"), Decimal("1e50"))),
        ("%s", ([1, "two"],)),
        (Markup("%s|%s"), ("<&>", "'")),
        ("%(a(b))0300d|%(c)-20s", {"a(b)": 1, "c": "x"}),
    ],
)
def test_the_percent_bound_holds(fmt: str, args: Any) -> None:
    assert len(fmt % args) <= sizes.percent_size(fmt, args)


def test_sizing_a_format_takes_linear_time() -> None:
    # Unclosed keys: a regular expression looking for each one's ')' took quadratic time.
    started = time.perf_counter()
    assert sizes.percent_size("%(" + "%(x" * 300_000, {}) == 900_002
    assert sizes.percent_size("%" + "0" * 300_000 + "5d", 1) == 300_009
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize(
    ("tag", "outermost"),
    [
        ("{{ x | url }}", True),
        ("{{ (y or x) | url }}", True),
        ("{{ x | default('https://a.example/') | url }}", True),
        ("{{ x | url() }}", True),
        ("{{ y or x | url }}", False),
        ("{{ y and x | url }}", False),
        ("{{ y if c else x | url }}", False),
        ("{{ y ~ x | url }}", False),
        ("{{ y + x | url }}", False),
        ("{{ not x | url }}", False),
        ("{{ x | url | lower }}", False),
        ("{{ x }}", False),
        ("{{ x | url", False),
    ],
)
def test_url_filtered_reads_the_expression_as_jinja_binds_it(tag: str, outermost: bool) -> None:
    assert url_filtered(tag) is outermost
