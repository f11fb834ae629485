"""The Jinja filters: Babel formatting in the recipient's locale, and URL/CSS validators."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from functools import _lru_cache_wrapper
from types import MappingProxyType
from typing import Any

from jinja2 import Undefined, pass_context
from jinja2.runtime import Context

from personalize.errors import RecipientError, short_repr
from personalize.safevalues import PLAIN_URL, check_url_part, checked_url, validate_css_value
from personalize.safevalues import clear_caches as clear_check_caches

from .dates import WHEN_HINT, localize, relative_text, when_text, zone_of
from .dates import clear_caches as clear_date_caches
from .locales import CACHE, DEFAULT_LOCALE, check_locale, right_to_left
from .numbers import known_currency, money_text, number_text

__all__ = [
    "FILTERS",
    "check_locale",
    "clear_value_caches",
    "right_to_left",
    "url_part",
    "validate_css_value",
    "validate_url",
]


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
    return DEFAULT_LOCALE if locale is None else locale


# money and number print ~7 values an email: they do what _state, _locale_of and _cached do
# inline (three calls fewer each, ~0.15 µs).
@pass_context
def _money(context: Context, value: object, currency: object = None, format: object = None) -> str:
    state = context.parent
    code = state.get("_currency") if currency is None else currency
    locale = state.get("_locale")
    args = (value, code, DEFAULT_LOCALE if locale is None else locale, format)
    try:
        try:
            return money_text(*args)
        except TypeError:  # an unhashable argument: see _cached
            return money_text.__wrapped__(*args)
    except RecipientError as exc:
        # The recipient's own currency is at fault, not the amount the template prints.
        if currency is None and not known_currency(code):
            raise exc.with_context(path="currency") from None
        raise


@pass_context
def _number(context: Context, value: object, digits: object = None) -> str:
    locale = context.parent.get("_locale")
    args = ("number", value, digits, DEFAULT_LOCALE if locale is None else locale)
    try:
        return number_text(*args)
    except TypeError:  # an unhashable argument: see _cached
        return number_text.__wrapped__(*args)


@pass_context
def _percent(context: Context, value: object, digits: object = 0) -> str:
    return _cached(number_text, "percent", value, digits, _locale_of(context))


def _when_filter(kind: str, default_format: str) -> Callable[..., str]:
    @pass_context
    def when(context: Context, value: object, format: object = default_format) -> str:
        # fold is part of the key: datetimes in one zone compare equal across a DST fold.
        fold = getattr(value, "fold", 0)
        zone = _state(context, "_tz")
        return _cached(when_text, kind, value, fold, zone, _locale_of(context), format)

    return when


@pass_context
def _relative(context: Context, value: object) -> str:
    zone = zone_of(_state(context, "_tz"))
    now = _state(context, "_now")
    if not isinstance(now, datetime):
        raise RecipientError(
            f"expected the render time '_now' as a datetime for relative, got {short_repr(now)}",
            hint="render through the project, which sets the render time",
        )
    try:
        now = localize(now, zone)
    except RecipientError:
        edge = "before the start of year 1" if now.year == 1 else "after the end of year 9999"
        raise RecipientError(
            f"the render time {now.isoformat()} is out of range: in the time zone {zone} it "
            f"falls {edge}",
            path="now",
            hint="render at a time between years 1 and 9999 in every recipient's time zone, "
            "e.g. now=datetime.now(UTC)",
        ) from None
    if isinstance(value, datetime):
        # In UTC: two times in one zone subtract by their wall clocks, an hour off across a
        # change to or from summer time. A time already in the zone goes to UTC directly:
        # localize would read it the same way, at twice the cost.
        moment = value if value.tzinfo is zone else localize(value, zone)
        delta = localize(moment, UTC) - localize(now, UTC)
        granularity = "second"
    elif isinstance(value, date):
        # Whole days from the start of the recipient's day, so 'in 3 days' does not drift with
        # the hour of the render.
        delta, granularity = timedelta(days=(value - now.date()).days), "day"
    else:
        raise RecipientError(
            f"expected a date or datetime for relative, got {short_repr(value)}", hint=WHEN_HINT
        )
    return _cached(relative_text, delta, granularity, _locale_of(context))


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
            if len(_GOOD_URLS) >= CACHE:
                _GOOD_URLS.clear()
            _GOOD_URLS[value] = checked
        return checked
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises UndefinedError, naming what is missing
    if not isinstance(value, str):
        raise RecipientError(
            f"expected a URL string, got {short_repr(value)}",
            hint="put the URL in the data as text",
        )
    return checked_url(value)


def url_part(value: object, at: str) -> object:
    """``value`` as it is, where a token continues a link instead of starting it, once
    ``safevalues.check_url_part`` finds it keeps the link's host: the ``_url_part`` filter,
    which ``restore`` writes into the compiled templates (``_url_part("after-host")``).

    A filter of its own, so that ``validate_url``, which every link's first token calls, takes
    no extra argument (a keyword-only one costs ~15 ns a call).
    """
    if not isinstance(value, Undefined):  # printing it raises, naming what is missing
        check_url_part(value, at)
    return value


def clear_value_caches() -> None:
    """Empty every process-wide cache of values the filters formatted or checked.

    The caches are keyed by value, so rendering is the same with them full or empty; a
    benchmark empties them to time recipients whose values are new, as in a send.
    """
    money_text.cache_clear()
    number_text.cache_clear()
    clear_date_caches()
    clear_check_caches()
    _GOOD_URLS.clear()


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
