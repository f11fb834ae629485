"""URL and CSS values from data, checked before they go into an email's HTML."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from functools import lru_cache
from urllib.parse import quote, urlsplit

from .errors import RecipientError, shown

__all__ = ["PLAIN_URL", "checked_url", "css_url", "validate_css_value"]

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
            f"expected a URL without whitespace or control characters, got {shown(value)}",
            hint="percent-encode spaces as %20 and remove control characters",
        )
    # Bidi controls and zero-width characters (category Cf) make a link read differently from
    # where it goes: 'https://example.com/\u202egpj.exe' shows as '…exe.jpg'.
    if not url.isascii() and any(unicodedata.category(char) == "Cf" for char in url):
        raise RecipientError(
            f"expected a URL without invisible formatting characters, got {shown(value)}",
            hint="remove bidi controls and zero-width characters such as U+202E and U+200B",
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise RecipientError(f"expected a valid URL, got {shown(value)}", hint=_URL_HINT) from exc
    if not parts.scheme:
        raise RecipientError(
            f"expected an absolute http(s) or mailto URL, got {shown(value)}",
            hint="write the full address, starting with https://",
        )
    if parts.scheme not in _URL_SCHEMES:
        raise RecipientError(
            f"URL scheme {parts.scheme!r} is not allowed, got {shown(value)}", hint=_URL_HINT
        )
    if parts.scheme == "mailto" and not parts.path:
        raise RecipientError(
            f"expected an address after 'mailto:', got {shown(value)}",
            hint="write 'mailto:name@example.com'",
        )
    if parts.scheme != "mailto" and not host:
        raise RecipientError(
            f"expected a host name in the URL, got {shown(value)}",
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
                f"unsafe CSS value, got {shown(value)}", hint="check the recipient's data"
            )
        text = str(value)
        # str() writes tiny and huge floats, and some Decimals, with an exponent, which the
        # check refuses. Written out in full up to float's range; 'inf' and 'nan' have no 'e'.
        if ("e" in text or "E" in text) and abs(Decimal(text).adjusted()) <= _MAX_EXPONENT:
            text = format(Decimal(text), "f")
        value = text
    if not isinstance(value, str):
        raise RecipientError(f"expected a CSS value as text, got {shown(value)}", hint=_CSS_HINT)
    return _checked_css(value)


@lru_cache(maxsize=_CACHE, typed=True)
def _checked_css(value: str) -> str:
    text = value.strip()
    if not text:
        raise RecipientError(
            f"expected a CSS value, got {shown(value)}",
            hint="put default(...) before css for optional values",
        )
    if not _CSS_VALUE.fullmatch(text):
        raise RecipientError(f"unsafe CSS value, got {shown(value)}", hint=_CSS_HINT)
    return text


def css_url(value: object, start: bool = True) -> str:
    """``value`` made safe inside a CSS ``url(…)``, quoted or not, in a ``style`` attribute.

    With ``start`` it begins the address, so it must be an absolute http or https URL
    (``checked_url``, without ``mailto:``); otherwise it follows a literal start, like a path
    part. Either way quotes, parentheses, ``\\``, whitespace and control characters are
    percent-encoded: nothing in it can end the ``url(…)`` or the attribute. The compiled
    templates call it as the ``_css_url`` filter (``_css_url(False)`` after a literal start).

    Raises:
        RecipientError: ``start`` and not an http(s) URL, or a value that is not text or a
            number.
    """
    if not start and isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        value = str(value)  # an id in a path, as Jinja prints it
    if not isinstance(value, str):
        raise RecipientError(
            f"expected a URL as text, got {shown(value)}", hint="put the URL in the data as text"
        )
    # A plain str, so that the output is HTML-escaped: a Markup's '&#39;' would reach CSS as "'".
    return _css_url(str(value), start)


@lru_cache(maxsize=_CACHE, typed=True)
def _css_url(value: str, start: bool) -> str:
    url = value
    if start:
        url = checked_url(value)
        if not url.lower().startswith(("http:", "https:")):
            raise RecipientError(
                f"expected an http(s) URL inside url(…), got {shown(value)}",
                hint="only http and https addresses may come from data in a CSS url(…)",
            )
    return _URL_ENDS.sub(lambda found: quote(found.group(), safe=""), url)
