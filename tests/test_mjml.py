"""Tests for personalize.mjml: MRML compilation under size and depth limits, located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from personalize.errors import RenderError
from personalize.markupsyntax import escape_attribute_values
from personalize.mjml import compile_mjml

CORPUS = Path("/work/shared/corpus/mjml")
FIXTURES = sorted((CORPUS / "mrml-fixtures").glob("*.mjml"))
DEPTH_HINT = (
    "deeply nested markup crashes the MJML compiler; flatten it, or look for a missing closing tag"
)


def document(body: str) -> str:
    return f"<mjml><mj-body>{body}</mj-body></mjml>"


def text_block(html: str) -> str:
    return document(f"<mj-section><mj-column><mj-text>{html}</mj-text></mj-column></mj-section>")


# --- compile_mjml ---------------------------------------------------------------------------


def test_depth_bomb_is_an_error_not_a_crash() -> None:
    bomb = text_block("<div>" * 20_000 + "x" + "</div>" * 20_000)
    with pytest.raises(RenderError) as info:
        compile_mjml(bomb)
    assert str(info.value) == (f"markup nests 20005 levels deep, the limit is 200 — {DEPTH_HINT}")


def test_depth_bomb_without_end_tags_is_an_error() -> None:
    with pytest.raises(RenderError, match="nests 20005 levels deep"):
        compile_mjml(text_block("<span>" * 20_000))


def test_depth_error_names_what_was_compiled() -> None:
    with pytest.raises(RenderError) as info:
        compile_mjml(text_block("<b>" * 10 + "</b>" * 10), max_depth=12, where="layout 'weekly'")
    assert str(info.value) == (
        f"markup of layout 'weekly' nests 15 levels deep, the limit is 12 — {DEPTH_HINT}"
    )


def test_size_limit_is_checked_in_utf8_bytes() -> None:
    source = text_block("€" * 400)  # 1,200 bytes of text, 400 characters
    with pytest.raises(RenderError) as info:
        compile_mjml(source, max_bytes=1_000)
    size = len(source.encode())
    assert str(info.value) == (
        f"markup is {size:,} bytes, the limit is 1,000 — move large content (inline images, "
        "long CSS, big tables) out of the template"
    )


def test_depth_at_the_limit_compiles() -> None:
    html = compile_mjml(text_block("<b>" * 195 + "deep" + "</b>" * 195))
    assert "deep" in html


@pytest.mark.parametrize(
    ("source", "where", "message"),
    [
        (
            "<mjml><mj-body><mj-section>",
            "",
            "MJML could not compile the markup: unexpected end of stream in root template",
        ),
        (
            text_block("{{ a < b }}"),
            "layout 'weekly'",
            "MJML could not compile layout 'weekly': unable to parse next template in root "
            "template",
        ),
        (
            "hello",
            "",
            "MJML could not compile the markup: unable to parse next template in root template",
        ),
    ],
    ids=["unclosed", "lt-in-expression", "not-mjml"],
)
def test_mrml_errors_become_render_errors(source: str, where: str, message: str) -> None:
    with pytest.raises(RenderError) as info:
        compile_mjml(source, where=where)
    assert info.value.message == message
    assert info.value.hint is not None


def test_mrml_never_reads_included_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "x.mjml").write_text(
        "<mj-section><mj-column><mj-text>LEAK</mj-text></mj-column></mj-section>"
    )
    monkeypatch.chdir(tmp_path)
    for path in ("x.mjml", str(tmp_path / "x.mjml")):
        with pytest.raises(RenderError, match="unable to load included template"):
            compile_mjml(document(f'<mj-include path="{path}"/>'))


def test_no_web_font_links_unless_asked() -> None:
    source = text_block("Hi")
    assert "fonts.googleapis.com" not in compile_mjml(source)
    assert "fonts.googleapis.com" in compile_mjml(source, web_fonts=True)


def test_declared_fonts_are_still_linked() -> None:
    source = (
        '<mjml><mj-head><mj-font name="Brand" href="https://fonts.example/brand.css"/></mj-head>'
        '<mj-body><mj-section><mj-column><mj-text font-family="Brand">Hi</mj-text>'
        "</mj-column></mj-section></mj-body></mjml>"
    )
    assert "https://fonts.example/brand.css" in compile_mjml(source)


def test_comments_survive_compilation() -> None:
    html = compile_mjml(
        document(
            "<mj-section><mj-column><!--zq13qz--><mj-text>a</mj-text></mj-column></mj-section>"
        )
    )
    assert "<!--zq13qz-->" in html


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_mrml_fixture_compiles(path: Path) -> None:
    html = compile_mjml(path.read_text(encoding="utf-8"), where=path.name)
    assert html.lower().startswith("<!doctype html>")


def test_all_156_mrml_fixtures_are_present() -> None:
    assert len(FIXTURES) == 156


def test_real_templates_compile() -> None:
    for name in ("amario", "air-astana"):
        text = (CORPUS / "mrml-templates" / f"{name}.mjml").read_text(encoding="utf-8")
        assert "</html>" in compile_mjml(text, where=name)


STRAY = (
    "<mjml><mj-body><mj-section><mj-column><mj-table>é</tr></mj-table></mj-column>\n\n"
    "</mj-section></mj-body></mjml>"
)


def test_a_compiler_position_is_shown_as_the_text_there() -> None:
    with pytest.raises(RenderError) as info:
        compile_mjml(STRAY, where="templates/x.mjml")
    assert (info.value.message, info.value.file, info.value.line) == (
        "MJML could not compile templates/x.mjml: unexpected token in root template at "
        "'</mj-body>'",
        None,
        None,
    )
    assert info.value.hint == (
        "check that every mj- tag is closed, that the HTML inside <mj-table> balances and that "
        "attribute names are valid; 'personalize lint' compiles each module on its own and "
        "names the one to fix"
    )


def test_a_compiler_position_is_placed_by_locate() -> None:
    offsets: list[int] = []

    def locate(offset: int) -> tuple[str, int | None]:
        offsets.append(offset)
        return "modules/x.mjml", STRAY.count("\n", 0, offset) + 1

    with pytest.raises(RenderError) as info:
        compile_mjml(STRAY, where="templates/x.mjml", locate=locate)
    # MRML counts UTF-8 bytes; the offset is in characters ('é' is two bytes).
    assert offsets == [STRAY.index("</mj-body>")]
    assert str(info.value) == (
        "modules/x.mjml line 3: MJML could not compile templates/x.mjml: unexpected token in "
        "root template at '</mj-body>' — MJML stopped here, so the mistake is on this line or "
        "above it; check that every mj- tag is closed, that the HTML inside <mj-table> balances "
        "and that attribute names are valid; 'personalize lint' compiles each module on its own "
        "and names the one to fix"
    )


# --- attribute values MRML would write with Rust escapes ---------------------------------------


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("Soldes\u00a0: -50\u00a0%", "Soldes&#160;: -50&#160;%"),
        ("a\tb\\c\rd", "a&#9;b&#92;c&#13;d"),
        ("👨\u200d👩\u200d👧", "👨&#8205;👩&#8205;👧"),
        ("12\u202f€\u00ad", "12&#8239;€&#173;"),
        ("\u0301é & ü", "&#769;é & ü"),
    ],
    ids=["nbsp", "tab-backslash-cr", "zwj", "narrow-nbsp-soft-hyphen", "leading-combining"],
)
def test_attribute_values_reach_the_html_as_written(value: str, written: str) -> None:
    # MRML writes these with Rust's debug escapes (alt="Soldes\u{a0}: -50\u{a0}%"); as
    # character references they reach the HTML unchanged, in mj- and HTML attributes alike.
    html = compile_mjml(
        document(
            f'<mj-section><mj-column><mj-image src="x.png" alt="{value}"/><mj-text>'
            f'<a href="https://x.example/" title="{value}">T\u00a0x</a></mj-text>'
            "</mj-column></mj-section>"
        )
    )
    assert f'alt="{written}"' in html
    assert f'title="{written}"' in html
    assert ">T\u00a0x<" in html  # text content was never escaped and is left as it is
    assert "\\u{" not in html


def test_an_ascii_document_is_handed_over_unchanged() -> None:
    source = document('<mj-section><mj-column><mj-text title="a b">x</mj-text></mj-column>')
    assert escape_attribute_values(source) is source
