"""Send one layout to an audience over SMTP: render each record, send it, report every failure.

Copy this script and adapt it. It renders with ``Project.render_many`` (every record ends as
sent or failed, none is dropped), builds each message with ``RenderedEmail.to_message`` and
sends everything over one SMTP connection. Examples::

    python examples/send_campaign.py --layout weekly --port 1025            # every persona
    python examples/send_campaign.py --data audience.jsonl --limit 100 --dry-run out/eml

Exit status: 0 when every record was sent, 1 when any failed, 2 when nothing could start.
"""

from __future__ import annotations

import argparse
import json
import re
import smtplib
import socket
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from itertools import count, islice
from pathlib import Path
from typing import Any, Protocol

from personalize import PersonalizeError, Project, Recipient

ROOT = Path(__file__).resolve().parents[1]  # the bundled starter-kit project


@dataclass(frozen=True)
class Unreadable:
    """A line of the audience file that is not JSON; it is reported as failed, not skipped."""

    reason: str


Entry = tuple[str, Recipient | Mapping[str, Any] | Unreadable]  # (label for reports, record)


class Transport(Protocol):
    """Where messages go: an SMTP server, a folder of .eml files, or your ESP's API."""

    def deliver(self, message: EmailMessage, *, name: str) -> None:
        """Hand over one message; raise ``OSError`` (``smtplib`` errors included) on failure."""


class SmtpTransport:
    """One SMTP connection for the whole run; after a dropped connection, a new one."""

    def __init__(self, host: str, port: int, *, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._smtp: smtplib.SMTP | None = self._connect()
        self._lost: str | None = None

    def _connect(self) -> smtplib.SMTP:
        # smtplib's default EHLO name comes from socket.getfqdn(), a DNS lookup; avoid it.
        return smtplib.SMTP(
            self.host, self.port, local_hostname=socket.gethostname(), timeout=self.timeout
        )

    def deliver(self, message: EmailMessage, *, name: str) -> None:
        """Send ``message``; refusals raise, and leave the connection usable for the next."""
        if self._lost is not None:
            raise smtplib.SMTPServerDisconnected(f"not attempted: {self._lost}")
        if self._smtp is None:
            try:
                self._smtp = self._connect()
            except OSError as exc:  # give up on the server rather than wait once per record
                self._lost = f"could not reconnect to {self.host}:{self.port} ({exc})"
                raise
        try:
            self._smtp.send_message(message)
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused):
            raise  # the server answered (smtplib has reset the transaction): keep the session
        except OSError:
            # Disconnects and timeouts leave the session in an unknown state. No retry here:
            # the server may already have accepted the message, and a retry would send it twice.
            self._smtp.close()
            self._smtp = None
            raise

    def close(self) -> None:
        """Say QUIT politely; a broken connection is simply closed."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except OSError:
                self._smtp.close()


class EmlFolder:
    """``--dry-run``: write each message to ``<folder>/<number>-<id>.eml`` instead of sending."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def deliver(self, message: EmailMessage, *, name: str) -> None:
        """Write the message bytes exactly as SMTP would send them."""
        (self.folder / f"{name}.eml").write_bytes(message.as_bytes())

    def close(self) -> None:
        """Nothing to release."""


def read_audience(path: Path) -> Iterator[Entry]:
    """``(label, record)`` per non-blank line of a JSONL file, streamed (flat memory)."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                label = f"{path.name} line {number}"
                try:
                    yield label, json.loads(line)
                except json.JSONDecodeError as exc:
                    yield label, Unreadable(f"invalid JSON: {exc.msg} (column {exc.colno})")


def display_name(record: Recipient | Mapping[str, Any]) -> str | None:
    """"First Last" from the record, ignoring schema defaults (a name of "there" helps nobody)."""
    if isinstance(record, Recipient):
        record = {k: v for k, v in record.data.items() if k not in record.defaulted}
    parts = (record.get("first_name"), record.get("last_name"))
    # to_message() strips control characters from the name; a name can never add a recipient.
    return " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip()) or None


def smtp_reason(exc: OSError) -> str:
    """A one-line reason for a failed delivery, with the server's reply when there was one."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = exc.recipients.items()
        return "; ".join(f"{to} refused: {code} {reply.decode(errors='replace')}" for to, (code, reply) in refused)
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"SMTP {exc.smtp_code} {exc.smtp_error.decode(errors='replace')}"
    return f"{type(exc).__name__}: {exc}"


def send_all(
    project: Project,
    layout: str,
    entries: Iterator[Entry],
    transport: Transport,
    *,
    sender: str,
    now: datetime,
    progress_every: int,
) -> tuple[int, list[str]]:
    """Render and deliver every entry; returns the number sent and one line per failure."""
    failures: list[str] = []
    # Label and record of each record render_many has taken but not yet answered for, by its
    # index there: memory stays flat however long the audience is.
    taken: dict[int, tuple[str, Recipient | Mapping[str, Any]]] = {}
    numbers = count()  # render_many's index of each record it takes

    def records() -> Iterator[Recipient | Mapping[str, Any]]:
        for label, record in entries:
            if isinstance(record, Unreadable):
                failures.append(f"{label}: {record.reason}")
            else:
                taken[next(numbers)] = (label, record)
                yield record

    sent = 0
    reply_to = project.settings.message.reply_to
    for outcome in project.render_many(layout, records(), now=now):
        label, record = taken.pop(outcome.index)
        if outcome.email is None:
            failures.append(f"{label}: {outcome.error}")
            continue
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
        except PersonalizeError as exc:  # e.g. an unsubscribe URL that is not https: or mailto:
            failures.append(f"{label}: {exc}")
        except OSError as exc:  # smtplib's errors are OSErrors too
            failures.append(f"{label}: {smtp_reason(exc)}")
        if (outcome.index + 1) % progress_every == 0:
            print(f"… {outcome.index + 1} records: {sent} sent, {len(failures)} failed", flush=True)
    return sent, failures


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; ``--help`` lists every option with its default."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    add = parser.add_argument
    add("--project", type=Path, default=ROOT, help="project folder (default: %(default)s)")
    add("--layout", default="weekly", help="layout to send (default: %(default)s)")
    add("--data", type=Path, help="audience as JSONL, one record per line (default: personas)")
    add("--host", default="localhost", help="SMTP host (default: %(default)s)")
    add("--port", type=int, default=1025, help="SMTP port (default: %(default)s)")
    add("--sender", help="From address (default: [message] sender of the project)")
    add("--dry-run", type=Path, metavar="FOLDER", help="write .eml files here; send nothing")
    add("--limit", type=positive, help="stop after this many records")
    add("--now", type=moment, help="render as of this ISO time (default: the current time)")
    add("--progress-every", type=positive, default=100, metavar="N", help="default: %(default)s")
    return parser.parse_args(argv)


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def moment(text: str) -> datetime:
    """An argparse type: an ISO 8601 time; without an offset, the project's time zone applies."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO time such as 2026-11-27T09:00:00+01:00, got {text!r}"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the send; returns the exit status."""
    args = parse_args(argv)
    try:
        project = Project.load(args.project)
        sender = args.sender or project.settings.message.sender
        if not sender:
            raise SystemExit("error: no sender: pass --sender or set [message] sender")
        if args.layout not in project.layouts:
            raise SystemExit(f"error: no layout {args.layout!r}; one of {', '.join(project.layouts)}")
        # Real sends render for the current time; the project's pinned `now` is for previews.
        now = project.now(args.now or datetime.now(UTC))
        if args.data is None:
            entries: Iterator[Entry] = ((f"persona {i}", r) for i, r in project.personas.items())
        else:
            entries = read_audience(args.data)
            next(entries := iter([*islice(entries, 0)] or [])) if False else None
    except PersonalizeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
