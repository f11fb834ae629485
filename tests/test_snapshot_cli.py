"""``personalize snapshot``: write, check and update a folder of email snapshots."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len

import personalize
from personalize.cli import app, main
from projects import ANN, HERO, LAYOUT, make_project, module

ROOT = Path(__file__).resolve().parents[1]

GOLD = module(
    "segments: [gold]\npriority: 10",
    "<mj-section><mj-column><mj-text>Gold news for {{ first_name }}</mj-text></mj-column>"
    "</mj-section>",
)
PERSONAS = [
    ANN,
    {**ANN, "id": "bea", "first_name": "Bea", "tier": "Gold"},
    {**ANN, "id": "cy", "first_name": "Cy", "tier": "Gold"},
    {**ANN, "id": "dan", "first_name": "Dan", "orders": [{"at": "2026-11-20T10:00:00+01:00"}]},
]


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app.out, "width", 200)  # table cells on one line each


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(
        tmp_path / "shop",
        layouts={"news": LAYOUT, "promo": LAYOUT.replace("Hello", "Deals for")},
        modules={"hero/default": HERO, "hero/gold": GOLD},
        personas=PERSONAS,
    )


def run(project: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(["--project", str(project), "snapshot", *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def changes(project: Path, capsys: pytest.CaptureFixture[str]) -> set[tuple[str, str, str]]:
    code, out, _ = run(project, capsys, "--check", "--format", "json")
    report: dict[str, Any] = json.loads(out)
    assert code == (0 if report["ok"] else 1)
    return {
        (f["layout"], f["recipient"], f["status"])
        for f in report["files"]
        if f["status"] != "unchanged"
    }


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_update_writes_one_file_per_layout_and_persona(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(project, capsys, "--update")
    assert code == 0
    assert out.splitlines()[-1] == (
        f"8 written (8 new), 0 deleted, 0 unchanged in {project / 'snapshots'}"
    )
    files = sorted(p.relative_to(project / "snapshots").as_posix() for p in project.rglob("*.txt"))
    assert files == [
        f"{lay}/{p}.email.txt" for lay in ("news", "promo") for p in ("ann", "bea", "cy", "dan")
    ]
    text = (project / "snapshots" / "news" / "bea.email.txt").read_text(encoding="utf-8")
    assert text.startswith("layout: news\nrecipient: bea\nlocale: en_US\n")
    assert "## decisions\nhero: hero/gold\nextra: (empty)\n" in text


def test_check_on_an_unchanged_project_exits_0_with_one_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(project, capsys, "--update")
    code, out, _ = run(project, capsys, "--check")
    assert (code, out) == (0, f"8 snapshots unchanged in {project / 'snapshots'}\n")
    code, out, _ = run(project, capsys)  # --check is the default
    assert code == 0


def test_check_without_snapshots_reports_every_file_missing(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(project, capsys)
    assert code == 1
    assert out.count("no snapshot yet") == 8
    assert out.splitlines()[-1] == (
        f"8 missing — no snapshots in {project / 'snapshots'} yet; run "
        "`personalize snapshot --update` to write them"
    )
    assert " persona" not in out.split("no snapshot yet")[-1]  # no per-segment counts
    assert not (project / "snapshots").exists()


def test_editing_a_module_lists_exactly_the_personas_who_receive_it(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(project, capsys, "--update")
    edit(project / "modules" / "hero" / "gold.mjml", "Gold news for", "Golden news for")
    assert changes(project, capsys) == {
        ("news", "bea", "changed"),
        ("news", "cy", "changed"),
        ("promo", "bea", "changed"),
        ("promo", "cy", "changed"),
    }
    code, out, _ = run(project, capsys)
    assert code == 1
    rows = [line for line in out.splitlines() if line.startswith("│ ") and "│ " in line[2:]]
    named = [tuple(cell.strip() for cell in row.split("│")[1:3]) for row in rows]
    assert [n for n in named if n[0]] == [
        ("news", "bea"),
        ("news", "cy"),
        ("promo", "bea"),
        ("promo", "cy"),
    ]
    assert out.count("content only: text, html") == 4
    assert "-Gold news for Bea" in out
    assert "+Golden news for Bea" in out
    assert "2 of 2 gold personas change" in out
    assert "buyer" not in out  # dan, the only buyer, is unchanged
    assert out.splitlines()[-1] == (
        "4 changed, 4 unchanged — review, then run `personalize snapshot --update` to accept"
    )
    code, out, _ = run(project, capsys, "--update")
    assert (code, out.splitlines()[:4]) == (
        0,
        [
            "  wrote news/bea.email.txt",
            "  wrote news/cy.email.txt",
            "  wrote promo/bea.email.txt",
            "  wrote promo/cy.email.txt",
        ],
    )
    assert changes(project, capsys) == set()


def test_a_targeting_change_is_reported_as_changed_decisions(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(project, capsys, "--update")
    edit(project / "modules" / "hero" / "gold.mjml", "segments: [gold]", "segments: [buyer]")
    assert changes(project, capsys) == {
        (layout, who, "changed") for layout in ("news", "promo") for who in ("bea", "cy", "dan")
    }
    _, out, _ = run(project, capsys, "--format", "json")
    report = json.loads(out)
    bea = next(f for f in report["files"] if f["path"] == "news/bea.email.txt")
    assert bea["slots"] == ["hero"]
    assert bea["summary"].splitlines()[0] == "hero: hero/gold → hero/default"
    assert {(s["segment"], s["changed"], s["personas"]) for s in report["segments"]} == {
        ("buyer", 1, 1),
        ("gold", 2, 2),
    }
    _, out, _ = run(project, capsys)
    assert out.count("decisions changed: hero") == 6
    assert "1 of 1 buyer persona changes" in out


def test_update_accepts_changes_and_deletes_stale_snapshots(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(project, capsys, "--update")
    (project / "personas.jsonl").write_text(
        "".join(json.dumps(p) + "\n" for p in PERSONAS[:3]), encoding="utf-8"
    )
    (project / "templates" / "promo.mjml").unlink()
    assert changes(project, capsys) == {
        ("news", "dan", "stale"),
        ("promo", "ann", "stale"),
        ("promo", "bea", "stale"),
        ("promo", "cy", "stale"),
        ("promo", "dan", "stale"),
    }
    code, out, _ = run(project, capsys)
    assert out.count("persona or layout no longer exists") == 5
    code, out, _ = run(project, capsys, "--update")
    assert code == 0
    assert "deleted news/dan.email.txt" in out
    assert out.splitlines()[-1].startswith("0 written (0 new), 5 deleted, 3 unchanged in ")
    assert not (project / "snapshots" / "promo").exists()
    assert changes(project, capsys) == set()


def test_update_deletes_only_the_snapshots_it_wrote(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(project, capsys, "--update")
    folder = project / "snapshots"
    ann = (folder / "news" / "ann.email.txt").read_text(encoding="utf-8")
    files = {
        "news/gus.email.txt": ann.replace("recipient: ann", "recipient: gus"),  # a stale one
        "archive/2025/thanks.email.txt": "Dear customer, my own notes\n",
        "news/notes.email.txt": "no snapshot header here\n",
        "promo-old/ann.email.txt": ann,  # a copy outside the folder of the layout it names
        "news/ann (copy).email.txt": ann,  # a copy beside it, under another name
    }
    for path, text in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text, encoding="utf-8")
    assert changes(project, capsys) == {("news", "gus", "stale")}
    _, out, _ = run(project, capsys, "--format", "json")
    others = [
        "archive/2025/thanks.email.txt",
        "news/ann (copy).email.txt",
        "news/notes.email.txt",
        "promo-old/ann.email.txt",
    ]
    assert json.loads(out)["others"] == others
    code, out, _ = run(project, capsys, "--update")
    kept = "not one of these snapshots (no snapshot header, or not at the path its header gives)"
    assert (code, out.splitlines()) == (
        0,
        [
            "deleted news/gus.email.txt",
            f"   kept archive/2025/thanks.email.txt: {kept}",
            f"   kept news/ann (copy).email.txt: {kept}",
            f"   kept news/notes.email.txt: {kept}",
            f"   kept promo-old/ann.email.txt: {kept}",
            f"0 written (0 new), 1 deleted, 8 unchanged in {folder}",
        ],
    )
    assert not (folder / "news" / "gus.email.txt").exists()
    for path, text in list(files.items())[1:]:
        assert (folder / path).read_text(encoding="utf-8") == text
    assert run(project, capsys, "--check")[0] == 0  # other files do not fail a check


@pytest.mark.parametrize(
    ("refused", "message"),
    [
        (
            "unlink",
            "error: --dir: cannot delete the stale snapshot '{folder}/news/dan.email.txt': "
            "Permission denied — check the permissions of its folder, or delete it yourself",
        ),
        (
            "rmdir",
            "error: --dir: cannot delete the empty folder '{folder}/promo': Permission denied — "
            "check the permissions of the folder it is in, or delete it yourself",
        ),
    ],
    ids=["file", "folder"],
)
def test_a_stale_snapshot_that_cannot_be_deleted_is_an_error(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    refused: str,
    message: str,
) -> None:
    run(project, capsys, "--update")
    if refused == "rmdir":  # all of promo/ is stale: its folder goes too
        (project / "templates" / "promo.mjml").unlink()
    (project / "personas.jsonl").write_text(
        "".join(json.dumps(p) + "\n" for p in PERSONAS[:3]), encoding="utf-8"
    )

    def deny(path: Path, *args: Any, **kwargs: Any) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(Path, refused, deny)  # as in a folder the user may not write to
    code, out, err = run(project, capsys, "--update")
    assert (code, out, err) == (1, "", message.format(folder=project / "snapshots") + "\n")


def test_render_errors_are_reported_and_fail(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(project / "modules" / "hero" / "gold.mjml", "{{ first_name }}", "{{ nickname }}")
    code, out, _ = run(project, capsys, "--update", "--dir", str(project / "out"))
    assert code == 1
    assert "failed news/bea.email.txt: modules/hero/gold.mjml line 5 (recipient bea)" in out
    assert len(list((project / "out").rglob("*.email.txt"))) == 4  # the others are written


def test_dir_now_scrub_and_headers(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = project / "elsewhere"
    args = ["--dir", str(folder), "--now", "2026-12-01T08:00:00+01:00", "--headers"]
    code, _, _ = run(project, capsys, "--update", *args, "--scrub", r"(?<=@)example\.com=EXAMPLE")
    assert code == 0
    text = (folder / "news" / "ann.email.txt").read_text(encoding="utf-8")
    assert "now: 2026-12-01T08:00:00+01:00\n" in text
    assert "To: ann@EXAMPLE\n" in text
    assert "Message-ID: <snapshot@personalize.invalid>\n" in text
    code, _, _ = run(project, capsys, *args)
    assert code == 1  # the same files, checked without the scrubber, differ


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--scrub", "nope"],
            "Error: Invalid value for --scrub: expected PATTERN=REPLACEMENT, got 'nope' — e.g. "
            "(?<=[?&]t=)\\w+=TOKEN replaces every tracking token t=… by TOKEN",
        ),
        (
            ["--scrub", "a=\\g<foo>"],
            "Error: Invalid value for --scrub: scrubber 'a' → '\\\\g<foo>': unknown group name "
            "'foo' — the pattern has no groups; write \\\\ for a literal backslash",
        ),
        (
            ["--now", "friday"],
            "Error: Invalid value for --now: expected an ISO date-time such as "
            "2026-11-27T09:00:00+01:00, got 'friday'",
        ),
        (
            ["--dir", ""],  # e.g. --dir "$SNAPDIR" with the variable unset
            "Error: Invalid value for --dir: expected a folder, got '' — leave --dir out to use "
            "snapshots/ in the project",
        ),
    ],
    ids=["scrub", "scrub-group", "now", "empty-dir"],
)
def test_bad_options_are_usage_errors(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    for mode in ("--check", "--update"):
        code, _, err = run(project, capsys, mode, *args)
        assert code == 2
        assert err.splitlines()[-1] == message
    assert not (project / "snapshots").exists()


def test_snapshots_of_an_older_format_ask_for_one_update(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(project, capsys, "--update")
    folder = project / "snapshots"
    for file in folder.rglob("*.email.txt"):  # as an earlier version wrote them
        edit(file, "format: 2\n", "")
    code, out, _ = run(project, capsys)
    assert (code, out) == (
        1,
        f"8 snapshots in {folder} were written in another snapshot format, by another version "
        "of personalize: run `personalize snapshot --update` once and review that diff\n",
    )
    _, out, _ = run(project, capsys, "--format", "json")
    news_ann = json.loads(out)["files"][0]
    assert (news_ann["status"], news_ann["parts"]) == ("changed", ["format"])
    assert news_ann["summary"].startswith("snapshot format 1 → 2: written by another version")
    edit(project / "modules" / "hero" / "gold.mjml", "Gold news for", "Golden news for")
    (folder / "news" / "ann.email.txt").unlink()
    _, out, _ = run(project, capsys)
    assert out.count("snapshot format changed") == 7
    assert out.count("no snapshot yet") == 1
    code, _, _ = run(project, capsys, "--update")
    assert code == 0
    assert changes(project, capsys) == set()


@pytest.mark.parametrize(
    ("layouts", "personas", "message"),
    [
        (
            ("promo mail", "promo_mail"),
            PERSONAS[:1],
            "error: templates/promo mail.mjml and templates/promo_mail.mjml share the snapshot "
            "folder promo_mail/ — rename one: in snapshot file names, characters other than "
            "letters, digits, '.', '_' and '-' become '_', and macOS and Windows ignore case",
        ),
        (
            ("weekly",),
            [{**ANN, "id": "Vera"}, {**ANN, "id": "vera"}],
            "error: personas.jsonl: personas 'Vera' and 'vera' share the snapshot file "
            "weekly/vera.email.txt on macOS and Windows, which ignore case — rename one: in "
            "snapshot file names, characters other than letters, digits, '.', '_' and '-' "
            "become '_', and macOS and Windows ignore case",
        ),
    ],
    ids=["layouts", "persona-case"],
)
def test_names_that_share_a_file_stop_before_anything_is_written(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    layouts: tuple[str, ...],
    personas: list[dict[str, Any]],
    message: str,
) -> None:
    shop = make_project(
        tmp_path / "shop",
        layouts=dict.fromkeys(layouts, LAYOUT),
        modules={"hero/default": HERO},
        personas=personas,
    )
    for args in ((), ("--update",)):
        code, out, err = run(shop, capsys, *args)
        assert (code, out, err.splitlines()) == (1, "", [message])
    assert not (shop / "snapshots").exists()
    docs = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    assert message.split(" — rename one")[0] in docs  # as docs/testing.md shows


def test_a_persona_id_too_long_for_a_file_name_stops_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shop = make_project(
        tmp_path / "shop", modules={"hero/default": HERO}, personas=[ANN, {**ANN, "id": "x" * 300}]
    )
    code, _, err = run(shop, capsys, "--update")
    assert (code, err) == (
        1,
        f"error: personas.jsonl: persona '{'x' * 58}… gets a snapshot file name of 310 "
        "characters, more than the 255 file systems allow — use a shorter persona id\n",
    )
    assert not (shop / "snapshots").exists()


def test_a_folder_path_too_long_to_read_says_so(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = project.joinpath(*["d" * 200] * 21)  # over the 4096 bytes of a path on Linux
    for mode in ("--check", "--update"):
        code, _, err = run(project, capsys, mode, "--dir", str(folder))
        assert (code, err) == (
            1,
            f"error: cannot read {str(folder / 'news' / 'ann.email.txt')!r}: File name too long "
            "— use a snapshot folder with a shorter path\n",
        )


def test_a_folder_named_like_a_snapshot_is_not_one(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(project, capsys, "--update")
    (project / "snapshots" / "old.email.txt").mkdir()
    code, out, _ = run(project, capsys)
    assert (code, out) == (0, f"8 snapshots unchanged in {project / 'snapshots'}\n")


def test_snapshots_are_byte_identical_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    folders = []
    for seed in ("1", "2"):
        folder = tmp_path / f"seed{seed}"
        command = [sys.executable, "-m", "personalize", "--project", str(ROOT), "snapshot"]
        subprocess.run(
            [*command, "--update", "--headers", "--dir", str(folder)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
            capture_output=True,
        )
        folders.append({p.relative_to(folder): p.read_bytes() for p in folder.rglob("*.txt")})
    project = personalize.Project.load(ROOT)
    assert len(folders[0]) == len(project.layouts) * len(project.personas) > 0
    assert folders[0] == folders[1]


def test_a_file_with_a_byte_order_mark_compares_equal(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(project, capsys, "--update")
    file = project / "snapshots" / "news" / "bea.email.txt"
    file.write_bytes(b"\xef\xbb\xbf" + file.read_bytes().replace(b"\n", b"\r\n"))  # Notepad
    assert run(project, capsys, "--check")[0] == 0  # as the email_snapshot fixture reads it


@pytest.mark.parametrize(
    ("persona", "folded"),
    [
        (
            "customer-yamada-taro-gold-tokyo-shibuya-2026",
            ("customer-yamada-taro-gol", "d-tokyo-shibuya-2026    "),
        ),
        # 46 cells wide: each CJK character takes two.
        (
            "顧客-山田太郎-ゴールド会員-東京都渋谷区",
            ("顧客-山田太郎-ゴールド会", "員-東京都渋谷区         "),
        ),
    ],
    ids=["ascii", "cjk"],
)
def test_check_keeps_names_whole_at_80_columns(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    persona: str,
    folded: tuple[str, str],
) -> None:
    shop = make_project(
        tmp_path / "shop",
        layouts={"weekly": LAYOUT, "welcome": LAYOUT},
        modules={"hero/default": HERO, "hero/gold": GOLD},
        personas=[{**ANN, "id": "vera", "tier": "Gold"}, {**ANN, "id": persona, "tier": "Gold"}],
    )
    run(shop, capsys, "--update")
    edit(shop / "modules" / "hero" / "gold.mjml", "Gold news for", "Golden news for")
    monkeypatch.setattr(app.out, "width", 80)  # a CI log, or a pipe
    code, out, _ = run(shop, capsys)
    # The layouts in full, not "w…" for both; a persona id too long for the width folds onto
    # two lines, never cut; the diff lines give way.
    first, second = folded
    rows = [
        "│ {} │ vera                     │ content only: text,  │ -Gold news for…  │",
        "│         │                          │ html                 │ +Golden news fo… │",
        f"│ {{}} │ {first} │ content only: text,  │ -Gold news for…  │",
        f"│         │ {second} │ html                 │ +Golden news fo… │",
    ]
    rows = [row.format(layout) for layout in ("weekly ", "welcome") for row in rows]
    assert code == 1
    assert out.splitlines()[1:-2] == [
        "┏━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━┓",
        "┃ layout  ┃ persona                  ┃ change               ┃ what changed     ┃",
        "┡━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━┩",
        *rows,
        "└─────────┴──────────────────────────┴──────────────────────┴──────────────────┘",
    ]
    assert {cell_len(line) for line in out.splitlines()[1:-2]} == {80}
