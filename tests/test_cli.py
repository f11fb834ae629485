"""The command line: output, files, exit codes, one-paragraph errors."""

from __future__ import annotations

import email
import email.policy
import gc
import itertools
import json
import os
import shutil
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

from personalize import Project
from personalize.cli import app, main
from personalize.cli import render as render_command
from personalize.cli.explain import _json_value
from personalize.render import RenderedEmail
from personalize.rules import MISSING
from projects import starter_kit_copy

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(["--project", str(ROOT), *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_render_writes_html_text_and_eml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["render", "weekly", "-r", "vip-vera", "--out", str(tmp_path)], capsys)
    assert code == 0
    assert "vip-vera" in out
    assert "wrote 3 files" in err
    eml = (tmp_path / "weekly--vip-vera.eml").read_bytes()
    message = email.message_from_bytes(eml, policy=email.policy.default)
    assert message["From"] == "Northwind Goods <hello@northwind.example>"
    assert message["To"] == "vera@example.com"
    assert (tmp_path / "weekly--vip-vera.txt").read_text().startswith("Northwind Goods")


def test_render_all_layouts_and_personas_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["render", "weekly", "welcome", "--all", "--format", "json"], capsys)
    assert code == 0
    payload = json.loads(out)
    assert payload["errors"] == []
    assert len(payload["emails"]) == 2 * len(Project.load(ROOT).personas)
    hostile = next(e for e in payload["emails"] if e["recipient"] == "hostile-hugo")
    assert "\n" not in hostile["subject"]


def test_explain_names_winners_and_failed_conditions(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["explain", "weekly", "-r", "vip-vera"], capsys)
    assert code == 0
    assert "hero → hero/vip-early-access" in out
    code, out, _ = run(["explain", "weekly", "-r", "bronze-ben", "--format", "json"], capsys)
    data = json.loads(out)
    hero = next(s for s in data["slots"] if s["slot"] == "hero")
    vip = next(c for c in hero["candidates"] if c["module"] == "hero/vip-early-access")
    assert vip["outcome"] == "not in a targeted segment"
    assert vip["failed"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["render", "weekly", "-r", "vip-verra"],
            1,
            "error: no persona 'vip-verra' in personas.jsonl — did you mean 'vip-vera'?",
        ),
        (
            ["render", "weeky", "-r", "vip-vera"],
            1,
            "error: no layout 'weeky' — did you mean 'weekly'?",
        ),
        (["render", "weekly"], 2, "Error: name recipients with --recipient ID, or pass --all"),
        (
            ["render", "weekly", "--all", "--now", "soon"],
            2,
            "Error: Invalid value for --now: expected an ISO date-time such as "
            "2026-11-27T09:00:00+01:00, got 'soon'",
        ),
        (["explain", "weekly"], 2, "Error: Missing option '--recipient' / '-r'."),
    ],
    ids=["unknown-persona", "unknown-layout", "no-recipients", "bad-now", "missing-option"],
)
def test_errors_are_one_paragraph_with_the_right_exit_code(
    args: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    got, out, err = run(args, capsys)
    assert got == code
    assert message in err
    assert "Traceback" not in out + err


def test_a_broken_project_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "personalize.toml").write_text("[project]\ntimezone = 'Mars/Base'\n")
    result = subprocess.run(
        [sys.executable, "-m", "personalize", "--project", str(tmp_path), "render", "x", "--all"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: personalize.toml line 2: project.timezone: unknown time zone 'Mars/Base' "
        "(expected e.g. 'Europe/Berlin')"
    )


def test_bad_records_in_data_files_exit_1_and_name_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "audience.jsonl"
    data.write_text(
        '{"id": "a", "email": "a@example.com", "links": {"unsubscribe": "https://x.example/u"}}\n'
        '{"id": "b"}\n'
    )
    code, out, err = run(["render", "weekly", "--data", str(data), "--all"], capsys)
    assert code == 1
    assert f"error: {data} line 2 (recipient b): email: required field is missing" in err
    assert "weekly — 1 email" in out  # the good record still rendered


def test_explain_shows_group_resolution_and_experiment_assignment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(["explain", "weekly", "-r", "gold-greta"], capsys)
    assert code == 0
    assert (
        "group rfm_segments: loyal (also matched potential_loyalist; loyal comes first in the "
        "group's order)"
    ) in out
    assert "hero → hero/default [experiment hero-story-nov: variant a]" in out
    assert "values: orders_30d=0, orders_365d=2, spend_365d=235.00," in out
    assert "r_score=4, f_score=3, m_score=4, rfm='434', engagement=0.0, activity=0" in out
    assert "score activity = 0: +10 if days_since_order <= 30: not met; +5 per opens_30d" in out
    code, out, _ = run(["explain", "weekly", "-r", "gold-greta", "--format", "json"], capsys)
    data = json.loads(out)
    hero = next(s for s in data["slots"] if s["slot"] == "hero")
    assert hero["experiments"]
    assert data["groups"]
    assert data["scores"]["engagement"]["terms"][0] == "opens_30d=0 → 0 × 0.5 = 0"


def test_a_line_that_is_not_json_is_reported_and_the_rest_render(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "audience.jsonl"
    data.write_text(
        '{oops\n{"id": "a", "email": "a@example.com", "links": {"unsubscribe": "https://x.example/u"}}\n'
    )
    code, out, err = run(["render", "weekly", "--data", str(data), "--all"], capsys)
    assert code == 1
    assert f"error: {data} line 1: invalid JSON: Expecting property name enclosed in double" in err
    assert "weekly — 1 email" in out


def test_help_examples_name_layouts_and_personas_of_the_bundled_project() -> None:
    from personalize.cli import cli

    project = Project.load(ROOT)
    for name, command in cli.commands.items():
        examples = (command.help or "").partition("Examples:")[2]
        for line in examples.splitlines():
            words = line.split()
            if words[:2] != ["personalize", name]:
                continue
            for flag, value in itertools.pairwise(words):
                if flag in ("-r", "--recipient"):
                    assert value in project.personas, (name, line)
            if name in ("render", "explain", "matrix", "coverage"):
                layouts = [w for w in words[2:] if not w.startswith("-")][:1]
                assert set(layouts) <= set(project.layouts), (name, line)


# -- files, recipient data in the terminal, and failures of one record -------------------------


def _record(rid: str, **fields: object) -> str:
    record = {
        "id": rid,
        "email": "a@example.com",
        "links": {"unsubscribe": "https://x.example/u"},
        **fields,
    }
    return json.dumps(record)


def _data(tmp_path: Path, *records: str) -> str:
    path = tmp_path / "audience.jsonl"
    path.write_text("".join(f"{r}\n" for r in records))
    return str(path)


def test_ids_with_dots_get_files_of_their_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _data(
        tmp_path,
        _record("ann@example.com", first_name="Ann"),
        _record("ann@example.org", first_name="Bob"),
    )
    out_dir = tmp_path / "out"
    code, _, _ = run(["render", "weekly", "--data", data, "--all", "--out", str(out_dir)], capsys)
    assert code == 0
    assert "Ann" in (out_dir / "weekly--ann@example.com.txt").read_text()
    assert "Bob" in (out_dir / "weekly--ann@example.org.txt").read_text()
    assert len(list(out_dir.iterdir())) == 6


def test_ids_that_would_share_files_are_an_error_for_the_second(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _data(
        tmp_path,
        _record("../../a b", first_name="Ann"),
        _record("../../a/b", first_name="Bob"),
        _record("c", first_name="Cy"),
    )
    out_dir = tmp_path / "out"
    code, out, _ = run(
        ["render", "weekly", "--data", data, "--all", "--out", str(out_dir), "--format", "json"],
        capsys,
    )
    assert code == 1
    assert json.loads(out)["errors"][0]["text"] == (
        f"{data} line 2 (recipient ../../a/b): its files would overwrite those of recipient "
        "'../../a b' (weekly--.._.._a_b.html) — give every record its own id; ids that differ "
        "only in case (macOS and Windows file names ignore it), in characters other than "
        "letters, digits and ._@+- (written '_'), or after 120 characters, clash"
    )
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "weekly--.._.._a_b.eml",
        "weekly--.._.._a_b.html",
        "weekly--.._.._a_b.txt",
        "weekly--c.eml",
        "weekly--c.html",
        "weekly--c.txt",
    ]
    assert "Ann, is your" in (out_dir / "weekly--.._.._a_b.txt").read_text()


def test_an_email_that_cannot_become_a_message_does_not_stop_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _data(
        tmp_path,
        _record("a", links={"unsubscribe": "http://x.example/u"}),
        _record("b"),
    )
    out_dir = tmp_path / "out"
    code, out, err = run(
        ["render", "weekly", "--data", data, "--all", "--out", str(out_dir)], capsys
    )
    assert code == 1
    assert _errors(err) == [
        f"error: {data} line 1 (recipient a): list_unsubscribe: expected an https: or mailto: "
        "URL, got 'http://x.example/u' — one-click unsubscribe (RFC 8058) needs an https:// "
        "URL; mailto: also works"
    ]
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "weekly--b.eml",
        "weekly--b.html",
        "weekly--b.txt",
    ]
    assert "weekly — 1 email" in out


def test_recipient_data_is_printed_as_text_not_as_markup_or_escapes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(app.out, "_width", 400)  # a row on one line
    data = _data(
        tmp_path,
        _record("m\x1b]8;;https://evil.example\x1b\\", first_name="[/oops] [link=https://e.x]x"),
    )
    code, out, err = run(["render", "weekly", "--data", data, "--all"], capsys)
    assert code == 0, err
    assert "[/oops] [link=https://e.x]x, Black Friday is on" in out
    assert "m\\x1b]8;;https://evil.example\\x1b\\" in out
    assert "\x1b" not in out


def test_explain_prints_a_value_seen_holding_markup_as_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = starter_kit_copy(tmp_path / "kit", ("[project]", "[project]"))
    (root / "modules" / "hero" / "outerwear.mjml").write_text(
        "---\nwhen: {favorite_category: outerwear}\npriority: 10\n---\n"
        "<mj-section><mj-column><mj-text>Coats</mj-text></mj-column></mj-section>\n"
    )
    data = _data(tmp_path, _record("m", favorite_category="[/x]"))
    monkeypatch.setattr(app.out, "_width", 400)
    code, out, err = run(
        ["--project", str(root), "explain", "weekly", "--data", data, "-r", "m"], capsys
    )
    assert code == 0, err
    assert "failed: favorite_category = outerwear (saw '[/x]')" in out


def test_explain_refuses_two_records_with_the_wanted_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _data(tmp_path, _record("a"), _record("a"))
    code, _, err = run(["explain", "weekly", "--data", data, "-r", "a"], capsys)
    assert code == 1
    assert (
        err.strip() == f"error: {data}: two records have the id 'a' — give every record its own id"
    )


def test_a_record_not_found_in_data_suggests_ids_and_names_unreadable_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _data(tmp_path, _record("vip-vera"), "{oops", '{"first_name": "no id"}')
    code, _, err = run(["render", "weekly", "--data", data, "-r", "vip-verra"], capsys)
    assert code == 1
    assert " ".join(err.split()) == (
        f"error: {data}: no record with id 'vip-verra' — did you mean 'vip-vera'?; 1 line "
        f"could not be read, the first: {data} line 2: invalid JSON: Expecting property name "
        "enclosed in double quotes (column 2) — each line must be one JSON object"
    )
    code, _, err = run(["render", "weekly", "--data", data, "-r", "None"], capsys)
    assert code == 1  # a record without an id is not the record with id 'None'


@pytest.mark.parametrize(
    ("out_arg", "message"),
    [
        ("file/sub", "cannot write '{tmp}/file/sub': Not a directory"),
        ("", "Invalid value for --out: expected a folder"),
    ],
    ids=["under-a-file", "empty"],
)
def test_an_out_folder_that_cannot_be_written(
    tmp_path: Path, out_arg: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("")
    target = str(tmp_path / out_arg) if out_arg else ""
    code, _, err = run(["render", "weekly", "-r", "vip-vera", "--out", target], capsys)
    assert code == (1 if out_arg else 2)
    assert message.format(tmp=tmp_path) in " ".join(err.split())
    assert "internal error" not in err


def test_ctrl_c_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Project, "render", interrupted)
    code, _, err = run(["render", "weekly", "-r", "vip-vera"], capsys)
    assert code == 130
    assert err.strip() == "interrupted"


# -- tables: ids fold, never "…" -------------------------------------------------------------


def _terminal(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    """stdout as a colourless terminal of ``width`` columns."""
    monkeypatch.setattr(app.out, "_force_terminal", True)
    monkeypatch.setattr(app.out, "_width", width)
    monkeypatch.setattr(app.out, "_color_system", None)


def _column(printed: str, index: int) -> str:
    """Column ``index`` of a printed table, every line's piece joined: what folding kept."""
    rows = [line.split("│") for line in printed.splitlines() if "│" in line]
    return "".join(row[index].strip() for row in rows if len(row) > index)


def _rows(printed: str) -> dict[str, list[str]]:
    """The one-line rows of a printed table, by their first cell."""
    rows = [line.split("│")[1:-1] for line in printed.splitlines() if line.startswith("│")]
    return {row[0].strip(): [cell.strip() for cell in row[1:]] for row in rows}


LONG_OFFER = "offer/black-friday-extended-weekend-free-shipping-for-loyalty-members"


@pytest.fixture
def long_offer(tmp_path: Path) -> Path:
    """The starter kit with an offer module whose id is 68 characters long."""
    root = starter_kit_copy(tmp_path / "kit", ("[project]", "[project]"))
    (root / "modules" / f"{LONG_OFFER}.mjml").write_text(
        "---\nsegments: [gold]\npriority: 30\n---\n"
        "<mj-section><mj-column><mj-text>Free shipping</mj-text></mj-column></mj-section>\n"
    )
    return root


def test_piped_render_table_keeps_ids_whole(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["render", "weekly", "-r", "vip-vera", "-r", "german-dora"], capsys)
    assert code == 0
    assert "…" not in out
    assert _rows(out) == {
        "vip-vera": [
            "Hi Vera, your VIP early access is open",
            "vip-early-access",
            "complementary",
            "black-friday",
            "gold",
        ],
        "german-dora": [
            "Hallo Dora, das ist neu bei Northwind Goods",
            "german",
            "picks-de",
            "black-friday-de",
            "bronze-de",
        ],
    }


def test_a_narrow_terminal_folds_recipient_ids_and_subjects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [f"lapsed-{'la' * 20}-{end}" for end in ("one", "two")]
    data = _data(tmp_path, *(_record(rid, first_name="Maximiliane") for rid in ids))
    _terminal(monkeypatch, 60)
    code, out, err = run(["render", "weekly", "--data", data, "--all"], capsys)
    assert code == 0, err
    assert max(len(line) for line in out.splitlines()) <= 60
    assert "…" not in out
    assert _column(out, 1) == "".join(ids)
    subject = "Hi Maximiliane, Black Friday is on: 25% off everything"
    assert _column(out, 2).replace(" ", "") == subject.replace(" ", "") * 2


def test_render_json_has_every_documented_key_and_the_experiment_arms(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(["render", "weekly", "-r", "silver-sam", "--format", "json"], capsys)
    assert code == 0
    payload = json.loads(out)
    assert list(payload) == ["emails", "errors", "files"]
    (sam,) = payload["emails"]
    assert list(sam) == [
        "layout",
        "recipient",
        "subject",
        "preheader",
        "decisions",
        "experiments",
        "warnings",
        "html_bytes",
        "text",
    ]
    assert sam["experiments"] == {"hero-story-nov": "b"}
    assert sam["decisions"]["hero"] == "hero/default-b"


def test_explain_keeps_long_module_ids_whole_piped_and_on_a_terminal(
    long_offer: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--project", str(long_offer), "explain", "weekly", "-r", "vip-vera"]
    code, piped, _ = run(args, capsys)
    assert code == 0
    assert "…" not in piped
    assert f" ✓ │ {LONG_OFFER} │       30 │ won " in piped
    assert f"eligible, but {LONG_OFFER} (priority 30) ranks first" in piped
    _terminal(monkeypatch, 60)
    code, folded, _ = run(args, capsys)
    assert code == 0
    assert "…" not in folded
    assert max(len(line) for line in folded.splitlines() if "│" in line) <= 60
    offer = folded[folded.index("offer → ") : folded.index("loyalty → ")]
    first = ("cart-discount", "win-back-coupon", "welcome-discount")  # priorities 60, 50, 40
    expected = [*(f"offer/{name}" for name in first), LONG_OFFER, "offer/black-friday-de"]
    expected.append("offer/black-friday")
    assert _column(offer, 1) == "".join(expected)


def test_explain_names_the_zone_and_where_subject_and_preheader_come_from(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(
        ["explain", "weekly", "-r", "bronze-ben", "--now", "2026-11-30T23:30:00+00:00"], capsys
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[:2] == [
        "weekly for bronze-ben  locale en_US, now 2026-12-01T00:30+01:00 (Europe/Berlin)",
        "segments: potential_loyalist",
    ]
    assert lines[lines.index("") - 1] == "subject from the layout, preheader from the layout"
    assert (
        " ✗ │ offer/black-friday     │       20 │ outside its date window   │ active 2026-11-27 – "
        "2026-11-30 (Europe/Berlin), now is 2026-12-01T00:30+01:00" in out
    )
    code, out, _ = run(["explain", "weekly", "-r", "vip-vera"], capsys)
    lines = out.splitlines()
    assert lines[lines.index("") - 1] == (
        "subject from hero/vip-early-access, preheader from hero/vip-early-access"
    )


def test_explain_json_writes_date_times_in_iso_8601_and_decimals_as_strings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(["explain", "weekly", "-r", "vip-vera", "--format", "json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["now"] == "2026-11-27T09:00:00+01:00"
    assert data["metrics"]["last_order_at"] == "2026-11-20T10:00:00+01:00"
    assert data["metrics"]["spend_365d"] == "663.50"
    assert data["metrics"]["orders_365d"] == 5
    assert (data["subject_from"], data["preheader_from"]) == (
        "hero/vip-early-access",
        "hero/vip-early-access",
    )
    hero = data["slots"][0]["candidates"]
    welcome = next(c for c in hero if c["module"] == "hero/welcome")
    assert welcome["failed"][0]["value"] == "2023-03-02T10:00:00+01:00"


def test_explain_json_writes_a_missing_value_as_null() -> None:
    assert json.dumps({"value": MISSING}, default=_json_value) == '{"value": null}'


NOW_OUT_OF_RANGE = [
    (
        "9999-12-31T23:59:59-05:00",
        "Error: Invalid value for --now: expected a moment between the years 1 and 9999 in UTC, "
        "got '9999-12-31T23:59:59-05:00', which is after 9999-12-31 in UTC — pass a date-time "
        "inside the calendar, such as 2026-11-27T09:00:00+01:00",
    ),
    (
        "0001-01-01",
        "Error: Invalid value for --now: expected a moment between the years 1 and 9999 in UTC, "
        "got '0001-01-01' (read in Europe/Berlin), which is before 0001-01-01 in UTC — pass a "
        "date-time inside the calendar, such as 2026-11-27T09:00:00+01:00",
    ),
]


@pytest.mark.parametrize(
    "command",
    [
        ["render", "weekly", "-r", "vip-vera"],
        ["explain", "weekly", "-r", "vip-vera"],
        ["coverage", "weekly", str(ROOT / "examples" / "audience.jsonl")],
        ["matrix", "weekly"],
        ["calibrate", str(ROOT / "examples" / "audience.jsonl"), "--dry-run"],
        ["snapshot", "--check"],
        ["lint"],  # which reads the project's zone itself: the project may not load
    ],
    ids=["render", "explain", "coverage", "matrix", "calibrate", "snapshot", "lint"],
)
@pytest.mark.parametrize(("now", "message"), NOW_OUT_OF_RANGE, ids=["year-10000", "year-0"])
def test_a_now_without_a_utc_time_is_a_usage_error(
    command: list[str], now: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run([*command, "--now", now], capsys)
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == message


@pytest.mark.parametrize(
    ("now", "message", "hint"),
    [
        (
            "soon",
            "expected an ISO date-time such as 2026-11-27T09:00:00+01:00, got 'soon'",
            None,
        ),
        (
            "0001-01-01",
            "expected a moment between the years 1 and 9999 in UTC, got '0001-01-01' (read in "
            "Europe/Berlin), which is before 0001-01-01 in UTC",
            "pass a date-time inside the calendar, such as 2026-11-27T09:00:00+01:00",
        ),
    ],
    ids=["not-a-date-time", "year-0"],
)
def test_lint_prints_a_bad_now_as_json_when_asked_for_json(
    now: str, message: str, hint: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["lint", "--now", now, "--format", "json"], capsys)
    assert (code, err) == (2, "")  # 2: lint could not run; 1 would mean the project has errors
    assert json.loads(out) == {
        "error": {
            "type": "UsageError",
            "message": message,
            "file": None,
            "line": None,
            "recipient": None,
            "path": "--now",
            "hint": hint,
        }
    }


def test_explain_shows_an_unfillable_required_slot_then_fails_as_render_would(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = starter_kit_copy(tmp_path / "kit", ("[project]", "[project]"))
    for name in ("default", "default-b"):  # the fallbacks exist, but only in German
        path = root / "modules" / "hero" / f"{name}.mjml"
        path.write_text(path.read_text().replace("---\n", "---\nlocales: [de]\n", 1))
    data = _data(tmp_path, _record("ed"))
    args = ["--project", str(root), "explain", "weekly", "--data", data, "-r", "ed"]
    error = (
        "error: templates/weekly.mjml line 32 (recipient ed): no module can fill required slot "
        "'hero' (candidates: hero/vip-early-access: not in a targeted segment, "
        "hero/abandoned-cart: not in a targeted segment, hero/recent-purchase: not in a targeted "
        "segment, hero/win-back: not in a targeted segment, hero/welcome: not in a targeted "
        "segment, hero/german: wrong locale, hero/default: wrong locale, hero/default-b: wrong "
        "locale) — no module without targeting serves this recipient (hero/german is for "
        "locales de, not en_US; hero/default is for locales de, not en_US; hero/default-b is for "
        "locales de, not en_US): add one without locales or active in modules/hero/, or mark "
        'the slot optional: <slot name="hero" optional/>'
    )
    code, out, err = run(args, capsys)
    assert code == 1
    assert "hero → (empty)  (required slot, no eligible module: rendering raises a " in out
    assert "│ hero/default-b        │        0 │ wrong locale" in out
    assert err == error + "\n"
    code, out, err = run([*args, "--format", "json"], capsys)
    assert code == 1
    hero = json.loads(out)["slots"][0]
    assert (hero["module"], hero["reason"]) == (
        None,
        "required slot, no eligible module: rendering raises a DecisionError",
    )
    assert [c["outcome"] for c in hero["candidates"]][-3:] == ["wrong locale"] * 3
    assert err == error + "\n"


# -- pipes, unreadable files, the recipient's line, and what the system refuses ----------------

AUDIENCE = ROOT / "examples" / "audience.jsonl"  # 5 records: c-1001 to c-1005
PERSONALIZE = [sys.executable, "-m", "personalize", "--project", str(ROOT)]


def _errors(err: str) -> list[str]:
    """The error lines of stderr (warnings come first)."""
    return [line for line in err.splitlines() if line.startswith("error:")]


def _pipe(data: bytes) -> str:
    """``/dev/fd/N`` of a pipe holding ``data``, as ``--data <(zcat …)`` passes one."""
    read, write = os.pipe()
    os.write(write, data)  # less than a pipe's 64 KiB: no reader needed yet
    os.close(write)
    return f"/dev/fd/{read}"


@pytest.mark.parametrize(
    ("command", "terminal"),
    [
        (["render", "weekly", "--all", "--format", "json", "--data"], False),
        (["explain", "weekly", "-r", "c-1005", "--format", "json", "--data"], False),
        (["calibrate", "--dry-run", "--format", "json"], False),
        (["calibrate", "--dry-run", "--format", "json"], True),
    ],
    ids=["render", "explain", "calibrate", "calibrate-progress-bar"],
)
def test_data_may_be_a_pipe_read_once(
    command: list[str],
    terminal: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if terminal:  # the bar, which has no total for a stream
        monkeypatch.setattr(app.err, "_force_terminal", True)
    path = _pipe(AUDIENCE.read_bytes() * (5 if command[0] == "calibrate" else 1))
    try:
        code, out, err = run([*command, path], capsys)
    finally:
        os.close(int(path.rpartition("/")[2]))
    assert code == 0, err
    payload = json.loads(out)
    if command[0] == "render":
        assert [e["recipient"] for e in payload["emails"]] == [f"c-100{n}" for n in range(1, 6)]
    elif command[0] == "explain":
        assert payload["recipient"] == "c-1005"
    else:
        assert (payload["records"], payload["file"]) == (25, None)


def test_calibrate_reads_a_named_pipe_once(tmp_path: Path) -> None:
    fifo = tmp_path / "audience.fifo"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", 'cat "$0" > "$1"', str(AUDIENCE), str(fifo)])
    try:
        result = subprocess.run(
            [*PERSONALIZE, "calibrate", str(fifo), "--dry-run", "--format", "json"],
            capture_output=True,
            text=True,
            timeout=60,  # read twice, the second read waits for a writer forever
            check=False,
        )
    finally:
        writer.kill()
        writer.wait()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["records"] == 5


def _as_a_user(args: list[str]) -> list[str]:
    """``args`` run so that file permissions apply: as root, without its override of them."""
    if os.geteuid() != 0:
        return args
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("as root, needs setpriv to drop the capability that ignores permissions")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", *args]


@pytest.mark.parametrize(
    "command",
    [
        ["coverage", "weekly"],
        ["render", "weekly", "--all", "--data"],
        ["explain", "weekly", "-r", "c-1001", "--data"],
        ["calibrate", "--dry-run"],
    ],
    ids=["coverage", "render", "explain", "calibrate"],
)
def test_a_file_that_cannot_be_read_is_an_error_not_a_usage_error(
    command: list[str], tmp_path: Path
) -> None:
    locked = tmp_path / "locked.jsonl"
    locked.write_bytes(AUDIENCE.read_bytes())
    locked.chmod(0)
    result = subprocess.run(
        _as_a_user([*PERSONALIZE, *command, str(locked)]),
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: {locked}: cannot read the file: Permission denied — make the file readable for "
        "you, or pass a copy you can read\n"
    )


def test_ids_that_differ_only_in_case_are_an_error_for_the_second(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # macOS and Windows ignore case in file names: weekly--vera.html would replace the other.
    data = _data(tmp_path, _record("Vera", first_name="Vera"), _record("vera", first_name="Vee"))
    out_dir = tmp_path / "out"
    code, _, err = run(["render", "weekly", "--data", data, "--all", "--out", str(out_dir)], capsys)
    assert code == 1
    assert _errors(err) == [
        f"error: {data} line 2 (recipient vera): its files would overwrite those of recipient "
        "'Vera' (weekly--Vera.html) — give every record its own id; ids that differ only in case "
        "(macOS and Windows file names ignore it), in characters other than letters, digits and "
        "._@+- (written '_'), or after 120 characters, clash"
    ]
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "weekly--Vera.eml",
        "weekly--Vera.html",
        "weekly--Vera.txt",
    ]


def test_errors_rendering_a_record_of_data_name_its_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = starter_kit_copy(tmp_path / "kit", ("[project]", "[project]"))
    (root / "modules" / "hero" / "zz.mjml").write_text(
        "---\nsegments: [gold]\npriority: 99\n---\n"
        "<mj-section><mj-column><mj-text>{{ first_name | money }}</mj-text></mj-column>"
        "</mj-section>\n"
    )
    data = _data(
        tmp_path,
        _record("ann"),
        _record("r9", locale="xx"),
        _record("gil", first_name="Gil", tier="Gold"),
    )
    args = ["--project", str(root), "render", "weekly", "--data", data, "--all"]
    located = [
        f"{data} line 2 (recipient r9): locale: unknown locale 'xx' — use a locale Babel knows, "
        "such as 'en_US' or 'de_DE'",
        # Found in a template: that file and line stay the error's; the record's go in front.
        f"{data} line 3: modules/hero/zz.mjml line 5 (recipient gil): first_name: expected a "
        "number for money, got 'Gil' — give it an int, float, Decimal or a numeric string such "
        "as '19.99'",
    ]
    code, _, err = run(args, capsys)
    assert code == 1
    assert _errors(err) == [f"error: {text}" for text in located]
    code, out, _ = run([*args, "--format", "json"], capsys)
    assert code == 1
    errors = json.loads(out)["errors"]
    assert [e["text"] for e in errors] == located
    assert [(e["file"], e["line"]) for e in errors] == [(data, 2), ("modules/hero/zz.mjml", 5)]


def test_render_keeps_no_email_after_writing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # For 40,000 recipients, keeping every email's HTML took gigabytes: only the table's
    # cells may stay, until it is printed.
    rendered: list[weakref.ref[RenderedEmail]] = []
    render_one = Project.render

    def tracked(self: Project, *args: object, **kwargs: object) -> RenderedEmail:
        email = render_one(self, *args, **kwargs)  # type: ignore[arg-type]
        rendered.append(weakref.ref(email))
        return email

    alive: list[int] = []
    show = app.show  # what render calls

    def counted(table: object) -> None:
        gc.collect()
        alive.append(sum(ref() is not None for ref in rendered))
        show(table)  # type: ignore[arg-type]

    monkeypatch.setattr(Project, "render", tracked)
    monkeypatch.setattr(render_command, "show", counted)
    args = ["render", "weekly", "--all", "--out", str(tmp_path)]
    code, _, err = run(args, capsys)
    assert code == 0, err
    assert len(rendered) == len(Project.load(ROOT).personas)
    assert alive == [1]  # the last one, still in the loop's variable


def test_ctrl_c_while_the_command_loads_exits_130_without_a_traceback() -> None:
    # The console script imports personalize.cli (about a second) before main() runs.
    script = (
        "import sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'rich.table':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "from personalize.cli import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "lint"], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (130, "", "interrupted\n")


@pytest.mark.parametrize(
    "command",
    [
        ["lint"],
        ["render", "weekly", "--all", "--format", "json"],
        ["matrix", "weekly", "--format", "csv"],
    ],
    ids=["table", "json", "csv"],
)
def test_a_full_disk_on_stdout_is_reported_not_called_a_bug(command: list[str]) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full, whose writes fail with ENOSPC")
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [*PERSONALIZE, *command],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    assert (result.returncode, result.stderr) == (
        1,
        "error: cannot write the output: No space left on device — check where stdout goes: a "
        "full disk or a closed connection refuses it\n",
    )


def test_personalize_project_naming_a_file_says_it_is_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # --project FILE is refused by click; the variable is read only when the project loads.
    monkeypatch.setenv("PERSONALIZE_PROJECT", str(ROOT / "personalize.toml"))
    with pytest.raises(SystemExit) as exited:
        main(["render", "weekly", "-r", "vip-vera"])
    assert exited.value.code == 1
    assert capsys.readouterr().err == (
        f"error: project folder '{ROOT / 'personalize.toml'}' is a file, not a folder — pass "
        f"the folder that holds it, '{ROOT}' (--project DIR)\n"
    )


def test_a_full_disk_is_reported_also_when_click_writes_bytes() -> None:
    # With an ASCII stdout, click.echo writes UTF-8 bytes through sys.stdout.buffer.
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full, whose writes fail with ENOSPC")
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [*PERSONALIZE, "matrix", "weekly", "--format", "json"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            env={**os.environ, "PYTHONIOENCODING": "ascii"},
        )
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot write the output: No space left on device")
