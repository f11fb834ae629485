"""Wire forms written here, not by the email package: header words, address lines, QP bodies."""

from __future__ import annotations

import base64
import itertools
import re
from email.headerregistry import Address, AddressHeader, UnstructuredHeader
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import formataddr
from typing import Any

__all__ = [
    "MAX_LINE",
    "POLICY",
    "WirePolicy",
    "address_line",
    "encoded_words",
    "fitted",
    "fold_unstructured",
    "quoted_printable",
    "text_part",
]

# RFC 5322 §2.1.1: a physical line, without its CRLF, must hold at most 998 characters and
# should hold at most 78.
MAX_LINE = 998
_FOLD_AT = 78
# RFC 2047 §2: an encoded word is at most 75 characters, a line that holds one at most 76.
_MAX_WORD = 75
_WORD_LINE = 76
_CHROME = len("=?utf-8?q??=")
# RFC 2045 §6.7(5): a quoted-printable line is at most 76 characters, soft break included.
_QP_LINE = 76

# Headers written on one line, never folded (see WirePolicy).
_ADDRESSES = frozenset({"from", "to", "reply-to"})
_VERBATIM = _ADDRESSES | {"list-unsubscribe", "list-unsubscribe-post"}
# Long enough for any real name; short enough that an address header never needs folding.
_MAX_NAME = 120

# RFC 2047 §5(3): the only characters a 'Q' word may carry unencoded inside a display name;
# unstructured headers would allow more, but one table serves both.
_Q_SAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/"
_Q_BYTES = tuple(chr(b) if b in _Q_SAFE else "_" if b == 0x20 else f"={b:02X}" for b in range(256))
# RFC 2045 §6.7: printable ASCII but '=' stays as it is, and so do space and TAB (except at the
# end of a line, see quoted_printable).
_QP_TABLE = [chr(b) if (32 <= b <= 126 and b != 61) or b == 9 else f"={b:02X}" for b in range(256)]


class WirePolicy(EmailPolicy):
    """``email.policy.SMTP`` (CRLF), except for the headers whose wire form is made here.

    - List-Unsubscribe(-Post) is written verbatim on one line while its value is one printable
      ASCII line that fits: plain ``policy.SMTP`` would fold a long URL and RFC 2047-encode it,
      which mail clients do not decode in that header. So is such a string set as From, To or
      Reply-To.
    - From, To and Reply-To holding addresses are written on one line by
      :func:`address_line`, never folded: folding a long quoted display name drops its quotes
      (CPython gh-80222, unfixed in 3.11.7), turning ``"Eve, x@y.z" <a@b.c>`` into two
      recipients.
    - Unstructured headers (Subject, X-…) are folded by :func:`fold_unstructured`: the stdlib
      folder drops the space between two encoded words (CPython gh-144156) and can split an
      encoded word, even its ``?=``, across lines (3.6 through 3.13.0 at least).
    """

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        stored = super().header_store_parse(name, value)
        # Keep the raw string: the header objects would decode '=?…?=' sequences in a URL.
        return (name, value) if _verbatim(name, value) else stored

    def fold(self, name: str, value: Any) -> str:
        lines = _own_lines(name, value)
        if lines is None:
            folded: str = super().fold(name, value)
            return folded
        return self.linesep.join(lines) + self.linesep

    def fold_binary(self, name: str, value: Any) -> bytes:
        lines = _own_lines(name, value)
        if lines is None:
            return super().fold_binary(name, value)
        return (self.linesep.join(lines) + self.linesep).encode("ascii")


POLICY = WirePolicy(linesep="\r\n")


def _verbatim(name: str, value: Any) -> bool:
    return (
        name.lower() in _VERBATIM
        and type(value) is str
        and value.isascii()
        and value.isprintable()
        and len(name) + 2 + len(value) <= MAX_LINE
    )


def _own_lines(name: str, value: Any) -> list[str] | None:
    if _verbatim(name, value):
        return [f"{name}: {value}"]
    if isinstance(value, UnstructuredHeader):
        lines = fold_unstructured(name, str(value))
        if max(map(len, lines)) <= MAX_LINE:
            return lines
        # A word too long for any line (build_message refuses one in an extra header): an
        # unstructured header such as Subject may carry it as encoded words.
        return _encoded_lines(name, str(value))
    if (
        name.lower() in _ADDRESSES
        and isinstance(value, AddressHeader)
        and all(group.display_name is None for group in value.groups)
    ):
        line = f"{name}: " + ", ".join(address_line(name, a) for a in value.addresses)
        if len(line) <= MAX_LINE:
            return [line]
    return None


def fold_unstructured(name: str, value: str) -> list[str]:
    """The physical lines of an unstructured header such as Subject, without line breaks.

    Words (the text between single spaces) of printable ASCII are written as they are: RFC 2047
    §5 allows no encoded word in a msg-id or a URL, which extra headers such as In-Reply-To or
    List-Help hold. They are folded at spaces into lines of at most 78 characters; a longer
    word takes a line of its own, except the first, which always shares the name's line (a
    parser keeps a space that would start the value). So a line exceeds 998 characters only
    when a word or the name is that long: callers check.

    A run of other words (non-ASCII, controls, ``=?``) becomes encoded words on lines of at
    most 76 characters, the run's spaces inside them: decoders drop whitespace *between*
    encoded words, and keep it between an encoded word and a plain one. A value with spaces at
    its ends or two in a row is encoded whole.
    """
    head = f"{name}:"
    if not value:
        return [head]
    words = value.split(" ")
    if "" in words:
        return _encoded_lines(name, value)
    lines = [head]
    limit = _FOLD_AT  # of the last line: 76 once it holds an encoded word
    for plain, run in itertools.groupby(words, key=_plain):
        if plain:
            for word in run:
                if lines[-1] != head and len(lines[-1]) + 1 + len(word) > limit:
                    lines.append("")
                    limit = _FOLD_AT
                lines[-1] += f" {word}"
            continue
        text = " ".join(run)
        room = _WORD_LINE - len(lines[-1]) - 1
        encoded = encoded_words(text, first=room)
        if lines[-1] != head and (len(encoded) > 1 or len(encoded[0]) > room):
            # A run that does not fit starts a line rather than be cut where this one ends.
            lines.append("")
            encoded = encoded_words(text)
        lines[-1] += f" {encoded[0]}"
        lines += [f" {word}" for word in encoded[1:]]
        limit = _WORD_LINE
    return lines


def _encoded_lines(name: str, value: str) -> list[str]:
    """The lines of an unstructured header whose whole value is encoded words, one per line."""
    head = f"{name}:"
    words = encoded_words(value, first=_WORD_LINE - len(head) - 1)
    return [f"{head} {words[0]}", *(f" {word}" for word in words[1:])]


def _plain(word: str) -> bool:
    return word.isascii() and word.isprintable() and "=?" not in word


def encoded_words(text: str, *, first: int = _MAX_WORD, rest: int = _MAX_WORD) -> list[str]:
    """``text`` as UTF-8 RFC 2047 words, the first at most ``first`` characters long, the rest
    at most ``rest``; split between characters, never inside one or inside an ``=XX``.

    'Q' or 'B', whichever is shorter for the whole text (as ``email.header`` chooses). A word
    holds at least one character, so a ``first`` below 24 can be exceeded.
    """
    q = _use_q(text)
    return [_word(chunk, q=q) for chunk in _split(text, q=q, first=first, rest=rest)]


def _use_q(text: str) -> bool:
    return _payload(text, q=True) <= _payload(text, q=False)


def _payload(text: str, *, q: bool) -> int:
    """The length of ``text`` encoded, without the ``=?utf-8?q?`` and ``?=`` around it."""
    data = text.encode("utf-8", "replace")
    return sum(len(_Q_BYTES[b]) for b in data) if q else 4 * -(-len(data) // 3)


def _split(text: str, *, q: bool, first: int, rest: int) -> list[str]:
    chunks: list[str] = []
    start = size = count = 0  # count: bytes since start
    room = first - _CHROME
    for index, char in enumerate(text):
        piece = char.encode("utf-8", "replace")
        cost = sum(len(_Q_BYTES[b]) for b in piece) if q else 0
        grown = size + cost if q else 4 * -(-(count + len(piece)) // 3)
        if index > start and grown > room:
            chunks.append(text[start:index])
            start, count, room = index, 0, rest - _CHROME
            grown = cost if q else 4 * -(-len(piece) // 3)
        size = grown
        count += len(piece)
    chunks.append(text[start:])
    return chunks


def _word(text: str, *, q: bool) -> str:
    data = text.encode("utf-8", "replace")
    if q:
        return "=?utf-8?q?" + "".join(_Q_BYTES[b] for b in data) + "?="
    return "=?utf-8?b?" + base64.b64encode(data).decode("ascii") + "?="


def _phrase(name: str) -> str:
    """A display name as encoded words of at most 75 characters, on one line.

    Words end after a space where one fits: Python's address parser keeps the whitespace
    between two encoded words (RFC 2047 §6.2 says to drop it, as mail clients do), so there it
    reads a double space, which beats a space inside a word. A run without spaces too long for
    one word is split inside, where that parser reads a space the name does not have.
    """
    q = _use_q(name)
    chunks: list[str] = []
    for piece in re.findall(r"[^ ]+ *| +", name):
        if chunks and _CHROME + _payload(chunks[-1] + piece, q=q) <= _MAX_WORD:
            chunks[-1] += piece
        elif _CHROME + _payload(piece, q=q) <= _MAX_WORD:
            chunks.append(piece)
        else:
            chunks += _split(piece, q=q, first=_MAX_WORD, rest=_MAX_WORD)
    return " ".join(_word(chunk, q=q) for chunk in chunks)


def fitted(header: str, address: Address) -> Address:
    """``address`` with its display name cut to what one header line holds.

    That is 120 characters, and fewer for a name of many 4-byte characters whose encoded words
    would take the line past 998, so the policy can always write it verbatim and unfolded.
    """
    name = address.display_name[:_MAX_NAME].strip()
    room = MAX_LINE - len(f"{header}: <{address.addr_spec}>") - 1
    while not name.isascii() and len(_phrase(name)) > room:
        name = name[:-1].rstrip()
    if name == address.display_name:
        return address
    return Address(name, address.username, address.domain)


def address_line(header: str, address: Address) -> str:
    """An address header's value on one line: the display name quoted, or encoded words."""
    address = fitted(header, address)
    name, spec = address.display_name, address.addr_spec
    if not name:
        return spec
    if name.isascii():
        # formataddr quotes a name with specials and escapes its quotes and backslashes.
        return formataddr((name, spec))
    return f"{_phrase(name)} <{spec}>"


def quoted_printable(text: str) -> str:
    """``text`` as UTF-8 quoted-printable with ``\\n`` line ends and a final newline.

    Lines are at most 76 characters (``email``'s encoder makes 78). A line that would start
    with ``From `` starts with ``=46rom `` instead, soft breaks included: ``smtplib``'s
    ``send_message`` flattens with ``mangle_from_=True`` and would deliver ``>From ``.
    """
    out: list[str] = []
    for raw in text.encode("utf-8").splitlines() or [b""]:
        line = raw.decode("latin-1").translate(_QP_TABLE)
        if line[-1:] in (" ", "\t"):  # trailing whitespace may be stripped in transit
            line = f"{line[:-1]}={ord(line[-1]):02X}"
        if len(line) <= _QP_LINE and not line.startswith("From "):
            out.append(line)
        else:
            _wrap(line, out)
    out.append("")
    return "\n".join(out)


def _wrap(line: str, out: list[str]) -> None:
    start = 0
    while True:
        if line.startswith("From ", start):
            line = f"{line[:start]}=46{line[start + 1 :]}"
        if len(line) - start <= _QP_LINE:
            out.append(line[start:])
            return
        stop = start + _QP_LINE - 1
        # Every '=' starts an escape: never cut one apart.
        if line[stop - 2] == "=":
            stop -= 2
        elif line[stop - 1] == "=":
            stop -= 1
        out.append(f"{line[start:stop]}=")
        start = stop


def text_part(body: str, *, subtype: str) -> EmailMessage:
    """A ``text/<subtype>`` part, UTF-8 and :func:`quoted_printable`.

    Built by hand: ``set_content`` would encode with the email package's encoder instead.
    """
    part = EmailMessage(policy=POLICY)
    part["Content-Type"] = f"text/{subtype}"
    part.set_param("charset", "utf-8")
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(quoted_printable(body))
    return part
