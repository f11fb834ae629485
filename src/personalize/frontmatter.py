"""Front matter of layouts and modules: the known keys, and each key's value checked."""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from .errors import did_you_mean, short_repr
from .rules import Rule, parse_rule
from .yamlfile import Document

__all__ = [
    "LAYOUT_KEYS",
    "MODULE_KEYS",
    "Active",
    "ExperimentTag",
    "active_of",
    "check_keys",
    "experiment_of",
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
    "experiment",
)
LAYOUT_KEYS = ("subject", "preheader", "description")
EXPERIMENT_KEYS = ("name", "variant", "weight", "holdout")
HOLDOUT = "holdout"
# Matched whole (fullmatch): `$` would also match before a final newline, and "holdout\n" pass.
_EXPERIMENT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# A language, then optionally a script and a country or UN M.49 region: the form recipients'
# and the project's locales are checked against, as a prefix (`de`, `sr_Latn`) too.
_LOCALE = re.compile(r"[a-z]{2,3}(_[A-Z][a-z]{3})?(_[A-Z]{2}|_[0-9]{3})?\Z")


@dataclass(frozen=True)
class Active:
    """A module's active window; ``start`` inclusive, ``end`` exclusive, both in UTC.

    In UTC, comparing with a moment is exact: two date-times in one zone compare by their wall
    clocks, which on the night clocks go back put 02:10 (winter time) before 02:30 (summer
    time). Only a bound at the calendar's edge that UTC cannot hold keeps its own zone.
    """

    start: datetime | None
    end: datetime | None
    text: str

    def contains(self, now: datetime) -> bool:
        """Whether ``now`` falls inside the window."""
        return (self.start is None or now >= self.start) and (self.end is None or now < self.end)

    def describe(self, now: datetime, tz: tzinfo) -> str:
        """``active 2026-11-27 – 2026-11-30 (Europe/Berlin), now is 2026-12-01T00:30+01:00``.

        The dates are in the project zone ``tz``: ``now`` in the offset it was given (23:30 UTC
        on the 30th) would read as inside a window that in Berlin had already ended.
        """
        if now.tzinfo is None:  # a naive moment is read in the project zone, as everywhere
            now = now.replace(tzinfo=tz)
        try:
            local = now.astimezone(tz)
        except OverflowError:  # the zone's wall clock is past the calendar's end: as given
            local = now
        return f"active {self.text} ({tz}), now is {local.isoformat(timespec='minutes')}"


@dataclass(frozen=True)
class ExperimentTag:
    """A module's place in an experiment (front matter ``experiment``): its variant and weight.

    ``holdout`` is ``None`` when this module does not state the experiment's holdout; ``lines``
    holds the line of each key written, for errors found when the experiment is put together.
    """

    name: str
    variant: str
    weight: float = 1.0
    holdout: float | None = None
    lines: tuple[tuple[str, int], ...] = ()

    def line(self, key: str) -> int | None:
        """The line of ``key`` (``name``, ``variant``, ``weight``, ``holdout``) or of the tag."""
        found = dict(self.lines)
        return found.get(key, found.get(""))


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

    Each is a language (``de``), optionally with a script and a country or region (``de_AT``,
    ``sr_Latn_RS``), spelled as recipients' locales are: matching is exact, so ``de_de``
    would match no one.

    Raises:
        ConfigError: not a list of texts, or an item not written like a locale (at the item,
            with the spelling it likely means).
    """
    locales = front.data.get("locales")
    if locales is None:
        return ()
    if not isinstance(locales, list) or not all(isinstance(x, str) and x for x in locales):
        raise front.error(
            ("locales",), f"locales must be a list such as [en, de_AT], got {short_repr(locales)}"
        )
    found: list[str] = []
    for index, item in enumerate(locales):
        locale = item.strip().replace("-", "_")
        if not _LOCALE.match(locale):
            spelled = _spelled(locale)
            raise front.error(
                ("locales", index),
                f"expected a language such as 'de' or a locale such as 'de_AT', "
                f"got {short_repr(item)}",
                hint=f"did you mean {spelled!r}? As written it would match no recipient"
                if spelled
                else "write a language code, optionally with a country: de, de_AT, pt_BR",
            )
        found.append(locale)
    return tuple(found)


def _spelled(locale: str) -> str | None:
    """``de_de`` → ``de_DE``, ``DE`` → ``de``: the locale a miscased one means, if any."""
    parts = locale.split("_")
    cased = [parts[0].lower()]
    for part in parts[1:]:
        cased.append(part.title() if len(part) == 4 else part.upper())
    fixed = "_".join(cased)
    return fixed if _LOCALE.match(fixed) else None


def active_of(front: Document, *, tz: tzinfo) -> Active | None:
    """The module's ``active`` window; dates and naive date-times are read in ``tz``.

    Raises:
        ConfigError: not ``{from: DATE, until: DATE}``, a bad date, or an empty window.
    """
    value = front.data.get("active")
    if value is None:
        return None
    # `{from: null, until: null}` is `{}`: a window without bounds would make a fallback
    # count as targeted, ranking it before the other fallbacks of its priority.
    if (
        not isinstance(value, dict)
        or set(value) - {"from", "until"}
        or (value.get("from") is None and value.get("until") is None)
    ):
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
    text = " – ".join(
        "…" if value.get(key) is None else str(value[key]) for key in ("from", "until")
    )
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
        return _utc(value if value.tzinfo else value.replace(tzinfo=tz))
    if isinstance(value, date):
        # A date bound covers the whole day: 'until: 2026-12-01' includes December 1st.
        day = datetime.combine(value, time.min, tzinfo=tz)
        if end and value == date.max:  # no later day to end at: the window is open-ended
            return None
        return _utc(day + timedelta(days=1) if end else day)
    raise front.error(
        ("active", key), f"expected a date such as 2026-11-20, got {short_repr(value)}"
    )


def _utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # at the calendar's edges (0001-01-01 east of UTC, 9999-12-31 west
        return moment  # of it) the bound keeps its zone: comparing across zones is exact too


def experiment_of(front: Document) -> ExperimentTag | None:
    """The module's ``experiment`` tag: ``{name: …, variant: …, weight: 1, holdout: 0.1}``.

    Raises:
        ConfigError: not a mapping, an unknown key, a missing or malformed name or variant,
            a weight that is not a positive number, or a holdout outside [0, 1).
    """
    value = front.data.get("experiment")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise front.error(
            ("experiment",),
            f"experiment must be a mapping such as {{name: hero-copy, variant: b}}, "
            f"got {short_repr(value)}",
        )
    for key in value:
        if key not in EXPERIMENT_KEYS:
            raise front.error(
                ("experiment", key),
                f"unknown experiment key {key!r}",
                hint=did_you_mean(str(key), EXPERIMENT_KEYS)
                or f"known keys: {', '.join(EXPERIMENT_KEYS)}",
            )
    name, variant = (_experiment_name(front, value, key) for key in ("name", "variant"))
    if variant == HOLDOUT:
        raise front.error(
            ("experiment", "variant"),
            "'holdout' is not a variant name: it marks recipients held out of the experiment",
            hint="name the variant e.g. 'b', and set the share held out with 'holdout: 0.1'",
        )
    weight = _number(front, value, "weight")
    weight = 1.0 if weight is None else weight
    if weight <= 0:
        raise front.error(
            ("experiment", "weight"),
            f"weight must be a positive number, got {short_repr(value['weight'])}",
            hint="weights are relative: 1 and 1 split evenly, 3 and 1 give 75% and 25%",
        )
    holdout = _number(front, value, "holdout")
    if holdout is not None and not 0 <= holdout < 1:
        raise front.error(
            ("experiment", "holdout"),
            f"holdout must be a share from 0 up to (not including) 1, "
            f"got {short_repr(value['holdout'])}",
            hint="write 0.1 to hold out 10% of the recipients",
        )
    lines = [("", front.line(("experiment",)) or 1)]
    lines += [(k, line) for k in value if (line := front.line(("experiment", k))) is not None]
    return ExperimentTag(name, variant, weight, holdout, tuple(lines))


def _experiment_name(front: Document, value: dict[str, Any], key: str) -> str:
    text = value.get(key)
    if text is None:
        raise front.error(
            ("experiment",),
            f"experiment needs a {key}",
            hint="write experiment: {name: hero-copy, variant: b}; modules with the same name "
            "are the variants of one experiment",
        )
    if not isinstance(text, str) or not _EXPERIMENT_NAME.fullmatch(text):
        raise front.error(
            ("experiment", key),
            f"experiment {key} must be lowercase letters, digits, '-' or '_' "
            f"(at most 64), got {short_repr(text)}",
            hint="e.g. hero-copy-nov",
        )
    return text


def _number(front: Document, value: dict[str, Any], key: str) -> float | None:
    number = value.get(key)
    if number is None:
        return None
    try:  # an int beyond float's range (1 and 400 zeros) overflows in isfinite and float
        finite = isinstance(number, int | float) and math.isfinite(number)
    except OverflowError:
        finite = False
    if isinstance(number, bool) or not finite:
        raise front.error(("experiment", key), f"{key} must be a number, got {short_repr(number)}")
    return float(number)
