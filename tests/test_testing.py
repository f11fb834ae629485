"""personalize.testing: snapshot text, scrubbers, diff summaries and snapshot-folder checks."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path
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
    check_snapshots,
    compare_snapshots,
    diff_summary,
    snapshot_path,
    snapshot_text,
)
from projects import ANN, HERO, SETTINGS, make_project, module

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


HINT = r"write PATTERN=REPLACEMENT with a Python regular expression, e.g. (?<=t=)\w+=TOKEN"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "token",
            "expected PATTERN=REPLACEMENT, got 'token' — e.g. (?<=t=)\\w+=TOKEN replaces every "
            "tracking token t=… by TOKEN",
        ),
        ("=X", f"a scrubber needs a non-empty pattern — {HINT}"),
        ("a(=X", f"scrubber 'a(' → 'X': missing ), unterminated subpattern at position 1 — {HINT}"),
        ("a=\\2", f"scrubber 'a' → '\\\\2': invalid group reference 2 at position 1 — {HINT}"),
    ],
    ids=["no-equals", "empty-pattern", "bad-pattern", "bad-group"],
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
    (folder / "old" / "cy.email.txt").write_text(OLD.replace("news", "old"), encoding="utf-8")
    report = check_snapshots(project, folder)
    assert [(f.path, f.layout, f.recipient, f.status) for f in report.files] == [
        ("news/ann.email.txt", "news", "ann", "unchanged"),
        ("news/bea.email.txt", "news", "bea", "unchanged"),
        ("old/cy.email.txt", "old", "ann", "stale"),
    ]
    assert report.segments == (("gold", 0, 1),)
    assert not report.ok
    assert report.count("stale") == 1


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


def test_check_snapshots_refuses_personas_sharing_a_file(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", [{**ANN, "id": "a b"}, {**ANN, "id": "a_b"}])
    with pytest.raises(ConfigError) as info:
        check_snapshots(project, tmp_path / "snaps")
    assert str(info.value) == (
        "personas.jsonl: personas 'a b' and 'a_b' share the snapshot file news/a_b.email.txt "
        "— rename one: characters other than letters, digits, '.', '_' and '-' become '_' in "
        "file names"
    )


@pytest.mark.parametrize(
    ("layout", "recipient", "path"),
    [
        ("weekly", "vip-vera", "weekly/vip-vera.email.txt"),
        ("weekly", "a/b c", "weekly/a_b_c.email.txt"),
        ("weekly", "..x", "weekly/x.email.txt"),
    ],
    ids=["plain", "unsafe", "leading-dots"],
)
def test_snapshot_path(layout: str, recipient: str, path: str) -> None:
    assert snapshot_path(layout, recipient) == path
