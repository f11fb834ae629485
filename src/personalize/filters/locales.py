"""Babel locales for the filters: checking names, parsing them, and calling Babel safely."""

from __future__ import annotations

import decimal
from collections.abc import Callable
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel import numbers as babel_numbers

from personalize.errors import RecipientError, short_repr

__all__ = ["CACHE", "DEFAULT_LOCALE", "babel_locale", "check_locale", "currencies", "run"]

DEFAULT_LOCALE = "en_US"
CACHE = 8192  # entries in each formatting cache
_PRECISION = 60  # Decimal's default 28 digits cannot hold 10**18 with 20 fraction digits
_FORMAT_ERRORS = (ArithmeticError, AttributeError, IndexError, KeyError, TypeError, ValueError)


def check_locale(name: str) -> str:
    """Return ``name`` if Babel knows the locale.

    Raises:
        RecipientError: ``unknown locale 'xx_YY'``, at path ``locale`` (the recipient's field).
    """
    if type(name) is str and name in _KNOWN_LOCALES:  # every email checks its locale
        return name
    try:
        babel_locale(name)
    except RecipientError as exc:
        raise exc.with_context(path="locale") from None
    if type(name) is str and len(_KNOWN_LOCALES) < 1024:
        _KNOWN_LOCALES.add(name)
    return name


_KNOWN_LOCALES: set[str] = set()  # names check_locale accepted (bounded: few exist)


def babel_locale(name: object) -> Locale:
    found = _parse_locale(name) if isinstance(name, str) else None
    if found is not None:
        return found
    raise RecipientError(
        f"unknown locale {short_repr(name)}",
        hint="use a locale Babel knows, such as 'en_US' or 'de_DE'",
    )


@lru_cache(maxsize=256)
def _parse_locale(name: str) -> Locale | None:
    # None for a locale Babel does not know: remembered too, so that an audience with a bad
    # locale costs a lookup per record, not a parse.
    try:
        return Locale.parse(name)
    except (UnknownLocaleError, ValueError, TypeError):
        return None


@lru_cache(maxsize=256)
def right_to_left(name: str) -> bool:
    """Whether Babel writes locale ``name`` right to left (``pa_PK``, ``iw_IL``, not
    ``sd_Deva_IN``); False for a locale it does not know, which rendering refuses anyway."""
    found = _parse_locale(name)
    return found is not None and found.character_order == "right-to-left"


@lru_cache(maxsize=1)
def currencies() -> frozenset[str]:
    return frozenset(babel_numbers.list_currencies())


def run(name: str, fmt: object, call: Callable[[], str], *, hint: str = "") -> str:
    """Call Babel; with inputs already validated, a failure can only come from the format."""
    try:
        with decimal.localcontext(prec=_PRECISION):
            return call()
    except _FORMAT_ERRORS as exc:
        raise RecipientError(
            f"invalid format for {name}, got {short_repr(fmt)}", hint=hint
        ) from exc
