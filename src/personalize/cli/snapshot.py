"""``personalize snapshot``: every persona × layout as a snapshot file; check or update them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from personalize.errors import ConfigError
from personalize.testing import Scrubber, SnapshotFile, SnapshotReport, check_snapshots

from .app import State, cli, out, parse_now, plain, safe

SUMMARY_LINES = 3  # lines of each diff summary shown in the --check table
CHANGE_WIDTH = 20  # the change column, wrapped, on narrow terminals
_STYLE = {"changed": "yellow", "missing": "cyan", "stale": "magenta", "error": "red"}


@cli.command()
@click.option(
    "--check",
    "mode",
    flag_value="check",
    default=True,
    help="Compare the snapshots with fresh renders; exit 1 if any differ (the default).",
)
@click.option(
    "--update",
    "mode",
    flag_value="update",
    help="Write new and changed snapshots, delete those of personas or layouts now gone.",
)
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False),
    help="Snapshot folder (default: snapshots/ in the project).",
)
@click.option("--now", "now_text", metavar="ISO", help="Render as of this moment.")
@click.option(
    "--scrub",
    "scrub",
    multiple=True,
    metavar="PATTERN=REPL",
    help="Replace a regular expression in every snapshot (split at the last '='). Repeatable.",
)
@click.option("--headers", is_flag=True, help="Include the message headers in snapshots.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def snapshot(
    state: State,
    mode: str,
    folder: str | None,
    now_text: str | None,
    scrub: tuple[str, ...],
    headers: bool,
    fmt: str,
) -> None:
    """Render every persona × layout at the project's pinned `now` into snapshot files.

    One file per email, SNAPSHOTS/LAYOUT/PERSONA.email.txt, in the same format as the pytest
    fixture `email_snapshot`. --check (the default) lists what changed for whom and exits 1;
    --update writes the files.

    \b
    Examples:
      personalize snapshot --update
      personalize snapshot --check --scrub '(?<=[?&]t=)\\w+=TOKEN'
    """
    try:
        scrubbers = tuple(Scrubber.parse(spec) for spec in scrub)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--scrub") from None
    project = state.project
    now = parse_now(now_text, project.schema.tz)
    root = Path(folder) if folder else project.root / "snapshots"
    report = check_snapshots(project, root, now=now, scrubbers=scrubbers, headers=headers)
    if mode == "update":
        _update(report, fmt)
    elif fmt == "json":
        click.echo(json.dumps(_report_json(report), indent=2, ensure_ascii=False))
    else:
        _print_check(report)
    if report.count("error") or (mode == "check" and not report.ok):
        sys.exit(1)


def _update(report: SnapshotReport, fmt: str) -> None:
    written: list[str] = []
    deleted: list[str] = []
    for file in report.files:
        target = report.folder / file.path
        if file.status in ("changed", "missing") and file.text is not None:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(file.text.encode("utf-8"))  # "\n" line ends everywhere
            except OSError as exc:
                raise ConfigError(
                    f"cannot write {str(target)!r}: {exc.strerror or exc}",
                    path="--dir",
                    hint="pass --dir a folder you can write to",
                ) from None
            written.append(file.path)
        elif file.status == "stale":
            target.unlink()
            deleted.append(file.path)
            if not any(target.parent.iterdir()):
                target.parent.rmdir()
    if fmt == "json":
        payload = _report_json(report) | {"written": written, "deleted": deleted}
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    for file in report.files:
        if file.status != "unchanged":
            verb = {"stale": "deleted", "error": "failed"}.get(file.status, "wrote")
            what = f"{file.path}: {file.error}" if file.error else file.path
            out.print(Text.assemble((f"{verb:>7} ", _STYLE[file.status]), plain(what)))
    out.print(
        f"{len(written)} written ({report.count('missing')} new), {len(deleted)} deleted, "
        f"{report.count('unchanged')} unchanged in {report.folder}"
    )


def _kind(file: SnapshotFile) -> str:
    if file.change.parts == ("format",):
        return "snapshot format changed"
    if file.status == "changed":
        if file.change.decisions_changed:
            return "decisions changed: " + ", ".join(
                [*file.change.slots, *(f"experiment {e}" for e in file.change.experiments)]
            )
        return "content only: " + ", ".join(file.change.parts)
    return {
        "missing": "no snapshot yet",
        "stale": "persona or layout no longer exists",
        "error": "render failed",
    }[file.status]


def _detail(file: SnapshotFile, lines: int) -> str:
    if file.error is not None:
        return f"{file.path}: {file.error}"
    if file.status != "changed":
        return file.path
    # Diff headers and context lines say little in a table, and the HTML diff mostly repeats
    # the text diff: show the changed lines before it, or the HTML's if nothing else changed.
    before, _, html = file.summary.partition("--- html (snapshot)\n")
    shown = [
        line[0] + line[1:].strip() if line[:1] in ("+", "-") else line
        for line in (before or html).splitlines()
        if not line.startswith(("--- ", "+++ ", "@@", " "))
    ]
    return "\n".join(shown[:lines]) or file.path


def _fit(lines: list[str], width: int) -> list[str]:
    """Lines cut to ``width``; a -/+ pair that agrees in a long prefix starts near its change."""
    out = list(lines)
    for i in range(len(out) - 1):
        old, new = out[i], out[i + 1]
        if old[:1] == "-" and new[:1] == "+" and max(len(old), len(new)) > width:
            pairs = zip(old[1:], new[1:], strict=False)
            same = next((k for k, (x, y) in enumerate(pairs) if x != y), min(len(old), len(new)))
            if same > width // 2:
                cut = same - width // 3
                out[i], out[i + 1] = f"-…{old[1 + cut :]}", f"+…{new[1 + cut :]}"
    return [line if len(line) <= width else line[: width - 1] + "…" for line in out]


def _print_check(report: SnapshotReport) -> None:
    if report.ok:
        out.print(f"{len(report.files)} snapshots unchanged in {report.folder}")
        return
    rows = [f for f in report.files if f.status != "unchanged"]
    if all(f.change.parts == ("format",) for f in rows):  # an upgrade: say so, not 42 times
        out.print(
            f"{len(rows)} snapshots in {report.folder} were written in another snapshot format, "
            "by another version of personalize: run `personalize snapshot --update` once and "
            "review that diff"
        )
        return
    table = Table(title=f"snapshots that differ in {report.folder}", title_justify="left")
    # Names in full; the diff lines get what is left of the width, cut short rather than wrapped.
    names = max(len("layout"), *(len(f.layout or "?") for f in rows))
    names += max(len("persona"), *(len(f.recipient or "?") for f in rows))
    kinds = max(len(_kind(f)) for f in rows)
    change = kinds if out.width - names - kinds - 13 >= 40 else CHANGE_WIDTH
    room = max(16, out.width - names - change - 13)  # 13: borders and padding
    table.add_column("layout", no_wrap=True)
    table.add_column("persona", no_wrap=True)
    table.add_column("change", width=change)
    table.add_column("what changed", no_wrap=True)
    for file in rows:
        lines = [plain(line) for line in _detail(file, SUMMARY_LINES).splitlines()]
        table.add_row(
            safe(file.layout or "?"),
            safe(file.recipient or "?"),
            Text(_kind(file), style=_STYLE[file.status]),
            Text("\n".join(_fit(lines, room))),
        )
    out.print(table, crop=False)
    if report.count("missing") == len(report.files):  # a first run: counts would say nothing
        out.print(
            f"{len(report.files)} missing — no snapshots in {report.folder} yet; run "
            "`personalize snapshot --update` to write them"
        )
        return
    for name, changed, total in report.segments:
        if changed:
            noun = "persona" if total == 1 else "personas"
            verb = "changes" if changed == 1 else "change"
            out.print(f"{changed} of {total} {name} {noun} {verb}")
    counts = ", ".join(
        f"{report.count(status)} {status}"
        for status in ("changed", "missing", "stale", "error", "unchanged")
        if report.count(status)
    )
    out.print(f"{counts} — review, then run `personalize snapshot --update` to accept")


def _report_json(report: SnapshotReport) -> dict[str, Any]:
    return {
        "folder": str(report.folder),
        "ok": report.ok,
        "files": [
            {
                "path": f.path,
                "layout": f.layout,
                "recipient": f.recipient,
                "status": f.status,
                "slots": list(f.change.slots),
                "experiments": list(f.change.experiments),
                "parts": list(f.change.parts),
                "summary": f.summary,
                "error": str(f.error) if f.error else None,
            }
            for f in report.files
        ],
        "segments": [
            {"segment": name, "changed": changed, "personas": total}
            for name, changed, total in report.segments
        ],
    }
