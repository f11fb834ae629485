"""Restoring tokens in compiled HTML: the check each gets inside a CSS ``url(…)``."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
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
        ("background:url('/zq1qz')", [PART]),
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
    assert re.findall(r"\| (_css(?:_url(?:\(False\))?)?) \}\}", source) == checks


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
