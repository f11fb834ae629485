"""Tests for personalize.filters, called through a real Jinja environment."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from babel import Locale, localedata
from babel import numbers as babel_numbers
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import ChainableUndefined, Environment, StrictUndefined, Undefined
from markupsafe import Markup

from personalize import filters, safevalues
from personalize.errors import RecipientError
from personalize.filters import FILTERS, check_locale, numbers, validate_css_value, validate_url

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=BERLIN)
LATE_NOW = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # already the 25th in Berlin
ACROSS_MIDNIGHT = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)
URL_HINT = "only http, https and mailto links may come from data"
CSS_HINT = "only colors, lengths and plain keywords may come from data"
NUMBER_HINT = "give it an int, float, Decimal or a numeric string such as '19.99'"
FINITE_HINT = "check the recipient's data: this cannot be a real amount"


def make_env(undefined: type[Undefined] = Undefined) -> Environment:
    env = Environment(autoescape=True, undefined=undefined)
    env.filters.update(FILTERS)
    env.filters["_url_part"] = filters.url_part  # written by restore, as the sandbox has it
    return env


ENV = make_env()


def render(
    source: str,
    *,
    locale: str = "de_DE",
    tz: Any = BERLIN,
    currency: Any = "EUR",
    now: Any = NOW,
    env: Environment = ENV,
    **data: Any,
) -> str:
    context = {"_locale": locale, "_tz": tz, "_currency": currency, "_now": now, **data}
    context.setdefault("_warnings", [])
    return env.from_string(source).render(context)


def render_error(source: str, **kwargs: Any) -> RecipientError:
    with pytest.raises(RecipientError) as info:
        render(source, **kwargs)
    error = info.value
    # The renderer adds the location; filters must not invent one.
    assert (error.file, error.line, error.recipient, error.path) == (None, None, None, None)
    return error


# --- formatting in the recipient's locale -----------------------------------------------------

GERMAN = [
    ("money", "{{ v | money }}", 1234.56, "1.234,56\xa0€"),
    ("money-decimal", "{{ v | money }}", Decimal("19.9"), "19,90\xa0€"),
    ("money-int", "{{ v | money }}", 5, "5,00\xa0€"),
    ("money-numeric-string", "{{ v | money }}", " 19.99 ", "19,99\xa0€"),
    ("money-negative-zero", "{{ v | money }}", -0.0, "0,00\xa0€"),
    ("money-currency", "{{ v | money('JPY') }}", 1234.56, "1.235\xa0¥"),
    ("money-name", "{{ v | money(format='name') }}", 1234.56, "1.234,56 Euro"),
    ("money-pattern", "{{ v | money(format='#,##0 ¤') }}", 1234.56, "1.235 €"),
    ("number", "{{ v | number }}", 1234.5678, "1.234,568"),
    ("number-digits", "{{ v | number(2) }}", 1234.5, "1.234,50"),
    ("number-string", "{{ v | number }}", "-1e3", "-1.000"),
    ("percent", "{{ v | percent }}", 0.25, "25\xa0%"),
    ("percent-digits", "{{ v | percent(1) }}", Decimal("0.256"), "25,6\xa0%"),
    ("date-medium", "{{ v | date }}", date(2026, 11, 27), "27.11.2026"),
    ("date-long", "{{ v | date('long') }}", date(2026, 11, 27), "27. November 2026"),
    ("date-full", "{{ v | date('full') }}", date(2026, 11, 27), "Freitag, 27. November 2026"),
    ("date-pattern", "{{ v | date('d. MMM') }}", date(2026, 11, 27), "27. Nov."),
    ("datetime", "{{ v | datetime }}", ACROSS_MIDNIGHT, "27.11.2026, 00:30:00"),
    ("time", "{{ v | time }}", ACROSS_MIDNIGHT, "00:30"),
    ("relative-future", "{{ v | relative }}", date(2026, 11, 27), "in 3 Tagen"),
    ("relative-past", "{{ v | relative }}", date(2026, 11, 22), "vor 2 Tagen"),
    ("relative-hours", "{{ v | relative }}", NOW + timedelta(hours=5), "in 5 Stunden"),
    ("relative-today", "{{ v | relative }}", date(2026, 11, 24), "in 0 Tagen"),
]


@pytest.mark.parametrize(
    ("source", "value", "expected"), [case[1:] for case in GERMAN], ids=[c[0] for c in GERMAN]
)
def test_german(source: str, value: object, expected: str) -> None:
    assert render(source, v=value) == expected


AMERICAN = [
    ("money", "{{ v | money }}", 1234.56, "$1,234.56"),
    ("money-accounting", "{{ v | money(format='accounting') }}", -5, "($5.00)"),
    ("number", "{{ v | number }}", 1234.5678, "1,234.568"),
    ("percent", "{{ v | percent }}", 0.25, "25%"),
    ("date-long", "{{ v | date('long') }}", date(2026, 11, 27), "November 27, 2026"),
    ("time", "{{ v | time }}", ACROSS_MIDNIGHT, "12:30\u202fAM"),
    ("relative", "{{ v | relative }}", date(2026, 11, 27), "in 3 days"),
    ("relative-past", "{{ v | relative }}", NOW - timedelta(minutes=20), "20 minutes ago"),
]


@pytest.mark.parametrize(
    ("source", "value", "expected"), [case[1:] for case in AMERICAN], ids=[c[0] for c in AMERICAN]
)
def test_american(source: str, value: object, expected: str) -> None:
    assert render(source, locale="en_US", currency="USD", v=value) == expected


@pytest.mark.parametrize(
    ("source", "tz", "expected"),
    [
        ("{{ v | date }}", BERLIN, "27.11.2026"),
        ("{{ v | date }}", NEW_YORK, "26.11.2026"),
        ("{{ v | time }}", NEW_YORK, "18:30"),
        ("{{ v | datetime('full') }}", NEW_YORK, "Donnerstag, 26. November 2026, 18:30:00"),
    ],
    ids=["berlin-next-day", "new-york-same-day", "new-york-time", "new-york-full"],
)
def test_aware_datetimes_are_converted_to_the_recipients_zone(
    source: str, tz: ZoneInfo, expected: str
) -> None:
    assert render(source, tz=tz, v=ACROSS_MIDNIGHT).startswith(expected)


def test_a_date_stays_a_date_and_naive_datetimes_are_local_wall_time() -> None:
    assert render("{{ v | date }}", tz=NEW_YORK, v=date(2026, 11, 27)) == "27.11.2026"
    naive = datetime(2026, 11, 26, 23, 30)
    assert render("{{ v | date }} {{ v | time('HH:mm z') }}", v=naive) == "26.11.2026 23:30 MEZ"


def test_datetimes_in_a_dst_fold_are_not_confused_by_the_cache() -> None:
    first = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN)
    second = first.replace(fold=1)  # an hour later; == and hash() ignore fold within one zone
    assert render("{{ v | time('HH:mm z') }}", v=first) == "02:30 MESZ"
    assert render("{{ v | time('HH:mm z') }}", v=second) == "02:30 MEZ"


@pytest.mark.parametrize(
    "value",
    [datetime(2026, 3, 29, 2, 30, tzinfo=BERLIN), datetime(2026, 3, 29, 2, 30)],
    ids=["aware", "naive"],
)
@pytest.mark.parametrize("tz", [BERLIN, ZoneInfo("Europe/Paris")], ids=["berlin", "paris"])
def test_a_time_the_clocks_skip_prints_as_every_zone_reads_it(
    value: datetime, tz: ZoneInfo
) -> None:
    # 02:30 never happens in Berlin that night: it is read as 01:30 UTC, 03:30 summer time, as
    # rules and active windows read it, in Berlin (where the time is its own) as in Paris.
    source = "{{ v | datetime('HH:mm z') }} {{ v | relative }}"
    now = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert render(source, tz=tz, now=now, v=value) == "03:30 MESZ in 1 Stunde"


@pytest.mark.parametrize(
    ("value", "tz", "expected"),
    [
        (datetime(9999, 12, 31, 23, 59), NEW_YORK, "31.12.9999 23:59 -0500"),
        (datetime(9999, 12, 31, 23, 59, tzinfo=NEW_YORK), NEW_YORK, "31.12.9999 23:59 -0500"),
        (datetime(1, 1, 1, 0, 0), BERLIN, "01.01.1 00:00 MEZ"),
    ],
    ids=["9999-west-naive", "9999-west-aware", "0001-east"],
)
def test_a_time_at_the_ends_of_the_range_prints_in_its_own_zone(
    value: datetime, tz: ZoneInfo, expected: str
) -> None:
    # In UTC these are past 9999 or before year 1, where datetime cannot go: no clock change
    # happens there, so the time is printed as it is.
    assert render("{{ v | date }} {{ v | datetime('HH:mm z') }}", tz=tz, v=value) == expected


@pytest.mark.parametrize(
    ("tz", "expected"),
    [(BERLIN, "in 2 Tagen"), (NEW_YORK, "in 3 Tagen")],
    ids=["berlin-already-tomorrow", "new-york-still-today"],
)
def test_relative_dates_count_from_the_start_of_the_recipients_day(
    tz: ZoneInfo, expected: str
) -> None:
    assert render("{{ v | relative }}", tz=tz, now=LATE_NOW, v=date(2026, 11, 27)) == expected


@pytest.mark.parametrize(
    ("tz", "now", "value", "expected"),
    [
        # 01:30 summer time, then the clocks go back at 03:00: 3 hours pass, 2 on the clock
        (BERLIN, datetime(2026, 10, 24, 23, 30, tzinfo=UTC), timedelta(hours=3), "in 3 hours"),
        (BERLIN, datetime(2026, 10, 25, 0, 30, tzinfo=UTC), timedelta(hours=1), "in 1 hour"),
        (NEW_YORK, datetime(2026, 3, 8, 6, 30, tzinfo=UTC), timedelta(hours=2), "in 2 hours"),
        (BERLIN, datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN), -timedelta(hours=2), "2 hours ago"),
    ],
    ids=["berlin-autumn", "berlin-fold", "new-york-spring", "berlin-spring-ago"],
)
def test_relative_datetimes_measure_elapsed_time_across_clock_changes(
    tz: ZoneInfo, now: datetime, value: timedelta, expected: str
) -> None:
    moment = (now.astimezone(UTC) + value).astimezone(tz)  # the same zone as the render's now
    assert render("{{ v | relative }}", locale="en_US", tz=tz, now=now, v=moment) == expected


@pytest.mark.parametrize(
    ("source", "value", "expected"),
    [
        ("{{ v | money }}", 0.3 - 0.1 - 0.2, "0,00\xa0€"),
        ("{{ v | money }}", Decimal("-0.004"), "0,00\xa0€"),
        ("{{ v | money(format='accounting') }}", Decimal("-0.004"), "0,00\xa0€"),
        ("{{ v | money }}", Decimal("-0.006"), "-0,01\xa0€"),
        ("{{ v | number }}", Decimal("-0.0001"), "0"),
        ("{{ v | number(2) }}", -0.001, "0,00"),
        ("{{ v | percent }}", -0.001, "0\xa0%"),
        # The name has digits of its own: only the number's count.
        ("{{ v | money('SLL', format='name') }}", -0.2, "0 Sierra-leonische Leones (1964–2022)"),
        (
            "{{ v | money('SLL', format='#,##0 ¤¤¤') }}",
            -0.2,
            "0 Sierra-leonische Leones (1964–2022)",
        ),
        ("{{ v | money('ZWL', format='name') }}", -0.001, "0,00 Simbabwe-Dollar (2009)"),
        ("{{ v | money('SLL', format='name') }}", -0.6, "-1 Sierra-leonischer Leone (1964–2022)"),
    ],
)
def test_an_amount_that_rounds_to_zero_has_no_minus_sign(
    source: str, value: object, expected: str
) -> None:
    assert render(source, v=value) == expected


@pytest.mark.parametrize(
    ("locale", "currency", "values", "expected"),
    [
        ("pl_PL", "JPY", ("5", "5.00"), "5 jenów japońskich"),
        ("en_US", "USD", ("1", "1.00"), "1.00 US dollars"),
        ("en_US", "USD", ("1.001", "1.0"), "1.00 US dollars"),
    ],
    ids=["yen", "dollar", "rounded"],
)
def test_a_currency_name_agrees_with_the_amount_as_printed(
    locale: str, currency: str, values: tuple[str, str], expected: str
) -> None:
    # Equal Decimals share a cache entry: whichever comes first, each gets the same text.
    source = "{{ v | money(format='name') }}"
    for order in (values, values[::-1]):
        numbers.money_text.cache_clear()
        for value in order:
            assert render(source, locale=locale, currency=currency, v=Decimal(value)) == expected


AMOUNTS = st.builds(
    lambda digits, exponent, zeros: [
        Decimal(digits).scaleb(exponent).quantize(Decimal(1).scaleb(exponent - extra))
        for extra in zeros
    ],
    st.integers(-(10**6), 10**6),
    st.integers(-4, 2),
    st.lists(st.integers(0, 4), min_size=1, max_size=4),
)


@given(
    AMOUNTS,
    st.sampled_from(
        [("pl_PL", "JPY"), ("en_US", "USD"), ("ru_RU", "RUB"), ("ar_EG", "KWD"), ("de_DE", "EUR")]
    ),
    st.sampled_from(["name", None, "accounting", "#,##0.00 ¤¤¤", "¤¤¤ #,##0.##"]),
)
def test_a_cached_money_text_is_the_text_of_a_fresh_call(
    amounts: list[Decimal], where: tuple[str, str], fmt: str | None
) -> None:
    # Equal amounts written with more or fewer zeros (5, 5.0, 5.00) share one cache entry.
    locale, currency = where
    numbers.money_text.cache_clear()
    for amount in amounts:
        fresh = numbers.money_text.__wrapped__(amount, currency, locale, fmt)
        assert numbers.money_text(amount, currency, locale, fmt) == fresh


def test_a_float_subclass_formats_as_its_float() -> None:
    class Float(float):
        def __repr__(self) -> str:
            return f"Float({float(self)})"

    assert render("{{ v | number }} {{ v | money }}", v=Float(1.5)) == "1,5 1,50\xa0€"


def test_cached_results_keep_types_apart() -> None:
    assert render("{{ v | money }}", v=1) == "1,00\xa0€"
    assert str(render_error("{{ v | money }}", v=True)).startswith("expected a number for money")
    link = "https://example.com/?a=1&b=2"
    assert render("{{ v | safe | url }}", v=link) == link
    assert render("{{ v | url }}", v=link) == "https://example.com/?a=1&amp;b=2"


def test_missing_locale_and_zone_fall_back_to_en_us_and_utc() -> None:
    source = "{{ v | money('USD') }} {{ d | time }}"
    assert ENV.from_string(source).render(v=2, d=ACROSS_MIDNIGHT) == "$2.00 11:30\u202fPM"


# --- errors -----------------------------------------------------------------------------------

CURRENCY_HINT = "use a three-letter code such as 'EUR' or 'USD', or set the recipient's currency"
MONEY_FORMAT_HINT = "use 'standard', 'accounting', 'name' or a CLDR pattern such as '#,##0.00 ¤'"
DATE_FORMAT_HINT = "use short, medium, long, full or a CLDR pattern such as 'd MMMM y'"
SCHEMA_HINT = "declare the field as date or datetime in the schema"
PROJECT_HINT = "render through the project, which sets the"
TOO_LARGE = "expected a finite number smaller than 10**18 for"


def case(name: str, source: str, data: dict[str, Any], expected: object) -> Any:
    return pytest.param(source, data, expected, id=name)


FILTER_ERRORS = [
    case("text", "{{ v | money }}", {"v": "abc"},
         f"expected a number for money, got 'abc' — {NUMBER_HINT}"),
    case("none", "{{ v | money }}", {"v": None},
         f"expected a number for money, got None — {NUMBER_HINT}"),
    case("bool", "{{ v | number }}", {"v": False},
         f"expected a number for number, got False — {NUMBER_HINT}"),
    case("list", "{{ v | money }}", {"v": [1]},
         f"expected a number for money, got [1] — {NUMBER_HINT}"),
    case("grouped", "{{ v | money }}", {"v": "1,234.56"},
         f"expected a number for money, got '1,234.56' — {NUMBER_HINT}"),
    case("undefined", "{{ nothing | percent }}", {},
         f"expected a number for percent, got Undefined — {NUMBER_HINT}"),
    case("nan", "{{ v | money }}", {"v": float("nan")},
         f"{TOO_LARGE} money, got nan — {FINITE_HINT}"),
    case("huge-string", "{{ v | money }}", {"v": "1e30"},
         f"{TOO_LARGE} money, got '1e30' — {FINITE_HINT}"),
    case("huge-int", "{{ v | money }}", {"v": 10**5000},
         f"{TOO_LARGE} money, got <int too large to show> — {FINITE_HINT}"),
    case("snan", "{{ v | number }}", {"v": Decimal("sNaN")},
         f"{TOO_LARGE} number, got Decimal('sNaN') — {FINITE_HINT}"),
    case("currency", "{{ v | money('EURO') }}", {"v": 1},
         f"expected an ISO 4217 currency code for money, got 'EURO' — {CURRENCY_HINT}"),
    case("money-format", "{{ v | money(format=[1]) }}", {"v": 1},
         f"expected a format string for money, got [1] — {MONEY_FORMAT_HINT}"),
    case("digits", "{{ v | number(99) }}", {"v": 1},
         "expected fraction digits from 0 to 20 for number, got 99 — write e.g. number(2)"),
    case("number-list", "{{ v | number }}", {"v": [1]},
         f"expected a number for number, got [1] — {NUMBER_HINT}"),
    case("number-digits-list", "{{ v | number([2]) }}", {"v": 1},
         "expected fraction digits from 0 to 20 for number, got [2] — write e.g. number(2)"),
    case("digits-list", "{{ v | percent([2]) }}", {"v": 1},
         "expected fraction digits from 0 to 20 for percent, got [2] — write e.g. percent(2)"),
    case("date-string", "{{ v | date }}", {"v": "2026-11-27"},
         f"expected a date or datetime for date, got '2026-11-27' — {SCHEMA_HINT}"),
    case("datetime-date", "{{ v | datetime }}", {"v": date(2026, 11, 27)},
         "expected a datetime for datetime, got datetime.date(2026, 11, 27) — "
         f"{SCHEMA_HINT}, or use the date filter for dates"),
    case("date-pattern", "{{ v | date('qqqqqqqqqq') }}", {"v": date(2026, 11, 27)},
         f"invalid format for date, got 'qqqqqqqqqq' — {DATE_FORMAT_HINT}"),
    case("date-format-type", "{{ v | time(3) }}", {"v": NOW},
         f"expected a format string for time, got 3 — {DATE_FORMAT_HINT}"),
    case("relative-value", "{{ v | relative }}", {"v": 3},
         f"expected a date or datetime for relative, got 3 — {SCHEMA_HINT}"),
    case("relative-now", "{{ v | relative }}", {"v": NOW, "now": None},
         "expected the render time '_now' as a datetime for relative, got None — "
         f"{PROJECT_HINT} render time"),
    case("zone", "{{ v | date }}", {"v": NOW, "tz": "Europe/Berlin"},
         "expected a tzinfo as the recipient's time zone, got 'Europe/Berlin' — "
         f"{PROJECT_HINT} recipient's time zone"),
    case("locale", "{{ v | money }}", {"v": 1, "locale": "xx_YY"},
         "unknown locale 'xx_YY' — use a locale Babel knows, such as 'en_US' or 'de_DE'"),
    case("money-format-typo", "{{ v | money(format='acounting') }}", {"v": 1},
         "invalid format for money, got 'acounting' — did you mean 'accounting'?"),
    case("money-pattern-without-digits", "{{ v | money(format='currency') }}", {"v": 1},
         f"invalid format for money, got 'currency' — {MONEY_FORMAT_HINT}"),
    case("never", "{{ v | date }}", {"v": datetime(9999, 12, 31, 23, 59, tzinfo=UTC)},
         "expected a date-time that exists in the time zone Europe/Berlin, got "
         "9999-12-31T23:59:00+00:00 — check the recipient's data: a placeholder such as "
         "9999-12-31 is not a date to print"),
    case("never-relative", "{{ v | relative }}", {"v": datetime(9999, 12, 31, 23, 59, tzinfo=UTC)},
         "expected a date-time that exists in the time zone Europe/Berlin, got "
         "9999-12-31T23:59:00+00:00 — check the recipient's data: a placeholder such as "
         "9999-12-31 is not a date to print"),
]  # fmt: skip


@pytest.mark.parametrize(("source", "data", "message"), FILTER_ERRORS)
def test_filter_errors(source: str, data: dict[str, Any], message: str) -> None:
    assert str(render_error(source, **data)) == message


RECIPIENT_CURRENCY = "currency: expected an ISO 4217 currency code for money, got"


@pytest.mark.parametrize(
    ("source", "data", "message"),
    [
        case("unknown", "{{ v | money }}", {"v": 1, "currency": "EUX"},
             f"{RECIPIENT_CURRENCY} 'EUX' — {CURRENCY_HINT}"),
        case("none", "{{ v | money }}", {"v": 1, "currency": None},
             f"{RECIPIENT_CURRENCY} None — {CURRENCY_HINT}"),
        case("bad-amount-too", "{{ v | money }}", {"v": "abc", "currency": "EUX"},
             f"{RECIPIENT_CURRENCY} 'EUX' — {CURRENCY_HINT}"),
        case("unhashable-format", "{{ v | money(format=[1]) }}", {"v": 1, "currency": "EUX"},
             f"{RECIPIENT_CURRENCY} 'EUX' — {CURRENCY_HINT}"),
    ],
)  # fmt: skip
def test_an_unknown_currency_of_the_recipient_is_its_currency_field(
    source: str, data: dict[str, Any], message: str
) -> None:
    # A currency given to the filter is the template's (see FILTER_ERRORS): no field.
    with pytest.raises(RecipientError) as info:
        render(source, **data)
    assert (info.value.path, str(info.value)) == ("currency", message)


@pytest.mark.parametrize(
    ("tz", "now", "edge"),
    [
        ("Pacific/Kiritimati", datetime(9999, 12, 31, 23, tzinfo=UTC),
         "after the end of year 9999"),
        ("America/New_York", datetime(1, 1, 1, 2, tzinfo=UTC), "before the start of year 1"),
    ],
    ids=["east", "west"],
)  # fmt: skip
def test_a_render_time_outside_the_recipients_calendar_is_the_renders_now(
    tz: str, now: datetime, edge: str
) -> None:
    with pytest.raises(RecipientError) as info:
        render("{{ v | relative }}", tz=ZoneInfo(tz), now=now, v=datetime(2026, 3, 1, tzinfo=UTC))
    assert info.value.path == "now"
    assert str(info.value) == (
        f"now: the render time {now.isoformat()} is out of range: in the time zone {tz} it falls "
        f"{edge} — render at a time between years 1 and 9999 in every recipient's time zone, "
        "e.g. now=datetime.now(UTC)"
    )


def test_check_locale() -> None:
    for _ in range(2):  # the second time from the names it has accepted
        assert check_locale("de_DE") == "de_DE"
    for name in ("xx_YY", "", "de DE", "xx_YY", ["de_DE"]):
        with pytest.raises(RecipientError) as info:
            check_locale(name)
        assert info.value.message == f"unknown locale {name!r}"
        assert info.value.hint == "use a locale Babel knows, such as 'en_US' or 'de_DE'"


# --- default ----------------------------------------------------------------------------------


DEFAULTS = [
    case("undefined", "{{ first_name | default('Hi') }}", {},
         ("Hi", "first_name fell back to its default 'Hi'")),
    case("undefined-attribute", "{{ user.first_name | d('there') }}", {"user": {}},
         ("there", "first_name fell back to its default 'there'")),
    case("none", "{{ v | default('Hi') }}", {"v": None},
         ("Hi", "a value fell back to its default 'Hi'")),
    case("blank", "{{ v | d('Hi', _field='name') }}", {"v": " \t"},
         ("Hi", "name fell back to its default 'Hi'")),
    case("field-name", "{{ v | d('Hi', _field='name') }}", {},
         ("Hi", "name fell back to its default 'Hi'")),
    case("boolean", "{{ v | default(0, true) }}", {"v": 0},
         ("0", "a value fell back to its default 0")),
    case("no-default", "{{ v | default }}", {"v": ""},
         ("", "a value fell back to its default ''")),
]  # fmt: skip


@pytest.mark.parametrize(("source", "data", "expected"), DEFAULTS)
def test_default_falls_back_with_a_warning(
    source: str, data: dict[str, Any], expected: tuple[str, str]
) -> None:
    output, warning = expected
    for env in (ENV, make_env(StrictUndefined), make_env(ChainableUndefined)):
        warnings: list[str] = []
        assert render(source, env=env, _warnings=warnings, **data) == output
        assert warnings == [warning]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Ann", "Ann"), (0, "0"), (False, "False"), ([], "[]"), ("<b>", "&lt;b&gt;")],
    ids=["text", "zero", "false", "empty-list", "escaped"],
)
def test_default_keeps_present_values(value: object, expected: str) -> None:
    warnings: list[str] = []
    assert render("{{ v | default('x') }}", _warnings=warnings, v=value) == expected
    assert render("{{ v | default('x', true) }}", _warnings=warnings, v=value or 1) == (
        expected if value else "1"
    )
    assert warnings == []


def test_default_without_a_warnings_list() -> None:
    assert ENV.from_string("{{ v | d('Hi') }}").render(v=None) == "Hi"


# --- URLs -------------------------------------------------------------------------------------

CONTROL = (
    "expected a URL without whitespace or control characters, got {} — "
    "percent-encode spaces as %20 and remove control characters"
)
RELATIVE = (
    "expected an absolute http(s) or mailto URL, got {} — "
    "write the full address, starting with https://"
)
NO_HOST = (
    "expected a host name in the URL, got {} — "
    "write the full address, such as 'https://example.com/'"
)
SCHEME = "URL scheme {!r} is not allowed, got {!r} — " + URL_HINT
NOT_TEXT = "expected a URL string, got {} — put the URL in the data as text"


def url_case(name: str, value: object, message: str) -> Any:
    return pytest.param(value, message, id=name)


URL_REJECTIONS = [
    url_case("javascript", "javascript:alert(1)",
             SCHEME.format("javascript", "javascript:alert(1)")),
    url_case("mixed-case", "JaVaScRiPt:alert(1)",
             SCHEME.format("javascript", "JaVaScRiPt:alert(1)")),
    url_case("tab", "java\tscript:alert(1)", CONTROL.format("'java\\tscript:alert(1)'")),
    url_case("newline", "https://example.com/\nx", CONTROL.format("'https://example.com/\\nx'")),
    url_case("leading-space", " javascript:x", SCHEME.format("javascript", " javascript:x")),
    url_case("nul", "\x00javascript:alert(1)", CONTROL.format("'\\x00javascript:alert(1)'")),
    url_case("inner-space", "https://example.com/a b", CONTROL.format("'https://example.com/a b'")),
    url_case("nbsp", "https://example.com/\xa0x", CONTROL.format("'https://example.com/\\xa0x'")),
    url_case("data", "data:text/html,<script>", SCHEME.format("data", "data:text/html,<script>")),
    url_case("vbscript", "vbscript:msgbox(1)", SCHEME.format("vbscript", "vbscript:msgbox(1)")),
    url_case("protocol-relative", "//evil.com", RELATIVE.format("'//evil.com'")),
    url_case("relative", "/relative", RELATIVE.format("'/relative'")),
    url_case("bare-host", "example.com/x", RELATIVE.format("'example.com/x'")),
    url_case("empty", "", RELATIVE.format("''")),
    url_case("no-host", "http://", NO_HOST.format("'http://'")),
    url_case("triple-slash", "https:///evil.com", NO_HOST.format("'https:///evil.com'")),
    url_case("no-slashes", "http:example.com", NO_HOST.format("'http:example.com'")),
    url_case("port-only", "http://:80/", NO_HOST.format("'http://:80/'")),
    url_case("empty-mailto", "mailto:",
             "expected an address after 'mailto:', got 'mailto:' — "
             "write 'mailto:name@example.com'"),
    url_case("bad-ipv6", "http://[::1/", f"expected a valid URL, got 'http://[::1/' — {URL_HINT}"),
    url_case("int", 12, NOT_TEXT.format("12")),
    url_case("none", None, NOT_TEXT.format("None")),
    url_case("bytes", b"https://example.com", NOT_TEXT.format("b'https://example.com'")),
]  # fmt: skip


@pytest.mark.parametrize(("value", "message"), URL_REJECTIONS)
def test_url_rejections(value: object, message: str) -> None:
    with pytest.raises(RecipientError) as info:
        validate_url(value)
    assert str(info.value) == message
    assert str(render_error("{{ v | url }}", v=value)) == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://example.com/", "https://example.com/"),
        (" https://shop.example.com/p?id=1 \n", "https://shop.example.com/p?id=1"),
        ("HTTP://EXAMPLE.COM", "HTTP://EXAMPLE.COM"),
        ("mailto:ann@example.com?subject=Hi", "mailto:ann@example.com?subject=Hi"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("https://例え.jp/パス", "https://例え.jp/パス"),
    ],
    ids=["plain", "stripped", "upper-case", "mailto", "ipv6", "unicode"],
)
def test_urls_accepted(value: str, expected: str) -> None:
    assert validate_url(value) == expected


def test_url_filter_output_is_still_escaped() -> None:
    link = 'https://example.com/?q="><script>'
    assert render("{{ v | url }}", v=link) == "https://example.com/?q=&#34;&gt;&lt;script&gt;"


URLISH = st.one_of(
    st.text(),
    st.tuples(
        st.sampled_from(["http://", "HTTPS://", "mailto:", "javascript:", " ", "\t", "//", "h"]),
        st.text(),
    ).map("".join),
)


@given(URLISH)
def test_validate_url_is_total(value: str) -> None:
    try:
        result = validate_url(value)
    except RecipientError:
        return
    assert urlsplit(result).scheme.lower() in {"http", "https", "mailto"}


# --- CSS --------------------------------------------------------------------------------------

CSS_ACCEPTED = [
    "#abc", "#AABBCC", "#aabbccdd", "rgb(0, 128, 255)", "rgba(0,0,0,0.5)", "RGB(1 2 3)",
    "hsl(120deg 50% 50%)", "hsla(120, 50%, 50%, .5)", "rgb(0 0 0 / 50%)", "bold", "sans-serif",
    "Helvetica Neue, Arial, sans-serif", "12px", "1.5em", "2rem", "50%", "10pt", "-4px", "0 auto",
    "1px solid #ff0000", "-webkit-box", "Noto Sans JP", "微软雅黑", "700",
]  # fmt: skip


@pytest.mark.parametrize("value", CSS_ACCEPTED, ids=CSS_ACCEPTED)
def test_css_accepted(value: str) -> None:
    assert validate_css_value(value) == value
    assert render("{{ v | css }}", v=value) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [("  red ", "red"), (12, "12"), (1.5, "1.5"), (Decimal("0.5"), "0.5")],
    ids=["stripped", "int", "float", "decimal"],
)
def test_css_normalized(value: object, expected: str) -> None:
    assert validate_css_value(value) == expected


CSS_REJECTED = [
    "red;background:url(x)", "red; color: blue", "url(x)", "URL(x)", "expression(alert(1))",
    '"Arial"', "'Arial'", "red\\9", "/* x */ red", "red/**/", "</style><script>", "<b>", "{", "}",
    "@import x", "red\x00", "red\nblue", "red\tblue", "red !important", "#abcd", "#ggg",
    "rgb(a, b, c)", "rgb(1, 2)", "rgb(1, 2, 3", "calc(1px + 2px)", "var(--x)", "a:hover",
    "red,", ", red", "1e3px", "--",
]  # fmt: skip


@pytest.mark.parametrize("value", CSS_REJECTED, ids=[repr(v) for v in CSS_REJECTED])
def test_css_rejected(value: str) -> None:
    with pytest.raises(RecipientError) as info:
        validate_css_value(value)
    assert str(info.value) == f"unsafe CSS value, got {value!r} — {CSS_HINT}"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, f"expected a CSS value as text, got None — {CSS_HINT}"),
        (True, f"expected a CSS value as text, got True — {CSS_HINT}"),
        (["red"], f"expected a CSS value as text, got ['red'] — {CSS_HINT}"),
        ("  ", "expected a CSS value, got '  ' — put default(...) before css for optional values"),
    ],
    ids=["none", "bool", "list", "blank"],
)
def test_css_non_values(value: object, message: str) -> None:
    assert str(render_error("{{ v | css }}", v=value)) == message


def test_css_check_is_linear_on_hostile_input() -> None:
    started = time.perf_counter()
    for hostile in ("a-" * 50_000 + ";", "1px " * 50_000 + ";", "rgb(1 " * 20_000):
        with pytest.raises(RecipientError):
            validate_css_value(hostile)
    assert time.perf_counter() - started < 1.0


CSS_ALPHABET = "#(),.%/ -;:'\"<>{}\\@!\t\x00abcdefghlmprstuxz0123456789"


@given(st.one_of(st.text(), st.text(alphabet=CSS_ALPHABET)))
def test_validate_css_value_is_total(value: str) -> None:
    try:
        result = validate_css_value(value)
    except RecipientError:
        return
    assert not set(result) & set(";:\"'<>{}\\")
    assert "url(" not in result.lower()


# --- totality of the number filters -----------------------------------------------------------

JSON_LIKE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.decimals()
    | st.text()
    | st.from_regex(r"\A[+-]?[0-9]{0,20}(\.[0-9]{0,25})?([eE][+-]?[0-9]{1,4})?\Z"),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=5,
)
NUMBER_TEMPLATES = [
    ENV.from_string(f"{{{{ v | {call} }}}}")
    for call in ("money", "money('JPY')", "number", "number(20)", "percent(3)")
]


@given(JSON_LIKE, st.sampled_from(["de_DE", "en_US", "ar_EG", "hi_IN"]))
def test_number_filters_are_total(value: object, locale: str) -> None:
    for template in NUMBER_TEMPLATES:
        try:
            result = template.render(_locale=locale, _currency="EUR", v=value)
        except RecipientError:
            continue
        assert isinstance(result, str)
        assert result


def test_accepted_urls_are_remembered_and_rejected_ones_raise_every_time() -> None:
    good, bad = "https://remembered.example/a", "javascript:remembered()"
    filters._GOOD_URLS.clear()
    assert validate_url(f" {good} ") == good
    assert validate_url(good) == good
    assert {f" {good} ": good, good: good} == filters._GOOD_URLS
    for _ in range(2):
        with pytest.raises(RecipientError, match="URL scheme 'javascript' is not allowed"):
            validate_url(bad)
    assert bad not in filters._GOOD_URLS
    # A Markup is checked, never answered by a plain str's entry.
    assert type(validate_url(Markup(good))) is Markup


@pytest.mark.parametrize(
    "value", ["/deals", "", Markup("/a&amp;b"), 42, None, StrictUndefined(name="path")]
)
def test_a_link_part_that_keeps_the_host_is_returned_as_it_is(value: object) -> None:
    # Printing then does what it does without the check: None and Undefined raise there.
    assert filters.url_part(value, "after-value") is value


def test_a_link_part_is_checked_for_its_place_whatever_the_url_check_accepts() -> None:
    assert validate_url("https://evil.example/") == "https://evil.example/"
    with pytest.raises(RecipientError) as caught:
        render("{{ v | _url_part('after-host') }}", v="https://evil.example/")
    assert str(caught.value).startswith(
        "expected a path, query or fragment (starting with /, ? or #) after the link's host, "
        "got 'https://evil.example/' — "
    )


def test_remembered_urls_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filters, "CACHE", 3)
    filters._GOOD_URLS.clear()
    urls = [f"https://bounded.example/{n}" for n in range(7)]
    for url in urls:
        assert validate_url(url) == url
        assert len(filters._GOOD_URLS) <= 3
    assert urls[-1] in filters._GOOD_URLS


# --- fast paths, each against the path it stands in for ----------------------------------------


@given(url=st.from_regex(safevalues.PLAIN_URL, fullmatch=True))
def test_a_plain_url_is_one_the_full_check_accepts_unchanged(url: str) -> None:
    assert safevalues._checked_in_full(url) == url


def _outcome(function: Any, *args: Any) -> object:
    try:
        return function(*args)
    except RecipientError as exc:
        return str(exc)


@given(
    url=st.one_of(
        st.text(),
        st.builds(
            "".join,
            st.lists(
                st.sampled_from(
                    [
                        "http",
                        "s",
                        "://",
                        ":",
                        "a",
                        "-",
                        ".",
                        "8",
                        "/",
                        "?",
                        "#",
                        "[",
                        "]",
                        "@",
                        " ",
                        "\x00",
                        "é",
                        "HTTPS",
                        "mailto:",
                    ]
                )
            ),
        ),
    )
)
def test_checked_url_answers_as_the_full_check(url: str) -> None:
    assert _outcome(safevalues.checked_url.__wrapped__, url) == _outcome(
        safevalues._checked_in_full, url
    )


_LOCALES = sorted(localedata.locale_identifiers())


@given(
    value=st.integers(min_value=-(10**18) + 1, max_value=10**18 - 1),
    locale=st.sampled_from(_LOCALES),
)
def test_whole_numbers_format_as_babel_formats_them(value: int, locale: str) -> None:
    expected = babel_numbers.format_decimal(value, locale=Locale.parse(locale))
    assert numbers.number_text.__wrapped__("number", value, None, locale) == expected


def test_whole_numbers_take_the_fast_path_where_it_matches_babel() -> None:
    assert numbers._int_format(Locale.parse("hi_IN"))(-12345678) == "-1,23,45,678"
    assert numbers._int_format(Locale.parse("de_CH"))(1234567) == "1’234’567"
    fitting = [name for name in _LOCALES if numbers._int_format(Locale.parse(name))]
    assert len(fitting) > len(_LOCALES) * 0.9


def test_moments_of_one_local_day_share_their_date_text() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    late = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)  # already the 28th in Berlin
    early = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
    for moment in (late, early):
        assert render("{{ v | date('long') }}", v=moment, _tz=berlin) == "28. November 2026"
    assert render("{{ v | date('long') }}", v=late, _tz=UTC) == "27. November 2026"
    assert render("{{ v | date('d.M.y') }}", v=late.date()) == "27.11.2026"


def test_clear_value_caches_empties_every_value_cache() -> None:
    from personalize.filters import dates, numbers
    from personalize.safevalues import _checked_css, _css_url, checked_url, css_url

    render(
        "{{ 5 | money }} {{ 5 | number }} {{ when | date }} {{ when | relative }} "
        "{{ 'https://a.example/' | url }} {{ 'red' | css }}",
        when=NOW,
    )
    css_url("https://a.example/x.png")
    caches = (
        numbers.money_text,
        numbers.number_text,
        dates.when_text,
        dates.relative_text,
        checked_url,
        _checked_css,
        _css_url,
    )
    assert all(cache.cache_info().currsize for cache in caches)
    assert filters._GOOD_URLS
    filters.clear_value_caches()
    assert [cache.cache_info().currsize for cache in (*caches, dates._day_text)] == [0] * 8
    assert not filters._GOOD_URLS
