"""Segments: classifying a recipient (metrics, RFM, scores, segments, groups) with a trace."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from .calibration import Calibrator
from .config import FieldSpec
from .errors import ConfigError, RuleError
from .metricplan import MetricPlan
from .metrics import Metric
from .rfm import NAMES as RFM_NAMES
from .rfm import Rfm
from .rulenodes import TraceEntry
from .scope import MappingScope
from .scorecode import DeriveRun, derive_run
from .scores import Score
from .segmentcode import SegmentRun, segment_run
from .segmentfile import Segment, declared, parse_metric, read_segments
from .segmentgroups import Group, GroupResolution, check_groups

__all__ = [
    "GroupResolution",
    "Membership",
    "Segment",
    "Segments",
    "declared",
    "load_segments",
    "parse_metric",
]

_NO_TRACE: Final[Mapping[str, tuple[TraceEntry, ...]]] = MappingProxyType({})
_NO_GROUPS: Final[Mapping[str, GroupResolution]] = MappingProxyType({})
_UNSET: Final = object()


@dataclass(frozen=True, slots=True)
class Membership:
    """The segments a recipient is in, every computed value, and (when asked) why.

    Attributes:
        segments: The names of the segments the recipient is in (after exclusive groups
            dropped all but the first member that matched).
        metrics: Every metric's value in file order, then ``r_score``, ``f_score``,
            ``m_score`` and ``rfm`` (with an ``rfm:`` section), then every score's value.
        trace: Per segment, the conditions evaluated (empty when not traced).
        groups: Per exclusive group in which some member matched, how it was resolved.
    """

    segments: frozenset[str]
    metrics: Mapping[str, Any]
    trace: Mapping[str, tuple[TraceEntry, ...]]
    groups: Mapping[str, GroupResolution] = field(default_factory=lambda: _NO_GROUPS)

    def __contains__(self, name: object) -> bool:
        return name in self.segments

    def __reduce__(self) -> tuple[Any, ...]:
        # Read-only mapping proxies do not pickle; worker processes get fresh proxies.
        state = (self.segments, dict(self.metrics), dict(self.trace), dict(self.groups))
        return _membership_from, state


@dataclass(frozen=True, eq=False)
class Segments:
    """The metrics and segments of a project, ready to classify recipients.

    Attributes:
        file: The file they come from (for errors).
        metrics: The metrics by name, in file order.
        segments: The segments by name, in file order.
        scores: The scores by name, in file order (each may read the ones before it).
        rfm: The RFM section, or None.
        groups: The groups of segments by name, in file order.
    """

    file: str
    metrics: Mapping[str, Metric]
    segments: Mapping[str, Segment]
    scores: Mapping[str, Score] = field(default_factory=lambda: MappingProxyType({}))
    rfm: Rfm | None = None
    groups: Mapping[str, Group] = field(default_factory=lambda: MappingProxyType({}))
    _order: tuple[Segment, ...] = field(init=False, repr=False)
    _rules: tuple[tuple[Segment, Group | None], ...] = field(init=False, repr=False)
    _run: SegmentRun = field(init=False, repr=False)
    _metric_plan: MetricPlan = field(init=False, repr=False)
    _metric_keys: tuple[tuple[str, object, Metric], ...] = field(init=False, repr=False)
    _derive_run: DeriveRun = field(init=False, repr=False)

    def __post_init__(self) -> None:
        check_groups(self.groups, self.segments)
        exclusive = [group for group in self.groups.values() if group.exclusive]
        names = _evaluation_order(self.segments, self.file, exclusive)
        order = tuple(self.segments[name] for name in names)
        # A group resolves right after its last member, before any segment that reads one.
        last = {max(names.index(m) for m in group.order): group for group in exclusive}
        computed = frozenset(self.computed)
        known = computed | frozenset(self.segments)
        rules = tuple((s, last.get(i)) for i, s in enumerate(order))
        object.__setattr__(self, "_order", order)
        object.__setattr__(self, "_rules", rules)
        merged = functools.partial(_merged, groups=self.groups)  # not self: no cycle
        object.__setattr__(self, "_run", segment_run(rules, known, merged))
        object.__setattr__(self, "_metric_plan", MetricPlan(self.metrics.values(), known))
        # (name, the metric's key in the plan's cache, metric): see classify.
        keys = tuple((m.name, m._key, m) for m in self.metrics.values())
        object.__setattr__(self, "_metric_keys", keys)
        run = derive_run(self.rfm, tuple(self.scores.values()), computed)
        object.__setattr__(self, "_derive_run", run)

    def __reduce__(self) -> tuple[Any, ...]:
        state = (
            self.file,
            dict(self.metrics),
            dict(self.segments),
            dict(self.scores),
            self.rfm,
            dict(self.groups),
        )
        return _segments_from, state

    @property
    def names(self) -> tuple[str, ...]:
        """The segment names, in file order."""
        return tuple(self.segments)

    @property
    def computed(self) -> tuple[str, ...]:
        """The names of ``Membership.metrics``: metrics, RFM values, scores (in that order)."""
        rfm = RFM_NAMES if self.rfm is not None else ()
        return (*self.metrics, *rfm, *self.scores)

    def calibrator(self, *, now: datetime, tz: tzinfo) -> Calibrator:
        """A calibrator for RFM cut points over an audience, at ``now``.

        Raises:
            ConfigError: the segments file has no ``rfm:`` section.
        """
        if self.rfm is None:
            raise ConfigError(
                "there is no 'rfm:' section to calibrate",
                file=self.file,
                hint="add rfm: {recency: ..., frequency: ..., monetary: ..., "
                "cut_points: rfm.yaml} (see docs/scores-and-rfm.md)",
            )
        return Calibrator(self.rfm, self.metrics, now=now, tz=tz)

    def score_terms(
        self,
        data: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        now: datetime,
        tz: tzinfo,
        recipient: str | None = None,
    ) -> dict[str, tuple[str, ...]]:
        """How each score came about (``Score.terms``), from a recipient's computed values."""
        scope = MappingScope(data, now=now, tz=tz, names=dict(values))
        try:
            return {name: score.terms(scope) for name, score in self.scores.items()}
        except RuleError as err:
            raise err.with_context(file=self.file, recipient=recipient) from None

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
            # The plan leaves a value under the metric's key for nearly every metric: read it
            # here, and call the (checked) compute only for the rest (a call costs ~0.2 µs).
            for name, key, metric in self._metric_keys:
                value = cache.get(key, _UNSET)
                values[name] = metric.compute(scope, cache=cache) if value is _UNSET else value
            if self.scores or self.rfm is not None:
                self._derive_run(scope, values)  # what _derive does, as generated code
            metrics = MappingProxyType(values.copy())
            members, groups = self._run(data, values, scope)
        except RuleError as err:
            raise err.with_context(file=self.file, recipient=recipient) from None
        if groups is None:
            return Membership(frozenset(members), metrics, _NO_TRACE)
        return Membership(frozenset(members), metrics, _NO_TRACE, groups)

    def _derive(
        self,
        scope: MappingScope,
        values: dict[str, Any],
        traces: dict[str, tuple[TraceEntry, ...]],
    ) -> None:
        """RFM values, then scores, into ``values`` by the checked path (``traces`` gets each
        score's conditions); ``classify`` without a trace runs ``scorecode``'s version."""
        if self.rfm is not None:
            values.update(zip(RFM_NAMES, self.rfm.score(scope), strict=True))
        for score in self.scores.values():
            entries: list[TraceEntry] = []
            values[score.name] = score.compute(scope, trace=entries)
            traces[score.name] = tuple(entries)

    def _traced(self, scope: MappingScope, values: dict[str, Any]) -> Membership:
        cache: dict[Any, Any] = {}
        for metric in self.metrics.values():
            values[metric.name] = metric.compute(scope, cache=cache)
        score_traces: dict[str, tuple[TraceEntry, ...]] = {}
        self._derive(scope, values, score_traces)
        metrics = MappingProxyType(values.copy())
        traces: dict[str, tuple[TraceEntry, ...]] = {}
        resolved: dict[str, GroupResolution] = {}
        for segment, group in self._rules:
            entries: list[TraceEntry] = []
            values[segment.name] = segment.rule.evaluate(scope, entries)
            traces[segment.name] = tuple(entries)
            if group is not None:
                resolution = group.resolve(values)
                if resolution is not None:
                    resolved[group.name] = resolution
        members = frozenset(name for name in self.segments if values[name])
        ordered = {name: traces[name] for name in self.segments}
        # Scores' `when` conditions, under the score's name (names never clash).
        ordered.update((name, found) for name, found in score_traces.items() if found)
        groups = _in_file_order(resolved, self.groups) if resolved else _NO_GROUPS
        return Membership(members, metrics, MappingProxyType(ordered), groups)


def _merged(
    first: Mapping[str, GroupResolution],
    more: Mapping[str, GroupResolution],
    *,
    groups: Mapping[str, Group],
) -> Mapping[str, GroupResolution]:
    # One group's shared mapping as it is; several merge, in file order.
    return _in_file_order({**first, **more}, groups)


def _in_file_order(
    resolved: dict[str, GroupResolution], groups: Mapping[str, Group]
) -> Mapping[str, GroupResolution]:
    if len(resolved) > 1:  # groups resolve in evaluation order
        resolved = {name: resolved[name] for name in groups if name in resolved}
    return MappingProxyType(resolved)


def _membership_from(
    segments: frozenset[str],
    metrics: dict[str, Any],
    trace: dict[str, tuple[TraceEntry, ...]],
    groups: dict[str, GroupResolution],
) -> Membership:
    return Membership(
        segments, MappingProxyType(metrics), MappingProxyType(trace), MappingProxyType(groups)
    )


def _segments_from(
    file: str,
    metrics: dict[str, Metric],
    segments: dict[str, Segment],
    scores: dict[str, Score],
    rfm: Rfm | None,
    groups: dict[str, Group],
) -> Segments:
    return Segments(
        file,
        MappingProxyType(metrics),
        MappingProxyType(segments),
        MappingProxyType(scores),
        rfm,
        MappingProxyType(groups),
    )


def _evaluation_order(
    segments: Mapping[str, Segment], file: str, groups: Sequence[Group] = ()
) -> list[str]:
    # Depth-first, so that a segment comes after the segments it reads; a loop is an error.
    # Reading a member of an exclusive group means reading all of them: the group must have
    # resolved first.
    order: list[str] = []
    done: set[str] = set()
    mates = {member: group.order for group in groups for member in group.order}

    def reads(leaf_ref: str) -> tuple[str, ...]:
        return mates.get(leaf_ref, (leaf_ref,)) if leaf_ref in segments else ()

    def visit(name: str, stack: list[str]) -> None:
        if name in done:
            return
        if name in stack:
            loop = [*stack[stack.index(name) :], name]
            links = [
                next(c for c in segments[a].rule.conditions() if b in reads(c.ref))
                for a, b in pairwise(loop)
            ]
            # A hop through an exclusive group: say which member made it.
            notes = [
                f"{a} reads {link.ref!r}, which shares an exclusive group with {b!r}"
                for (a, b), link in zip(pairwise(loop), links, strict=True)
                if link.ref != b
            ]
            raise ConfigError(
                f"segment {loop[0]!r} depends on itself: {' → '.join(loop)}"
                + (f" ({'; '.join(notes)})" if notes else ""),
                file=file,
                line=links[0].line,
                path=links[0].path or f"segments.{loop[0]}.when",
                hint="remove one of the references to break the loop",
            )
        for leaf in segments[name].rule.conditions():
            for ref in reads(leaf.ref):
                visit(ref, [*stack, name])
        done.add(name)
        order.append(name)

    for name in segments:
        visit(name, [])
    return order


def load_segments(
    path: Path,
    *,
    file: str,
    fields: frozenset[str],
    field_spec: Callable[[str], FieldSpec | None] | None = None,
) -> Segments:
    """Load ``segments.yaml`` and its RFM cut points; a missing file means no segments.

    Args:
        path: The file to read.
        file: Its name in error messages (relative to the project).
        fields: The declared recipient field paths, dotted (``orders``, ``orders.total``).
        field_spec: The declaration of a field path (``Schema.spec``); with it, an RFM input
            whose declared type is not a number is refused.

    Raises:
        ConfigError: with file, line and key path: invalid YAML, unknown sections or keys,
            unknown names in rules (with a did-you-mean hint), names that clash, segment
            loops, malformed metrics, scores, RFM cut points, groups or rules, RFM inputs that
            are not numbers. A missing cut points file is not an error here: classifying then
            is (run calibrate first).
    """
    found = read_segments(path, file=file, fields=fields, field_spec=field_spec)
    if found is None:
        return Segments(file=file, metrics={}, segments={})
    return Segments(
        file=file,
        metrics=MappingProxyType(found.metrics),
        segments=MappingProxyType(found.segments),
        scores=MappingProxyType(found.scores),
        rfm=found.rfm,
        groups=MappingProxyType(found.groups),
    )
