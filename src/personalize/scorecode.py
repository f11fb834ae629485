"""RFM values and scores of a project as one generated Python function, for the hot path."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Sequence, Set
from decimal import Decimal
from typing import Any

from .metricdata import UnfitError
from .rfm import NAMES as RFM_NAMES
from .rfm import RFM_CODES, Rfm
from .rulenodes import RuleSource
from .scope import MappingScope
from .scores import BIG, PLACES, Score, multiples

__all__ = ["DeriveRun", "derive_run"]

DeriveRun = Callable[[MappingScope, dict[str, Any]], None]
"""``(scope, values) -> None``: see ``derive_run``."""


def derive_run(rfm: Rfm | None, scores: Sequence[Score], names: Set[str]) -> DeriveRun:
    """The RFM values, then each score in order, into ``values`` (the scope's ``names``).

    What ``Segments._derive`` does without a trace, written out: each RFM dimension and
    score input is read as ``scope.lookup`` reads it, and ints and floats (Decimals and
    floats for RFM) are handled inline. Anything else — another type, NaN, a huge number, a
    dotted ref that is not plain mappings, any exception — hands that part (RFM as a whole,
    or one score) to its own checked method, which gives the same value or raises the
    located error. ``names`` are the computed names a score's ``when`` may read. Refs,
    bounds and rules are bound by name, never written into the source.
    """
    code = RuleSource(names)
    code.bound.update(
        _Unfit=UnfitError,
        _UNSET=object(),
        bisect_left=bisect_left,
        isfinite=math.isfinite,
        Decimal=Decimal,
    )
    lines = [
        "def run(scope, values):",
        "    data = scope.data",
    ]
    if rfm is not None:
        lines += _rfm(code, rfm)
    for score in scores:
        lines += _score(code, score)
    namespace = dict(code.bound)
    exec(compile("\n".join(lines) + "\n", "<scores>", "exec"), namespace)  # our own source
    run: DeriveRun = namespace["run"]
    return run


def _lookup(code: RuleSource, ref: str, indent: str) -> list[str]:
    """``v = scope.lookup(ref)``, inline for a plain name."""
    name = code.bind(ref)
    if "." in ref:
        return [f"{indent}v = scope.lookup({name})"]
    return [
        f"{indent}v = values.get({name}, _UNSET)",
        f"{indent}if v is _UNSET:",
        f"{indent}    v = data.get({name}, MISSING)",
    ]


def _rfm(code: RuleSource, rfm: Rfm) -> list[str]:
    checked = f"values.update(zip({code.bind(RFM_NAMES)}, {code.bind(rfm.score)}(scope)))"
    if not rfm._plan:  # no cut points: the checked path raises its located error
        return [f"    {checked}"]
    lines = ["    try:"]
    for index, (ref, exact, for_ints) in enumerate(rfm._plan):
        lines += _lookup(code, ref, "        ")
        lines += [
            "        if type(v) is int:",
            f"            b{index} = bisect_left({code.bind(for_ints)}, v)",
            "        elif v is MISSING or v is None:",
            f"            b{index} = None",
            "        elif (type(v) is float and isfinite(v))"
            " or (type(v) is Decimal and v.is_finite()):",
            f"            b{index} = bisect_left({code.bind(exact)}, v)",
            "        else:",
            "            raise _Unfit",
        ]
    names = [code.bind(name) for name in RFM_NAMES]
    codes = code.bind(RFM_CODES)
    lines += [
        f"        values[{names[0]}] = None if b0 is None else 5 - b0",
        f"        values[{names[1]}] = None if b1 is None else 1 + b1",
        f"        values[{names[2]}] = None if b2 is None else 1 + b2",
        f"        values[{names[3]}] = None if b0 is None or b1 is None or b2 is None"
        f" else {codes}[b0 * 25 + b1 * 5 + b2]",
        "    except Exception:  # the checked path decides, and locates any error",
        f"        {checked}",
    ]
    return lines


def _score(code: RuleSource, score: Score) -> list[str]:
    body = _weighted(code, score) if score.kind == "weighted" else _points(code, score)
    name = code.bind(score.name)
    return [
        "    try:",
        *body,
        f"        values[{name}] = total",
        "    except Exception:  # the checked path decides, and locates any error",
        f"        values[{name}] = {code.bind(score)}.compute(scope)",
    ]


def _weighted(code: RuleSource, score: Score) -> list[str]:
    """``Score._weighted``'s usual case: the same float operations in the same order."""
    lines = ["        total = 0.0"]
    big = code.bind(BIG)
    for ref, _, weight, low, span, invert, _ in score._plan:
        share = "1.0 - s" if invert else "s"
        lines += _lookup(code, ref, "        ")
        lines += [
            "        if type(v) is int or type(v) is float:",
            f"            if not -{big} < v < {big}:",
            "                raise _Unfit",
            f"            s = (v - {code.bind(low)}) / {code.bind(span)}",
            "            s = 0.0 if s < 0.0 else 1.0 if s > 1.0 else s",
            f"            total += {code.bind(weight)} * ({share})",
            "        elif v is not MISSING and v is not None:",
            "            raise _Unfit",
        ]
    return [*lines, f"        total = round(total, {PLACES}) + 0.0"]


def _points(code: RuleSource, score: Score) -> list[str]:
    """``Score._points`` over whole numbers; a float or Decimal line goes the checked way."""
    lines = ["        total = 0"]
    for rule in score.rules:
        indent = "        "
        if rule.when is not None:
            lines.append(f"        if {code.expression(rule.when)}:")
            indent += "    "
        if rule.per is None:
            lines.append(f"{indent}total += {code.bind(rule.add)}")
            continue
        lines += _lookup(code, rule.per, indent)
        times = "v"
        if type(rule.every) is int:
            times = f"(v // {code.bind(rule.every)})"
        elif rule.every is not None:  # exactly, as the checked path counts: 3 // 0.1 is 29.0
            times = f"{code.bind(multiples)}(v, {code.bind(rule.every)})"
        lines += [
            f"{indent}if type(v) is int:",
            f"{indent}    total += {code.bind(rule.add)} * {times}",
            f"{indent}elif v is not MISSING and v is not None:",
            f"{indent}    raise _Unfit",
        ]
    return [
        *lines,
        "        if type(total) is float:",
        f"            total = round(total, {PLACES}) + 0.0",
    ]
