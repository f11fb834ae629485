"""What ``segments.yaml`` declares while it is read, and the checks across its sections."""

from __future__ import annotations

from collections.abc import Callable, Set
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from .config import FieldSpec
from .declarations import named_type
from .errors import ConfigError, did_you_mean
from .metricfile import declared
from .metrics import Metric
from .rfm import DIMENSIONS, Rfm
from .rfm import NAMES as RFM_NAMES
from .rules import Rule
from .scores import Score
from .segmentgroups import Group, check_groups, parse_group
from .yamlfile import Document

__all__ = ["CHECKS", "Draft", "Segment", "rfm_names"]

_NUMBER_TYPES: Final = ("int", "float", "decimal")
_RFM_EXAMPLES: Final = MappingProxyType(
    {
        "recency": "{days_since: orders.at}",
        "frequency": "{count: orders, within: 365d}",
        "monetary": "{sum: orders.total, within: 365d}",
    }
)


@dataclass(frozen=True, slots=True)
class Segment:
    """A named rule over recipients (``vip``, ``lapsed``)."""

    name: str
    description: str
    rule: Rule
    line: int | None = None


@dataclass
class Draft:
    """What the sections of one file have declared so far (lives for one load)."""

    doc: Document
    fields: Set[str]
    base: Path
    field_spec: Callable[[str], FieldSpec | None] | None = None
    metrics: dict[str, Metric] = field(default_factory=dict)
    segments: dict[str, Segment] = field(default_factory=dict)
    scores: dict[str, Score] = field(default_factory=dict)
    rfm: Rfm | None = None
    group_specs: list[tuple[str, Any]] = field(default_factory=list)
    groups: dict[str, Group] = field(default_factory=dict)

    def kind_of(self, name: str) -> str | None:
        """What ``name`` is, among the names rules can read besides fields."""
        for kind, names in (
            ("metric", self.metrics),
            ("score", self.scores),
            ("segment", self.segments),
        ):
            if name in names:
                return kind
        if self.rfm is not None and name in RFM_NAMES:
            return "RFM value"
        return None


def rfm_names(draft: Draft) -> tuple[str, ...]:
    """The RFM value names, if the file has an rfm: section."""
    return RFM_NAMES if draft.rfm is not None else ()


def check_refs(draft: Draft) -> None:
    """Refuse a segment rule that reads a name nothing declares."""
    known = (*draft.fields, *draft.metrics, *rfm_names(draft), *draft.scores, *draft.segments)
    for segment in draft.segments.values():
        for leaf in segment.rule.conditions():
            ref = leaf.ref
            if draft.kind_of(ref) is not None or declared(ref, draft.fields):
                continue
            raise ConfigError(
                f"unknown name {ref!r}",
                file=leaf.file,
                line=leaf.line,
                path=leaf.path,
                hint=did_you_mean(ref, known)
                or "declare it under metrics: or segments:, or as a recipient field",
            )


def check_rfm(draft: Draft) -> None:
    """Refuse RFM names taken by other declarations, and RFM inputs that are not numbers."""
    rfm = draft.rfm
    if rfm is None:
        return
    for name in RFM_NAMES:
        if name in draft.fields:
            raise draft.doc.error(
                ("rfm",),
                f"the RFM value {name!r} has the same name as a recipient field",
                hint="rename the field: with an rfm: section, "
                f"{', '.join(RFM_NAMES)} name the scores",
            )
        # Sections above rfm: could not know the names were taken.
        for section, names in (
            ("metrics", draft.metrics),
            ("scores", draft.scores),
            ("segments", draft.segments),
        ):
            if name in names:
                raise draft.doc.error(
                    (section, name),
                    f"{section[:-1]} {name!r} has the same name as an RFM value",
                    hint="rename it: rules could not tell the two apart",
                )
    for key, ref in zip(DIMENSIONS, rfm.inputs, strict=True):
        if ref not in draft.metrics and not declared(ref, draft.fields):
            raise draft.doc.error(
                ("rfm", key),
                f"unknown metric or field {ref!r}",
                hint=did_you_mean(ref, (*draft.metrics, *draft.fields))
                or "name a metric such as {days_since: orders.at}, or a number field",
            )
        _rfm_type(draft, key, ref)


def _rfm_type(draft: Draft, key: str, ref: str) -> None:
    """Refuse an RFM input whose declared type is not a number: it would fail every recipient."""
    metric, spec_of = draft.metrics.get(ref), draft.field_spec
    if spec_of is None or (metric is not None and metric.kind in ("count", "days_since")):
        return  # no types to check, or whole numbers
    source = ref if metric is None else metric.source
    spec = spec_of(source)
    if spec is None:
        return  # a key inside a `map` field: any type
    # A metric's value has the type of its source's items (sum, avg, min, max of numbers).
    type_name = spec.type.strip() if metric is None else named_type(spec.type)
    if type_name in _NUMBER_TYPES:
        return
    what = f"{ref!r} is a field of type {type_name}"
    if metric is not None:
        what = f"metric {ref!r} is the {metric.kind} of {source!r}, of type {type_name}"
    hint = f"name a metric such as {_RFM_EXAMPLES[key]}, or an int, float or decimal field"
    if type_name in ("date", "datetime"):
        hint = f"count the days since it with a metric such as {{days_since: {source}}}"
    raise draft.doc.error(("rfm", key), f"{key!r} needs a number, but {what}", hint=hint)


def check_scores(draft: Draft) -> None:
    """Refuse a score that reads something not yet known when it is computed."""
    doc, seen = draft.doc, list[str]()  # the scores declared so far
    for score in draft.scores.values():
        # Weighted inputs and 'per' values are added up; a 'when' rule may compare anything.
        summed = {item.path for item in score.inputs} | {f"{r.path}.per" for r in score.rules}
        for ref, path, line in score.refs():
            kind = draft.kind_of(ref)
            readable = kind in ("metric", "RFM value") or ref in seen
            if ref == "rfm" and kind == "RFM value" and path in summed:
                message = f"score {score.name!r} reads 'rfm', the RFM code as text (such as '545')"
                hint = "read r_score, f_score or m_score, the scores as numbers"
            elif readable or (kind is None and declared(ref, draft.fields)):
                continue
            elif ref == score.name:
                message = f"score {score.name!r} reads itself"
                hint = "its value is not known while it is computed: read what it is built from"
            elif kind == "segment":
                message = f"score {score.name!r} reads segment {ref!r}"
                hint = "scores are computed before segments: read the segment's metrics instead"
            elif kind == "score":
                message = f"score {score.name!r} reads score {ref!r}, which comes after it"
                hint = f"declare {ref!r} above {score.name!r}"
            else:
                message = f"unknown name {ref!r}"
                known = (*draft.fields, *draft.metrics, *rfm_names(draft), *seen)
                hint = (
                    did_you_mean(ref, known)
                    or "use a metric, an RFM value, an earlier score or a recipient field"
                )
            raise ConfigError(message, file=doc.file, line=line, path=path, hint=hint)
        seen.append(score.name)


def parse_groups(draft: Draft) -> None:
    """Parse the groups once every section is read (a group may list later segments)."""
    for name, spec in draft.group_specs:
        draft.groups[name] = parse_group(name, spec, doc=draft.doc, segments=draft.segments)
    check_groups(draft.groups, draft.segments)


# Run in this order once every section is read: each may rely on the ones before it.
CHECKS: Final[tuple[Callable[[Draft], None], ...]] = (
    check_rfm,
    check_scores,
    check_refs,
    parse_groups,
)
