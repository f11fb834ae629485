"""``personalize coverage``: how an audience file splits across segments, slots and modules."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from personalize.coverage import CoverageReport, coverage, read_audience
from personalize.project import Project

from .app import State, cli, count_records, out, parse_now, progress_bar, show, zoned


@cli.command(name="coverage")
@click.argument("template")
# readable=False: a file that cannot be read is an error (1), as a missing one, not a usage one.
@click.argument("audience", type=click.Path(readable=False))
@click.option("--now", "now_text", metavar="ISO", help="Decide and render as of this moment.")
@click.option(
    "--render-every",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    metavar="N",
    help="Render every N-th recipient in full (HTML sizes); 0: decide only, ~2× faster.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def coverage_command(
    state: State, template: str, audience: str, now_text: str | None, render_every: int, fmt: str
) -> None:
    """Stream AUDIENCE (JSONL) through TEMPLATE and report who gets what.

    Recipients per segment; per slot, each module's share, the fallback and empty slots;
    fields that fell back to defaults; modules nobody gets; failures with reasons; HTML sizes
    against the clipping budget. Bad records are counted as failed, never fatal: the exit
    code is 0 unless the file cannot be read.

    \b
    Examples:
      personalize coverage weekly audience.jsonl
      personalize coverage weekly audience.jsonl --now 2026-12-05T09:00:00+01:00 --format json
      personalize coverage weekly big.jsonl --render-every 20
    """
    project = state.project
    now = parse_now(now_text, project.schema.tz)
    project.registry.layout(template)  # fail early, with a did-you-mean hint
    total = count_records(Path(audience), display=audience)
    # A stream's length is unknown: its bar (on a terminal) counts records without a total.
    with progress_bar(total, "coverage") as bar:
        task = bar.add_task("coverage", total=total)
        report = coverage(
            project,
            template,
            read_audience(audience),
            now=now,
            render_every=render_every,
            progress=lambda done: bar.update(task, completed=done),
        )
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_report(report, project)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "—"


def _print_report(r: CoverageReport, project: Project) -> None:
    sampled = f", {r.rendered:,} rendered" if r.rendered != r.ok else ""
    out.print(
        Text.assemble(
            (r.layout, "bold"),
            # In the project's zone, as the matrix shows it: date windows are read in it.
            f"  now {zoned(r.now, project.schema.tz)} — {r.total:,} recipients: ",
            (f"{r.ok:,} ok", "green"),
            ", ",
            (f"{r.failed:,} failed", "red" if r.failed else ""),
            sampled,
        )
    )
    segments = Table(title=f"segments ({r.classified:,} classified)", title_justify="left")
    # Fold rather than truncate: ids that share a prefix would look the same cut short.
    segments.add_column("segment", overflow="fold")
    segments.add_column("recipients", justify="right")
    segments.add_column("share", justify="right")
    for name, count in [*r.segments.items(), ("(no segment)", r.no_segment)]:
        segments.add_row(name, f"{count:,}", _pct(count, r.classified))
    show(segments)
    slots = Table(title=f"slots ({r.ok:,} decided)", title_justify="left")
    for column in ("slot", "module", "recipients", "share"):
        counts = column in ("recipients", "share")
        slots.add_column(column, justify="right" if counts else "left", overflow="fold")
    for s in r.slots:
        fallback = {m for m in s.modules if project.registry.modules[m].is_fallback}
        rows = [(m, n) for m, n in s.modules.items()] + ([(None, s.empty)] if s.empty else [])
        for number, (module, count) in enumerate(rows):
            label = "(empty)" if module is None else module
            label += " (fallback)" if module in fallback else ""
            slots.add_row(s.slot if number == 0 else "", label, f"{count:,}", _pct(count, s.total))
        slots.add_section()
    show(slots)
    if r.unreceived:
        out.print(Text(f"modules nobody gets: {', '.join(r.unreceived)}", style="yellow"))
    if r.defaults:
        defaults = Table(title="fields that fell back to a default", title_justify="left")
        defaults.add_column("field", overflow="fold")
        defaults.add_column("recipients", justify="right")
        defaults.add_column("share", justify="right")
        for name, count in r.defaults.items():
            defaults.add_row(name, f"{count:,}", _pct(count, r.ok))
        show(defaults)
    for experiment, arms in r.experiments.items():
        table = Table(title=f"experiment {experiment}", title_justify="left")
        table.add_column("arm", overflow="fold")
        table.add_column("recipients", justify="right")
        table.add_column("share", justify="right")
        whole = sum(arms.values())
        for arm, count in arms.items():
            table.add_row(arm, f"{count:,}", _pct(count, whole))
        show(table)
    _print_sizes(r)
    _print_failures(r)


def _print_sizes(r: CoverageReport) -> None:
    z = r.sizes
    if not z.count:
        out.print(Text(f"HTML sizes: no email rendered ({_why_none(r)})", style="dim"))
        return
    out.print(
        f"HTML sizes over {z.count:,} emails: min {z.min:,} B, p50 {z.p50:,} B, "
        f"p90 {z.p90:,} B, p99 {z.p99:,} B, max {z.max:,} B; "
        f"{z.over_clip:,} over the clipping budget of {z.clip_bytes:,} B"
    )


def _why_none(r: CoverageReport) -> str:
    """Why a report has no HTML size: no record, no rendering asked for, or only failures."""
    if not r.total:
        return "the audience has no records"
    if not r.render_every:
        return "--render-every 0"
    if r.render_every == 1:
        return "every record failed"
    sampled = -(-r.total // r.render_every)  # records 1, N + 1, 2N + 1, …
    if sampled == 1:
        return f"the record sampled by --render-every {r.render_every} failed"
    return f"the {sampled:,} records sampled by --render-every {r.render_every} all failed"


def _print_failures(r: CoverageReport) -> None:
    if not r.failed:
        return
    kinds = Table(title="failures", title_justify="left")
    kinds.add_column("kind", overflow="fold")
    kinds.add_column("recipients", justify="right")
    for kind, count in r.failure_kinds.items():
        kinds.add_row(kind, f"{count:,}")
    show(kinds)
    shown = "" if len(r.failures) == r.failed else f" (first {len(r.failures)})"
    out.print(Text(f"failed records{shown}:", style="bold"))
    for f in r.failures:
        # From a file, the message starts with its file and line; from elsewhere, say which.
        where = "" if f.line is not None else f"record {f.index + 1}: "
        out.print(Text(f"  {where}{f.message}", style="red"))
