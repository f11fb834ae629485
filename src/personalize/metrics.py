"""Metrics: counts, sums, averages, extremes and recency over a recipient's list fields."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from functools import partial
from itertools import compress, repeat
from operator import and_, attrgetter, is_not, sub
from types import MappingProxyType
from typing import Any, Final

from .errors import RuleError
from .operators import (
    DATE,
    DATETIME,
    NUMBER,
    TYPE_HINT,
    Scope,
    described,
    instant,
    kind_of,
)
from .rules import MISSING, Condition, MappingScope, Predicate, Rule, walk

__all__ = ["KINDS", "Metric", "MetricPlan"]

KINDS: Final = ("count", "sum", "avg", "min", "max", "days_since")
_DAY: Final = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Metric:
    """A number computed from one recipient's data, e.g. the count of orders in 30 days.

    Semantics: ``source`` is a list field (``orders``), a field of its items (``orders.total``)
    or, for ``days_since``, also a scalar date field. ``within`` keeps the items whose ``at``
    timestamp lies in ``[now - within, now]``; ``where`` keeps the items the rule holds for
    (its refs are item keys). Items whose value is absent or null are skipped. On no items:
    ``count`` and ``sum`` are 0; ``avg``, ``min``, ``max`` and ``days_since`` are None.
    ``days_since`` is the whole days from the latest timestamp to ``now``, rounded down.
    ``min``/``max`` take numbers, or dates and date-times (giving an aware date-time). Time
    values may be dates (midnight in the scope's zone), date-times (naive ones read in that
    zone) or ISO strings.

    Attributes:
        name: The metric's name in ``segments.yaml``.
        kind: One of ``KINDS``.
        source: The dotted field path it reads.
        within: The time window, or None for all items.
        at: The item key holding each item's timestamp (for ``within``).
        where: A rule over each item, or None.
        line: The line of the metric in its file.
        file: The file it comes from.
    """

    name: str
    kind: str
    source: str
    within: timedelta | None = None
    at: str = "at"
    where: Rule | None = None
    line: int | None = None
    file: str | None = None
    _parts: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _at: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _key: object = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_parts", tuple(self.source.split(".")))
        object.__setattr__(self, "_at", tuple(self.at.split(".")))
        object.__setattr__(self, "_key", object())  # this metric's value in a shared cache

    def compute(self, scope: Scope, *, cache: dict[Any, Any] | None = None) -> Any:
        """The metric's value for the recipient in ``scope``.

        Args:
            scope: The recipient's values, ``now`` and time zone.
            cache: Shared by the metrics of one recipient (and only one), so that each list
                column, time window and ``where`` filter is computed once. It may already hold
                the metric's value, left by ``MetricPlan.prefill`` for this recipient.

        Raises:
            RuleError: naming the metric, its file and line, and the offending field path,
                when the data does not fit (a non-list source, a non-mapping item, text in a
                sum…).
        """
        if cache is not None:
            value = cache.get(self._key, _UNSET)
            if value is not _UNSET:
                return value
        try:
            return self._compute(scope, {} if cache is None else cache)
        except RuleError as err:
            raise RuleError(
                f"metric {self.name!r}: {err.message}",
                file=err.file or self.file,
                line=err.line or self.line,
                path=err.path or self.source,
                hint=err.hint,
            ) from None
        except (TypeError, ValueError, ArithmeticError) as exc:
            # A last guard (mixed numbers and dates in min/max, overflow) to keep it total.
            raise RuleError(
                f"metric {self.name!r} cannot be computed: {exc}",
                file=self.file,
                line=self.line,
                path=self.source,
                hint=TYPE_HINT,
            ) from None

    def _compute(self, scope: Scope, cache: dict[Any, Any]) -> Any:
        parts, kind = self._parts, self.kind
        items = scope.lookup(parts[0])
        depth = 1
        while depth < len(parts) and type(items) not in _LISTS and isinstance(items, Mapping):
            items = items.get(parts[depth], MISSING)
            depth += 1
        if items is MISSING or items is None:
            return 0 if kind in ("count", "sum") else None
        name = parts[0] if depth == 1 else ".".join(parts[:depth])
        if type(items) not in _LISTS and not isinstance(items, (list, tuple)):
            if depth == len(parts) and kind == "days_since":
                return (_now(scope) - instant(items, scope.tz)) // _DAY
            raise RuleError(f"expected a list, got {described(items)}", path=name)
        # Columns are cached by the list's id; holding the list keeps that id unique.
        cache[id(items)] = items
        mask = None
        if self.within is not None:
            mask = _window(items, name, self._at, self.within, scope, cache)
        if self.where is not None:
            keep = _where(items, name, self.where, scope, cache)
            mask = keep if mask is None else list(map(and_, mask, keep))
        column = _column(items, name, parts[depth:], _CHECKS[kind], scope.tz, cache)
        # Iterators over the cached column: the per-metric work stays in C.
        selected = column if mask is None else compress(column, mask)
        if kind == "count":
            return sum(map(_PRESENT, selected))
        values = list(filter(_PRESENT, selected))
        if kind in ("sum", "avg"):
            total = _total(values)
            return total if kind == "sum" else total / len(values) if values else None
        if not values:
            return None
        if kind == "min":
            return min(values)
        if kind == "max":
            return max(values)
        return (_now(scope) - max(values)) // _DAY


# -- per-recipient columns -------------------------------------------------------------------

_Check = Callable[[list[Any], str, tuple[str, ...], tzinfo], list[Any]]


def _column(
    items: Sequence[Any],
    name: str,
    rest: tuple[str, ...],
    check: _Check | None,
    tz: tzinfo,
    cache: dict[Any, Any],
) -> list[Any]:
    """The values at ``rest`` in every item (None where absent), checked once per recipient."""
    key = (id(items), rest, check)
    column: list[Any] | None = cache.get(key)
    if column is not None:
        return column
    if check is not None:
        column = check(_column(items, name, rest, None, tz, cache), name, rest, tz)
    elif not rest:
        column = list(items)
    elif len(rest) == 1:
        field_name = rest[0]
        try:
            column = [item.get(field_name) for item in items]
        except (AttributeError, TypeError):
            # Checking each item only on failure keeps the common case one comprehension.
            _require_mappings(items, name)
            raise
    else:
        _require_mappings(items, name)
        ref = ".".join(rest)
        column = []
        for index, item in enumerate(items):
            try:
                found = walk(item, rest, ref)
            except RuleError as err:
                raise _at_item(err, name, index) from None
            column.append(None if found is MISSING else found)
    cache[key] = column
    return column


def _require_mappings(items: Sequence[Any], name: str) -> None:
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise RuleError(
                f"expected each item of {name!r} to be a mapping, got {described(item)}",
                path=f"{name}[{index}]",
            )


def _window(
    items: Sequence[Any],
    name: str,
    at: tuple[str, ...],
    within: timedelta,
    scope: Scope,
    cache: dict[Any, Any],
) -> list[bool]:
    key = (id(items), at, within)
    mask: list[bool] | None = cache.get(key)
    if mask is None:
        stamps = _column(items, name, at, _moments, scope.tz, cache)
        now = _now(scope)
        start = now - within
        mask = [stamp is not None and start <= stamp <= now for stamp in stamps]
        cache[key] = mask
    return mask


def _where(
    items: Sequence[Any], name: str, rule: Rule, scope: Scope, cache: dict[Any, Any]
) -> list[bool]:
    key = (id(items), id(rule))
    mask: list[bool] | None = cache.get(key)
    if mask is not None:
        return mask
    item_scope = MappingScope({}, now=scope.now, tz=scope.tz)
    if isinstance(rule, Condition):
        # The common one-condition filter runs over a cached column, not item by item.
        parts = tuple(rule.ref.split("."))
        values = _column(items, name, parts, None, scope.tz, cache)
        try:
            mask = rule.check_all(values, item_scope)
        except RuleError as err:
            index = next(i for i, v in enumerate(values) if not _passes(rule, v, item_scope))
            raise _at_item(err, name, index) from None
    else:
        _require_mappings(items, name)
        mask = []
        for index, item in enumerate(items):
            # One scope re-pointed at each item: no allocation per item.
            item_scope.data = item
            try:
                mask.append(rule.evaluate(item_scope))
            except RuleError as err:
                raise _at_item(err, name, index) from None
    cache[key] = mask
    return mask


def _passes(rule: Condition, value: Any, scope: Scope) -> bool:
    try:
        rule.check(value, scope)
    except RuleError:
        return False
    return True


def _item_path(name: str, index: int, rest: tuple[str, ...]) -> str:
    return f"{name}[{index}]" + "".join(f".{part}" for part in rest)


def _at_item(err: RuleError, name: str, index: int) -> RuleError:
    path = f"{name}[{index}]" + (f".{err.path}" if err.path else "")
    return RuleError(err.message, file=err.file, line=err.line, path=path, hint=err.hint)


def _numbers(column: list[Any], name: str, rest: tuple[str, ...], tz: tzinfo) -> list[Any]:
    if set(map(type, column)) <= _NUMBER_TYPES:
        return column
    for index, value in enumerate(column):
        if value is not None and kind_of(value) != NUMBER:
            raise RuleError(
                f"expected numbers, got {described(value)}",
                path=_item_path(name, index, rest),
                hint=TYPE_HINT,
            )
    return column


def _orderable(column: list[Any], name: str, rest: tuple[str, ...], tz: tzinfo) -> list[Any]:
    if set(map(type, column)) <= _NUMBER_TYPES:
        return column
    out = []
    for index, value in enumerate(column):
        kind = kind_of(value)
        if value is None or kind == NUMBER:
            out.append(value)
        elif kind in (DATE, DATETIME):
            out.append(instant(value, tz))
        else:
            raise RuleError(
                f"expected numbers or dates, got {described(value)}",
                path=_item_path(name, index, rest),
                hint=TYPE_HINT,
            )
    return out


def _moments(column: list[Any], name: str, rest: tuple[str, ...], tz: tzinfo) -> list[Any]:
    # C-level checks first: aware datetimes (the validated schema's kind) need no conversion.
    if set(map(type, column)) <= _MOMENT_TYPES and all(map(_TZINFO, filter(None, column))):
        return column
    out = []
    for index, value in enumerate(column):
        try:
            out.append(None if value is None else instant(value, tz))
        except RuleError as err:
            raise RuleError(
                err.message, path=_item_path(name, index, rest), hint=err.hint
            ) from None
    return out


_LISTS: Final = (list, tuple)
_PRESENT: Final = partial(is_not, None)
_NUMBER_TYPES: Final = frozenset({int, float, type(None)})
_MOMENT_TYPES: Final = frozenset({datetime, type(None)})
_TZINFO: Final = attrgetter("tzinfo")
_CHECKS: Final[Mapping[str, _Check | None]] = {
    "count": None,
    "sum": _numbers,
    "avg": _numbers,
    "min": _orderable,
    "max": _orderable,
    "days_since": _moments,
}


def _now(scope: Scope) -> datetime:
    now = scope.now
    return now if now.tzinfo is not None else now.replace(tzinfo=scope.tz)


def _total(values: list[Any]) -> Any:
    try:
        return sum(values, 0)
    except TypeError:
        # Decimal and float do not add up directly; mixed sources fall back to floats.
        return sum(float(value) for value in values)


# -- computing a file's metrics together ------------------------------------------------------

_UNSET: Final = object()
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
