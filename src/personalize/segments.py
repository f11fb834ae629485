"""Segments: classifying a recipient with metrics and a trace; ``load_segments`` builds them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from .errors import ConfigError, RuleError
from .metricplan import MetricPlan
from .metrics import Metric
from .rulenodes import Predicate, TraceEntry
from .scope import MappingScope
from .segmentfile import Segment, declared, parse_metric, read_segments

__all__ = ["Membership", "Segment", "Segments", "declared", "load_segments", "parse_metric"]

_NO_TRACE: Final[Mapping[str, tuple[TraceEntry, ...]]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Membership:
    """The segments a recipient is in, every metric's value, and (when asked) why.

    Attributes:
        segments: The names of the segments the recipient is in.
        metrics: Every metric's value, in file order.
        trace: Per segment, the conditions evaluated (empty when not traced).
    """

    segments: frozenset[str]
    metrics: Mapping[str, Any]
    trace: Mapping[str, tuple[TraceEntry, ...]]

    def __contains__(self, name: object) -> bool:
        return name in self.segments

    def __reduce__(self) -> tuple[Any, ...]:
        # Read-only mapping proxies do not pickle; worker processes get fresh proxies.
        return _membership_from, (self.segments, dict(self.metrics), dict(self.trace))


@dataclass(frozen=True, eq=False)
class Segments:
    """The metrics and segments of a project, ready to classify recipients.

    Attributes:
        file: The file they come from (for errors).
        metrics: The metrics by name, in file order.
        segments: The segments by name, in file order.
    """

    file: str
    metrics: Mapping[str, Metric]
    segments: Mapping[str, Segment]
    _order: tuple[Segment, ...] = field(init=False, repr=False)
    _rules: tuple[tuple[Segment, Predicate], ...] = field(init=False, repr=False)
    _metric_plan: MetricPlan = field(init=False, repr=False)

    def __post_init__(self) -> None:
        order = tuple(self.segments[name] for name in _evaluation_order(self.segments, self.file))
        names = frozenset(self.metrics) | frozenset(self.segments)
        object.__setattr__(self, "_order", order)
        object.__setattr__(self, "_rules", tuple((s, s.rule.compiled(names)) for s in order))
        object.__setattr__(self, "_metric_plan", MetricPlan(self.metrics.values(), names))

    def __reduce__(self) -> tuple[Any, ...]:
        return _segments_from, (self.file, dict(self.metrics), dict(self.segments))

    @property
    def names(self) -> tuple[str, ...]:
        """The segment names, in file order."""
        return tuple(self.segments)

    def classify(
        self,
        data: Mapping[str, Any],
        *,
        now: datetime,
        tz: tzinfo,
        recipient: str | None = None,
        trace: bool = False,
    ) -> Membership:
        """Compute every metric once and evaluate every segment for one recipient.

        A segment used by another is evaluated once, before its users. Without a trace, the
        metrics of each list are computed in one pass and each rule runs compiled, and both
        fall back to the checked path on data they do not foresee; with a trace, everything
        runs by the checked path (the reference, which gives the same membership).

        Args:
            data: The recipient's fields (e.g. ``Recipient.data``).
            now: The evaluation moment (a naive one is read in ``tz``).
            tz: The zone for naive date-times and the midnight of dates.
            recipient: The recipient's id, for errors.
            trace: Record every evaluated condition per segment.

        Raises:
            RuleError: with the recipient id, file, line and field path, when the data does
                not fit a metric or a rule.
        """
        try:
            values: dict[str, Any] = {}
            scope = MappingScope(data, now=now, tz=tz, names=values)
            if trace:
                return self._traced(scope, values)
            cache: dict[Any, Any] = {}
            self._metric_plan.prefill(scope, cache)
            for metric in self.metrics.values():
                values[metric.name] = metric.compute(scope, cache=cache)
            metrics = MappingProxyType(values.copy())
            members: list[str] = []
            for segment, run in self._rules:
                try:
                    held = run(scope.data, values, scope)
                except Exception:  # the checked path decides, and locates any error
                    held = segment.rule.evaluate(scope)
                values[segment.name] = held
                if held:
                    members.append(segment.name)
        except RuleError as err:
            raise err.with_context(file=self.file, recipient=recipient) from None
        return Membership(frozenset(members), metrics, _NO_TRACE)

    def _traced(self, scope: MappingScope, values: dict[str, Any]) -> Membership:
        cache: dict[Any, Any] = {}
        for metric in self.metrics.values():
            values[metric.name] = metric.compute(scope, cache=cache)
        metrics = MappingProxyType(values.copy())
        traces: dict[str, tuple[TraceEntry, ...]] = {}
        for segment in self._order:
            entries: list[TraceEntry] = []
            values[segment.name] = segment.rule.evaluate(scope, entries)
            traces[segment.name] = tuple(entries)
        members = frozenset(name for name in self.segments if values[name])
        ordered = {name: traces[name] for name in self.segments}
        return Membership(members, metrics, MappingProxyType(ordered))


def _membership_from(
    segments: frozenset[str],
    metrics: dict[str, Any],
    trace: dict[str, tuple[TraceEntry, ...]],
) -> Membership:
    return Membership(segments, MappingProxyType(metrics), MappingProxyType(trace))


def _segments_from(file: str, metrics: dict[str, Metric], segments: dict[str, Segment]) -> Segments:
    return Segments(file, MappingProxyType(metrics), MappingProxyType(segments))


def _evaluation_order(segments: Mapping[str, Segment], file: str) -> list[str]:
    # Depth-first, so that a segment comes after the segments it reads; a loop is an error.
    order: list[str] = []
    done: set[str] = set()

    def visit(name: str, stack: list[str]) -> None:
        if name in done:
            return
        if name in stack:
            loop = [*stack[stack.index(name) :], name]
            link = next(c for c in segments[loop[0]].rule.conditions() if c.ref == loop[1])
            raise ConfigError(
                f"segment {loop[0]!r} depends on itself: {' → '.join(loop)}",
                file=file,
                line=link.line,
                path=link.path or f"segments.{loop[0]}.when",
                hint="remove one of the references to break the loop",
            )
        for leaf in segments[name].rule.conditions():
            if leaf.ref in segments:
                visit(leaf.ref, [*stack, name])
        done.add(name)
        order.append(name)

    for name in segments:
        visit(name, [])
    return order


def load_segments(path: Path, *, file: str, fields: frozenset[str]) -> Segments:
    """Load ``segments.yaml``; a missing file means no metrics and no segments.

    Args:
        path: The file to read.
        file: Its name in error messages (relative to the project).
        fields: The declared recipient field paths, dotted (``orders``, ``orders.total``).

    Raises:
        ConfigError: with file, line and key path: invalid YAML, unknown sections or keys,
            unknown names in rules (with a did-you-mean hint), names that clash, segment
            loops, malformed metrics or rules.
    """
    found = read_segments(path, file=file, fields=fields)
    if found is None:
        return Segments(file=file, metrics={}, segments={})
    metrics, segments = found
    return Segments(
        file=file,
        metrics=MappingProxyType(metrics),
        segments=MappingProxyType(segments),
    )
