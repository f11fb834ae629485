"""The command line: output, files, exit codes, one-paragraph errors."""

from __future__ import annotations

import email
import email.policy
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from personalize import Project
from personalize.cli import main

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
