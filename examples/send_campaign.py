"""Send one layout to an audience over SMTP: render each record, send it, report every failure.

Copy and adapt. Every record ends as sent or failed (``render_many`` drops none), each message
comes from ``RenderedEmail.to_message`` and all go over one SMTP connection::

    python examples/send_campaign.py --layout weekly --port 1025      # every persona
    python examples/send_campaign.py --data audience.jsonl --limit 100 --dry-run out/eml

Exit status: 0 when every record was sent, 1 when any failed, 2 when the run could not start.
"""

from __future__ import annotations

import argparse
import re
import smtplib
import socket
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from itertools import chain, count, islice
from pathlib import Path
from typing import Any

from personalize import PersonalizeError, Project, Recipient
from personalize.message import parse_address
from personalize.records import read_jsonl

ROOT = Path(__file__).resolve().parents[1]  # the bundled starter-kit project

Record = Recipient | Mapping[str, Any]
# (label for the report, record); a line that could not be read is its error instead.
Entry = tuple[str, Record | PersonalizeError]


class Session(smtplib.SMTP):
    """An SMTP session that notes whether the current message's content has started to go out."""

    data_begun = False

    def data(self, msg: Any) -> tuple[int, bytes]:  # Any: smtplib takes any buffer
        self.data_begun = True
        return super().data(msg)


class SmtpTransport:
    """One SMTP connection for the whole run (a new one only after the server dropped it)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.smtp = self._connect()

    def _connect(self) -> Session:
        # smtplib's default EHLO name comes from socket.getfqdn(), a DNS lookup: avoid it.
        return Session(self.host, self.port, local_hostname=socket.gethostname(), timeout=30)

    def deliver(self, message: EmailMessage, *, name: str) -> None:
        """Send one message; a refusal raises and leaves the session usable for the next."""
        if self.smtp.sock is None:  # dropped during an earlier message
            self.smtp = self._connect()
        try:
            self._send(message)
        except OSError:
            if self.smtp.sock is not None or self.smtp.data_begun:
                raise
            # The session was found closed (an idle timeout, a server restart) before this
            # message's content went out, so the server cannot have it: send it once more.
            self.smtp = self._connect()
            where = f"{self.host}:{self.port}"
            print(f"… the server at {where} had closed the session; reconnected", flush=True)
            self._send(message)

    def _send(self, message: EmailMessage) -> None:
        self.smtp.data_begun = False
        try:
            self.smtp.send_message(message)
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused):
            raise  # the server answered: smtplib reset the transaction, or closed on a 421
        except OSError:
            # A timeout or reset leaves the session in an unknown state: start afresh. Not
            # with this message if its content went out: the server may have accepted it.
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
    """``(label, record)`` per non-blank line of a JSONL file, streamed.

    Each line is decoded on its own: one that is not UTF-8 or not JSON comes as its
    ``ConfigError`` (naming file and line), and the lines around it are still records.

    Raises:
        ConfigError: the file cannot be opened (now, before anything is sent).
    """
    lines = read_jsonl(path, display=path.name)
    first = next(lines, None)  # read_jsonl opens the file on its first step
    rest = chain([] if first is None else [first], lines)
    return ((f"{path.name} line {number}", value) for number, value in rest)


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


@dataclass
class Tally:
    """What the run has done so far, kept outside `send_all` so that a crash still reports it."""

    sent: int = 0
    failures: list[str] = field(default_factory=list)
    last: str | None = None  # the label of the last record that ended as sent or failed
    finished: bool = False  # every entry was answered for


def send_all(
    project: Project,
    layout: str,
    entries: Iterator[Entry],
    transport: Transport,
    tally: Tally,
    *,
    sender: Address,
    now: datetime,
    progress_every: int,
) -> None:
    """Render and deliver every entry, counting each as sent or failed in ``tally``."""
    failures = tally.failures
    # Records that render_many has taken but not yet answered for, by its index: memory stays
    # flat however long the audience, and each failure can name its line.
    taken: dict[int, tuple[str, Record]] = {}
    numbers = count()

    def records() -> Iterator[Record]:
        for label, record in entries:
            if isinstance(record, PersonalizeError):  # its message names the file and line
                failures.append(str(record))
            else:
                taken[next(numbers)] = (label, record)
                yield record

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
                tally.sent += 1
            except PersonalizeError as exc:  # e.g. an unsubscribe URL that is http:, not https:
                failures.append(f"{label}: {exc}")
            except OSError as exc:  # smtplib's errors are OSErrors too
                failures.append(f"{label}: {smtp_reason(exc)}")
        tally.last = label
        if (outcome.index + 1) % progress_every == 0:
            print(f"… {outcome.index + 1}: {tally.sent} sent, {len(failures)} failed", flush=True)
    tally.finished = True


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
        if args.layout not in project.layouts:
            parser.error(f"no layout {args.layout!r}; the project has {', '.join(project.layouts)}")
        if args.data is not None and not args.data.is_file():
            parser.error(f"no audience file {str(args.data)!r}")
        entries = (
            read_audience(args.data)
            if args.data
            else ((f"persona {i}", r) for i, r in project.personas.items())
        )
    except PersonalizeError as exc:
        parser.error(str(exc))
    # A send renders for the current time; the project's pinned `now` is for previews.
    now = project.now(args.now or datetime.now(UTC))
    transport = open_transport(parser, args)
    where = f"to {args.dry_run}" if args.dry_run else f"via {args.host}:{args.port}"
    print(f"{args.layout} as of {now.isoformat()}, from {sender}, {where}", flush=True)
    tally = Tally()
    try:
        send_all(
            project,
            args.layout,
            islice(entries, args.limit),
            transport,
            tally,
            sender=sender,
            now=now,
            progress_every=args.progress_every,
        )
    finally:  # also after a crash or Ctrl-C: what was sent and what failed must not be lost
        transport.close()
        report(tally, done="written" if args.dry_run else "sent")
    return 1 if tally.failures else 0


def report(tally: Tally, *, done: str) -> None:
    """The summary on stdout, then one line per failure on stderr (and why the run stopped)."""
    print(f"done: {tally.sent} {done}, {len(tally.failures)} failed", flush=True)
    for failure in tally.failures:
        print(f"failed: {failure}", file=sys.stderr)
    if not tally.finished:
        after = "before the first record ended: none was"
        if tally.last:
            after = f"after {tally.last}: the records after it were"
        print(f"stopped early, {after} not sent, or not confirmed", file=sys.stderr)


def open_transport(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Transport:
    """The SMTP connection, or the ``--dry-run`` folder; a failure stops the run (exit 2)."""
    if args.dry_run is None:
        try:
            return SmtpTransport(args.host, args.port)
        except OSError as exc:
            parser.error(f"cannot reach the SMTP server at {args.host}:{args.port}: {exc}")
    try:
        return EmlFolder(args.dry_run)
    except OSError as exc:
        reason = "it is a file" if args.dry_run.is_file() else exc.strerror or str(exc)
        parser.error(
            f"cannot use {str(args.dry_run)!r} as the --dry-run folder: {reason} — "
            "pass a folder for the .eml files (it is created if missing)"
        )


if __name__ == "__main__":
    sys.exit(main())
