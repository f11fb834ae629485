"""Tests for personalize.includes: sources with origins and mj-include resolution."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personalize import Project
from personalize.errors import RegistryError
from personalize.includes import Resolved, Source, resolve_includes

CORPUS = Path("/work/shared/corpus/mjml")


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def resolve(root: Path, file: str = "templates/main.mjml", **kwargs: int) -> Resolved:
    text = (root / file).read_text(encoding="utf-8")
    source = Source.from_text(text, file=file)
    return resolve_includes(source, root=root, base=(root / file).parent, **kwargs)


def lines_with_origins(source: Source) -> list[tuple[str, tuple[str, int]]]:
    lines = source.text.split("\n")
    assert len(lines) == len(source.origins)
    return list(zip(lines, source.origins, strict=True))


# --- Source ---------------------------------------------------------------------------------


def test_from_text_numbers_lines_from_first_line() -> None:
    source = Source.from_text("a\nb\nc", file="modules/hero/vip.mjml", first_line=5)
    assert source.origins == (
        ("modules/hero/vip.mjml", 5),
        ("modules/hero/vip.mjml", 6),
        ("modules/hero/vip.mjml", 7),
    )
    assert source.origin(2) == ("modules/hero/vip.mjml", 6)


@pytest.mark.parametrize(
    ("line", "expected"),
    [(0, 1), (-3, 1), (1, 1), (3, 3), (4, 3), (99, 3)],
    ids=["zero", "negative", "first", "last", "past-end", "far-past-end"],
)
def test_origin_clamps_to_the_text(line: int, expected: int) -> None:
    source = Source.from_text("a\nb\nc", file="f.mjml")
    assert source.origin(line) == ("f.mjml", expected)


def test_line_at_maps_offsets_to_lines() -> None:
    source = Source.from_text("ab\ncd\n", file="f.mjml")
    assert [source.line_at(i) for i in range(7)] == [1, 1, 1, 2, 2, 2, 3]


@given(text=st.text(), first_line=st.integers(min_value=1, max_value=10_000))
def test_from_text_has_one_origin_per_line(text: str, first_line: int) -> None:
    source = Source.from_text(text, file="f.mjml", first_line=first_line)
    assert len(source.origins) == len(text.split("\n"))
    assert source.origin(1) == ("f.mjml", first_line)


@given(text=st.text(alphabet=st.sampled_from(list("<>/\"' \nmj-clude=abc{}%#!"))))
def test_text_without_includes_is_unchanged(text: str) -> None:
    if "<mj-include" in text:
        return
    source = Source.from_text(text, file="f.mjml")
    resolved = resolve_includes(source, root=Path("/nonexistent"), base=Path("/nonexistent"))
    assert resolved == Resolved(source, (), ())


# --- mjml includes --------------------------------------------------------------------------


def test_nested_includes_resolve_relative_to_the_including_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "templates/main.mjml": (
                '<mj-body>\n  <mj-include path="../partials/header.mjml" />\n</mj-body>\n'
            ),
            "partials/header.mjml": (
                '<mj-section>\n  <mj-include path="shared/logo.mjml"/>\n</mj-section>'
            ),
            "partials/shared/logo.mjml": '<mj-column>\n<mj-image src="logo.png"/>\n</mj-column>',
        },
    )
    resolved = resolve(tmp_path)
    assert lines_with_origins(resolved.source) == [
        ("<mj-body>", ("templates/main.mjml", 1)),
        ("  <mj-section>", ("partials/header.mjml", 1)),
        ("  <mj-column>", ("partials/shared/logo.mjml", 1)),
        ('<mj-image src="logo.png"/>', ("partials/shared/logo.mjml", 2)),
        ("</mj-column>", ("partials/shared/logo.mjml", 3)),
        ("</mj-section>", ("partials/header.mjml", 3)),
        ("</mj-body>", ("templates/main.mjml", 3)),
        ("", ("templates/main.mjml", 4)),
    ]
    assert resolved.css == ()
    assert resolved.head == ()


@pytest.mark.parametrize(
    "tag",
    [
        '<mj-include path="p.mjml"/>',
        "<mj-include path='p.mjml' />",
        '<mj-include path="p.mjml"></mj-include>',
        '<mj-include path="p.mjml">\n</mj-include >',
        '<mj-include\n    type="mjml"\n    path="p.mjml"\n/>',
        "<mj-include path=p.mjml />",
    ],
    ids=["self-closing", "single-quotes", "end-tag", "end-tag-newline", "multiline", "unquoted"],
)
def test_include_tag_forms(tmp_path: Path, tag: str) -> None:
    write(tmp_path, {"templates/main.mjml": f"A{tag}B", "templates/p.mjml": "<mj-text>x</mj-text>"})
    resolved = resolve(tmp_path)
    assert resolved.source.text == "A<mj-text>x</mj-text>B"
    assert resolved.source.origins == (("templates/main.mjml", 1),)


def test_lines_after_a_multiline_include_keep_their_origin(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "templates/main.mjml": 'a\n<mj-include\n  path="p.mjml"\n/>\nz',
            "templates/p.mjml": "p1\np2",
        },
    )
    resolved = resolve(tmp_path)
    assert lines_with_origins(resolved.source) == [
        ("a", ("templates/main.mjml", 1)),
        ("p1", ("templates/p.mjml", 1)),
        ("p2", ("templates/p.mjml", 2)),
        ("z", ("templates/main.mjml", 5)),
    ]


def test_commented_out_includes_stay_inert(tmp_path: Path) -> None:
    text = '<!-- <mj-include path="missing.mjml" /> -->{# <mj-include path="gone.mjml"/> #}'
    write(tmp_path, {"templates/main.mjml": text})
    assert resolve(tmp_path).source.text == text


def test_the_same_partial_can_be_included_twice(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "templates/main.mjml": '<mj-include path="d.mjml"/>\n<mj-include path="d.mjml"/>',
            "templates/d.mjml": "<mj-divider/>",
        },
    )
    assert resolve(tmp_path).source.text == "<mj-divider/>\n<mj-divider/>"


# --- css and html includes ------------------------------------------------------------------


def test_css_includes_are_collected_in_order_and_removed(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "templates/main.mjml": (
                '<mj-include path="a.css" type="css" />\n'
                '<mj-include path="p.mjml" />\n'
                '<mj-include path="b.css" type="css" css-inline="inline" />'
            ),
            "templates/p.mjml": '<mj-include path="../styles/c.css" type="css"/><mj-text/>',
            "templates/a.css": ".a { color: red }",
            "templates/b.css": ".b { color: blue }",
            "styles/c.css": ".c { margin: 0 }",
        },
    )
    resolved = resolve(tmp_path)
    assert resolved.source.text == "\n<mj-text/>\n"
    assert [css.text for css in resolved.css] == [
        ".a { color: red }",
        ".c { margin: 0 }",
        "/* inline */\n.b { color: blue }",
    ]
    # Each line keeps its origin; the inline marker line stands for the file's first.
    assert [css.origins for css in resolved.css] == [
        (("templates/a.css", 1),),
        (("styles/c.css", 1),),
        (("templates/b.css", 1), ("templates/b.css", 1)),
    ]


def test_html_include_is_wrapped_in_mj_raw(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "templates/main.mjml": (
                '<mj-column>\n  <mj-include path="t.html" type="html"/>\n</mj-column>'
            ),
            "templates/t.html": '<table>\n<tr><td><mj-include path="x"/></td></tr>\n</table>',
        },
    )
    resolved = resolve(tmp_path)
    assert lines_with_origins(resolved.source) == [
        ("<mj-column>", ("templates/main.mjml", 1)),
        ("  <mj-raw><table>", ("templates/t.html", 1)),
        ('<tr><td><mj-include path="x"/></td></tr>', ("templates/t.html", 2)),
        ("</table></mj-raw>", ("templates/t.html", 3)),
        ("</mj-column>", ("templates/main.mjml", 3)),
    ]


# --- whole documents ------------------------------------------------------------------------


def test_whole_document_include_inserts_body_and_returns_head(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "templates/main.mjml": 'x\n<mj-include path="doc.mjml" />\ny',
            "templates/doc.mjml": (
                "<!-- a partial -->\n"
                '<mjml lang="en">\n'
                "  <mj-head>\n"
                "    <mj-title>T</mj-title>\n"
                '    <mj-attributes><mj-all padding="0"/></mj-attributes>\n'
                "  </mj-head>\n"
                '  <mj-body width="500px">\n'
                "    <mj-section/>\n"
                "  </mj-body>\n"
                "</mjml>\n"
            ),
        },
    )
    resolved = resolve(tmp_path)
    assert lines_with_origins(resolved.source) == [
        ("x", ("templates/main.mjml", 1)),
        ("", ("templates/main.mjml", 2)),
        ("    <mj-section/>", ("templates/doc.mjml", 8)),
        ("  ", ("templates/doc.mjml", 9)),
        ("y", ("templates/main.mjml", 3)),
    ]
    assert resolved.head == (
        Source(
            '<mj-title>T</mj-title>\n    <mj-attributes><mj-all padding="0"/></mj-attributes>',
            (("templates/doc.mjml", 4), ("templates/doc.mjml", 5)),
        ),
    )


def test_whole_document_without_head_or_with_empty_body(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "templates/main.mjml": '[<mj-include path="a.mjml"/>|<mj-include path="b.mjml"/>]',
            "templates/a.mjml": "<mjml><mj-body><mj-text>a</mj-text></mj-body></mjml>",
            "templates/b.mjml": (
                "<mjml><mj-head><mj-preview>p</mj-preview></mj-head><mj-body/></mjml>"
            ),
        },
    )
    resolved = resolve(tmp_path)
    assert resolved.source.text == "[<mj-text>a</mj-text>|]"
    assert [head.text for head in resolved.head] == ["<mj-preview>p</mj-preview>"]


def test_a_partial_opening_with_many_comment_lines_is_read_in_linear_time(
    tmp_path: Path,
) -> None:
    # Telling a fragment from a whole document once took 2^n steps for n leading comments.
    header = "".join(f"<!-- licence, line {i} -->\n" for i in range(2_000))
    write(
        tmp_path,
        {
            "templates/main.mjml": '<mj-include path="part.mjml"/>|<mj-include path="doc.mjml"/>',
            "templates/part.mjml": header + "<mj-spacer/>",
            "templates/doc.mjml": header + "<mjml><mj-body><mj-text>a</mj-text></mj-body></mjml>",
        },
    )
    assert resolve(tmp_path).source.text == header + "<mj-spacer/>|<mj-text>a</mj-text>"


@pytest.mark.parametrize(
    "opening",
    [
        '<?xml version="1.0"?>\n<!-- a -- b -->\n',
        "\n  <!-- one --><!-- two -->\n",
        "",
    ],
    ids=["xml-declaration-and-comment", "two-comments", "nothing"],
)
def test_a_whole_document_may_open_with_a_declaration_and_comments(
    tmp_path: Path, opening: str
) -> None:
    write(
        tmp_path,
        {
            "templates/main.mjml": '<mj-include path="doc.mjml"/>',
            "templates/doc.mjml": opening + "<mjml><mj-body><mj-spacer/></mj-body></mjml>",
        },
    )
    assert resolve(tmp_path).source.text == "<mj-spacer/>"


def test_text_between_leading_comments_makes_a_fragment(tmp_path: Path) -> None:
    partial = "<!-- a --> <mj-spacer/> <!-- b --><mjml></mjml>"
    write(
        tmp_path,
        {"templates/main.mjml": '<mj-include path="p.mjml"/>', "templates/p.mjml": partial},
    )
    assert resolve(tmp_path).source.text == partial


def test_includes_inside_an_included_document_resolve_from_its_folder(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "templates/main.mjml": '<mj-include path="../docs/doc.mjml"/>',
            "docs/doc.mjml": (
                '<mjml><mj-body><mj-include path="part.mjml"/>'
                '<mj-include path="s.css" type="css"/></mj-body></mjml>'
            ),
            "docs/part.mjml": "<mj-spacer/>",
            "docs/s.css": "p{}",
        },
    )
    resolved = resolve(tmp_path)
    assert resolved.source.text == "<mj-spacer/>"
    assert [css.text for css in resolved.css] == ["p{}"]


def test_unclosed_body_of_included_document(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "templates/main.mjml": '<mj-include path="doc.mjml"/>',
            "templates/doc.mjml": "<mjml>\n<mj-body>\n<mj-text>a</mj-text>\n</mjml>",
        },
    )
    with pytest.raises(RegistryError) as info:
        resolve(tmp_path)
    assert str(info.value) == (
        "templates/doc.mjml line 2: <mj-body> of the included document is never closed"
        " — add </mj-body>"
    )


# --- refused paths --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "../../etc/passwd",
        "../../../../../../../../etc/passwd",
        "/etc/passwd",
        "\\\\server\\share\\x.mjml",
        "https://evil.example/x.mjml",
        "file:///etc/passwd",
        "C:\\Windows\\win.ini",
        "//evil.example/x.mjml",
        "~/secrets.mjml",
    ],
    ids=[
        "parent",
        "far-parent",
        "absolute",
        "unc",
        "url",
        "file-url",
        "drive",
        "protocol-relative",
        "home",
    ],
)
def test_paths_outside_the_project_are_refused(tmp_path: Path, path: str) -> None:
    root = tmp_path / "project"
    write(root, {"templates/main.mjml": f'\n<mj-include path="{path}" />'})
    with pytest.raises(RegistryError) as info:
        resolve(root)
    shown = repr(path)
    assert str(info.value) == (
        f"templates/main.mjml line 2: mj-include path {shown} leaves the project"
        " — include files from inside the project folder"
    )


@pytest.mark.parametrize("path", ["a\x00.mjml", "../\x00/x.mjml", "partials/\x00"])
def test_a_path_with_a_nul_character_is_a_located_error(tmp_path: Path, path: str) -> None:
    # The file system refuses the name (ValueError from resolve); no file can hold it.
    write(tmp_path, {"templates/main.mjml": f'a\n<mj-include path="{path}" />'})
    with pytest.raises(RegistryError) as info:
        resolve(tmp_path)
    assert str(info.value) == (
        f"templates/main.mjml line 2: mj-include: no file {path!r}"
        " — a file name cannot hold a NUL character (\\x00); remove it from the path"
    )


def test_a_nul_character_in_a_layouts_include_fails_the_load_at_its_line(tmp_path: Path) -> None:
    layout = '---\nsubject: "Hi"\n---\n<mjml><mj-body>\n<mj-include path="a\x00.mjml"/>\n'
    write(tmp_path, {"personalize.toml": "", "templates/doc.mjml": layout + "</mj-body></mjml>"})
    with pytest.raises(RegistryError) as info:
        Project.load(tmp_path)
    assert str(info.value) == (
        "templates/doc.mjml line 5: mj-include: no file 'a\\x00.mjml'"
        " — a file name cannot hold a NUL character (\\x00); remove it from the path"
    )


def test_symlink_pointing_outside_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "project"
    write(tmp_path, {"secret.mjml": "<mj-text>secret</mj-text>"})
    write(root, {"templates/main.mjml": '<mj-include path="link.mjml"/>'})
    os.symlink(tmp_path / "secret.mjml", root / "templates" / "link.mjml")
    with pytest.raises(RegistryError) as info:
        resolve(root)
    assert str(info.value) == (
        "templates/main.mjml line 1: mj-include path 'link.mjml' leaves the project"
        " — include files from inside the project folder"
    )


def test_symlinked_folder_pointing_outside_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "project"
    write(tmp_path, {"outside/x.mjml": "<mj-text/>"})
    write(root, {"templates/main.mjml": '<mj-include path="shared/x.mjml"/>'})
    os.symlink(tmp_path / "outside", root / "templates" / "shared")
    with pytest.raises(RegistryError, match="leaves the project"):
        resolve(root)


def test_symlink_inside_the_project_is_followed(tmp_path: Path) -> None:
    write(tmp_path, {"partials/real.mjml": "<mj-divider/>", "templates/main.mjml": ""})
    os.symlink(tmp_path / "partials" / "real.mjml", tmp_path / "templates" / "alias.mjml")
    (tmp_path / "templates/main.mjml").write_text('<mj-include path="alias.mjml"/>')
    resolved = resolve(tmp_path)
    assert lines_with_origins(resolved.source) == [("<mj-divider/>", ("partials/real.mjml", 1))]


def test_missing_file_suggests_a_close_name(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "templates/main.mjml": 'a\nb\n<mj-include path="partials/heder.mjml" />',
            "templates/partials/header.mjml": "",
            "templates/partials/footer.mjml": "",
        },
    )
    with pytest.raises(RegistryError) as info:
        resolve(tmp_path)
    assert str(info.value) == (
        "templates/main.mjml line 3: mj-include: no file 'partials/heder.mjml'"
        " — did you mean 'partials/header.mjml'?"
    )
    assert (info.value.file, info.value.line) == ("templates/main.mjml", 3)


@pytest.mark.parametrize(
    "path",
    ["nothing-like-it.mjml", "nofolder/x.mjml"],
    ids=["no-close-name", "no-folder"],
)
def test_missing_file_without_suggestion(tmp_path: Path, path: str) -> None:
    write(
        tmp_path,
        {"templates/main.mjml": f'<mj-include path="{path}"/>', "templates/partials/a": ""},
    )
    with pytest.raises(RegistryError) as info:
        resolve(tmp_path)
    assert str(info.value) == (
        f"templates/main.mjml line 1: mj-include: no file {path!r}"
        " — paths are relative to the including file"
    )


def test_a_folder_is_not_a_file_to_include(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "templates/main.mjml": '<mj-include path="partials/"/>',
            "templates/partials/b.mjml": "",
            "templates/partials/a.mjml": "",
            "templates/rfm.yaml": "",
        },
    )
    with pytest.raises(RegistryError) as info:
        resolve(tmp_path)
    assert str(info.value) == (
        "templates/main.mjml line 1: mj-include: 'partials/' is a folder — include one file of "
        "it, e.g. partials/a.mjml"
    )


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        (
            "<mj-include />",
            'mj-include needs a path — write <mj-include path="partials/header.mjml" />',
        ),
        (
            '<mj-include path="{{ partial }}.mjml" />',
            "mj-include path '{{ partial }}.mjml' is a template expression"
            " — includes are resolved when the project loads; write a plain file path",
        ),
        (
            '<mj-include path="a.mjml" type="text" />',
            "mj-include type must be one of 'mjml', 'css', 'html', got 'text'"
            ' — leave type out for MJML partials; use type="css" for stylesheets',
        ),
        (
            '<mj-include path="a.mjml">',
            '<mj-include> must be self-closing — write <mj-include path="…" />',
        ),
    ],
    ids=["no-path", "expression", "bad-type", "not-closed"],
)
def test_malformed_include_tags(tmp_path: Path, tag: str, message: str) -> None:
    write(tmp_path, {"templates/main.mjml": f"x\n{tag}", "templates/a.mjml": ""})
    with pytest.raises(RegistryError) as info:
        resolve(tmp_path)
    assert str(info.value) == f"templates/main.mjml line 2: {message}"


def test_non_utf8_file_is_named(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "templates/main.mjml": '<mj-include path="../partials/latin1.mjml"/>',
            "partials/latin1.mjml": "<mj-text>Gr\xfc\xdfe</mj-text>".encode("latin-1"),
        },
    )
    with pytest.raises(RegistryError) as info:
        resolve(tmp_path)
    assert str(info.value) == (
        "templates/main.mjml line 1: mj-include: 'partials/latin1.mjml' is not UTF-8 text"
        " (byte 11) — save the file with UTF-8 encoding"
    )


def test_utf8_byte_order_mark_is_dropped(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "templates/main.mjml": '<mj-include path="bom.mjml"/>',
            "templates/bom.mjml": "\ufeff<mj-text>Grüße</mj-text>".encode(),
        },
    )
    assert resolve(tmp_path).source.text == "<mj-text>Grüße</mj-text>"


def test_windows_newlines_in_a_partial_become_plain_newlines(tmp_path: Path) -> None:
    # As in every file the project reads itself: no stray \r reaches MJML or the text part.
    write(
        tmp_path,
        {
            "templates/main.mjml": '<mj-include path="crlf.mjml"/>',
            "templates/crlf.mjml": b"<mj-text>\r\nHi\r\n</mj-text>\r\n",
        },
    )
    assert resolve(tmp_path).source.text == "<mj-text>\nHi\n</mj-text>\n"


# --- cycles and depth -----------------------------------------------------------------------


def test_self_include_is_a_cycle(tmp_path: Path) -> None:
    write(tmp_path, {"templates/main.mjml": '<mj-include path="main.mjml"/>'})
    with pytest.raises(RegistryError) as info:
        resolve(tmp_path)
    assert str(info.value) == (
        "templates/main.mjml line 1: mj-include cycle: templates/main.mjml → templates/main.mjml"
        " — remove one of the includes so that no file includes itself"
    )


def test_cycle_through_two_partials_names_the_chain(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "templates/main.mjml": '<mj-include path="../p/a.mjml"/>',
            "p/a.mjml": 'a\n<mj-include path="b.mjml"/>',
            "p/b.mjml": '<mj-include path="./a.mjml"/>',
        },
    )
    with pytest.raises(RegistryError) as info:
        resolve(tmp_path)
    assert str(info.value) == (
        "p/b.mjml line 1: mj-include cycle: templates/main.mjml → p/a.mjml → p/b.mjml → p/a.mjml"
        " — remove one of the includes so that no file includes itself"
    )


def chain(tmp_path: Path, length: int) -> None:
    files: dict[str, str | bytes] = {"templates/main.mjml": '<mj-include path="p1.mjml"/>'}
    for index in range(1, length + 1):
        nxt = f'<mj-include path="p{index + 1}.mjml"/>' if index < length else "end"
        files[f"templates/p{index}.mjml"] = nxt
    write(tmp_path, files)


def test_depth_up_to_the_limit_is_fine(tmp_path: Path) -> None:
    chain(tmp_path, 3)
    assert resolve(tmp_path, max_depth=3).source.text == "end"


def test_depth_over_the_limit_names_the_chain(tmp_path: Path) -> None:
    chain(tmp_path, 4)
    with pytest.raises(RegistryError) as info:
        resolve(tmp_path, max_depth=3)
    assert str(info.value) == (
        "templates/p3.mjml line 1: mj-include nests deeper than 3 levels: templates/main.mjml"
        " → templates/p1.mjml → templates/p2.mjml → templates/p3.mjml → templates/p4.mjml"
        " — include the innermost partials directly instead of through each other"
    )


def test_include_fan_out_bomb_is_stopped(tmp_path: Path) -> None:
    ten = "".join(f'<mj-include path="l{{n}}.mjml"/>{i}' for i in range(10))
    files: dict[str, str | bytes] = {"templates/main.mjml": ten.format(n=1)}
    for level in range(1, 8):
        files[f"templates/l{level}.mjml"] = ten.format(n=level + 1)
    files["templates/l8.mjml"] = "x" * 100
    write(tmp_path, files)
    with pytest.raises(RegistryError) as info:
        resolve(tmp_path, max_chars=50_000)
    assert str(info.value) == (
        "templates/l5.mjml line 1: mj-include: the resolved markup exceeds 50,000 characters"
        " — a partial is included too many times; include large partials once"
    )


# --- real-world templates -------------------------------------------------------------------


PAGOPA = sorted(p.parent.name for p in (CORPUS / "pagopa-io").glob("*/index.mjml"))


@pytest.mark.parametrize("name", PAGOPA, ids=PAGOPA)
def test_pagopa_templates_resolve_with_true_origins(name: str) -> None:
    root = CORPUS / "pagopa-io"
    resolved = resolve(root, f"{name}/index.mjml")
    assert "<mj-include" not in resolved.source.text
    assert [css.text for css in resolved.css] == [(root / "style.css").read_text(encoding="utf-8")]
    files: dict[str, list[str]] = {}
    for line, (file, number) in lines_with_origins(resolved.source):
        if not line.strip():
            continue
        original = files.setdefault(file, (root / file).read_text(encoding="utf-8").split("\n"))
        assert line.strip() == original[number - 1].strip(), (file, number)
    used = {file for file, _ in resolved.source.origins}
    assert f"{name}/index.mjml" in used
    assert any(file.startswith("partials/") for file in used)


def test_pagopa_has_ten_templates() -> None:
    assert len(PAGOPA) == 10
