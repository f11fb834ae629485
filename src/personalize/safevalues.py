"""URL and CSS values from data, checked for where they land in an email's HTML."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal
from enum import IntEnum
from functools import lru_cache
from urllib.parse import quote, urlsplit

from .errors import RecipientError, short_repr

__all__ = [
    "PLAIN_URL",
    "URL_ATTRIBUTES",
    "URL_LISTS",
    "Spot",
    "check_url_part",
    "checked_url",
    "clear_caches",
    "css_url",
    "list_parts",
    "part_at",
    "spot_after",
    "validate_css_value",
]

# The attributes a browser reads as a URL, or (URL_LISTS) as a list of them: srcset's image
# candidates (a URL, then descriptors up to a comma), ping's URLs. restore checks tokens in them
# at render; markupcheck refuses literal script URLs in them at load.
URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "poster", "cite", "longdesc", "usemap"}
    | {"xlink:href", "background", "srcset", "imagesrcset", "data", "ping", "manifest"}
    | {"codebase", "dynsrc", "lowsrc"}  # the last two: old IE image and video sources
)
URL_LISTS = frozenset({"srcset", "imagesrcset", "ping"})

_CACHE = 8192
_URL_SCHEMES = frozenset({"http", "https", "mailto"})
# C0, space, DEL, C1 and Unicode whitespace: browsers drop tabs and newlines inside a scheme.
_URL_FORBIDDEN = re.compile(r"[\x00-\x20\x7f-\x9f]|\s")
_URL_HINT = "only http, https and mailto links may come from data"

_NUM = r"[+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)"
_ARG = rf"{_NUM}(?:%|deg)?"
_CSS_TOKEN = (
    r"(?>"
    r"#(?:[0-9a-fA-F]{8}|[0-9a-fA-F]{6}|[0-9a-fA-F]{3})"
    rf"|(?i:rgba?|hsla?)\( *{_ARG}(?: *, *{_ARG}| +{_ARG}){{2}}(?:(?: *[,/] *| +){_ARG})? *\)"
    rf"|{_NUM}(?:px|em|rem|pt|%)?"
    r"|-{0,2}[^\W\d_](?:[^\W_]|-)*"
    r")(?![^ ,])"
)
_CSS_VALUE = re.compile(rf"{_CSS_TOKEN}(?:(?: *, *| +){_CSS_TOKEN})*")
_CSS_HINT = "only colors, lengths and plain keywords may come from data"
# What could end a CSS url('…') (quoted either way, or not) or escape from it: quotes,
# parentheses, the backslash, whitespace and control characters. Percent-encoded, they are
# plain text to CSS, and web servers read them as the characters they stand for.
_URL_ENDS = re.compile(r"['\"()\\\x00-\x20\x7f-\x9f]|\s")
# Beyond float's range (1e-324 to 1e308) a number is no CSS value: left with its exponent.
_MAX_EXPONENT = 400


# An http(s) URL of the usual shape: a host of ASCII letters, digits, dots and hyphens, maybe a
# port, then printable ASCII. The checks below accept every such URL unchanged (tested), and
# this pattern tells so in ~0.5 µs, where urlsplit and the checks take ~2: a send checks a few
# new URLs per recipient (their links carry the recipient's id).
PLAIN_URL = re.compile(r"(?i:https?)://[A-Za-z0-9][A-Za-z0-9.-]*+(?::[0-9]{1,5})?(?:[/?#][!-~]*+)?")


@lru_cache(maxsize=_CACHE, typed=True)  # typed: a Markup result must never answer a plain str
def checked_url(value: str) -> str:
    """``value`` stripped, if it is an absolute http, https or mailto URL with a host (mailto:
    an address); else a ``RecipientError`` that names the value and says why."""
    return value if PLAIN_URL.fullmatch(value) else _checked_in_full(value)


def _checked_in_full(value: str) -> str:
    url = value.strip()
    if _URL_FORBIDDEN.search(url):
        raise RecipientError(
            f"expected a URL without whitespace or control characters, got {short_repr(value)}",
            hint="percent-encode spaces as %20 and remove control characters",
        )
    # Bidi controls and zero-width characters (category Cf) make a link read differently from
    # where it goes: 'https://example.com/\u202egpj.exe' shows as '…exe.jpg'.
    if not url.isascii() and any(unicodedata.category(char) == "Cf" for char in url):
        raise RecipientError(
            f"expected a URL without invisible formatting characters, got {short_repr(value)}",
            hint="remove bidi controls and zero-width characters such as U+202E and U+200B",
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise RecipientError(
            f"expected a valid URL, got {short_repr(value)}", hint=_URL_HINT
        ) from exc
    if not parts.scheme:
        raise RecipientError(
            f"expected an absolute http(s) or mailto URL, got {short_repr(value)}",
            hint="write the full address, starting with https://",
        )
    if parts.scheme not in _URL_SCHEMES:
        raise RecipientError(
            f"URL scheme {parts.scheme!r} is not allowed, got {short_repr(value)}", hint=_URL_HINT
        )
    if parts.scheme == "mailto" and not parts.path:
        raise RecipientError(
            f"expected an address after 'mailto:', got {short_repr(value)}",
            hint="write 'mailto:name@example.com'",
        )
    if parts.scheme != "mailto" and not host:
        raise RecipientError(
            f"expected a host name in the URL, got {short_repr(value)}",
            hint="write the full address, such as 'https://example.com/'",
        )
    return url


def validate_css_value(value: object) -> str:
    """Return ``value`` stripped, if it is safe inside ``style="…"`` or ``<style>``.

    Allowed: hex colors (``#abc``, ``#aabbcc``, ``#aabbccdd``), ``rgb()``/``rgba()``/``hsl()``/
    ``hsla()`` with numeric arguments, numbers with an optional unit (``px em rem pt %``),
    keywords and font names, separated by spaces or commas. Numbers are accepted as text, in
    fixed-point form (``1e-07`` becomes ``0.0000001``).

    Args:
        value: A CSS value from recipient or catalog data.

    Raises:
        RecipientError: For anything else (``;``, ``:``, quotes, ``\\``, comments, ``url(``…).
    """
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        if isinstance(value, int) and not -(10**_MAX_EXPONENT) < value < 10**_MAX_EXPONENT:
            # No CSS length has 400 digits; str() would fail past 4,300 of them anyway.
            raise RecipientError(
                f"unsafe CSS value, got {short_repr(value)}", hint="check the recipient's data"
            )
        text = str(value)
        # str() writes tiny and huge floats, and some Decimals, with an exponent, which the
        # check refuses. Written out in full up to float's range; 'inf' and 'nan' have no 'e'.
        if ("e" in text or "E" in text) and abs(Decimal(text).adjusted()) <= _MAX_EXPONENT:
            text = format(Decimal(text), "f")
        value = text
    if not isinstance(value, str):
        raise RecipientError(
            f"expected a CSS value as text, got {short_repr(value)}", hint=_CSS_HINT
        )
    return _checked_css(value)


@lru_cache(maxsize=_CACHE, typed=True)
def _checked_css(value: str) -> str:
    text = value.strip()
    if not text:
        raise RecipientError(
            f"expected a CSS value, got {short_repr(value)}",
            hint="put default(...) before css for optional values",
        )
    if not _CSS_VALUE.fullmatch(text):
        raise RecipientError(f"unsafe CSS value, got {short_repr(value)}", hint=_CSS_HINT)
    return text


# Where a token continues a link that the template began (``restore`` decides), what keeps the
# link's host the one the template wrote. Browsers drop tabs and newlines anywhere in a URL and
# read a backslash as a slash in http(s) URLs; srcset and ping split their lists at spaces
# first. Each place: refused(the value's text, references decoded), message, hint.
_TABS_AND_NEWLINES = re.compile(r"[\t\n\r]")
_HOST_NAME = re.compile(r"[A-Za-z0-9.-]*")
_HOST_LABEL = re.compile(r"[A-Za-z0-9-]*")
_PATH_START = re.compile(r"[/?#]")
_LIST_SPACE = re.compile(r"[ \t\n\f\r]")


def _in_url(text: str) -> str:
    return _TABS_AND_NEWLINES.sub("", text)


def _changes_host(text: str) -> bool:
    url = _in_url(text)
    head = _PATH_START.split(url, maxsplit=1)[0]
    return url.startswith(("//", "/\\", "\\")) or any(char in "@:\\" for char in head)


_PARTS: dict[str, tuple[Callable[[str], object], str, str]] = {
    "host": (
        lambda text: not _HOST_NAME.fullmatch(text),
        "expected letters, digits, dots or hyphens inside the link's host",
        "a value there only names part of the host, such as 'eu' in "
        "https://{{ region }}.shop.example/; to let data choose the whole link, print it "
        'alone: href="{{ link | url }}"',
    ),
    "label": (
        lambda text: not _HOST_LABEL.fullmatch(text),
        "expected letters, digits or hyphens in a label of the link's host",
        "a value right after a '.' or '-' of the host names one label, such as 'de' in "
        "https://shop.{{ tld }}/; to let data choose the whole link, print it alone: "
        'href="{{ link | url }}"',
    ),
    "host-name": (
        lambda text: not _HOST_NAME.fullmatch(text) or not text,
        "expected a host name of letters, digits, dots or hyphens for the link's host",
        "the template writes the rest of the link after this value, as in "
        "https://{{ host }}/; to let data choose the whole link, print it alone: "
        'href="{{ link | url }}"',
    ),
    "after-host": (
        lambda text: _in_url(text)[:1] not in ("", "/", "?", "#"),
        "expected a path, query or fragment (starting with /, ? or #) after the link's host",
        "the template writes the host and the value would change it: start the value with /, "
        'or end the host with / in the template (base-url="https://shop.example/")',
    ),
    "after-slash": (
        lambda text: _in_url(text).startswith(("/", "\\")),
        "expected a path that does not start with / or \\ after the link's first /",
        "'//' would make the rest of the value the link's host; remove the leading slashes",
    ),
    "after-value": (
        _changes_host,
        "expected a path, query or fragment to continue the link",
        "a value right after another value may not start with // or \\, nor hold @, : or \\ "
        "before its first /, ? or #: they would change the link's host",
    ),
    "list": (
        _LIST_SPACE.search,
        "expected a URL without spaces in a list of URLs (srcset=, ping=)",
        "a space would begin another URL of the list; percent-encode spaces as %20",
    ),
    "descriptor": (
        lambda text: _LIST_SPACE.search(text) or "," in text,
        "expected a srcset descriptor such as 2x or 300w",
        "a space or a comma would begin another image of the srcset",
    ),
}


def check_url_part(value: object, at: str) -> None:
    """Refuse ``value`` where a token continues a link, at each place ``at`` names.

    The places (space-separated): ``host`` inside the host (``https://{{ region }}.x.example``),
    ``label`` after a literal ``.`` or ``-`` of the host (``https://shop.{{ tld }}/``),
    ``host-name`` a whole, non-empty host before a literal ``/``, ``?`` or ``#``,
    ``after-host`` right after a literal host (``https://x.example{{ path }}``),
    ``after-slash`` right after a literal first ``/``, ``after-value`` right after another
    token, ``list`` in a URL of ``srcset``/``ping``, ``descriptor`` in a srcset descriptor. A
    ``Markup`` value is checked as the browser reads it, its character references decoded.
    ``None`` passes: printing it raises the usual error.

    Raises:
        RecipientError: The value would change the link's host or add a URL to a list.
    """
    if value is None:
        return
    markup = getattr(value, "__html__", None)
    text = html.unescape(markup()) if callable(markup) else str(value)
    for place in at.split():
        refused, message, hint = _PARTS[place]
        if refused(text):
            raise RecipientError(f"{message}, got {short_repr(value)}", hint=hint)


class Spot(IntEnum):
    """Where the next character of a link lands, which decides the check of a token there."""

    START = 0  # nothing yet: a token there begins the link (the URL check)
    NO_HOST = 1  # in an http(s) host with no literal character yet: "https://"
    HOST = 2  # in a host the template began: "https://shop.example"
    LABEL = 7  # in a host, right after a literal "." or "-": "https://shop."
    SLASH = 3  # right after a first "/", where a second would begin a host
    SETTLED = 4  # the host is settled: a path, query or fragment began (or mailto:, tel:)
    OPEN = 5  # after a value, which may have left the host open
    UNSAFE = 6  # after literal text that is no safe start


_SAFE_START = re.compile(r"\s*(?:(https?:)|mailto:|tel:|[#?]|(/))", re.I)
_HOST_CHAR = re.compile(r"[A-Za-z0-9.-]")


def spot_after(spot: Spot, text: str) -> Spot:
    """Where a link is after the template's literal ``text`` (HTML, as in the attribute)."""
    text = _in_url(html.unescape(text))
    if spot is Spot.START:
        if not text.strip():
            return spot
        safe = _SAFE_START.match(text)
        if safe is None:
            return Spot.UNSAFE
        spot = Spot.NO_HOST if safe.group(1) else Spot.SLASH if safe.group(2) else Spot.SETTLED
        text = text[safe.end() :]
    for char in text:
        if spot in (Spot.SETTLED, Spot.UNSAFE):
            break
        if char in "?#" or (char in "/\\" and spot in (Spot.HOST, Spot.LABEL, Spot.OPEN)):
            spot = Spot.SETTLED
        elif spot is Spot.SLASH:
            spot = Spot.NO_HOST if char in "/\\" else Spot.SETTLED
        elif spot is Spot.NO_HOST and char in "/\\":  # slashes before a host are skipped
            continue
        elif spot in (Spot.NO_HOST, Spot.HOST, Spot.LABEL):
            spot = Spot.LABEL if char in ".-" else Spot.HOST
    return spot


def part_at(spot: Spot, following: str) -> tuple[str, set[Spot]]:
    """The place ``check_url_part`` checks a token at ``spot`` at (``""``: none), when literal
    ``following`` comes right after it, and where the link may be after it. Not for
    ``START`` (the URL check) or ``UNSAFE`` (refused)."""
    first = _in_url(html.unescape(following))[:1]
    if spot is Spot.HOST and not _HOST_CHAR.match(first):
        return "after-host", {Spot.HOST, Spot.SETTLED}
    # After a literal '.' or '-' the value is inside the host, whatever follows it.
    if spot is Spot.LABEL:
        return "label", {Spot.HOST, Spot.LABEL}
    # A whole host before a literal '/', '?' or '#': it must be one, then the link is settled.
    if spot is Spot.NO_HOST and first and not _HOST_CHAR.match(first):
        return "host-name", {Spot.HOST}
    if spot is Spot.SLASH:
        return "after-slash", {Spot.SLASH, Spot.SETTLED}
    places = {Spot.NO_HOST: "host", Spot.HOST: "host", Spot.OPEN: "after-value"}
    return places.get(spot, ""), {spot}


def list_parts(value: str, *, srcset: bool) -> list[tuple[int, int, bool]]:
    """Each URL of a srcset or ping value, and each srcset descriptor: (start, end, is a URL).

    As browsers split them: a URL ends at a space (a srcset one drops the commas it ends in),
    and a srcset candidate's descriptors end at a comma outside parentheses.
    """
    skipped = " \t\n\f\r," if srcset else " \t\n\f\r"
    parts: list[tuple[int, int, bool]] = []
    position, length = 0, len(value)
    while True:
        while position < length and value[position] in skipped:
            position += 1
        if position == length:
            return parts
        end = position
        while end < length and value[end] not in " \t\n\f\r":
            end += 1
        url_end = position + len(value[position:end].rstrip(",")) if srcset else end
        parts.append((position, url_end, True))
        position = end
        if srcset and url_end == end:
            depth = 0
            while position < length and (value[position] != "," or depth > 0):
                depth += (value[position] == "(") - (value[position] == ")")
                position += 1
            parts.append((end, position, False))


def css_url(value: object, start: bool = True, at: str = "") -> str:
    """``value`` made safe inside a CSS ``url(…)``, quoted or not, in a ``style`` attribute.

    With ``start`` it begins the address, so it must be an absolute http or https URL
    (``checked_url``, without ``mailto:``); otherwise it follows a literal start, like a path
    part. Either way quotes, parentheses, ``\\``, whitespace and control characters are
    percent-encoded: nothing in it can end the ``url(…)`` or the attribute. The compiled
    templates call it as the ``_css_url`` filter (``_css_url(False)`` after a literal start;
    ``_css_url(False, at="after-host")`` where ``check_url_part`` checks it too).

    Raises:
        RecipientError: ``start`` and not an http(s) URL, or a value that is not text or a
            number.
    """
    if not start and isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        value = str(value)  # an id in a path, as Jinja prints it
    if not isinstance(value, str):
        raise RecipientError(
            f"expected a URL as text, got {short_repr(value)}",
            hint="put the URL in the data as text",
        )
    if at:  # as CSS reads it: a Markup prints escaped here, its references not decoded
        check_url_part(str(value), at)
    # A plain str, so that the output is HTML-escaped: a Markup's '&#39;' would reach CSS as "'".
    return _css_url(str(value), start)


@lru_cache(maxsize=_CACHE, typed=True)
def _css_url(value: str, start: bool) -> str:
    url = value
    if start:
        url = checked_url(value)
        if not url.lower().startswith(("http:", "https:")):
            raise RecipientError(
                f"expected an http(s) URL inside url(…), got {short_repr(value)}",
                hint="only http and https addresses may come from data in a CSS url(…)",
            )
    return _URL_ENDS.sub(lambda found: quote(found.group(), safe=""), url)


def clear_caches() -> None:
    """Empty the caches of checked URLs and CSS values (see ``filters.clear_value_caches``)."""
    for cache in (checked_url, _checked_css, _css_url):
        cache.cache_clear()
