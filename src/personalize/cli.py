"""The ``personalize`` command line: render and explain emails of a project."""

from __future__ import annotations

import json
import os
import sys
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from .decide import WON, Explanation
from .errors import ConfigError, PersonalizeError, did_you_mean
from .profile import Recipient
from .project import Project, iter_jsonl
from .render import RenderedEmail

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
PROGRESS_FROM = 20  # show a progress bar when rendering at least this many emails


class _State:
    def __init__(self, project: str | None, debug: bool) -> None:
        self.project_dir = project or os.environ.get("PERSONALIZE_PROJECT") or "."
        self.debug = debug
        self._project: Project | None = None

    @property
    def project(self) -> Project:
        if self._project is None:
            self._project = Project.load(self.project_dir)
        return self._project


def _parse_now(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"expected an ISO date-time such as 2026-11-27T09:00:00+01:00, got {value!r}",
            param_hint="--now",
        ) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--project",
    "-p",
    type=click.Path(file_okay=False),
    default=None,
    help="Project folder (default: the current folder, or $PERSONALIZE_PROJECT).",
)
@click.option("--debug", is_flag=True, help="Show the Python traceback on errors.")
@click.version_option(package_name="personalize")
@click.pass_context
def cli(ctx: click.Context, project: str | None, debug: bool) -> None:
    """Render personalized marketing emails from segments, modules and layouts."""
    ctx.obj = _State(project, debug)


def _records(
    state: _State,
    recipients: tuple[str, ...],
    everyone: bool,
    data: str | None,
    failures: list[PersonalizeError] | None = None,
) -> list[Recipient]:
    """The chosen recipients: personas, or records of ``--data`` (by id, or all).

    Records of ``--data`` that do not validate go to ``failures`` (when given) so the others
    still render; without ``failures`` the first one raises.
    """
    project = state.project
    if data is None:
        personas = project.personas
        if everyone:
            return list(personas.values())
        missing = [r for r in recipients if r not in personas]
        if missing:
            raise ConfigError(
                f"no persona {missing[0]!r} in {project.settings.project.personas}",
                hint=did_you_mean(missing[0], personas)
                or f"personas: {', '.join(personas) or 'none'}; or pass --data FILE.jsonl",
            )
        return [personas[r] for r in recipients]
    wanted = set(recipients)
    found: list[Recipient] = []
    seen: set[str] = set()
    for line, record in iter_jsonl(Path(data).resolve(), display=data):
        rid = str(record.get("id")) if isinstance(record, dict) else None
        if not (everyone or rid in wanted):
            continue
        seen.add(str(rid))
        try:
            found.append(project.schema.validate(record, source=data, line=line))
        except PersonalizeError as exc:
            if failures is None:
                raise
            failures.append(exc)
    missing = sorted(wanted - seen)
    if missing:
        raise ConfigError(f"no record with id {missing[0]!r} in {data}", file=data)
    return found


def _progress(total: int) -> Progress:
    return Progress(
        TextColumn("[bold]rendering"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=total < PROGRESS_FROM or not err.is_terminal,
        transient=True,
    )


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
    state: _State,
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
      personalize render weekly welcome -r vip-vera -r german-greta
      personalize render weekly --data audience.jsonl --all --now 2026-12-01T08:00:00+01:00
    """
    if not recipients and not everyone:
        raise click.UsageError("name recipients with --recipient ID, or pass --all")
    now = _parse_now(now_text)
    project = state.project
    for template in templates:
        project.registry.layout(template)  # fail early, with a did-you-mean hint
    failures: list[PersonalizeError] = []
    chosen = _records(state, recipients, everyone, data, failures)
    sender = sender or project.settings.message.sender
    results: dict[str, list[RenderedEmail]] = {t: [] for t in templates}
    files: list[str] = []
    total = len(chosen) * len(templates)
    with _progress(total) as progress:
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
            err.print(Text(f"warning: {email.recipient}: {warning}", style="yellow"))


@cli.command()
@click.argument("template")
@click.option("--recipient", "-r", required=True, metavar="ID", help="A persona (or --data) id.")
@click.option("--data", type=click.Path(dir_okay=False), help="Recipients from a JSONL file.")
@click.option("--now", "now_text", metavar="ISO", help="Explain as of this moment.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_obj
def explain(
    state: _State, template: str, recipient: str, data: str | None, now_text: str | None, fmt: str
) -> None:
    """Show why each slot of TEMPLATE got its module for one recipient."""
    now = _parse_now(now_text)
    project = state.project
    project.registry.layout(template)
    (record,) = _records(state, (recipient,), False, data)
    explanation = project.explain(template, record, now=now)
    if fmt == "json":
        click.echo(
            json.dumps(_explanation_json(explanation), indent=2, ensure_ascii=False, default=str)
        )
        return
    _print_explanation(explanation)


def _explanation_json(e: Explanation) -> dict[str, Any]:
    return {
        "layout": e.layout,
        "recipient": e.recipient,
        "now": e.now.isoformat(),
        "locale": e.locale,
        "segments": list(e.segments),
        "metrics": dict(e.metrics),
        "slots": [
            {
                "slot": d.slot,
                "module": d.module,
                "reason": d.reason,
                "candidates": [
                    {
                        "module": c.module,
                        "priority": c.priority,
                        "outcome": c.outcome,
                        "detail": c.detail,
                        "failed": [
                            {"condition": f.condition, "value": f.value, "path": f.path}
                            for f in c.failed
                        ],
                    }
                    for c in d.candidates
                ],
            }
            for d in e.decisions
        ],
    }


def _print_explanation(e: Explanation) -> None:
    out.print(
        Text.assemble(
            (f"{e.layout}", "bold"),
            " for ",
            (e.recipient, "bold"),
            f"  locale {e.locale}, now {e.now.isoformat(timespec='minutes')}",
        )
    )
    out.print(Text.assemble("segments: ", (", ".join(e.segments) or "none", "cyan")))
    for decision in e.decisions:
        table = Table(
            title=f"{decision.slot} → {decision.module or '(empty)'}  ({decision.reason})",
            title_justify="left",
            show_edge=False,
        )
        table.add_column("", width=1)
        table.add_column("module")
        table.add_column("priority", justify="right")
        table.add_column("outcome")
        table.add_column("why")
        for c in decision.candidates:
            won = c.outcome == WON
            table.add_row(
                Text("✓" if won else "✗", style="green" if won else "red"),
                Text(c.module, style="bold" if won else ""),
                str(c.priority),
                c.outcome,
                c.detail,
            )
        out.print()
        out.print(table)


def _fail(message: str, code: int) -> NoReturn:
    err.print(Text(message, style="red"))
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``personalize`` command: one-paragraph errors, never a traceback."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="personalize", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        _fail("aborted", 1)
    except click.ClickException as exc:  # usage errors: exit 2 with click's usual message
        exc.show()
        sys.exit(exc.exit_code)
    except PersonalizeError as exc:
        if debug:
            traceback.print_exc()
        _fail(f"error: {exc}", 1)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # a bug in personalize, not in the project: say so, briefly
        if debug:
            traceback.print_exc()
        _fail(
            f"internal error: {type(exc).__name__}: {exc} — this is a bug in personalize; rerun "
            "with --debug for the traceback and report it",
            1,
        )
