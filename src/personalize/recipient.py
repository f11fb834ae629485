"""The validated, immutable Recipient, and errors for records that do not fit the schema."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sized
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from pydantic import ValidationError

from .config import LimitSettings
from .errors import RecipientError, escaped_id, format_path, short_repr
from .fieldtypes import EMAIL_EXPECTED, URL_PATTERN, formatting_problem, zone

__all__ = ["Recipient", "message_for", "new_recipient", "recipient_error", "shown_id"]


@dataclass(frozen=True, slots=True)
class Recipient:
    """A validated, immutable recipient.

    Attributes:
        id: The recipient's id (always a string).
        data: Every declared field (``None`` where an optional field is absent).
        locale: The recipient's locale, e.g. ``de_DE`` (project default when absent).
        timezone: An IANA time zone name (project default when absent).
        currency: An ISO 4217 code (project default when absent).
        defaulted: Fields whose value came from their declared default.
    """

    id: str
    data: Mapping[str, Any]
    locale: str
    timezone: str
    currency: str
    defaulted: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # Validation builds its recipients without this (their values are checked): one built
        # by hand is checked here, once, so that no render meets an unknown zone or locale.
        shown = shown_id(self.id) if type(self.id) is str else None
        for field in ("id", "locale", "timezone", "currency"):
            problem = formatting_problem(field, getattr(self, field))
            if problem is not None:
                raise RecipientError(
                    problem,
                    recipient=shown,
                    path=field,
                    hint="get recipients from project.recipient(record), which checks them",
                )

    def __getitem__(self, name: str) -> Any:
        return self.data[name]

    def get(self, name: str, default: Any = None) -> Any:
        """A field's value, or ``default`` when it is absent or ``None``."""
        value = self.data.get(name)
        return default if value is None else value

    @property
    def tz(self) -> tzinfo:
        """The recipient's time zone as a ``tzinfo``."""
        return zone(self.timezone)


def _recipient_builder() -> Callable[
    [str, Mapping[str, Any], str, str, str, frozenset[str]], Recipient
]:
    # The frozen dataclass's __init__ stores each field through object.__setattr__, by
    # keyword: on every record, twice the cost of storing straight into the slots.
    new = object.__new__
    set_id, set_data, set_locale, set_timezone, set_currency, set_defaulted = (
        Recipient.__dict__[field.name].__set__ for field in dataclasses.fields(Recipient)
    )

    def build(
        id_: str,
        data: Mapping[str, Any],
        locale: str,
        timezone: str,
        currency: str,
        defaulted: frozenset[str],
    ) -> Recipient:
        recipient = new(Recipient)
        set_id(recipient, id_)
        set_data(recipient, data)
        set_locale(recipient, locale)
        set_timezone(recipient, timezone)
        set_currency(recipient, currency)
        set_defaulted(recipient, defaulted)
        return recipient

    return build


new_recipient = _recipient_builder()
"""Build a ``Recipient`` from validated values, without checking them again."""


def shown_id(raw: Any) -> str | None:
    """A record's id as error messages show it: short and free of control characters."""
    if not isinstance(raw, str | int) or not str(raw).strip():
        return None
    return escaped_id(str(raw))


_MESSAGES = {
    "missing": "required field is missing",
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "int_parsing_size": "expected a whole number",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "decimal_parsing": "expected a number",
    "decimal_type": "expected a number",
    "finite_number": "expected a finite number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected text",
    "string_unicode": "text holds an invalid character (a lone surrogate)",
    "string_pattern_mismatch": "text holds a Unicode noncharacter (U+FDD0–U+FDEF)",
    "noncharacter": "text holds a Unicode noncharacter (U+FDD0–U+FDEF)",
    "url_pattern_mismatch": "expected an http(s) or mailto URL",
    "date_parsing": "expected an ISO date such as 2026-11-20",
    "date_from_datetime_parsing": "expected an ISO date such as 2026-11-20",
    "date_from_datetime_inexact": "expected an ISO date such as 2026-11-20 (without a time)",
    "date_type": "expected an ISO date such as 2026-11-20",
    "datetime_parsing": "expected an ISO date-time such as 2026-11-20T09:00:00+01:00",
    "datetime_from_date_parsing": "expected an ISO date-time such as 2026-11-20T09:00:00+01:00",
    "datetime_type": "expected an ISO date-time such as 2026-11-20T09:00:00+01:00",
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "dict_type": "expected an object",
    "model_type": "expected an object",
    "typed_dict_type": "expected an object",
    "map_value": "expected text, a number, true/false or null",
    "email_address": EMAIL_EXPECTED,
}
_SIZE_ERRORS = ("string_too_long", "too_long")


def message_for(err: Any) -> str:
    """What was expected, in our words, for one pydantic error."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == URL_PATTERN:
        kind = "url_pattern_mismatch"  # the two patterns we set mean different things
    if kind in _SIZE_ERRORS:
        # A text type with a check of its own (email, locale…) fails as `too_long`, like a list.
        text = kind == "string_too_long" or isinstance(err.get("input"), str)
        unit = "characters" if text else "items"
        return f"longer than the limit of {ctx.get('max_length')} {unit}"
    return _MESSAGES.get(kind) or str(err["msg"]).removeprefix("Value error, ")


def recipient_error(
    exc: ValidationError,
    *,
    rid: str | None,
    source: str | None,
    line: int | None,
    limits: LimitSettings,
) -> RecipientError:
    """One ``RecipientError`` for a failed validation: its first problem, in our words.

    Args:
        exc: The validation error.
        rid: The recipient's id, as shown in messages.
        source: The file the record comes from.
        line: The record's line in that file.
        limits: The size limits, to tell a project limit from a field's own.
    """
    errors = exc.errors(include_url=False)
    # A size limit is the most useful thing to report: the rest of such a value is noise.
    err = next((e for e in errors if e["type"] in _SIZE_ERRORS), errors[0])
    loc = [
        # Keys of a map come from the data: show them escaped, like any other value.
        p if isinstance(p, int) or (p.isprintable() and len(p) <= 64) else short_repr(p, 64)
        for p in err["loc"]
        if not (isinstance(p, str) and p.startswith("function-"))
    ]
    kind = err["type"]
    message = message_for(err)
    if kind in _SIZE_ERRORS:
        limit = (err.get("ctx") or {}).get("max_length")
        hint: str | None = (
            "raise [limits] in personalize.toml if this size is intended"
            if limit in (limits.max_string_length, limits.max_list_length)
            else "shorten it, or raise the field's max_length in personalize.toml"
        )
        value = err["input"]
        # A number checked as text (coerced) has a length only once converted.
        shown = (
            f"{type(value).__name__} of length {len(value)}"
            if isinstance(value, Sized)
            else short_repr(value)
        )
    else:
        # A check may name the rule that failed (an email address's).
        hint = (err.get("ctx") or {}).get("hint")
        if kind == "missing":
            hint = "fix the record, or declare a default for the field"
        shown = short_repr(err["input"]) if kind != "missing" else ""
    if shown:
        message += f", got {shown}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return RecipientError(
        message, file=source, line=line, recipient=rid, path=format_path(loc), hint=hint
    )
