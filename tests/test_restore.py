"""Restoring tokens in compiled HTML: the check each gets inside a CSS ``url(…)``."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from personalize.config import Settings
from personalize.errors import RecipientError, RenderError
from personalize.protect import Markers, Token
from personalize.restore import restore
from personalize.templating import CompiledTemplate, make_environments

M = Markers()
ENVS = make_environments(Settings(root=Path(".")).limits)


def _tokens(*texts: str) -> dict[int, Token]:
    return {
        n: Token(n, text, text.startswith("{%"), "modules/m.mjml", 10 + n, False)
        for n, text in enumerate(texts, start=1)
    }


START = "_css_url"
PART = "_css_url(False)"


def test_a_token_that_starts_a_css_url_gets_the_url_check() -> None:
    html = "<div style=\"background:url('zq1qz') center top\">x</div>"
    assert restore(html, _tokens("{{ bg }}"), markers=M, contexts=True).source == (
        "<div style=\"background:url('{#\n#}{{ (bg) | _css_url }}') center top\">x</div>"
    )


@pytest.mark.parametrize(
    ("style", "checks"),
    [
        # MJML's mj-section, mj-wrapper and mj-hero; premailer drops the quotes.
        ("background:url('zq1qz') center top", [START]),
        ("background:#fff url(zq1qz) no-repeat", [START]),
        ("background:url( &#39;zq1qz&#39;)", [START]),
        ("background: URL(&quot;zq1qz&quot;)", [START]),
        ("background:url('zq1qz/zq2qz.png')", [START, PART]),
        ("background:url('https://i.example/zq1qz') zq2qz", [PART, "_css"]),
        ("background:url('/zq1qz')", ['_css_url(False, at="after-slash")']),
        ("color:zq1qz;background:url(zq2qz)", ["_css", START]),
        ("background:url('zq1qz'), url(&quot;https://a.example/zq2qz&quot;)", [START, PART]),
        ("x:myurl('zq1qz')", ["_css"]),
    ],
    ids=[
        "quoted",
        "unquoted",
        "entity",
        "upper-case",
        "start-then-part",
        "part-then-outside",
        "path",
        "outside-then-start",
        "two-urls",
        "no-url",
    ],
)
def test_each_token_of_a_style_gets_the_check_of_where_it_sits(
    style: str, checks: list[str]
) -> None:
    html = f'<div style="{style}">x</div>'
    source = restore(html, _tokens("{{ a }}", "{{ b }}"), markers=M, contexts=True).source
    found = re.findall(r"\| (_css(?:_url(?:\(False(?:, at=\"[\w -]+\")?\))?)?) \}\}", source)
    assert found == checks


def test_a_token_after_a_literal_start_that_is_no_scheme_is_refused() -> None:
    html = "<div style=\"background:url('img/zq1qz.png')\">x</div>"
    with pytest.raises(RenderError) as caught:
        restore(html, _tokens("{{ x }}"), markers=M, contexts=True)
    assert str(caught.value) == (
        "modules/m.mjml line 11: the link scheme in url(…) in style= of <div> is not literal — "
        "start the address with https:// or /, or let a token hold the whole URL: "
        'background-url="{{ image }}"'
    )


def _render(html: str, **values: Any) -> str:
    tokens = _tokens(*(f"{{{{ {name} }}}}" for name in values))
    restored = restore(html, tokens, markers=M, contexts=True)
    template = CompiledTemplate.build(
        ENVS.html, restored.source, filename="<test.html>", origins=restored.lines
    )
    context = dict(ENVS.html.globals)
    context.update(values, _budget=[10**6], _warnings=[], _locale="en_US")
    return template.render(context)


class _Styles(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.styles: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.styles += [(tag, value) for name, value in attrs if name == "style"]


def _styles(html: str) -> list[tuple[str, str | None]]:
    parser = _Styles()
    parser.feed(html)
    parser.close()
    return parser.styles


# Inside url('…') or url(…): nothing that ends either, or escapes from it.
SAFE_ADDRESS = r"[^'\"()\\\s\x00-\x1f\x7f]*"
HTML = (
    "<div style=\"background:url('zq1qz') top\"><p style='background:url(zq1qz) top'>"
    "<b style=\"background:url('https://i.example/zq2qz.png') top\">x</b></p></div>"
)
TEXT = st.text(st.characters(codec="utf-8"), max_size=40)


URLS = TEXT.map(lambda t: f"https://i.example/{t}")


@given(
    st.one_of(TEXT, URLS, URLS, URLS.map(Markup)),
    st.one_of(TEXT, st.integers(), TEXT.map(Markup)),
)
def test_data_never_leaves_a_css_url_nor_its_style_attribute(start: Any, part: Any) -> None:
    try:
        out = _render(HTML, bg=start, p=part)
    except RecipientError:
        return  # not an http(s) URL at the start
    styles = _styles(out)
    address = SAFE_ADDRESS
    assert [tag for tag, _ in styles] == ["div", "p", "b"]
    assert re.fullmatch(rf"background:url\('https?:{address}'\) top", styles[0][1] or "")
    assert re.fullmatch(rf"background:url\(https?:{address}\) top", styles[1][1] or "")
    assert re.fullmatch(
        rf"background:url\('https://i\.example/{address}\.png'\) top", styles[2][1] or ""
    )


def test_quotes_parentheses_backslashes_and_spaces_are_percent_encoded() -> None:
    out = _render(HTML, bg="https://i.example/p(1).png?q='x'&y=\"2\"\\", p="a b')\n")
    assert out == (
        "<div style=\"background:url('https://i.example/p%281%29.png?q=%27x%27&amp;y=%222%22%5C')"
        " top\"><p style='background:url(https://i.example/p%281%29.png?q=%27x%27&amp;y=%222%22"
        "%5C) top'><b style=\"background:url('https://i.example/a%20b%27%29%0A.png') top\">x</b>"
        "</p></div>"
    )


def test_a_markups_character_references_are_escaped_not_decoded() -> None:
    # A Markup would print as it is, and the browser would decode '&#39;' to "'" for CSS.
    out = _render(HTML, bg=Markup("https://i.example/&#39;)"), p=Markup("&#39;)"))
    assert _styles(out) == [
        ("div", "background:url('https://i.example/&#39;%29') top"),
        ("p", "background:url(https://i.example/&#39;%29) top"),
        ("b", "background:url('https://i.example/&#39;%29.png') top"),
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "mailto:ann@example.com",
            "expected an http(s) URL inside url(…), got 'mailto:ann@example.com' — only http and "
            "https addresses may come from data in a CSS url(…)",
        ),
        (
            "javascript:alert(1)",
            "URL scheme 'javascript' is not allowed, got 'javascript:alert(1)' — only http, "
            "https and mailto links may come from data",
        ),
        (
            "gold",
            "expected an absolute http(s) or mailto URL, got 'gold' — write the full address, "
            "starting with https://",
        ),
    ],
    ids=["mailto", "javascript", "relative"],
)
def test_a_token_that_starts_a_css_url_must_be_an_http_url(value: str, message: str) -> None:
    with pytest.raises(RecipientError) as caught:
        _render(HTML, bg=value, p="x")
    assert str(caught.value) == f"modules/m.mjml line 11: bg: {message}"


def _render_tags(html: str, tags: list[str], **values: Any) -> str:
    """Render ``html`` whose markers ``zq1qz``, ``zq2qz``… stand for ``tags``, in order."""
    restored = restore(html, _tokens(*tags), markers=M, contexts=True)
    template = CompiledTemplate.build(
        ENVS.html, restored.source, filename="<test.html>", origins=restored.lines
    )
    context = dict(ENVS.html.globals)
    context.update(values, _budget=[10**6], _warnings=[], _locale="en_US")
    return template.render(context)


IF_BG = ["{% if p %}", "{{ bg }}", "{% endif %}"]


@pytest.mark.parametrize(
    "html",
    [
        '<a href="zq1qzzq2qzzq3qz">x</a>',
        "<div style=\"background:url('zq1qzzq2qzzq3qz')\">x</div>",
    ],
    ids=["href", "css-url"],
)
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "javascript:alert(1)",
            "URL scheme 'javascript' is not allowed, got 'javascript:alert(1)' — only http, "
            "https and mailto links may come from data",
        ),
        (
            "data:image/svg+xml,x",
            "URL scheme 'data' is not allowed, got 'data:image/svg+xml,x' — only http, "
            "https and mailto links may come from data",
        ),
    ],
    ids=["javascript", "data"],
)
def test_a_token_after_a_block_tag_at_the_start_of_an_address_gets_the_url_check(
    html: str, value: str, message: str
) -> None:
    # The block tag adds no literal text: the token still begins the address.
    with pytest.raises(RecipientError) as caught:
        _render_tags(html, IF_BG, p=True, bg=value)
    assert str(caught.value) == f"modules/m.mjml line 12: bg: {message}"


@pytest.mark.parametrize(
    ("html", "out"),
    [
        (
            '<a href="https://i.example/zq1qzzq2qzzq3qz">x</a>',
            '<a href="https://i.example/gold">x</a>',
        ),
        (
            "<div style=\"background:url('https://i.example/zq1qzzq2qzzq3qz')\">x</div>",
            "<div style=\"background:url('https://i.example/gold')\">x</div>",
        ),
    ],
    ids=["href", "css-url"],
)
def test_a_block_tag_after_a_literal_start_leaves_the_token_a_path_part(
    html: str, out: str
) -> None:
    assert _render_tags(html, IF_BG, p=True, bg="gold") == out


@pytest.mark.parametrize(
    ("html", "message"),
    [
        (
            '<a href="zq1qzpage/zq2qzzq3qz">x</a>',
            "modules/m.mjml line 12: the link scheme in href= of <a> is not literal — start the "
            'URL with https://, mailto: or /, or let a token hold the whole URL: href="{{ link '
            '| url }}"',
        ),
        (
            "<div style=\"background:url('zq1qzimg/zq2qzzq3qz')\">x</div>",
            "modules/m.mjml line 12: the link scheme in url(…) in style= of <div> is not literal "
            "— start the address with https:// or /, or let a token hold the whole URL: "
            'background-url="{{ image }}"',
        ),
    ],
    ids=["href", "css-url"],
)
def test_a_token_after_a_block_tag_and_unsafe_text_is_refused(html: str, message: str) -> None:
    with pytest.raises(RenderError) as caught:
        restore(html, _tokens(*IF_BG), markers=M, contexts=True)
    assert str(caught.value) == message


def test_each_branch_of_a_block_tag_at_the_start_is_checked() -> None:
    # With p false, the else branch begins the address: text before a block tag is no start.
    tags = ["{% if p %}", "{{ a }}", "{% else %}", "{{ bg }}", "{% endif %}"]
    html = '<a href="zq1qzzq2qzzq3qzzq4qzzq5qz">x</a>'
    with pytest.raises(RecipientError):
        _render_tags(html, tags, p=False, a="https://i.example/", bg="javascript:alert(1)")
    html = '<a href="zq1qzhttps://i.example/zq2qzzq3qz">x</a>'
    with pytest.raises(RecipientError):
        _render_tags(html, ["{% if p %}", "{% endif %}", "{{ bg }}"], p=False, bg="data:,x")


# Static text that could not spell a script scheme, block tags and the token, nested.
_TEXTS = st.sampled_from(["", " ", "https://i.example/", "/", "#", "?q=", "page", "mailto:"])
_PIECES: st.SearchStrategy[list[str]] = st.recursive(
    st.one_of(_TEXTS.map(lambda text: [text]), st.just(["{{ bg }}"])),
    lambda inner: st.tuples(
        st.sampled_from(["p", "q"]), st.lists(inner, max_size=3), st.lists(inner, max_size=3)
    ).map(
        lambda t: [
            f"{{% if {t[0]} %}}",
            *(piece for part in t[1] for piece in part),
            "{% else %}",
            *(piece for part in t[2] for piece in part),
            "{% endif %}",
        ]
    ),
    max_leaves=8,
)
_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9+.-]*):")


# Each example compiles a dozen templates: under load that alone can pass Hypothesis's deadline.
RENDERS = settings(deadline=None)


@RENDERS
@given(st.lists(_PIECES, min_size=1, max_size=4))
def test_no_arrangement_of_block_tags_lets_a_script_url_through(parts: list[list[str]]) -> None:
    pieces = [piece for part in parts for piece in part]
    tags = [piece for piece in pieces if piece.startswith("{")]
    numbers = iter(range(1, len(tags) + 1))
    value = "".join(f"zq{next(numbers)}qz" if p.startswith("{") else p for p in pieces)
    html = f'<a href="{value}">x</a><div style="background:url(\'{value}\')">x</div>'
    try:
        restore(html, _tokens(*tags), markers=M, contexts=True)
    except RenderError:
        return  # a token after an unsafe literal start
    for bg in ["javascript:alert(1)", "data:text/html,x", " JavaScript:x"]:
        for p in (True, False):
            for q in (True, False):
                try:
                    out = _render_tags(html, tags, p=p, q=q, bg=bg)
                except RecipientError:
                    continue
                parser = _Attributes()
                parser.feed(out)
                href, style = parser.values
                address = style[len("background:url('") : -len("')")]
                for url in (href, address):
                    scheme = _SCHEME.match(url)
                    assert not scheme or scheme.group(1).lower() not in {"javascript", "data"}


class _Attributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.values: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.values += [value or "" for name, value in attrs if name in {"href", "style"}]


# --- which tokens get the URL check, and the host checks after a literal start ---------------

JAVASCRIPT = (
    "URL scheme 'javascript' is not allowed, got 'javascript:alert(1)' — only http, https and "
    "mailto links may come from data"
)


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("{{ y or x | url }}", f"y: {JAVASCRIPT}"),
        ("{{ y if c else x | url }}", f"y: {JAVASCRIPT}"),
        (
            "{{ y ~ x | url }}",
            "y: URL scheme 'javascript' is not allowed, got "
            "'javascript:alert(1)https://shop.example/' — only http, https and mailto links may "
            "come from data",
        ),
        (
            "{{ y + x | url }}",
            "y: URL scheme 'javascript' is not allowed, got "
            "'javascript:alert(1)https://shop.example/' — only http, https and mailto links may "
            "come from data",
        ),
    ],
    ids=["or", "if-else", "concat", "plus"],
)
def test_a_url_filter_that_binds_to_part_of_the_expression_leaves_the_url_check_on(
    tag: str, message: str
) -> None:
    # Jinja binds `| url` tighter than or, if-else, ~ and +: it checks x, and y was let through.
    values = {"y": "javascript:alert(1)", "x": "https://shop.example/", "c": True}
    for html in ('<a href="zq1qz">x</a>', '<img src="zq1qz">'):
        assert "| _url" in restore(html, _tokens(tag), markers=M, contexts=True).source
        with pytest.raises(RecipientError) as caught:
            _render_tags(html, [tag], **values)
        assert str(caught.value) == f"modules/m.mjml line 11: {message}"


@pytest.mark.parametrize("tag", ["{{ x | url }}", "{{ (y or x) | url }}", "{{ x|url() }}"])
def test_a_url_filter_around_the_whole_expression_is_not_doubled(tag: str) -> None:
    source = restore('<a href="zq1qz">x</a>', _tokens(tag), markers=M, contexts=True).source
    assert source == f'<a href="{{#\n#}}{tag}">x</a>'


@pytest.mark.parametrize(
    "attribute",
    [
        '<a ping="zq1qz">',
        '<form action="zq1qz">',
        '<button formaction="zq1qz">',
        '<video poster="zq1qz">',
        '<q cite="zq1qz">',
        '<img longdesc="zq1qz">',
        '<html manifest="zq1qz">',
        '<use xlink:href="zq1qz">',
        '<object codebase="zq1qz">',
        '<object data="zq1qz">',
        '<link imagesrcset="zq1qz">',
        '<img dynsrc="zq1qz">',
        '<img lowsrc="zq1qz">',
    ],
)
def test_every_url_attribute_gets_the_url_check(attribute: str) -> None:
    html = f"{attribute}x"
    assert "{{ (y) | _url }}" in restore(html, _tokens("{{ y }}"), markers=M, contexts=True).source
    with pytest.raises(RecipientError) as caught:
        _render_tags(html, ["{{ y }}"], y="javascript:alert(1)")
    assert str(caught.value) == f"modules/m.mjml line 11: y: {JAVASCRIPT}"


AFTER_HOST = (
    "expected a path, query or fragment (starting with /, ? or #) after the link's host, got "
    "{} — the template writes the host and the value would change it: start the value with /, "
    'or end the host with / in the template (base-url="https://shop.example/")'
)
IN_HOST = (
    "expected letters, digits, dots or hyphens inside the link's host, got {} — a value there "
    "only names part of the host, such as 'eu' in https://{{{{ region }}}}.shop.example/; to let "
    'data choose the whole link, print it alone: href="{{{{ link | url }}}}"'
)
HOST_NAME = (
    "expected a host name of letters, digits, dots or hyphens for the link's host, got {} — "
    "the template writes the rest of the link after this value, as in https://{{{{ host }}}}/; "
    'to let data choose the whole link, print it alone: href="{{{{ link | url }}}}"'
)
AFTER_SLASH = (
    "expected a path that does not start with / or \\ after the link's first /, got {} — '//' "
    "would make the rest of the value the link's host; remove the leading slashes"
)
AFTER_VALUE = (
    "expected a path, query or fragment to continue the link, got {} — a value right after "
    "another value may not start with // or \\, nor hold @, : or \\ before its first /, ? or #: "
    "they would change the link's host"
)
LIST_SPACE = (
    "expected a URL without spaces in a list of URLs (srcset=, ping=), got {} — a space would "
    "begin another URL of the list; percent-encode spaces as %20"
)
DESCRIPTOR = (
    "expected a srcset descriptor such as 2x or 300w, got {} — a space or a comma would begin "
    "another image of the srcset"
)


@pytest.mark.parametrize(
    ("html", "value", "message"),
    [
        ('<a href="https://shop.examplezq2qz">', "@evil.example/login", AFTER_HOST),
        ('<a href="https://shop.examplezq2qz">', ".evil.example/login", AFTER_HOST),
        ('<a href="https://shop.example:zq2qz/">', "443@evil.example", AFTER_HOST),
        ('<a href="//cdn.examplezq2qz">', "@evil.example/x", AFTER_HOST),
        ('<a href="https://zq2qz.shop.example/">', "evil.example/?", IN_HOST),
        ('<a href="https://zq2qz/">', "evil.example@shop.example", HOST_NAME),
        ('<a href="/zq2qz">', "/evil.example/login", AFTER_SLASH),
        ('<a href="/zq2qz">', "\\evil.example/login", AFTER_SLASH),
        ('<a href="/zq2qz">', "\t/evil.example/login", AFTER_SLASH),
        ('<a href="zq1qzzq2qz">', "@evil.example/login", AFTER_VALUE),
        ('<a href="zq1qzzq2qz">', "//evil.example/login", AFTER_VALUE),
        ('<a href="zq1qzzq2qz">', "\\\\evil.example", AFTER_VALUE),
        ('<a href="zq1qzzq2qz">', ":80@evil.example/", AFTER_VALUE),
        (
            "<div style=\"background:url('https://i.examplezq2qz')\">",
            ".evil.example/p.gif",
            AFTER_HOST,
        ),
        ("<div style=\"background:url('/zq2qz')\">", "/evil.example/p.gif", AFTER_SLASH),
    ],
    ids=[
        "after-host-at",
        "after-host-dot",
        "port",
        "protocol-relative",
        "in-host",
        "whole-host",
        "after-slash",
        "after-slash-backslash",
        "after-slash-tab",
        "after-value-at",
        "after-value-slashes",
        "after-value-backslashes",
        "after-value-colon",
        "css-after-host",
        "css-after-slash",
    ],
)
def test_a_value_that_would_change_the_links_host_is_refused(
    html: str, value: str, message: str
) -> None:
    with pytest.raises(RecipientError) as caught:
        _render(f"{html}x", x="https://shop.example", y=value)
    assert str(caught.value) == f"modules/m.mjml line 12: y: {message.format(repr(value))}"


@pytest.mark.parametrize(
    ("html", "value", "out"),
    [
        ('<a href="https://shop.examplezq2qz">', "/deals?a=1", "https://shop.example/deals?a=1"),
        ('<a href="https://shop.examplezq2qz">', "", "https://shop.example"),
        ('<a href="https://zq2qz.shop.example/">', "eu", "https://eu.shop.example/"),
        ('<a href="https://zq2qz/">', "shop.example", "https://shop.example/"),
        ('<a href="/zq2qz">', "deals/1", "/deals/1"),
        (
            '<a href="zq1qzzq2qz">',
            "/deals?next=https://x.example/",
            "https://shop.example/deals?next=https://x.example/",
        ),
        ('<a href="https://shop.example/zq2qz">', "//@:\\x", "https://shop.example///@:\\x"),
        (
            '<a href="https://shop.example/?q=zq2qz">',
            "@evil.example",
            "https://shop.example/?q=@evil.example",
        ),
    ],
    ids=["path", "empty", "region", "host", "relative", "after-value", "path-part", "query"],
)
def test_a_value_that_keeps_the_host_passes_unchanged(html: str, value: str, out: str) -> None:
    rendered = _render(f"{html}x", x="https://shop.example", y=value)
    assert _attribute(rendered, "href") == [out]


@pytest.mark.parametrize(
    ("html", "values", "out"),
    [
        (
            '<a href="https://zq1qz/zq2qz">',
            ("shop.example", "de/sale"),
            "https://shop.example/de/sale",
        ),
        ('<a href="//zq1qz?q=zq2qz">', ("shop.example", "@x"), "//shop.example?q=@x"),
        ('<a href="https://shop.zq1qz/">', ("de", ""), "https://shop.de/"),
        ('<a href="https://shop-zq1qz.example/zq2qz">', ("de", "/x"), "https://shop-de.example//x"),
    ],
    ids=["host-then-path", "host-then-query", "top-level-label", "label-in-the-middle"],
)
def test_a_token_after_a_host_token_or_inside_a_literal_host_is_no_after_host_value(
    html: str, values: tuple[str, str], out: str
) -> None:
    x, y = values
    assert _attribute(_render(f"{html}x", x=x, y=y), "href") == [out]


@pytest.mark.parametrize(
    ("html", "x", "message"),
    [
        (
            '<a href="https://zq1qz/zq2qz">',
            "",
            "expected a host name of letters, digits, dots or hyphens for the link's host, got "
            "'' — the template writes the rest of the link after this value, as in "
            "https://{{ host }}/; to let data choose the whole link, print it alone: "
            'href="{{ link | url }}"',
        ),
        (
            '<a href="https://shop.zq1qz/">',
            "evil.example",
            "expected letters, digits or hyphens in a label of the link's host, got "
            "'evil.example' — a value right after a '.' or '-' of the host names one label, such "
            "as 'de' in https://shop.{{ tld }}/; to let data choose the whole link, print it "
            'alone: href="{{ link | url }}"',
        ),
        (
            '<a href="https://shop.zq1qz/">',
            "de@evil.example",
            "expected letters, digits or hyphens in a label of the link's host, got "
            "'de@evil.example' — a value right after a '.' or '-' of the host names one label, "
            "such as 'de' in https://shop.{{ tld }}/; to let data choose the whole link, print "
            'it alone: href="{{ link | url }}"',
        ),
    ],
    ids=["empty-host", "label-with-dot", "label-with-at"],
)
def test_a_host_token_must_name_a_host_and_a_label_token_one_label(
    html: str, x: str, message: str
) -> None:
    with pytest.raises(RecipientError) as caught:
        _render(f"{html}x", x=x, y="de/sale")
    assert str(caught.value) == f"modules/m.mjml line 11: x: {message}"


UNREAD = (
    "modules/m.mjml line 11: cannot read the attributes of <{}> around the token, so no URL or "
    "CSS check could apply to it — write the attribute value without '\"' inside single "
    "quotes, e.g. use &quot;"
)


@pytest.mark.parametrize(
    ("html", "tag"),
    [
        # <mj-button rel='a"b' href="{{ y }}">, as MRML writes it, then css-inline or premailer.
        ('<a href="zq1qz" rel="a\\" b"="" target="_blank">Go</a>', "a"),
        ('<a href="zq1qz" rel="a\\" b" target="_blank">Go</a>', "a"),
        # <mj-image alt='The "{{ y }}" tee'>: the token lands where an attribute name goes.
        ('<img alt="The \\" zq1qz\\" tee"="" src="https://shop.example/a.png">', "img"),
        ('<a title="Say \\" hi\\""="" href="https://shop.examplezq1qz">Order</a>', "a"),
        ('<span title="Say \\" hi\\""="" style="color: zq1qz">Hi</span>', "span"),
        ('<!--[if mso]><v:fill title="a\\" b"="" src="zq1qz" /><![endif]-->', "v:fill"),
    ],
    ids=["button-href", "premailer", "image-alt", "after-host", "style", "conditional"],
)
def test_a_token_in_a_tag_that_cannot_be_read_is_refused_not_left_unchecked(
    html: str, tag: str
) -> None:
    with pytest.raises(RenderError) as caught:
        restore(html, _tokens("{{ y }}"), markers=M, contexts=True)
    assert str(caught.value) == UNREAD.format(tag)


def test_a_token_after_a_tag_that_cannot_be_read_is_text() -> None:
    html = '<p title="Say \\" hi\\""="">zq1qz</p>'
    restored = restore(html, _tokens("{{ y }}"), markers=M, contexts=True).source
    assert restored == '<p title="Say \\" hi\\""="">{#\n#}{{ y }}</p>'


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            Markup("&#47;evil.example/login"),
            AFTER_SLASH.format("Markup('&#47;evil.example/login')"),
        ),
        (Markup("&bsol;evil.example"), AFTER_SLASH.format("Markup('&bsol;evil.example')")),
    ],
    ids=["slash", "backslash"],
)
def test_a_markups_character_references_are_checked_as_the_browser_decodes_them(
    value: Markup, message: str
) -> None:
    with pytest.raises(RecipientError) as caught:
        _render('<a href="/zq1qz">x</a>', y=value)
    assert str(caught.value) == f"modules/m.mjml line 11: y: {message}"


def test_after_a_block_tag_the_host_check_still_holds() -> None:
    html = '<a href="https://shop.examplezq1qzzq2qzzq3qz">x</a>'
    with pytest.raises(RecipientError) as caught:
        _render_tags(html, ["{% if p %}", "{{ y }}", "{% endif %}"], p=True, y="@evil.example")
    assert (
        str(caught.value)
        == f"modules/m.mjml line 12: y: {AFTER_HOST.format(repr('@evil.example'))}"
    )
    # In a loop, the second value follows the first: both are after the host.
    tags = ["{% for y in ys %}", "{{ y }}", "{% endfor %}"]
    with pytest.raises(RecipientError):
        _render_tags(html, tags, ys=["/a", "@evil.example"])


def test_a_token_that_may_begin_the_link_or_continue_its_host_is_refused() -> None:
    html = '<a href="zq1qzhttps://shop.examplezq2qzzq3qz">x</a>'
    with pytest.raises(RenderError) as caught:
        restore(html, _tokens("{% if p %}", "{% endif %}", "{{ y }}"), markers=M, contexts=True)
    assert str(caught.value) == (
        "modules/m.mjml line 13: the token in href= of <a> may begin the link or continue the "
        "host before it — write the link's start (https://host/) in every branch of the block "
        "tags before the token, or in none"
    )


def test_each_candidate_of_a_srcset_starts_a_url() -> None:
    for html in (
        '<img srcset="https://shop.example/a.png 1x, zq1qz 2x">',
        '<img srcset="https://shop.example/a.png 1x,zq1qz 2x">',
        '<img srcset="https://shop.example/a.png 100w (x, y),zq1qz">',
        '<link imagesrcset="https://shop.example/a.png 1x, zq1qz 2x">',
        '<a ping="https://t.example/a zq1qz">',
    ):
        for value in ("javascript:alert(1)", "data:image/svg+xml,x", "//tracker.example/p.gif"):
            with pytest.raises(RecipientError):
                _render(html, y=value)
    with pytest.raises(RecipientError) as caught:
        _render(
            '<img srcset="zq1qz 1x, zq2qz 2x">',
            x="https://shop.example/a.png",
            y="javascript:alert(1)",
        )
    assert str(caught.value) == f"modules/m.mjml line 12: y: {JAVASCRIPT}"


@pytest.mark.parametrize(
    ("html", "value", "message"),
    [
        ('<img srcset="https://shop.example/zq1qz 1x">', "a.png 1x, data:x 2x", LIST_SPACE),
        ('<a ping="https://t.example/zq1qz">', "a javascript:x", LIST_SPACE),
        (
            '<img srcset="https://shop.example/a.png zq1qz">',
            "1x, //evil.example/p.gif 2x",
            DESCRIPTOR,
        ),
    ],
    ids=["srcset-url", "ping", "descriptor"],
)
def test_a_value_that_would_add_a_url_to_a_list_is_refused(
    html: str, value: str, message: str
) -> None:
    with pytest.raises(RecipientError) as caught:
        _render(f"{html}x", y=value)
    assert str(caught.value) == f"modules/m.mjml line 11: y: {message.format(repr(value))}"


def test_a_comma_inside_a_srcset_url_is_part_of_it() -> None:
    out = _render('<img srcset="https://i.example/zq1qz 2x">', y="w_100,h_200/a.png")
    assert _attribute(out, "srcset") == ["https://i.example/w_100,h_200/a.png 2x"]


class _AllAttributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.values: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.values += [(name, value or "") for name, value in attrs]


def _attribute(html: str, name: str) -> list[str]:
    parser = _AllAttributes()
    parser.feed(html)
    parser.close()
    return [value for key, value in parser.values if key == name]


def _host(url: str) -> str | None:
    """The host a browser reads in ``url`` (WHATWG, for http(s)), or None for a link that
    stays on the page's own host."""
    url = re.sub(r"[\t\n\r]", "", url.strip("".join(map(chr, range(0x21))))).replace("\\", "/")
    special = re.match(r"(?i)https?:/*", url)  # any number of slashes may follow http(s):
    if special:
        authority = url[special.end() :]
    elif url.startswith("//"):
        authority = url[2:]
    else:
        return None
    host = re.split(r"[/?#]", authority, maxsplit=1)[0].rpartition("@")[2]
    return unquote(re.sub(r":[0-9]*$", "", host)).lower()


# Text that tries to reach another host from wherever it lands in a link, and text of the
# shapes that pass there (a path, a host label, a URL), to vary.
TRICKY = st.text(st.sampled_from("/\\@:.?#%\t\n &;#x2fesvil.1-"), max_size=14)
HOSTILE = st.one_of(
    TRICKY,
    TRICKY.map(lambda text: f"/{text}"),
    st.from_regex(r"[a-z0-9.-]{0,12}", fullmatch=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "@evil.example/login",
            ".evil.example/login",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "\t//evil.example",
            ":443@evil.example",
            "%2F%2Fevil.example",
            "&#47;/evil.example",
        ]
    ),
)


@RENDERS
@given(HOSTILE, st.sampled_from(["", "x"]))
def test_no_value_moves_a_link_off_the_literal_host(value: str, markup: str) -> None:
    y: Any = Markup(value) if markup else value
    contexts = [
        ('<a href="https://shop.examplezq1qz">x</a>', lambda host: host == "shop.example"),
        (
            '<a href="https://zq1qz.shop.example/">x</a>',
            lambda host: host.endswith(".shop.example"),
        ),
        ('<a href="/zq1qz">x</a>', lambda host: host is None),
        ('<a href="https://shop.example:8080zq1qz">x</a>', lambda host: host == "shop.example"),
    ]
    for html, keeps in contexts:
        try:
            out = _render(html, y=y)
        except RecipientError:
            continue
        (href,) = _attribute(out, "href")
        assert keeps(_host(href)), (html, href)


@RENDERS
@given(HOSTILE)
def test_a_value_after_another_can_extend_but_not_replace_its_host(value: str) -> None:
    for start, keeps in [
        ("https://shop.example/", lambda host: host == "shop.example"),
        ("https://shop.example", lambda host: host.startswith("shop.example")),
    ]:
        try:
            out = _render('<a href="zq1qzzq2qz">x</a>', x=start, y=value)
        except RecipientError:
            continue
        (href,) = _attribute(out, "href")
        assert keeps(_host(href)), href


# Descriptors run up to a comma outside parentheses (the HTML standard's srcset parsing).
_DESCRIPTORS = re.compile(r"(?:[^,(]|\([^)]*\)?)*")


def _candidates(srcset: str) -> list[str]:
    """The URLs of a srcset's image candidates, as browsers split them."""
    urls: list[str] = []
    rest = srcset
    while rest := rest.lstrip(" \t\n\f\r,"):
        url = re.split(r"[ \t\n\f\r]", rest, maxsplit=1)[0]
        rest = rest[len(url) :]
        urls.append(url.rstrip(","))  # a URL's trailing commas end its candidate
        if not url.endswith(","):
            rest = _DESCRIPTORS.sub("", rest, count=1)
    return urls


URLISH = st.one_of(HOSTILE, HOSTILE.map(lambda text: f"https://i.example/{text}"))


@RENDERS
@given(HOSTILE, HOSTILE, URLISH)
def test_data_adds_no_image_candidate_and_each_one_starts_with_a_checked_url(
    descriptor: str, path: str, start: str
) -> None:
    html = (
        '<img srcset="https://shop.example/a.png zq1qz, https://shop.example/zq2qz 2x, zq3qz 3x">'
    )
    try:
        out = _render(html, d=descriptor, p=path, u=start)
    except RecipientError:
        return
    (srcset,) = _attribute(out, "srcset")
    first, second, third = _candidates(srcset)
    assert _host(first) == _host(second) == "shop.example"
    assert re.match(r"(?i)(https?://|mailto:)", third), third
