"""The metric plan: a file's metrics computed together, one pass per list, for plain data."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from functools import partial
from itertools import compress, repeat
from operator import and_, attrgetter, is_not, sub
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from .rulenodes import Predicate
from .scope import MISSING, Scope

if TYPE_CHECKING:  # metrics.py imports this module: the plan needs Metric only as a type
    from .metrics import Metric

__all__ = ["MetricPlan"]

# The same as in metrics.py: the plan must read lists, presence, days and zones as it does.
_DAY: Final = timedelta(days=1)
_LISTS: Final = (list, tuple)
_PRESENT: Final = partial(is_not, None)
_TZINFO: Final = attrgetter("tzinfo")
_MAPPING_TYPES: Final = frozenset({dict, MappingProxyType})
_PLAIN_NUMBERS: Final = frozenset({int, float, Decimal, type(None)})
_STAMP_TYPES: Final = frozenset({datetime, type(None)})
_NONE: Final = type(None)
_UNTYPED: Final[set[type]] = {object}  # a column whose types no metric reads
_NO_VALUES: Final[Mapping[str, Any]] = MappingProxyType({})
_ZERO: Final = timedelta(0)

_Ages = tuple[list[Any], bool]
# (items, columns, their types, ages by column, windows, scope) -> the metric's value
_Aggregate = Callable[
    [Sequence[Any], list[list[Any]], list[set[type]], dict[int, _Ages], list[list[bool]], Scope],
    Any,
]


class _UnfitError(Exception):
    """The data is not of the plain kinds the plan handles; the checked path takes over."""


class MetricPlan:
    """A file's metrics grouped by the list they read, to compute them in one pass per list.

    ``prefill`` trusts only what it has checked by exact type (lists and tuples of dicts or
    mapping proxies, int/float/Decimal values, aware date-times) and leaves every metric it
    cannot compute so to ``Metric.compute``, whose checked path then gives the same value, or
    the located error. Metrics reading a deeper path than ``list.field`` always go that way.

    Args:
        metrics: The metrics, in file order.
        names: Every metric and segment name (a list read under such a name is shadowed).
    """

    def __init__(self, metrics: Iterable[Metric], names: Set[str]) -> None:
        groups: dict[str, _Group] = {}
        for metric in metrics:
            # The plan reads Metric's private path and cache key (`_parts`, `_key`): it fills
            # the cache that Metric.compute reads, under the same key.
            parts = metric._parts
            if len(parts) <= 2 and "." not in metric.at and parts[0] not in names:
                groups.setdefault(parts[0], _Group(parts[0])).add(metric)
        self._groups = tuple(groups.values())
        self._clock: tuple[datetime, datetime | None] | None = None  # the last `now`, in UTC

    def prefill(self, scope: Scope, cache: dict[Any, Any]) -> None:
        """Compute what it can for the recipient in ``scope``, into ``cache``. Never raises."""
        now, clock = scope.now, self._clock
        if clock is None or clock[0] is not now:  # a batch renders everyone at the same `now`
            # In UTC, date-times subtract faster; a zone without offsets must not be read so.
            utc = None if now.utcoffset() is None else now.astimezone(UTC)
            clock = self._clock = now, utc
        for group in self._groups:
            try:
                group.prefill(scope, cache, clock[1] or now)
            except Exception:  # the group's other metrics go the checked way
                continue


class _Group:
    """The metrics over one list: the columns, ages and windows they share, and how each
    metric aggregates them."""

    def __init__(self, head: str) -> None:
        self.head = head
        self.fields: list[str | None] = []  # one column per field; None: the items themselves
        self.stamped: list[int] = []  # the columns whose ages some metric needs
        self.typed: list[int] = []  # the columns whose value types some metric reads
        self.windows: list[tuple[int, timedelta]] = []  # (stamp column, length)
        self.metrics: list[tuple[object, Any, bool, _Aggregate]] = []
        self.spans: tuple[datetime, list[timedelta]] | None = None  # for the last `now` seen

    def add(self, metric: Metric) -> None:
        kind, field = metric.kind, metric._parts[1] if len(metric._parts) == 2 else None
        column, window = _index(self.fields, field), None
        if metric.within is not None:
            at = _index(self.fields, metric.at)
            window = _index(self.windows, (at, metric.within))
            _index(self.stamped, at)
        if kind == "days_since":
            _index(self.stamped, column)
        for typed in (*self.stamped, *(() if kind == "count" else (column,))):
            _index(self.typed, typed)
        where = None if metric.where is None else metric.where.compiled(frozenset())
        empty = 0 if kind in ("count", "sum") else None
        scalar = kind == "days_since" and field is None
        aggregate = _aggregator(kind, column, window, where, whole=field is None)
        self.metrics.append((metric._key, empty, scalar, aggregate))

    def prefill(self, scope: Scope, cache: dict[Any, Any], utc: datetime) -> None:
        items, now = scope.lookup(self.head), scope.now
        # No items: what the checked path gives, unless a window could overflow first.
        if (
            items is MISSING
            or items is None
            or (type(items) in _LISTS and not items and not self.windows)
        ):
            for key, empty, _, _ in self.metrics:
                cache[key] = empty
            return
        if type(items) is datetime:
            for key, _, scalar, _ in self.metrics:
                if scalar:  # a naive one cannot be subtracted: the checked path reads it in tz
                    cache[key] = (_since(now, utc, items)) // _DAY
            return
        if type(items) not in _LISTS:
            return
        columns = [items if f is None else [item.get(f) for item in items] for f in self.fields]
        kinds = [_UNTYPED] * len(columns)
        for i in self.typed:
            kinds[i] = set(map(type, columns[i]))
        ages = {}
        for i in self.stamped:
            ages[i] = _ages(columns[i], kinds[i], now, utc)
        keeps = []
        if self.windows:
            spans = self.spans  # a batch renders every recipient at the same `now`
            if spans is None or spans[0] is not now:
                spans = self.spans = now, [_span(now, within) for _, within in self.windows]
            for (i, _), span in zip(self.windows, spans[1], strict=True):
                if _NONE in kinds[i]:
                    keeps.append([age is not None and _ZERO <= age <= span for age in ages[i][0]])
                else:
                    keeps.append([_ZERO <= age <= span for age in ages[i][0]])
        for key, _, _, aggregate in self.metrics:
            try:
                cache[key] = aggregate(items, columns, kinds, ages, keeps, scope)
            except Exception:  # left to the checked path
                continue


def _index(values: list[Any], value: Any) -> int:
    if value not in values:
        values.append(value)
    return values.index(value)


def _aggregator(
    kind: str, column: int, window: int | None, where: Predicate | None, *, whole: bool
) -> _Aggregate:
    """How one metric aggregates its group's columns; raises on data the plan does not take."""

    def tally(
        items: Sequence[Any],
        columns: list[list[Any]],
        kinds: list[set[type]],
        ages: dict[int, _Ages],
        keeps: list[list[bool]],
        scope: Scope,
    ) -> Any:
        keep, values = None if window is None else keeps[window], columns[column]
        if where is not None:
            keep = _held(where, items, keep, scope)
        elif whole and keep is not None:
            return keep.count(True)  # the window read every item: none is None
        return sum(map(_PRESENT, values if keep is None else compress(values, keep)))

    def aggregate(
        items: Sequence[Any],
        columns: list[list[Any]],
        kinds: list[set[type]],
        ages: dict[int, _Ages],
        keeps: list[list[bool]],
        scope: Scope,
    ) -> Any:
        keep, values, types = (
            None if window is None else keeps[window],
            columns[column],
            kinds[column],
        )
        if where is not None:
            keep = _held(where, items, keep, scope)
        if kind != "days_since" and types <= _PLAIN_NUMBERS:
            if keep is not None:
                values = list(compress(values, keep))
            if _NONE in types:
                values = [value for value in values if value is not None]
            if kind in ("sum", "avg"):
                total = sum(values, 0)  # Decimal with float raises: the checked path adds floats
                return total if kind == "sum" else total / len(values) if values else None
            return (min(values) if kind == "min" else max(values)) if values else None
        if kind in ("sum", "avg"):
            raise _UnfitError
        found = ages.get(column)
        spans, ordered = _ages(values, types, scope.now, scope.now) if found is None else found
        if not ordered:
            raise _UnfitError
        seen: Sequence[int] = range(len(spans))
        if keep is not None:
            seen = [
                i for i, (a, k) in enumerate(zip(spans, keep, strict=True)) if k and a is not None
            ]
        elif _NONE in types:
            seen = [i for i, age in enumerate(spans) if age is not None]
        if not seen:
            return None
        # min() and max() return the first of equal items, as they do over the stamps.
        if kind == "min":
            return values[max(seen, key=spans.__getitem__)]
        latest = min(seen, key=spans.__getitem__)
        return values[latest] if kind == "max" else spans[latest] // _DAY

    return tally if kind == "count" else aggregate


def _held(
    where: Predicate, items: Sequence[Any], keep: list[bool] | None, scope: Scope
) -> list[bool]:
    """``keep`` narrowed to the items ``where`` holds for (all items, when ``keep`` is None)."""
    if not set(map(type, items)) <= _MAPPING_TYPES:
        raise _UnfitError
    held = [where(item, _NO_VALUES, scope) for item in items]
    return held if keep is None else list(map(and_, keep, held))


def _since(now: datetime, utc: datetime, stamp: datetime) -> timedelta:
    # `now - stamp`: by wall clock when they share a zone object, else in UTC as `utc` is.
    return (now if stamp.tzinfo is now.tzinfo else utc) - stamp


def _ages(stamps: list[Any], types: Set[type], now: datetime, utc: datetime) -> _Ages:
    """``now - stamp`` per stamp (None where absent), exact in UTC; and whether the stamps
    order among themselves as in UTC (no two share a zone object of changing offset).
    ``utc`` is ``now`` in UTC (or ``now`` itself), for the speed of the subtractions."""
    if not types <= _STAMP_TYPES:
        raise _UnfitError
    here, gaps = now.tzinfo, _NONE in types
    zones = [s.tzinfo for s in stamps if s is not None] if gaps else list(map(_TZINFO, stamps))
    ids = set(map(id, zones))
    # Date-times that share a zone object compare and subtract by wall clock, others in UTC:
    # a stamp in now's zone, if that zone's offset may change, goes the checked way.
    if id(None) in ids or (id(here) in ids and type(here) is not timezone):
        raise _UnfitError
    ordered = len(ids) == len(zones) or set(map(type, zones)) == {timezone}
    if gaps:
        return [None if stamp is None else utc - stamp for stamp in stamps], ordered
    return list(map(sub, repeat(utc), stamps)), ordered


def _span(now: datetime, within: timedelta) -> timedelta:
    """``UTC(now) - UTC(now - within)``: ``within``, unless now's offset changes within it."""
    start = now - within  # as the checked path does, overflow included
    if type(now.tzinfo) is timezone:
        return within
    before, after = start.utcoffset(), now.utcoffset()
    if before is None or after is None:
        raise _UnfitError
    return within + before - after
