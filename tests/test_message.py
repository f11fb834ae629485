"""Tests for MIME assembly: structure, round trips, hostile headers and List-Unsubscribe."""

from __future__ import annotations

import datetime
import email
import email.policy
import email.utils
import io
import re
import smtplib
import socket
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller  # a missing aiosmtpd must fail, never skip
from hypothesis import given, settings
from hypothesis import strategies as st

from personalize.errors import ConfigError, PersonalizeError, RecipientError, RenderError
from personalize.message import build_message, clean_header_text, parse_address

DATE = datetime.datetime(2026, 11, 27, 9, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
HTML = '<html><body><p>Hallo Ann, <a href="https://shop.example/x">los</a> 🎁</p></body></html>\n'
TEXT = "Hallo Ann,\n\nlos: https://shop.example/x 🎁\n"
# Fragments that hostile data would use to break a header: line breaks, controls, bidi
# overrides, and RFC 2047 encoded words hiding CR/LF.
HOSTILE = [
    "\r\n",
    "\r",
    "\n",
    "\u2028",
    "\x00",
    "\x07",
    "\x7f",
    "\x85",
    "\u202e",
    "Bcc: x@y.com",
    "=?utf-8?q?a=0D=0ABcc:_x@y.com?=",
    "=?utf-8?b?DQo=?=",
    '"',
    "<eve@x.com>,",
    "\\",
]


def build(**overrides: Any) -> EmailMessage:
    args: dict[str, Any] = {
        "subject": "Grüße 🎁",
        "html": HTML,
        "text": TEXT,
        "sender": "Shop <shop@example.com>",
        "to": "ann@example.com",
        "date": DATE,
        "message_id": "<m1@example.com>",
    }
    args.update(overrides)
    return build_message(**args)


def parse(msg: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def header_block(msg: EmailMessage) -> bytes:
    return msg.as_bytes().split(b"\r\n\r\n", 1)[0] + b"\r\n"


def assert_clean_headers(msg: EmailMessage) -> None:
    block = header_block(msg)
    bare = block.replace(b"\r\n", b"")
    assert not [byte for byte in bare if byte < 0x20 or byte >= 0x7F], block
    lines = block.split(b"\r\n")[:-1]
    assert all(len(line) <= 998 for line in lines)
    assert sum(line.lower().startswith(b"subject:") for line in lines) == 1
    assert not any(line.lower().startswith((b"bcc:", b"cc:")) for line in lines)


def raw_header_lines(msg: EmailMessage, name: bytes) -> list[bytes]:
    """Physical lines of a header: its first line plus any continuation lines."""
    lines = header_block(msg).split(b"\r\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(name + b":"))
    end = start + 1
    while end < len(lines) and lines[end][:1] in (b" ", b"\t"):
        end += 1
    return lines[start:end]


# --- structure and round trip ---------------------------------------------------------------


def test_round_trip_keeps_parts_subject_and_addresses() -> None:
    msg = parse(build(to_name="Ann Lee", reply_to="Help <help@example.com>"))

    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert [part.get_content_charset() for part in parts] == ["utf-8", "utf-8"]
    # The parts arrive with the wire's CRLF line endings.
    contents = [part.get_content().replace("\r\n", "\n") for part in parts]
    assert contents == [TEXT, HTML]
    assert msg["Subject"] == "Grüße 🎁"
    assert msg["From"].addresses == (Address("Shop", "shop", "example.com"),)
    assert msg["To"].addresses == (Address("Ann Lee", "ann", "example.com"),)
    assert msg["Reply-To"].addresses == (Address("Help", "help", "example.com"),)
    assert msg["Date"].datetime == DATE
    assert msg["Message-ID"] == "<m1@example.com>"
    assert msg["MIME-Version"] == "1.0"


def test_wire_form_is_crlf_and_7bit() -> None:
    raw = build().as_bytes()

    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    assert raw.count(b"MIME-Version:") == 1


def test_body_line_endings_become_crlf_and_a_final_newline_is_added() -> None:
    msg = parse(build(text="a\r\nb\rc", html="<p>x</p>"))

    text, html = (part.get_content() for part in msg.iter_parts())
    assert (text, html) == ("a\r\nb\r\nc\r\n", "<p>x</p>\r\n")


def test_defaults_generate_date_and_message_id_in_sender_domain() -> None:
    msg = parse(build(date=None, message_id=None))

    assert msg["Date"].datetime.tzinfo is not None
    assert re.fullmatch(r"<[^<>@\s]+@example\.com>", msg["Message-ID"])
    assert build(message_id=None)["Message-ID"] != build(message_id=None)["Message-ID"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [("<a.1@example.com>", "<a.1@example.com>"), ("a.1@example.com", "<a.1@example.com>")],
    ids=["bracketed", "bare"],
)
def test_message_id_is_bracketed(given: str, expected: str) -> None:
    assert build(message_id=given)["Message-ID"] == expected


def test_extra_headers_are_added_and_cleaned() -> None:
    msg = parse(build(headers={"X-Campaign": "weekly\r\nBcc: eve@x.com", "X-Tag": "näh"}))

    assert msg["X-Campaign"] == "weekly Bcc: eve@x.com"
    assert msg["X-Tag"] == "näh"
    assert msg["Bcc"] is None
    assert_clean_headers(build(headers={"X-Campaign": "weekly\r\nBcc: eve@x.com"}))


# --- hostile header text -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Hi\r\nBcc: eve@x.com", "Hi Bcc: eve@x.com"),
        ("Hi\nthere", "Hi there"),
        ("Hi\u2028there\u2029", "Hi there"),
        ("a\x00b\x07c\x7fd\x1be", "abcde"),
        ("Sale \u202eelas\u202c now \u2066x\u2069\u200f", "Sale elas now x"),
        ("  many \t\t spaces  ", "many spaces"),
        ("=?utf-8?q?a=0D=0ABcc:_x@y.com?=", "=\u200b?utf-8?q?a=0D=0ABcc:_x@y.com?="),
        ("2+2=?", "2+2=\u200b?"),
    ],
    ids=["crlf", "lf", "line-separators", "nul-bel-del-esc", "bidi", "whitespace", "ew", "q"],
)
def test_hostile_subject_becomes_one_clean_line(subject: str, expected: str) -> None:
    msg = build(subject=subject)

    assert_clean_headers(msg)
    assert parse(msg)["Subject"] == expected
    assert parse(msg)["Bcc"] is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Eve <eve@x.com>, bob@y.com", "Eve <eve@x.com>, bob@y.com"),
        ("Eve <eve@x.com>, ", "Eve <eve@x.com>,"),
        ("Bob\r\nBcc: x@y.com", "Bob Bcc: x@y.com"),
        ('Bob "the" \\ Builder', 'Bob "the" \\ Builder'),
        ("=?utf-8?q?a=0D=0ABcc:_x@y.com?=", "=\u200b?utf-8?q?a=0D=0ABcc:_x@y.com?="),
        ("Jörg 🎁", "Jörg 🎁"),
    ],
    ids=["address-list", "trailing-comma", "crlf-bcc", "quotes", "encoded-word", "non-ascii"],
)
def test_display_name_never_adds_an_address(name: str, expected: str) -> None:
    by_argument = build(to_name=name)
    # Address() itself refuses CR and LF, so the Address objects get the rest of the name.
    bare = name.replace("\r", "").replace("\n", " ")
    in_address = build(to=Address(bare, "ann", "example.com"), sender=Address(bare, "s", "x.org"))

    for msg in (by_argument, in_address):
        assert_clean_headers(msg)
        assert parse(msg)["To"].addresses == (Address(expected, "ann", "example.com"),)
    assert parse(in_address)["From"].addresses == (Address(expected, "s", "x.org"),)


def test_empty_to_name_keeps_the_name_in_to() -> None:
    msg = parse(build(to="Ann <ann@example.com>", to_name=" \r\n "))

    assert msg["To"].addresses == (Address("Ann", "ann", "example.com"),)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a\tb", "a b"),
        ("\x00\x01\x1f\x7f\x80\x9f", ""),
        ("a\x1cb\x85c", "a b c"),
        ("50\u00a0%", "50\u00a0%"),
        ("a \u00a0 b", "a b"),
        ("\u061cx\u200ey\u200fz\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069", "xyz"),
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
        ("a=\x00?b", "a=\u200b?b"),
        ("Grüße 🎁 👩\u200d💻", "Grüße 🎁 👩\u200d💻"),
    ],
    ids=["tab", "controls", "separators", "nbsp", "space-run", "bidi", "surrogate", "ew", "emoji"],
)
def test_clean_header_text(value: str, expected: str) -> None:
    assert clean_header_text(value) == expected


@given(st.text())
def test_clean_header_text_is_idempotent_and_leaves_no_controls(value: str) -> None:
    cleaned = clean_header_text(value)

    assert clean_header_text(cleaned) == cleaned
    assert cleaned == cleaned.strip()
    assert "=?" not in cleaned
    assert not re.search(
        r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]|\s\s", cleaned
    )
    cleaned.encode("utf-8")


hostile_text = st.lists(st.sampled_from(HOSTILE) | st.text(max_size=40), max_size=8).map("".join)


@settings(max_examples=300, deadline=None)
@given(subject=hostile_text, name=hostile_text, value=hostile_text)
def test_arbitrary_subjects_and_names_serialize_with_clean_headers(
    subject: str, name: str, value: str
) -> None:
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    try:
        msg = build(
            subject=subject,
            sender=Address(re.sub("[\r\n]", "", name), "shop", "example.com"),
            to_name=name,
            reply_to=f'"{quoted}" <help@example.com>',
            headers={"X-Note": value},
        )
        msg.as_bytes()
    except PersonalizeError:
        return
    assert_clean_headers(msg)
    assert len(parse(msg)["To"].addresses) == 1


# --- addresses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Shop <shop@example.com>", ("Shop", "shop", "example.com")),
        ("shop@example.com", ("", "shop", "example.com")),
        ("  <shop@example.com>  ", ("", "shop", "example.com")),
        ('"Doe, Jo" <jo@example.com>', ("Doe, Jo", "jo", "example.com")),
        ('"Eve <e@x.com>" <a@b.co>', ("Eve <e@x.com>", "a", "b.co")),
        ('"a \\"b\\"" <a@b.co>', ('a "b"', "a", "b.co")),
        ("Doe, Jo <jo@example.com>", ("Doe, Jo", "jo", "example.com")),
        ("first.o'neil+tag@mail-1.example.co.uk", ("", "first.o'neil+tag", "mail-1.example.co.uk")),
        ("dev@localhost", ("", "dev", "localhost")),
        (Address("Shop\x00\u202e ", "shop", "example.com"), ("Shop", "shop", "example.com")),
    ],
    ids=[
        "name-addr",
        "addr-spec",
        "brackets",
        "quoted-comma",
        "quoted-brackets",
        "escaped-quotes",
        "unquoted-comma",
        "atext",
        "single-label",
        "address-object",
    ],
)
def test_parse_address_accepts(value: str | Address, expected: tuple[str, str, str]) -> None:
    address = parse_address(value, role="sender")

    assert (address.display_name, address.username, address.domain) == expected


HINT_ONE = "give a single address; send one message per recipient"
HINT_ONE_SENDER = (
    "give a single address: From names one sender (replies can go elsewhere through reply_to)"
)
HINT_ONE_REPLY_TO = (
    "give a single address: Reply-To takes one here; for replies to reach several people, "
    "use a shared mailbox or list address"
)
HINT_FORM = "write 'Name <user@example.com>' or 'user@example.com'"
HINT_SMTPUTF8 = "non-ASCII addresses need SMTPUTF8, which is not supported; "
HINT_DOMAIN = HINT_SMTPUTF8 + "write the domain in its ASCII form (xn--…)"
HINT_LOCAL = HINT_SMTPUTF8 + "the part before the '@' must be ASCII"
HINT_BOTH = HINT_LOCAL + " and write the domain in its ASCII form (xn--…)"
HINT_PARTS = "an address has a user, an '@' and a domain, as in 'user@example.com'"
HINT_QUOTING = "the part before the '@' holds {!r}, which needs quoting (not supported)"
HINT_LABEL = (
    "the domain part {!r} is not a host name: 1 to 63 letters, digits or '-', with no '-' at "
    "either end"
)


@pytest.mark.parametrize(
    ("value", "got", "hint"),
    [
        ("", "''", HINT_FORM),
        ("shop", "'shop'", HINT_PARTS),
        ("shop@", "'shop@'", HINT_PARTS),
        ("@example.com", "'@example.com'", HINT_PARTS),
        ("Shop <shop@example.com", "'Shop <shop@example.com'", HINT_FORM),
        ("a b@example.com", "'a b@example.com'", HINT_QUOTING.format(" ")),
        (
            "shop@exam\x00ple.com",
            "'shop@exam\\x00ple.com'",
            "it holds an invisible or control character (U+0000)",
        ),
        ("shop@-example.com", "'shop@-example.com'", HINT_LABEL.format("-example")),
        (
            "a..b@example.com",
            "'a..b@example.com'",
            "the part before the '@' starts or ends with a dot, or has two in a row",
        ),
        ('"a b"@example.com', "'\"a b\"@example.com'", HINT_QUOTING.format('"')),
        ("a@[127.0.0.1]", "'a@[127.0.0.1]'", HINT_LABEL.format("[127")),
        (
            "=?utf-8?q?x?=@example.com",
            "'=?utf-8?q?x?=@example.com'",
            "it holds '=?', which could start an encoded word",
        ),
        ("a@müller.de", "'a@müller.de'", HINT_DOMAIN),
        ("Jörg <jörg@example.com>", "'Jörg <jörg@example.com>'", HINT_LOCAL),
        ("anné@example.com", "'anné@example.com'", HINT_LOCAL),
        ("jörg@müller.de", "'jörg@müller.de'", HINT_BOTH),
        ("jörg", "'jörg'", HINT_LOCAL),
        ("Jörg, Ann <a b@example.com>", "'Jörg, Ann <a b@example.com>'", HINT_QUOTING.format(" ")),
        (None, "None", HINT_FORM),
    ],
    ids=[
        "empty",
        "no-at",
        "no-domain",
        "no-local",
        "unclosed",
        "space",
        "nul",
        "hyphen-label",
        "double-dot",
        "quoted-local",
        "literal",
        "encoded-word",
        "non-ascii",
        "non-ascii-local",
        "non-ascii-local-only",
        "non-ascii-both",
        "non-ascii-no-at",
        "name-is-not-the-problem",
        "none",
    ],
)
def test_parse_address_rejects(value: Any, got: str, hint: str) -> None:
    message = f"expected one email address such as 'Shop <shop@example.com>', got {got} — {hint}"

    with pytest.raises(ConfigError) as sender:
        parse_address(value, role="sender", recipient="r-1")
    with pytest.raises(ConfigError) as reply_to:
        build(reply_to=value if value is not None else 0)

    assert str(sender.value) == f"sender: {message}"
    assert str(reply_to.value) == f"reply_to: {message}".replace("got None", "got 0")


@pytest.mark.parametrize(
    ("value", "got"),
    [
        ("a, b@x", "'a, b@x'"),
        ("Eve <eve@x.com>, bob@y.com", "'Eve <eve@x.com>, bob@y.com'"),
        ("a@b@c.com", "'a@b@c.com'"),
    ],
    ids=["two", "name-and-two", "two-ats"],
)
def test_two_addresses_as_sender_or_reply_to_get_a_hint_for_that_header(
    value: str, got: str
) -> None:
    # "send one message per recipient" fits To, not the From or Reply-To of every message.
    message = f"expected one email address such as 'Shop <shop@example.com>', got {got}"

    with pytest.raises(ConfigError) as sender:
        build(sender=value)
    with pytest.raises(ConfigError) as reply_to:
        build(reply_to=value)

    assert str(sender.value) == f"sender: {message} — {HINT_ONE_SENDER}"
    assert str(reply_to.value) == f"reply_to: {message} — {HINT_ONE_REPLY_TO}"


def test_parse_address_rejects_a_long_local_part() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_address("a" * 65 + "@example.com", role="sender")
    assert caught.value.hint == "the part before the '@' has 65 characters; at most 64 are allowed"


def test_invalid_to_is_a_recipient_error() -> None:
    with pytest.raises(RecipientError) as caught:
        build(to="ann@example.com, eve@x.com", recipient="r-17")

    assert str(caught.value) == (
        "recipient r-17: email: expected one email address such as 'Ann Lee <ann@example.com>', "
        f"got 'ann@example.com, eve@x.com' — {HINT_ONE}"
    )
    assert (caught.value.recipient, caught.value.path) == ("r-17", "email")


def test_non_text_to_name_is_a_recipient_error() -> None:
    with pytest.raises(RecipientError) as caught:
        build(to_name=42, recipient="r-1")

    assert str(caught.value) == (
        "recipient r-1: to_name: expected text for the display name, got 42 — "
        "pass a string, or None for no name"
    )


# --- extra headers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "X Campaign",
            "headers: expected a header name of letters, digits and '-', got 'X Campaign' — "
            "use a name such as 'X-Campaign'",
        ),
        (
            "X-A:\r\nBcc",
            "headers: expected a header name of letters, digits and '-', got 'X-A:\\r\\nBcc' — "
            "use a name such as 'X-Campaign'",
        ),
        (
            "",
            "headers: expected a header name of letters, digits and '-', got '' — "
            "use a name such as 'X-Campaign'",
        ),
        (
            "subject",
            "headers.subject: header 'subject' is set by build_message and cannot be an extra "
            "header — pass it as subject=",
        ),
        (
            "From",
            "headers.From: header 'From' is set by build_message and cannot be an extra header — "
            "pass it as sender=",
        ),
        (
            "Reply-To",
            "headers.Reply-To: header 'Reply-To' is set by build_message and cannot be an extra "
            "header — pass it as reply_to=",
        ),
        (
            "content-type",
            "headers.content-type: header 'content-type' is set by build_message and cannot be an "
            "extra header — it is derived from the text and html parts",
        ),
        (
            "List-Unsubscribe-Post",
            "headers.List-Unsubscribe-Post: header 'List-Unsubscribe-Post' is set by "
            "build_message and cannot be an extra header — pass the URLs as list_unsubscribe=",
        ),
        (
            "Bcc",
            "headers.Bcc: header 'Bcc' is set by build_message and cannot be an extra header — "
            "send one message per recipient instead",
        ),
        (
            "Resent-Bcc",
            "headers.Resent-Bcc: header 'Resent-Bcc' is set by build_message and cannot be an "
            "extra header — Resent-* headers pass on a received message, and smtplib would send "
            "to their addresses",
        ),
    ],
    ids=[
        "space",
        "injection",
        "empty",
        "subject",
        "from",
        "reply-to",
        "content",
        "post",
        "bcc",
        "resent-bcc",
    ],
)
def test_extra_header_names_are_checked(name: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build(headers={name: "x"})

    assert str(caught.value) == expected


@pytest.mark.parametrize(
    "name",
    [
        "To",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Content-Transfer-Encoding",
        "Cc",
        "Sender",
        "Resent-Date",
        "RESENT-TO",
        "resent-cc",
        "Resent-From",
        "Resent-Sender",
        "Resent-Message-ID",
    ],
)
def test_every_structural_header_is_reserved(name: str) -> None:
    with pytest.raises(ConfigError, match=f"^headers.{name}: header '{name}' is set by"):
        build(headers={name: "x"})


@pytest.mark.parametrize(
    ("headers", "got"),
    [
        ([("X-A", "1")], "[('X-A', '1')]"),
        ("X-A: 1", "'X-A: 1'"),
        ([], "[]"),
        (3, "3"),
    ],
    ids=["pairs", "text", "empty-list", "int"],
)
def test_headers_must_be_a_mapping(headers: Any, got: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build(headers=headers)

    assert str(caught.value) == (
        f"headers: expected a mapping of header names to values, got {got} — "
        "pass a dict such as {'X-Campaign': 'weekly'}"
    )


def test_extra_header_value_must_be_text() -> None:
    with pytest.raises(ConfigError) as caught:
        build(headers={"X-Count": 3})

    assert str(caught.value) == (
        "headers.X-Count: expected text as the header value, got 3 — "
        "quote the value so that it is a string"
    )


def test_a_header_name_longer_than_76_characters_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        build(headers={"X-" + "a" * 1200: "v"})

    assert str(caught.value) == (
        "headers: expected a header name of at most 76 characters, got 1202: "
        "'X-aaaaaaaaaaaaaaaaaaaaaaaaaa… — a name is never folded, and header lines should be "
        "at most 78 characters (RFC 5322); use a name such as 'X-Campaign'"
    )


def test_a_76_character_header_name_is_accepted() -> None:
    name = "X-" + "a" * 74
    assert parse(build(headers={name: "v"}))[name] == "v"


@pytest.mark.parametrize(
    ("value", "needs"),
    [("<" + "x" * 1000 + "@northwind.example>", 1033), ("a " + "b" * 998, 999)],
    ids=["first-word", "later-word"],
)
def test_a_word_too_long_for_a_header_line_is_refused(value: str, needs: int) -> None:
    # Encoding it would break a msg-id or URL, and folding cannot split it.
    with pytest.raises(ConfigError) as caught:
        build(headers={"In-Reply-To": value})

    assert str(caught.value) == (
        "headers.In-Reply-To: expected each word of the value (the text between spaces) to fit "
        f"on a header line of 998 characters, got one that needs {needs} — shorten it, e.g. "
        "carry a short token instead of recipient data: printable ASCII is never split or "
        "encoded, since a message id or URL must stay whole"
    )


def test_a_word_that_just_fits_is_written_plain_on_a_line_of_998() -> None:
    first = "<" + "x" * (998 - len("In-Reply-To: <@e.x>")) + "@e.x>"
    later = "y" * 997
    msg = build(headers={"In-Reply-To": first, "X-Later": f"a {later}"})

    assert raw_header_lines(msg, b"In-Reply-To") == [f"In-Reply-To: {first}".encode()]
    assert raw_header_lines(msg, b"X-Later") == [b"X-Later: a", f" {later}".encode()]
    assert max(len(line) for line in msg.as_bytes().split(b"\r\n")) == 998
    assert (parse(msg)["In-Reply-To"], parse(msg)["X-Later"]) == (first, f"a {later}")


# --- List-Unsubscribe --------------------------------------------------------------------------


def test_list_unsubscribe_with_https_and_mailto() -> None:
    msg = build(list_unsubscribe=["https://shop.example/u?t=1", "mailto:u@shop.example?subject=u"])

    assert raw_header_lines(msg, b"List-Unsubscribe") == [
        b"List-Unsubscribe: <https://shop.example/u?t=1>, <mailto:u@shop.example?subject=u>"
    ]
    assert raw_header_lines(msg, b"List-Unsubscribe-Post") == [
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click"
    ]
    assert parse(msg)["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize(
    ("urls", "header"),
    [
        ("mailto:u@shop.example", b"List-Unsubscribe: <mailto:u@shop.example>"),
        (["mailto:a@x.example", "mailto:b@x.example"], b"List-Unsubscribe: <mailto:a@x.example>, "),
    ],
    ids=["one", "two"],
)
def test_mailto_only_has_no_one_click_header(urls: str | list[str], header: bytes) -> None:
    msg = build(list_unsubscribe=urls)

    assert header_block(msg).count(b"List-Unsubscribe") == 1
    assert raw_header_lines(msg, b"List-Unsubscribe")[0].startswith(header)


@pytest.mark.parametrize("urls", [None, []], ids=["none", "empty"])
def test_no_list_unsubscribe(urls: list[str] | None) -> None:
    assert b"List-Unsubscribe" not in header_block(build(list_unsubscribe=urls))


def test_a_300_character_url_stays_on_one_unencoded_line() -> None:
    url = "https://shop.example/unsubscribe?token=" + "a1B2-_." * 40 + "&x=%3F?y=="
    msg = build(list_unsubscribe=url, subject="ü" * 200)

    lines = raw_header_lines(msg, b"List-Unsubscribe")
    assert lines == [f"List-Unsubscribe: <{url}>".encode()]
    assert len(lines[0]) > 300
    assert len(raw_header_lines(msg, b"Subject")) > 1  # other headers are still folded
    assert f"List-Unsubscribe: <{url}>\r\n" in msg.as_string()
    assert parse(msg)["List-Unsubscribe"] == f"<{url}>"


def test_one_line_list_unsubscribe_survives_smtplib_serialization() -> None:
    url = "https://shop.example/u/" + "x" * 300
    out = io.BytesIO()
    # smtplib.send_message flattens with BytesGenerator and the message's own policy.
    BytesGenerator(out).flatten(build(list_unsubscribe=url), linesep="\r\n")

    assert f"\r\nList-Unsubscribe: <{url}>\r\n".encode() in out.getvalue()


url_paths = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./?=&",
    min_size=60,
    max_size=900,
).map(lambda path: path.replace("=?", "=%3F"))  # '=?' is refused (see below)


@settings(max_examples=150, deadline=None)
@given(path=url_paths)
def test_list_unsubscribe_is_always_one_physical_line(path: str) -> None:
    url = f"https://shop.example/{path}"
    msg = build(list_unsubscribe=[url, "mailto:u@shop.example"])

    lines = raw_header_lines(msg, b"List-Unsubscribe")
    assert len(lines) == 1
    assert lines[0] == f"List-Unsubscribe: <{url}>, <mailto:u@shop.example>".encode()
    assert lines[0].startswith(b"List-Unsubscribe: <https://")


URL_CHARS = (
    "expected a URL without whitespace, control or non-ASCII characters, '<' or '>', got {} — "
    "percent-encode those characters (e.g. ' ' as %20) when building the URL"
)
URL_SCHEME = (
    "expected an https: or mailto: URL, got {} — "
    "one-click unsubscribe (RFC 8058) needs an https:// URL; mailto: also works"
)
URL_EW = (
    "expected a URL without '=?', got {} — percent-encode the '?' (write '=%3F') when building "
    "the URL: '=?' starts an RFC 2047 encoded word, which mail software decodes"
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.example/u?a=1 b", URL_CHARS.format("'https://x.example/u?a=1 b'")),
        ("https://x.example/u\r\nBcc:", URL_CHARS.format("'https://x.example/u\\r\\nBcc:'")),
        ("https://x.example/u\x00", URL_CHARS.format("'https://x.example/u\\x00'")),
        ("https://x.example/u>,<https:", URL_CHARS.format("'https://x.example/u>,<https:'")),
        ("https://x.example/ü", URL_CHARS.format("'https://x.example/ü'")),
        ("", URL_CHARS.format("''")),
        ("http://x.example/u", URL_SCHEME.format("'http://x.example/u'")),
        ("javascript:alert(1)", URL_SCHEME.format("'javascript:alert(1)'")),
        ("https://", URL_SCHEME.format("'https://'")),
        ("https:///path", URL_SCHEME.format("'https:///path'")),
        ("mailto:", URL_SCHEME.format("'mailto:'")),
        (
            "https://x.example/u?t=?utf-8?q?=0D=0ABcc:_e@x.co?=",
            URL_EW.format("'https://x.example/u?t=?utf-8?q?=0D=0ABcc:_e@x.co?='"),
        ),
        ("mailto:u@x.example?subject==?x", URL_EW.format("'mailto:u@x.example?subject==?x'")),
    ],
    ids=[
        "space",
        "crlf",
        "nul",
        "brackets",
        "non-ascii",
        "empty",
        "http",
        "javascript",
        "no-host",
        "empty-host",
        "empty-mailto",
        "encoded-word-crlf",
        "encoded-word-mailto",
    ],
)
def test_bad_unsubscribe_urls_are_recipient_errors(url: Any, expected: str) -> None:
    with pytest.raises(RecipientError) as caught:
        build(list_unsubscribe=["mailto:u@x.example", url], recipient="r-9")

    assert str(caught.value) == f"recipient r-9: list_unsubscribe: {expected}"


@pytest.mark.parametrize(
    ("urls", "got"),
    [
        (5, "5"),
        (b"https://x.example/u", "b'https://x.example/u'"),
        (bytearray(b"https://x.example/u"), "bytearray(b'https://x.example/u')"),
        ({"https://x.example/u"}, "{'https://x.example/u'}"),
    ],
    ids=["int", "bytes", "bytearray", "set"],
)
def test_unsubscribe_urls_of_the_wrong_type_are_recipient_errors(urls: Any, got: str) -> None:
    with pytest.raises(RecipientError) as caught:
        build(list_unsubscribe=urls, recipient="r-9")

    assert str(caught.value) == (
        f"recipient r-9: list_unsubscribe: expected a URL or a list of URLs, got {got} — "
        "pass a string such as 'https://example.com/u?t=abc', or a list of them"
    )


@pytest.mark.parametrize(
    ("url", "got"),
    [(5, "5"), (None, "None"), (b"https://x.example/u", "b'https://x.example/u'")],
    ids=["int", "none", "bytes"],
)
def test_an_unsubscribe_url_that_is_no_text_is_a_recipient_error(url: Any, got: str) -> None:
    with pytest.raises(RecipientError) as caught:
        build(list_unsubscribe=["https://x.example/u", url], recipient="r-9")

    assert str(caught.value) == (
        f"recipient r-9: list_unsubscribe: expected each URL to be text, got {got} — "
        "pass each URL as a string, such as 'https://example.com/u?t=abc'"
    )


def test_list_unsubscribe_longer_than_a_line_is_rejected() -> None:
    with pytest.raises(RecipientError) as caught:
        build(list_unsubscribe="https://x.example/" + "a" * 980, recipient="r-9")

    assert str(caught.value) == (
        "recipient r-9: list_unsubscribe: expected the List-Unsubscribe header to fit on one line "
        "of 998 characters, got 1018 — shorten the URL, e.g. carry a short token instead of "
        "recipient data"
    )


def test_uppercase_https_scheme_adds_one_click() -> None:
    msg = build(list_unsubscribe="HTTPS://x.example/u")

    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in header_block(msg)


# --- other arguments ---------------------------------------------------------------------------


def test_naive_date_is_rejected() -> None:
    with pytest.raises(ConfigError) as caught:
        build(date=datetime.datetime(2026, 1, 2, 3, 4))

    assert str(caught.value) == (
        "date: expected a timezone-aware datetime, got datetime.datetime(2026, 1, 2, 3, 4) — "
        "pass e.g. datetime.now(timezone.utc) or the project's now"
    )


DATE_HINT = "pass e.g. datetime.now(timezone.utc) or the project's now"


@pytest.mark.parametrize(
    ("date", "got", "hint"),
    [
        (
            "2026-11-27T09:00:00+01:00",
            "'2026-11-27T09:00:00+01:00'",
            "parse the text first, e.g. with datetime.fromisoformat()",
        ),
        (datetime.date(2026, 11, 27), "datetime.date(2026, 11, 27)", DATE_HINT),
        (1764230400, "1764230400", DATE_HINT),
        (b"2026-11-27", "b'2026-11-27'", DATE_HINT),
    ],
    ids=["str", "date", "int", "bytes"],
)
def test_a_date_that_is_no_datetime_is_a_config_error(date: Any, got: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build(date=date)

    assert str(caught.value) == f"date: expected a timezone-aware datetime, got {got} — {hint}"


@pytest.mark.parametrize(
    ("date", "shown"),
    [
        (
            datetime.datetime(
                2026,
                1,
                1,
                9,
                tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30, seconds=15)),
            ),
            "2026-01-01T09:00:00+05:30:15",
        ),
        (
            datetime.datetime(1890, 1, 1, tzinfo=ZoneInfo("Europe/Berlin")),
            "1890-01-01T00:00:00+00:53:28",
        ),
        (
            datetime.datetime(
                2026, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(microseconds=-1))
            ),
            "2026-01-01T00:00:00-00:00:00.000001",
        ),
    ],
    ids=["seconds", "local-mean-time", "microseconds"],
)
def test_a_utc_offset_with_seconds_is_a_config_error(date: datetime.datetime, shown: str) -> None:
    # format_datetime would write '+053015', which no parser reads: an empty Date header.
    with pytest.raises(ConfigError) as caught:
        build(date=date)

    assert str(caught.value) == (
        f"date: expected a UTC offset in whole minutes, got {shown!r} — the Date header has no "
        "seconds in its offset; pass date.astimezone(timezone.utc)"
    )


def test_a_whole_minute_offset_is_kept() -> None:
    date = datetime.datetime(2026, 1, 1, 9, tzinfo=ZoneInfo("Asia/Kathmandu"))  # +05:45

    assert parse(build(date=date))["Date"] == "Thu, 01 Jan 2026 09:00:00 +0545"


@pytest.mark.parametrize(
    "message_id",
    ["no-at", "<a@b", "a b@c.com", "<a@b.com>\r\nBcc: x@y.com", "<>", "=?utf-8?q?x?=@b.com"],
    ids=["no-at", "unclosed", "space", "crlf", "empty", "encoded-word"],
)
def test_bad_message_id_is_rejected(message_id: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build(message_id=message_id, recipient="r-1")

    assert str(caught.value) == (
        f"recipient r-1: message_id: expected a Message-ID such as '<abc.123@example.com>', "
        f"got {message_id!r} — leave message_id=None to generate a unique one"
    )


def test_a_message_id_too_long_for_one_line_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        build(message_id="<weekly-48." + "x" * 1000 + "@northwind.example>", recipient="r-1")

    assert str(caught.value) == (
        "recipient r-1: message_id: expected a Message-ID of at most 986 characters, so that "
        "its header fits on one line of 998, got 1030 — shorten the part before the '@', e.g. "
        "a hash or a counter instead of recipient data, or leave message_id=None to generate one"
    )


@pytest.mark.parametrize("brackets", [True, False])
def test_a_message_id_of_986_characters_fills_one_line_of_998(brackets: bool) -> None:
    bare = "x" * (986 - len("<@e.x>")) + "@e.x"
    msg = build(message_id=f"<{bare}>" if brackets else bare)

    assert raw_header_lines(msg, b"Message-ID") == [f"Message-ID: <{bare}>".encode()]
    assert max(len(line) for line in msg.as_bytes().split(b"\r\n")) == 998


@pytest.mark.parametrize("part", ["text", "html"])
def test_lone_surrogate_in_a_body_is_a_render_error(part: str) -> None:
    with pytest.raises(RenderError) as caught:
        build(**{part: "ok \ud83d broken"}, recipient="r-3")

    assert str(caught.value) == (
        f"recipient r-3: {part}: expected text that can be encoded as UTF-8, got '\\ud83d' at "
        "offset 3 — a lone surrogate usually comes from badly decoded input; decode recipient "
        "data with errors='replace'"
    )


def test_lone_surrogate_in_the_subject_is_replaced() -> None:
    assert parse(build(subject="ok \ud83d"))["Subject"] == "ok \ufffd"


def test_non_text_subject_is_a_render_error() -> None:
    with pytest.raises(RenderError) as caught:
        build(subject=None)

    assert (
        str(caught.value)
        == "subject: expected text, got None — pass the rendered subject as a string"
    )


def test_a_long_display_name_stays_one_quoted_name_on_the_wire() -> None:
    # CPython gh-80222: folding a long quoted display name drops its quotes, so the name's
    # commas and angle brackets would become extra recipients. Address headers stay one line.
    name = "Hugo<script>alert(1)</script> Bcc: victim@example.com javascript:alert(document.cookie)"
    message = build_message(
        subject="Hi",
        html="<p>x</p>",
        text="x",
        sender="Shop <shop@example.com>",
        to="hugo@example.com",
        to_name=name,
    )
    raw = message.as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert f'To: "{name}" <hugo@example.com>' in head.split("\r\n")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert [a.addr_spec for a in parsed["To"].addresses] == ["hugo@example.com"]
    assert email.utils.getaddresses([str(parsed["To"])]) == [(name, "hugo@example.com")]


# --- the wire form of headers ------------------------------------------------------------------


def smtplib_bytes(msg: EmailMessage) -> bytes:
    """The bytes smtplib.send_message sends: BytesGenerator without a policy, so with
    mangle_from_=True and the message's own policy."""
    out = io.BytesIO()
    BytesGenerator(out).flatten(msg, linesep="\r\n")
    return out.getvalue()


def wire_forms(msg: EmailMessage) -> list[bytes]:
    return [msg.as_bytes(), smtplib_bytes(msg)]


def parse_bytes(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


# Words and spaces where CPython's folder went wrong: spaces between non-ASCII words, runs of
# spaces, long URLs and words, ASCII next to non-ASCII, emoji (4-byte), characters that need
# an =XX escape in a 'Q' word.
HEADER_PIECES = [
    "über",
    "café",
    "€",
    "🎁",
    "👩\u200d💻",
    "Hello",
    "Anna,",
    "n°12345",
    "—",
    "https://northwind.example/sale?code=WINTER-" + "X" * 50,
    "x" * 90,
    "=",
    "?",
    "_",
    "=?",
    "中文字符",
    "Ä" * 40,
    " ",
    " ",
    "  ",
    "\u00a0",
]
header_text = st.lists(st.sampled_from(HEADER_PIECES) | st.text(max_size=12), max_size=40).map(
    "".join
)


def is_one_long_word(line: bytes) -> bool:
    """Whether a header line holds one word of printable ASCII after the name or the fold."""
    word = line[1:] if line.startswith(b" ") else line.split(b": ", 1)[1]
    return b" " not in word and b"=?" not in word


@settings(max_examples=400, deadline=None)
@given(subject=header_text, value=header_text)
def test_subject_and_header_values_round_trip_on_short_lines(subject: str, value: str) -> None:
    msg = build(subject=subject, headers={"X-Campaign": value})
    words = clean_header_text(value).split(" ")
    plain = {word for word in words if word and word.isascii() and word.isprintable()}

    for raw in wire_forms(msg):
        lines = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        assert all(len(line) <= 78 or is_one_long_word(line) for line in lines)
        assert all(len(line) <= 76 for line in lines if b"=?" in line)  # RFC 2047 §2
        (campaign,) = re.findall(rb"\r\nX-Campaign:((?:[^\r]|\r\n )*)", raw)
        assert plain <= set(campaign.decode("ascii").split())  # never encoded
        parsed = parse_bytes(raw)
        assert parsed["Subject"] == clean_header_text(subject)
        assert parsed["X-Campaign"] == clean_header_text(value)
    assert msg["Subject"] == clean_header_text(subject)


@pytest.mark.parametrize(
    "subject",
    [
        "Bonjour Anna, votre commande n°12345 a été expédiée — merci pour votre confiance !",
        "Ihre Bestellung über 25 € ist unterwegs – Grüße aus München, schöne Feiertage wünscht "
        "Ihr Team",
        "way is Jetzt! https://northwind.example/sale?code=WINTER – über you love café –",
        "x" * 75 + " über",
    ],
    ids=["space-dropped-fr", "space-dropped-de", "split-word", "long-first-word"],
)
def test_subjects_the_stdlib_folder_garbled_arrive_intact(subject: str) -> None:
    for raw in wire_forms(build(subject=subject)):
        assert parse_bytes(raw)["Subject"] == subject


def test_a_short_non_ascii_subject_is_one_encoded_word() -> None:
    assert raw_header_lines(build(subject="Grüße 🎁"), b"Subject") == [
        b"Subject: =?utf-8?b?R3LDvMOfZSDwn46B?="
    ]


def test_a_long_ascii_subject_folds_at_its_spaces_unencoded() -> None:
    subject = "Weekly deals: " + " ".join(f"item{n}" for n in range(30))

    lines = raw_header_lines(build(subject=subject), b"Subject")

    assert len(lines) == 3
    assert all(len(line) <= 78 for line in lines)
    assert b"".join(lines) == f"Subject: {subject}".encode()  # unfolding removes the CRLFs only


# An Outlook/Exchange message id: longer than the 65 characters left after "In-Reply-To: ".
OUTLOOK_ID = "<AM0PR07MB5923A1B2C3D4E5F60718293A4B5C6D7E8F@AM0PR07MB5923.eurprd07.prod.outlook.com>"
HELP_URL = "<https://northwind.example/help/mailing-lists/weekly-newsletter?ref=hdr>"
MAILGUN_VARIABLES = '{"campaign":"weekly-2026-48","recipient_id":"vip-vera","segment":"vip"}'


def test_long_ascii_words_in_extra_headers_are_never_encoded() -> None:
    # RFC 2047 §5: no encoded word in a msg-id or a URL; receivers would not decode it there,
    # which breaks threading and the List-* links. Python's parser would hide it: it decodes.
    headers = {
        "In-Reply-To": OUTLOOK_ID,
        "References": f"<a.1@example.com> {OUTLOOK_ID}",
        "List-Help": HELP_URL,
        "X-Mailgun-Variables": MAILGUN_VARIABLES,
    }
    msg = build(headers=headers)

    for raw in wire_forms(msg):
        assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
        parsed = parse_bytes(raw)
        assert {name: parsed[name] for name in headers} == headers
    assert raw_header_lines(msg, b"In-Reply-To") == [f"In-Reply-To: {OUTLOOK_ID}".encode()]
    assert raw_header_lines(msg, b"References") == [
        b"References: <a.1@example.com>",
        f" {OUTLOOK_ID}".encode(),
    ]
    assert raw_header_lines(msg, b"List-Help") == [f"List-Help: {HELP_URL}".encode()]
    assert raw_header_lines(msg, b"X-Mailgun-Variables") == [
        f"X-Mailgun-Variables: {MAILGUN_VARIABLES}".encode()
    ]


def test_only_the_non_ascii_words_of_a_header_become_encoded_words() -> None:
    value = f"Hilfe für Abonnentinnen und Abonnenten: {HELP_URL}"
    msg = build(headers={"List-Help": value})

    assert raw_header_lines(msg, b"List-Help") == [
        b"List-Help: Hilfe =?utf-8?q?f=C3=BCr?= Abonnentinnen und Abonnenten:",
        f" {HELP_URL}".encode(),
    ]
    for raw in wire_forms(msg):
        assert parse_bytes(raw)["List-Help"] == value


def test_a_run_of_non_ascii_words_is_encoded_with_its_spaces_inside() -> None:
    # Decoders drop the whitespace between two encoded words, so the run's spaces go inside.
    msg = build(subject="Your order: Grüße für München — see you")

    assert raw_header_lines(msg, b"Subject") == [
        b"Subject: Your order: =?utf-8?b?R3LDvMOfZSBmw7xyIE3DvG5jaGVuIOKAlA==?= see",
        b" you",  # 76 characters at most on a line that holds an encoded word
    ]
    assert parse(msg)["Subject"] == "Your order: Grüße für München — see you"


def test_a_subject_word_too_long_for_any_line_becomes_encoded_words() -> None:
    # Unstructured text may carry encoded words, and no line may pass 998 characters.
    subject = "Hi " + "x" * 1000

    lines = raw_header_lines(build(subject=subject), b"Subject")

    assert all(len(line) <= 76 and b"=?utf-8?" in line for line in lines)
    assert parse(build(subject=subject))["Subject"] == subject


def test_a_long_header_name_keeps_the_first_encoded_word_on_its_line() -> None:
    # A value that starts on a continuation line would read back with a leading space.
    name = "X-" + "a" * 60
    msg = build(headers={name: "Grüße aus München"})

    assert raw_header_lines(msg, name.encode())[0].startswith(f"{name}: =?utf-8?".encode())
    assert parse(msg)[name] == "Grüße aus München"


def test_a_header_set_after_build_is_folded_the_same_way() -> None:
    msg = build()
    value = " ".join(["Grüße aus München"] * 8)
    msg["X-Late"] = value

    for raw in wire_forms(msg):
        assert parse_bytes(raw)["X-Late"] == value
        assert max(len(line) for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")) <= 76


# --- display names on the wire -----------------------------------------------------------------

RU_NAME = "Анна-Мария Александровна Константинопольская"
RU_SHOP = "Магазин Подарков и Сувениров «Северное сияние»"


def phrase_of(line: bytes) -> str:
    """The display name part of a one-line address header, as on the wire."""
    return line.decode("ascii").split(": ", 1)[1].rsplit(" <", 1)[0]


def test_a_long_non_ascii_name_is_short_encoded_words_on_one_line() -> None:
    msg = build(sender=f"{RU_SHOP} <shop@example.com>", to_name=RU_NAME)

    for header, name in ((b"To", RU_NAME), (b"From", RU_SHOP)):
        (line,) = raw_header_lines(msg, header)
        words = phrase_of(line).split(" ")
        assert len(words) > 1
        assert all(word.startswith("=?utf-8?") and len(word) <= 75 for word in words)
        # RFC 2047 §6.2: decoders drop the whitespace between encoded words, so the name's
        # spaces travel inside them.
        assert str(make_header(decode_header(phrase_of(line)))) == name
    assert msg["To"].addresses == (Address(RU_NAME, "ann", "example.com"),)
    # Python's address parser keeps that whitespace too; words end after a space, so it reads
    # at most extra spaces, never a split word.
    assert " ".join(parse(msg)["To"].addresses[0].display_name.split()) == RU_NAME


names = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200) | st.lists(
    st.sampled_from(["😀", "𝔘", "Анна", "ü", " ", '"', ",", "<a@b.c>", "=?"]), max_size=150
).map("".join)


@settings(max_examples=200, deadline=None)
@given(name=names)
def test_any_display_name_is_one_address_on_one_line(name: str) -> None:
    to = "a" * 64 + "@" + "example.com"
    msg = build(to=to, to_name=name)
    (shown,) = msg["To"].addresses

    for raw in wire_forms(msg):
        (address,) = parse_bytes(raw)["To"].addresses
        assert address.addr_spec == to
    # What smtplib.send_message takes the RCPT TO addresses from.
    assert [spec for _, spec in email.utils.getaddresses([str(msg["To"])])] == [to]
    (line,) = raw_header_lines(msg, b"To")
    assert len(line) <= 998
    assert all(len(word) <= 75 for word in re.findall(rb"=\?\S*?\?=", line))
    if b"=?" in line:
        assert str(make_header(decode_header(phrase_of(line)))) == shown.display_name
    # The name as given, cleaned and cut to 120 characters (fewer if 4-byte ones overflow).
    assert clean_header_text(name)[:120].strip().startswith(shown.display_name)
    assert len(shown.display_name) >= min(100, len(clean_header_text(name)[:120].strip()))


# --- bodies on the wire ------------------------------------------------------------------------

FROM_TEXT = "Dear Ann,\nFrom all of us at Northwind: thank you!\n"
# 75 characters, then a soft break puts the 'From ' at the start of the next line.
FROM_HTML = "<td>" + "a" * 71 + "From the Northwind team</td>\n"


def test_from_at_the_start_of_a_line_survives_smtplib() -> None:
    # smtplib.send_message flattens with mangle_from_=True: a line starting 'From ' would
    # arrive as '>From '.
    raw = smtplib_bytes(build(text=FROM_TEXT, html=FROM_HTML))

    assert b"\r\n=46rom all of us" in raw
    assert b"=\r\n=46rom the Northwind team" in raw
    contents = [part.get_content() for part in parse_bytes(raw).iter_parts()]
    assert contents == [FROM_TEXT.replace("\n", "\r\n"), FROM_HTML.replace("\n", "\r\n")]


def test_quoted_printable_lines_are_at_most_76_characters() -> None:
    msg = build(html="<p>" + "ü" * 300 + "</p>", text="x" * 500)

    for raw in wire_forms(msg):
        body = raw.split(b"\r\n\r\n", 1)[1]
        assert max(len(line) for line in body.split(b"\r\n")) == 76  # RFC 2045 §6.7(5)


def crlf(body: str) -> str:
    """A body as it arrives: every line ending CRLF, a final one added."""
    body = re.sub(r"\r\n|\r|\n", "\r\n", body)
    return body if body.endswith("\r\n") else body + "\r\n"


body_text = st.lists(
    st.sampled_from(["From ", "From", "\n", "\r\n", "\r", ".", " ", "\t", "=", "ü", "🎁", "a" * 70])
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20),
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=body_text, html=body_text)
def test_bodies_round_trip_through_smtplib_on_short_lines(text: str, html: str) -> None:
    msg = build(text=text, html=html)

    for raw in wire_forms(msg):
        body = raw.split(b"\r\n\r\n", 1)[1]
        assert all(len(line) <= 76 for line in body.split(b"\r\n"))
        assert not re.search(rb"(?m)^>?From ", body)
        contents = [part.get_content() for part in parse_bytes(raw).iter_parts()]
        assert contents == [crlf(text), crlf(html)]


class Inbox:
    """An aiosmtpd handler that keeps the raw data of every message."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(envelope.original_content)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_send_message_to_a_real_smtp_server_delivers_what_was_built() -> None:
    subject = "Ihre Bestellung über 25 € ist unterwegs – Grüße aus München, schöne Feiertage"
    msg = build(subject=subject, to_name=RU_NAME, text=FROM_TEXT, html=FROM_HTML)
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        with smtplib.SMTP("127.0.0.1", controller.port, local_hostname="localhost") as smtp:
            smtp.send_message(msg)
    finally:
        controller.stop()

    (raw,) = inbox.received
    # Address headers stay on one line by design (gh-80222); every other line is short.
    assert all(len(line) <= 78 for line in raw.split(b"\r\n") if not line.startswith(b"To: "))
    received = parse_bytes(raw)
    assert received["Subject"] == subject
    assert [part.get_content() for part in received.iter_parts()] == [
        FROM_TEXT.replace("\n", "\r\n"),
        FROM_HTML.replace("\n", "\r\n"),
    ]


# --- Reply-To ----------------------------------------------------------------------------------


def test_deleting_reply_to_leaves_a_message_without_one() -> None:
    # The documented way to send without the [message] reply_to default.
    msg = build(reply_to="Help <help@example.com>")
    del msg["Reply-To"]

    assert b"Reply-To" not in header_block(msg)
    assert parse(msg)["Reply-To"] is None
