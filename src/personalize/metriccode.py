"""A metric plan's groups as one generated Python function, for plain data on the hot path."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from itertools import compress
from typing import Any, NamedTuple, Protocol

from . import metricdata
from .rulenodes import Bindings, Predicate
from .scope import MISSING, MappingScope, Scope

__all__ = ["GroupShape", "MetricSpec", "PlanRun", "plan_run"]

PlanRun = Callable[[Scope, dict[Any, Any], datetime, Sequence[Sequence[timedelta] | None]], None]
"""``(scope, cache, utc, spans) -> None``: see ``plan_run``."""


class MetricSpec(NamedTuple):
    """How one metric of a group aggregates the group's columns."""

    key: object  # the metric's cache key
    kind: str
    column: int
    window: int | None  # the group's window it counts in
    where: Predicate | None
    whole: bool  # it reads the items themselves, not a field of them
    scalar: bool  # days_since of the head itself, when that is a date-time

    @property
    def empty(self) -> int | None:
        """The value over no items (or none at all): what the checked path gives."""
        return 0 if self.kind in ("count", "sum") else None


class GroupShape(Protocol):
    """The metrics over one list, as the plan groups them (``metricplan._Group``)."""

    head: str
    fields: list[str | None]  # one column per field; None: the items themselves
    stamped: list[int]  # the columns whose ages some metric needs
    typed: list[int]  # the columns whose value types some metric reads
    windows: list[tuple[int, timedelta]]  # (stamp column, length)

    @property
    def specs(self) -> Sequence[MetricSpec]: ...

    def prefill(
        self,
        scope: Scope,
        cache: dict[Any, Any],
        utc: datetime,
        spans: Sequence[timedelta] | None,
    ) -> None: ...


def plan_run(groups: Sequence[GroupShape]) -> PlanRun:
    """Every group's metrics as one function, each group written out for its own metrics.

    The function does what each group's ``prefill`` does, without its loops and calls, for
    data that fits throughout: a group's values are stored only once all are computed. On
    anything else (a value of another type, a zone, an error) the group's own ``prefill``
    runs instead, so the cache ends up the same either way. ``spans`` holds each group's
    window lengths at ``scope.now`` (None where they cannot be had). Keys, fields and
    predicates are bound by name, never written into the source.
    """
    code = Bindings(
        **{name: getattr(metricdata, name) for name in metricdata.__all__},
        MISSING=MISSING,
        MappingScope=MappingScope,
        compress=compress,
        dt=datetime,
    )
    lines = [
        "def run(scope, cache, utc, spans):",
        "    now = scope.now",
        "    if type(scope) is MappingScope and not scope.names:",
        "        get = scope.data.get",
        "    else:",
        "        get = None",
    ]
    for index, group in enumerate(groups):
        lines += _group(code, index, group)
    namespace = dict(code.bound)
    exec(compile("\n".join(lines) + "\n", "<metric plan>", "exec"), namespace)  # our own source
    run: PlanRun = namespace["run"]
    return run


def _group(code: Bindings, index: int, group: GroupShape) -> list[str]:
    head = code.bind(group.head)
    keys = [code.bind(spec.key) for spec in group.specs]
    empty = " or (type(items) in LISTS and not items)" if not group.windows else ""
    lines = [
        "    try:",
        f"        items = scope.lookup({head}) if get is None else get({head}, MISSING)",
        f"        if items is MISSING or items is None{empty}:",
        *(
            f"            cache[{key}] = {spec.empty}"
            for key, spec in zip(keys, group.specs, strict=True)
        ),
        "        elif type(items) is list or type(items) is tuple:",
        *("            " + line for line in _columns(code, index, group)),
        *(
            "            " + line
            for number, spec in enumerate(group.specs)
            for line in _metric(code, number, spec, group)
        ),
        *(f"            cache[{key}] = m{number}" for number, key in enumerate(keys)),
    ]
    scalars = [key for key, spec in zip(keys, group.specs, strict=True) if spec.scalar]
    if scalars:
        lines += [
            "        elif type(items) is dt:",
            "            days = since(now, utc, items) // DAY",
            *(f"            cache[{key}] = days" for key in scalars),
        ]
    lines += [
        "    except Exception:  # the group's own path computes what it can, or nothing",
        "        try:",
        f"            {code.bind(group.prefill)}(scope, cache, utc, spans[{index}])",
        "        except Exception:",
        "            pass",
    ]
    return lines


def _columns(code: Bindings, index: int, group: GroupShape) -> list[str]:
    lines = []
    for column, field in enumerate(group.fields):
        if field is None:
            lines.append(f"c{column} = items")
        else:
            lines.append(f"c{column} = [item.get({code.bind(field)}) for item in items]")
    lines += [f"t{column} = set(map(type, c{column}))" for column in group.typed]
    lines += [f"a{c}, o{c} = stamp_ages(c{c}, t{c}, now, utc)" for c in group.stamped]
    if group.windows:
        lines += [f"s = spans[{index}]", "if s is None:", "    raise UnfitError"]
    for window, (column, _) in enumerate(group.windows):
        lines.append(
            f"w{window} = [age is not None and ZERO <= age <= s[{window}] for age in a{column}]"
            f" if NONE in t{column} else [ZERO <= age <= s[{window}] for age in a{column}]"
        )
    return lines


def _metric(code: Bindings, number: int, spec: MetricSpec, group: GroupShape) -> list[str]:
    """``m{number}``: the metric's value, as ``metricplan._aggregator`` computes it."""
    column, kind, out = spec.column, spec.kind, f"m{number}"
    keep = "None" if spec.window is None else f"w{spec.window}"
    lines = []
    if spec.where is not None:
        lines.append(f"k = held({code.bind(spec.where)}, items, {keep}, scope)")
        keep = "k"
    if kind == "count":
        if spec.where is None and spec.whole and spec.window is not None:
            return [*lines, f"{out} = {keep}.count(True)"]  # the window read every item
        values = f"c{column}" if keep == "None" else f"compress(c{column}, {keep})"
        return [*lines, f"{out} = sum(map(PRESENT, {values}))"]
    if kind == "days_since":
        return [*lines, *_latest(out, column, f"a{column}", f"o{column}", keep, kind)]
    values = f"c{column}" if keep == "None" else f"list(compress(c{column}, {keep}))"
    lines += [
        f"if t{column} <= PLAIN_NUMBERS:",
        f"    v = {values}",
        f"    if NONE in t{column}:",
        "        v = [value for value in v if value is not None]",
    ]
    if kind == "sum":
        lines.append(f"    {out} = sum(v, 0)")
    elif kind == "avg":
        lines.append(f"    {out} = sum(v, 0) / len(v) if v else None")
    else:
        lines.append(f"    {out} = {kind}(v) if v else None")
    lines.append("else:")
    if kind in ("sum", "avg"):
        return [*lines, "    raise UnfitError"]
    if column in group.stamped:
        found, ordered = f"a{column}", f"o{column}"
    else:
        lines.append(f"    b, p = stamp_ages(c{column}, t{column}, now, now)")
        found, ordered = "b", "p"
    return lines + ["    " + line for line in _latest(out, column, found, ordered, keep, kind)]


def _latest(out: str, column: int, found: str, ordered: str, keep: str, kind: str) -> list[str]:
    """The item with the youngest stamp (the oldest for min) among those kept and present."""
    if keep != "None":
        seen = (
            f"[i for i, (age, kept) in enumerate(zip({found}, {keep}, strict=True))"
            " if kept and age is not None]"
        )
    else:
        seen = (
            f"[i for i, age in enumerate({found}) if age is not None]"
            f" if NONE in t{column} else range(len({found}))"
        )
    # min() and max() return the first of equal items, as they do over the stamps.
    pick = {
        "min": f"c{column}[max(seen, key={found}.__getitem__)]",
        "max": f"c{column}[min(seen, key={found}.__getitem__)]",
        "days_since": f"{found}[min(seen, key={found}.__getitem__)] // DAY",
    }[kind]
    return [
        f"if not {ordered}:",
        "    raise UnfitError",
        f"seen = {seen}",
        f"{out} = {pick} if seen else None",
    ]
