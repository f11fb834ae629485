"""Reading one score definition of ``segments.yaml``: weighted scores and point systems."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from .errors import did_you_mean, format_path, short_repr
from .rules import parse_rule
from .scores import KINDS, PointsRule, Score, WeightedInput
from .values import written
from .yamlfile import Document

__all__ = ["parse_score"]

_KEYS: Final = ("description", "weighted", "normalize", "points")
_NORMALIZE_KEYS: Final = ("min", "max", "invert")
_POINTS_KEYS: Final = ("add", "per", "every", "when")


def parse_score(name: str, spec: Any, *, doc: Document, path: tuple[str | int, ...]) -> Score:
    """Parse one score definition: ``{weighted: {...}, normalize: {...}}`` or ``{points: [...]}``.

    Names the score reads are checked later, against the whole file.

    Raises:
        ConfigError: with file, line and key path: unknown keys, zero or two kinds, weights
            or points that are not numbers, a bad ``normalize`` entry, a bad ``when`` rule.
    """
    if not isinstance(spec, Mapping):
        raise doc.error(
            path,
            f"score {name!r} must be a mapping, got {written(spec)}",
            hint="write e.g. {weighted: {opens_30d: 0.6, clicks_30d: 0.4}}",
        )
    for key in spec:
        if key not in _KEYS:
            hint = did_you_mean(str(key), _KEYS) or f"use {', '.join(_KEYS)}"
            raise doc.error((*path, key), f"unknown key {short_repr(key)}", hint=hint)
    kinds = [key for key in spec if key in KINDS]
    if not kinds:
        raise doc.error(
            path,
            f"score {name!r} needs 'weighted:' or 'points:'",
            hint="write e.g. {weighted: {opens_30d: 0.6, clicks_30d: 0.4}} or "
            "{points: [{per: opens_30d, add: 5}]}",
        )
    if len(kinds) > 1:
        raise doc.error(
            (*path, kinds[1]),
            f"score {name!r} has both 'weighted' and 'points'",
            hint="one kind per score; split it into two scores",
        )
    description = doc.text(spec, path, "description")
    line = doc.line(path)
    if kinds[0] == "weighted":
        inputs = _weighted(spec, doc, path)
        return Score(name, "weighted", description, inputs=inputs, line=line, file=doc.file)
    if "normalize" in spec:
        raise doc.error(
            (*path, "normalize"),
            "'normalize' belongs to a weighted score",
            hint="a point system adds points as written; remove 'normalize'",
        )
    rules = _points(spec["points"], doc, (*path, "points"))
    return Score(name, "points", description, rules=rules, line=line, file=doc.file)


def _number(value: Any, doc: Document, path: tuple[str | int, ...], what: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise doc.error(path, f"{what} must be a number, got {written(value)}", hint=_NUMBER_HINT)
    try:
        number = float(value)  # scores add up in floats: a whole number must fit one too
    except OverflowError:
        raise doc.error(
            path, f"{what} is too large, got {written(value)}", hint=_SIZE_HINT
        ) from None
    if not math.isfinite(number):
        raise doc.error(path, f"{what} must be a number, got {written(value)}", hint=_NUMBER_HINT)
    return value


_NUMBER_HINT: Final = "write a number such as 5, -3 or 0.25"
_SIZE_HINT: Final = "write a number between -1e308 and 1e308"


def _weighted(
    spec: Mapping[str, Any], doc: Document, path: tuple[str | int, ...]
) -> tuple[WeightedInput, ...]:
    here = (*path, "weighted")
    weights = spec["weighted"]
    if not isinstance(weights, Mapping) or not weights:
        raise doc.error(
            here,
            f"'weighted' needs a mapping of names to weights, got {written(weights)}",
            hint="write e.g. weighted: {opens_30d: 0.6, clicks_30d: 0.4}",
        )
    scales = spec.get("normalize", {})
    if not isinstance(scales, Mapping):
        raise doc.error(
            (*path, "normalize"),
            f"'normalize' needs a mapping of inputs to ranges, got {written(scales)}",
            hint="write e.g. normalize: {site_visits: {max: 20}}",
        )
    for ref in scales:
        if ref not in weights:
            raise doc.error(
                (*path, "normalize", ref),
                f"{short_repr(ref)} is not an input of the weighted score",
                hint=did_you_mean(str(ref), map(str, weights)) or "add it under 'weighted:'",
            )
    inputs = []
    for ref, weight in weights.items():
        if not isinstance(ref, str) or not all(ref.split(".")):
            raise doc.error(
                here,
                f"expected a metric, score or field name, got {written(ref)}",
                hint="use a name such as opens_30d",
            )
        weight = _number(weight, doc, (*here, ref), f"the weight of {ref!r}")
        low, high, invert = _range(scales.get(ref, {}), doc, (*path, "normalize", ref))
        at = (*here, ref)
        item = WeightedInput(ref, float(weight), low, high, invert, format_path(at), doc.line(at))
        inputs.append(item)
    return tuple(inputs)


def _range(spec: Any, doc: Document, path: tuple[str | int, ...]) -> tuple[float, float, bool]:
    if not isinstance(spec, Mapping):
        raise doc.error(
            path,
            f"expected a range such as {{max: 20}}, got {written(spec)}",
            hint="give 'min' (default 0), 'max' (default 1) and optionally 'invert: true'",
        )
    for key in spec:
        if key not in _NORMALIZE_KEYS:
            hint = did_you_mean(str(key), _NORMALIZE_KEYS) or "use min, max and invert"
            raise doc.error((*path, key), f"unknown key {short_repr(key)}", hint=hint)
    low = _number(spec.get("min", 0), doc, (*path, "min"), "'min'")
    high = _number(spec.get("max", 1), doc, (*path, "max"), "'max'")
    if high <= low:
        raise doc.error(
            path,
            f"'max' must be greater than 'min', got min {written(low)} and max {written(high)}",
            hint="to score lower values higher, keep min < max and add 'invert: true'",
        )
    invert = spec.get("invert", False)
    if not isinstance(invert, bool):
        raise doc.error(
            (*path, "invert"), f"'invert' must be true or false, got {written(invert)}", hint=None
        )
    return float(low), float(high), invert


def _points(data: Any, doc: Document, path: tuple[str | int, ...]) -> tuple[PointsRule, ...]:
    if not isinstance(data, list) or not data:
        raise doc.error(
            path,
            f"'points' needs a non-empty list of lines, got {written(data)}",
            hint="write e.g. points: [{per: opens_30d, add: 5}, {when: {tier: Gold}, add: 20}]",
        )
    rules = []
    for index, item in enumerate(data):
        here = (*path, index)
        if not isinstance(item, Mapping):
            raise doc.error(
                here,
                f"expected a line such as {{per: opens_30d, add: 5}}, got {written(item)}",
                hint="each line has 'add' and optionally 'per', 'every' and 'when'",
            )
        for key in item:
            if key not in _POINTS_KEYS:
                hint = did_you_mean(str(key), _POINTS_KEYS) or "use add, per, every and when"
                raise doc.error((*here, key), f"unknown key {short_repr(key)}", hint=hint)
        if "add" not in item:
            raise doc.error(here, "a points line needs 'add'", hint="write e.g. add: 5")
        add = _number(item["add"], doc, (*here, "add"), "'add'")
        per = item.get("per")
        if per is not None and (not isinstance(per, str) or not all(per.split("."))):
            raise doc.error(
                (*here, "per"),
                f"'per' needs a metric, score or field name, got {written(per)}",
                hint="e.g. per: opens_30d",
            )
        every = None
        if "every" in item:
            every = _number(item["every"], doc, (*here, "every"), "'every'")
            if per is None or every <= 0:
                problem = "'every' needs 'per'" if per is None else "'every' must be positive"
                raise doc.error(
                    (*here, "every"),
                    f"{problem}, got every: {written(every)}",
                    hint="write e.g. {per: days_since_open, every: 30, add: -3}",
                )
        when = parse_rule(item["when"], doc=doc, path=(*here, "when")) if "when" in item else None
        rules.append(PointsRule(add, per, every, when, format_path(here), doc.line(here)))
    return tuple(rules)
