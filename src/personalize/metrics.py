"""Metrics: counts, sums, averages, extremes and recency over a recipient's list fields."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from functools import partial
from itertools import compress
from operator import and_, attrgetter, is_not
from typing import Any, Final

from .errors import RuleError
from .metricplan import MetricPlan
from .rulenodes import Condition, Rule
from .scope import MISSING, MappingScope, Scope, walk
from .values import DATE, DATETIME, NUMBER, TYPE_HINT, described, instant, kind_of

__all__ = ["KINDS", "Metric", "MetricPlan"]

KINDS: Final = ("count", "sum", "avg", "min", "max", "days_since")
_DAY: Final = timedelta(days=1)
_UNSET: Final = object()


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
            column = [None if item is None else item.get(field_name) for item in items]
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
    # A null item is skipped like an absent value: its column values are None.
    for index, item in enumerate(items):
        if item is not None and not isinstance(item, Mapping):
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
        try:
            start = now - within
        except OverflowError:
            raise _early(now, within) from None
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
            if item is None:  # skipped by every metric: its values are None
                mask.append(False)
                continue
            # One scope re-pointed at each item: no allocation per item.
            item_scope.data = item
            try:
                mask.append(rule.evaluate(item_scope))
            except RuleError as err:
                raise _at_item(err, name, index) from None
    cache[key] = mask
    return mask


def _early(now: datetime, within: timedelta) -> RuleError:
    # The render time is to blame here, not the data: say so, not "check the field's type".
    span = f"{within.days}d" if within == timedelta(days=within.days) else str(within)
    return RuleError(
        f"the render time {now.isoformat()} is too early for a window of {span}: "
        "the window would start before year 1",
        hint="render at a later time, or shorten the window",
    )


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
