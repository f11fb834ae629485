"""Tests for personalize.recipient: the immutable Recipient, and the errors about records."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from personalize import PersonalizeError, Project
from personalize.errors import RecipientError
from personalize.recipient import Recipient, message_for

HANDBUILT_CASES = [
    (
        {"timezone": "Nope/Zone"},
        "timezone: expected an IANA time zone such as 'Europe/Berlin', got 'Nope/Zone'",
    ),
    (
        {"timezone": "localtime"},
        "timezone: expected an IANA time zone such as 'Europe/Berlin', got 'localtime'",
    ),
    ({"locale": "german"}, "locale: expected a locale such as 'en_US' or 'de_DE', got 'german'"),
    ({"locale": "de-DE"}, "locale: expected 'de_DE', as validation writes it, got 'de-DE'"),
    ({"currency": "eur"}, "currency: expected 'EUR', as validation writes it, got 'eur'"),
    ({"currency": None}, "currency: expected text, got None"),
]


@pytest.mark.parametrize(
    ("changed", "expected"),
    HANDBUILT_CASES,
    ids=["unknown zone", "host zone", "unknown locale", "locale as given", "currency", "none"],
)
def test_a_recipient_built_by_hand_is_checked(changed: dict[str, Any], expected: str) -> None:
    given = {"id": "r2", "data": MappingProxyType({}), "locale": "en_US", "timezone": "UTC"}
    with pytest.raises(RecipientError) as caught:
        Recipient(**{**given, "currency": "USD", **changed})
    assert str(caught.value) == (
        f"recipient r2: {expected} — get recipients from project.recipient(record), which "
        "checks them"
    )


def test_a_recipient_without_a_text_id_is_refused() -> None:
    with pytest.raises(RecipientError) as caught:
        Recipient(id=7, data={}, locale="en_US", timezone="UTC", currency="USD")  # type: ignore[arg-type]
    assert str(caught.value) == (
        "id: expected text, got 7 — get recipients from project.recipient(record), which "
        "checks them"
    )


def test_recipient_built_directly() -> None:
    recipient = Recipient(
        id="x", data=MappingProxyType({"a": None}), locale="en", timezone="UTC", currency="USD"
    )
    assert recipient.get("a", 1) == 1
    assert recipient.tz == ZoneInfo("UTC")
    assert recipient.defaulted == frozenset()
    with pytest.raises(KeyError):
        recipient["b"]


@pytest.mark.parametrize(
    ("value", "unit"),
    [("ann@example.com", "characters"), (["a"] * 9, "items")],
    ids=["text", "list"],
)
def test_a_size_error_counts_characters_in_text_and_items_in_lists(value: Any, unit: str) -> None:
    # A text type with a check of its own (email, locale…) fails its max_length as `too_long`.
    err = {"type": "too_long", "ctx": {"max_length": 5}, "input": value, "msg": "too long"}
    assert message_for(err) == f"longer than the limit of 5 {unit}"


ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 27, 8, tzinfo=UTC)


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize("workers", [1, 2])
def test_a_value_nested_too_deep_for_repr_fails_its_record_and_spares_the_batch(
    workers: int,
) -> None:
    # repr() of the whole value ran out of stack while the error was being written, and the
    # RecursionError stopped render_many before the good records around it were yielded.
    project = Project.load(ROOT)
    good = dict(next(iter(project.personas.values())).data)
    records = [
        {**good, "id": "before"},
        {**good, "id": "deep", "first_name": _nested(5_000)},
        {**good, "id": "after"},
    ]
    outcomes = list(project.render_many("weekly", records, workers=workers, chunk_size=1))
    assert [(o.recipient, o.ok) for o in outcomes] == [
        ("before", True),
        ("deep", False),
        ("after", True),
    ]
    assert isinstance(outcomes[1].error, RecipientError)
    assert str(outcomes[1].error) == (
        "recipient deep: first_name: expected text, got {'a': {'a': {'a': {'a': {'a': {'a': "
        "{'a': {'a': {'a': {'a':…"
    )


ODD_ID = "c-1\nfailed: nothing to see \x1b[31mhere"
SHOWN_ODD_ID = "'c-1\\nfailed: nothing to see \\x1b[31mhere'"


def test_an_id_with_control_characters_is_escaped_in_every_error() -> None:
    # A raw line break in the id would add a forged line to a log of failures.
    project = Project.load(ROOT)
    record = {**dict(next(iter(project.personas.values())).data), "id": ODD_ID}
    invalid = {**record, "points": "n/a"}
    unrenderable = {**record, "cart": [{"price": "1e30"}]}
    errors = [
        next(project.render_many("cart-reminder", [invalid], now=NOW)).error,
        next(project.render_many("cart-reminder", [unrenderable], now=NOW)).error,
    ]
    with pytest.raises(PersonalizeError) as caught:
        project.render("weekly", record, now=NOW).to_message(to="not an address")
    assert [str(error) for error in [*errors, caught.value]] == [
        f"recipient {SHOWN_ODD_ID}: points: expected a whole number, got 'n/a'",
        f"modules/cart/items.mjml line 6 (recipient {SHOWN_ODD_ID}): cart_value: expected a "
        "finite number smaller than 10**18 for money, got "
        "Decimal('1.000000000000000000000000000E+30') — check the recipient's data: this "
        "cannot be a real amount",
        f"recipient {SHOWN_ODD_ID}: email: expected one email address such as "
        "'Ann Lee <ann@example.com>', got 'not an address' — an address has a user, an '@' "
        "and a domain, as in 'user@example.com'",
    ]
