"""MIME assembly: a rendered email becomes an ``EmailMessage`` that is safe to hand to SMTP."""

from __future__ import annotations

import datetime
import re
import types
from collections.abc import Mapping, Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, localtime, make_msgid

from .addresses import NAMED_ADDRESS, SEVERAL_ADDRESSES, address_problem
from .errors import ConfigError, PersonalizeError, RecipientError, RenderError, short_repr
from .messageheaders import clean_header_text, extra_headers, list_unsubscribe_headers
from .mimeencode import MAX_LINE, POLICY, fitted, text_part

__all__ = ["build_message", "clean_header_text", "parse_address"]


_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_NAME_ADDR = re.compile(r'(?P<name>"(?:[^"\\]|\\.)*"\s*|[^<>]*)<(?P<addr>[^<>]*)>', re.DOTALL)
_MSG_ID = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@{_ATEXT}(?:\.{_ATEXT})*")
_MAX_MESSAGE_ID = MAX_LINE - len("Message-ID: ")

_EXAMPLES = types.MappingProxyType({"to": "'Ann Lee <ann@example.com>'"})
# Several addresses where one is expected: what to do instead, for the headers that are no To.
_ONE_ADDRESS = types.MappingProxyType(
    {
        "sender": "give a single address: From names one sender (replies can go elsewhere "
        "through reply_to)",
        "reply_to": "give a single address: Reply-To takes one here; for replies to reach "
        "several people, use a shared mailbox or list address",
    }
)


def parse_address(value: str | Address, *, role: str, recipient: str | None = None) -> Address:
    """Parse exactly one email address into an ``Address`` with a cleaned display name.

    Args:
        value: ``"Shop <shop@example.com>"``, ``'"Doe, Jo" <jo@example.com>'``,
            ``"shop@example.com"`` or an ``Address``.
        role: What the address is for: ``"sender"``, ``"reply_to"`` or ``"to"``; it names the
            field in errors.
        recipient: The recipient id, for errors.

    Returns:
        A new ``Address``; the display name went through :func:`clean_header_text`.

    Raises:
        RecipientError: For role ``"to"`` (path ``email``) when ``value`` is not one valid
            address. Only plain ASCII addresses (dot-atom local part, host-name domain) pass.
        ConfigError: Likewise for any other role (path ``role``).
    """
    name, spec = "", ""
    if isinstance(value, Address):
        name, spec = value.display_name, f"{value.username}@{value.domain}"
    elif isinstance(value, str):
        text = value.strip()
        pair = _NAME_ADDR.fullmatch(text)
        name, spec = (pair["name"].strip(), pair["addr"].strip()) if pair else ("", text)
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = re.sub(r"\\(.)", r"\1", name[1:-1], flags=re.DOTALL)
    # The same rules as the `email` field type's, but for a domain without a dot.
    problem = address_problem(spec, dotted=False)
    if problem is not None:
        raise _address_error(value, spec, problem, role=role, recipient=recipient)
    local, _, domain = spec.rpartition("@")
    return Address(display_name=clean_header_text(name), username=local, domain=domain)


def _address_error(
    value: object, spec: str, problem: str, *, role: str, recipient: str | None
) -> PersonalizeError:
    example = _EXAMPLES.get(role, "'Shop <shop@example.com>'")
    message = f"expected one email address such as {example}, got {short_repr(value)}"
    # A name and an address that did not parse as such: say which forms do.
    unread = not spec or problem == NAMED_ADDRESS
    hint = "write 'Name <user@example.com>' or 'user@example.com'" if unread else problem
    if problem == SEVERAL_ADDRESSES:
        hint = _ONE_ADDRESS.get(role, problem)
    if role == "to":
        return RecipientError(message, recipient=recipient, path="email", hint=hint)
    return ConfigError(message, path=role, hint=hint)


def build_message(
    *,
    subject: str,
    html: str,
    text: str,
    sender: str | Address,
    to: str | Address,
    to_name: str | None = None,
    reply_to: str | Address | None = None,
    headers: Mapping[str, str] | None = None,
    list_unsubscribe: str | Sequence[str] | None = None,
    date: datetime.datetime | None = None,
    message_id: str | None = None,
    recipient: str | None = None,
) -> EmailMessage:
    """Assemble a ``multipart/alternative`` message: text part first, then HTML, both UTF-8.

    Both parts are quoted-printable, so the message is 7-bit clean with lines of at most 76
    characters; their line endings become CRLF on the wire and a missing final newline is
    added. The subject and all extra header values pass through :func:`clean_header_text`;
    addresses are built as ``Address`` objects, so a display name can never add a recipient.
    The wire form of headers and parts is made by :mod:`personalize.mimeencode`.

    Args:
        subject: The rendered subject.
        html: The rendered, CSS-inlined HTML.
        text: The plain-text part.
        sender: The From address, e.g. ``"Shop <shop@example.com>"``.
        to: The recipient's address.
        to_name: A display name for ``to`` from recipient data; replaces the one in ``to``.
        reply_to: An optional Reply-To address.
        headers: Extra headers such as ``{"X-Campaign": "weekly"}``; names are at most 76
            letters, digits and ``-``, and none of the headers this function sets, nor
            ``Resent-*``. Printable ASCII words in a value are never encoded or split, so each
            must fit on a line of 998 characters.
        list_unsubscribe: One or more ``https:`` or ``mailto:`` URLs. An https URL also adds
            ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058).
        date: An aware datetime for the Date header, its UTC offset in whole minutes; the
            local time now when omitted.
        message_id: A Message-ID (``<id@domain>``, at most 986 characters); generated in the
            sender's domain when omitted.
        recipient: The recipient id, only used in error messages.

    Returns:
        The message. ``msg.as_bytes()`` and ``smtplib``'s ``send_message`` serialize it with its
        own policy; passing another policy (e.g. ``policy=email.policy.SMTP``) would fold
        List-Unsubscribe and the Subject with the email package's folder again. ``del
        msg["Reply-To"]`` leaves a message without Reply-To.

    Raises:
        ConfigError: A bad sender, reply_to, headers, date or message_id (including one of
            the wrong type).
        RecipientError: A bad ``to`` address (path ``email``), or unsubscribe URL or URLs
            (path ``list_unsubscribe``).
        RenderError: ``html`` or ``text`` cannot be encoded as UTF-8 (a lone surrogate).
    """
    from_address = parse_address(sender, role="sender")
    to_address = parse_address(to, role="to", recipient=recipient)
    if to_name is not None:
        if not isinstance(to_name, str):
            raise RecipientError(
                f"expected text for the display name, got {short_repr(to_name)}",
                recipient=recipient,
                path="to_name",
                hint="pass a string, or None for no name",
            )
        name = clean_header_text(to_name)
        if name:
            to_address = Address(name, to_address.username, to_address.domain)
    extra = extra_headers(headers if headers is not None else {})
    unsubscribe = list_unsubscribe_headers(list_unsubscribe, recipient=recipient)
    for part, body in (("subject", subject), ("text", text), ("html", html)):
        _check_text(body, part=part, recipient=recipient)

    msg = EmailMessage(policy=POLICY)
    # Address objects, so that msg["To"] reads back the name as given (the policy writes it).
    msg["From"] = fitted("From", from_address)
    msg["To"] = fitted("To", to_address)
    if reply_to is not None:
        msg["Reply-To"] = fitted("Reply-To", parse_address(reply_to, role="reply_to"))
    msg["Subject"] = clean_header_text(subject)
    msg["Date"] = _date(date)
    msg["Message-ID"] = _message_id(message_id, domain=from_address.domain, recipient=recipient)
    for name, value in (*unsubscribe, *extra):
        msg[name] = value
    msg["MIME-Version"] = "1.0"
    msg["Content-Type"] = "multipart/alternative"
    msg.attach(text_part(text, subtype="plain"))
    msg.attach(text_part(html, subtype="html"))
    return msg


def _check_text(value: str, *, part: str, recipient: str | None) -> None:
    if not isinstance(value, str):
        raise RenderError(
            f"expected text, got {short_repr(value)}",
            recipient=recipient,
            path=part,
            hint=f"pass the rendered {part} as a string",
        )
    if part == "subject":
        return  # clean_header_text replaces lone surrogates in headers
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RenderError(
            f"expected text that can be encoded as UTF-8, got {short_repr(value[exc.start])} "
            f"at offset {exc.start}",
            recipient=recipient,
            path=part,
            hint="a lone surrogate usually comes from badly decoded input; "
            "decode recipient data with errors='replace'",
        ) from None


def _date(date: object) -> str:
    if date is None:
        return format_datetime(localtime())
    if not isinstance(date, datetime.datetime) or (offset := date.utcoffset()) is None:
        hint = "pass e.g. datetime.now(timezone.utc) or the project's now"
        if isinstance(date, str):
            hint = "parse the text first, e.g. with datetime.fromisoformat()"
        raise ConfigError(
            f"expected a timezone-aware datetime, got {short_repr(date)}", path="date", hint=hint
        )
    # Only local mean time (zoneinfo before ~1900) or a hand-made zone has seconds in its offset:
    # never a real send time, so an error rather than a silent shift. format_datetime would
    # write '+053015', which no parser reads: the Date header would arrive empty.
    if offset % datetime.timedelta(minutes=1):
        raise ConfigError(
            f"expected a UTC offset in whole minutes, got {date.isoformat()!r}",
            path="date",
            hint="the Date header has no seconds in its offset; pass date.astimezone(timezone.utc)",
        )
    return format_datetime(date)


def _message_id(message_id: str | None, *, domain: str, recipient: str | None) -> str:
    if message_id is None:
        return make_msgid(domain=domain)
    bare = message_id
    if isinstance(bare, str) and bare.startswith("<") and bare.endswith(">"):
        bare = bare[1:-1]
    if not isinstance(bare, str) or not _MSG_ID.fullmatch(bare) or "=?" in bare:
        raise ConfigError(
            f"expected a Message-ID such as '<abc.123@example.com>', got {short_repr(message_id)}",
            recipient=recipient,
            path="message_id",
            hint="leave message_id=None to generate a unique one",
        )
    if len(bare) + 2 > _MAX_MESSAGE_ID:
        raise ConfigError(
            f"expected a Message-ID of at most {_MAX_MESSAGE_ID} characters, so that its header "
            f"fits on one line of {MAX_LINE}, got {len(bare) + 2}",
            recipient=recipient,
            path="message_id",
            hint="shorten the part before the '@', e.g. a hash or a counter instead of "
            "recipient data, or leave message_id=None to generate one",
        )
    return f"<{bare}>"
