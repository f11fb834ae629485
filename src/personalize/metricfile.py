"""Reading one metric definition of ``segments.yaml``, checked against the recipient schema."""

from __future__ import annotations

from collections.abc import Mapping, Set
from datetime import timedelta
from typing import Any, Final

from .errors import ConfigError, RuleError, did_you_mean, short_repr
from .metrics import KINDS, Metric
from .rules import Rule, parse_rule
from .values import described, parse_duration
from .yamlfile import Document

__all__ = ["declared", "parse_metric"]

_METRIC_KEYS: Final = (*KINDS, "within", "at", "where")


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
