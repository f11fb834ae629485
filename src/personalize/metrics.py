"""Metrics: counts, sums, averages, extremes and recency over a recipient's list fields."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from functools import partial
from itertools import compress
from operator import and_, attrgetter, is_not
from typing import Any, Final

from .errors import ConfigError, RuleError, did_you_mean, short_repr
from .rules import (
    DATE,
    DATETIME,
    MISSING,
    NUMBER,
    TYPE_HINT,
    Condition,
    MappingScope,
    Rule,
    Scope,
    described,
    instant,
    kind_of,
    parse_duration,
    parse_rule,
    walk,
)
from .yamlfile import Document

__all__ = ["KINDS", "Metric", "declared", "parse_metric"]

KINDS: Final = ("count", "sum", "avg", "min", "max", "days_since")
_KEYS: Final = (*KINDS, "within", "at", "where")
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

    def __post_init__(self) -> None:
        object.__setattr__(self, "_parts", tuple(self.source.split(".")))
        object.__setattr__(self, "_at", tuple(self.at.split(".")))

    def compute(self, scope: Scope, *, cache: dict[Any, Any] | None = None) -> Any:
        """The metric's value for the recipient in ``scope``.

        Args:
            scope: The recipient's values, ``now`` and time zone.
            cache: Shared by the metrics of one recipient (and only one), so that each list
                column, time window and ``where`` filter is computed once.

        Raises:
            RuleError: naming the metric, its file and line, and the offending field path,
                when the data does not fit (a non-list source, a non-mapping item, text in a
                sum…).
        """
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


# -- loading -------------------------------------------------------------------------------


def declared(ref: str, fields: Set[str]) -> bool:
    """Whether ``ref`` is a declared field path, or lies below a declared leaf (a ``map``)."""
    if ref in fields:
        return True
    parts = ref.split(".")
    for size in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:size])
        if prefix in fields:
            return not any(name.startswith(f"{prefix}.") for name in fields)
    return False


def parse_metric(
    name: str, spec: Any, *, doc: Document, path: tuple[str | int, ...], fields: Set[str]
) -> Metric:
    """Parse one metric definition, e.g. ``{count: orders, within: 30d}``.

    Args:
        name: The metric's name.
        spec: Its definition as loaded from YAML.
        doc: The document it comes from.
        path: The key path of ``spec`` in ``doc``.
        fields: The declared recipient field paths (``orders``, ``orders.total``…).

    Raises:
        ConfigError: unknown keys, zero or two kinds, unknown fields, a bad duration,
            ``within`` without a declared timestamp, or a bad ``where`` rule.
    """
    if not isinstance(spec, Mapping):
        raise doc.error(
            path,
            f"metric {name!r} must be a mapping, got {described(spec)}",
            hint="write e.g. {count: orders, within: 30d}",
        )
    for key in spec:
        if key not in _KEYS:
            raise doc.error(
                (*path, key),
                f"unknown key {short_repr(key)}",
                hint=did_you_mean(str(key), _KEYS) or f"use {', '.join(_KEYS)}",
            )
    kinds = [key for key in spec if key in KINDS]
    if len(kinds) != 1:
        where = path if not kinds else (*path, kinds[1])
        message = f"metric {name!r} needs one of {', '.join(KINDS)}"
        if kinds:
            message = f"metric {name!r} has two kinds, {kinds[0]!r} and {kinds[1]!r}"
        raise doc.error(where, message, hint="one kind per metric; split it into two metrics")
    kind = kinds[0]
    source = spec[kind]
    if not isinstance(source, str) or not all(source.split(".")):
        raise doc.error(
            (*path, kind),
            f"{kind!r} needs a field path such as 'orders' or 'orders.total', "
            f"got {short_repr(source)}",
            hint="name a list field, or a field of its items",
        )
    if not declared(source, fields):
        hint = did_you_mean(source, fields) or "declare the field under [recipient.fields]"
        raise doc.error((*path, kind), f"unknown field {source!r}", hint=hint)
    lists = [".".join(source.split(".")[:size]) for size in range(source.count(".") + 1, 0, -1)]
    within = _within(spec, doc, path)
    at = spec.get("at", "at")
    if not isinstance(at, str) or not all(at.split(".")):
        raise doc.error(
            (*path, "at"),
            f"'at' needs an item field name, got {short_repr(at)}",
            hint="name the item field that holds each item's date, e.g. at: placed_at",
        )
    # Item fields must be declared exactly: a timestamp or filter key cannot hide in a `map`.
    if within is not None and not any(f"{lst}.{at}" in fields for lst in lists):
        items = lists[1] if kind != "count" and len(lists) > 1 else lists[0]
        raise doc.error(
            (*path, "within"),
            f"'within' needs a timestamp, but the items of {items!r} have no field {at!r}",
            hint="set 'at:' to the item field that holds each item's date",
        )
    rule = None
    if "where" in spec:
        rule = parse_rule(spec["where"], doc=doc, path=(*path, "where"))
        _check_item_refs(rule, lists, fields)
    return Metric(name, kind, source, within, at, rule, doc.line(path), doc.file)


def _within(
    spec: Mapping[str, Any], doc: Document, path: tuple[str | int, ...]
) -> timedelta | None:
    if "within" not in spec:
        return None
    try:
        return parse_duration(spec["within"])
    except RuleError as err:
        raise doc.error((*path, "within"), err.message, hint=err.hint) from None


def _check_item_refs(where: Rule, lists: list[str], fields: Set[str]) -> None:
    for leaf in where.conditions():
        if any(f"{lst}.{leaf.ref}" in fields for lst in lists):
            continue
        prefixes = tuple(f"{lst}." for lst in lists)
        keys = [name[len(p) :] for p in prefixes for name in fields if name.startswith(p)]
        raise ConfigError(
            f"unknown item field {leaf.ref!r}",
            file=leaf.file,
            line=leaf.line,
            path=leaf.path,
            hint=did_you_mean(leaf.ref, keys) or "a 'where' rule reads the fields of each item",
        )
