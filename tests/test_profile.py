"""Tests for the recipient schema: every type, defaults, limits, error messages, immutability."""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import math
import re
import tempfile
import textwrap
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_core import SchemaValidator, core_schema

from personalize import Project
from personalize.config import LimitSettings, Settings, load_settings
from personalize.errors import ConfigError, RecipientError, short_repr
from personalize.fieldtypes import SPACES
from personalize.message import parse_address
from personalize.profile import BUILTIN_TYPES, RESERVED_NAMES, Recipient, Schema, build_schema
from personalize.render import context_for
from personalize.segments import Membership
from personalize.templating import GLOBAL_NAMES, make_environments

BERLIN = ZoneInfo("Europe/Berlin")
ROOT = Path(__file__).resolve().parents[1]

# One optional field per builtin type, on a project in Europe/Berlin.
TYPES_TOML = """\
[project]
timezone = "Europe/Berlin"
locale = "en_US"
currency = "USD"

[recipient.fields]
name = "str"
points = "int"
score = "float"
total = "decimal"
active = "bool"
birthday = "date"
signup_at = "datetime"
email = "email"
website = "url"
prefs = "map"
tags = "list[str]"
nums = "list[int]"
"""

# A realistic schema: required fields, defaults, choices, named and nested types.
SHOP_TOML = """\
[project]
timezone = "Europe/Berlin"

[recipient.fields]
email = {type = "email", required = true}
first_name = {type = "str", default = "there"}
tier = {type = "str", default = "Bronze", choices = ["Bronze", "Silver", "Gold"]}
points = {type = "int", default = 0}
nick = {type = "str", max_length = 5}
orders = {type = "list[order]", default = []}
address = "address"

[recipient.types.order]
at = "datetime"
total = {type = "decimal", required = true}
items = "list[item]"

[recipient.types.item]
sku = "str"
quantity = {type = "int", default = 1}

[recipient.types.address]
city = "str"
zip = {type = "str", required = true}
"""


def write_project(tmp_path: Path, toml: str) -> Path:
    """A project folder with ``personalize.toml`` holding ``toml``."""
    (tmp_path / "personalize.toml").write_text(textwrap.dedent(toml), encoding="utf-8")
    return tmp_path


def make_schema(tmp_path: Path, toml: str) -> Schema:
    return Schema(load_settings(write_project(tmp_path, toml)))


def schema_error(tmp_path: Path, toml: str) -> str:
    with pytest.raises(ConfigError) as caught:
        make_schema(tmp_path, toml)
    return str(caught.value)


@pytest.fixture(scope="module")
def types_schema(tmp_path_factory: pytest.TempPathFactory) -> Schema:
    return make_schema(tmp_path_factory.mktemp("types"), TYPES_TOML)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Schema:
    return make_schema(tmp_path_factory.mktemp("shop"), SHOP_TOML)


def invalid(
    schema: Schema, record: Any, *, source: str | None = None, line: int | None = None
) -> str:
    with pytest.raises(RecipientError) as caught:
        schema.validate(record, source=source, line=line)
    return str(caught.value)


# -- every builtin type: what it accepts --------------------------------------------------

ACCEPT_CASES: list[tuple[str, str, Any, Any]] = [
    ("str", "name", "Ann", "Ann"),
    ("str from an int", "name", 12, "12"),
    ("str from a float", "name", 1.5, "1.5"),
    ("str keeps inner spaces", "name", " Ann Lee ", " Ann Lee "),
    ("int", "points", 12, 12),
    ("int from text", "points", "12", 12),
    ("int from padded text", "points", " 12 ", 12),
    ("int from a whole float", "points", 12.0, 12),
    ("negative int", "points", -3, -3),
    ("huge int", "points", 10**30, 10**30),
    ("float", "score", 1.5, 1.5),
    ("float from an int", "score", 2, 2.0),
    ("float from text", "score", "1e3", 1000.0),
    ("decimal from text", "total", "19.99", Decimal("19.99")),
    ("decimal from an int", "total", 5, Decimal(5)),
    ("decimal from a float", "total", 1.1, Decimal("1.1")),
    ("bool true", "active", True, True),
    ("bool false", "active", False, False),
    ("bool from 'true'", "active", "true", True),
    ("bool from 'no'", "active", "no", False),
    ("bool from 'on'", "active", "on", True),
    ("bool from 1", "active", 1, True),
    ("bool from 0", "active", 0, False),
    ("date", "birthday", "2026-11-20", date(2026, 11, 20)),
    ("date object", "birthday", date(2026, 11, 20), date(2026, 11, 20)),
    ("date from a midnight date-time", "birthday", "2026-11-20T00:00:00", date(2026, 11, 20)),
    (
        "aware datetime",
        "signup_at",
        "2026-11-20T09:00:00+01:00",
        datetime(2026, 11, 20, 9, tzinfo=timezone(timedelta(hours=1))),
    ),
    ("datetime in UTC", "signup_at", "2026-11-20T08:00:00Z", datetime(2026, 11, 20, 8, tzinfo=UTC)),
    (
        "naive datetime is read in the project time zone",
        "signup_at",
        "2026-11-20T09:00:00",
        datetime(2026, 11, 20, 9, tzinfo=BERLIN),
    ),
    (
        "naive datetime object too",
        "signup_at",
        datetime(2026, 7, 1, 9),
        datetime(2026, 7, 1, 9, tzinfo=BERLIN),
    ),
    (
        "aware datetime object kept",
        "signup_at",
        datetime(2026, 7, 1, 9, tzinfo=UTC),
        datetime(2026, 7, 1, 9, tzinfo=UTC),
    ),
    (
        "date-only datetime is midnight in the project time zone",
        "signup_at",
        "2026-11-20",
        datetime(2026, 11, 20, tzinfo=BERLIN),
    ),
    ("email", "email", "ann@example.com", "ann@example.com"),
    ("email stripped", "email", "  ann@example.com ", "ann@example.com"),
    (
        "email with plus and subdomain",
        "email",
        "a.b+tag@mail.example.co.uk",
        "a.b+tag@mail.example.co.uk",
    ),
    ("https url", "website", "https://example.com/a?b=1#c", "https://example.com/a?b=1#c"),
    ("http url in capitals", "website", "HTTP://EXAMPLE.COM", "HTTP://EXAMPLE.COM"),
    ("mailto url", "website", "mailto:ann@example.com", "mailto:ann@example.com"),
    ("url stripped", "website", "  https://example.com/ ", "https://example.com/"),
    ("url with non-ASCII", "website", "https://example.com/straße", "https://example.com/straße"),
    ("locale", "locale", "de_DE", "de_DE"),
    ("locale with a hyphen", "locale", "de-DE", "de_DE"),
    ("language only", "locale", "en", "en"),
    ("locale with script", "locale", "zh-Hant-TW", "zh_Hant_TW"),
    ("locale with a region number", "locale", "es-419", "es_419"),
    ("timezone", "timezone", "Europe/Berlin", "Europe/Berlin"),
    ("timezone stripped", "timezone", " America/New_York ", "America/New_York"),
    ("currency upper-cased", "currency", "eur", "EUR"),
    ("currency", "currency", "JPY", "JPY"),
    ("list of text", "tags", ["a", "b"], ("a", "b")),
    ("list from a tuple", "tags", ("a",), ("a",)),
    ("empty list", "tags", [], ()),
    ("list of ints from text", "nums", ["1", 2], (1, 2)),
]


@pytest.mark.parametrize(
    ("field", "value", "expected"), [c[1:] for c in ACCEPT_CASES], ids=[c[0] for c in ACCEPT_CASES]
)
def test_types_accept(types_schema: Schema, field: str, value: Any, expected: Any) -> None:
    recipient = types_schema.validate({"id": "x", field: value})
    got = recipient.data[field]
    assert got == expected
    assert type(got) is type(expected)
    if isinstance(expected, datetime):
        assert got.utcoffset() == expected.utcoffset()


def test_map_is_a_read_only_mapping_of_scalars(types_schema: Schema) -> None:
    prefs = {"color": "red", "size": 42, "ratio": 0.5, "news": True, "none": None}
    recipient = types_schema.validate({"id": "x", "prefs": prefs})
    assert isinstance(recipient["prefs"], MappingProxyType)
    assert dict(recipient["prefs"]) == prefs
    with pytest.raises(TypeError):
        recipient["prefs"]["color"] = "blue"  # type: ignore[index]


def test_builtin_types_are_listed() -> None:
    assert BUILTIN_TYPES == (
        "str",
        "int",
        "float",
        "decimal",
        "bool",
        "date",
        "datetime",
        "email",
        "url",
        "locale",
        "timezone",
        "currency",
        "map",
    )


# -- the email type refuses what to_message would refuse, and says which rule failed -------

EMAIL_CASES: list[tuple[str, str, str]] = [
    ("NUL", "a\x00b@example.com", "it holds an invisible or control character (U+0000)"),
    ("BEL", "a\x07b@example.com", "it holds an invisible or control character (U+0007)"),
    ("ESC", "a\x1bb@example.com", "it holds an invisible or control character (U+001B)"),
    ("DEL", "a\x7fb@example.com", "it holds an invisible or control character (U+007F)"),
    (
        "bidi override",
        "\u202eab@example.com",
        "it holds an invisible or control character (U+202E)",
    ),
    ("BOM", "a\ufeffb@example.com", "it holds an invisible or control character (U+FEFF)"),
    (
        "zero-width space",
        "a\u200bb@example.com",
        "it holds an invisible or control character (U+200B)",
    ),
    (
        "non-ASCII local part",
        "anné@example.com",
        "non-ASCII addresses need SMTPUTF8, which is not supported; the part before the '@' "
        "must be ASCII",
    ),
    (
        "non-ASCII domain",
        "a@müller.de",
        "non-ASCII addresses need SMTPUTF8, which is not supported; write the domain in its "
        "ASCII form (xn--…)",
    ),
    (
        "two dots in a row",
        "jo..doe@example.com",
        "the part before the '@' starts or ends with a dot, or has two in a row",
    ),
    (
        "a leading dot",
        ".ann@example.com",
        "the part before the '@' starts or ends with a dot, or has two in a row",
    ),
    (
        "a trailing dot",
        "ann.@example.com",
        "the part before the '@' starts or ends with a dot, or has two in a row",
    ),
    (
        "a quoted local part",
        '"a b"@example.com',
        "the part before the '@' holds '\"', which needs quoting (not supported)",
    ),
    (
        "a local part over 64 characters",
        "a" * 65 + "@example.com",
        "the part before the '@' has 65 characters; at most 64 are allowed",
    ),
    ("an encoded word", "ann=?x@example.com", "it holds '=?', which could start an encoded word"),
    (
        "a label starting with '-'",
        "a@b.-c",
        "the domain part '-c' is not a host name: 1 to 63 letters, digits or '-', with no '-' "
        "at either end",
    ),
    (
        "a label ending with '-'",
        "a@b.c-",
        "the domain part 'c-' is not a host name: 1 to 63 letters, digits or '-', with no '-' "
        "at either end",
    ),
    (
        "a label of 64 characters",
        "a@" + "b" * 64 + ".com",
        "the domain part '" + "b" * 38 + "… is not a host name: 1 to 63 letters, digits or "
        "'-', with no '-' at either end",
    ),
    (
        "an empty label",
        "a@example..com",
        "the domain has an empty part: a dot at either end, or two in a row",
    ),
    (
        "an address literal",
        "a@[127.0.0.1]",
        "the domain part '[127' is not a host name: 1 to 63 letters, digits or '-', with no "
        "'-' at either end",
    ),
    (
        "a list",
        "a@example.com, b@example.com",
        "give a single address; send one message per recipient",
    ),
    ("a name", "Ann <ann@example.com>", "give the address alone, without a name or '<>'"),
]


@pytest.mark.parametrize(
    ("value", "hint"), [c[1:] for c in EMAIL_CASES], ids=[c[0] for c in EMAIL_CASES]
)
def test_the_email_type_names_the_rule_an_address_breaks(
    types_schema: Schema, value: str, hint: str
) -> None:
    for record in ({"id": "x", "email": value}, MappingProxyType({"id": "x", "email": value})):
        assert invalid(types_schema, record) == (
            f"recipient x: email: {EMAIL}, got {short_repr(value)} — {hint}"
        )
    if "<" not in value:  # to_message takes a name and address: it refuses the rest alike
        with pytest.raises(RecipientError) as caught:
            parse_address(value, role="to", recipient="x")
        assert caught.value.hint == hint


def test_the_email_type_accepts_what_to_message_sends(types_schema: Schema) -> None:
    for value in ("first.o'neil+tag@mail-1.example.co.uk", "a!#$%&'*+/=^?_`{|}~-z@x.example"):
        assert types_schema.validate({"id": "x", "email": value})["email"] == value
        assert parse_address(value, role="to").addr_spec == value


# -- every builtin type: what it rejects --------------------------------------------------

DATE = "expected an ISO date such as 2026-11-20"
DATETIME = "expected an ISO date-time such as 2026-11-20T09:00:00+01:00"
EMAIL = "expected an email address such as 'ann@example.com'"
NO_AT = "an address has a user, an '@' and a domain, as in 'user@example.com'"
CONTROL = "it holds an invisible or control character"
URL = "expected an http(s) or mailto URL"
LOCALE = "expected a locale such as 'en_US' or 'de_DE'"
SCALAR = "expected text, a number, true/false or null"

REJECT_CASES: list[tuple[str, str, Any, str]] = [
    ("str from true", "name", True, "name: expected text, got True"),
    ("str from a list", "name", ["a"], "name: expected text, got ['a']"),
    ("str from an object", "name", {"a": 1}, "name: expected text, got {'a': 1}"),
    (
        "str with a lone surrogate",
        "name",
        "a\ud800",
        "name: text holds an invalid character (a lone surrogate), got 'a\\ud800'",
    ),
    ("int from words", "points", "many", "points: expected a whole number, got 'many'"),
    ("int from a fraction", "points", 1.5, "points: expected a whole number, got 1.5"),
    ("int from true", "points", True, "points: expected a whole number, got True"),
    ("int from false", "points", False, "points: expected a whole number, got False"),
    ("int from exponent text", "points", "1e3", "points: expected a whole number, got '1e3'"),
    ("int from a list", "points", [1], "points: expected a whole number, got [1]"),
    ("int from NaN", "points", math.nan, "points: expected a finite number, got nan"),
    ("int from infinity", "points", math.inf, "points: expected a finite number, got inf"),
    (
        "int from 5,000 digits",
        "points",
        "1" * 5000,
        "points: expected a whole number, got '" + "1" * 58 + "…",
    ),
    ("float from words", "score", "high", "score: expected a number, got 'high'"),
    ("float from true", "score", True, "score: expected a number, got True"),
    ("float NaN", "score", math.nan, "score: expected a finite number, got nan"),
    ("float infinity", "score", math.inf, "score: expected a finite number, got inf"),
    ("float minus infinity", "score", -math.inf, "score: expected a finite number, got -inf"),
    ("float 'NaN' text", "score", "NaN", "score: expected a finite number, got 'NaN'"),
    ("float '-inf' text", "score", "-inf", "score: expected a finite number, got '-inf'"),
    ("float too big", "score", 10**400, "score: expected a number, got " + "1" + "0" * 58 + "…"),
    ("decimal from words", "total", "abc", "total: expected a number, got 'abc'"),
    ("decimal from true", "total", True, "total: expected a number, got True"),
    ("decimal 'NaN'", "total", "NaN", "total: expected a finite number, got 'NaN'"),
    ("decimal 'Infinity'", "total", "Infinity", "total: expected a finite number, got 'Infinity'"),
    ("decimal infinity", "total", math.inf, "total: expected a finite number, got inf"),
    ("bool from 2", "active", 2, "active: expected true or false, got 2"),
    ("bool from words", "active", "maybe", "active: expected true or false, got 'maybe'"),
    ("bool from a list", "active", [], "active: expected true or false, got []"),
    ("date in another format", "birthday", "20/11/2026", f"birthday: {DATE}, got '20/11/2026'"),
    ("impossible date", "birthday", "2026-13-01", f"birthday: {DATE}, got '2026-13-01'"),
    (
        "date with a time",
        "birthday",
        "2026-11-20T09:00:00",
        f"birthday: {DATE} (without a time), got '2026-11-20T09:00:00'",
    ),
    ("date from true", "birthday", True, f"birthday: {DATE}, got True"),
    ("datetime from words", "signup_at", "yesterday", f"signup_at: {DATETIME}, got 'yesterday'"),
    (
        "impossible hour",
        "signup_at",
        "2026-11-20T25:00",
        f"signup_at: {DATETIME}, got '2026-11-20T25:00'",
    ),
    ("datetime from true", "signup_at", True, f"signup_at: {DATETIME}, got True"),
    ("email without a domain", "email", "ann", f"email: {EMAIL}, got 'ann' — {NO_AT}"),
    (
        "email without a dot",
        "email",
        "ann@localhost",
        f"email: {EMAIL}, got 'ann@localhost' — the domain needs a dot, as in 'example.com'",
    ),
    (
        "email with two at signs",
        "email",
        "a@b@example.com",
        f"email: {EMAIL}, got 'a@b@example.com' — give a single address; send one message per "
        "recipient",
    ),
    (
        "email in angle brackets",
        "email",
        "<ann@example.com>",
        f"email: {EMAIL}, got '<ann@example.com>' — give the address alone, without a name or '<>'",
    ),
    (
        "email with a header injection",
        "email",
        "ann@example.com\nBcc: eve@example.com",
        f"email: {EMAIL}, got 'ann@example.com\\nBcc: eve@example.com' — {CONTROL} (U+000A)",
    ),
    (
        "email over 254 characters",
        "email",
        "a" * 250 + "@example.com",
        f"email: {EMAIL}, got '" + "a" * 58 + "… — the part before the '@' has 250 characters; "
        "at most 64 are allowed",
    ),
    (
        "javascript url",
        "website",
        "javascript:alert(1)",
        f"website: {URL}, got 'javascript:alert(1)'",
    ),
    (
        "mixed-case javascript url",
        "website",
        "JaVaScRiPt:alert(1)",
        f"website: {URL}, got 'JaVaScRiPt:alert(1)'",
    ),
    (
        "javascript url with a tab",
        "website",
        "java\tscript:x",
        f"website: {URL}, got 'java\\tscript:x'",
    ),
    ("data url", "website", "data:text/html,<b>", f"website: {URL}, got 'data:text/html,<b>'"),
    ("vbscript url", "website", "vbscript:x", f"website: {URL}, got 'vbscript:x'"),
    ("ftp url", "website", "ftp://example.com", f"website: {URL}, got 'ftp://example.com'"),
    ("scheme-relative url", "website", "//example.com", f"website: {URL}, got '//example.com'"),
    ("url with a space", "website", "https://a b", f"website: {URL}, got 'https://a b'"),
    ("url with NUL", "website", "https://a\x00b", f"website: {URL}, got 'https://a\\x00b'"),
    (
        "url with a noncharacter",
        "website",
        "https://a.b/?u=\ufdd1x",
        f"website: {URL}, got 'https://a.b/?u=\\ufdd1x'",
    ),
    (
        "email with a noncharacter",
        "email",
        "ve\ufdd0ra@example.com",
        f"email: {EMAIL}, got 've\\ufdd0ra@example.com' — {CONTROL} (U+FDD0)",
    ),
    (
        "map holding a noncharacter",
        "prefs",
        {"a": "x\ufdd2"},
        "prefs.a: text holds a Unicode noncharacter (U+FDD0–U+FDEF), got 'x\\ufdd2'",
    ),
    ("url with nothing after the scheme", "website", "https://", f"website: {URL}, got 'https://'"),
    ("locale in words", "locale", "german", f"locale: {LOCALE}, got 'german'"),
    ("locale upper-case language", "locale", "DE", f"locale: {LOCALE}, got 'DE'"),
    ("locale lower-case region", "locale", "de-de", f"locale: {LOCALE}, got 'de-de'"),
    (
        "unknown time zone",
        "timezone",
        "Mars/Olympus",
        "timezone: expected an IANA time zone such as 'Europe/Berlin', got 'Mars/Olympus'",
    ),
    (
        "time zone folder",
        "timezone",
        "Europe",
        "timezone: expected an IANA time zone such as 'Europe/Berlin', got 'Europe'",
    ),
    (
        "time zone path",
        "timezone",
        "../../etc/passwd",
        "timezone: expected an IANA time zone such as 'Europe/Berlin', got '../../etc/passwd'",
    ),
    (
        "host's own time zone",
        "timezone",
        "localtime",
        "timezone: expected an IANA time zone such as 'Europe/Berlin', got 'localtime'",
    ),
    (
        "time zone of the posix folder",
        "timezone",
        "posix/Europe/Berlin",
        "timezone: expected an IANA time zone such as 'Europe/Berlin', got 'posix/Europe/Berlin'",
    ),
    (
        "currency of four letters",
        "currency",
        "EURO",
        "currency: expected an ISO 4217 currency code such as 'EUR', got 'EURO'",
    ),
    (
        "currency symbol",
        "currency",
        "€",
        "currency: expected an ISO 4217 currency code such as 'EUR', got '€'",
    ),
    ("map from a list", "prefs", [1], "prefs: expected an object, got [1]"),
    ("map from text", "prefs", "a=1", "prefs: expected an object, got 'a=1'"),
    ("map holding a list", "prefs", {"a": [1]}, f"prefs.a: {SCALAR}, got [1]"),
    ("map holding an object", "prefs", {"a": {"b": 1}}, f"prefs.a: {SCALAR}, got {{'b': 1}}"),
    ("map holding NaN", "prefs", {"a": math.nan}, "prefs.a: expected a finite number, got nan"),
    (
        "map holding a lone surrogate",
        "prefs",
        {"a": "\udc00"},
        "prefs.a: text holds an invalid character (a lone surrogate), got '\\udc00'",
    ),
    (
        "map key with a control character is escaped",
        "prefs",
        {"a\nb": [1]},
        f"prefs.'a\\nb': {SCALAR}, got [1]",
    ),
    ("list from text", "tags", "abc", "tags: expected a list, got 'abc'"),
    ("list from an object", "tags", {"a": 1}, "tags: expected a list, got {'a': 1}"),
    ("list item of the wrong type", "nums", [1, "x"], "nums[1]: expected a whole number, got 'x'"),
    ("null list item", "tags", ["a", None], "tags[1]: expected text, got None"),
    (
        "lone surrogate in a list",
        "tags",
        ["ok", "\ud800"],
        "tags[1]: text holds an invalid character (a lone surrogate), got '\\ud800'",
    ),
]


@pytest.mark.parametrize(
    ("field", "value", "expected"), [c[1:] for c in REJECT_CASES], ids=[c[0] for c in REJECT_CASES]
)
def test_types_reject(types_schema: Schema, field: str, value: Any, expected: str) -> None:
    assert invalid(types_schema, {"id": "x", field: value}) == f"recipient x: {expected}"


# -- errors name the record, the recipient and the field path ----------------------------

MESSAGE_CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "nested list item field",
        {"id": "x", "email": "a@example.com", "orders": [{"total": 1, "at": "soon"}]},
        f"p.jsonl line 3 (recipient x): orders[0].at: {DATETIME}, got 'soon'",
    ),
    (
        "second order, nested list",
        {
            "id": "x",
            "email": "a@example.com",
            "orders": [{"total": 1}, {"total": 2, "items": [{"sku": "A", "quantity": "two"}]}],
        },
        "p.jsonl line 3 (recipient x): orders[1].items[0].quantity: expected a whole number, "
        "got 'two'",
    ),
    (
        "required field of a nested object",
        {"id": "x", "email": "a@example.com", "address": {"city": "Berlin"}},
        "p.jsonl line 3 (recipient x): address.zip: required field is missing — fix the record, "
        "or declare a default for the field",
    ),
    (
        "required field in a list item",
        {"id": "x", "email": "a@example.com", "orders": [{"at": "2026-11-20T09:00:00"}]},
        "p.jsonl line 3 (recipient x): orders[0].total: required field is missing — fix the "
        "record, or declare a default for the field",
    ),
    (
        "missing required field",
        {"id": "x"},
        "p.jsonl line 3 (recipient x): email: required field is missing — fix the record, or "
        "declare a default for the field",
    ),
    (
        "blank required field counts as missing",
        {"id": "x", "email": "   "},
        "p.jsonl line 3 (recipient x): email: required field is missing — fix the record, or "
        "declare a default for the field",
    ),
    (
        "null required field counts as missing",
        {"id": "x", "email": None},
        "p.jsonl line 3 (recipient x): email: required field is missing — fix the record, or "
        "declare a default for the field",
    ),
    (
        "missing id",
        {"email": "a@example.com"},
        "p.jsonl line 3: id: required field is missing — fix the record, or declare a default "
        "for the field",
    ),
    (
        "blank id",
        {"id": "", "email": "a@example.com"},
        "p.jsonl line 3: id: required field is missing — fix the record, or declare a default "
        "for the field",
    ),
    (
        "id that is not text",
        {"id": ["x"], "email": "a@example.com"},
        "p.jsonl line 3: id: expected text, got ['x']",
    ),
    (
        "a numeric id is named",
        {"id": 17, "email": "nope"},
        f"p.jsonl line 3 (recipient 17): email: {EMAIL}, got 'nope' — {NO_AT}",
    ),
    (
        "an id with a newline is escaped",
        {"id": "a\nb", "email": "nope"},
        f"p.jsonl line 3 (recipient 'a\\nb'): email: {EMAIL}, got 'nope' — {NO_AT}",
    ),
    (
        "a huge id is truncated",
        {"id": "r" * 1000, "email": "nope"},
        f"p.jsonl line 3 (recipient '{'r' * 62}…): email: {EMAIL}, got 'nope' — {NO_AT}",
    ),
    (
        "not among the choices",
        {"id": "x", "email": "a@example.com", "tier": "Platinum"},
        "p.jsonl line 3 (recipient x): tier: expected one of 'Bronze', 'Gold', 'Silver', got "
        "'Platinum'",
    ),
    (
        "per-field max_length",
        {"id": "x", "email": "a@example.com", "nick": "abcdef"},
        "p.jsonl line 3 (recipient x): nick: longer than the limit of 5 characters, got str of "
        "length 6 — shorten it, or raise the field's max_length in personalize.toml",
    ),
    (
        "a number too long for its text field",
        {"id": "x", "email": "a@example.com", "nick": 1000.25},
        "p.jsonl line 3 (recipient x): nick: longer than the limit of 5 characters, got 1000.25 "
        "— shorten it, or raise the field's max_length in personalize.toml",
    ),
    (
        "several problems are counted",
        {"id": "x", "email": "nope", "points": "many", "tier": "Platinum"},
        f"p.jsonl line 3 (recipient x): email: {EMAIL}, got 'nope' (and 2 more problems) — "
        + NO_AT,
    ),
    (
        "one more problem",
        {"id": "x", "email": "nope", "points": "many"},
        f"p.jsonl line 3 (recipient x): email: {EMAIL}, got 'nope' (and 1 more problem) — " + NO_AT,
    ),
    (
        "nested object of the wrong type",
        {"id": "x", "email": "a@example.com", "address": "Berlin"},
        "p.jsonl line 3 (recipient x): address: expected an object, got 'Berlin'",
    ),
]


@pytest.mark.parametrize(
    ("record", "expected"), [c[1:] for c in MESSAGE_CASES], ids=[c[0] for c in MESSAGE_CASES]
)
def test_error_messages(shop: Schema, record: dict[str, Any], expected: str) -> None:
    assert invalid(shop, record, source="p.jsonl", line=3) == expected


def test_error_fields_for_programs(shop: Schema) -> None:
    record = {"id": "x", "email": "a@example.com", "orders": [{"total": "?"}]}
    with pytest.raises(RecipientError) as caught:
        shop.validate(record, source="p.jsonl", line=3)
    assert caught.value.to_dict() == {
        "type": "RecipientError",
        "message": "expected a number, got '?'",
        "file": "p.jsonl",
        "line": 3,
        "recipient": "x",
        "path": "orders[0].total",
        "hint": None,
    }


WRONG_TOP_CASES: list[tuple[str, Any, str]] = [
    ("a list", [1, 2], "p.jsonl line 3: expected a JSON object (mapping of fields), got list"),
    ("text", "ann", "p.jsonl line 3: expected a JSON object (mapping of fields), got str"),
    ("null", None, "p.jsonl line 3: expected a JSON object (mapping of fields), got NoneType"),
    ("a number", 5, "p.jsonl line 3: expected a JSON object (mapping of fields), got int"),
]


@pytest.mark.parametrize(
    ("record", "expected"), [c[1:] for c in WRONG_TOP_CASES], ids=[c[0] for c in WRONG_TOP_CASES]
)
def test_wrong_top_level_type(shop: Schema, record: Any, expected: str) -> None:
    assert invalid(shop, record, source="p.jsonl", line=3) == expected


def test_without_a_source_only_the_recipient_is_named(shop: Schema) -> None:
    assert invalid(shop, {"id": "x", "email": "nope"}) == (
        f"recipient x: email: {EMAIL}, got 'nope' — {NO_AT}"
    )
    assert invalid(shop, [1]) == "expected a JSON object (mapping of fields), got list"


# -- defaults, required fields, choices ----------------------------------------------------


def test_defaults_fill_missing_blank_and_null_fields(shop: Schema) -> None:
    base = {"id": "x", "email": "a@example.com"}
    for blank in ({}, {"first_name": ""}, {"first_name": "  \t"}, {"first_name": None}):
        recipient = shop.validate({**base, **blank})
        assert recipient["first_name"] == "there"
        assert recipient["tier"] == "Bronze"
        assert recipient["points"] == 0
        assert recipient["orders"] == ()
        assert recipient.defaulted == {"first_name", "tier", "points", "orders"}


def test_given_values_are_not_defaulted(shop: Schema) -> None:
    recipient = shop.validate(
        {"id": "x", "email": "a@example.com", "first_name": "Ann", "points": 0, "tier": "Gold"}
    )
    assert (recipient["first_name"], recipient["points"], recipient["tier"]) == ("Ann", 0, "Gold")
    assert recipient.defaulted == {"orders"}


def test_nested_defaults_apply_inside_list_items(shop: Schema) -> None:
    record = {
        "id": "x",
        "email": "a@example.com",
        "orders": [{"total": "9.50", "items": [{"sku": "A"}, {"sku": "B", "quantity": ""}]}],
    }
    order = shop.validate(record)["orders"][0]
    assert order["total"] == Decimal("9.50")
    assert [item["quantity"] for item in order["items"]] == [1, 1]


def test_every_declared_field_is_present(shop: Schema) -> None:
    recipient = shop.validate({"id": "x", "email": "a@example.com"})
    assert set(recipient.data) == {
        "id",
        "email",
        "first_name",
        "tier",
        "points",
        "nick",
        "orders",
        "address",
        "locale",
        "timezone",
        "currency",
    }
    assert recipient["address"] is None
    assert recipient.get("address", "none") == "none"
    assert recipient.get("points") == 0


def test_undeclared_fields_are_dropped(shop: Schema) -> None:
    record: dict[Any, Any] = {"id": "x", "email": "a@example.com", "secret": "s", 1: 2}
    recipient = shop.validate(record)
    assert set(recipient.data) == set(shop.fields)


def test_blank_optional_fields_are_none(types_schema: Schema) -> None:
    recipient = types_schema.validate({"id": "x", "name": "   ", "points": None, "website": ""})
    assert (recipient["name"], recipient["points"], recipient["website"]) == (None, None, None)
    assert recipient.defaulted == frozenset()


def test_a_numeric_id_becomes_text(shop: Schema) -> None:
    assert shop.validate({"id": 17, "email": "a@example.com"}).id == "17"


def test_id_is_always_required_text(tmp_path: Path) -> None:
    schema = make_schema(tmp_path, '[recipient.fields]\nid = {type = "str", description = "Key"}\n')
    assert schema.fields["id"].type == "str"
    assert schema.fields["id"].required
    assert schema.fields["id"].description == "Key"
    assert schema.validate({"id": "A-1"}).id == "A-1"


def test_locale_timezone_and_currency_fall_back_to_the_project(shop: Schema) -> None:
    recipient = shop.validate({"id": "x", "email": "a@example.com"})
    assert (recipient.locale, recipient.timezone, recipient.currency) == (
        "en_US",
        "Europe/Berlin",
        "USD",
    )
    assert recipient.tz == BERLIN
    own = shop.validate(
        {
            "id": "y",
            "email": "a@example.com",
            "locale": "de-AT",
            "timezone": "Europe/Vienna",
            "currency": "eur",
        }
    )
    assert (own.locale, own.timezone, own.currency) == ("de_AT", "Europe/Vienna", "EUR")
    assert own.tz == ZoneInfo("Europe/Vienna")


# -- limits -------------------------------------------------------------------------------

LIMIT_HINT = "raise [limits] in personalize.toml if this size is intended"


def test_a_string_over_the_default_limit(types_schema: Schema) -> None:
    assert invalid(types_schema, {"id": "x", "name": "a" * 10_001}) == (
        "recipient x: name: longer than the limit of 10000 characters, got str of length 10001 "
        f"— {LIMIT_HINT}"
    )
    assert types_schema.validate({"id": "x", "name": "a" * 10_000})["name"] == "a" * 10_000


def test_a_list_over_the_default_limit(types_schema: Schema) -> None:
    assert invalid(types_schema, {"id": "x", "tags": ["a"] * 1_001}) == (
        "recipient x: tags: longer than the limit of 1000 items, got list of length 1001 — "
        f"{LIMIT_HINT}"
    )


def test_a_map_over_the_list_limit(types_schema: Schema) -> None:
    prefs = {f"k{i}": i for i in range(1_001)}
    assert invalid(types_schema, {"id": "x", "prefs": prefs}) == (
        "recipient x: prefs: longer than the limit of 1000 items, got dict of length 1001 — "
        f"{LIMIT_HINT}"
    )


def test_a_long_string_inside_a_map(types_schema: Schema) -> None:
    assert invalid(types_schema, {"id": "x", "prefs": {"note": "a" * 10_001}}) == (
        "recipient x: prefs.note: longer than the limit of 10000 characters, got str of length "
        f"10001 — {LIMIT_HINT}"
    )


LIMITS_TOML = """\
[limits]
max_string_length = 1_000_000
max_list_length = 100_000

[recipient.fields]
points = "int"
bio = "str"
website = "url"
tags = "list[str]"
orders = "list[order]"

[recipient.types.order]
at = "datetime"
"""


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Schema:
    return make_schema(tmp_path_factory.mktemp("limits"), LIMITS_TOML)


def test_the_limits_come_from_settings(limited: Schema) -> None:
    assert limited.validate({"id": "x", "bio": "a" * 1_000_000})["bio"] == "a" * 1_000_000
    assert len(limited.validate({"id": "x", "tags": ["a"] * 100_000})["tags"]) == 100_000


SIZE_CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "1 MB string",
        {"bio": "a" * 1_000_001},
        "bio: longer than the limit of 1000000 characters, got str of length 1000001",
    ),
    (
        "1 MB url",
        {"website": "https://example.com/" + "a" * 1_000_000},
        "website: longer than the limit of 1000000 characters, got str of length 1000020",
    ),
    (
        "100,000-item list",
        {"tags": ["a"] * 100_001},
        "tags: longer than the limit of 100000 items, got list of length 100001",
    ),
    (
        "the size is reported before the bad items",
        {"orders": [{"at": "never"}] * 100_001},
        "orders: longer than the limit of 100000 items, got list of length 100001",
    ),
    (
        "the size is reported before other fields' problems",
        {"points": "many", "tags": ["a"] * 100_001},
        "tags: longer than the limit of 100000 items, got list of length 100001 (and 1 more "
        "problem)",
    ),
]


@pytest.mark.parametrize(
    ("fields", "expected"), [c[1:] for c in SIZE_CASES], ids=[c[0] for c in SIZE_CASES]
)
def test_size_limits_name_the_field_first(
    limited: Schema, fields: dict[str, Any], expected: str
) -> None:
    started = time.perf_counter()
    message = invalid(limited, {"id": "x", **fields})
    assert message == f"recipient x: {expected} — {LIMIT_HINT}"
    assert time.perf_counter() - started < 1.0


def test_a_hostile_url_is_rejected_quickly(types_schema: Schema) -> None:
    # A URL pattern with `\s*` around it backtracked quadratically on this input.
    started = time.perf_counter()
    value = "https://x" + "\u00a0" * 9_000 + "\x00"
    assert invalid(types_schema, {"id": "x", "website": value}).startswith(
        f"recipient x: website: {URL}"
    )
    assert time.perf_counter() - started < 0.2


# -- the schema itself: unknown and recursive types, defaults -------------------------------


def test_named_and_nested_types(shop: Schema) -> None:
    recipient = shop.validate(
        {
            "id": "x",
            "email": "a@example.com",
            "address": {"city": "Berlin", "zip": 10115},
            "orders": [{"at": "2026-11-20T09:00:00", "total": 5, "items": [{"sku": "A"}]}],
        }
    )
    assert dict(recipient["address"]) == {"city": "Berlin", "zip": "10115"}
    order = recipient["orders"][0]
    assert order["at"] == datetime(2026, 11, 20, 9, tzinfo=BERLIN)
    assert dict(order["items"][0]) == {"sku": "A", "quantity": 1}


def test_paths_lists_every_declared_field(shop: Schema) -> None:
    assert shop.paths() == {
        "id",
        "email",
        "first_name",
        "tier",
        "points",
        "nick",
        "orders",
        "orders.at",
        "orders.total",
        "orders.items",
        "orders.items.sku",
        "orders.items.quantity",
        "address",
        "address.city",
        "address.zip",
        "locale",
        "timezone",
        "currency",
    }


TYPE_HINT = (
    "use one of str, int, float, decimal, bool, date, datetime, email, url, locale, timezone, "
    "currency, map, list[T], or a type declared under [recipient.types]"
)

SCHEMA_ERROR_CASES = [
    (
        "misspelt type",
        '[recipient.fields]\nname = "str"\ntier = "strr"\n',
        "personalize.toml line 3: recipient.fields.tier.type: unknown field type 'strr' — did "
        "you mean 'str'?",
    ),
    (
        "misspelt type in a table",
        '[recipient.fields]\n\npoints = {type = "integer", default = 0}\n',
        "personalize.toml line 3: recipient.fields.points.type: unknown field type 'integer' — "
        "did you mean 'int'?",
    ),
    (
        "nothing close",
        '[recipient.fields]\nx = "banana"\n',
        f"personalize.toml line 2: recipient.fields.x.type: unknown field type 'banana' — "
        f"{TYPE_HINT}",
    ),
    (
        "misspelt item type of a list",
        '[recipient.fields]\norders = "list[ordr]"\n\n[recipient.types.order]\nat = "date"\n',
        "personalize.toml line 2: recipient.fields.orders.type: unknown field type 'ordr' — did "
        "you mean 'order'?",
    ),
    (
        "unknown type inside a named type",
        '[recipient.fields]\norder = "order"\n\n[recipient.types.order]\nat = "datetme"\n',
        "personalize.toml line 5: recipient.types.order.at.type: unknown field type 'datetme' — "
        "did you mean 'datetime'?",
    ),
    (
        "a type that contains itself",
        '[recipient.fields]\nroot = "node"\n\n[recipient.types.node]\nchildren = "list[node]"\n',
        "personalize.toml line 5: recipient.types.node.children.type: type 'node' contains itself",
    ),
    (
        "two types that contain each other",
        '[recipient.fields]\na = "ping"\n[recipient.types.ping]\nnext = "pong"\n'
        '[recipient.types.pong]\nback = "ping"\n',
        "personalize.toml line 6: recipient.types.pong.back.type: type 'ping' contains itself",
    ),
    (
        "a default of the wrong type",
        '[recipient.fields]\npoints = {type = "int", default = "lots"}\n',
        "personalize.toml line 2: recipient.fields.points.default: default 'lots' does not fit: "
        "expected a whole number — give a default that is a valid int, or remove it",
    ),
    (
        "a default outside the choices",
        '[recipient.fields]\ntier = {type = "str", default = "Iron", choices = ["Gold"]}\n',
        "personalize.toml line 2: recipient.fields.tier.default: default 'Iron' does not fit: "
        "expected one of 'Gold' — give a default that is a valid str, or remove it",
    ),
    (
        "a default in a named type",
        '[recipient.fields]\na = "link"\n[recipient.types.link]\nurl = {type = "url", '
        'default = "javascript:x"}\n',
        "personalize.toml line 4: recipient.types.link.url.default: default 'javascript:x' does "
        "not fit: expected an http(s) or mailto URL — give a default that is a valid url, or "
        "remove it",
    ),
    (
        "a default over the field's max_length",
        '[recipient.fields]\nx = {type = "str", max_length = 3, default = "there"}\n',
        "personalize.toml line 2: recipient.fields.x.default: default 'there' does not fit: "
        "longer than the limit of 3 characters — give a default that is a valid str, or remove it",
    ),
    (
        "a choice the type refuses",
        '[recipient.fields]\nx = {type = "int", choices = [1, "a"]}\n',
        "personalize.toml line 2: recipient.fields.x.choices: choice 'a' does not fit: expected "
        "a whole number — give choices that are valid int values",
    ),
    (
        "a choice the type changes",
        '[recipient.fields]\nx = {type = "str", choices = [1, 2]}\n',
        "personalize.toml line 2: recipient.fields.x.choices: choice 1 can never match: a str "
        "field holds it as '1' — write the choice as '1'",
    ),
    (
        "a choice the type normalizes",
        '[recipient.fields]\nt = "t"\n[recipient.types.t]\n'
        'lang = {type = "locale", choices = ["de-DE"]}\n',
        "personalize.toml line 4: recipient.types.t.lang.choices: choice 'de-DE' can never "
        "match: a locale field holds it as 'de_DE' — write the choice as 'de_DE'",
    ),
    (
        "a host time zone as default",
        '[recipient.fields]\ntimezone = {type = "timezone", default = "localtime"}\n',
        "personalize.toml line 2: recipient.fields.timezone.default: default 'localtime' does "
        "not fit: expected an IANA time zone such as 'Europe/Berlin' — give a default that is a "
        "valid timezone, or remove it",
    ),
    *(
        (
            f"{name} redeclared as {kind}",
            f'[recipient.fields]\nname = "str"\n{name} = "{kind}"\n',
            f"personalize.toml line 3: recipient.fields.{name}.type: field {name!r} is built in, "
            f"of type {own}; it cannot be redeclared as {kind!r} — declare it with type = "
            f'"{own}", or give your own field another name',
        )
        for name, own, kind in [
            ("id", "str", "int"),
            ("locale", "locale", "str"),
            ("timezone", "timezone", "str"),
            ("currency", "currency", "str"),
        ]
    ),
    (
        "a currency default that is no currency",
        '[recipient.fields]\ncurrency = {type = "currency", default = "euro"}\n',
        "personalize.toml line 2: recipient.fields.currency.default: default 'euro' does not "
        "fit: expected an ISO 4217 currency code such as 'EUR' — give a default that is a valid "
        "currency, or remove it",
    ),
    (
        "an id with a default",
        '[recipient.fields]\nid = {type = "str", default = "x"}\n',
        "personalize.toml line 2: recipient.fields.id.default: field 'id' cannot have a "
        "default: every record needs an id of its own — remove the default",
    ),
    *(
        (
            f"a field named {name}",
            f'[recipient.fields]\nname = "str"\n{name} = "str"\n',
            f"personalize.toml line 3: recipient.fields.{name}: field name {name!r} is reserved: "
            "templates use it for something else — rename the field; reserved are the names "
            "that start with '_', and False, None, True, caller, cycler, dict, false, joiner, "
            "kwargs, lipsum, loop, namespace, none, now, range, segments, self, super, true, "
            "varargs",
        )
        for name in ("now", "segments", "range", "_tz", "loop", "true")
    ),
]


@pytest.mark.parametrize(
    ("toml", "expected"),
    [c[1:] for c in SCHEMA_ERROR_CASES],
    ids=[c[0] for c in SCHEMA_ERROR_CASES],
)
def test_schema_errors(tmp_path: Path, toml: str, expected: str) -> None:
    assert schema_error(tmp_path, toml) == expected


def test_schema_errors_in_pyproject_have_the_right_line(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "pkg"\n\n[tool.personalize.recipient.fields]\ntier = "strr"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        Schema(load_settings(tmp_path))
    assert str(caught.value) == (
        "pyproject.toml line 5: recipient.fields.tier.type: unknown field type 'strr' — did you "
        "mean 'str'?"
    )


def test_built_in_fields_may_be_redeclared_with_their_own_type(tmp_path: Path) -> None:
    schema = make_schema(
        tmp_path,
        '[recipient.fields]\nid = {type = "str", description = "Key"}\n'
        'timezone = {type = "timezone", default = "Europe/Vienna"}\n'
        'currency = {type = "currency", choices = ["EUR", "USD"]}\n',
    )
    recipient = schema.validate({"id": 7, "currency": "usd"})
    assert (recipient.id, recipient.timezone, recipient.currency) == ("7", "Europe/Vienna", "USD")
    assert schema.fields["id"].required


def test_the_reserved_names_cover_the_render_context() -> None:
    envs = make_environments(LimitSettings())
    for env in (envs.html, envs.text):
        assert set(env.globals) <= RESERVED_NAMES
    assert GLOBAL_NAMES <= RESERVED_NAMES
    recipient = Recipient(
        id="x", data=MappingProxyType({}), locale="en_US", timezone="UTC", currency="USD"
    )
    membership = Membership(frozenset(), MappingProxyType({}), MappingProxyType({}))
    context = context_for(
        recipient,
        membership,
        now=datetime(2026, 1, 1, tzinfo=UTC),
        limits=LimitSettings(),
        warnings=[],
        globals=envs.html.globals,
    )
    # The built-in fields are written as their effective values: they may be redeclared.
    others = set(context) - RESERVED_NAMES - {"locale", "timezone", "currency"}
    assert {name for name in others if not name.startswith("_")} == set()


def test_named_types_may_have_any_name(tmp_path: Path) -> None:
    schema = make_schema(
        tmp_path,
        '[recipient.fields]\ncart = "list[ cart-item ]"\naddr = "home address"\n\n'
        '[recipient.types.cart-item]\nprice = "decimal"\n\n'
        '[recipient.types."home address"]\ncity = "str"\n',
    )
    assert {"cart.price", "addr.city"} <= schema.paths()
    assert schema.spec("cart.price") == schema.types["cart-item"]["price"]
    assert schema.spec("addr.city") == schema.types["home address"]["city"]
    recipient = schema.validate({"id": "x", "cart": [{"price": "1.5"}], "addr": {"city": "Ulm"}})
    assert recipient["cart"][0]["price"] == Decimal("1.5")


def test_a_lists_own_max_length_is_checked_before_its_items(tmp_path: Path) -> None:
    toml = '[recipient.fields]\nnums = {type = "list[int]", max_length = 2}\n'
    schema = make_schema(tmp_path, toml)
    assert invalid(schema, {"id": "x", "nums": ["bad"] * 900}) == (
        "recipient x: nums: longer than the limit of 2 items, got list of length 900 — "
        "shorten it, or raise the field's max_length in personalize.toml"
    )
    # An iterator has no size to check first, and the lean try must not use it up.
    assert schema.validate({"id": "x", "nums": iter([1, "2"])})["nums"] == (1, 2)


def test_build_schema_without_a_settings_file(tmp_path: Path) -> None:
    settings = Settings(root=tmp_path, recipient={"fields": {"x": "nope"}})  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as caught:
        build_schema(settings)
    assert caught.value.line is None
    assert caught.value.path == "recipient.fields.x.type"


# -- immutability ---------------------------------------------------------------------------


def test_recipients_are_immutable(shop: Schema) -> None:
    recipient = shop.validate(
        {
            "id": "x",
            "email": "a@example.com",
            "address": {"zip": "1"},
            "orders": [{"total": 1, "items": [{"sku": "A"}]}],
        }
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        recipient.id = "y"  # type: ignore[misc]
    with pytest.raises(TypeError):
        recipient.data["email"] = "b@example.com"  # type: ignore[index]
    with pytest.raises(TypeError):
        recipient["address"]["zip"] = "2"
    orders = recipient["orders"]
    assert isinstance(orders, tuple)
    assert isinstance(orders[0]["items"], tuple)
    with pytest.raises(TypeError):
        orders[0]["total"] = 2
    with pytest.raises(TypeError):
        orders[0]["items"][0]["sku"] = "B"
    assert isinstance(recipient.defaulted, frozenset)


def test_the_input_record_is_not_changed(shop: Schema) -> None:
    record = {"id": "x", "email": "a@example.com", "first_name": "", "orders": [{"total": "1"}]}
    before = repr(record)
    shop.validate(record)
    assert repr(record) == before


def test_a_recipient_passes_through(shop: Schema) -> None:
    recipient = shop.validate({"id": "x", "email": "a@example.com"})
    assert shop.validate(recipient) is recipient


def test_recipients_compare_by_value(shop: Schema) -> None:
    record = {"id": "x", "email": "a@example.com", "orders": [{"total": 1}]}
    assert shop.validate(record) == shop.validate(record)


# -- the lean first try: whatever it refuses is validated as ever --------------------------
# A dict record is first validated with stricter, all-native forms of some types and with its
# blank fields dropped by `validate`; anything refused there is validated again the usual way.
# Each case below is refused by the first try and must come out exactly as before.


class _Rank(enum.IntEnum):
    GOLD = 3


# 64 characters before the '@' and labels of 63 after it: 254 in all.
LONGEST_EMAIL = "a" * 64 + "@" + ".".join(["b" * 63, "c" * 63, "d" * 57, "com"])
TOO_LONG_EMAIL = LONGEST_EMAIL.replace("com", "comm")
TOO_LONG = "— it has 255 characters; at most 254 are allowed"
LEAN_ACCEPT_CASES: list[tuple[str, str, Any, Any]] = [
    ("an ideographic space is blank", "name", "\u3000", None),
    ("information separators and NEL are blank", "name", "\x1c\x85", None),
    ("a zero-width space is text", "name", "\u200b", "\u200b"),
    ("int from an IntEnum", "points", _Rank.GOLD, 3),
    ("int from a Decimal", "points", Decimal("12"), 12),
    ("int from whole-number text", "points", "12.0", 12),
    (
        "url ending in an ideographic space",
        "website",
        "https://example.com/\u3000",
        "https://example.com/",
    ),
    ("url after a no-break space", "website", "\xa0https://x.example", "https://x.example"),
    ("url ending in a line separator", "website", "https://x.example\u2028", "https://x.example"),
    ("email ending in an ideographic space", "email", "ann@example.com\u3000", "ann@example.com"),
    ("email after an information separator", "email", "\x1cann@example.com", "ann@example.com"),
    ("email ending in a newline", "email", "ann@example.com\n", "ann@example.com"),
    ("email of 254 characters", "email", LONGEST_EMAIL, LONGEST_EMAIL),
    ("locale in spaces", "locale", " en_US ", "en_US"),
    ("locale region in Arabic-Indic digits", "locale", "es_\u0664\u0661\u0669", "es_٤١٩"),
    ("currency in spaces", "currency", " usd ", "USD"),
    ("naive datetime", "signup_at", "2026-07-01T09:00", datetime(2026, 7, 1, 9, tzinfo=BERLIN)),
]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [c[1:] for c in LEAN_ACCEPT_CASES],
    ids=[c[0] for c in LEAN_ACCEPT_CASES],
)
def test_values_the_lean_types_refuse_are_accepted_as_ever(
    types_schema: Schema, field: str, value: Any, expected: Any
) -> None:
    got = types_schema.validate({"id": "x", field: value}).data[field]
    assert got == expected
    assert type(got) is type(expected)
    if isinstance(expected, datetime):
        assert got.utcoffset() == expected.utcoffset()


LEAN_REJECT_CASES: list[tuple[str, str, Any, str]] = [
    (
        "url ending in an information separator (not stripped)",
        "website",
        "https://x.example\x1c",
        f"website: {URL}, got 'https://x.example\\x1c'",
    ),
    (
        "email of 255 characters",
        "email",
        TOO_LONG_EMAIL,
        f"email: {EMAIL}, got '" + "a" * 58 + f"… {TOO_LONG}",
    ),
]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [c[1:] for c in LEAN_REJECT_CASES],
    ids=[c[0] for c in LEAN_REJECT_CASES],
)
def test_values_the_lean_types_refuse_are_reported_as_ever(
    types_schema: Schema, field: str, value: Any, expected: str
) -> None:
    assert invalid(types_schema, {"id": "x", field: value}) == f"recipient x: {expected}"


def test_lists_from_iterators_are_read_once(types_schema: Schema) -> None:
    # The first try refuses an iterator without reading it: the second gets every item.
    record = {"id": "x", "tags": (t for t in ["a", "b"]), "nums": iter([1, 2])}
    recipient = types_schema.validate(record)
    assert (recipient["tags"], recipient["nums"]) == (("a", "b"), (1, 2))
    bad = {"id": "x", "tags": (t for t in ["a", 5j])}
    assert invalid(types_schema, bad) == "recipient x: tags[1]: expected text, got 5j"


def test_a_fields_own_max_length_adds_to_the_other_limits(tmp_path: Path) -> None:
    # Not replaces: the project's limit on text and an address's 254 characters still hold.
    toml = (
        "[limits]\nmax_string_length = 4\n\n[recipient.fields]\n"
        'mail = {type = "email", max_length = 300}\nlang = {type = "locale", max_length = 20}\n'
    )
    small, wide = tmp_path / "small", tmp_path / "wide"
    small.mkdir()
    wide.mkdir()
    schema = make_schema(small, toml)
    over = "longer than the limit of 4 characters, got str of length"
    assert invalid(schema, {"id": "x", "mail": "a@example.com"}).startswith(
        f"recipient x: mail: {over} 13"
    )
    assert invalid(schema, {"id": "x", "lang": "de_DE"}).startswith(f"recipient x: lang: {over} 5")
    schema = make_schema(wide, toml.replace("max_string_length = 4", ""))
    assert invalid(schema, {"id": "x", "mail": TOO_LONG_EMAIL}) == (
        f"recipient x: mail: {EMAIL}, got '" + "a" * 58 + f"… {TOO_LONG}"
    )


class _NoCompare:
    """A value that cannot be compared with "" (as a numpy array cannot)."""

    __hash__ = object.__hash__

    def __eq__(self, other: object) -> bool:
        raise ValueError("cannot compare")

    def __repr__(self) -> str:
        return "_NoCompare()"


def test_a_value_that_cannot_be_compared_fails_as_ever(types_schema: Schema) -> None:
    # Dropping blank fields compares values with "", inside pydantic as before.
    assert invalid(types_schema, {"id": "x", "name": _NoCompare()}) == (
        "recipient x: cannot compare, got {'id': 'x', 'name': _NoCompare()}"
    )
    # Comparison stops at the first blank value: the value after it is only validated.
    record = {"id": "x", "name": None, "prefs": _NoCompare()}
    assert (
        invalid(types_schema, record) == "recipient x: prefs: expected an object, got _NoCompare()"
    )


def test_blank_top_level_and_nested_values_take_defaults(shop: Schema) -> None:
    record = {
        "id": "x",
        "email": "a@example.com",
        "first_name": "\u3000",
        "points": None,
        "tier": "",
        "orders": [{"total": "1", "items": [{"sku": "\u3000", "quantity": None}]}],
    }
    recipient = shop.validate(record)
    assert (recipient["first_name"], recipient["points"], recipient["tier"]) == (
        "there",
        0,
        "Bronze",
    )
    assert dict(recipient["orders"][0]["items"][0]) == {"sku": None, "quantity": 1}
    assert recipient.defaulted == {"first_name", "points", "tier"}


@pytest.mark.parametrize("blank_value", ["", "  ", "\u3000", None])
def test_blank_is_missing_in_a_type_without_defaults(shop: Schema, blank_value: Any) -> None:
    # `order` and `address` declare no default: blank still counts as missing there.
    record = {
        "id": "x",
        "email": "a@example.com",
        "orders": [{"total": "1", "at": blank_value, "items": [{"sku": blank_value}]}],
        "address": {"city": blank_value, "zip": "10115"},
    }
    for validate in (shop.validate, _full(shop)):
        recipient = validate(record)
        order = recipient["orders"][0]
        assert (order["at"], order["items"][0]["sku"], recipient["address"]["city"]) == (
            None,
            None,
            None,
        )
        missing = {**record, "address": {"zip": blank_value}}
        with pytest.raises(RecipientError) as caught:
            validate(missing)
        assert str(caught.value) == (
            "recipient x: address.zip: required field is missing"
            " — fix the record, or declare a default for the field"
        )


def test_a_blank_nested_url_is_missing_not_wrong(tmp_path: Path) -> None:
    schema = make_schema(
        tmp_path,
        '[recipient.fields]\nproducts = "list[product]"\n\n'
        '[recipient.types.product]\nimage = "url"\nname = "str"\n',
    )
    recipient = schema.validate({"id": "x", "products": [{"image": "", "name": "Tea"}]})
    assert dict(recipient["products"][0]) == {"image": None, "name": "Tea"}


def _full(schema: Schema) -> Any:
    # The full validation alone, as for a mapping that is not a dict.
    return lambda record: schema.validate(MappingProxyType(record))


def test_other_mappings_validate_like_dicts(shop: Schema) -> None:
    record = {"id": "x", "email": "a@example.com", "first_name": " ", "orders": [{"total": 1}]}
    assert shop.validate(MappingProxyType(record)) == shop.validate(record)
    assert shop.validate(MappingProxyType(record)).defaulted == {"first_name", "points", "tier"}


def test_a_validated_recipient_equals_one_built_directly(shop: Schema) -> None:
    recipient = shop.validate({"id": "x", "email": "a@example.com", "locale": "de-DE"})
    built = Recipient(
        id="x",
        data=recipient.data,
        locale="de_DE",
        timezone="Europe/Berlin",
        currency="USD",
        defaulted=frozenset({"first_name", "tier", "points", "orders"}),
    )
    assert recipient == built
    # Equal frozensets may list their items in another order (string hashes vary by process).
    assert repr(recipient) == repr(dataclasses.replace(built, defaulted=recipient.defaulted))
    assert type(recipient.data) is MappingProxyType


def test_realistic_records_are_validated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Guards the speed of the common case: none of these needs the second validation.
    schema = Project.load(ROOT).schema
    monkeypatch.setattr(schema, "_validate_other", _second_validation)
    personas = [
        json.loads(line)
        for line in (ROOT / "personas.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    base = personas[0]
    variants = [
        {**base, "first_name": None, "points": None, "orders": None},
        {**base, "first_name": "", "tier": "", "last_name": ""},
        {**base, "points": "12", "opens_30d": 12.0, "signup_at": "2026-01-02T03:04:05"},
        {**base, "locale": "de_DE", "timezone": "Europe/Berlin", "currency": "EUR"},
    ]
    for record in [*personas, *variants]:
        assert schema.validate(record).id == record["id"]


def _second_validation(*args: Any, **kwargs: Any) -> Recipient:
    raise AssertionError("validated a second time")


def test_spaces_are_what_python_and_pydantic_core_strip() -> None:
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    listed = set(re.findall(f"[{SPACES}]", "".join(chars)))
    assert listed == {c for c in chars if c.isspace()}
    strip = SchemaValidator(core_schema.str_schema(strip_whitespace=True)).validate_python
    stripped = {c for c in chars if strip(c + "x") == "x"}
    assert listed - stripped == {"\x1c", "\x1d", "\x1e", "\x1f"}
    assert stripped <= listed


# -- defaults: validated once, at load -----------------------------------------------------

DEFAULTS_TOML = """\
[project]
timezone = "Europe/Berlin"

[recipient.fields]
orders = {type = "list[order]", default = [{total = "9.50", at = 2026-01-02T03:04:05}, {total = 1}]}
prefs = {type = "map", default = {color = "red", size = 2}}
website = {type = "url", default = "  https://example.com/  "}
since = {type = "datetime", default = 2026-01-02T03:04:05}
code = {type = "str", default = 5}
tags = {type = "list[str]", default = ["a"]}
empty = {type = "list[order]", default = []}

[recipient.types.order]
at = "datetime"
total = "decimal"
quantity = {type = "int", default = 1}
"""


def test_defaults_are_given_validated(tmp_path: Path) -> None:
    schema = make_schema(tmp_path, DEFAULTS_TOML)
    expected = {
        "orders": (
            MappingProxyType(
                {
                    "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=BERLIN),
                    "total": Decimal("9.50"),
                    "quantity": 1,
                }
            ),
            MappingProxyType({"at": None, "total": Decimal(1), "quantity": 1}),
        ),
        "prefs": MappingProxyType({"color": "red", "size": 2}),
        "website": "https://example.com/",
        "since": datetime(2026, 1, 2, 3, 4, 5, tzinfo=BERLIN),
        "code": "5",
        "tags": ("a",),
        "empty": (),
    }
    for blank in ({}, dict.fromkeys(expected, ""), dict.fromkeys(expected), {"orders": " "}):
        recipient = schema.validate({"id": "x", **blank})
        assert recipient.defaulted == set(expected)
        got = {name: recipient[name] for name in expected}
        assert got == expected
        assert _types(got) == _types(expected)
        assert recipient["since"].tzinfo is BERLIN
        with pytest.raises(TypeError):
            recipient["orders"][0]["quantity"] = 2
        with pytest.raises(TypeError):
            recipient["prefs"]["size"] = 3


def _types(value: Any) -> Any:
    """``value``'s types, nested: what equality alone does not compare."""
    if isinstance(value, Mapping):
        return (type(value), {k: _types(v) for k, v in value.items()})
    if isinstance(value, tuple):
        return (tuple, [_types(v) for v in value])
    return type(value)


# -- property: validation is total over JSON-like records -----------------------------------

FIELD_NAMES = [
    "id",
    "name",
    "points",
    "score",
    "total",
    "active",
    "birthday",
    "signup_at",
    "email",
    "website",
    "prefs",
    "tags",
    "nums",
    "locale",
    "timezone",
    "currency",
    # fields of SHOP_TOML and its named types
    "first_name",
    "tier",
    "nick",
    "orders",
    "address",
    "at",
    "items",
    "sku",
    "quantity",
    "city",
    "zip",
]
TRICKY_TEXT = [
    "",
    " ",
    "2026-11-20",
    "2026-11-20T09:00:00",
    "2026-11-20T09:00:00+01:00",
    "ann@example.com",
    "https://example.com",
    "javascript:alert(1)",
    "de-DE",
    "Europe/Berlin",
    "Europe",
    "eur",
    "NaN",
    "inf",
    "1e999",
    "12",
    "true",
    "\ud800",
    "a\x00b",
    "\u202e",
]
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(exclude_categories=()), max_size=20)
    | st.sampled_from(TRICKY_TEXT)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
RECORDS = st.dictionaries(
    st.sampled_from(FIELD_NAMES) | st.text(max_size=8), JSON_VALUES, max_size=8
).flatmap(lambda fields: st.builds(lambda id_: {**fields, "id": id_}, JSON_VALUES))


@pytest.mark.parametrize("toml", [TYPES_TOML, SHOP_TOML], ids=["every type", "nested types"])
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=RECORDS)
def test_validate_returns_a_recipient_or_raises_recipient_error(
    toml: str, record: dict[str, Any]
) -> None:
    schema = _property_schema(toml)
    error: RecipientError | None = None
    try:
        recipient = schema.validate(record, source="p.jsonl", line=1)
    except RecipientError as err:
        error = err
    if error is not None:
        assert error.file == "p.jsonl"
        assert str(error).isprintable()
        return
    assert isinstance(recipient, Recipient)
    assert isinstance(recipient.id, str)
    assert recipient.id.strip()
    for value in recipient.data.values():
        assert not isinstance(value, list | dict)
        if isinstance(value, float):
            assert math.isfinite(value)


_SCHEMAS: dict[str, Schema] = {}


def _property_schema(toml: str) -> Schema:
    # Built once, without pytest's function-scoped tmp_path (hypothesis reruns the test).
    if toml not in _SCHEMAS:
        _SCHEMAS[toml] = make_schema(Path(tempfile.mkdtemp()), toml)
    return _SCHEMAS[toml]


def test_aware_datetimes_keep_their_instant(types_schema: Schema) -> None:
    value = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=-5)))
    got = types_schema.validate({"id": "x", "signup_at": value})["signup_at"]
    assert got == value


ADDRESS_PARTS = st.sampled_from(
    [
        *("a", "Z", "0", ".", "..", "-", "=", "?", "=?", "+", "'", " ", '"', "é", "\x00"),
        *("\u200b", "a" * 31, "a" * 64, "b" * 63, "@", "@", "example", ".com", ".-x", "<", ","),
    ]
)
ADDRESSES = st.lists(ADDRESS_PARTS, max_size=8).map("".join)


@settings(max_examples=400, deadline=None)
@given(value=ADDRESSES)
def test_the_lean_email_type_takes_only_what_the_full_one_takes(value: str) -> None:
    schema = _email_schema()
    record = {"id": "x", "email": value}
    lean = _outcome(lambda: schema.validate(record))
    assert lean == _outcome(lambda: schema.validate(MappingProxyType(record)))


def _outcome(call: Any) -> str:
    try:
        return repr(call())
    except RecipientError as err:
        return str(err)


@functools.cache
def _email_schema() -> Schema:
    return make_schema(Path(tempfile.mkdtemp()), '[recipient.fields]\nemail = "email"\n')


# -- declarations that could never work are load errors ------------------------------------

MAX_LENGTH_HINT = "remove it: max_length limits text (characters), list[…] and map (items)"


@pytest.mark.parametrize("kind", ["int", "float", "decimal", "bool", "date", "datetime", "where"])
@pytest.mark.parametrize("default", ["", ", default = 0"], ids=["no-default", "default"])
def test_max_length_on_a_type_without_a_length_is_a_load_error(
    tmp_path: Path, kind: str, default: str
) -> None:
    toml = (
        f'[recipient.fields]\nx = {{type = "{kind}", max_length = 5{default}}}\n\n'
        '[recipient.types.where]\ncity = "str"\n'
    )
    assert schema_error(tmp_path, toml) == (
        "personalize.toml line 2: recipient.fields.x.max_length: max_length does not apply "
        f"to a field of type '{kind}' — {MAX_LENGTH_HINT}"
    )


def test_max_length_on_a_named_types_field_is_checked_too(tmp_path: Path) -> None:
    toml = '[recipient.types.where]\ncity = "str"\nzip = {type = "int", max_length = 5}\n'
    assert schema_error(tmp_path, toml) == (
        "personalize.toml line 3: recipient.types.where.zip.max_length: max_length does not "
        f"apply to a field of type 'int' — {MAX_LENGTH_HINT}"
    )


@pytest.mark.parametrize("kind", ["email", "locale", "timezone"])
def test_a_text_types_own_max_length_counts_characters(tmp_path: Path, kind: str) -> None:
    schema = make_schema(tmp_path, f'[recipient.fields]\nx = {{type = "{kind}", max_length = 5}}\n')
    value = {"email": "ann@example.com", "locale": "sr_Latn_RS", "timezone": "Europe/Berlin"}
    assert invalid(schema, {"id": "r1", "x": value[kind]}) == (
        f"recipient r1: x: longer than the limit of 5 characters, got str of length "
        f"{len(value[kind])} — shorten it, or raise the field's max_length in personalize.toml"
    )


UNUSED_TYPE_CASES = [
    (
        "an unknown type",
        '[recipient.types.unused]\nx = "strr"\n',
        "personalize.toml line 2: recipient.types.unused.x.type: unknown field type 'strr' — "
        "did you mean 'str'?",
    ),
    (
        "a default that does not fit",
        '[recipient.types.unused]\ny = {type = "int", default = "abc"}\n',
        "personalize.toml line 2: recipient.types.unused.y.default: default 'abc' does not "
        "fit: expected a whole number — give a default that is a valid int, or remove it",
    ),
    (
        "a type that contains itself",
        '[recipient.types.node]\nchild = "node"\n',
        "personalize.toml line 2: recipient.types.node.child.type: type 'node' contains itself",
    ),
]


@pytest.mark.parametrize(
    ("toml", "message"),
    [c[1:] for c in UNUSED_TYPE_CASES],
    ids=[c[0] for c in UNUSED_TYPE_CASES],
)
def test_a_type_no_field_uses_is_checked_at_load(tmp_path: Path, toml: str, message: str) -> None:
    assert schema_error(tmp_path, toml) == message


NAME_CASES = [
    (
        "a built-in type's name",
        '[recipient.types.str]\nx = "int"\n',
        "personalize.toml line 1: recipient.types.str: type name 'str' is a built-in type: a "
        "field of type 'str' gets the built-in, never this type — give the type another name",
    ),
    (
        "a type named like a list",
        '[recipient.types."list[int]"]\nx = "int"\n',
        "personalize.toml line 1: recipient.types.list[int]: type name 'list[int]' can never "
        "be used as a field's type — give the type a name without surrounding spaces or "
        "list[…], e.g. 'cart_item'",
    ),
    (
        "a type name in spaces",
        '[recipient.types." padded "]\nx = "int"\n',
        "personalize.toml line 1: recipient.types. padded : type name ' padded ' can never be "
        "used as a field's type — give the type a name without surrounding spaces or list[…], "
        "e.g. 'cart_item'",
    ),
    *(
        (
            f"field name {name!r}",
            f'[recipient.fields]\n"{name}" = "str"\n',
            f"personalize.toml line 2: recipient.fields.{name}: field name {name!r} cannot be "
            "written in templates — use letters, digits and '_', not starting with a digit, "
            "e.g. 'last_name'",
        )
        for name in ("last-name", "last name", "last.name", "", "1st")
    ),
    (
        "field name 'not'",
        '[recipient.fields]\n"not" = "str"\n',
        "personalize.toml line 2: recipient.fields.not: field name 'not' cannot be written in "
        "templates: Jinja reads it as an operator — rename the field",
    ),
    *(
        (
            f"nested field name {name!r}",
            f'[recipient.types.where]\n"{name}" = "str"\n',
            f"personalize.toml line 2: recipient.types.where.{name}: field name {name!r} cannot "
            "be part of a field path such as 'address.city' — use a name that is not blank and "
            "holds no '.', e.g. 'zip_code'",
        )
        for name in ("zip.code", "", " ")
    ),
]


@pytest.mark.parametrize(
    ("toml", "message"), [c[1:] for c in NAME_CASES], ids=[c[0] for c in NAME_CASES]
)
def test_names_that_nothing_could_use_are_load_errors(
    tmp_path: Path, toml: str, message: str
) -> None:
    assert schema_error(tmp_path, toml) == message


def test_names_templates_can_write_load(tmp_path: Path) -> None:
    # Jinja reads `for` and `and` as names where a value is expected; nested keys may be
    # any text without a dot (templates write `where["zip-code"]`).
    toml = (
        '[recipient.fields]\n"prénom" = "str"\n"for" = "str"\nwhere = "where"\n\n'
        '[recipient.types.where]\n"zip-code" = "str"\n"home town" = "str"\n'
    )
    schema = make_schema(tmp_path, toml)
    record = {"id": "x", "prénom": "Zoë", "for": "y", "where": {"zip-code": "1"}}
    assert schema.validate(record)["where"]["zip-code"] == "1"


def test_a_schema_error_is_located_in_a_file_with_a_byte_order_mark(tmp_path: Path) -> None:
    (tmp_path / "personalize.toml").write_bytes(b'\xef\xbb\xbf[recipient.fields]\nx = "strr"\n')
    with pytest.raises(ConfigError) as caught:
        Schema(load_settings(tmp_path))
    assert str(caught.value) == (
        "personalize.toml line 2: recipient.fields.x.type: unknown field type 'strr' — did you "
        "mean 'str'?"
    )


class _CountingItem(Mapping[str, Any]):
    """An order that counts how often validation reads it."""

    reads = 0

    def __getitem__(self, key: str) -> Any:
        _CountingItem.reads += 1
        return {"total": "x"}[key]

    def __iter__(self) -> Any:
        _CountingItem.reads += 1
        return iter(["total"])

    def __len__(self) -> int:
        return 1


def test_a_long_list_is_refused_before_any_item_is_read_on_the_fast_path_too(
    tmp_path: Path,
) -> None:
    toml = (
        '[limits]\nmax_list_length = 10\n\n[recipient.fields]\norders = "list[order]"\n'
        'mine = {type = "list[order]", max_length = 3}\n\n[recipient.types.order]\ntotal = "int"\n'
    )
    schema = make_schema(tmp_path, toml)
    _CountingItem.reads = 0
    assert invalid(schema, {"id": "x", "orders": [_CountingItem()] * 50}) == (
        "recipient x: orders: longer than the limit of 10 items, got list of length 50 — raise "
        "[limits] in personalize.toml if this size is intended"
    )
    assert invalid(schema, {"id": "x", "mine": [_CountingItem()] * 5}) == (
        "recipient x: mine: longer than the limit of 3 items, got list of length 5 — shorten "
        "it, or raise the field's max_length in personalize.toml"
    )
    assert _CountingItem.reads == 0
