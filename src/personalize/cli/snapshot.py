"""``personalize snapshot``: every persona × layout as a snapshot file; check or update them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.cells import cell_len, set_cell_size
from rich.table import Table
from rich.text import Text

from personalize.errors import ConfigError
from personalize.testing import Scrubber, SnapshotFile, SnapshotReport, check_snapshots

from .app import State, cli, out, parse_now, plain, safe

SUMMARY_LINES = 3  # lines of each diff summary shown in the --check table
CHANGE_WIDTH = 20  # the change column, wrapped, on narrow terminals
DIFF_WIDTH = 16  # the "what changed" column at least: longer names fold to leave it this
_BORDERS = 13  # the borders and padding of the four columns
_STYLE = {"changed": "yellow", "missing": "cyan", "stale": "magenta", "error": "red"}
_OTHER = "not one of these snapshots (no snapshot header, or not at the path its header gives)"


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
    if folder == "":  # an unset variable in a script: not the default folder, silently
        raise click.BadParameter(
            "expected a folder, got '' — leave --dir out to use snapshots/ in the project",
            param_hint="--dir",
        )
    try:
        scrubbers = tuple(Scrubber.parse(spec) for spec in scrub)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--scrub") from None
    project = state.project
    now = parse_now(now_text, project.schema.tz)
    root = Path(folder) if folder is not None else project.root / "snapshots"
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
            _delete(target)
            deleted.append(file.path)
    if fmt == "json":
        payload = _report_json(report) | {"written": written, "deleted": deleted}
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    for file in report.files:
        if file.status != "unchanged":
            verb = {"stale": "deleted", "error": "failed"}.get(file.status, "wrote")
            what = f"{file.path}: {file.error}" if file.error else file.path
            out.print(Text.assemble((f"{verb:>7} ", _STYLE[file.status]), plain(what)))
    for path in report.others:
        out.print(Text.assemble(("   kept ", "dim"), plain(path), f": {_OTHER}"))
    out.print(
        f"{len(written)} written ({report.count('missing')} new), {len(deleted)} deleted, "
        f"{report.count('unchanged')} unchanged in {report.folder}"
    )


def _delete(file: Path) -> None:
    """Delete a stale snapshot, and its layout's folder once that is empty."""
    try:
        file.unlink()
    except OSError as exc:
        raise ConfigError(
            f"cannot delete the stale snapshot {str(file)!r}: {exc.strerror or exc}",
            path="--dir",
            hint="check the permissions of its folder, or delete it yourself",
        ) from None
    try:
        if not any(file.parent.iterdir()):
            file.parent.rmdir()
    except OSError as exc:
        raise ConfigError(
            f"cannot delete the empty folder {str(file.parent)!r}: {exc.strerror or exc}",
            path="--dir",
            hint="check the permissions of the folder it is in, or delete it yourself",
        ) from None


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
    """Lines cut to ``width`` cells; a -/+ pair that agrees in a long prefix starts near its
    change."""
    out = list(lines)
    for i in range(len(out) - 1):
        old, new = out[i], out[i + 1]
        if old[:1] == "-" and new[:1] == "+" and max(cell_len(old), cell_len(new)) > width:
            pairs = zip(old[1:], new[1:], strict=False)
            same = next((k for k, (x, y) in enumerate(pairs) if x != y), min(len(old), len(new)))
            if same > width // 2:
                cut = same - width // 3
                out[i], out[i + 1] = f"-…{old[1 + cut :]}", f"+…{new[1 + cut :]}"
    return [line if cell_len(line) <= width else _cut(line, width) for line in out]


def _cut(line: str, width: int) -> str:
    # set_cell_size pads with a space where a wide character would straddle the edge.
    return set_cell_size(line, width - 1).rstrip(" ") + "…"


def _widths(rows: list[SnapshotFile], width: int) -> tuple[int, int, int, int]:
    """The layout, persona, change and "what changed" widths, in terminal cells.

    Names in full (in cells: a CJK character takes two); the diff lines get what is left of
    the width, cut short rather than wrapped. Names too long for that fold onto more lines,
    never cut: two that share a prefix would look the same.
    """
    layout = max(cell_len("layout"), *(cell_len(plain(f.layout or "?")) for f in rows))
    persona = max(cell_len("persona"), *(cell_len(plain(f.recipient or "?")) for f in rows))
    kinds = max(cell_len(_kind(f)) for f in rows)
    free = width - layout - persona - _BORDERS
    change = kinds if free - kinds >= 40 else min(kinds, CHANGE_WIDTH)
    if free - change >= DIFF_WIDTH:
        return layout, persona, change, free - change
    names = max(len("layout") + len("persona"), width - _BORDERS - change - DIFF_WIDTH)
    if layout > names // 2:  # a long layout name shares the room with the persona ids
        layout = max(names // 2, names - persona)
    return layout, names - layout, change, DIFF_WIDTH


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
    layout, persona, change, room = _widths(rows, out.width)
    table.add_column("layout", width=layout, overflow="fold")
    table.add_column("persona", width=persona, overflow="fold")
    table.add_column("change", width=change)
    table.add_column("what changed", width=room, no_wrap=True)
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
        "others": list(report.others),
        "segments": [
            {"segment": name, "changed": changed, "personas": total}
            for name, changed, total in report.segments
        ],
    }
