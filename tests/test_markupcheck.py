"""Tests for personalize.markupcheck: balance, refused markup, depth and size at load."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personalize.errors import RegistryError, RenderError
from personalize.includes import Source
from personalize.markupcheck import check_markup, markup_depth
from personalize.mjml import compile_mjml

CORPUS = Path("/work/shared/corpus/mjml")
ALL_FILES = sorted(CORPUS.rglob("*.mjml"))
DEPTH_HINT = (
    "deeply nested markup crashes the MJML compiler; flatten it, or look for a missing closing tag"
)


def document(body: str) -> str:
    return f"<mjml><mj-body>{body}</mj-body></mjml>"


def text_block(html: str) -> str:
    return document(f"<mj-section><mj-column><mj-text>{html}</mj-text></mj-column></mj-section>")


def check(text: str, *, file: str = "modules/hero/a.mjml", **limits: int) -> None:
    check_markup(Source.from_text(text, file=file), **limits)


def error_of(text: str, *, max_depth: int = 200, max_bytes: int = 1_000_000) -> str:
    with pytest.raises(RegistryError) as info:
        check(text, max_depth=max_depth, max_bytes=max_bytes)
    return str(info.value)


# --- markup_depth ---------------------------------------------------------------------------


@given(depth=st.integers(min_value=0, max_value=300), tag=st.sampled_from(["div", "mj-column"]))
def test_depth_counts_nesting(depth: int, tag: str) -> None:
    assert markup_depth(f"<{tag}>" * depth + "x" + f"</{tag}>" * depth) == depth


@pytest.mark.parametrize(
    ("markup", "depth"),
    [
        ("<p>a<br>b<br/>c<img src='x'><hr></p>", 1),
        ("<mj-section><mj-column><mj-image src='a'/><mj-divider /></mj-column></mj-section>", 2),
        ("<div><p>a</div><div>b</div>", 2),
        ("</div></div><p>x</p>", 1),
        ("<!-- <div><div><div> --><p>x</p>", 1),
        ("<![CDATA[<div><div>]]><p>x</p>", 1),
        ("<style>a > b { x: '<div><div>' }</style><p>x</p>", 1),
        ("<div title='a > b' data-x=\"<p><p>\"><p>x</p></div>", 2),
        ("{% if a > b %}<div>{{ '<div><div>' }}</div>{% endif %}", 1),
        ('<a href="{{ url("x") }}" {% if a %}class="b"{% endif %}>x</a>', 1),
        ("{# <div><div> #}<p>x</p>", 1),
        ("a < b and c > d", 0),
        ("<DIV><Div>x</div></DIV>", 2),
        ("<style>unclosed <div><div><div>", 1),
    ],
    ids=[
        "void",
        "self-closing",
        "implied-close",
        "stray-end-tags",
        "comment",
        "cdata",
        "style-content",
        "quoted-attributes",
        "jinja-tokens",
        "jinja-in-tag",
        "jinja-comment",
        "bare-angle-brackets",
        "case-insensitive",
        "unclosed-raw-text",
    ],
)
def test_depth_cases(markup: str, depth: int) -> None:
    assert markup_depth(markup) == depth


# --- check_markup: balance ------------------------------------------------------------------


BALANCE = [
    (
        "<mj-section>\n  <mj-column>\n\n    <mj-text>Hi\n  </mj-column>\n</mj-section>",
        "modules/hero/a.mjml line 5: </mj-column> on line 5 closes <mj-text> opened on line 4"
        " — close <mj-text> with </mj-text> first",
    ),
    (
        "<mj-section>\n<mj-column>\n<mj-text>a</mj-text>\n</mj-column>\n\n\n\n</mj-column>",
        "modules/hero/a.mjml line 8: </mj-column> on line 8 closes <mj-section> opened on"
        " line 1 — remove this </mj-column>, or add the missing <mj-column>",
    ),
    (
        "<mj-section>\n<mj-column>\n\n<mj-text>Hi\n",
        "modules/hero/a.mjml line 4: <mj-text> opened on line 4 is never closed"
        " — add </mj-text> where the element ends",
    ),
    (
        '<mj-column>\n<mj-image src="x.png">\n</mj-column>',
        "modules/hero/a.mjml line 3: </mj-column> on line 3 closes <mj-image> opened on"
        " line 2 — close <mj-image> with </mj-image> first",
    ),
    (
        "<mj-section></mj-section>\n</mj-text>",
        "modules/hero/a.mjml line 2: </mj-text> on line 2 has no matching <mj-text>"
        " — remove it, or add <mj-text> where the element starts",
    ),
    (
        "<mjml><mj-body><mj-style>.a > .b { color: red }",
        "modules/hero/a.mjml line 1: <mj-style> opened on line 1 is never closed"
        " — add </mj-style> where the element ends",
    ),
]


@pytest.mark.parametrize(
    ("markup", "message"),
    BALANCE,
    ids=["mismatch", "extra-close", "never-closed", "unclosed-leaf", "stray", "raw-text"],
)
def test_unbalanced_mj_tags(markup: str, message: str) -> None:
    assert error_of(markup) == message


def test_balance_errors_use_the_origin_of_each_line() -> None:
    source = Source(
        "<mj-section>\n<mj-column>\n<mj-text>x\n</mj-column>\n</mj-section>",
        (
            ("templates/weekly.mjml", 10),
            ("partials/col.mjml", 1),
            ("partials/col.mjml", 2),
            ("templates/weekly.mjml", 12),
            ("templates/weekly.mjml", 13),
        ),
    )
    with pytest.raises(RegistryError) as info:
        check_markup(source)
    assert str(info.value) == (
        "templates/weekly.mjml line 12: </mj-column> on line 12 closes <mj-text> opened on"
        " line 2 of partials/col.mjml — close <mj-text> with </mj-text> first"
    )
    assert (info.value.file, info.value.line) == ("templates/weekly.mjml", 12)


def test_never_closed_points_at_the_opening_file() -> None:
    source = Source("<mj-section>\n<mj-column>", (("layout.mjml", 3), ("modules/x.mjml", 7)))
    with pytest.raises(RegistryError) as info:
        check_markup(source)
    assert (info.value.file, info.value.line) == ("modules/x.mjml", 7)
    assert info.value.message == "<mj-column> opened on line 7 is never closed"


@pytest.mark.parametrize(
    "markup",
    [
        "<mj-text>a<br>b<p>c<div>d</span></p></mj-text>",
        "<mj-raw><table><tr><td>x</td></tr><!-- </mj-raw> --></table></mj-raw>",
        "<mj-button href='{{ links.shop | url }}'>Shop</mj-button>",
        '<mj-text>{{ "</mj-text>" }} {% if n > 2 %}<b>{% endif %}x</b></mj-text>',
        '<mj-image alt="{{ name | default(\'a "b" > c\') }}" src="x.png" />',
        "{# <mj-text> #}<mj-spacer/>",
        '<slot name="hero"/><mj-divider />',
        '<mj-text>Tom & Jerry &lt;3, javascript: is a word, "onclick" too, a > b</mj-text>',
        '<mj-text><a href="https://x.example/?q=javascript:">x</a></mj-text>',
        '<mj-section data-onboarding="x" background-url="https://x.example/bg.png"></mj-section>',
        "<mj-style>.a > .b { color: red } a[href^='javascript:'] { }</mj-style>",
        '<mj-text><a href="mailto:a@example.com">m</a><img src="cid:logo"></mj-text>',
        """<mj-button href="https://x.example/?q={{ first_name | replace('"', '\\'') }}">x"""
        "</mj-button>",
    ],
    ids=[
        "mismatched-html-in-text",
        "comment-in-raw",
        "jinja-attribute",
        "jinja-text",
        "jinja-quotes",
        "jinja-comment",
        "slot",
        "plain-text",
        "url-mentions-javascript",
        "safe-attributes",
        "css",
        "mailto-cid",
        "jinja-escaped-quote",
    ],
)
def test_good_markup_passes(markup: str) -> None:
    check(f"<mj-section><mj-column>{markup}</mj-column></mj-section>")


@pytest.mark.parametrize(
    "path", ALL_FILES, ids=[p.relative_to(CORPUS).as_posix() for p in ALL_FILES]
)
def test_corpus_has_no_false_positives(path: Path) -> None:
    check(path.read_text(encoding="utf-8"), file=path.name)


# --- check_markup: unsafe markup ------------------------------------------------------------


SCRIPT_HINT = "email clients never run scripts; remove the element"
HANDLER_HINT = "email clients never run scripts; remove the attribute"
URL_HINT = "use an http:, https:, mailto: or tel: URL"


@pytest.mark.parametrize(
    ("markup", "message"),
    [
        (
            "<mj-raw>\n<script>alert(1)</script></mj-raw>",
            f"line 2: <script> elements are not allowed: '<script>' — {SCRIPT_HINT}",
        ),
        (
            '<mj-text><SCRIPT SRC="https://evil.example/x.js"></SCRIPT></mj-text>',
            "line 1: <script> elements are not allowed: "
            f"'<SCRIPT SRC=\"https://evil.example/x.js\">' — {SCRIPT_HINT}",
        ),
        (
            "<mj-text>\n\n<script\n>x</mj-text>",
            f"line 3: <script> elements are not allowed: '<script\\n>' — {SCRIPT_HINT}",
        ),
        (
            '<mj-text><a href="#" onclick="steal()">x</a></mj-text>',
            f"line 1: event-handler attribute onclick='steal()' is not allowed on <a>"
            f" — {HANDLER_HINT}",
        ),
        (
            "<mj-image src='x.png' ONERROR='alert(1)' />",
            "line 1: event-handler attribute onerror='alert(1)' is not allowed on <mj-image>"
            f" — {HANDLER_HINT}",
        ),
        (
            "<mj-text><img src=x onerror=alert(1)></mj-text>",
            "line 1: event-handler attribute onerror='alert(1)' is not allowed on <img>"
            f" — {HANDLER_HINT}",
        ),
        (
            "<mj-text><body onload></mj-text>",
            f"line 1: event-handler attribute onload='' is not allowed on <body> — {HANDLER_HINT}",
        ),
        (
            '<mj-text><p onmouseover="{{ handler }}">x</p></mj-text>',
            "line 1: event-handler attribute onmouseover='{{ handler }}' is not allowed on <p>"
            f" — {HANDLER_HINT}",
        ),
        (
            '<mj-button href="javascript:alert(1)">x</mj-button>',
            f"line 1: href='javascript:alert(1)' on <mj-button> is a script URL — {URL_HINT}",
        ),
        (
            '<mj-text><a href=" JaVaScRiPt:x">x</a></mj-text>',
            f"line 1: href=' JaVaScRiPt:x' on <a> is a script URL — {URL_HINT}",
        ),
        (
            '<mj-text><a href="java\tscript:x">x</a></mj-text>',
            f"line 1: href='java\\tscript:x' on <a> is a script URL — {URL_HINT}",
        ),
        (
            '<mj-text><a href="&#106;avascript&colon;x">x</a></mj-text>',
            f"line 1: href='&#106;avascript&colon;x' on <a> is a script URL — {URL_HINT}",
        ),
        (
            "<mj-image src='vbscript:msgbox(1)' />",
            f"line 1: src='vbscript:msgbox(1)' on <mj-image> is a script URL — {URL_HINT}",
        ),
        (
            "<mj-button href=\"java{{ '' }}script:alert(1)\">x</mj-button>",
            "line 1: href=\"java{{ '' }}script:alert(1)\" on <mj-button> is a script URL"
            f" — {URL_HINT}",
        ),
        (
            '<mj-hero background-url="javascript:x"></mj-hero>',
            f"line 1: background-url='javascript:x' on <mj-hero> is a script URL — {URL_HINT}",
        ),
    ],
    ids=[
        "script-in-raw",
        "script-uppercase",
        "script-multiline",
        "onclick",
        "onerror-on-mj-image",
        "unquoted-handler",
        "valueless-handler",
        "handler-from-token",
        "javascript-href",
        "mixed-case-and-space",
        "tab-inside-scheme",
        "entities",
        "vbscript-src",
        "token-inside-scheme",
        "background-url",
    ],
)
def test_unsafe_markup_is_refused(markup: str, message: str) -> None:
    assert error_of(markup) == f"modules/hero/a.mjml {message}"


EMBED_HINT = (
    "it embeds content that no check sees, and email clients do not show it; remove the "
    "element, or link to the content with <a href>"
)
REFRESH_HINT = (
    "a refresh sends the reader to another page, and only a literal value shows it is none; "
    "remove the element, or link to the page with <a href>"
)
SRCDOC_HINT = (
    "a srcdoc is read as a page of its own after its entities are decoded, so escaped data "
    "would become markup there; remove the token"
)
ANIMATE_HINT = (
    "it can change a link's href to a script URL, and email clients do not animate; remove "
    "the element"
)
# Refused as <script> is: elements that embed or redirect, and tokens where escaping fails.
EMBEDDING = {
    "iframe-srcdoc": (
        '<mj-raw>\n<iframe srcdoc="{{ first_name }}"></iframe></mj-raw>',
        f"line 2: <iframe> elements are not allowed: '<iframe srcdoc=\"{{{{ first_name }}}}\">'"
        f" — {EMBED_HINT}",
    ),
    "iframe-src": (
        '<mj-text><IFRAME SRC="https://x.example/"></IFRAME></mj-text>',
        f"line 1: <iframe> elements are not allowed: '<IFRAME SRC=\"https://x.example/\">' — "
        f"{EMBED_HINT}",
    ),
    "object": (
        '<mj-raw><object data="https://x.example/a.swf"></object></mj-raw>',
        "line 1: <object> elements are not allowed: "
        f"'<object data=\"https://x.example/a.swf\">' — {EMBED_HINT}",
    ),
    "embed": (
        '<mj-raw><embed src="https://x.example/a.swf"/></mj-raw>',
        "line 1: <embed> elements are not allowed: "
        f"'<embed src=\"https://x.example/a.swf\"/>' — {EMBED_HINT}",
    ),
    **{
        name: (
            f'<mj-raw><{name} src="https://x.example/"></{name}></mj-raw>',
            f"line 1: <{name}> elements are not allowed: '<{name} src=\"https://x.example/\">' "
            f"— {EMBED_HINT}",
        )
        for name in ("frame", "frameset", "applet", "portal")
    },
    "base": (
        '<mj-raw><base href="https://x.example/"/></mj-raw>',
        "line 1: <base> elements are not allowed: '<base href=\"https://x.example/\"/>' — it "
        "changes where every relative link goes; remove the element and write full URLs",
    ),
    "meta-refresh": (
        '<mj-raw><meta http-equiv="refresh" content="0;url={{ u }}"></mj-raw>',
        "line 1: <meta http-equiv='refresh'> is not allowed: '<meta http-equiv=\"refresh\" "
        f'content="0;url={{{{ u }}}}">\' — {REFRESH_HINT}',
    ),
    "meta-refresh-spelled-otherwise": (
        "<mj-raw><META HTTP-EQUIV=' Re&#102;resh' content=5></mj-raw>",
        "line 1: <meta http-equiv=' Re&#102;resh'> is not allowed: "
        f"\"<META HTTP-EQUIV=' Re&#102;resh' content=5>\" — {REFRESH_HINT}",
    ),
    "meta-http-equiv-from-data": (
        '<mj-raw><meta http-equiv="{{ tier }}" content="0"></mj-raw>',
        "line 1: <meta http-equiv='{{ tier }}'> is not allowed: "
        f'\'<meta http-equiv="{{{{ tier }}}}" content="0">\' — {REFRESH_HINT}',
    ),
    **{
        name.lower(): (
            f'<mj-raw><svg><a><{name} attributeName="href" to="{{{{ y }}}}"/></a></svg></mj-raw>',
            f"line 1: <{name.lower()}> elements are not allowed: "
            f'\'<{name} attributeName="href" to="{{{{ y }}}}"/>\' — {ANIMATE_HINT}',
        )
        for name in ("animate", "set", "animateMotion", "animateTransform")
    },
    "srcdoc-token": (
        '<mj-raw><div srcdoc="<p>{{ first_name }}</p>"></div></mj-raw>',
        f"line 1: Jinja tag '{{{{ first_name }}}}' in srcdoc= of <div> — {SRCDOC_HINT}",
    ),
}


@pytest.mark.parametrize(("markup", "message"), EMBEDDING.values(), ids=EMBEDDING.keys())
def test_embedding_and_redirecting_markup_is_refused(markup: str, message: str) -> None:
    assert error_of(markup) == f"modules/hero/a.mjml {message}"


@pytest.mark.parametrize(
    "markup",
    [
        '<mj-raw><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"/></mj-raw>',
        '<mj-raw><meta name="refresh" content="{{ tier }}"/></mj-raw>',
        '<mj-raw><div srcdoc="<p>hi</p>" title="{{ tier }}"></div></mj-raw>',
        "<mj-text>an iframe, &lt;object&gt; and <!-- <embed> --> in text</mj-text>",
    ],
    ids=["meta-content-type", "meta-name", "srcdoc-literal", "words-and-comments"],
)
def test_harmless_meta_srcdoc_and_mentions_pass(markup: str) -> None:
    check(f"<mj-section><mj-column>{markup}</mj-column></mj-section>")


@pytest.mark.parametrize(
    ("markup", "message"),
    [
        (
            '<mj-text><a href="{% if a %}https://a.example/{% else %}javascript:x{% endif %}">'
            "x</a></mj-text>",
            "line 1: href='{% if a %}https://a.example/{% else %}javascript:x{% endif… on <a> "
            f"is a script URL — {URL_HINT}",
        ),
        (
            '<mj-button href="{{ base }}vbscript:x">x</mj-button>',
            f"line 1: href='{{{{ base }}}}vbscript:x' on <mj-button> is a script URL — {URL_HINT}",
        ),
        (
            '<mj-text><a href="{% if a %}/{% elif b %}java{# x #}script:x{% endif %}">x</a>'
            "</mj-text>",
            "line 1: href='{% if a %}/{% elif b %}java{# x #}script:x{% endif %}' on <a> is a "
            f"script URL — {URL_HINT}",
        ),
    ],
    ids=["else-branch", "after-a-value-printed-empty", "split-scheme-in-a-branch"],
)
def test_a_script_url_after_any_jinja_token_is_refused(markup: str, message: str) -> None:
    # A branch not taken, or a value printed empty, drops what comes before the token.
    assert error_of(markup) == f"modules/hero/a.mjml {message}"


@pytest.mark.parametrize(
    "href",
    [
        "https://a.example/?next=javascript:x",
        "{{ links.shop }}?next=javascript:x",
        "{% if a %}https://a.example/{% else %}https://b.example/?next=javascript:x{% endif %}",
        "https://a.example/{{ path }}/javascript:x",
    ],
    ids=["query", "query-after-a-value", "query-in-a-branch", "path"],
)
def test_javascript_inside_a_url_after_a_token_passes(href: str) -> None:
    check(f'<mj-section><mj-column><mj-button href="{href}">x</mj-button></mj-column></mj-section>')


def test_check_markup_depth_limit() -> None:
    markup = "<mj-text>\n" + "<div>" * 250 + "</div>" * 250 + "</mj-text>"
    assert error_of(markup) == (
        f"modules/hero/a.mjml line 2: markup nests 251 levels deep, the limit is 200 — {DEPTH_HINT}"
    )


def test_check_markup_depth_bomb_is_fast_and_located() -> None:
    markup = "\n\n" + text_block("<div>" * 20_000)
    assert error_of(markup, max_depth=100).startswith("modules/hero/a.mjml line 3: markup nests")


def test_check_markup_size_limit() -> None:
    assert error_of("<mj-text>" + "x" * 2_000 + "</mj-text>", max_bytes=1_000) == (
        "modules/hero/a.mjml: markup is 2,019 bytes, the limit is 1,000 — move large content"
        " (inline images, long CSS, big tables) out of the template"
    )


@pytest.mark.parametrize(
    "name",
    [
        *("ping", "cite", "srcset", "data", "manifest", "codebase", "dynsrc", "lowsrc"),
        *("to", "from", "values"),
    ],
)
def test_a_literal_script_url_in_any_url_attribute_is_refused(name: str) -> None:
    markup = f'<mj-raw><div {name}="javascript:alert(1)"></div></mj-raw>'
    assert error_of(markup) == (
        f"modules/hero/a.mjml line 1: {name}='javascript:alert(1)' on <div> is a script URL — "
        "use an http:, https:, mailto: or tel: URL"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("srcset", "https://x.example/a.png 1x, javascript:alert(1) 2x"),
        ("srcset", "https://x.example/a.png 1x,javascript:alert(1)"),
        ("srcset", "{{ a }} 1x, java&#10;script:alert(1) 2x"),
        ("srcset", "https://x.example/a.png 1x&#44;javascript:alert(1)"),
        ("imagesrcset", "a.png 1x, {{ b }} 2x, javascript:alert(1) 3x"),
        ("ping", "https://x.example/p javascript:alert(1)"),
        ("ping", "https://x.example/p\n\tvbscript:x"),
        ("values", "https://x.example/;javascript:alert(1)"),
    ],
    ids=[
        "srcset-later",
        "srcset-no-space",
        "srcset-after-token",
        "srcset-encoded-comma",
        "imagesrcset",
        "ping-later",
        "ping-newline",
        "values-later",
    ],
)
def test_a_literal_script_url_later_in_a_url_list_is_refused(name: str, value: str) -> None:
    markup = f'<mj-raw><img {name}="{value}"></mj-raw>'
    assert error_of(markup) == (
        f"modules/hero/a.mjml line 1: {name}={value!r} on <img> is a script URL — "
        "use an http:, https:, mailto: or tel: URL"
    )


@pytest.mark.parametrize(
    "attribute",
    [
        'srcset="https://x.example/a.png 1x, {{ img2 }} 2x, https://x.example/c.png 300w"',
        'srcset="https://x.example/a.png?next=javascript:x 1x"',
        'ping="https://x.example/p https://y.example/q?javascript:x"',
    ],
    ids=["srcset", "srcset-query", "ping"],
)
def test_url_lists_without_a_script_url_pass(attribute: str) -> None:
    check(f"<mj-section><mj-column><mj-raw><img {attribute}></mj-raw></mj-column></mj-section>")


QUOTE_HINT = (
    "the MJML compiler turns it into a broken attribute that the link and style checks cannot "
    'read; write &quot; for the ", or put double quotes around a value without "'
)


@pytest.mark.parametrize(
    ("markup", "message"),
    [
        (
            '<mj-button rel=\'a"b\' href="{{ y }}">Go</mj-button>',
            f"line 1: rel='a\"b' on <mj-button> holds a \" inside single quotes — {QUOTE_HINT}",
        ),
        (
            '<mj-text>\n<a title=\'Say "hi"\' href="https://shop.example/">x</a></mj-text>',
            f'line 2: title=\'Say "hi"\' on <a> holds a " inside single quotes — {QUOTE_HINT}',
        ),
        (
            '<mj-image alt=\'The "{{ y }}" tee\' src="https://shop.example/a.png"/>',
            'line 1: alt=\'The "{{ y }}" tee\' on <mj-image> holds a " inside single quotes'
            f" — {QUOTE_HINT}",
        ),
    ],
    ids=["mj-element", "html-in-text", "around-a-token"],
)
def test_a_double_quote_inside_single_quotes_is_refused(markup: str, message: str) -> None:
    # MRML rewrites rel='a"b' as rel="a\" b"="", which hides the element from restore's checks.
    assert error_of(markup) == f"modules/hero/a.mjml {message}"


@pytest.mark.parametrize(
    "attribute",
    [
        "alt='The &quot;Classic&quot; tee'",
        'alt="It\'s &quot;ours&quot;"',
        "alt='{{ \"The\" ~ name }}'",
    ],
    ids=["entity", "apostrophe-in-double-quotes", "quote-inside-a-token"],
)
def test_quotes_that_mjml_keeps_pass(attribute: str) -> None:
    check(f'<mj-section><mj-column><mj-image {attribute} src="a.png"/></mj-column></mj-section>')


# --- what the MJML compiler would stop at without a position ---------------------------------

OPEN_HINT = (
    "the MJML compiler needs every element inside mj- elements closed (void ones such as <br> "
    "and <img> need not be), and one cannot open in an mj-raw and close in another"
)
LT_HINT = (
    "the MJML compiler reads every < as the start of a tag; write &lt; for a less-than sign in text"
)
COMMENT_HINT = (
    'it reads comments as XML does: no "--" inside and no "-" just before "-->"; change the '
    "hyphens (e.g. <!-- == header == -->)"
)


@pytest.mark.parametrize(
    ("markup", "message"),
    [
        (
            "<mj-text>\n<p>Hello\n</mj-text>",
            "line 2: <p> opened on line 2 is still open at </mj-text> on line 3 — close it with "
            f"</p> before </mj-text>: {OPEN_HINT}",
        ),
        (
            "<mj-text>a<br>b<p>c<div>d</span></mj-text>",
            "line 1: <p> opened on line 1 is still open at </mj-text> on line 1 — close it with "
            f"</p> before </mj-text>: {OPEN_HINT}",
        ),
        (
            "<mj-text>{% if n > 2 %}<b>{% endif %}x</mj-text>",
            "line 1: <b> opened on line 1 is still open at </mj-text> on line 1 — close it with "
            f"</b> before </mj-text>: {OPEN_HINT}",
        ),
        (
            "<mj-text>a</span>b</mj-text>",
            "line 1: </span> on line 1 closes nothing inside <mj-text> opened on line 1 — remove "
            "it, or add the missing <span>: the MJML compiler would end the <mj-text> here",
        ),
        (
            "<mj-text>a<BR>b</mj-text>",
            "line 1: <BR> opened on line 1 is still open at </mj-text> on line 1 — write <br> or "
            "<BR/>: the MJML compiler waits for an end tag after any other spelling",
        ),
        (
            "<mj-text>Tom & Jerry <3</mj-text>",
            f"line 1: a '<' that starts no tag: '<3</mj-text></mj-column></mj-s' — {LT_HINT}",
        ),
        (
            "<mj-text>\nSave <20% today</mj-text>",
            f"line 2: a '<' that starts no tag: '<20% today</mj-text></mj-colum' — {LT_HINT}",
        ),
        (
            "<mj-text>a <b</mj-text>",
            "line 1: a tag that never ends: '<b' — end the tag with >, or write &lt; for a "
            "less-than sign in text",
        ),
        (
            "<mj-text>a<!-- ---- header ---- -->b</mj-text>",
            f"line 1: a comment the MJML compiler cannot read: '<!-- ---- header ---- -->' — "
            f"{COMMENT_HINT}",
        ),
        (
            "<mj-text>a<!-- a --->b</mj-text>",
            f"line 1: a comment the MJML compiler cannot read: '<!-- a --->' — {COMMENT_HINT}",
        ),
    ],
    ids=[
        "open-p",
        "open-after-mismatch",
        "open-in-a-branch",
        "stray-end-tag",
        "upper-case-void",
        "heart",
        "less-than",
        "tag-never-ends",
        "dashes-in-comment",
        "dash-before-end",
    ],
)
def test_markup_the_mjml_compiler_cannot_parse_is_refused_at_its_line(
    markup: str, message: str
) -> None:
    assert (
        error_of(f"<mj-section><mj-column>{markup}</mj-column></mj-section>")
        == f"modules/hero/a.mjml {message}"
    )


@pytest.mark.parametrize(
    "markup",
    [
        '<mj-text><p>a</p><br><img src="x.png"><hr/><BR/><br a="x" />a > b &lt; c</mj-text>',
        "<mj-text>a<!---->b<!---a -->c<!-- a- -->d</mj-text>",
        "<mj-raw><!--[if !mso]><!--><div>x</div><!--<![endif]--></mj-raw>",
        "<mj-text><b><i>a</b></i><P>b</p></mj-text>",
    ],
    ids=["closed-and-void", "comments", "conditional-comment", "closed-by-count"],
)
def test_markup_the_mjml_compiler_parses_passes(markup: str) -> None:
    text = f"<mj-section><mj-column>{markup}</mj-column></mj-section>"
    check(text)
    compile_mjml(document(text))


_PIECES = (
    *("a", " ", "<", ">", "/", "!", "-", "\n", "<p>", "</p>", "<b>", "</b>", "<br>", "<BR>"),
    *("<!--", "-->", "<3", "&lt;", "</i>", '<a href="x">', "</a>", "{{ x }}", "<img/>"),
)
_TEXT = st.lists(st.sampled_from(_PIECES), max_size=10).map("".join)


def _load_and_compile(markup: str, *, marker: str = "") -> tuple[str | None, str | None]:
    """The load check's error and the MJML compiler's, each None when it passed; ``{{ x }}``
    becomes ``marker`` for the compiler."""
    try:
        check(markup)
    except RegistryError as exc:
        refused: str | None = str(exc)
    else:
        refused = None
    try:
        compile_mjml(markup.replace("{{ x }}", marker) if marker else markup)
    except RenderError as exc:
        return refused, str(exc)
    return refused, None


@given(body=_TEXT)
def test_text_syntax_agrees_with_the_mjml_compiler(body: str) -> None:
    """A body passes load exactly when the compiler reads it or names where it stopped."""
    # The compiler gets the token as protect hands it over: a marker.
    refused, compiled = _load_and_compile(text_block(body), marker="zq1qz")
    if refused is None:
        unplaced = compiled is not None and " at '" not in compiled.split(" — ")[0]
        assert not unplaced, compiled
    elif re.search("still open at|starts no tag|never ends|comment the", refused):
        assert compiled is not None, refused
    # A stray end tag may also compile: see the test below.


def test_the_compiler_ends_an_mj_text_at_a_stray_end_tag() -> None:
    """Why a stray end tag is refused: what follows it leaves the mj-text and its styles."""
    html = compile_mjml(text_block("a</p><p>b"))
    assert (
        'color:#000000;">a</div></td></tr><tr><td style="font-size:0px;word-break:break-word;">'
        "<p>b</p>" in html
    )


# --- attribute syntax: what the MJML compiler reads ------------------------------------------

NAME_HINT = (
    "attribute names start with a letter or _ and hold letters, digits, -, _ and ., with at "
    "most one : (as in xlink:href); rename or remove the attribute"
)
SPACE_HINT = "the MJML compiler needs a space between attributes; add one after the closing quote"


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        (
            "href=https://shop.example/a",
            "line 1: attribute 'href' of <a> has a value without quotes: "
            "'href=https://shop.example/a' — the MJML compiler needs quotes around every "
            'value; write href="https://shop.example/a"',
        ),
        (
            "href={{ links.shop }}",
            "line 1: attribute 'href' of <a> has a value without quotes: "
            "'href={{ links.shop }}' — the MJML compiler needs quotes around every value; "
            'write href="{{ links.shop }}"',
        ),
        (
            'id="k"\n   title= >',
            "line 2: attribute 'title' of <a> has a value without quotes: 'title=' — the MJML "
            'compiler needs quotes around every value; write title="…"',
        ),
        (
            'id="k"class="c"',
            f"line 1: attribute 'id' of <a> runs into the next one: 'id=\"k\"class=\"c\"' — "
            f"{SPACE_HINT}",
        ),
        (
            '@click="go"',
            "line 1: <a> has an attribute the MJML compiler cannot read: '@click=\"go\"' — "
            + NAME_HINT,
        ),
        (
            'data$x="1"',
            "line 1: <a> has an attribute the MJML compiler cannot read: 'data$x=\"1\"' — "
            + NAME_HINT,
        ),
    ],
    ids=["unquoted", "unquoted-token", "empty-on-line-2", "glued", "vue-event", "odd-name"],
)
def test_attributes_the_mjml_compiler_cannot_read_are_refused_at_their_line(
    attrs: str, message: str
) -> None:
    assert error_of(f"<mj-text><a {attrs}>x</a></mj-text>") == f"modules/hero/a.mjml {message}"


@pytest.mark.parametrize(
    "attrs",
    ["a=\"x\"\tb='y'", "disabled", "a b", 'a =\n "x"', "_a=\"\" :b=''", 'é="x"'],
)
def test_attributes_the_mjml_compiler_reads_pass(attrs: str) -> None:
    check(text_block(f"<p {attrs}>x</p>"))


_ATTR_TEXT = st.text(alphabet=st.sampled_from(list("ab1-_.:$@ =\"'/\t\né")), max_size=14)


@given(attrs=_ATTR_TEXT)
def test_attribute_syntax_agrees_with_the_mjml_compiler(attrs: str) -> None:
    """Refused at load exactly when the compiler cannot parse the attributes either."""
    markup = text_block(f"<p {attrs}>x</p>")
    if re.search("[\"']", re.sub("\"[^\"]*\"|'[^']*'", "", attrs)):
        return  # an open quote swallows the rest of the document: no tag to check is left
    refused, compiled = _load_and_compile(markup)
    if refused is None:
        assert compiled is None or "unable to parse" not in compiled, compiled
    elif re.search("cannot read: |has a value without quotes|runs into the next one", refused):
        assert compiled is not None, refused  # no refusal the compiler would have let through
