"""Money, number and percent texts in a locale, through Babel, cached by their inputs."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import lru_cache, partial
from types import MappingProxyType
from typing import Literal, TypeGuard

from babel import Locale
from babel import numbers as babel_numbers

from personalize.errors import RecipientError, did_you_mean, short_repr

from .locales import CACHE, babel_locale, currencies, run

__all__ = ["known_currency", "money_text", "number_text"]

_LIMIT = 10**18  # larger amounts are data errors, and would make Babel build huge strings
_MAX_DIGITS = 20
_MONEY_TYPES: Mapping[str, Literal["standard", "accounting", "name"]] = MappingProxyType(
    {"standard": "standard", "accounting": "accounting", "name": "name"}
)
_PLACEHOLDER = re.compile(r"[0#]")  # a number pattern's digits
_NONZERO_DIGIT = re.compile(r"[1-9]")
_NUMERIC = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_NUMBER_HINT = "give it an int, float, Decimal or a numeric string such as '19.99'"


def _to_decimal(value: object, name: str) -> Decimal:
    number: Decimal | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        # A huge int becomes Infinity so that it is reported below without converting it.
        number = Decimal(value) if -_LIMIT < value < _LIMIT else Decimal("Infinity")
    elif isinstance(value, float):
        # float's own repr: a subclass's may not be a number ('np.float64(1.5)').
        number = Decimal(float.__repr__(value)) if math.isfinite(value) else Decimal("NaN")
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str) and _NUMERIC.fullmatch(value.strip()):
        number = Decimal(value.strip())
    if number is None:
        raise RecipientError(
            f"expected a number for {name}, got {short_repr(value)}", hint=_NUMBER_HINT
        )
    if not number.is_finite() or abs(number) >= _LIMIT:
        raise RecipientError(
            f"expected a finite number smaller than 10**18 for {name}, got {short_repr(value)}",
            hint="check the recipient's data: this cannot be a real amount",
        )
    return number if number else Decimal(0)  # no '-0,00 €'


def _digits(digits: object, name: str) -> int:
    if isinstance(digits, int) and not isinstance(digits, bool) and 0 <= digits <= _MAX_DIGITS:
        return digits
    raise RecipientError(
        f"expected fraction digits from 0 to {_MAX_DIGITS} for {name}, got {short_repr(digits)}",
        hint=f"write e.g. {name}(2)",
    )


@lru_cache(maxsize=CACHE, typed=True)
def money_text(value: object, currency: object, locale: object, fmt: object) -> str:
    # First: then an unknown currency is always this error (_money names its field by it).
    if not known_currency(currency):
        raise RecipientError(
            f"expected an ISO 4217 currency code for money, got {short_repr(currency)}",
            hint="use a three-letter code such as 'EUR' or 'USD', or set the recipient's currency",
        )
    number = _to_decimal(value, "money")
    loc = babel_locale(locale)
    hint = "use 'standard', 'accounting', 'name' or a CLDR pattern such as '#,##0.00 ¤'"
    if fmt is not None and not isinstance(fmt, str):
        raise RecipientError(
            f"expected a format string for money, got {short_repr(fmt)}", hint=hint
        )
    style = _MONEY_TYPES.get(fmt or "", "standard")
    pattern = None if not fmt or fmt in _MONEY_TYPES else fmt
    if pattern is not None and not _PLACEHOLDER.search(pattern):
        # Babel prints a pattern without digits as it is: 'acounting' for every recipient.
        close = did_you_mean(pattern.lower(), _MONEY_TYPES)
        raise RecipientError(f"invalid format for money, got {short_repr(fmt)}", hint=close or hint)

    # A pattern's own fraction digits win over the currency's ('#,##0 ¤' means no cents).
    def text(amount: Decimal) -> str:
        if style == "name":
            # Babel picks the name's plural form from the amount as given, so 5 and 5.00
            # (equal, one cache entry) would print '5 jenów' or '5 jena': the amount as
            # printed decides, which also agrees with the number shown.
            amount = amount.quantize(_quantum(currency))
        return babel_numbers.format_currency(amount, currency, pattern, loc, pattern is None, style)

    printed = run("money", fmt, partial(text, number), hint=hint)
    if number < 0:  # only a negative amount can print as '-0': read its digits alone
        digits = partial(_money_digits, pattern, style, currency, loc, number)
        return _unsigned_zero(printed, number, text, run("money", fmt, digits, hint=hint))
    return printed


def known_currency(currency: object) -> TypeGuard[str]:
    """Whether ``currency`` is an ISO 4217 code that Babel knows."""
    return isinstance(currency, str) and currency in currencies()


@lru_cache(maxsize=512)
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-babel_numbers.get_currency_precision(currency))


def _money_digits(
    pattern: str | None, style: str, currency: str, loc: Locale, amount: Decimal
) -> str:
    """The amount's text without the currency, whose name may hold digits ('Sierra Leonean
    leones (1964—2022)'): the money format with its prefix and suffix left out."""
    if pattern is not None:
        number_pattern = babel_numbers.parse_pattern(pattern)
    else:  # Babel prints a name's number with the locale's decimal format
        number_pattern = (
            loc.decimal_formats[None] if style == "name" else loc.currency_formats[style]
        )
    bare = copy.copy(number_pattern)
    bare.prefix = bare.suffix = ("", "")
    text: str = bare.apply(amount, loc, currency=currency, currency_digits=pattern is None)
    return text


@lru_cache(maxsize=512)
def _fixed_pattern(locale: Locale, kind: str, digits: int) -> babel_numbers.NumberPattern:
    formats = locale.percent_formats if kind == "percent" else locale.decimal_formats
    pattern: babel_numbers.NumberPattern = copy.copy(formats[None])
    pattern.frac_prec = (digits, digits)
    return pattern


# Whole-number probes for _int_format: one to many groups, both signs.
_PROBES = (0, 7, 12, 123, 1234, 12345, 123456, 1234567, 12345678, 123456789012345678)


@lru_cache(maxsize=256)
def _int_format(loc: Locale) -> Callable[[int], str] | None:
    """Babel's ``format_decimal`` of whole numbers in ``loc``, without Babel (~1 µs, not ~15),
    or None. Built from the locale's grouping, group symbol and minus sign, and used only if it
    gives Babel's text for every probe and its negative: the digits, groups and sign are all
    there is to a whole number's text."""
    pattern = loc.decimal_formats[None]
    first, rest = pattern.grouping
    group = babel_numbers.get_group_symbol(loc)
    minus = babel_numbers.get_minus_sign_symbol(loc)
    if first < 1 or rest < 1:
        return None

    def text(value: int) -> str:
        digits = str(-value if value < 0 else value)
        if len(digits) > first:
            head, chunks = digits[:-first], [digits[-first:]]
            while len(head) > rest:
                chunks.append(head[-rest:])
                head = head[:-rest]
            digits = group.join([head, *reversed(chunks)])
        return minus + digits if value < 0 else digits

    for probe in (*_PROBES, *(-p for p in _PROBES[1:])):
        expected = run("number", None, partial(babel_numbers.format_decimal, probe, locale=loc))
        if text(probe) != expected:
            return None
    return text


@lru_cache(maxsize=CACHE, typed=True)
def number_text(kind: str, value: object, digits: object, locale: object) -> str:
    number = _to_decimal(value, kind)
    loc = babel_locale(locale)
    if type(value) is int and kind == "number" and digits is None:
        whole = _int_format(loc)
        if whole is not None:
            return whole(value)
    text: Callable[[Decimal], str]
    if kind == "number" and digits is None:
        text = partial(babel_numbers.format_decimal, locale=loc)
    else:
        pattern = _fixed_pattern(loc, kind, _digits(digits, kind))
        text = partial(_apply, pattern, loc)
    printed = run(kind, None, partial(text, number))
    return _unsigned_zero(printed, number, text, printed)


def _apply(pattern: babel_numbers.NumberPattern, loc: Locale, number: Decimal) -> str:
    text: str = pattern.apply(number, loc)
    return text


def _unsigned_zero(text: str, number: Decimal, again: Callable[[Decimal], str], digits: str) -> str:
    """``text``, or zero's text where a negative amount rounded to zero ('-0,00 €'), which
    its ``digits`` (the number's own text) show."""
    if number < 0 and not _NONZERO_DIGIT.search(digits):
        return run("number", None, partial(again, Decimal(0)))
    return text
