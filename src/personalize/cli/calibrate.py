"""``personalize calibrate``: RFM cut points from an audience's quintiles, into the project."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from personalize.rfm import format_number
from personalize.rfmfile import check_writable

from .app import State, cli, count_records, err, out, parse_now, progress_bar


@cli.command()
# readable=False: a file that cannot be read is an error (1), as a missing one, not a usage one.
@click.argument("audience", type=click.Path(dir_okay=False, readable=False))
@click.option("--now", "now_text", metavar="ISO", help="Compute recency and windows as of this.")
@click.option("--dry-run", is_flag=True, help="Print the cut points without writing them.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def calibrate(state: State, audience: str, now_text: str | None, dry_run: bool, fmt: str) -> None:
    """Compute RFM quintile cut points over AUDIENCE (JSONL) and write them to the project.

    The file is streamed: memory stays small for any audience size. AUDIENCE may be a pipe
    (/dev/stdin). The cut points go to the file named by `rfm: cut_points:` in segments.yaml
    (e.g. rfm.yaml).

    \b
    Examples:
      personalize calibrate audience.jsonl
      personalize calibrate audience.jsonl --now 2026-11-27T09:00:00+01:00 --dry-run
    """
    project = state.project
    now = parse_now(now_text, project.schema.tz)
    rfm = project.segments.rfm
    if rfm is not None and not dry_run:
        check_writable(rfm)  # before reading a large audience, not after
    # From the current folder, not the project's; absolute, not resolved: /dev/stdin would
    # resolve to /proc/<pid>/fd/pipe:[N], which cannot be opened.
    path = Path(audience).absolute()
    total = count_records(path, display=audience)  # None for a pipe: it can be read only once
    with progress_bar(total, "calibrating") as bar:
        task = bar.add_task("calibrate", total=total)
        result = project.calibrate(
            path,
            now=now,
            write=not dry_run,
            source=audience,
            progress=lambda done: bar.update(task, completed=done),
        )
    cuts = {
        name: [format_number(v) for v in values]
        for name, values in result.cut_points.as_dict().items()
    }
    if fmt == "json":
        payload = {
            "cut_points": cuts,
            "records": result.records,
            "used": result.used,
            "skipped": result.skipped,
            "errors": [e.to_dict() | {"text": str(e)} for e in result.errors],
            "file": result.file,
        }
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    table = Table(title="RFM cut points (quintiles)", title_justify="left")
    table.add_column("dimension", style="bold")
    for column in ("c1", "c2", "c3", "c4"):
        table.add_column(column, justify="right")
    for name, texts in cuts.items():
        table.add_row(name, *texts)
    out.print(table)
    out.print(
        f"{result.used:,} of {result.records:,} records had recency, frequency and monetary "
        f"values; {result.skipped:,} skipped"
    )
    for error in result.errors:
        err.print(Text(f"skipped: {error}", style="yellow"))
    if result.file:
        err.print(f"wrote {result.file}")
    else:
        err.print("dry run: nothing written")
