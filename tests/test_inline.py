"""Tests for personalize.inline: both CSS inliners, marker survival, no network."""

from __future__ import annotations

import re
import sys
import urllib.request
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from personalize import inline
from personalize.errors import ConfigError, RenderError
from personalize.inline import Engine, inline_css
from personalize.mjml import compile_mjml

ENGINES: list[Engine] = ["css-inline", "premailer"]
AMARIO = Path("/work/shared/corpus/mjml/mrml-templates/amario.mjml")

MEDIA = "@media only screen and (max-width:480px) { .hero { font-size: 20px !important } }"
DOCUMENT = f"""<!doctype html>
<html><head>
<style type="text/css">
.hero {{ color: red; padding: 4px }}
td {{ font-family: Arial }}
.note {{ background: url(zq30qz) }}
{MEDIA}
</style>
<link rel="stylesheet" href="https://example.invalid/x.css">
</head><body>
<p class="hero" id="plain">Hi zq12qz, welcome</p>
<p class="hero" id="styled" style="margin: 0; color: zq14qz">styled zq15qz</p>
<a class="hero" href="https://shop.example/zq16qz?u=zq17qz">Shop</a>
<img src="https://img.example/zq18qz.png" alt="zq19qz">
<div class="note" id="note">n</div>
<table>
<tr><td id="cell">one</td></tr>
<!--zq13qz-->
<tr><td>two</td></tr>
<!--zq20qz-->
</table>
</body></html>
"""


def style_of(html: str, element_id: str) -> str:
    """The style attribute of the element with ``id=element_id``, without spaces."""
    tag = re.search(rf'<[a-z]+[^>]*\bid="{element_id}"[^>]*>', html)
    assert tag, f"no element {element_id!r} in {html}"
    style = re.search(r'\bstyle="([^"]*)"', tag.group())
    assert style, f"{element_id!r} has no style in {html}"
    return style.group(1).replace(" ", "")


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Engine:
    value: Engine = request.param
    return value


def test_styles_are_applied(engine: Engine) -> None:
    html = inline_css(DOCUMENT, engine=engine)
    assert "color:red" in style_of(html, "plain")
    assert "padding:4px" in style_of(html, "plain")
    assert "font-family:Arial" in style_of(html, "cell")


def test_media_queries_stay_in_the_style_block(engine: Engine) -> None:
    html = inline_css(DOCUMENT, engine=engine)
    styles = re.findall(r"<style[^>]*>(.*?)</style>", html, re.DOTALL)
    assert any(MEDIA in style for style in styles)
    assert "font-size" not in style_of(html, "plain")


@pytest.mark.parametrize(
    "expected",
    [
        "Hi zq12qz, welcome",
        'href="https://shop.example/zq16qz?u=zq17qz"',
        'src="https://img.example/zq18qz.png"',
        'alt="zq19qz"',
        "styled zq15qz",
        "<tr><td",
    ],
    ids=["text", "href", "src", "alt", "styled-text", "rows"],
)
def test_markers_survive(engine: Engine, expected: str) -> None:
    assert expected in inline_css(DOCUMENT, engine=engine)


def test_markers_survive_inside_style_values(engine: Engine) -> None:
    html = inline_css(DOCUMENT, engine=engine)
    merged = style_of(html, "styled")
    # The inline value beats the stylesheet's color, as the cascade says.
    assert "color:zq14qz" in merged
    assert "color:red" not in merged
    assert "margin:0" in merged
    assert "url(zq30qz)" in style_of(html, "note")


def test_block_comments_stay_between_rows(engine: Engine) -> None:
    html = inline_css(DOCUMENT, engine=engine)
    assert re.search(r"</tr>\s*<!--zq13qz-->\s*<tr>", html)
    assert re.search(r"</tr>\s*<!--zq20qz-->\s*</t", html)


def test_every_marker_survives_exactly_once_per_occurrence(engine: Engine) -> None:
    html = inline_css(DOCUMENT, engine=engine)
    before = sorted(re.findall(r"zq\d+qz", DOCUMENT))
    after = sorted(re.findall(r"zq\d+qz", html))
    # Style-block markers may also be copied into style attributes, never lost.
    assert set(after) == set(before)
    for marker in set(before) - {"zq30qz"}:
        assert after.count(marker) == before.count(marker), marker


def test_remote_stylesheet_is_neither_fetched_nor_an_error(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # premailer fetches through requests; css-inline would raise on the unresolvable
    # .invalid host if it tried, so "no error" proves it did not fetch.
    import requests

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network access")

    monkeypatch.setattr(requests, "get", refuse)
    monkeypatch.setattr(requests.Session, "get", refuse)
    html = inline_css(DOCUMENT, engine=engine)
    assert '<link rel="stylesheet" href="https://example.invalid/x.css">' in html


def test_local_stylesheets_are_not_read(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "local.css").write_text("p { color: red }")
    monkeypatch.chdir(tmp_path)
    for href in ("local.css", str(tmp_path / "local.css"), f"file://{tmp_path}/local.css"):
        source = (
            f'<html><head><link rel="stylesheet" href="{href}"></head><body><p>x</p></body></html>'
        )
        assert "color" not in inline_css(source, engine=engine)


MJ_FONT = compile_mjml(
    '<mjml><mj-head><mj-font name="Brand" href="https://fonts.example/brand.css"/></mj-head>'
    '<mj-body><mj-section><mj-column><mj-text font-family="Brand, Arial">x</mj-text>'
    "</mj-column></mj-section></mj-body></mjml>"
)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every URL that urllib or cssutils' default fetcher is asked to open; none is opened."""
    import cssutils.util

    urls: list[str] = []

    def urlopen(request: Any, *args: Any, **kwargs: Any) -> None:
        urls.append(getattr(request, "full_url", request))
        raise OSError("refused by the test")

    def fetch(url: str) -> None:
        urls.append(url)

    # cssutils' _readUrl falls back to util._defaultFetcher, which calls urllib's urlopen.
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    monkeypatch.setattr(cssutils.util, "_defaultFetcher", fetch)
    return urls


@pytest.mark.parametrize(
    ("source", "kept"),
    [
        (
            "<html><head><style>@import url(http://10.0.0.1/admin.css); .a { color: red }"
            '</style></head><body><p class="a" id="a">x</p></body></html>',
            "@import url(http://10.0.0.1/admin.css);",
        ),
        (
            "<html><head><style>@import url(file:///etc/passwd); .a { color: red }"
            '</style></head><body><p class="a" id="a">x</p></body></html>',
            "@import url(file:///etc/passwd);",
        ),
        (
            "<html><head><style>@import 'local.css'; .a { color: red }"
            '</style></head><body><p class="a" id="a">x</p></body></html>',
            "@import 'local.css';",
        ),
        (MJ_FONT, "@import url(https://fonts.example/brand.css);"),
    ],
    ids=["http", "file", "relative", "mj-font"],
)
def test_premailer_loads_no_import(opened: list[str], source: str, kept: str) -> None:
    html = inline_css(source, engine="premailer")
    assert opened == []
    # The email client still needs the rule, e.g. to load the web font.
    assert kept in html
    if 'id="a"' in source:
        assert style_of(html, "a") == "color:red"


def test_premailer_prints_nothing_on_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    source = (
        "<html><head><style>@import url(file:///nonexistent.css); .a { color: ; width: 10qq }"
        '</style><style data-premailer="foo">.a { color: blue }</style></head>'
        '<body><p class="a" id="a">x</p></body></html>'
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        html = inline_css(source, engine="premailer")
    assert [str(warning.message) for warning in caught] == []
    assert capfd.readouterr().err == ""
    # The unknown value is left alone, and the block is still inlined.
    assert '<style data-premailer="foo">' in html
    assert "color:blue" in style_of(html, "a")


def test_premailer_without_a_parse_hook_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from premailer import Premailer

    inline._premailer_class.cache_clear()
    monkeypatch.delattr(Premailer, "_parse_css_string")
    with pytest.raises(ConfigError) as info:
        inline_css(DOCUMENT, engine="premailer")
    assert str(info.value) == (
        "inliner 'premailer': this premailer version parses CSS where personalize cannot stop"
        " it from loading @import URLs — pip install 'premailer==3.10.*' or set"
        ' inliner = "css-inline"'
    )


@pytest.mark.parametrize(
    ("engine", "expected"),
    [
        ("css-inline", "color:#ff0000!important;font-size:12px"),
        ("premailer", "font-size:12px;color:#000"),
    ],
)
def test_premailer_ranks_the_inline_style_above_important_rules(
    engine: Engine, expected: str
) -> None:
    # Pinned premailer behaviour, documented in architecture.md (Known limits).
    source = (
        "<html><head><style>.x div { color: #ff0000 !important; font-size: 30px }</style></head>"
        '<body><table><tr><td class="x"><div id="own" style="color: #000000; font-size: 12px">'
        'x</div><div id="bare">y</div></td></tr></table></body></html>'
    )
    html = inline_css(source, engine=engine)
    assert style_of(html, "own") == expected
    assert "!important" in style_of(html, "bare")


@pytest.mark.parametrize(
    ("declaration", "rewritten"),
    [
        ("color: #FFFFFF", "margin:0;color:#FFF"),
        ("color: #00ff00", "margin:0;color:#0f0"),
        ("width: 0.50px", "margin:0;width:0.5px"),
        ("padding: 0px", "margin:0;padding:0"),
        ("line-height: 1.0em", "margin:0;line-height:1em"),
        ("color: rgba(0,0,0,0.5)", "margin:0;color:rgba(0,0,0,0.5)"),
        ("color: #aabbcc80", "margin:0"),
        ("color: rgb(0 0 0 / 50%)", "margin:0"),
        ("color: hsl(120deg 100% 50%)", "margin:0"),
        ("color: red", "margin:0;color:red"),
    ],
)
def test_premailer_rewrites_or_deletes_css_values(declaration: str, rewritten: str) -> None:
    # Pinned premailer behaviour, documented in architecture.md (Known limits): it re-parses
    # the style of elements a rule matches; css-inline copies values as written.
    source = (
        '<html><head><style>p { margin: 0 }</style></head><body><p id="matched"'
        f' style="{declaration}">x</p><span id="unmatched" style="{declaration}">y</span>'
        "</body></html>"
    )
    written = declaration.replace(" ", "")
    html = inline_css(source, engine="premailer")
    assert style_of(html, "matched") == rewritten
    assert style_of(html, "unmatched") == written
    assert style_of(inline_css(source), "matched") == f"margin:0;{written}"


def test_doctype_is_kept_and_never_invented(engine: Engine) -> None:
    assert inline_css(DOCUMENT, engine=engine).lower().startswith("<!doctype html>")
    assert "DOCTYPE" not in inline_css("<html><body><p>x</p></body></html>", engine=engine)


def test_non_ascii_text_survives(engine: Engine) -> None:
    html = inline_css("<html><body><p>Grüße, €5 — 東京</p></body></html>", engine=engine)
    assert "Grüße, €5 — 東京" in html


@pytest.mark.parametrize("blank", ["", "  \n"], ids=["empty", "whitespace"])
def test_blank_input_is_returned_unchanged(engine: Engine, blank: str) -> None:
    assert inline_css(blank, engine=engine) == blank


def test_compiled_mjml_keeps_its_media_queries(engine: Engine) -> None:
    compiled = compile_mjml(AMARIO.read_text(encoding="utf-8"))
    html = inline_css(compiled, engine=engine)
    assert "@media only screen and (min-width:480px)" in html
    assert html.count("<style") == compiled.count("<style")
    assert html.count("<!--[if mso") == compiled.count("<!--[if mso")


def test_premailer_keeps_content_nested_past_lxml_default_depth() -> None:
    deep = "<div>" * 400 + "<p>deep zq1qz</p>" + "</div>" * 400
    head = "<head><style>p { color: red }</style></head>"
    source = f"<html>{head}<body>{deep}<p>after</p></body></html>"
    html = inline_css(source, engine="premailer")
    assert "deep zq1qz" in html
    assert "after" in html
    assert html.count('style="color:red"') == 2


def test_premailer_does_not_copy_styles_into_attributes() -> None:
    source = (
        "<html><head><style>td { width: 300px; text-align: left }</style></head>"
        '<body><table><tr><td align="center" width="zq2qz">x</td></tr></table></body></html>'
    )
    html = inline_css(source, engine="premailer")
    assert 'align="center"' in html
    assert 'width="zq2qz"' in html


def test_premailer_keeps_important() -> None:
    source = (
        "<html><head><style>p { color: red !important }</style></head><body><p>x</p></body></html>"
    )
    assert "color:red !important" in inline_css(source, engine="premailer")


def test_css_inline_is_safe_to_share_between_threads() -> None:
    documents = [DOCUMENT.replace("zq12qz", f"zq{n}qz") for n in range(100, 164)]
    expected = [inline_css(doc) for doc in documents]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(inline_css, documents)) == expected


def test_missing_premailer_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    inline._premailer_class.cache_clear()
    monkeypatch.setitem(sys.modules, "premailer", None)
    with pytest.raises(ConfigError) as info:
        inline_css(DOCUMENT, engine="premailer")
    assert str(info.value) == (
        "inliner 'premailer' is not installed — pip install 'personalize[premailer]'"
        ' or set inliner = "css-inline"'
    )


def test_unknown_engine_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        inline_css(DOCUMENT, engine="premailr")  # type: ignore[arg-type]
    assert str(info.value) == "unknown inliner 'premailr' — did you mean 'premailer'?"


def test_premailer_failure_is_a_render_error() -> None:
    with pytest.raises(RenderError) as info:
        inline_css('<?xml version="1.0" encoding="utf-8"?><html><body/></html>', engine="premailer")
    assert info.value.message.startswith(
        "CSS inlining failed: Unicode strings with encoding declaration are not supported"
    )
    assert info.value.hint == "check the <style> blocks of the layout and modules for invalid CSS"


def test_css_inline_failure_is_a_render_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class Failing:
        def inline(self, html: str) -> str:
            raise ValueError("Invalid CSS at 1:1")

    monkeypatch.setattr(inline, "_CSS_INLINER", Failing())
    with pytest.raises(RenderError) as info:
        inline_css(DOCUMENT)
    assert str(info.value) == (
        "CSS inlining failed: Invalid CSS at 1:1 — check the <style> blocks of the layout and"
        " modules for invalid CSS"
    )
