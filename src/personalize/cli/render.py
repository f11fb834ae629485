"""``personalize render``: render layouts for recipients, print decisions, write files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from personalize.errors import PersonalizeError
from personalize.project import Project
from personalize.render import RenderedEmail

from .app import State, cli, err, out, parse_now, progress_bar, records


def _write(email: RenderedEmail, folder: Path, project: Project, sender: str | None) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"{email.layout}--{email.recipient}"
    written = []
    stem.with_suffix(".html").write_text(email.html, encoding="utf-8")
    stem.with_suffix(".txt").write_text(email.text, encoding="utf-8")
    written += [f"{stem}.html", f"{stem}.txt"]
    if sender:
        message = email.to_message(sender=sender, reply_to=project.settings.message.reply_to)
        stem.with_suffix(".eml").write_bytes(message.as_bytes())
        written.append(f"{stem}.eml")
    return written


@cli.command()
@click.argument("templates", nargs=-1, required=True, metavar="TEMPLATE...")
@click.option(
    "--recipient",
    "-r",
    "recipients",
    multiple=True,
    metavar="ID",
    help="A persona id (or a record id of --data). Repeatable.",
)
@click.option("--all", "everyone", is_flag=True, help="Every persona (or every record of --data).")
@click.option("--data", type=click.Path(dir_okay=False), help="Recipients from a JSONL file.")
@click.option("--now", "now_text", metavar="ISO", help="Render as of this moment.")
@click.option("--out", type=click.Path(file_okay=False), help="Write .html, .txt and .eml here.")
@click.option("--sender", help="From address for .eml files (default: [message] sender).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def render(
    state: State,
    templates: tuple[str, ...],
    recipients: tuple[str, ...],
    everyone: bool,
    data: str | None,
    now_text: str | None,
    out: str | None,
    sender: str | None,
    fmt: str,
) -> None:
    """Render each TEMPLATE for recipients; print subjects and decisions; --out writes files.

    \b
    Examples:
      personalize render weekly --all --out out/
      personalize render weekly welcome -r vip-vera -r german-dora
      personalize render weekly --data audience.jsonl --all --now 2026-12-01T08:00:00+01:00
    """
    if not recipients and not everyone:
        raise click.UsageError("name recipients with --recipient ID, or pass --all")
    now = parse_now(now_text)
    project = state.project
    for template in templates:
        project.registry.layout(template)  # fail early, with a did-you-mean hint
    failures: list[PersonalizeError] = []
    chosen = records(state, recipients, everyone, data, failures)
    sender = sender or project.settings.message.sender
    results: dict[str, list[RenderedEmail]] = {t: [] for t in templates}
    files: list[str] = []
    total = len(chosen) * len(templates)
    with progress_bar(total) as progress:
        task = progress.add_task("render", total=total)
        for template in templates:
            for record in chosen:
                try:
                    email = project.render(template, record, now=now)
                except PersonalizeError as exc:
                    failures.append(exc)
                else:
                    results[template].append(email)
                    if out:
                        files += _write(email, Path(out), project, sender)
                progress.advance(task)
    if fmt == "json":
        payload = {
            "emails": [_email_json(e) for rows in results.values() for e in rows],
            "errors": [f.to_dict() | {"text": str(f)} for f in failures],
            "files": files,
        }
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
    else:
        for template, rows in results.items():
            _print_emails(rows, project, template)
        for failure in failures:
            err.print(Text(f"error: {failure}", style="red"))
        if out:
            note = "" if sender else " (no .eml: set [message] sender or pass --sender)"
            err.print(f"wrote {len(files)} files to {out}/{note}")
    if failures:
        sys.exit(1)


def _email_json(email: RenderedEmail) -> dict[str, Any]:
    return {
        "layout": email.layout,
        "recipient": email.recipient,
        "subject": email.subject,
        "preheader": email.preheader,
        "decisions": dict(email.decisions),
        "warnings": list(email.warnings),
        "html_bytes": len(email.html.encode("utf-8")),
        "text": email.text,
    }


def _print_emails(rows: list[RenderedEmail], project: Project, template: str) -> None:
    if not rows:
        return
    slots = [slot.name for slot in project.registry.layout(template).slots]
    table = Table(title=f"{template} — {len(rows)} email{'s' if len(rows) != 1 else ''}")
    table.add_column("recipient", style="bold")
    table.add_column("subject")
    for slot in slots:
        table.add_column(slot, style="cyan")
    for email in rows:
        # Module ids start with their slot's folder; the column already says which slot.
        chosen = [(email.decisions.get(s) or "—").removeprefix(f"{s}/") for s in slots]
        table.add_row(email.recipient, email.subject, *chosen)
    out.print(table)
    for email in rows:
        for warning in email.warnings:
            err.print(Text(f"warning: {template} {email.recipient}: {warning}", style="yellow"))
