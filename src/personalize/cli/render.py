"""``personalize render``: render layouts for recipients, print decisions, write files."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from personalize.errors import ConfigError, PersonalizeError
from personalize.message import parse_address
from personalize.project import Project
from personalize.render import RenderedEmail

from .app import State, cli, err, parse_now, progress_bar, records, safe, show

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")
_MAX_NAME = 120  # characters of the id kept in a file name; ext4 allows 255 bytes


class _Files:
    """Writes each email's files into one folder, under names no two recipients share."""

    def __init__(self, folder: str, project: Project, sender: str | None) -> None:
        self.folder = Path(folder)
        self.project = project
        self.sender = sender
        self.owners: dict[str, str] = {}  # file stem -> the recipient id it belongs to
        self.written: list[str] = []
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _cannot_write(folder, exc) from None

    def stem(self, email: RenderedEmail) -> str:
        """``weekly--ann@example.com``: characters other than letters, digits and ``._@+-``
        become ``_``, and a name already taken by another recipient is an error."""
        name = f"{email.layout}--{_UNSAFE.sub('_', email.recipient)[:_MAX_NAME]}"
        owner = self.owners.get(name)
        if owner is not None:  # every email is written once: a name seen before is a clash
            whose = (
                "an earlier record with the same id"
                if owner == email.recipient
                else f"recipient {owner!r}"
            )
            raise ConfigError(
                f"its files would overwrite those of {whose} ({name}.html)",
                recipient=email.recipient,
                hint="give every record its own id; ids that differ only in characters other "
                f"than letters, digits and ._@+- (written '_'), or after {_MAX_NAME} characters, "
                "clash",
            )
        self.owners[name] = email.recipient
        return name

    def write(self, email: RenderedEmail) -> None:
        """The .html, .txt and (with a sender) .eml files of one email."""
        # Build the message first: an email that cannot be sent gets no files at all.
        message = (
            email.to_message(sender=self.sender, reply_to=self.project.settings.message.reply_to)
            if self.sender
            else None
        )
        stem = self.stem(email)
        parts = [(".html", email.html.encode("utf-8")), (".txt", email.text.encode("utf-8"))]
        if message is not None:
            parts.append((".eml", message.as_bytes()))
        for suffix, content in parts:
            path = self.folder / f"{stem}{suffix}"
            try:
                path.write_bytes(content)
            except OSError as exc:
                raise _cannot_write(str(path), exc) from None
            self.written.append(str(path))


def _cannot_write(where: str, exc: OSError) -> ConfigError:
    return ConfigError(
        f"cannot write {where!r}: {exc.strerror or exc}",
        path="--out",
        hint="pass --out a folder you can write to",
    )


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
    project = state.project
    now = parse_now(now_text, project.schema.tz)
    for template in templates:
        project.registry.layout(template)  # fail early, with a did-you-mean hint
    if out == "":
        raise click.BadParameter("expected a folder", param_hint="--out")
    failures: list[PersonalizeError] = []
    chosen = records(state, recipients, everyone, data, failures)
    sender = sender or project.settings.message.sender
    if sender:  # one bad address, reported once, before any email is rendered
        parse_address(sender, role="sender")
    files = _Files(out, project, sender) if out is not None else None
    results: dict[str, list[RenderedEmail]] = {t: [] for t in templates}
    total = len(chosen) * len(templates)
    with progress_bar(total) as progress:
        task = progress.add_task("render", total=total)
        for template in templates:
            for record in chosen:
                try:
                    email = project.render(template, record, now=now)
                    if files is not None:
                        files.write(email)
                except PersonalizeError as exc:
                    failures.append(exc)
                else:
                    results[template].append(email)
                progress.advance(task)
    if fmt == "json":
        payload = {
            "emails": [_email_json(e) for rows in results.values() for e in rows],
            "errors": [f.to_dict() | {"text": str(f)} for f in failures],
            "files": files.written if files is not None else [],
        }
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
    else:
        for template, rows in results.items():
            _print_emails(rows, project, template)
        for failure in failures:
            err.print(safe(f"error: {failure}", style="red"))
        if files is not None:
            note = "" if sender else " (no .eml: set [message] sender or pass --sender)"
            err.print(safe(f"wrote {len(files.written)} files to {str(out).rstrip('/')}/{note}"))
    if failures:
        sys.exit(1)


def _email_json(email: RenderedEmail) -> dict[str, Any]:
    return {
        "layout": email.layout,
        "recipient": email.recipient,
        "subject": email.subject,
        "preheader": email.preheader,
        "decisions": dict(email.decisions),
        "experiments": dict(email.experiments),
        "warnings": list(email.warnings),
        "html_bytes": len(email.html.encode("utf-8")),
        "text": email.text,
    }


def _print_emails(rows: list[RenderedEmail], project: Project, template: str) -> None:
    if not rows:
        return
    slots = [slot.name for slot in project.registry.layout(template).slots]
    table = Table(title=f"{template} — {len(rows)} email{'s' if len(rows) != 1 else ''}")
    # Fold rather than truncate: ids that share a prefix would look the same cut short.
    table.add_column("recipient", style="bold", overflow="fold")
    table.add_column("subject", overflow="fold")
    for slot in slots:
        table.add_column(slot, style="cyan", overflow="fold")
    for email in rows:
        # Module ids start with their slot's folder; the column already says which slot.
        chosen = [(email.decisions.get(s) or "—").removeprefix(f"{s}/") for s in slots]
        table.add_row(safe(email.recipient), safe(email.subject), *chosen)
    show(table)
    for email in rows:
        for warning in email.warnings:
            err.print(safe(f"warning: {template} {email.recipient}: {warning}", style="yellow"))
