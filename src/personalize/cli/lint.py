"""``personalize lint``: every problem of a project, with stable codes, as a table or JSON."""

from __future__ import annotations

import json
import sys
from datetime import tzinfo
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.table import Table
from rich.text import Text

from personalize.config import load_settings
from personalize.errors import PersonalizeError
from personalize.fieldtypes import zone
from personalize.lint import LintReport, lint_project

from .app import NowError, State, cli, out, parse_now, safe

_STYLE = {"error": "red", "warning": "yellow"}


@cli.command()
@click.option("--now", "now_text", metavar="ISO", help="Check date windows as of this moment.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def lint(state: State, now_text: str | None, fmt: str) -> None:
    """Check the whole project and list every problem, with its code, file and line.

    Unlike other commands, lint does not stop at the first problem: each file is read on its
    own. Exit code 1 when any finding is an error, 0 with warnings only, 2 when lint cannot
    run (a --now that is not a date-time or is out of range; with --format json, printed as
    {"error": {…}}). Codes: docs/lint.md.

    \b
    Examples:
      personalize lint
      personalize lint --now 2026-12-05T09:00:00+01:00
      personalize lint --format json
    """
    try:
        now = parse_now(now_text, _zone(state.project_dir) if now_text else None)
    except NowError as exc:  # a usage error, as in every command; JSON asks for JSON
        if fmt != "json":
            raise
        _cannot_run(exc.to_dict())
    try:
        report = lint_project(state.project_dir, now=now)
    except PersonalizeError as exc:  # not a finding: lint could not check anything
        # Exit 2, as for a --now that does not parse: 1 means "the project has errors".
        if fmt == "json":
            _cannot_run(exc.to_dict())
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_report(report)
    if report.exit_code:
        sys.exit(report.exit_code)


def _zone(folder: str) -> tzinfo | None:
    """The project's time zone, which a --now without an offset is read in, as by the other
    commands; ``None`` when the settings do not load (lint reports that as a finding)."""
    try:
        return zone(load_settings(Path(folder)).project.timezone)
    except PersonalizeError:
        return None


def _cannot_run(error: dict[str, Any]) -> NoReturn:
    click.echo(json.dumps({"error": error}, indent=2, ensure_ascii=False))
    sys.exit(2)


def _print_report(report: LintReport) -> None:
    if report.findings:
        table = Table(show_lines=True)
        table.add_column("where", no_wrap=True)
        table.add_column("code", no_wrap=True)  # and severity, for output without colours
        table.add_column("finding", overflow="fold")
        for f in report.findings:
            finding = safe(f.message)
            if f.hint:
                finding.append(f"\n{f.hint}", style="dim")
            code = Text.assemble((f.code, f"bold {_STYLE[f.severity]}"), f"\n{f.severity}")
            table.add_row(safe(f.location), code, finding)
        out.print(table)
    errors, warnings = len(report.errors), len(report.warnings)
    summary = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    style = "red" if errors else "yellow" if warnings else "green"
    out.print(Text(summary if report.findings else "no problems found", style=style))
