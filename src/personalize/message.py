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
from .mimeencode import MAX_LINE, POLICY, fitted, fold_unstructured, text_part

__all__ = ["build_message", "clean_header_text", "parse_address"]


def _translation() -> Mapping[int, str | None]:
    table: dict[int, str | None] = {}
    for code in (*range(0x20), 0x7F, *range(0x80, 0xA0)):
        # Controls that separate words (TAB, LF, CR, ..., NEL) keep the words apart.
        table[code] = " " if chr(code).isspace() else None
    table.update({0x2028: " ", 0x2029: " "})
    for code in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)):
        table[code] = None
    # A lone surrogate cannot be encoded at all; show it as the replacement character.
    table.update(dict.fromkeys(range(0xD800, 0xE000), "\ufffd"))
    return types.MappingProxyType(table)


_HEADER_TRANSLATION = _translation()
_WHITESPACE_RUN = re.compile(r"\s{2,}")

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_NAME_ADDR = re.compile(r'(?P<name>"(?:[^"\\]|\\.)*"\s*|[^<>]*)<(?P<addr>[^<>]*)>', re.DOTALL)
_MSG_ID = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@{_ATEXT}(?:\.{_ATEXT})*")
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]+")
# A name is never folded: with ': ' it fits the 78 characters RFC 5322 §2.1.1 asks of a line.
_MAX_HEADER_NAME = 76
_MAX_MESSAGE_ID = MAX_LINE - len("Message-ID: ")
# Printable ASCII without space, '<' and '>': what may stand between List-Unsubscribe's brackets.
_URL_CHARS = re.compile(r"[!-;=?-~]+")
_UNSUBSCRIBE_URL = re.compile(r"(?i:https://[^/?#]+(?:[/?#].*)?|mailto:.+)")

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
_RESERVED = types.MappingProxyType(
    {
        "from": "pass it as sender=",
        "to": "pass it as to= (and to_name=)",
        "reply-to": "pass it as reply_to=",
        "subject": "pass it as subject=",
        "date": "pass it as date=",
        "message-id": "pass it as message_id=",
        "mime-version": "it is derived from the text and html parts",
        "cc": "send one message per recipient instead",
        "bcc": "send one message per recipient instead",
        "sender": "pass the address as sender=",
    }
)
# smtplib.send_message takes the envelope from Resent-* headers when there is a Resent-Date.
_RESENT = "Resent-* headers pass on a received message, and smtplib would send to their addresses"


def clean_header_text(value: str) -> str:
    """Make text safe to put into a header: one line, no invisible or reordering characters.

    The cleaning is documented stripping, never an error:

    - TAB, CR, LF, VT, FF, NEL, the other whitespace controls, U+2028 and U+2029 become spaces;
    - every other C0 and C1 control character and DEL (NUL, BEL, ESC, …) is removed;
    - the bidi controls U+202A–U+202E, U+2066–U+2069, U+200E, U+200F and U+061C are removed;
    - a lone surrogate becomes U+FFFD;
    - a run of two or more whitespace characters becomes one space (a single no-break space
      stays), and whitespace at both ends is stripped;
    - ``=?`` becomes ``=\\u200b?`` (a zero-width space in between): Python's ``email`` package
      decodes RFC 2047 encoded words (``=?utf-8?q?…?=``) on the way in and writes the decoded
      text out raw, so an encoded word could otherwise smuggle CR/LF into the header.

    Args:
        value: Any text, e.g. a rendered subject or a recipient's name.

    Returns:
        The cleaned text; cleaning it again changes nothing.
    """
    # Fast path (subjects render per recipient): printable ASCII, single spaces, no `=?`.
    if (
        value.isascii()
        and value.isprintable()
        and "  " not in value
        and "=?" not in value
        and value == value.strip()
    ):
        return value
    text = _WHITESPACE_RUN.sub(" ", value.translate(_HEADER_TRANSLATION)).strip()
    return text.replace("=?", "=\u200b?")


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
    extra = _extra_headers(headers if headers is not None else {})
    unsubscribe = _list_unsubscribe(list_unsubscribe, recipient=recipient)
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


def _extra_headers(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    if not isinstance(headers, Mapping):
        raise ConfigError(
            f"expected a mapping of header names to values, got {short_repr(headers)}",
            path="headers",
            hint="pass a dict such as {'X-Campaign': 'weekly'}",
        )
    extra: list[tuple[str, str]] = []
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise ConfigError(
                f"expected a header name of letters, digits and '-', got {short_repr(name)}",
                path="headers",
                hint="use a name such as 'X-Campaign'",
            )
        if len(name) > _MAX_HEADER_NAME:
            raise ConfigError(
                f"expected a header name of at most {_MAX_HEADER_NAME} characters, got "
                f"{len(name)}: {short_repr(name, 30)}",
                path="headers",
                hint="a name is never folded, and header lines should be at most 78 characters "
                "(RFC 5322); use a name such as 'X-Campaign'",
            )
        key = name.lower()
        reason = _RESERVED.get(key)
        if reason is None and key.startswith("content-"):
            reason = "it is derived from the text and html parts"
        if reason is None and key.startswith("list-unsubscribe"):
            reason = "pass the URLs as list_unsubscribe="
        if reason is None and key.startswith("resent-"):
            reason = _RESENT
        if reason is not None:
            raise ConfigError(
                f"header {name!r} is set by build_message and cannot be an extra header",
                path=f"headers.{name}",
                hint=reason,
            )
        if not isinstance(value, str):
            raise ConfigError(
                f"expected text as the header value, got {short_repr(value)}",
                path=f"headers.{name}",
                hint="quote the value so that it is a string",
            )
        text = clean_header_text(value)
        longest = max(len(line) for line in fold_unstructured(name, text))
        if longest > MAX_LINE:
            raise ConfigError(
                f"expected each word of the value (the text between spaces) to fit on a header "
                f"line of {MAX_LINE} characters, got one that needs {longest}",
                path=f"headers.{name}",
                hint="shorten it, e.g. carry a short token instead of recipient data: printable "
                "ASCII is never split or encoded, since a message id or URL must stay whole",
            )
        extra.append((name, text))
    return extra


def _list_unsubscribe(
    urls: str | Sequence[str] | None, *, recipient: str | None
) -> list[tuple[str, str]]:
    if urls is None:
        return []
    if not isinstance(urls, str | Sequence) or isinstance(urls, bytes | bytearray | memoryview):
        raise RecipientError(
            f"expected a URL or a list of URLs, got {short_repr(urls)}",
            recipient=recipient,
            path="list_unsubscribe",
            hint="pass a string such as 'https://example.com/u?t=abc', or a list of them",
        )
    items: list[str] = []
    for url in [urls] if isinstance(urls, str) else urls:
        if not isinstance(url, str):
            raise RecipientError(
                f"expected each URL to be text, got {short_repr(url)}",
                recipient=recipient,
                path="list_unsubscribe",
                hint="pass each URL as a string, such as 'https://example.com/u?t=abc'",
            )
        if not _URL_CHARS.fullmatch(url):
            raise RecipientError(
                "expected a URL without whitespace, control or non-ASCII characters, '<' or '>', "
                f"got {short_repr(url)}",
                recipient=recipient,
                path="list_unsubscribe",
                hint="percent-encode those characters (e.g. ' ' as %20) when building the URL",
            )
        if not _UNSUBSCRIBE_URL.fullmatch(url):
            raise RecipientError(
                f"expected an https: or mailto: URL, got {short_repr(url)}",
                recipient=recipient,
                path="list_unsubscribe",
                hint="one-click unsubscribe (RFC 8058) needs an https:// URL; mailto: also works",
            )
        # As for addresses: '=?' could start an encoded word, which the email package decodes
        # when the header is read back (msg[...], items(), a parsed copy), CR/LF included.
        if "=?" in url:
            raise RecipientError(
                f"expected a URL without '=?', got {short_repr(url)}",
                recipient=recipient,
                path="list_unsubscribe",
                hint="percent-encode the '?' (write '=%3F') when building the URL: '=?' starts "
                "an RFC 2047 encoded word, which mail software decodes",
            )
        items.append(url)
    if not items:
        return []
    value = ", ".join(f"<{url}>" for url in items)
    length = len("List-Unsubscribe: ") + len(value)
    if length > MAX_LINE:
        raise RecipientError(
            f"expected the List-Unsubscribe header to fit on one line of {MAX_LINE} characters, "
            f"got {length}",
            recipient=recipient,
            path="list_unsubscribe",
            hint="shorten the URL, e.g. carry a short token instead of recipient data",
        )
    found = [("List-Unsubscribe", value)]
    if any(url[:6].lower() == "https:" for url in items):
        found.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    return found


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
