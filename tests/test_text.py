"""Tests for personalize.text: HTML → plain text, and text normalization."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import NamedTuple

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from mjml import mjml2html

from personalize.text import Event, html_to_text, normalize_text, settle_static_breaks

SENTINEL = re.compile(r"zq\d+qz")
MARK = "zq1qz"


def convert(source: str) -> str:
    return normalize_text(html_to_text(source, keep_comment=SENTINEL))


def collapse_ws(value: str) -> str:
    # HTML whitespace only: U+00A0 and other Unicode spaces are text, as in html_to_text.
    return re.sub(r"[ \t\n\r\f]+", " ", value)


class Case(NamedTuple):
    name: str
    html: str
    expected: str


CASES = [
    # blocks
    Case("paragraphs", "<p>One</p><p>Two</p>", "One\n\nTwo\n"),
    Case("divs", "<div>One</div><div>Two</div>", "One\nTwo\n"),
    Case(
        "navbar",  # as MJML writes mj-navbar-link: inline blocks that touch
        '<div><a href="https://e.com/a" style="display:inline-block;padding:15px">Shop</a>'
        '<a href="https://e.com/b" style="DISPLAY: inline-block">About</a></div>',
        "Shop (https://e.com/a) About (https://e.com/b)\n",
    ),
    Case("inline-block-in-text", 'x<span style="display:inline-block">A</span>, b', "x A, b\n"),
    Case("nested-divs", "<div><div>A</div></div><div><div>B</div></div>", "A\nB\n"),
    Case(
        "heading-not-uppercased", "<h1>Big Title</h1><h2>Sub</h2>Text", "Big Title\n\nSub\n\nText\n"
    ),
    Case("h6", "a<h6>six</h6>b", "a\n\nsix\n\nb\n"),
    Case(
        "table-cells",
        "<table><tr><td>A</td><th>B</th></tr><tr><td>C</td></tr></table>",
        "A\nB\nC\n",
    ),
    Case(
        "table-paragraph",
        "<p>before</p><table><tr><td>x</td></tr></table>after",
        "before\n\nx\n\nafter\n",
    ),
    Case(
        "line-blocks",
        "<section>s</section><article>a</article><header>h</header><footer>f</footer>"
        "<blockquote>q</blockquote>",
        "s\na\nh\nf\nq\n",
    ),
    Case(
        "inline-elements",
        "<p>Hello <b>bold</b> <i>and</i> <span>more</span></p>",
        "Hello bold and more\n",
    ),
    Case("br", "a<br>b<br/><br>c", "a\nb\n\nc\n"),
    Case("br-at-block-end", "<div>a<br></div><div>b</div>", "a\nb\n"),
    Case("hr-between-paragraphs", "<p>a</p><hr><p>b</p>", "a\n\n--------------------\n\nb\n"),
    Case("hr-inline", "a<hr/>b", "a\n--------------------\nb\n"),
    Case("unordered-list", "<ul><li>one</li><li>two</li></ul>", "- one\n- two\n"),
    Case(
        "ordered-list",
        "<p>Steps:</p><ol><li>first</li><li>second</li></ol>",
        "Steps:\n\n- first\n- second\n",
    ),
    # whitespace and entities
    Case("whitespace-collapses", "<p>  Hello\n\t  world \r\n </p>", "Hello world\n"),
    Case(
        "whitespace-between-blocks", "<div>\n  <p>\n    x\n  </p>\n  <p>y</p>\n</div>", "x\n\ny\n"
    ),
    Case("nbsp-entity-kept", "<p>12,00&nbsp;€ a&nbsp;&nbsp;b</p>", "12,00\xa0€ a\xa0\xa0b\n"),
    Case("nbsp-character-kept", "<p>12,00\xa0€</p>", "12,00\xa0€\n"),
    Case("spacer-cells", "<div>A</div><div>&nbsp;</div><div>&#8202;</div><div>B</div>", "A\n\nB\n"),
    Case(
        "entities",
        "&amp; &lt;tag&gt; &quot;q&quot; &#39; &eacute; &#x2014;",
        '& <tag> "q" \' é —\n',
    ),
    Case("pre-keeps-lines", "<p>x</p><pre>a\n\nb\nc</pre>", "x\n\na\n\nb\nc\n"),
    # skipped content
    Case(
        "head-style-script-title",
        "<html><head><title>T</title><style>p{color:red}</style></head>"
        "<body><script>var x = '<p>no</p>';</script><p>yes</p></body></html>",
        "yes\n",
    ),
    Case("unclosed-head", "<html><head><title>T</title><meta charset=utf-8><p>x</p>", "x\n"),
    Case("display-none", '<div style="display:none">hidden</div>shown', "shown\n"),
    Case(
        "display-none-spaced-case",
        '<span style="color:red; DISPLAY : None !important">h</span>shown',
        "shown\n",
    ),
    Case(
        "mso-hide-block",
        '<div style="mso-hide:all;display:none;max-height:0">h<br><img alt=x></div>shown',
        "shown\n",
    ),
    Case(
        "mjml-preheader",
        '<div style="display:none;font-size:1px;color:#ffffff;line-height:1px;max-height:0px;'
        'max-width:0px;opacity:0;overflow:hidden;">Preview zq1qz</div><div>Body</div>',
        "Body\n",
    ),
    Case("display-block-shown", '<div style="display:block">shown</div>', "shown\n"),
    Case(
        "mso-conditional-dropped",
        "<!--[if mso | IE]><table><tr><td>mso only</td></tr></table><![endif]-->visible",
        "visible\n",
    ),
    Case("downlevel-revealed", "<!--[if !mso]><!-->all<!--<![endif]-->", "all\n"),
    Case("comments-dropped", "a<!-- note -->b<!--zq-->c", "abc\n"),
    Case("images-outside-links-skipped", '<p>a<img src="x.png" alt="pic">b</p>', "ab\n"),
    # sentinels
    Case("sentinel-in-text", "<p>a<!--zq13qz-->b</p>", "a<!--zq13qz-->b\n"),
    Case(
        "sentinels-between-rows",
        "<table><tr><td>A</td></tr><!--zq13qz--><tr><td>B</td></tr><!--zq14qz--></table>",
        "A\n<!--zq13qz-->\nB\n<!--zq14qz-->\n",
    ),
    Case(
        "sentinels-around-cells",
        "<table><tr><!--zq5qz--><td>zq6qz</td><!--zq7qz--></tr></table>",
        "<!--zq5qz-->\nzq6qz\n<!--zq7qz-->\n",
    ),
    Case(
        "sentinel-in-hidden-element-kept",
        '<div style="display:none">pre <!--zq2qz-->header</div>x',
        "<!--zq2qz-->x\n",
    ),
    # links
    Case("link", '<a href="https://x.com/a">Shop</a>', "Shop (https://x.com/a)\n"),
    Case(
        "link-in-text",
        '<p>Go <a href="https://x.com/">here</a>, now.</p>',
        "Go here (https://x.com/), now.\n",
    ),
    Case("marker-in-href", '<a href="zq3qz">Shop now</a>', "Shop now (zq3qz)\n"),
    Case(
        "marker-in-href-query",
        '<a href="https://x.com/?u=zq3qz&amp;c=1">Shop</a>',
        "Shop (https://x.com/?u=zq3qz&c=1)\n",
    ),
    Case(
        "image-link-alt",
        '<a href="https://x.com/"><img alt="Logo" src="l.png"></a>',
        "Logo (https://x.com/)\n",
    ),
    Case("image-link-first-alt", '<a href="u"><img alt="A"><img alt="B"></a>', "A (u)\n"),
    Case("image-link-no-alt", '<a href="https://x.com/"><img src="l.png"></a>', "https://x.com/\n"),
    Case(
        "sentinels-in-link",
        '<a href="u"><!--zq5qz-->Shop<!--zq6qz--></a>',
        "<!--zq5qz-->Shop<!--zq6qz--> (u)\n",
    ),
    Case("image-and-text-link", '<a href="u"><img alt="A"> text</a>', "text (u)\n"),
    Case("empty-link", '<p>x <a href="u"></a> y</p>', "x u y\n"),
    Case("text-equals-url", '<a href="https://x.com/">https://x.com/</a>', "https://x.com/\n"),
    Case("mailto-equals-text", '<a href="mailto:a@b.c">a@b.c</a>', "mailto:a@b.c\n"),
    Case("mailto-other-text", '<a href="mailto:a@b.c">Write us</a>', "Write us (mailto:a@b.c)\n"),
    Case("fragment-href", '<a href="#top">Top</a>', "Top\n"),
    Case("javascript-href", '<a href="javascript:void(0)">Click</a>', "Click\n"),
    Case("javascript-href-case", '<a href=" JavaScript:alert(1)">Click</a>', "Click\n"),
    Case("empty-href", '<a href="">x</a>', "x\n"),
    Case("no-href", '<a name="x">anchor</a>', "anchor\n"),
    Case("href-spaces-stripped", '<a href=" https://x.com/ ">x</a>', "x (https://x.com/)\n"),
    Case("link-text-spaces", '<p>Go<a href="u"> Shop </a>now</p>', "Go Shop (u) now\n"),
    Case(
        "link-around-block",
        '<p>x</p><a href="u"><div>Title</div></a><p>y</p>',
        "x\n\nTitle (u)\n\ny\n",
    ),
    Case(
        "link-in-cell", '<table><tr><td><a href="u">A</a></td><td>B</td></tr></table>', "A (u)\nB\n"
    ),
    # malformed
    Case("unclosed-tags", "<div><p>a<div>b", "a\n\nb\n"),
    Case("stray-end-tags", "a</span></td></div>b</p>c", "ab\n\nc\n"),
    Case("p-closed-by-div", "<p>a<div>b</div>c</p>d", "a\n\nb\nc\n\nd\n"),
    Case("unclosed-link", '<p><a href="u">text', "text (u)\n"),
    Case("nested-links", '<a href="1">a<a href="2">b</a></a>', "a (1)b (2)\n"),
    Case("stray-br-end", "a</br>b", "a\nb\n"),
    Case("unclosed-cells", "<table><tr><td>A<td>B<tr><td>C</table>", "A\nB\nC\n"),
    Case("unclosed-list-items", "<ul><li>a<li>b</ul>", "- a\n- b\n"),
    Case("self-closed-div", "<div/>a<div/>b", "a\nb\n"),
    Case("nameless-marked-section", "a<![<b>c", "ac\n"),  # html.parser raises on it
    Case("empty", "", ""),
    Case("only-whitespace", " \n\t ", ""),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_html_to_text_golden(case: Case) -> None:
    assert convert(case.html) == case.expected


def test_comments_dropped_without_keep_comment() -> None:
    assert normalize_text(html_to_text("a<!--zq1qz-->b")) == "ab\n"


def test_keep_comment_must_match_whole_comment() -> None:
    assert convert("a<!--zq1qz and more-->b") == "ab\n"


def test_block_markers_inside_other_comments_are_kept_as_sentinels() -> None:
    # <!-- {% if vip %} --> runs in the HTML, so its marker must reach the text part too.
    keep, blocks = re.compile(r"zq\d+qz"), re.compile(r"zq(?:2|5)qz")
    html = "<p>Hi<!-- zq2qz zq3qz -->, VIP</p><!--[if mso]>zq5qz<![endif]--><!--zq4qz-->"
    text = html_to_text(html, keep_comment=keep, comment_blocks=blocks)
    assert text == "Hi<!--zq2qz-->, VIP\ufdd1<!--zq5qz--><!--zq4qz-->"
    assert html_to_text(html, keep_comment=keep) == "Hi, VIP\ufdd1<!--zq4qz-->"


def test_deep_nesting_stays_linear() -> None:
    depth = 20_000  # quadratic work here would take many seconds
    assert convert("<div>" * depth + "x" + "</div>" * depth) == "x\n"
    assert convert('<p><a href="u">' + "<span>" * depth + "x") == "x (u)\n"


MJML = """
<mjml>
  <mj-head>
    <mj-title>Weekly picks</mj-title>
    <mj-preview>Hidden preview for zq1qz</mj-preview>
  </mj-head>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-image src="https://cdn.example.com/logo.png" alt="Shop" href="https://shop.example.com/"/>
        <mj-text>
          <h1>Hi zq2qz,</h1>
          <p>Your price: zq4qz &amp; free shipping.</p>
        </mj-text>
        <mj-spacer height="20px"/>
        <mj-button href="zq3qz">Shop now</mj-button>
        <mj-divider/>
        <mj-text><p>Questions? <a href="mailto:help@example.com">help@example.com</a></p></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>
"""

MJML_TEXT = """\
Shop (https://shop.example.com/)

Hi zq2qz,

Your price: zq4qz & free shipping.

Shop now (zq3qz)

Questions? mailto:help@example.com
"""


def test_realistic_mjml_email() -> None:
    assert convert(mjml2html(MJML)) == MJML_TEXT


def test_realistic_mjml_fast_path_equals_reference_path() -> None:
    values = {
        "zq1qz": "Ann",
        "zq2qz": "",
        "zq3qz": "https://x.example/p?a=1&b=2",
        "zq4qz": "9\xa0€",
    }
    template = html_to_text(mjml2html(MJML), keep_comment=SENTINEL)
    fast = normalize_text(SENTINEL.sub(lambda m: collapse_ws(values[m.group()]), template))
    filled = SENTINEL.sub(lambda m: html.escape(values[m.group()]), MJML)
    assert fast == normalize_text(html_to_text(mjml2html(filled)))
    assert "Hi ,\n\nYour price: 9\xa0€ & free" in fast


# -- normalize_text -----------------------------------------------------------------------------

NORMALIZE_CASES = [
    Case("empty", "", ""),
    Case("blank", "  \n\n \t\n", ""),
    Case("adds-final-newline", "a", "a\n"),
    Case("single-final-newline", "a\n\n\n", "a\n"),
    Case("crlf-and-cr", "a\r\nb\rc", "a\nb\nc\n"),
    Case("spaces-and-tabs", "a  \t b", "a b\n"),
    Case("line-edges", " a \n\t b\t", "a\nb\n"),
    Case("blank-lines-capped", "a\n\n\n\n b", "a\n\nb\n"),
    Case("one-blank-line-kept", "a\n\nb", "a\n\nb\n"),
    Case("leading-blank-lines", "\n \n a", "a\n"),
    Case("nbsp-kept", "a\xa0\xa0b \xa0", "a\xa0\xa0b \xa0\n"),
    Case("invisible-lines-blank", "a\n\xa0\u200a \n\u200b\nb", "a\n\nb\n"),
    Case("invisible-edge-lines", "\xa0\na\n\ufeff", "a\n"),
    Case("nbsp-indent-kept", "\xa0\xa0a", "\xa0\xa0a\n"),
    Case("other-separators-kept", "a\u2028b\x0bc", "a\u2028b\x0bc\n"),
]


# Soft breaks (LINE "\ufdd0", PARA "\ufdd1") and links: runs of marks alone resolve on a quick
# path, a PARA also next to spaces and newlines; a LINE with a space or newline before it, or a
# space after it, sends the text down the general path.
MARKED_CASES = [
    Case("para-run", "a\ufdd1\ufdd1b", "a\n\nb\n"),
    Case("para-then-lines", "a\ufdd1\ufdd0\ufdd0b", "a\n\nb\n"),
    Case("lines-then-para", "a\ufdd0\ufdd0\ufdd1\ufdd1b", "a\n\nb\n"),
    Case("line-para-line", "a\ufdd0\ufdd1\ufdd0b", "a\n\nb\n"),
    Case("line-run", "a\ufdd0\ufdd0\ufdd0b", "a\nb\n"),
    Case("breaks-at-edges", "\ufdd0a\ufdd0b\ufdd1", "a\nb\n"),
    Case("para-next-to-newlines", "a\n\ufdd1\nb", "a\n\nb\n"),
    Case("para-next-to-spaces", "a \ufdd1 b", "a\n\nb\n"),
    Case("line-takes-newline", "a\ufdd0\nb", "a\nb\n"),
    Case("line-before-blank-line", "a\ufdd0\n\nb", "a\n\nb\n"),
    Case("line-para-space", "a\ufdd0\ufdd1 b", "a\n\nb\n"),
    Case("line-after-newline", "a\n\ufdd0b", "a\nb\n"),
    Case("lines-after-newline", "a\n\ufdd0\ufdd0b", "a\nb\n"),
    Case("line-after-space", "a \ufdd0b", "a\nb\n"),
    Case("line-after-newline-space", "a\n \ufdd0b", "a\nb\n"),
    Case("line-before-space", "a\ufdd0 b", "a\nb\n"),
    Case("line-space-newline", "a\ufdd0 \nb", "a\nb\n"),
    Case("lines-around-space", "a\ufdd0 \ufdd0b", "a\nb\n"),
    Case("lines-around-newline", "a\ufdd0\n\ufdd0b", "a\nb\n"),
    Case("para-space-line", "a\ufdd1 \ufdd0b", "a\n\nb\n"),
    Case("invisible-line-between-breaks", "a\ufdd1\xa0\ufdd1b", "a\n\nb\n"),
    Case("space-before-newline", "a \nb", "a\nb\n"),
    Case("space-after-newline", "a\n b", "a\nb\n"),
    Case("invisible-last-line", "a\n\u3000", "a\n"),
    Case("plain-links", "\ufdd2A\ufdd4u\ufdd5 \ufdd2B\ufdd4v\ufdd5", "A (u) B (v)\n"),
    Case("stray-end", "\ufdd2a\ufdd4\ufdd5\ufdd5b", "a)b\n"),
]


@pytest.mark.parametrize(
    "case",
    [*NORMALIZE_CASES, *MARKED_CASES],
    ids=[c.name for c in [*NORMALIZE_CASES, *MARKED_CASES]],
)
def test_normalize_text_golden(case: Case) -> None:
    assert normalize_text(case.html) == case.expected


# Spaces, and the non-ASCII whitespace and zero-width characters that make a line look empty.
INVISIBLE = " \u200b\u200c\u200d\u2060\ufeff" + "".join(
    chr(c) for c in range(0x80, 0x10000) if chr(c).isspace()
)
NONCHARACTERS = st.characters(min_codepoint=0xFDD0, max_codepoint=0xFDD5)
ROUGH_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(" \t\n\r\xa0\u200a\u200bab-("), NONCHARACTERS, st.characters()
    ),
    max_size=60,
)


@given(ROUGH_TEXT)
def test_normalize_text_is_idempotent_and_tidy(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert "\n\n\n" not in once
    assert " \n" not in once
    assert "\n " not in once
    assert "\t" not in once
    assert "\r" not in once
    assert once == "" or (once.endswith("\n") and not once.endswith("\n\n"))
    assert not once.startswith((" ", "\n"))
    assert not re.search("[\ufdd0-\ufdd5]", once)
    assert all(line.strip(INVISIBLE) for line in once.split("\n") if line)


BREAKY = st.text(alphabet=st.sampled_from(" \n\ufdd0\ufdd1ab"), max_size=40)


def _breaks_reference(text: str) -> str:
    """The break rule in one pass: a run of spaces, newlines and soft breaks that holds a break
    becomes a paragraph break if it holds PARA or two newlines, else a line break."""

    def run(match: re.Match[str]) -> str:
        found = match.group()
        return "\n\n" if "\ufdd1" in found or found.count("\n") >= 2 else "\n"

    return re.sub("[ \n\ufdd0\ufdd1]*[\n\ufdd0\ufdd1][ \n\ufdd0\ufdd1]*", run, text)


@given(BREAKY)
@example(" a \ufdd0 b")
@example("a \ufdd1\n b\ufdd0\ufdd0 \nc")
def test_breaks_resolve_like_the_one_pass_rule(text: str) -> None:
    expected = _breaks_reference(re.sub("  +", " ", text)).strip(" \n")
    assert normalize_text(text) == (f"{expected}\n" if expected else "")


# -- locality: converting then filling in equals filling in then converting --------------------

TEMPLATES = [
    Case("paragraph", f"<p>Hello {MARK}!</p><p>Next</p>", ""),
    Case("paragraph-alone", f"<div><p>Intro</p><p>{MARK}</p><p>Outro</p></div>", ""),
    Case("div-lines", f"<div>A</div><div>{MARK}</div><div>B</div>", ""),
    Case("cell", f"<table><tr><td>A</td><td>{MARK}</td><td>B</td></tr></table>", ""),
    Case("list-item", f"<ul><li>A</li><li>{MARK}</li><li>B</li></ul>", ""),
    Case("link-text", f'<p>Go <a href="https://example.com/x">{MARK}</a> now</p>', ""),
    Case("link-text-tight", f'<p>Go<a href="https://example.com/x">{MARK}</a>now</p>', ""),
    Case("image-link-text", f'<a href="https://example.com/"><img alt="Logo">{MARK}</a>x', ""),
    Case("href", f'<p>See <a href="{MARK}">Shop now</a>.</p>', ""),
    Case("mailto", f'<a href="mailto:{MARK}">{MARK}</a>', ""),
    Case("alt", f'x<a href="https://example.com/"><img alt="{MARK}"></a>y', ""),
    Case("br", f"a<br>{MARK}<br>b", ""),
]
TRICKY = [" ", "  ", "\n", "\t", "\r\n", "\xa0", "&", "<b>", '"', "#", "javascript:", "mailto:"]
TRICKY += ["https://example.com/x", "https://example.com/", "Logo", "a", "é"]
VALUES = st.lists(
    st.one_of(
        st.sampled_from(TRICKY),
        # Noncharacters (U+FDD0–U+FDEF) are reserved for internal use: html_to_text's marks.
        st.text(st.characters(exclude_characters=[chr(c) for c in range(0xFDD0, 0xFDF0)])),
    ),
    max_size=4,
).map("".join)


@pytest.mark.parametrize("template", TEMPLATES, ids=[t.name for t in TEMPLATES])
@settings(max_examples=150, deadline=None)
@given(value=VALUES)
def test_conversion_is_local(template: Case, value: str) -> None:
    reference = normalize_text(html_to_text(template.html.replace(MARK, html.escape(value))))
    fast = normalize_text(html_to_text(template.html).replace(MARK, collapse_ws(value)))
    assert fast == reference


BLOCK_TAG = "<!--zq9qz-->"
TAGS = [
    "<p>", "</p>", "<div>", "</div>", "<table>", "<tr>", "<td>", "</td>", "</tr>", "</table>",
    "<ul>", "<li>", "</li>", "</ul>", "<br>", "<hr>", "<h2>", "</h2>", "<b>", "</b>",
    '<a href="https://e.com/">', '<a href="#x">', f'<a href="{MARK}">', "</a>", '<img alt="A">',
    f'<img alt="{MARK}">', "<img>", '<div style="display:none">', "<style>", "</style>",
    BLOCK_TAG, "<!-- c -->", "word", "two words", " ", "\n", "&amp;", "&nbsp;", MARK,
]  # fmt: skip
SOUP = st.lists(st.sampled_from(TAGS), max_size=25).map("".join)


@settings(max_examples=300, deadline=None)
@given(soup=SOUP, value=VALUES)
def test_conversion_is_local_in_tag_soup(soup: str, value: str) -> None:
    # The sentinel stands for a template block tag that renders to nothing.
    reference = convert(soup.replace(BLOCK_TAG, "").replace(MARK, html.escape(value)))
    template = html_to_text(soup, keep_comment=SENTINEL)
    fast = normalize_text(template.replace(BLOCK_TAG, "").replace(MARK, collapse_ws(value)))
    assert fast == reference


@given(st.text())
def test_html_to_text_accepts_any_text(source: str) -> None:
    text = convert(source)
    assert normalize_text(text) == text


@given(
    st.lists(
        st.sampled_from(
            [
                "<",
                ">",
                "</",
                "<!",
                "<![",
                "<!--",
                "-->",
                "<![endif]",
                "&",
                "&#",
                ";",
                '"',
                "=",
                *TAGS,
            ]
        )
    ).map("".join)
)
def test_html_to_text_accepts_broken_markup(source: str) -> None:
    text = convert(source)
    assert normalize_text(text) == text


# -- parsing in pieces: pieces that recur across variants are parsed once ------------------------

FENCE = re.compile(r"<!--zq[be]\d+qz-->")
FENCES = ["<!--zqb1qz-->", "<!--zqe1qz-->", "<!--zqb2qz-->"]
# Pieces that leave the parser inside a construct: the cut then falls mid-tag or mid-<style>.
UNSETTLING = ['<div title="', "<style>", "<!-- open ", "<a href=", "&am"]


class _CountingCache:
    def __init__(self) -> None:
        self.pieces: dict[str, tuple[Event, ...]] = {}
        self.built = 0

    def get(self, key: str, build: Callable[[], tuple[Event, ...]]) -> tuple[Event, ...]:
        if key not in self.pieces:
            self.pieces[key] = build()
            self.built += 1
        return self.pieces[key]


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(
        st.one_of(SOUP, st.sampled_from(FENCES), st.sampled_from(UNSETTLING)), max_size=8
    )
)
def test_parsing_in_pieces_gives_the_same_text(pieces: list[str]) -> None:
    html = "".join(pieces)
    whole = html_to_text(html, keep_comment=SENTINEL)
    cache = _CountingCache()
    assert html_to_text(html, keep_comment=SENTINEL, cut=FENCE, cache=cache) == whole
    # Again with the same cache: the same text, and no piece parsed twice (a piece that ends
    # inside a construct is never kept: the document is parsed whole instead).
    built = cache.built
    assert html_to_text(html, keep_comment=SENTINEL, cut=FENCE, cache=cache) == whole
    assert cache.built == built


def test_a_piece_shared_by_two_documents_is_parsed_once() -> None:
    cache = _CountingCache()
    shared = "<!--zqb1qz--><p>Shared <a href='https://e.com/'>link</a></p><!--zqe1qz-->"
    first = f"<div>Hi</div>{shared}<p>One</p>"
    second = f"<div>Hi</div>{shared}<p>Two</p>"
    for document in (first, second):
        expected = html_to_text(document, keep_comment=SENTINEL)
        assert html_to_text(document, keep_comment=SENTINEL, cut=FENCE, cache=cache) == expected
    # <div>Hi</div> | shared | <!--zqe1qz--><p>One</p> | <!--zqe1qz--><p>Two</p>
    assert cache.built == 4


def test_a_cut_inside_a_tag_parses_the_document_whole() -> None:
    cache = _CountingCache()
    html = '<div title="<!--zqb1qz-->">x</div><!--zqe1qz--><p>y</p>'
    expected = html_to_text(html, keep_comment=SENTINEL)
    assert html_to_text(html, keep_comment=SENTINEL, cut=FENCE, cache=cache) == expected
    assert convert(html) == "x\n\ny\n"


# -- settling static breaks once per variant --------------------------------------------------

_SETTLE_MARKER = re.compile(r"zq\d+qz")
_STATIC = st.text(alphabet="ab \n\ufdd0\ufdd1", max_size=6)
_VALUE = st.text(alphabet="xy ", max_size=3)  # data: whitespace collapsed, may be empty


@settings(max_examples=400)
@given(
    pieces=st.lists(st.tuples(_STATIC, st.booleans()), max_size=8),
    values=st.lists(_VALUE, min_size=8, max_size=8),
)
def test_settling_static_breaks_changes_nothing_after_normalizing(
    pieces: list[tuple[str, bool]], values: list[str]
) -> None:
    template = "".join(
        text + (f"zq{i}qz" if token else "") for i, (text, token) in enumerate(pieces)
    )

    def fill(text: str) -> str:
        return _SETTLE_MARKER.sub(lambda m: values[int(m.group()[2:-2]) % len(values)], text)

    settled = settle_static_breaks(template, _SETTLE_MARKER)
    assert normalize_text(fill(settled)) == normalize_text(fill(template))


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (
            '<p><a href="mailto:help@northwind.example"><img src="i.png" alt="help">'
            " Contact support</a></p>",
            "Contact support (mailto:help@northwind.example)\n",
        ),
        (
            '<p><a href="https://northwind.example/"><img src="l.png" '
            'alt="https://northwind.example"> Visit our shop</a></p>',
            "Visit our shop (https://northwind.example/)\n",
        ),
        (
            '<p><a href="mailto:help@northwind.example"><img alt="help"></a></p>',
            "help (mailto:help@northwind.example)\n",
        ),
    ],
    ids=["alt-like-the-address", "alt-like-the-url", "alt-alone"],
)
def test_an_images_alt_stands_in_only_for_a_link_without_text(html: str, expected: str) -> None:
    assert normalize_text(html_to_text(html)) == expected


def test_a_link_with_a_static_url_and_an_alt_from_data_settles_on_its_own_text() -> None:
    template = "\ufdd2zqLqz\ufdd3 Visit our shop\ufdd4https://a.b/\ufdd5"
    assert (
        settle_static_breaks(template, re.compile("zq[ULV]qz")) == " Visit our shop (https://a.b/)"
    )


def test_a_url_whose_token_comes_later_is_not_settled() -> None:
    # The token was not checked as a URL: it may print spaces, and the label may equal the URL.
    template = "\ufdd2https://a.b/x y/end\ufdd4https://a.b/zqVqz/end\ufdd5"
    assert settle_static_breaks(template, re.compile("zq[ULV]qz")) == template


def test_settling_resolves_breaks_between_static_text() -> None:
    text = "Goods\ufdd1\ufdd1VIP\ufdd0Hi zq1qz\ufdd0Bye"
    assert settle_static_breaks(text, _SETTLE_MARKER) == "Goods\n\nVIP\nHi zq1qz\ufdd0Bye"


_LINK, _ALT, _HREF, _END = "\ufdd2", "\ufdd3", "\ufdd4", "\ufdd5"
_LABEL = st.one_of(st.text(alphabet="ab \ufdd0", max_size=5), st.just("zqLqz"))
# Values a checked URL token can take (no spaces), chosen to collide with labels.
_URL_PART = st.sampled_from(
    ["https://a.b/c", "zqUqz", "https://a.b/?q=zqVqz", "#top", "", "mailto:img", "mailto:ab"]
)


@st.composite
def _text_with_links(draw: st.DrawFn) -> str:
    out = []
    for _ in range(draw(st.integers(0, 5))):
        out.append(draw(_STATIC))
        if draw(st.booleans()):
            out.append("zqVqz")
        if draw(st.booleans()):
            alt = draw(st.sampled_from(["", f"img{_ALT}", f"zqVqz{_ALT}", f"a zqLqz{_ALT}"]))
            out.append(f"{_LINK}{alt}{draw(_LABEL)}{_HREF}{draw(_URL_PART)}{_END}")
    return "".join(out)


@settings(max_examples=1500)
@example(template="\ufdd2ab\ufdd4zqUqz\ufdd5", value="", link="mailto:ab")
@example(template="\ufdd2zqLqz\ufdd3ab cd\ufdd4https://a.b/c\ufdd5", value="x", link="")
@given(
    template=_text_with_links(), value=_VALUE, link=st.sampled_from(["https://x.y/z", "mailto:ab"])
)
def test_settling_links_and_breaks_changes_nothing_after_normalizing(
    template: str, value: str, link: str
) -> None:
    # zqUqz starts an href, so (like the HTML's checked URL) it is never empty or unsafe.
    values = {"zqUqz": link, "zqVqz": value, "zqLqz": value}
    pattern = re.compile(r"zq[ULV]qz")

    def fill(text: str) -> str:
        return pattern.sub(lambda m: values[m.group()], text)

    settled = settle_static_breaks(template, pattern)
    assert normalize_text(fill(settled)) == normalize_text(fill(template))
