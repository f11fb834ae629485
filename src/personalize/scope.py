"""Scopes: what a rule reads, field paths, metrics and segments looked up by name."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from types import MappingProxyType
from typing import Any, Final, Protocol

from .errors import RuleError, render_time_problem, short_repr
from .values import TYPE_HINT, described

__all__ = ["MISSING", "MappingScope", "Scope", "exact_now", "split_ref", "walk"]


class Scope(Protocol):
    """What a rule is evaluated against: values by name, and the moment and zone of "now"."""

    @property
    def now(self) -> datetime: ...

    @property
    def tz(self) -> tzinfo: ...

    def lookup(self, ref: str) -> Any:
        """The value of a field path, metric or segment; ``MISSING`` when absent."""
        ...


class _Missing:
    """The type of ``MISSING``: one falsy instance that survives pickling."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "missing"

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
_UNSET: Final = object()
_NO_NAMES: Final[Mapping[str, Any]] = MappingProxyType({})
_PLAIN_MAPPINGS: Final = frozenset({dict, MappingProxyType})
_last_now: tuple[datetime | None, tzinfo | None, datetime] = (None, None, datetime.min)


def exact_now(now: datetime, tz: tzinfo) -> datetime:
    """``now`` in UTC (a naive one read in ``tz``), so that windows and ages are exact.

    Python subtracts and compares two date-times that share a zone object by their wall
    clocks: with ``now`` in Europe/Berlin, an order 90 days and 30 minutes before it, across
    the change to winter time, was 89 days old, and ``within: 30d`` spanned 30 days and an hour.
    In UTC every difference is elapsed time. A batch passes one ``now`` for every recipient:
    its conversion (~1 µs with pydantic's zones) is remembered.

    Raises:
        RuleError: ``now`` is out of range in UTC (0001-01-01 east of UTC, 9999-12-31
            west of it).
    """
    global _last_now
    if now.tzinfo is UTC:
        return now
    last, last_tz, utc = _last_now
    if now is last and tz is last_tz:
        return utc
    aware = now if now.tzinfo is not None else now.replace(tzinfo=tz)
    problem = render_time_problem(aware)
    if problem:
        raise RuleError(
            problem,
            path="now",
            hint="render at a time between years 1 and 9999 in UTC, e.g. now=datetime.now(UTC)",
        )
    utc = aware.astimezone(UTC)
    _last_now = (now, tz, utc)
    return utc


class MappingScope:
    """A ``Scope`` over a mapping: dotted refs walk nested mappings; ``names`` are looked up first.

    Args:
        data: The values, e.g. a recipient's fields or one item of a list field.
        now: The evaluation moment; a naive one is read in ``tz``.
        tz: The zone for naive date-times and for the midnight of dates.
        names: Values that shadow ``data`` (computed metrics and segment results).
    """

    __slots__ = ("data", "names", "now", "tz")

    def __init__(
        self,
        data: Mapping[str, Any],
        *,
        now: datetime,
        tz: tzinfo = UTC,
        names: Mapping[str, Any] = _NO_NAMES,
    ) -> None:
        # Exact types first: an ABC check costs more than the rest of a classify's setup.
        if type(data) not in _PLAIN_MAPPINGS and not isinstance(data, Mapping):
            raise RuleError(
                f"expected data as a mapping of field names to values, got {short_repr(data)}",
                hint="pass a dict such as {'tier': 'Gold'}",
            )
        if not isinstance(now, datetime) or not isinstance(tz, tzinfo):
            raise RuleError(
                f"expected 'now' to be a datetime and 'tz' a tzinfo, got {short_repr(now)} and "
                f"{short_repr(tz)}",
                hint="pass e.g. now=datetime.now(UTC), tz=ZoneInfo('Europe/Berlin')",
            )
        self.data = data
        self.now = exact_now(now, tz)
        self.tz = tz
        self.names = names

    def lookup(self, ref: str) -> Any:
        """The value at ``ref``; ``MISSING`` when absent. Walking into a list is a ``RuleError``."""
        value = self.names.get(ref, _UNSET)
        if value is not _UNSET:
            return value
        if "." not in ref:
            return self.data.get(ref, MISSING)
        return walk(self.data, split_ref(ref), ref)


@functools.lru_cache(maxsize=1024)
def split_ref(ref: str) -> tuple[str, ...]:
    """The parts of a dotted ref, ``('address', 'city')`` for ``address.city`` (cached)."""
    return tuple(ref.split("."))


def walk(data: Any, parts: Sequence[str], ref: str) -> Any:
    """Follow ``parts`` through nested mappings; ``MISSING`` when a step is absent or None."""
    value = data
    for index, part in enumerate(parts):
        if value is None or value is MISSING:
            return MISSING
        if not isinstance(value, Mapping):
            where = ".".join(parts[:index])
            if isinstance(value, (list, tuple)):
                raise RuleError(
                    f"{where!r} is a list, so {ref!r} names no single value",
                    path=ref,
                    hint=f"use a metric such as {{count: {where}}} or {{sum: {ref}}}",
                )
            raise RuleError(
                f"expected {where!r} to be a mapping to look up {ref!r}, got {described(value)}",
                path=ref,
                hint=TYPE_HINT,
            )
        value = value.get(part, MISSING)
    return MISSING if value is None else value
