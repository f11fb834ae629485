"""Header values for MIME assembly: text cleaned for one line, extra headers, List-Unsubscribe."""

from __future__ import annotations

import re
import types
from collections.abc import Mapping, Sequence

from .errors import ConfigError, RecipientError, short_repr
from .mimeencode import MAX_LINE, fold_unstructured

__all__ = ["clean_header_text", "extra_headers", "list_unsubscribe_headers"]


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

_HEADER_NAME = re.compile(r"[A-Za-z0-9-]+")
# A name is never folded: with ': ' it fits the 78 characters RFC 5322 §2.1.1 asks of a line.
_MAX_HEADER_NAME = 76
# Printable ASCII without space, '<' and '>': what may stand between List-Unsubscribe's brackets.
_URL_CHARS = re.compile(r"[!-;=?-~]+")
_UNSUBSCRIBE_URL = re.compile(r"(?i:https://[^/?#]+(?:[/?#].*)?|mailto:.+)")

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


def extra_headers(headers: Mapping[str, str]) -> list[tuple[str, str]]:
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


def list_unsubscribe_headers(
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
