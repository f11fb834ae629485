"""Send one layout to an audience over SMTP: render each record, send it, report every failure.

Copy and adapt. Every record ends as sent or failed (``render_many`` drops none), each message
comes from ``RenderedEmail.to_message`` and all go over one SMTP connection::

    python examples/send_campaign.py --layout weekly --port 1025      # every persona
    python examples/send_campaign.py --data audience.jsonl --limit 100 --dry-run out/eml

Exit status: 0 when every record was sent, 1 when any failed, 2 when the run could not start.
"""

from __future__ import annotations

import argparse
import json
import re
import smtplib
import socket
import sys
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from itertools import count, islice
from pathlib import Path
from typing import Any

from personalize import PersonalizeError, Project, Recipient
from personalize.message import parse_address

ROOT = Path(__file__).resolve().parents[1]  # the bundled starter-kit project

Record = Recipient | Mapping[str, Any]
Entry = tuple[str, Record | json.JSONDecodeError]  # (label for the report, record)


class SmtpTransport:
    """One SMTP connection for the whole run (a new one only after the server dropped it)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.smtp = self._connect()

    def _connect(self) -> smtplib.SMTP:
        # smtplib's default EHLO name comes from socket.getfqdn(), a DNS lookup: avoid it.
        return smtplib.SMTP(self.host, self.port, local_hostname=socket.gethostname(), timeout=30)

    def deliver(self, message: EmailMessage, *, name: str) -> None:
        """Send one message; a refusal raises and leaves the session usable for the next."""
        if self.smtp.sock is None:  # dropped during an earlier message
            self.smtp = self._connect()
        try:
            self.smtp.send_message(message)
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused):
            raise  # the server answered and smtplib reset the transaction: carry on
        except OSError:
            # A timeout or reset leaves the session in an unknown state: start afresh with the
            # next message. Not with this one: the server may have accepted it already.
            self.smtp.close()
            raise

    def close(self) -> None:
        """QUIT, or just close a connection that is already gone."""
        try:
            self.smtp.quit()
        except OSError:
            self.smtp.close()


class EmlFolder:
    """``--dry-run``: write each message to ``FOLDER/<number>-<id>.eml`` instead of sending."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def deliver(self, message: EmailMessage, *, name: str) -> None:
        """Write the bytes SMTP would send."""
        (self.folder / f"{name}.eml").write_bytes(message.as_bytes())

    def close(self) -> None:
        """Nothing to release."""


# Where messages go. To send through an ESP's API instead, write a class with the same two
# methods: deliver() hands over the message (or its parts) and raises OSError on failure.
Transport = SmtpTransport | EmlFolder


def read_audience(path: Path) -> Iterator[Entry]:
    """``(label, record)`` per non-blank line of a JSONL file, streamed; bad JSON is an entry."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield f"{path.name} line {number}", json.loads(line.rstrip("\r\n"))
                except json.JSONDecodeError as exc:
                    yield f"{path.name} line {number}", exc


def display_name(record: Record) -> str | None:
    """'First Last' from the record's own values; schema defaults ('there') are no names."""
    if isinstance(record, Recipient):
        record = {k: v for k, v in record.data.items() if k not in record.defaulted}
    parts = (record.get("first_name"), record.get("last_name"))
    # No cleaning here: to_message() builds the To header from an Address, without controls.
    return " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip()) or None


def smtp_reason(exc: OSError) -> str:
    """One line saying why a delivery failed, with the server's reply when there was one."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = exc.recipients.items()
        return "; ".join(f"{to} refused: {code} {text(reply)}" for to, (code, reply) in refused)
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"SMTP {exc.smtp_code} {text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}"


def text(reply: bytes | str) -> str:
    """An SMTP reply on one line (servers may send several lines, and any bytes)."""
    return " ".join((reply if isinstance(reply, str) else reply.decode(errors="replace")).split())


def send_all(
    project: Project,
    layout: str,
    entries: Iterator[Entry],
    transport: Transport,
    *,
    sender: Address,
    now: datetime,
    progress_every: int,
) -> tuple[int, list[str]]:
    """Render and deliver every entry; returns the number delivered and one line per failure."""
    failures: list[str] = []
    # Records that render_many has taken but not yet answered for, by its index: memory stays
    # flat however long the audience, and each failure can name its line.
    taken: dict[int, tuple[str, Record]] = {}
    numbers = count()

    def records() -> Iterator[Record]:
        for label, record in entries:
            if isinstance(record, json.JSONDecodeError):
                failures.append(f"{label}: invalid JSON: {record.msg} (column {record.colno})")
            else:
                taken[next(numbers)] = (label, record)
                yield record

    sent = 0
    reply_to = project.settings.message.reply_to
    for outcome in project.render_many(layout, records(), now=now):
        label, record = taken.pop(outcome.index)
        if outcome.email is None:
            failures.append(f"{label}: {outcome.error}")
        else:
            try:
                message = outcome.email.to_message(
                    sender=sender,
                    to_name=display_name(record),
                    reply_to=reply_to,
                    date=datetime.now(UTC),  # when it enters the mail system, not the render clock
                )
                safe_id = re.sub(r"[^A-Za-z0-9_.-]", "_", outcome.email.recipient)[:80]
                transport.deliver(message, name=f"{outcome.index + 1:06d}-{safe_id}")
                sent += 1
            except PersonalizeError as exc:  # e.g. an unsubscribe URL that is http:, not https:
                failures.append(f"{label}: {exc}")
            except OSError as exc:  # smtplib's errors are OSErrors too
                failures.append(f"{label}: {smtp_reason(exc)}")
        if (outcome.index + 1) % progress_every == 0:
            print(f"… {outcome.index + 1}: {sent} sent, {len(failures)} failed", flush=True)
    return sent, failures


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def make_parser() -> argparse.ArgumentParser:
    """The command line; ``--help`` lists every option with its default."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    add = parser.add_argument
    add("--project", type=Path, default=ROOT, help="project folder (default: %(default)s)")
    add("--layout", default="weekly", help="layout to send (default: %(default)s)")
    add("--data", type=Path, help="audience, one JSON record per line (default: the personas)")
    add("--host", default="localhost", help="SMTP host (default: %(default)s)")
    add("--port", type=int, default=1025, help="SMTP port (default: %(default)s)")
    add("--sender", help="From address (default: [message] sender of the project)")
    add("--dry-run", type=Path, metavar="FOLDER", help="write .eml files there, send nothing")
    add("--limit", type=positive, help="stop after this many records")
    add("--now", type=datetime.fromisoformat, help="render as of this ISO time (default: now)")
    add("--progress-every", type=positive, default=100, metavar="N", help="(default: 100)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the send; returns the exit status (problems that stop the run exit with 2)."""
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        project = Project.load(args.project)
        sender = parse_address(args.sender or project.settings.message.sender or "", role="sender")
        personas = project.personas if args.data is None else {}
    except PersonalizeError as exc:
        parser.error(str(exc))
    if args.layout not in project.layouts:
        parser.error(f"no layout {args.layout!r}; the project has {', '.join(project.layouts)}")
    if args.data is not None and not args.data.is_file():
        parser.error(f"no audience file {str(args.data)!r}")
    entries = (
        read_audience(args.data)
        if args.data
        else ((f"persona {i}", r) for i, r in personas.items())
    )
    # A send renders for the current time; the project's pinned `now` is for previews.
    now = project.now(args.now or datetime.now(UTC))
    try:
        transport = EmlFolder(args.dry_run) if args.dry_run else SmtpTransport(args.host, args.port)
    except OSError as exc:
        parser.error(f"cannot reach the SMTP server at {args.host}:{args.port}: {exc}")
    where = f"to {args.dry_run}" if args.dry_run else f"via {args.host}:{args.port}"
    print(f"{args.layout} as of {now.isoformat()}, from {sender}, {where}", flush=True)
    try:
        sent, failures = send_all(
            project,
            args.layout,
            islice(entries, args.limit),
            transport,
            sender=sender,
            now=now,
            progress_every=args.progress_every,
        )
    finally:
        transport.close()
    print(f"done: {sent} {'written' if args.dry_run else 'sent'}, {len(failures)} failed")
    for failure in failures:
        print(f"failed: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
