"""The Jinja filters: Babel formatting in the recipient's locale, and URL/CSS validators."""

from __future__ import annotations

import copy
import decimal
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from functools import _lru_cache_wrapper, lru_cache, partial
from types import MappingProxyType
from typing import Any, Literal

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from jinja2 import Undefined, pass_context
from jinja2.runtime import Context

from .errors import RecipientError, did_you_mean, short_repr, shown
from .safevalues import PLAIN_URL, checked_url, validate_css_value

__all__ = ["FILTERS", "check_locale", "validate_css_value", "validate_url"]

_DEFAULT_LOCALE = "en_US"
_LIMIT = 10**18  # larger amounts are data errors, and would make Babel build huge strings
_MAX_DIGITS = 20
_PRECISION = 60  # Decimal's default 28 digits cannot hold 10**18 with 20 fraction digits
_CACHE = 8192
_MONEY_TYPES: Mapping[str, Literal["standard", "accounting", "name"]] = MappingProxyType(
    {"standard": "standard", "accounting": "accounting", "name": "name"}
)
_PLACEHOLDER = re.compile(r"[0#]")  # a number pattern's digits
_NONZERO_DIGIT = re.compile(r"[1-9]")
_NUMERIC = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_FORMAT_ERRORS = (ArithmeticError, AttributeError, IndexError, KeyError, TypeError, ValueError)

_NUMBER_HINT = "give it an int, float, Decimal or a numeric string such as '19.99'"
_WHEN_HINT = "declare the field as date or datetime in the schema"
_FORMAT_HINT = "use short, medium, long, full or a CLDR pattern such as 'd MMMM y'"


def check_locale(name: str) -> str:
    """Return ``name`` if Babel knows the locale.

    Raises:
        RecipientError: ``unknown locale 'xx_YY'``.
    """
    if type(name) is str and name in _KNOWN_LOCALES:  # every email checks its locale
        return name
    _babel_locale(name)
    if type(name) is str and len(_KNOWN_LOCALES) < 1024:
        _KNOWN_LOCALES.add(name)
    return name


_KNOWN_LOCALES: set[str] = set()  # names check_locale accepted (bounded: few exist)


def _babel_locale(name: object) -> Locale:
    if isinstance(name, str):
        try:
            return _parse_locale(name)
        except (UnknownLocaleError, ValueError, TypeError):
            pass
    raise RecipientError(
        f"unknown locale {short_repr(name)}",
        hint="use a locale Babel knows, such as 'en_US' or 'de_DE'",
    )


@lru_cache(maxsize=256)
def _parse_locale(name: str) -> Locale:
    return Locale.parse(name)


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    return frozenset(babel_numbers.list_currencies())


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
        raise RecipientError(f"expected a number for {name}, got {shown(value)}", hint=_NUMBER_HINT)
    if not number.is_finite() or abs(number) >= _LIMIT:
        raise RecipientError(
            f"expected a finite number smaller than 10**18 for {name}, got {shown(value)}",
            hint="check the recipient's data: this cannot be a real amount",
        )
    return number if number else Decimal(0)  # no '-0,00 €'


def _digits(digits: object, name: str) -> int:
    if isinstance(digits, int) and not isinstance(digits, bool) and 0 <= digits <= _MAX_DIGITS:
        return digits
    raise RecipientError(
        f"expected fraction digits from 0 to {_MAX_DIGITS} for {name}, got {shown(digits)}",
        hint=f"write e.g. {name}(2)",
    )


def _run(name: str, fmt: object, call: Callable[[], str], *, hint: str = "") -> str:
    """Call Babel; with inputs already validated, a failure can only come from the format."""
    try:
        with decimal.localcontext(prec=_PRECISION):
            return call()
    except _FORMAT_ERRORS as exc:
        raise RecipientError(f"invalid format for {name}, got {shown(fmt)}", hint=hint) from exc


@lru_cache(maxsize=_CACHE, typed=True)
def _money_text(value: object, currency: object, locale: object, fmt: object) -> str:
    number = _to_decimal(value, "money")
    if not isinstance(currency, str) or currency not in _currencies():
        raise RecipientError(
            f"expected an ISO 4217 currency code for money, got {shown(currency)}",
            hint="use a three-letter code such as 'EUR' or 'USD', or set the recipient's currency",
        )
    loc = _babel_locale(locale)
    hint = "use 'standard', 'accounting', 'name' or a CLDR pattern such as '#,##0.00 ¤'"
    if fmt is not None and not isinstance(fmt, str):
        raise RecipientError(f"expected a format string for money, got {shown(fmt)}", hint=hint)
    style = _MONEY_TYPES.get(fmt or "", "standard")
    pattern = None if not fmt or fmt in _MONEY_TYPES else fmt
    if pattern is not None and not _PLACEHOLDER.search(pattern):
        # Babel prints a pattern without digits as it is: 'acounting' for every recipient.
        close = did_you_mean(pattern.lower(), _MONEY_TYPES)
        raise RecipientError(f"invalid format for money, got {shown(fmt)}", hint=close or hint)

    # A pattern's own fraction digits win over the currency's ('#,##0 ¤' means no cents).
    def text(amount: Decimal) -> str:
        return babel_numbers.format_currency(amount, currency, pattern, loc, pattern is None, style)

    return _unsigned_zero(_run("money", fmt, partial(text, number), hint=hint), number, text)


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
        expected = _run("number", None, partial(babel_numbers.format_decimal, probe, locale=loc))
        if text(probe) != expected:
            return None
    return text


@lru_cache(maxsize=_CACHE, typed=True)
def _number_text(kind: str, value: object, digits: object, locale: object) -> str:
    number = _to_decimal(value, kind)
    loc = _babel_locale(locale)
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
    return _unsigned_zero(_run(kind, None, partial(text, number)), number, text)


def _apply(pattern: babel_numbers.NumberPattern, loc: Locale, number: Decimal) -> str:
    text: str = pattern.apply(number, loc)
    return text


def _unsigned_zero(text: str, number: Decimal, again: Callable[[Decimal], str]) -> str:
    """``text``, or zero's text where a negative amount rounded to zero ('-0,00 €')."""
    if number < 0 and not _NONZERO_DIGIT.search(text):
        return _run("number", None, partial(again, Decimal(0)))
    return text


@lru_cache(maxsize=_CACHE, typed=True)
def _when_text(
    kind: str, value: object, fold: int, zone: object, locale: object, fmt: object
) -> str:
    del fold  # only part of the cache key
    if isinstance(value, datetime):
        subject: date = _localize(value, _zone(zone))
    elif kind == "date" and isinstance(value, date):
        subject = value
    else:
        wanted = "a date or datetime" if kind == "date" else "a datetime"
        hint = _WHEN_HINT if kind == "date" else f"{_WHEN_HINT}, or use the date filter for dates"
        raise RecipientError(f"expected {wanted} for {kind}, got {shown(value)}", hint=hint)
    loc = _babel_locale(locale)
    hint = _FORMAT_HINT
    if not isinstance(fmt, str):
        raise RecipientError(f"expected a format string for {kind}, got {shown(fmt)}", hint=hint)
    call: Callable[[], str]
    if isinstance(subject, datetime) and kind == "datetime":
        call = lambda: babel_dates.format_datetime(subject, fmt, locale=loc)  # noqa: E731
    elif isinstance(subject, datetime) and kind == "time":
        call = lambda: babel_dates.format_time(subject, fmt, locale=loc)  # noqa: E731
    else:  # a date's text depends on its day alone: moments of one day share it
        return _day_text(subject.date() if isinstance(subject, datetime) else subject, fmt, loc)
    return _run(kind, fmt, call, hint=hint)


@lru_cache(maxsize=_CACHE, typed=True)
def _day_text(day: date, fmt: str, loc: Locale) -> str:
    call = lambda: babel_dates.format_date(day, fmt, locale=loc)  # noqa: E731
    return _run("date", fmt, call, hint=_FORMAT_HINT)


def _zone(zone: object) -> tzinfo:
    if zone is None:
        return UTC
    if isinstance(zone, tzinfo):
        return zone
    raise RecipientError(
        f"expected a tzinfo as the recipient's time zone, got {shown(zone)}",
        hint="render through the project, which sets the recipient's time zone",
    )


def _localize(moment: datetime, zone: tzinfo) -> datetime:
    # A naive datetime is wall-clock time where the recipient lives, as in the profile.
    try:
        return moment.astimezone(zone) if moment.tzinfo else moment.replace(tzinfo=zone)
    except OverflowError:  # 9999-12-31T23:59Z, a "never" placeholder, east of UTC
        raise RecipientError(
            f"expected a date-time that exists in the time zone {zone}, got {moment.isoformat()}",
            hint="check the recipient's data: a placeholder such as 9999-12-31 is not a date "
            "to print",
        ) from None


@lru_cache(maxsize=_CACHE, typed=True)
def _relative_text(delta: timedelta, granularity: str, locale: object) -> str:
    loc = _babel_locale(locale)
    unit: Literal["day", "second"] = "day" if granularity == "day" else "second"
    return babel_dates.format_timedelta(delta, granularity=unit, add_direction=True, locale=loc)


def _cached(function: _lru_cache_wrapper[str], *args: object) -> str:
    try:
        return function(*args)
    except TypeError:
        # Only hashing an argument raises TypeError here (every other failure is a
        # RecipientError): the uncached call names the offending argument.
        return function.__wrapped__(*args)


def _state(context: Context, name: str) -> object:
    """The email's own ``_locale``, ``_tz``… (set by the render; templates may not set ``_``
    names): one look-up in the render's context, where ``Context.get`` takes several calls."""
    return context.parent.get(name)


def _locale_of(context: Context) -> object:
    locale = _state(context, "_locale")
    return _DEFAULT_LOCALE if locale is None else locale


# money and number print ~7 values an email: they do what _state, _locale_of and _cached do
# inline (three calls fewer each, ~0.15 µs).
@pass_context
def _money(context: Context, value: object, currency: object = None, format: object = None) -> str:
    state = context.parent
    code = state.get("_currency") if currency is None else currency
    locale = state.get("_locale")
    args = (value, code, _DEFAULT_LOCALE if locale is None else locale, format)
    try:
        return _money_text(*args)
    except TypeError:  # an unhashable argument: see _cached
        return _money_text.__wrapped__(*args)


@pass_context
def _number(context: Context, value: object, digits: object = None) -> str:
    locale = context.parent.get("_locale")
    args = ("number", value, digits, _DEFAULT_LOCALE if locale is None else locale)
    try:
        return _number_text(*args)
    except TypeError:  # an unhashable argument: see _cached
        return _number_text.__wrapped__(*args)


@pass_context
def _percent(context: Context, value: object, digits: object = 0) -> str:
    return _cached(_number_text, "percent", value, digits, _locale_of(context))


def _when_filter(kind: str, default_format: str) -> Callable[..., str]:
    @pass_context
    def when(context: Context, value: object, format: object = default_format) -> str:
        # fold is part of the key: datetimes in one zone compare equal across a DST fold.
        fold = getattr(value, "fold", 0)
        zone = _state(context, "_tz")
        return _cached(_when_text, kind, value, fold, zone, _locale_of(context), format)

    return when


@pass_context
def _relative(context: Context, value: object) -> str:
    zone = _zone(_state(context, "_tz"))
    now = _state(context, "_now")
    if not isinstance(now, datetime):
        raise RecipientError(
            f"expected the render time '_now' as a datetime for relative, got {shown(now)}",
            hint="render through the project, which sets the render time",
        )
    now = _localize(now, zone)
    if isinstance(value, datetime):
        # In UTC: two times in one zone subtract by their wall clocks, an hour off across a
        # change to or from summer time.
        delta = _localize(_localize(value, zone), UTC) - _localize(now, UTC)
        granularity = "second"
    elif isinstance(value, date):
        # Whole days from the start of the recipient's day, so 'in 3 days' does not drift with
        # the hour of the render.
        delta, granularity = timedelta(days=(value - now.date()).days), "day"
    else:
        raise RecipientError(
            f"expected a date or datetime for relative, got {shown(value)}", hint=_WHEN_HINT
        )
    return _cached(_relative_text, delta, granularity, _locale_of(context))


@pass_context
def _default(
    context: Context,
    value: object,
    default_value: object = "",
    boolean: bool = False,
    _field: str | None = None,
) -> object:
    if type(value) is str and value.strip():  # the usual case, in two checks
        return value
    if isinstance(value, Undefined):  # never bool() it: StrictUndefined raises
        name = _field or value._undefined_name or "a value"
    elif value is None or (isinstance(value, str) and not value.strip()) or (boolean and not value):
        name = _field or "a value"
    else:
        return value
    warnings = _state(context, "_warnings")
    if isinstance(warnings, list):
        warnings.append(f"{name} fell back to its default {default_value!r}")
    return default_value


# Accepted URLs of exact type str, by their text: a look-up here costs ~100 ns less than one in
# _checked_url's typed cache, whose key holds the type too, and an email checks ~15 URLs.
# Emptied when full; a URL that fails is never here (its error is raised every time).
_GOOD_URLS: dict[str, str] = {}


def validate_url(value: object) -> str:
    """Return ``value`` stripped, if it is an absolute http, https or mailto URL.

    Args:
        value: A URL from recipient or catalog data.

    Raises:
        RecipientError: For non-strings, control characters or whitespace inside, other schemes
            (``javascript:``, ``data:``…), relative URLs and http(s) URLs without a host.
    """
    if type(value) is str:  # nearly always
        checked = _GOOD_URLS.get(value)
        if checked is None:
            # A new plain URL (a recipient's own link) skips checked_url's cache as well.
            checked = value if PLAIN_URL.fullmatch(value) else checked_url(value)
            if len(_GOOD_URLS) >= _CACHE:
                _GOOD_URLS.clear()
            _GOOD_URLS[value] = checked
        return checked
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises UndefinedError, naming what is missing
    if not isinstance(value, str):
        raise RecipientError(
            f"expected a URL string, got {shown(value)}", hint="put the URL in the data as text"
        )
    return checked_url(value)


FILTERS: Mapping[str, Callable[..., Any]] = MappingProxyType(
    {
        "money": _money,
        "number": _number,
        "percent": _percent,
        "date": _when_filter("date", "medium"),
        "datetime": _when_filter("datetime", "medium"),
        "time": _when_filter("time", "short"),
        "relative": _relative,
        "url": validate_url,
        "css": validate_css_value,
        "default": _default,
        "d": _default,
    }
)
