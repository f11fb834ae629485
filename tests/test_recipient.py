"""Tests for personalize.recipient: the immutable Recipient, checked when built by hand."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import pytest

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
