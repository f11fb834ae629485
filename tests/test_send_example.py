"""examples/send_campaign.py, run as a subprocess against a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import json
import re
import socket
import subprocess
import sys
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
        self, *, refuse: frozenset[str] = frozenset(), drop: frozenset[str] = frozenset()
    ) -> None:
        self.received: list[Received] = []
        self.refuse = refuse
        self.drop = drop

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
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
    *args: str | Path, refuse: frozenset[str] = frozenset(), drop: frozenset[str] = frozenset()
) -> tuple[subprocess.CompletedProcess[str], list[Received]]:
    collector = Collector(refuse=refuse, drop=drop)
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
        "such as 'ann@example.com', got 'not-an-address'"
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
        "failed: audience.jsonl line 2: invalid JSON: Expecting value (column 29)",
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
