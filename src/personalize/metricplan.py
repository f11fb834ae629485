"""The metric plan: a file's metrics computed together, one pass per list, for plain data."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence, Set
from datetime import UTC, datetime, timedelta
from itertools import compress
from typing import TYPE_CHECKING, Any, Final

from .metriccode import MetricSpec, plan_run
from .metricdata import (
    DAY,
    LISTS,
    NONE,
    PLAIN_NUMBERS,
    PRESENT,
    ZERO,
    Ages,
    UnfitError,
    held,
    since,
    stamp_ages,
    window_span,
)
from .rulenodes import Predicate
from .scope import MISSING, Scope

if TYPE_CHECKING:  # metrics.py imports this module: the plan needs Metric only as a type
    from .metrics import Metric

__all__ = ["MetricPlan"]

_UNTYPED: Final[set[type]] = {object}  # a column whose types no metric reads

# (items, columns, their types, ages by column, windows, scope) -> the metric's value
_Aggregate = Callable[
    [Sequence[Any], list[list[Any]], list[set[type]], dict[int, Ages], list[list[bool]], Scope],
    Any,
]


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
        self._run = plan_run(self._groups)
        # The last `now`, in UTC, and each group's window lengths then (None: none to be had).
        self._clock: tuple[datetime, datetime | None, tuple[list[timedelta] | None, ...]] | None
        self._clock = None

    def prefill(self, scope: Scope, cache: dict[Any, Any]) -> None:
        """Compute what it can for the recipient in ``scope``, into ``cache``. Never raises."""
        now, clock = scope.now, self._clock
        if clock is None or clock[0] is not now:  # a batch renders everyone at the same `now`
            # In UTC, date-times subtract faster; a zone without offsets must not be read so.
            utc = None if now.utcoffset() is None else now.astimezone(UTC)
            clock = self._clock = now, utc, tuple(_spans(group, now) for group in self._groups)
        # Each group as generated code, which falls back to the group's `prefill` (below) on
        # data it does not take, and that to the checked path, metric by metric.
        self._run(scope, cache, clock[1] or now, clock[2])


class _Group:
    """The metrics over one list: the columns, ages and windows they share, and how each
    metric aggregates them."""

    def __init__(self, head: str) -> None:
        self.head = head
        self.fields: list[str | None] = []  # one column per field; None: the items themselves
        self.stamped: list[int] = []  # the columns whose ages some metric needs
        self.typed: list[int] = []  # the columns whose value types some metric reads
        self.windows: list[tuple[int, timedelta]] = []  # (stamp column, length)
        self.metrics: list[tuple[MetricSpec, _Aggregate]] = []

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
        whole, scalar = field is None, kind == "days_since" and field is None
        spec = MetricSpec(metric._key, kind, column, window, where, whole=whole, scalar=scalar)
        self.metrics.append((spec, _aggregator(kind, column, window, where, whole=whole)))

    @property
    def specs(self) -> list[MetricSpec]:
        """How each metric aggregates the columns, for the generated code."""
        return [spec for spec, _ in self.metrics]

    def prefill(
        self,
        scope: Scope,
        cache: dict[Any, Any],
        utc: datetime,
        spans: Sequence[timedelta] | None,
    ) -> None:
        """The group's metrics for the recipient in ``scope``, each as far as it can, into
        ``cache``; ``spans`` are the windows' lengths at ``scope.now`` (see ``_spans``)."""
        items, now = scope.lookup(self.head), scope.now
        # No items: what the checked path gives, unless a window could overflow first.
        if (
            items is MISSING
            or items is None
            or (type(items) in LISTS and not items and not self.windows)
        ):
            for spec, _ in self.metrics:
                cache[spec.key] = spec.empty
            return
        if type(items) is datetime:
            for spec, _ in self.metrics:
                if spec.scalar:  # a naive one cannot be subtracted: the checked path reads it
                    cache[spec.key] = (since(now, utc, items)) // DAY
            return
        if type(items) not in LISTS:
            return
        columns = [items if f is None else [item.get(f) for item in items] for f in self.fields]
        kinds = [_UNTYPED] * len(columns)
        for i in self.typed:
            kinds[i] = set(map(type, columns[i]))
        ages = {}
        for i in self.stamped:
            ages[i] = stamp_ages(columns[i], kinds[i], now, utc)
        keeps = []
        if self.windows:
            if spans is None:  # a window's start is past the calendar, or now has no offset
                raise UnfitError
            for (i, _), span in zip(self.windows, spans, strict=True):
                if NONE in kinds[i]:
                    keeps.append([age is not None and ZERO <= age <= span for age in ages[i][0]])
                else:
                    keeps.append([ZERO <= age <= span for age in ages[i][0]])
        for spec, aggregate in self.metrics:
            try:
                cache[spec.key] = aggregate(items, columns, kinds, ages, keeps, scope)
            except Exception:  # left to the checked path
                continue


def _spans(group: _Group, now: datetime) -> list[timedelta] | None:
    try:
        return [window_span(now, within) for _, within in group.windows]
    except Exception:  # the group then leaves its metrics to the checked path, which decides
        return None


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
        ages: dict[int, Ages],
        keeps: list[list[bool]],
        scope: Scope,
    ) -> Any:
        keep, values = None if window is None else keeps[window], columns[column]
        if where is not None:
            keep = held(where, items, keep, scope)
        elif whole and keep is not None:
            return keep.count(True)  # the window read every item: none is None
        return sum(map(PRESENT, values if keep is None else compress(values, keep)))

    def aggregate(
        items: Sequence[Any],
        columns: list[list[Any]],
        kinds: list[set[type]],
        ages: dict[int, Ages],
        keeps: list[list[bool]],
        scope: Scope,
    ) -> Any:
        keep, values, types = (
            None if window is None else keeps[window],
            columns[column],
            kinds[column],
        )
        if where is not None:
            keep = held(where, items, keep, scope)
        if kind != "days_since" and types <= PLAIN_NUMBERS:
            if keep is not None:
                values = list(compress(values, keep))
            if NONE in types:
                values = [value for value in values if value is not None]
            if kind in ("sum", "avg"):
                total = sum(values, 0)  # Decimal with float raises: the checked path adds floats
                return total if kind == "sum" else total / len(values) if values else None
            return (min(values) if kind == "min" else max(values)) if values else None
        if kind in ("sum", "avg"):
            raise UnfitError
        found = ages.get(column)
        spans, ordered = stamp_ages(values, types, scope.now, scope.now) if found is None else found
        if not ordered:
            raise UnfitError
        seen: Sequence[int] = range(len(spans))
        if keep is not None:
            seen = [
                i for i, (a, k) in enumerate(zip(spans, keep, strict=True)) if k and a is not None
            ]
        elif NONE in types:
            seen = [i for i, age in enumerate(spans) if age is not None]
        if not seen:
            return None
        # min() and max() return the first of equal items, as they do over the stamps.
        if kind == "min":
            return values[max(seen, key=spans.__getitem__)]
        latest = min(seen, key=spans.__getitem__)
        return values[latest] if kind == "max" else spans[latest] // DAY

    return tally if kind == "count" else aggregate
