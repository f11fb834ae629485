"""personalize.testing: snapshot text, scrubbers, diff summaries and snapshot-folder checks."""

from __future__ import annotations

import html
import random
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import personalize
from personalize.errors import ConfigError, RenderError
from personalize.render import RenderedEmail
from personalize.testing import (
    Scrubber,
    SnapshotChange,
    canonical_html,
    check_snapshots,
    compare_snapshots,
    diff_summary,
    snapshot_path,
    snapshot_text,
)
from projects import ANN, HERO, LAYOUT, SETTINGS, make_project, module

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))

EMAIL = RenderedEmail(
    layout="news",
    recipient="ann",
    subject="Hello Ann",
    preheader="News for Ann",
    html='<html><body><p class="x"  id=a>Hi  Ann &amp; co</p></body></html>',
    text="Hi Ann & co\n\nShop (https://shop.example/?t=abc123)\n",
    decisions={"hero": "hero/gold", "extra": None},
    warnings=("nickname fell back to its default 'pal'",),
    locale="en_US",
    now=NOW,
    address="ann@example.com",
    unsubscribe="https://shop.example/unsubscribe?t=abc123",
    sender="Shop <shop@example.com>",
)

EXPECTED = """\
layout: news
recipient: ann
locale: en_US
now: 2026-11-27T09:00:00+01:00
format: 2

## decisions
hero: hero/gold
extra: (empty)

## subject
Hello Ann

## preheader
News for Ann

## warnings
nickname fell back to its default 'pal'

## text
Hi Ann & co

Shop (https://shop.example/?t=abc123)

## html
<html>
  <body>
    <p class="x" id="a">
      Hi Ann & co
    </p>
  </body>
</html>
"""


def test_snapshot_text_is_header_then_sections() -> None:
    assert snapshot_text(EMAIL) == EXPECTED


def test_snapshot_text_lists_experiments_after_decisions() -> None:
    email = replace(EMAIL, experiments={"hero-copy": "b"})
    text = snapshot_text(email)
    assert "extra: (empty)\n\n## experiments\nhero-copy: b\n\n## subject\n" in text


def test_snapshot_text_says_none_for_empty_parts() -> None:
    text = snapshot_text(replace(EMAIL, preheader="", warnings=(), now=None))
    assert "now: (none)\n" in text
    assert "## preheader\n(none)\n\n## warnings\n(none)\n" in text


def test_snapshot_text_headers_pin_message_id_and_leave_out_mime_parts() -> None:
    text = snapshot_text(EMAIL, headers=True)
    block = text.split("## headers\n")[1].split("\n\n")[0]
    assert block.splitlines() == [
        "From: Shop <shop@example.com>",
        "To: ann@example.com",
        "Subject: Hello Ann",
        "Date: Fri, 27 Nov 2026 09:00:00 +0100",
        "Message-ID: <snapshot@personalize.invalid>",
        "List-Unsubscribe: <https://shop.example/unsubscribe?t=abc123>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
    ]
    assert snapshot_text(EMAIL, headers=True) == text


def test_snapshot_text_headers_need_a_sender() -> None:
    with pytest.raises(RenderError) as info:
        snapshot_text(replace(EMAIL, sender=None), headers=True)
    assert str(info.value) == (
        'recipient ann: no sender address — pass sender="Shop <shop@example.com>" or set '
        "[message] sender"
    )


def test_snapshot_text_has_only_newline_line_ends() -> None:
    text = snapshot_text(replace(EMAIL, text="a\r\nb\rc\n"))
    assert "\r" not in text
    assert "## text\na\nb\nc\n\n## html" in text


def test_scrubbers_run_over_the_whole_text_in_order() -> None:
    scrubbers = [Scrubber.parse(r"(?<=t=)\w+=TOKEN"), Scrubber("TOKEN", "T")]
    text = snapshot_text(EMAIL, scrubbers=scrubbers, headers=True)
    assert "abc123" not in text
    assert "Shop (https://shop.example/?t=T)" in text
    assert "List-Unsubscribe: <https://shop.example/unsubscribe?t=T>" in text


@pytest.mark.parametrize(
    ("spec", "pattern", "replacement"),
    [
        (r"t=\w+=X", r"t=\w+", "X"),
        (r"(t=)\w+=\1X", r"(t=)\w+", r"\1X"),
        ("secret=", "secret", ""),
        (re.compile("a", re.I), "a", "[scrubbed]"),
    ],
    ids=["last-equals", "group-reference", "empty-replacement", "compiled"],
)
def test_scrubber_specs(spec: str | re.Pattern[str], pattern: str, replacement: str) -> None:
    scrubber = Scrubber.parse(spec) if isinstance(spec, str) else Scrubber(spec)
    assert (scrubber.pattern if isinstance(spec, str) else spec.pattern) == pattern
    assert scrubber.replacement == replacement


def test_scrubber_group_reference_keeps_the_prefix() -> None:
    assert Scrubber.parse(r"(t=)\w+=\1X").apply("a?t=abc&t=d") == "a?t=X&t=X"


HINT = r"write PATTERN=REPLACEMENT with a Python regular expression, e.g. (?<=[?&]t=)\w+=TOKEN"
BACKSLASH = r"write \\ for a literal backslash"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "token",
            "expected PATTERN=REPLACEMENT, got 'token' — e.g. (?<=[?&]t=)\\w+=TOKEN replaces "
            "every tracking token t=… by TOKEN",
        ),
        ("=X", f"a scrubber needs a non-empty pattern — {HINT}"),
        ("a(=X", f"scrubber 'a(' → 'X': missing ), unterminated subpattern at position 1 — {HINT}"),
        (
            "a=\\2",
            "scrubber 'a' → '\\\\2': invalid group reference 2 at position 1 — the pattern has no "
            f"groups; {BACKSLASH}",
        ),
        (
            "a=\\g<foo>",
            "scrubber 'a' → '\\\\g<foo>': unknown group name 'foo' — the pattern has no groups; "
            f"{BACKSLASH}",
        ),
        (
            "(t=)(?P<id>\\w+)=\\g<ID>",
            "scrubber '(t=)(?P<id>\\\\w+)' → '\\\\g<ID>': unknown group name 'ID' — the "
            f"replacement may refer to \\1, \\2, \\g<id>; {BACKSLASH}",
        ),
    ],
    ids=["no-equals", "empty-pattern", "bad-pattern", "bad-group", "unknown-name", "named"],
)
def test_scrubber_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Scrubber.parse(spec)
    assert str(info.value) == message


# -- diffs -------------------------------------------------------------------------------------

OLD = snapshot_text(EMAIL)


def test_diff_summary_leads_with_decisions_then_subject_then_text_then_html() -> None:
    new_email = replace(
        EMAIL,
        decisions={"hero": "hero/default", "extra": "extra/tip"},
        subject="Hi Ann",
        text="Hi Ann\n\nShop (https://shop.example/?t=abc123)\n",
        html='<html><body><p class="x" id=a>Hi Ann</p></body></html>',
    )
    assert diff_summary(OLD, snapshot_text(new_email)) == "\n".join(
        [
            "hero: hero/gold → hero/default",
            "extra: (empty) → extra/tip",
            "subject: Hello Ann → Hi Ann",
            "--- text (snapshot)",
            "+++ text (rendered)",
            "@@ -1,3 +1,3 @@",
            "-Hi Ann & co",
            "+Hi Ann",
            " ",
            " Shop (https://shop.example/?t=abc123)",
            "--- html (snapshot)",
            "+++ html (rendered)",
            "@@ -2,5 +2,5 @@",
            "   <body>",
            '     <p class="x" id="a">',
            "-      Hi Ann & co",
            "+      Hi Ann",
            "     </p>",
            "   </body>",
        ]
    )


def test_diff_summary_names_changed_experiments_and_header_fields() -> None:
    old = snapshot_text(replace(EMAIL, experiments={"hero-copy": "a"}))
    new = snapshot_text(replace(EMAIL, locale="de_DE", experiments={"hero-copy": "b"}))
    assert diff_summary(old, new) == "experiment hero-copy: a → b\nlocale: en_US → de_DE"
    assert compare_snapshots(old, new) == SnapshotChange(
        experiments=("hero-copy",), parts=("locale",)
    )


def test_compare_snapshots_tells_decisions_from_content() -> None:
    content = compare_snapshots(OLD, snapshot_text(replace(EMAIL, preheader="Hi")))
    assert content == SnapshotChange(parts=("preheader",))
    assert content.changed
    assert not content.decisions_changed
    decisions = compare_snapshots(OLD, snapshot_text(replace(EMAIL, decisions={"hero": "h/x"})))
    assert decisions == SnapshotChange(slots=("hero", "extra"))
    assert decisions.decisions_changed


FORMAT_CHANGED = (
    "snapshot format 1 → 2: written by another version of personalize — rewrite it once "
    "(pytest --snapshot-update, or personalize snapshot --update) and review that diff"
)


def test_a_snapshot_in_another_format_says_so_instead_of_diffing() -> None:
    assert "\nformat: 2\n\n## decisions\n" in OLD
    written_before = OLD.replace("format: 2\n", "")  # format 1 had no format line
    new = snapshot_text(replace(EMAIL, subject="Hi Ann", html="<p>Hi <b>Ann</b></p>"))
    assert compare_snapshots(written_before, new) == SnapshotChange(parts=("format",))
    assert diff_summary(written_before, new) == FORMAT_CHANGED
    later = new.replace("format: 2", "format: 3")
    assert diff_summary(later, new).startswith("snapshot format 3 → 2: written by another ")
    assert compare_snapshots(OLD, new) == SnapshotChange(parts=("subject", "html"))


def test_diff_summary_of_other_texts_is_a_plain_unified_diff() -> None:
    assert diff_summary("a\nb", "a\nc") == "\n".join(
        ["--- snapshot (snapshot)", "+++ snapshot (rendered)", "@@ -1,2 +1,2 @@", " a", "-b", "+c"]
    )
    assert compare_snapshots("a", "b") == SnapshotChange(parts=("snapshot",))


SNAPSHOTISH = st.lists(
    st.sampled_from(["## text", "## html", "## decisions", "hero: a", "x", "", "now: 1", "\r"]),
    max_size=12,
).map("\n".join)


@example(
    old="## html\n## html\n## text\n## decisions\n## text\n## decisions\n## html",
    new="## text\n## html\n## text\n## decisions\n## text\n## decisions\n## html",
)
@given(st.one_of(st.text(), SNAPSHOTISH), st.one_of(st.text(), SNAPSHOTISH))
def test_diff_summary_is_empty_exactly_when_texts_are_equal(old: str, new: str) -> None:
    assert (diff_summary(old, new) == "") == (old == new)
    assert compare_snapshots(old, new).changed == (old != new)
    assert diff_summary(old, old) == ""


# -- folders -----------------------------------------------------------------------------------

GOLD = module(
    "segments: [gold]\npriority: 10",
    "<mj-section><mj-column><mj-text>Gold {{ first_name }}</mj-text></mj-column></mj-section>",
)


def _project(
    root: Path, personas: list[dict[str, object]], *, settings: str = SETTINGS
) -> personalize.Project:
    modules = {"hero/default": HERO, "hero/gold": GOLD}
    make_project(root, settings=settings, modules=modules, personas=personas)
    return personalize.Project.load(root)


BEA = {**ANN, "id": "bea", "first_name": "Bea", "tier": "Gold"}


def test_check_snapshots_reports_each_file_and_segment_counts(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", [ANN, BEA])
    folder = tmp_path / "snaps"
    report = check_snapshots(project, folder)
    assert [(f.path, f.status) for f in report.files] == [
        ("news/ann.email.txt", "missing"),
        ("news/bea.email.txt", "missing"),
    ]
    assert report.segments == (("gold", 1, 1),)
    for file in report.files:
        (folder / file.path).parent.mkdir(parents=True, exist_ok=True)
        (folder / file.path).write_text(file.text or "", encoding="utf-8")
    (folder / "old").mkdir()
    # A stale file sits where its header's layout and persona put it.
    gone = OLD.replace("news", "old").replace("recipient: ann", "recipient: cy")
    (folder / "old" / "cy.email.txt").write_text(gone, encoding="utf-8")
    report = check_snapshots(project, folder)
    assert [(f.path, f.layout, f.recipient, f.status) for f in report.files] == [
        ("news/ann.email.txt", "news", "ann", "unchanged"),
        ("news/bea.email.txt", "news", "bea", "unchanged"),
        ("old/cy.email.txt", "old", "cy", "stale"),
    ]
    assert report.segments == (("gold", 0, 1),)
    assert not report.ok
    assert report.count("stale") == 1


def test_check_snapshots_calls_stale_only_the_snapshots_it_writes(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", [ANN])
    folder = tmp_path / "snaps"
    files = {
        # a layout now gone, at the path its header gives
        "old/cy.email.txt": OLD.replace("layout: news", "layout: old").replace(
            "recipient: ann", "recipient: cy"
        ),
        "old/ann (copy).email.txt": OLD.replace("layout: news", "layout: old"),  # a copy
        "news/notes.email.txt": "Dear customer, my own notes\n",  # no snapshot header
        "archive/2025/thanks.email.txt": OLD,  # a copy, outside the news/ folder it names
        "old.email.txt": OLD.replace("layout: news", "layout: old"),
        "test_emails/test_email[ann-news].email.txt": OLD,  # the pytest fixture's files
    }
    for path, text in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text, encoding="utf-8")
    report = check_snapshots(project, folder)
    assert [(f.path, f.layout, f.recipient, f.status) for f in report.files] == [
        ("news/ann.email.txt", "news", "ann", "missing"),
        ("old/cy.email.txt", "old", "cy", "stale"),
    ]
    assert report.others == (
        "archive/2025/thanks.email.txt",
        "news/notes.email.txt",
        "old/ann (copy).email.txt",
        "old.email.txt",
        "test_emails/test_email[ann-news].email.txt",
    )


def test_check_snapshots_needs_a_pinned_now(tmp_path: Path) -> None:
    settings = SETTINGS.replace('now = "2026-11-27T09:00:00+01:00"\n', "")
    project = _project(tmp_path / "p", [ANN], settings=settings)
    with pytest.raises(ConfigError) as info:
        check_snapshots(project, tmp_path / "snaps")
    assert str(info.value) == (
        "snapshots need a fixed moment, but the project does not pin one — set "
        'now = "2026-11-27T09:00:00+01:00" under [project], or pass --now'
    )
    report = check_snapshots(project, tmp_path / "snaps", now=NOW)
    assert report.count("missing") == 1


RENAME = (
    "rename one: in snapshot file names, characters other than letters, digits, '.', '_' and "
    "'-' become '_', and macOS and Windows ignore case"
)


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (
            ("a b", "a_b"),
            "personas.jsonl: personas 'a b' and 'a_b' share the snapshot file news/a_b.email.txt",
        ),
        (
            ("Vera", "vera"),
            "personas.jsonl: personas 'Vera' and 'vera' share the snapshot file "
            "news/vera.email.txt on macOS and Windows, which ignore case",
        ),
        (
            ("con", "Con_"),
            "personas.jsonl: personas 'con' and 'Con_' share the snapshot file "
            "news/Con_.email.txt on macOS and Windows, which ignore case",
        ),
    ],
    ids=["unsafe-characters", "case", "reserved"],
)
def test_check_snapshots_refuses_personas_sharing_a_file(
    tmp_path: Path, ids: tuple[str, str], message: str
) -> None:
    project = _project(tmp_path / "p", [{**ANN, "id": rid} for rid in ids])
    with pytest.raises(ConfigError) as info:
        check_snapshots(project, tmp_path / "snaps")
    assert str(info.value) == f"{message} — {RENAME}"


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (
            ("promo mail", "promo_mail"),
            "templates/promo mail.mjml and templates/promo_mail.mjml share the snapshot folder "
            "promo_mail/",
        ),
        (
            ("News", "news"),
            "templates/News.mjml and templates/news.mjml share the snapshot folder news/ on "
            "macOS and Windows, which ignore case",
        ),
    ],
    ids=["unsafe-characters", "case"],
)
def test_check_snapshots_refuses_layouts_sharing_a_folder(
    tmp_path: Path, names: tuple[str, str], message: str
) -> None:
    modules = {"hero/default": HERO}
    make_project(tmp_path / "p", layouts=dict.fromkeys(names, LAYOUT), modules=modules)
    project = personalize.Project.load(tmp_path / "p")
    if len(project.layouts) < 2:
        pytest.skip("this file system ignores case: the two layouts are one file")
    with pytest.raises(ConfigError) as info:
        check_snapshots(project, tmp_path / "snaps")
    assert str(info.value) == f"{message} — {RENAME}"


def test_check_snapshots_refuses_a_persona_id_too_long_for_a_file_name(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", [ANN, {**ANN, "id": "x" * 246}])
    with pytest.raises(ConfigError) as info:
        check_snapshots(project, tmp_path / "snaps")
    assert str(info.value) == (
        f"personas.jsonl: persona '{'x' * 58}… gets a snapshot file name of 256 characters, "
        "more than the 255 file systems allow — use a shorter persona id"
    )
    project = _project(tmp_path / "q", [{**ANN, "id": "x" * 245}])
    assert check_snapshots(project, tmp_path / "snaps").count("missing") == 1


def test_check_snapshots_ignores_a_folder_named_like_a_snapshot(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", [ANN])
    (tmp_path / "snaps" / "old.email.txt").mkdir(parents=True)
    report = check_snapshots(project, tmp_path / "snaps")
    assert [(f.path, f.status) for f in report.files] == [("news/ann.email.txt", "missing")]


@pytest.mark.parametrize(
    ("layout", "recipient", "path"),
    [
        ("weekly", "vip-vera", "weekly/vip-vera.email.txt"),
        ("weekly", "a/b c", "weekly/a_b_c.email.txt"),
        ("weekly", "..x", "weekly/x.email.txt"),
        ("con", "nul", "con_/nul_.email.txt"),
        ("weekly", "COM1.x", "weekly/COM1_.x.email.txt"),
        ("weekly", "console", "weekly/console.email.txt"),
    ],
    ids=["plain", "unsafe", "leading-dots", "reserved", "reserved-with-dot", "not-reserved"],
)
def test_snapshot_path(layout: str, recipient: str, path: str) -> None:
    assert snapshot_path(layout, recipient) == path


# -- canonical HTML ------------------------------------------------------------------------------


def test_canonical_html_puts_blocks_on_lines_and_inline_content_on_one() -> None:
    html = (
        '<div><p  style="color:red;font-size: 12px" class=a>Hi <b>Ann</b>,&nbsp;it\'s "5 &lt; 6"'
        " &amp; more<br>next&#x200b;</p>\n<pre>a\n b</pre><!--[if mso]>x<![endif]-->"
        "<!--[if mso]>y<![endif]--><![if !mso]><a href='?u=1&amp;t=2&amp;copy=3'>go</a>"
        "<![endif]></div>"
    )
    assert canonical_html(html) == (
        "<div>\n"
        '  <p class="a" style="color: red; font-size: 12px">\n'
        '    Hi <b>Ann</b>,&nbsp;it\'s "5 &lt; 6" & more\n'
        "    <br>\n"
        "    next&#x200b;\n"
        "  </p>\n"
        "  <pre>a&#xa; b</pre>\n"
        '  <!--[if mso]>xy<![endif]--><![if !mso]><a href="?u=1&t=2&amp;copy=3">go</a><![endif]>\n'
        "</div>\n"
    )


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (
            '<p  style="color:red;font-size: 12px" class=a>Tom &amp; Jerry<br></p>',
            "<p class='a' style='color: red ; font-size:12px;'>Tom &#38; Jerry<br/></p>",
        ),
        ("<div><p>a</p>\n  <p>b \n c</p></div>", "<div><p>a</p><p>b c</p></div>"),
        ("<td> <a href=x>x</a> </td>", "<td><a href='x'>x</a></td>"),
        ("<p>a <b> b</b> </p>", "<p>a <b>b</b></p>"),
        ("<p>a<br> b</p>", "<p>a <br>b</p>"),
        ("<td>&nbsp;&lt;&quot;</td>", '<td>&#160;&#x3C;"</td>'),
        ("<img alt='&quot;&#39;'>", '<img alt="&#34;\'">'),
        ("<!--[if mso]>a<![endif]-->\n<!--[if mso]>b<![endif]-->", "<!--[if mso]>ab<![endif]-->"),
    ],
    ids=[
        "attributes-and-entities",
        "between-blocks",
        "line-edges",
        "collapsed-across-tags",
        "around-br",
        "text-entities",
        "attribute-entities",
        "split-conditional",
    ],
)
def test_canonical_html_is_equal_for_spellings_nobody_sees(one: str, other: str) -> None:
    assert canonical_html(one) == canonical_html(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("<p>Hi <b>Ann</b></p>", "<p>Hi<b>Ann</b></p>"),
        ("<p>a <img src=x> b</p>", "<p>a<img src=x>b</p>"),
        (
            "<span style='display:inline-block'>a </span> b",
            "<span style='display:inline-block'>a </span>b",
        ),
        ("<pre>a\n  b</pre>", "<pre>a b</pre>"),
        ("<p style='white-space: pre'>a  b</p>", "<p style='white-space: pre'>a b</p>"),
        ("<td>&nbsp;</td>", "<td></td>"),
        ("<p>4&#x202f;210</p>", "<p>4 210</p>"),
        ('<a href="x&quot; onclick=&quot;alert(1)">t</a>', '<a href="x" onclick="alert(1)">t</a>'),
        (
            "<td>&lt;img onerror=&quot;y&quot; src=&quot;x&quot;&gt;</td>",
            '<td><img src="x" onerror="y"></td>',
        ),
        ("<p>&amp;lt;</p>", "<p>&lt;</p>"),
        ("<![if !mso]><p>A</p><![endif]>", "<![if mso]><p>A</p><![endif]>"),
        ("<p>a<![CDATA[b]]></p>", "<p>a</p>"),
        ("<p>a<?php b ?></p>", "<p>a</p>"),
        ("<!--[if mso]>a<![endif]-->", "<!-- [if mso]>a<![endif] -->"),
        ("<a href=x href=y>", "<a href=y href=x>"),
    ],
    ids=[
        "space-next-to-inline-tag",
        "space-next-to-image",
        "space-after-inline-block",
        "pre",
        "white-space-pre",
        "nbsp-spacer",
        "narrow-nbsp",
        "attribute-breakout",
        "escaped-tag",
        "escaped-entity",
        "downlevel-revealed",
        "cdata",
        "processing-instruction",
        "not-a-conditional-comment",
        "first-duplicate-attribute-counts",
    ],
)
def test_canonical_html_shows_what_a_reader_sees(one: str, other: str) -> None:
    assert canonical_html(one) != canonical_html(other)


def test_canonical_html_shows_apostrophes_and_backslashes_as_they_are() -> None:
    assert canonical_html("<p>it's \"a\\b\"</p><p>it's</p>") == (
        "<p>\n  it's \"a\\b\"\n</p>\n<p>\n  it's\n</p>\n"
    )


TEXT = st.text(alphabet="ab&<>\"'; #\xa0\u202fé", min_size=1, max_size=6)
ATTRIBUTES = st.dictionaries(st.sampled_from(["alt", "class", "href", "title"]), TEXT, max_size=3)
STYLES = st.dictionaries(
    st.sampled_from(["color", "margin", "font-family"]),
    st.sampled_from(["red", "0 4px", "Arial, sans-serif", "'Open Sans'"]),
    max_size=3,
)


@st.composite
def _elements(draw: st.DrawFn, depth: int = 0) -> tuple[Any, ...]:
    tag = draw(st.sampled_from(["div", "p", "td", "b", "span", "a"]))
    children: list[object] = []
    for _ in range(draw(st.integers(0, 3 if depth < 2 else 0))):
        children.append(draw(TEXT) if draw(st.booleans()) else draw(_elements(depth + 1)))
    return (tag, draw(ATTRIBUTES), draw(STYLES), children)


ELEMENTS = _elements()
SPELLINGS = {
    "&": ["&amp;", "&#38;", "&#x26;"],
    "<": ["&lt;", "&#60;", "&#x3C;"],
    ">": ["&gt;", "&#62;", ">"],
    '"': ["&quot;", "&#34;"],
    "'": ["&#39;", "&#x27;"],
    "\xa0": ["&nbsp;", "&#160;", "\xa0"],
}


def _write(node: tuple[Any, ...], rng: random.Random | None = None) -> str:
    """HTML for ``node``; with ``rng``, spelled another way that shows the same."""

    def text(value: str, quote: str = "") -> str:
        if rng is None:
            return html.escape(value, quote=bool(quote))
        return "".join(
            rng.choice(SPELLINGS[ch])
            if ch in SPELLINGS and (ch in "&<" or ch == quote or rng.random() < 0.5)
            else rng.choice([" ", "  ", " \n\t"])
            if ch == " "
            else ch
            for ch in value
        )

    tag, attributes, styles, children = node
    items = list(attributes.items())
    if styles:
        sep, colon = (" ; ", " :") if rng else (";", ":")
        items.append(("style", sep.join(f"{k}{colon}{v}" for k, v in styles.items())))
    quote = '"'
    if rng:
        rng.shuffle(items)
        quote = rng.choice(['"', "'"])
    shown = "".join(f" {name}={quote}{text(value, quote)}{quote}" for name, value in items)
    inner = "".join(
        text(child) if isinstance(child, str) else _write(child, rng) for child in children
    )
    around = "\n  " if rng and tag in ("div", "p", "td") else ""  # whitespace next to blocks
    return f"{around}<{tag}{shown}>{around}{inner}{around}</{tag}>{around}"


@given(ELEMENTS, st.randoms(use_true_random=False))
def test_canonical_html_is_equal_for_every_spelling_of_the_same_email(
    node: tuple[Any, ...], rng: random.Random
) -> None:
    assert canonical_html(_write(node, rng)) == canonical_html(_write(node))


def _collapsed(value: str) -> str:
    return re.sub(" +", " ", value).strip(" ")


@given(ELEMENTS, st.data())
def test_canonical_html_shows_any_changed_text_or_attribute(
    node: tuple[Any, ...], data: st.DataObject
) -> None:
    def texts(node: tuple[Any, ...]) -> list[list[object]]:
        found = [node[3]] if any(isinstance(child, str) for child in node[3]) else []
        return found + [t for child in node[3] if isinstance(child, tuple) for t in texts(child)]

    before = canonical_html(_write(node))
    tag, attributes, styles, children = node
    name = data.draw(st.sampled_from(["alt", "title", "data-x"]))
    value = data.draw(TEXT)
    if _collapsed(attributes.get(name, "")) != _collapsed(value):
        changed = (tag, {**attributes, name: value}, styles, children)
        assert canonical_html(_write(changed)) != before
    runs = texts(node)
    if runs:
        run = data.draw(st.sampled_from(runs))
        at = data.draw(st.sampled_from([i for i, c in enumerate(run) if isinstance(c, str)]))
        run[at] = f"{run[at]}z"
        assert canonical_html(_write(node)) != before


WORD = st.text(alphabet="ab&<>\"'é;#", min_size=1, max_size=5)


@given(WORD, WORD, st.sampled_from(["b", "a", "span", "strong", "img"]))
def test_canonical_html_shows_a_space_next_to_an_inline_tag(a: str, b: str, tag: str) -> None:
    inline = f"<{tag}>{html.escape(b)}</{tag}>" if tag != "img" else f"<img alt='{b}'>"
    spaced = canonical_html(f"<p>{html.escape(a)} {inline}</p>")
    assert spaced != canonical_html(f"<p>{html.escape(a)}{inline}</p>")
    assert spaced != canonical_html(f"<p>{html.escape(a)}&nbsp;{inline}</p>")


@given(WORD, WORD, st.sampled_from(["\n", "  ", "\t", "\n\n"]))
def test_canonical_html_keeps_whitespace_in_pre(a: str, b: str, space: str) -> None:
    one, other = (f"<pre>{html.escape(a)}{ws}{html.escape(b)}</pre>" for ws in (space, " "))
    assert canonical_html(one) != canonical_html(other)


@given(ELEMENTS)
def test_canonical_html_never_takes_escaped_markup_for_markup(node: tuple[Any, ...]) -> None:
    markup = _write(node)
    assert canonical_html(f"<p>{html.escape(markup)}</p>") != canonical_html(f"<p>{markup}</p>")


@given(WORD, WORD)
def test_canonical_html_attribute_values_cannot_forge_attributes(v: str, w: str) -> None:
    forged = html.escape(f'{v}" title="{w}', quote=True)
    real = f'<a href="{html.escape(v)}" title="{html.escape(w)}">x</a>'
    assert canonical_html(f'<a href="{forged}">x</a>') != canonical_html(real)


HTMLISH = st.lists(
    st.sampled_from(
        [
            "<", ">", "&", "!", "-", "[", "]", "a", " ", "\n", "=", '"', "'", "/", ";", "#",
            "\xa0", "\x01", "<p>", "</p>", "<b>", "</b>", "<pre>", "</pre>", "<br>", "<img src=x>",
            "<td>", "</td>", "<span style='white-space:pre'>", "<i style='display:inline-block'>",
            "</span>", "<!--", "-->", "<!--[if mso]>", "<![endif]-->", "<![if !mso]>",
            "<![endif]>", "<![CDATA[", "]]>", "<?xml", "<!doctype html>", "<style>", "</style>",
            "<textarea>", "</textarea>", "&amp;", "&lt;", "&nbsp;", "&#10;", "&quot;", "&copy",
            "&#x85;", '<a href="', "\" title='", "'>", "</a>", "<div/>", "</br>", "<x:y>",
        ]
    ),
    max_size=40,
).map("".join)  # fmt: skip


@example("<textarea>")
@example("<pre><!doctype html>")
@example("<textarea><style><</style>")
@given(st.one_of(HTMLISH, ELEMENTS.map(_write), st.text()))
def test_canonical_html_is_idempotent(markup: str) -> None:
    once = canonical_html(markup)
    assert canonical_html(once) == once
