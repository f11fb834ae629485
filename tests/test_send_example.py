"""examples/send_campaign.py, run as a subprocess against a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller  # a missing aiosmtpd must fail, never skip

from personalize import Project

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python -m pytest` puts it there too; plain `pytest` does not
from examples import send_campaign  # noqa: E402

SCRIPT = ROOT / "examples" / "send_campaign.py"
AUDIENCE = ROOT / "examples" / "audience.jsonl"
LAYOUT = "weekly"
NOW = "2026-11-27T09:00:00+01:00"  # the project's pinned clock: Black Friday content
PROJECT = Project.load(ROOT)
PERSONAS = dict(PROJECT.personas)
SENDER = "hello@northwind.example"
# A header line on the wire: printable ASCII, or a folded continuation starting with a space.
HEADER_LINE = re.compile(rb"(?:[!-9;-~]+:[ \t]?|[ \t])[ -~\t]*")


@dataclass(frozen=True)
class Received:
    """One SMTP transaction as the server saw it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes


class Collector:
    """An aiosmtpd handler that keeps every message, refuses some mailboxes, drops on others."""

    def __init__(
        self,
        *,
        refuse: frozenset[str] = frozenset(),
        drop: frozenset[str] = frozenset(),
        hang_up: frozenset[str] = frozenset(),
    ) -> None:
        self.received: list[Received] = []
        self.refuse = refuse
        self.drop = drop
        self.hang_up = set(hang_up)  # close the session at RCPT, the first time only

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        if address in self.hang_up:
            self.hang_up.remove(address)
            server.transport.close()  # as after an idle timeout: the client finds it closed
            return "451 never seen by the client"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.drop & set(envelope.rcpt_tos):
            server.transport.close()  # the connection breaks before the server answers
            return "451 never seen by the client"
        data = envelope.original_content
        self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos), data))
        return "250 2.0.0 Accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def smtp_server(collector: Collector) -> Iterator[int]:
    port = free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(SCRIPT), "--layout", LAYOUT, "--now", NOW, *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def send(
    *args: str | Path,
    refuse: frozenset[str] = frozenset(),
    drop: frozenset[str] = frozenset(),
    hang_up: frozenset[str] = frozenset(),
) -> tuple[subprocess.CompletedProcess[str], list[Received]]:
    collector = Collector(refuse=refuse, drop=drop, hang_up=hang_up)
    with smtp_server(collector) as port:
        result = run("--host", "127.0.0.1", "--port", str(port), *args)
    return result, collector.received


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def lines(body: str) -> list[str]:
    # Line endings travel as CRLF, and MIME adds a final newline where there was none.
    return re.sub(r"\r\n?", "\n", body).rstrip("\n").split("\n")


def audience_lines() -> list[str]:
    return AUDIENCE.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def campaign() -> tuple[subprocess.CompletedProcess[str], list[Received]]:
    return send("--progress-every", "5")


@pytest.fixture(scope="module")
def by_address(
    campaign: tuple[subprocess.CompletedProcess[str], list[Received]],
) -> dict[str, Received]:
    return {received.rcpt_tos[0]: received for received in campaign[1]}


def test_every_persona_is_sent_over_smtp(
    campaign: tuple[subprocess.CompletedProcess[str], list[Received]],
) -> None:
    result, received = campaign
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    out = result.stdout.splitlines()
    assert out[0].startswith(
        f"weekly as of 2026-11-27T09:00:00+01:00, from Northwind Goods <{SENDER}>, via 127.0.0.1:"
    )
    assert out[1:] == [
        "… 5: 5 sent, 0 failed",
        "… 10: 10 sent, 0 failed",
        f"done: {len(PERSONAS)} sent, 0 failed",
    ]
    assert sorted(r.rcpt_tos for r in received) == sorted((p["email"],) for p in PERSONAS.values())
    assert {r.mail_from for r in received} == {SENDER}


@pytest.mark.parametrize("pid", list(PERSONAS), ids=list(PERSONAS))
def test_message_is_the_rendered_email(by_address: dict[str, Received], pid: str) -> None:
    persona = PERSONAS[pid]
    rendered = PROJECT.render(LAYOUT, persona, now=datetime.fromisoformat(NOW))
    message = parse(by_address[persona["email"]].data)

    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert lines(text.get_content()) == lines(rendered.text)
    assert lines(html.get_content()) == lines(rendered.html)
    assert message["Subject"] == rendered.subject
    assert message["From"] == PROJECT.settings.message.sender
    assert message["Reply-To"] == PROJECT.settings.message.reply_to
    assert message["List-Unsubscribe"] == f"<{persona['links']['unsubscribe']}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize("pid", list(PERSONAS), ids=list(PERSONAS))
def test_headers_are_clean_and_name_one_recipient(
    by_address: dict[str, Received], pid: str
) -> None:
    data = by_address[PERSONAS[pid]["email"]].data
    head = data.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        assert HEADER_LINE.fullmatch(line), line  # no raw control character, no bare CR or LF
    message = parse(data)
    assert [str(a.addr_spec) for a in message["To"].addresses] == [PERSONAS[pid]["email"]]
    assert message["To"].defects == ()
    assert (message["Bcc"], message["Cc"]) == (None, None)


@pytest.mark.parametrize(
    ("pid", "name"),
    [
        ("vip-vera", "Vera Lind"),
        ("lapsed-lena", "Lena"),  # no last name
        ("sparse-sol", ""),  # blank names: the schema default 'there' is not a name
        ("german-dora", "Dora Schäfer"),  # non-ASCII: an RFC 2047 encoded word on the wire
    ],
    ids=["first-last", "first-only", "no-name", "non-ascii"],
)
def test_display_name_comes_from_the_record(
    by_address: dict[str, Received], pid: str, name: str
) -> None:
    (address,) = parse(by_address[PERSONAS[pid]["email"]].data)["To"].addresses
    assert address.display_name == name


def test_dry_run_writes_one_eml_per_persona_and_never_connects(tmp_path: Path) -> None:
    # Nothing listens on this port: a connection attempt would fail the run.
    result = run("--port", str(free_port()), "--dry-run", tmp_path / "eml")
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert result.stdout.splitlines()[-1] == f"done: {len(PERSONAS)} written, 0 failed"
    files = sorted((tmp_path / "eml").iterdir())
    assert [f.name for f in files] == [f"{n:06d}-{pid}.eml" for n, pid in enumerate(PERSONAS, 1)]
    now = datetime.fromisoformat(NOW)
    for path, persona in zip(files, PERSONAS.values(), strict=True):
        message = parse(path.read_bytes())
        assert message["Subject"] == PROJECT.render(LAYOUT, persona, now=now).subject
        assert message["To"].addresses[0].addr_spec == persona["email"]


def test_invalid_record_fails_alone(tmp_path: Path) -> None:
    records = audience_lines()
    bad = {
        "id": "c-bad",
        "email": "not-an-address",
        "links": {"unsubscribe": "https://x.example/u"},
    }
    records.insert(2, json.dumps(bad))
    data = tmp_path / "audience.jsonl"
    data.write_text("\n".join(records) + "\n", encoding="utf-8")

    result, received = send("--data", data)

    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == "done: 5 sent, 1 failed"
    assert result.stderr.splitlines() == [
        "failed: audience.jsonl line 3: recipient c-bad: email: expected an email address "
        "such as 'ann@example.com', got 'not-an-address' — an address has a user, an '@' and a "
        "domain, as in 'user@example.com'"
    ]
    expected = [json.loads(line)["email"] for line in audience_lines()]
    assert [r.rcpt_tos for r in received] == [(address,) for address in expected]


def test_unreadable_line_and_unsendable_record_are_failures(tmp_path: Path) -> None:
    records = audience_lines()
    http = {
        "id": "c-http",
        "email": "h@example.com",
        "links": {"unsubscribe": "http://x.example/u"},
    }
    records[1:1] = ['{"id": "c-broken", "email": ', json.dumps(http)]
    data = tmp_path / "audience.jsonl"
    data.write_text("\n".join(records) + "\n", encoding="utf-8")

    result = run("--data", data, "--dry-run", tmp_path / "eml", "--limit", "4")

    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == "done: 2 written, 2 failed"
    assert result.stderr.splitlines() == [
        "failed: audience.jsonl line 2: invalid JSON: Expecting value (column 29) — each line "
        "must be one JSON object",
        "failed: audience.jsonl line 3: recipient c-http: list_unsubscribe: expected an https: "
        "or mailto: URL, got 'http://x.example/u' — one-click unsubscribe (RFC 8058) needs an "
        "https:// URL; mailto: also works",
    ]
    assert len(list((tmp_path / "eml").iterdir())) == 2


def test_smtp_refusal_fails_that_recipient_only() -> None:
    result, received = send(refuse=frozenset({"ben@example.com"}))
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == f"done: {len(PERSONAS) - 1} sent, 1 failed"
    assert result.stderr.splitlines() == [
        "failed: persona bronze-ben: ben@example.com refused: 550 5.1.1 No such mailbox"
    ]
    assert len(received) == len(PERSONAS) - 1
    assert "ben@example.com" not in {r.rcpt_tos[0] for r in received}


def test_dropped_connection_fails_that_message_and_the_next_reconnects() -> None:
    result, received = send(drop=frozenset({"carla@example.com"}))
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == f"done: {len(PERSONAS) - 1} sent, 1 failed"
    assert result.stderr.splitlines() == [
        "failed: persona cart-carla: SMTPServerDisconnected: Connection unexpectedly closed"
    ]
    assert len(received) == len(PERSONAS) - 1


def test_lines_that_cannot_be_read_fail_alone_and_the_rest_is_sent(tmp_path: Path) -> None:
    good = [line.encode() for line in audience_lines()]
    latin1 = '{"id": "c-latin", "email": "j@example.com", "first_name": "Jürgen"}'
    huge = '{"id": "c-huge", "email": "h@example.com", "points": ' + "9" * 5000 + "}"
    deep = "[" * 100_000 + "]" * 100_000
    data = tmp_path / "audience.jsonl"
    data.write_bytes(
        b"\n".join(
            [
                good[0],
                latin1.encode("latin-1"),  # as a spreadsheet export may write it
                good[1],
                huge.encode(),
                good[2],
                deep.encode(),
                good[3],
                good[4],
            ]
        )
        + b"\n"
    )

    result, received = send("--data", data, refuse=frozenset({"tom.becker@example.com"}))

    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == "done: 4 sent, 4 failed"
    assert result.stderr.splitlines() == [
        "failed: audience.jsonl line 2: not valid UTF-8 (invalid start byte at byte 60) — save "
        "the file as UTF-8",
        "failed: audience.jsonl line 4: unreadable JSON: a number too long to be a field's value "
        "— check how the file was exported",
        "failed: audience.jsonl line 6: unreadable JSON: nesting too deep to be a field's value "
        "— check how the file was exported",
        "failed: audience.jsonl line 3: tom.becker@example.com refused: 550 5.1.1 No such mailbox",
    ]
    expected = [json.loads(line)["email"] for line in good if b"tom.becker" not in line]
    assert [r.rcpt_tos for r in received] == [(address,) for address in expected]


def test_a_byte_order_mark_opens_the_first_record(tmp_path: Path) -> None:
    data = tmp_path / "audience.jsonl"
    data.write_text("\n".join(audience_lines()) + "\n", encoding="utf-8-sig")
    result = run("--data", data, "--dry-run", tmp_path / "eml")
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert result.stdout.splitlines()[-1] == "done: 5 written, 0 failed"


def test_an_audience_file_that_cannot_be_opened_stops_the_run_before_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "audience.jsonl"
    data.write_text(audience_lines()[0] + "\n", encoding="utf-8")
    real_open = Path.open

    def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == data:  # as for a file without read permission (root can read any)
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(SystemExit) as info:
        send_campaign.main(["--data", str(data), "--dry-run", str(tmp_path / "eml")])
    assert info.value.code == 2
    assert capsys.readouterr().err.endswith(
        "error: audience.jsonl: cannot read the file: Permission denied — make the file "
        "readable for you, or pass a copy you can read\n"
    )
    assert not (tmp_path / "eml").exists()


@pytest.mark.parametrize(
    ("crash", "done", "stopped"),
    [
        (4, "done: 3 written, 1 failed", "after audience.jsonl line 4: the records after it were"),
        (1, "done: 0 written, 1 failed", "before the first record ended: none was"),
    ],
    ids=["mid-run", "first-record"],
)
def test_a_crash_still_reports_what_was_done(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    crash: int,
    done: str,
    stopped: str,
) -> None:
    real_deliver = send_campaign.EmlFolder.deliver

    def deliver(self: send_campaign.EmlFolder, message: EmailMessage, *, name: str) -> None:
        if name.startswith(f"{crash:06d}-"):  # the 4th record is line 5: line 2 is no record
            raise RuntimeError("a bug in an adapted transport")
        real_deliver(self, message, name=name)

    monkeypatch.setattr(send_campaign.EmlFolder, "deliver", deliver)
    records = audience_lines()
    records[1] = '{"id": "c-broken", "email": '
    data = tmp_path / "audience.jsonl"
    data.write_text("\n".join(records) + "\n", encoding="utf-8")

    with pytest.raises(RuntimeError, match="a bug in an adapted transport"):
        send_campaign.main(["--data", str(data), "--dry-run", str(tmp_path / "eml")])

    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == done
    assert err.splitlines() == [
        "failed: audience.jsonl line 2: invalid JSON: Expecting value (column 29) — each line "
        "must be one JSON object",
        f"stopped early, {stopped} not sent, or not confirmed",
    ]


def test_a_session_the_server_closed_before_a_message_is_reopened_for_it() -> None:
    result, received = send(hang_up=frozenset({"carla@example.com"}))
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    out = result.stdout.splitlines()
    note = r"… the server at 127\.0\.0\.1:\d+ had closed the session; reconnected"
    assert re.fullmatch(note, out[1]), out
    assert out[2:] == [f"done: {len(PERSONAS)} sent, 0 failed"]
    assert sorted(r.rcpt_tos for r in received) == sorted((p["email"],) for p in PERSONAS.values())


def test_an_idle_session_closed_by_the_server_is_reopened(
    capsys: pytest.CaptureFixture[str],
) -> None:
    collector = Collector()
    port = free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port, timeout=0.5)
    controller.start()
    personas = list(PERSONAS.values())[:3]
    try:
        transport = send_campaign.SmtpTransport("127.0.0.1", port)
        for number, persona in enumerate(personas):
            if number == 2:
                time.sleep(1)  # longer than the server's idle timeout
            message = PROJECT.render(LAYOUT, persona).to_message(sender=SENDER)
            transport.deliver(message, name=str(number))
        transport.close()
    finally:
        controller.stop()
    assert capsys.readouterr().out == (
        f"… the server at 127.0.0.1:{port} had closed the session; reconnected\n"
    )
    assert [r.rcpt_tos for r in collector.received] == [(p["email"],) for p in personas]


@pytest.mark.parametrize(
    ("target", "reason"),
    [("afile", "it is a file"), ("afile/eml", "Not a directory")],
    ids=["a-file", "inside-a-file"],
)
def test_dry_run_folder_that_cannot_be_made_is_named(
    tmp_path: Path, target: str, reason: str
) -> None:
    (tmp_path / "afile").touch()
    result = run("--port", str(free_port()), "--dry-run", tmp_path / target)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f"send_campaign.py: error: cannot use {str(tmp_path / target)!r} as the --dry-run "
        f"folder: {reason} — pass a folder for the .eml files (it is created if missing)"
    )
