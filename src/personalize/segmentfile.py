"""Reading ``segments.yaml``: metrics, scores, RFM, segments and groups, checked together."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from .config import FieldSpec
from .errors import PersonalizeError, did_you_mean, short_repr
from .fieldtypes import RESERVED_NAMES
from .metricfile import declared, parse_metric
from .metrics import Metric
from .rfm import NAMES as RFM_NAMES
from .rfm import Rfm, parse_rfm
from .rules import parse_rule
from .scorefile import parse_score
from .scores import Score
from .segmentdraft import CHECKS, Draft, Segment
from .segmentgroups import Group
from .textfiles import read_text_file
from .yamlfile import load_yaml

__all__ = ["Segment", "SegmentFile", "declared", "parse_metric", "read_segments"]

_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_RESERVED: Final = frozenset({"all", "any", "not"})
_SEGMENT_KEYS: Final = ("description", "when")


@dataclass(frozen=True)
class SegmentFile:
    """Everything ``segments.yaml`` declares, by name in file order."""

    metrics: dict[str, Metric]
    segments: dict[str, Segment]
    scores: dict[str, Score]
    rfm: Rfm | None
    groups: dict[str, Group]


def _entries(draft: Draft, data: Any, section: str) -> list[tuple[str, Any]]:
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


def _read_metrics(draft: Draft, data: Any) -> None:
    for name, spec in _entries(draft, data, "metrics"):
        path = ("metrics", name)
        draft.metrics[name] = parse_metric(
            name, spec, doc=draft.doc, path=path, fields=draft.fields
        )


def _read_segments(draft: Draft, data: Any) -> None:
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


def _read_scores(draft: Draft, data: Any) -> None:
    for name, spec in _entries(draft, data, "scores"):
        draft.scores[name] = parse_score(name, spec, doc=draft.doc, path=("scores", name))


def _read_rfm(draft: Draft, data: Any) -> None:
    draft.rfm = parse_rfm(data, doc=draft.doc, base=draft.base)


def _read_groups(draft: Draft, data: Any) -> None:
    # Parsed once every section is read: a group may come before the segments it lists.
    draft.group_specs.extend(_entries(draft, data, "groups"))


# Top-level keys of segments.yaml and their readers, in the order they may appear; a new
# section (scores, groups…) is one reader here plus, if it references names, one check in
# segmentdraft.CHECKS.
_SECTIONS: Final[Mapping[str, Callable[[Draft, Any], None]]] = MappingProxyType(
    {
        "metrics": _read_metrics,
        "scores": _read_scores,
        "rfm": _read_rfm,
        "segments": _read_segments,
        "groups": _read_groups,
    }
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
    if not path.exists() and not path.is_symlink():  # a broken link is an error, not "none"
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
    draft = Draft(doc, fields, path.parent, field_spec)
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
    for check in CHECKS:
        if problems is None:
            check(draft)
        else:
            _check_each(draft, check, problems, dropped)
    return SegmentFile(draft.metrics, draft.segments, draft.scores, draft.rfm, draft.groups)


def _read_each(
    draft: Draft,
    key: str,
    reader: Callable[[Draft, Any], None],
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
    draft: Draft,
    check: Callable[[Draft], None],
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


def _drop(draft: Draft, path: str) -> tuple[str, ...]:
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
