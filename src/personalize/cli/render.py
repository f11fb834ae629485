"""``personalize render``: render layouts for recipients, print decisions, write files."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import click
from rich.table import Table

from personalize.errors import ConfigError, PersonalizeError
from personalize.message import parse_address
from personalize.project import Project
from personalize.records import at_record
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
        # Case-folded file stem -> the recipient id and stem it was given: macOS and Windows
        # ignore case in file names, so weekly--Vera.html would overwrite weekly--vera.html.
        self.owners: dict[str, tuple[str, str]] = {}
        self.written: list[str] = []
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _cannot_write(folder, exc) from None

    def stem(self, email: RenderedEmail) -> str:
        """``weekly--ann@example.com``: characters other than letters, digits and ``._@+-``
        become ``_``, and a name already taken by another recipient is an error."""
        name = f"{email.layout}--{_UNSAFE.sub('_', email.recipient)[:_MAX_NAME]}"
        key = name.casefold()
        if key in self.owners:  # every email is written once: a name seen before is a clash
            owner, taken = self.owners[key]
            whose = (
                "an earlier record with the same id"
                if owner == email.recipient
                else f"recipient {owner!r}"
            )
            raise ConfigError(
                f"its files would overwrite those of {whose} ({taken}.html)",
                recipient=email.recipient,
                hint="give every record its own id; ids that differ only in case (macOS and "
                "Windows file names ignore it), in characters other than letters, digits and "
                f"._@+- (written '_'), or after {_MAX_NAME} characters, clash",
            )
        self.owners[key] = (email.recipient, name)
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
# readable=False: a file that cannot be read is an error (1), as a missing one, not a usage one.
@click.option(
    "--data",
    type=click.Path(dir_okay=False, readable=False),
    help="Recipients from a JSONL file (or a pipe).",
)
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
    problems = [(f, str(f)) for f in failures]
    # Each email is written and let go: only what the output shows is kept, never the HTML
    # (for 40,000 recipients, that would be gigabytes).
    rows: dict[str, list[_Row]] = {t: [] for t in templates}
    emails: list[dict[str, Any]] = []
    total = len(chosen) * len(templates)
    with progress_bar(total) as progress:
        task = progress.add_task("render", total=total)
        for template in templates:
            for record, line in chosen:
                try:
                    email = project.render(template, record, now=now)
                    if files is not None:
                        files.write(email)
                except PersonalizeError as exc:
                    problems.append(at_record(exc, data, line))
                else:
                    if fmt == "json":
                        emails.append(_email_json(email))
                    else:
                        rows[template].append(_Row.of(email))
                progress.advance(task)
    if fmt == "json":
        payload = {
            "emails": emails,
            "errors": [f.to_dict() | {"text": text} for f, text in problems],
            "files": files.written if files is not None else [],
        }
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
    else:
        for template, shown in rows.items():
            _print_emails(shown, project, template)
        for _, text in problems:
            err.print(safe(f"error: {text}", style="red"))
        if files is not None:
            note = "" if sender else " (no .eml: set [message] sender or pass --sender)"
            err.print(safe(f"wrote {len(files.written)} files to {str(out).rstrip('/')}/{note}"))
    if problems:
        sys.exit(1)


class _Row(NamedTuple):
    """What the table and its warnings show of one email."""

    recipient: str
    subject: str
    decisions: Mapping[str, str | None]
    warnings: tuple[str, ...]

    @classmethod
    def of(cls, email: RenderedEmail) -> _Row:
        return cls(email.recipient, email.subject, email.decisions, tuple(email.warnings))


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


def _print_emails(rows: list[_Row], project: Project, template: str) -> None:
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
