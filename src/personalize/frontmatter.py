"""Front matter of layouts and modules: the known keys, and each key's value checked."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from .errors import did_you_mean, short_repr
from .rules import Rule, parse_rule
from .yamlfile import Document

__all__ = [
    "LAYOUT_KEYS",
    "MODULE_KEYS",
    "Active",
    "active_of",
    "check_keys",
    "locales_of",
    "names_of",
    "priority_of",
    "text_of",
    "when_of",
]

MODULE_KEYS = (
    "slot",
    "segments",
    "exclude",
    "when",
    "priority",
    "locales",
    "active",
    "subject",
    "preheader",
    "description",
)
LAYOUT_KEYS = ("subject", "preheader", "description")


@dataclass(frozen=True)
class Active:
    """A module's active window; ``start`` inclusive, ``end`` exclusive, both aware."""

    start: datetime | None
    end: datetime | None
    text: str

    def contains(self, now: datetime) -> bool:
        """Whether ``now`` falls inside the window."""
        return (self.start is None or now >= self.start) and (self.end is None or now < self.end)


def check_keys(front: Document, allowed: tuple[str, ...], *, what: str) -> None:
    """Refuse front matter keys not in ``allowed``; ``what`` names the file kind in messages.

    Raises:
        ConfigError: at the unknown key, with a did-you-mean hint.
    """
    for key in front.data:
        if key not in allowed:
            raise front.error(
                (key,),
                f"unknown {what} key {key!r}",
                hint=did_you_mean(str(key), allowed) or f"known keys: {', '.join(allowed)}",
            )


def text_of(front: Document, key: str) -> tuple[str | None, int | None]:
    """The text at ``key`` and its line; ``(None, None)`` when absent.

    Raises:
        ConfigError: the value is not text, or blank.
    """
    value = front.data.get(key)
    if value is None:
        return None, None
    if not isinstance(value, str) or not value.strip():
        raise front.error((key,), f"{key} must be text, got {short_repr(value)}")
    return value, front.line((key,))


def names_of(front: Document, key: str, *, known: Collection[str], what: str) -> tuple[str, ...]:
    """The names at ``key`` (one name or a list of them), each one of ``known``.

    Raises:
        ConfigError: not a name or list of names, or an unknown name (at its list item).
    """
    value = front.data.get(key)
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise front.error((key,), f"{key} must be a list of {what} names, got {short_repr(value)}")
    for index, item in enumerate(items):
        if item not in known:
            raise front.error(
                (key, index) if isinstance(value, list) else (key,),
                f"unknown {what} {item!r}",
                hint=did_you_mean(item, known)
                or (
                    f"known {what}s: {', '.join(sorted(known))}"
                    if known
                    else f"no {what}s are defined"
                ),
            )
    return tuple(items)


def priority_of(front: Document) -> int:
    """The module's ``priority`` (0 when absent).

    Raises:
        ConfigError: not a whole number.
    """
    priority = front.data.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise front.error(
            ("priority",), f"priority must be a whole number, got {short_repr(priority)}"
        )
    return priority


def when_of(front: Document, *, names: Collection[str]) -> Rule | None:
    """The module's ``when`` rule, reading only ``names``; None when absent.

    Raises:
        ConfigError: a malformed rule, or a name not in ``names``.
    """
    when = front.data.get("when")
    rule = None if when is None else parse_rule(when, doc=front, path=("when",))
    if rule is not None:
        for ref in sorted(rule.refs()):
            if ref not in names:
                raise front.error(
                    ("when",),
                    f"unknown name {ref!r} in when",
                    hint=did_you_mean(ref, names) or "use a recipient field, metric or segment",
                )
    return rule


def locales_of(front: Document) -> tuple[str, ...]:
    """The module's ``locales``, with ``-`` written as ``_``; empty when absent.

    Raises:
        ConfigError: not a list of non-empty texts.
    """
    locales = front.data.get("locales")
    if locales is not None and (
        not isinstance(locales, list) or not all(isinstance(x, str) and x for x in locales)
    ):
        raise front.error(
            ("locales",), f"locales must be a list such as [en, de_AT], got {short_repr(locales)}"
        )
    return tuple(x.replace("-", "_") for x in locales or ())


def active_of(front: Document, *, tz: tzinfo) -> Active | None:
    """The module's ``active`` window; dates and naive date-times are read in ``tz``.

    Raises:
        ConfigError: not ``{from: DATE, until: DATE}``, a bad date, or an empty window.
    """
    value = front.data.get("active")
    if value is None:
        return None
    if not isinstance(value, dict) or not value or set(value) - {"from", "until"}:
        raise front.error(
            ("active",),
            f"active must be {{from: DATE, until: DATE}}, got {short_repr(value)}",
            hint="either bound may be left out; dates are in the project time zone",
        )
    start = _bound(front, value.get("from"), "from", tz, end=False)
    end = _bound(front, value.get("until"), "until", tz, end=True)
    if start and end and end <= start:
        raise front.error(
            ("active",),
            "active window ends before it starts",
            hint="'until' must be later than 'from'; a date covers its whole day",
        )
    text = f"{value.get('from', '…')} – {value.get('until', '…')}"
    return Active(start=start, end=end, text=text)


def _bound(front: Document, value: Any, key: str, tz: tzinfo, *, end: bool) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = (
                datetime.fromisoformat(value)
                if "T" in value or " " in value
                else date.fromisoformat(value)
            )
        except ValueError:
            raise front.error(
                ("active", key), f"expected a date such as 2026-11-20, got {short_repr(value)}"
            ) from None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        # A date bound covers the whole day: 'until: 2026-12-01' includes December 1st.
        day = datetime.combine(value, time.min, tzinfo=tz)
        return day + timedelta(days=1) if end else day
    raise front.error(
        ("active", key), f"expected a date such as 2026-11-20, got {short_repr(value)}"
    )
