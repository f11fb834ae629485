"""Reading ``segments.yaml``: metric and segment definitions, checked against the schema."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from .errors import ConfigError, RuleError, did_you_mean, short_repr
from .metrics import KINDS, Metric
from .rules import Rule, parse_rule
from .values import described, parse_duration
from .yamlfile import Document, load_yaml

__all__ = ["Segment", "declared", "parse_metric", "read_segments"]

_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_RESERVED: Final = frozenset({"all", "any", "not"})
_SEGMENT_KEYS: Final = ("description", "when")
_METRIC_KEYS: Final = (*KINDS, "within", "at", "where")


@dataclass(frozen=True, slots=True)
class Segment:
    """A named rule over recipients (``vip``, ``lapsed``)."""

    name: str
    description: str
    rule: Rule
    line: int | None = None


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
        if key not in _METRIC_KEYS:
            raise doc.error(
                (*path, key),
                f"unknown key {short_repr(key)}",
                hint=did_you_mean(str(key), _METRIC_KEYS) or f"use {', '.join(_METRIC_KEYS)}",
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


@dataclass
class _Draft:
    """What the sections of one file have declared so far (lives for one load)."""

    doc: Document
    fields: Set[str]
    metrics: dict[str, Metric] = field(default_factory=dict)
    segments: dict[str, Segment] = field(default_factory=dict)


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
        if name in draft.fields:
            raise doc.error(
                (section, name),
                f"{section[:-1]} {name!r} has the same name as a recipient field",
                hint="rename it: rules could not tell the two apart",
            )
        if name in draft.metrics or name in draft.segments:
            raise doc.error(
                (section, name),
                f"{section[:-1]} {name!r} has the same name as a "
                f"{'metric' if name in draft.metrics else 'segment'}",
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
        description = spec.get("description", "")
        if not isinstance(description, str):
            raise doc.error(
                (*path, "description"),
                f"'description' must be text, got {short_repr(description)}",
                hint="quote it",
            )
        rule = parse_rule(spec["when"], doc=doc, path=(*path, "when"))
        draft.segments[name] = Segment(name, description, rule, doc.line(path))


def _check_refs(draft: _Draft) -> None:
    known = (*draft.fields, *draft.metrics, *draft.segments)
    for segment in draft.segments.values():
        for leaf in segment.rule.conditions():
            ref = leaf.ref
            if ref in draft.metrics or ref in draft.segments or declared(ref, draft.fields):
                continue
            raise ConfigError(
                f"unknown name {ref!r}",
                file=leaf.file,
                line=leaf.line,
                path=leaf.path,
                hint=did_you_mean(ref, known)
                or "declare it under metrics: or segments:, or as a recipient field",
            )


# Top-level keys of segments.yaml and their readers, in the order they may appear; a new
# section (scores, groups…) is one reader here plus, if it references names, one check below.
_SECTIONS: Final[Mapping[str, Callable[[_Draft, Any], None]]] = MappingProxyType(
    {"metrics": _read_metrics, "segments": _read_segments}
)
_CHECKS: Final[tuple[Callable[[_Draft], None], ...]] = (_check_refs,)


def read_segments(
    path: Path, *, file: str, fields: frozenset[str]
) -> tuple[dict[str, Metric], dict[str, Segment]] | None:
    """The metrics and segments of ``segments.yaml``, by name in file order.

    Args:
        path: The file to read.
        file: Its name in error messages (relative to the project).
        fields: The declared recipient field paths, dotted (``orders``, ``orders.total``).

    Returns:
        ``(metrics, segments)``, or None when the file is missing or empty.

    Raises:
        ConfigError: with file, line and key path: invalid YAML, unknown sections or keys,
            unknown names in rules (with a did-you-mean hint), names that clash, malformed
            metrics or rules.
    """
    if not path.exists():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read the file: {exc}", file=file, hint="save it as a UTF-8 text file"
        ) from None
    doc = load_yaml(text, file=file)
    if doc.data is None:
        return None
    if not isinstance(doc.data, Mapping):
        raise doc.error(
            (),
            f"expected a mapping with 'metrics:' and 'segments:', got {short_repr(doc.data)}",
            hint="start the file with 'metrics:' or 'segments:'",
        )
    draft = _Draft(doc, fields)
    for key, value in doc.data.items():
        reader = _SECTIONS.get(key)
        if reader is None:
            hint = did_you_mean(str(key), _SECTIONS) or f"use {', '.join(_SECTIONS)}"
            raise doc.error((key,), f"unknown section {short_repr(key)}", hint=hint)
        reader(draft, value)
    for check in _CHECKS:
        check(draft)
    return draft.metrics, draft.segments
