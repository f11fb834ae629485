"""Date, date-time, time and relative-time texts in a locale and zone, through Babel, cached."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Literal

from babel import Locale
from babel import dates as babel_dates

from personalize.errors import RecipientError, short_repr

from .locales import CACHE, babel_locale, run

__all__ = ["WHEN_HINT", "clear_caches", "localize", "relative_text", "when_text", "zone_of"]

WHEN_HINT = "declare the field as date or datetime in the schema"
_FORMAT_HINT = "use short, medium, long, full or a CLDR pattern such as 'd MMMM y'"


@lru_cache(maxsize=CACHE, typed=True)
def when_text(
    kind: str, value: object, fold: int, zone: object, locale: object, fmt: object
) -> str:
    del fold  # only part of the cache key
    if isinstance(value, datetime):
        subject: date = localize(value, zone_of(zone))
    elif kind == "date" and isinstance(value, date):
        subject = value
    else:
        wanted = "a date or datetime" if kind == "date" else "a datetime"
        hint = WHEN_HINT if kind == "date" else f"{WHEN_HINT}, or use the date filter for dates"
        raise RecipientError(f"expected {wanted} for {kind}, got {short_repr(value)}", hint=hint)
    loc = babel_locale(locale)
    hint = _FORMAT_HINT
    if not isinstance(fmt, str):
        raise RecipientError(
            f"expected a format string for {kind}, got {short_repr(fmt)}", hint=hint
        )
    call: Callable[[], str]
    if isinstance(subject, datetime) and kind == "datetime":
        call = lambda: babel_dates.format_datetime(subject, fmt, locale=loc)  # noqa: E731
    elif isinstance(subject, datetime) and kind == "time":
        call = lambda: babel_dates.format_time(subject, fmt, locale=loc)  # noqa: E731
    else:  # a date's text depends on its day alone: moments of one day share it
        return _day_text(subject.date() if isinstance(subject, datetime) else subject, fmt, loc)
    return run(kind, fmt, call, hint=hint)


@lru_cache(maxsize=CACHE, typed=True)
def _day_text(day: date, fmt: str, loc: Locale) -> str:
    call = lambda: babel_dates.format_date(day, fmt, locale=loc)  # noqa: E731
    return run("date", fmt, call, hint=_FORMAT_HINT)


def zone_of(zone: object) -> tzinfo:
    if zone is None:
        return UTC
    if isinstance(zone, tzinfo):
        return zone
    raise RecipientError(
        f"expected a tzinfo as the recipient's time zone, got {short_repr(zone)}",
        hint="render through the project, which sets the recipient's time zone",
    )


def localize(moment: datetime, zone: tzinfo) -> datetime:
    # A naive datetime is wall-clock time where the recipient lives, as in the profile.
    own = moment.tzinfo
    try:
        if own is not None and own is not zone:
            return moment.astimezone(zone)
        # astimezone keeps a time in its own zone as it is, even one the clocks skip (02:30
        # in Berlin on the night of the change): through UTC it becomes the time every other
        # zone, rules and active windows read (03:30).
        aware = moment if own is not None else moment.replace(tzinfo=zone)
        if zone is UTC:
            return aware
        try:
            return aware.astimezone(UTC).astimezone(zone)
        except OverflowError:  # UTC is past year 9999 or before year 1: no gap at the ends
            return aware
    except OverflowError:  # 9999-12-31T23:59Z, a "never" placeholder, east of UTC
        raise RecipientError(
            f"expected a date-time that exists in the time zone {zone}, got {moment.isoformat()}",
            hint="check the recipient's data: a placeholder such as 9999-12-31 is not a date "
            "to print",
        ) from None


@lru_cache(maxsize=CACHE, typed=True)
def relative_text(delta: timedelta, granularity: str, locale: object) -> str:
    loc = babel_locale(locale)
    unit: Literal["day", "second"] = "day" if granularity == "day" else "second"
    return babel_dates.format_timedelta(delta, granularity=unit, add_direction=True, locale=loc)


def clear_caches() -> None:
    """Empty the caches of formatted dates and times (see ``filters.clear_value_caches``)."""
    for cache in (when_text, _day_text, relative_text):
        cache.cache_clear()
