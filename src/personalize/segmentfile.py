"""Reading ``segments.yaml``: metrics, scores, RFM, segments and groups, checked together."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from .config import FieldSpec, read_text_file
from .declarations import named_type
from .errors import ConfigError, PersonalizeError, did_you_mean, short_repr
from .fieldtypes import RESERVED_NAMES
from .metricfile import declared, parse_metric
from .metrics import Metric
from .rfm import DIMENSIONS, Rfm, parse_rfm
from .rfm import NAMES as RFM_NAMES
from .rules import Rule, parse_rule
from .scorefile import parse_score
from .scores import Score
from .segmentgroups import Group, check_groups, parse_group
from .yamlfile import Document, load_yaml

__all__ = ["Segment", "SegmentFile", "declared", "parse_metric", "read_segments"]

_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_RESERVED: Final = frozenset({"all", "any", "not"})
_SEGMENT_KEYS: Final = ("description", "when")
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


@dataclass(frozen=True)
class SegmentFile:
    """Everything ``segments.yaml`` declares, by name in file order."""

    metrics: dict[str, Metric]
    segments: dict[str, Segment]
    scores: dict[str, Score]
    rfm: Rfm | None
    groups: dict[str, Group]


@dataclass
class _Draft:
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


def _entries(draft: _Draft, data: Any, section: str) -> list[tuple[str, Any]]:
    if data is None:
        return []
    doc = draft.doc
    if not isinstance(data, Mapping):
        raise doc.error(
            (section,),
            f"{section!r} must be a mapping of names to definitions, got {short_repr(data)}",
            hint=f"write one '{section[:-1]}_name: ...' per line under '{section}:'",
        )
    for name in data:
        if not isinstance(name, str) or not _NAME.fullmatch(name) or name in _RESERVED:
            hint = "use letters, digits, '_' and '-', starting with a letter"
            if name in _RESERVED:
                hint = "'all', 'any' and 'not' are reserved for combining rules"
            raise doc.error((section, name), f"invalid name {short_repr(name)}", hint=hint)
        if section == "groups":
            continue  # group names are not read by rules: they have a namespace of their own
        if section != "segments" and name in RESERVED_NAMES:  # metrics and scores reach templates
            raise doc.error(
                (section, name),
                f"{section[:-1]} name {name!r} is reserved: templates use it for something else",
                hint="rename it; reserved are " + ", ".join(sorted(RESERVED_NAMES)),
            )
        if name in draft.fields:
            raise doc.error(
                (section, name),
                f"{section[:-1]} {name!r} has the same name as a recipient field",
                hint="rename it: rules could not tell the two apart",
            )
        clash = draft.kind_of(name)
        if clash is not None:
            raise doc.error(
                (section, name),
                f"{section[:-1]} {name!r} has the same name as a{'n' if clash[0] == 'R' else ''} "
                f"{clash}",
                hint="rename it: rules could not tell the two apart",
            )
    return list(data.items())


def _read_metrics(draft: _Draft, data: Any) -> None:
    for name, spec in _entries(draft, data, "metrics"):
        path = ("metrics", name)
        draft.metrics[name] = parse_metric(
            name, spec, doc=draft.doc, path=path, fields=draft.fields
        )


def _read_segments(draft: _Draft, data: Any) -> None:
    doc = draft.doc
    for name, spec in _entries(draft, data, "segments"):
        path = ("segments", name)
        if not isinstance(spec, Mapping) or "when" not in spec:
            raise doc.error(
                path,
                f"segment {name!r} needs a 'when:' rule",
                hint="write e.g. vip: {when: {orders_30d: {gt: 5}}}",
            )
        for key in spec:
            if key not in _SEGMENT_KEYS:
                hint = did_you_mean(str(key), _SEGMENT_KEYS) or "use 'description' and 'when'"
                raise doc.error((*path, key), f"unknown key {short_repr(key)}", hint=hint)
        description = doc.text(spec, path, "description")
        rule = parse_rule(spec["when"], doc=doc, path=(*path, "when"))
        draft.segments[name] = Segment(name, description, rule, doc.line(path))


def _read_scores(draft: _Draft, data: Any) -> None:
    for name, spec in _entries(draft, data, "scores"):
        draft.scores[name] = parse_score(name, spec, doc=draft.doc, path=("scores", name))


def _read_rfm(draft: _Draft, data: Any) -> None:
    draft.rfm = parse_rfm(data, doc=draft.doc, base=draft.base)


def _read_groups(draft: _Draft, data: Any) -> None:
    # Parsed once every section is read: a group may come before the segments it lists.
    draft.group_specs.extend(_entries(draft, data, "groups"))


def _rfm_names(draft: _Draft) -> tuple[str, ...]:
    return RFM_NAMES if draft.rfm is not None else ()


def _check_refs(draft: _Draft) -> None:
    known = (*draft.fields, *draft.metrics, *_rfm_names(draft), *draft.scores, *draft.segments)
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


def _check_rfm(draft: _Draft) -> None:
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
        _check_rfm_type(draft, key, ref)


def _check_rfm_type(draft: _Draft, key: str, ref: str) -> None:
    """Refuse an RFM input whose declared type is not a number: it would fail every recipient."""
    metric, spec_of = draft.metrics.get(ref), draft.field_spec
    if spec_of is None or (metric is not None and metric.kind in ("count", "days_since")):
        return  # no types to check, or whole numbers
    source = ref if metric is None else metric.source
    spec = spec_of(source)
    if spec is None:
        return  # a key inside a `map` field: any type
    # A metric's value has the type of its source's items (sum, avg, min, max of numbers).
    type_name = spec.type if metric is None else named_type(spec.type)
    if type_name in _NUMBER_TYPES:
        return
    what = f"{ref!r} is a field of type {type_name}"
    if metric is not None:
        what = f"metric {ref!r} is the {metric.kind} of {source!r}, of type {type_name}"
    hint = f"name a metric such as {_RFM_EXAMPLES[key]}, or an int, float or decimal field"
    if type_name in ("date", "datetime"):
        hint = f"count the days since it with a metric such as {{days_since: {source}}}"
    raise draft.doc.error(("rfm", key), f"{key!r} needs a number, but {what}", hint=hint)


def _check_scores(draft: _Draft) -> None:
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
                known = (*draft.fields, *draft.metrics, *_rfm_names(draft), *seen)
                hint = (
                    did_you_mean(ref, known)
                    or "use a metric, an RFM value, an earlier score or a recipient field"
                )
            raise ConfigError(message, file=doc.file, line=line, path=path, hint=hint)
        seen.append(score.name)


def _check_groups(draft: _Draft) -> None:
    for name, spec in draft.group_specs:
        draft.groups[name] = parse_group(name, spec, doc=draft.doc, segments=draft.segments)
    check_groups(draft.groups, draft.segments)


# Top-level keys of segments.yaml and their readers, in the order they may appear; a new
# section (scores, groups…) is one reader here plus, if it references names, one check below.
_SECTIONS: Final[Mapping[str, Callable[[_Draft, Any], None]]] = MappingProxyType(
    {
        "metrics": _read_metrics,
        "scores": _read_scores,
        "rfm": _read_rfm,
        "segments": _read_segments,
        "groups": _read_groups,
    }
)
_CHECKS: Final[tuple[Callable[[_Draft], None], ...]] = (
    _check_rfm,
    _check_scores,
    _check_refs,
    _check_groups,
)


def read_segments(
    path: Path,
    *,
    file: str,
    fields: frozenset[str],
    field_spec: Callable[[str], FieldSpec | None] | None = None,
    problems: list[PersonalizeError] | None = None,
) -> SegmentFile | None:
    """The metrics, scores, RFM section, segments and groups of ``segments.yaml``.

    Args:
        path: The file to read.
        file: Its name in error messages (relative to the project).
        fields: The declared recipient field paths, dotted (``orders``, ``orders.total``).
        field_spec: The declaration of a field path (``Schema.spec``); with it, an RFM input
            whose declared type is not a number is refused.
        problems: Collecting mode (for lint): an entry that fails is recorded here and
            left out, and reading goes on; only a file that cannot be read at all raises.

    Returns:
        What the file declares, or None when the file is missing or empty.

    Raises:
        ConfigError: with file, line and key path: invalid YAML, unknown sections or keys,
            unknown names in rules (with a did-you-mean hint), names that clash, malformed
            metrics, scores, RFM cut points, groups or rules, RFM inputs that are not numbers.
    """
    if not path.exists():
        return None
    doc = load_yaml(read_text_file(path, file=file), file=file)
    if doc.data is None:
        return None
    if not isinstance(doc.data, Mapping):
        raise doc.error(
            (),
            f"expected a mapping with 'metrics:' and 'segments:', got {short_repr(doc.data)}",
            hint="start the file with 'metrics:' or 'segments:'",
        )
    draft = _Draft(doc, fields, path.parent, field_spec)
    dropped: set[str] = set()  # collecting mode: names of the entries left out
    for key, value in doc.data.items():
        reader = _SECTIONS.get(key)
        if reader is None:
            hint = did_you_mean(str(key), _SECTIONS) or f"use {', '.join(_SECTIONS)}"
            error = doc.error((key,), f"unknown section {short_repr(key)}", hint=hint)
            if problems is None:
                raise error
            problems.append(error)
        elif problems is None:
            reader(draft, value)
        else:
            _read_each(draft, key, reader, value, problems, dropped)
    for check in _CHECKS:
        if problems is None:
            check(draft)
        else:
            _check_each(draft, check, problems, dropped)
    return SegmentFile(draft.metrics, draft.segments, draft.scores, draft.rfm, draft.groups)


def _read_each(
    draft: _Draft,
    key: str,
    reader: Callable[[_Draft, Any], None],
    value: Any,
    problems: list[PersonalizeError],
    dropped: set[str],
) -> None:
    """Collecting mode: read a section one entry at a time, so a bad entry skips only itself."""
    entries = value.items() if key != "rfm" and isinstance(value, Mapping) else [(None, value)]
    for name, spec in entries:
        try:
            reader(draft, value if name is None else {name: spec})
        except PersonalizeError as err:
            problems.append(err)
            dropped.update(RFM_NAMES if key == "rfm" else () if name is None else (str(name),))


def _check_each(
    draft: _Draft,
    check: Callable[[_Draft], None],
    problems: list[PersonalizeError],
    dropped: set[str],
) -> None:
    """Collecting mode: record what ``check`` finds, drop the entry at fault, check again.

    An entry that reads one left out before is left out too, without a problem of its own:
    the first one says what to fix.
    """
    while True:
        try:
            check(draft)
            return
        except PersonalizeError as err:
            consequence = any(
                err.message in (f"unknown name {n!r}", f"unknown segment {n!r}") for n in dropped
            )
            if not consequence:
                problems.append(err)
            names = _drop(draft, err.path or "")
            if not names:
                return
            dropped.update(names)


def _drop(draft: _Draft, path: str) -> tuple[str, ...]:
    """Remove the entry a key path such as ``segments.vip.when`` points into; its names."""
    section, _, rest = path.partition(".")
    name = re.split(r"[.\[]", rest, maxsplit=1)[0]
    if section == "rfm" and draft.rfm is not None:
        draft.rfm = None
        return RFM_NAMES
    if section == "groups":
        before = len(draft.group_specs)
        draft.group_specs[:] = [(n, s) for n, s in draft.group_specs if n != name]
        draft.groups.pop(name, None)
        return (name,) if len(draft.group_specs) < before else ()
    sections: dict[str, dict[str, Any]] = {
        "metrics": draft.metrics,
        "scores": draft.scores,
        "segments": draft.segments,
    }
    return (name,) if sections.get(section, {}).pop(name, None) is not None else ()
