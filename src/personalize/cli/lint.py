"""``personalize lint``: every problem of a project, with stable codes, as a table or JSON."""

from __future__ import annotations

import json
import sys

import click
from rich.table import Table
from rich.text import Text

from personalize.errors import PersonalizeError
from personalize.lint import LintReport, lint_project

from .app import State, cli, out, parse_now, safe

_STYLE = {"error": "red", "warning": "yellow"}


@cli.command()
@click.option("--now", "now_text", metavar="ISO", help="Check date windows as of this moment.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def lint(state: State, now_text: str | None, fmt: str) -> None:
    """Check the whole project and list every problem, with its code, file and line.

    Unlike other commands, lint does not stop at the first problem: each file is read on its
    own. Exit code 1 when any finding is an error, 0 with warnings only, 2 when lint cannot
    run (a --now out of range; with --format json, printed as {"error": {…}}). Codes:
    docs/lint.md.

    \b
    Examples:
      personalize lint
      personalize lint --now 2026-12-05T09:00:00+01:00
      personalize lint --format json
    """
    try:
        report = lint_project(state.project_dir, now=parse_now(now_text))
    except PersonalizeError as exc:  # not a finding: lint could not check anything
        # Exit 2, as for a --now that does not parse: 1 means "the project has errors".
        if fmt == "json":
            click.echo(json.dumps({"error": exc.to_dict()}, indent=2, ensure_ascii=False))
        else:
            click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_report(report)
    if report.exit_code:
        sys.exit(report.exit_code)


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
