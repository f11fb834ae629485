"""Plain list data as the metric plan reads it: exact types, ages of stamps, windows, held items."""

from __future__ import annotations

from collections.abc import Sequence, Set
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import partial
from itertools import repeat
from operator import and_, attrgetter, is_not, sub
from types import MappingProxyType
from typing import Any, Final

from .rulenodes import Predicate
from .scope import Scope

__all__ = [
    "DAY",
    "LISTS",
    "NONE",
    "PLAIN_NUMBERS",
    "PRESENT",
    "ZERO",
    "Ages",
    "UnfitError",
    "held",
    "since",
    "stamp_ages",
    "window_span",
]

# The same as in metrics.py: the plan must read lists, presence, days and zones as it does.
DAY: Final = timedelta(days=1)
LISTS: Final = (list, tuple)
PRESENT: Final = partial(is_not, None)
PLAIN_NUMBERS: Final = frozenset({int, float, Decimal, type(None)})
NONE: Final = type(None)
ZERO: Final = timedelta(0)
_TZINFO: Final = attrgetter("tzinfo")
_MAPPING_TYPES: Final = frozenset({dict, MappingProxyType})
_STAMP_TYPES: Final = frozenset({datetime, type(None)})
_NO_VALUES: Final[Any] = MappingProxyType({})

Ages = tuple[list[Any], bool]


class UnfitError(Exception):
    """The data is not of the plain kinds the plan handles; the checked path takes over."""


def held(
    where: Predicate, items: Sequence[Any], keep: list[bool] | None, scope: Scope
) -> list[bool]:
    """``keep`` narrowed to the items ``where`` holds for (all items, when ``keep`` is None)."""
    if not set(map(type, items)) <= _MAPPING_TYPES:
        raise UnfitError
    found = [where(item, _NO_VALUES, scope) for item in items]
    return found if keep is None else list(map(and_, keep, found))


def since(now: datetime, utc: datetime, stamp: datetime) -> timedelta:
    """``now - stamp``: by wall clock when they share a zone object, else in UTC as ``utc`` is."""
    return (now if stamp.tzinfo is now.tzinfo else utc) - stamp


def stamp_ages(stamps: list[Any], types: Set[type], now: datetime, utc: datetime) -> Ages:
    """``now - stamp`` per stamp (None where absent), exact in UTC; and whether the stamps
    order among themselves as in UTC (no two share a zone object of changing offset).
    ``utc`` is ``now`` in UTC (or ``now`` itself), for the speed of the subtractions."""
    if not types <= _STAMP_TYPES:
        raise UnfitError
    here, gaps = now.tzinfo, NONE in types
    zones = [s.tzinfo for s in stamps if s is not None] if gaps else list(map(_TZINFO, stamps))
    ids = set(map(id, zones))
    # Date-times that share a zone object compare and subtract by wall clock, others in UTC:
    # a stamp in now's zone, if that zone's offset may change, goes the checked way.
    if id(None) in ids or (id(here) in ids and type(here) is not timezone):
        raise UnfitError
    ordered = len(ids) == len(zones) or set(map(type, zones)) == {timezone}
    if gaps:
        return [None if stamp is None else utc - stamp for stamp in stamps], ordered
    return list(map(sub, repeat(utc), stamps)), ordered


def window_span(now: datetime, within: timedelta) -> timedelta:
    """``UTC(now) - UTC(now - within)``: ``within``, unless now's offset changes within it."""
    start = now - within  # as the checked path does, overflow included
    if type(now.tzinfo) is timezone:
        return within
    before, after = start.utcoffset(), now.utcoffset()
    if before is None or after is None:
        raise UnfitError
    return within + before - after
