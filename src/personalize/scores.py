"""Scores: weighted sums of normalized inputs and point systems, computed per recipient."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final

from .errors import RuleError
from .rulenodes import Rule, TraceEntry
from .scope import MISSING, MappingScope
from .values import TYPE_HINT, described

__all__ = ["BIG", "KINDS", "PLACES", "PointsRule", "Score", "WeightedInput", "multiples"]

KINDS: Final = ("weighted", "points")
BIG: Final = 2.0**1000
PLACES: Final = 6  # float scores are rounded, so that 0.5 + 0.1 meets a threshold of 0.6


@dataclass(frozen=True, slots=True)
class WeightedInput:
    """One input of a weighted score: ``weight × normalized(value of ref)``.

    Attributes:
        ref: The metric, score, RFM value or field it reads.
        weight: Its weight.
        low: The value that normalizes to 0 (1 with ``invert``).
        high: The value that normalizes to 1 (0 with ``invert``).
        invert: Lower values score higher.
        path: Its key path in the file, for errors.
        line: Its line in the file.
    """

    ref: str
    weight: float
    low: float = 0.0
    high: float = 1.0
    invert: bool = False
    path: str = ""
    line: int | None = None


@dataclass(frozen=True, slots=True)
class PointsRule:
    """One line of a point system: ``add`` (times ``per``'s value) when ``when`` holds.

    Attributes:
        add: The points to add (negative to subtract).
        per: A name whose value multiplies ``add``, or None for a flat amount.
        every: With ``per``, count whole multiples of this instead of the value itself.
        when: A rule that must hold for the points to count, or None.
        path: Its key path in the file, for errors.
        line: Its line in the file.
    """

    add: int | float
    per: str | None = None
    every: int | float | None = None
    when: Rule | None = None
    path: str = ""
    line: int | None = None

    def describe(self) -> str:
        """The rule as text: ``'+5 per opens_30d'``, ``'+10 if days_since_order <= 30'``."""
        text = f"{self.add:+g}"
        if self.per is not None:
            every = "" if self.every is None else f" every {self.every:g}"
            text += f" per{every} {self.per}"
        if self.when is not None:
            text += f" if {self.when.describe()}"
        return text


@dataclass(frozen=True, slots=True)
class Score:
    """A number computed per recipient from metrics, fields, RFM values and earlier scores.

    A weighted score is ``Σ weight × clamp((value − min) / (max − min), 0, 1)`` (``1 − …`` with
    ``invert``); a point system adds each line's points. An input without a value adds
    nothing. Float results are rounded to 6 decimal places; a point system over whole numbers
    stays a whole number.

    Attributes:
        name: The score's name in ``segments.yaml``.
        kind: ``"weighted"`` or ``"points"``.
        description: Text for people.
        inputs: A weighted score's inputs.
        rules: A point system's lines.
        line: The line of the score in its file.
        file: The file it comes from.
    """

    name: str
    kind: str
    description: str = ""
    inputs: tuple[WeightedInput, ...] = ()
    rules: tuple[PointsRule, ...] = ()
    line: int | None = None
    file: str | None = None
    # Per input: (ref, whether it is a field path, weight, min, max − min, invert, input).
    _plan: tuple[tuple[str, bool, float, float, float, bool, WeightedInput], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        plan = tuple(
            (i.ref, "." in i.ref, i.weight, i.low, i.high - i.low, i.invert, i) for i in self.inputs
        )
        object.__setattr__(self, "_plan", plan)

    def refs(self) -> Iterator[tuple[str, str, int | None]]:
        """``(ref, key path, line)`` of every name the score reads, in written order."""
        for item in self.inputs:
            yield item.ref, item.path, item.line
        for rule in self.rules:
            if rule.per is not None:
                yield rule.per, f"{rule.path}.per", rule.line
            if rule.when is not None:
                for leaf in rule.when.conditions():
                    yield leaf.ref, leaf.path, leaf.line

    def compute(
        self,
        scope: MappingScope,
        *,
        trace: list[TraceEntry] | None = None,
    ) -> int | float:
        """The score of the recipient in ``scope`` (whose ``names`` hold the computed values).

        Args:
            scope: The recipient's data and the values computed so far.
            trace: When a list, the conditions of ``when`` rules are appended to it.

        Raises:
            RuleError: an input is not a number, located at the score's line and key path.
        """
        if self.kind == "weighted":
            return self._weighted(scope)
        try:
            return self._points(scope, trace)
        except OverflowError:  # a float line over a huge whole number: keep it total
            raise RuleError(
                f"score {self.name!r}: the points are too large to add up",
                file=self.file,
                line=self.line,
                path=f"scores.{self.name}",
                hint=TYPE_HINT,
            ) from None

    def terms(self, scope: MappingScope) -> tuple[str, ...]:
        """How the score came about, one text per input or point line, for ``explain``.

        ``scope`` holds the recipient's data and computed values, as in ``compute``:
        ``'opens_30d=8 → 0.8 × 0.5 = 0.4'``, ``'+10 if days_since_order <= 30: not met'``.
        """
        out: list[str] = []
        for item in self.inputs:
            value = scope.lookup(item.ref)
            if value is MISSING or value is None:
                out.append(f"{item.ref}=nothing → 0")
                continue
            number = _float(value, self, item.path, item.line)
            share = min(max((number - item.low) / (item.high - item.low), 0.0), 1.0)
            share = 1.0 - share if item.invert else share
            flipped = " (inverted)" if item.invert else ""
            out.append(
                f"{item.ref}={_number(value)} → {_number(share)}{flipped} × {item.weight:g} "
                f"= {_number(item.weight * share)}"
            )
        for rule in self.rules:
            text = rule.describe()
            if rule.when is not None and not rule.when.evaluate(scope):
                out.append(f"{text}: not met")
                continue
            if rule.per is None:
                out.append(f"{text}: {rule.add:+g}")
                continue
            value = scope.lookup(rule.per)
            if value is MISSING or value is None:
                out.append(f"{text}: {rule.per}=nothing → 0")
                continue
            # As _points counts: an exact int as it is, anything else as a float; multiples of
            # 'every' exactly, from the value itself.
            count = (
                value if type(value) is int else _float(value, self, f"{rule.path}.per", rule.line)
            )
            times = count if rule.every is None else multiples(value, rule.every)
            out.append(
                f"{text}: {rule.per}={_number(value)} → {_number(rule.add * times, sign=True)}"
            )
        return tuple(out)

    def _weighted(self, scope: MappingScope, *, checked: bool = False) -> float:
        total = 0.0
        names, data = scope.names, scope.data
        for ref, dotted, weight, low, span, invert, item in self._plan:
            # MappingScope.lookup, inlined: computed values first, then the recipient's data.
            value = names.get(ref, MISSING)
            if value is MISSING:
                value = scope.lookup(ref) if dotted else data.get(ref, MISSING)
            kind = type(value)
            if checked or (kind is not int and kind is not float):  # the common kinds: as is
                if value is MISSING or value is None:
                    continue
                value = _float(value, self, item.path, item.line)
            elif not -BIG < value < BIG:  # NaN, infinite, or too big for float arithmetic
                return self._weighted(scope, checked=True)
            share = (value - low) / span
            share = 0.0 if share < 0.0 else 1.0 if share > 1.0 else share
            total += weight * (1.0 - share if invert else share)
        return round(total, PLACES) + 0.0  # + 0.0 turns -0.0 into 0.0

    def _points(self, scope: MappingScope, trace: list[TraceEntry] | None) -> int | float:
        total: int | float = 0
        for rule in self.rules:
            when, per = rule.when, rule.per
            if when is not None and not when.evaluate(scope, trace):
                continue
            if per is None:
                total += rule.add
                continue
            value = scope.names.get(per, MISSING)
            if value is MISSING:
                value = scope.lookup(per)
            if type(value) is not int:
                if value is MISSING or value is None:
                    continue
                # Checked; a float from here on, unless 'every' counts it exactly.
                number = _float(value, self, f"{rule.path}.per", rule.line)
                if rule.every is None:
                    value = number
            if rule.every is not None:
                value = multiples(value, rule.every)
            total += rule.add * value
        if isinstance(total, float):
            return round(total, PLACES) + 0.0
        return total


def multiples(value: int | float | Decimal, every: int | float) -> int:
    """The whole multiples of ``every`` in ``value``, floored (``value // every``), exactly.

    A float counts as the decimal it prints as, as a written ``every`` does: 0.3 holds three
    of 0.1 (float division says two), and so does ``Decimal("0.3")``. ``value`` is finite.
    """
    if type(value) is int and type(every) is int:
        return value // every
    return math.floor(_fraction(value) / _fraction(every))


def _fraction(value: int | float | Decimal) -> Fraction:
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def _float(value: Any, score: Score, path: str, line: int | None) -> float:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        except ValueError:  # Decimal('sNaN'): refused below, as NaN is
            number = math.nan
        if math.isfinite(number):
            return number
    raise RuleError(
        f"score {score.name!r}: expected a finite number, got {described(value)}",
        file=score.file,
        line=line or score.line,
        path=path,
        hint=TYPE_HINT,
    )


_EXACT = 10**30  # whole numbers up to this are shown digit for digit


def _number(value: Any, *, sign: bool = False) -> str:
    """A number for people: whole numbers without a point, others rounded to 6 places."""
    if isinstance(value, Decimal):
        return f"{value:+}" if sign else str(value)
    if type(value) is int and not -_EXACT < value < _EXACT:  # as no float could show it
        digits = int(value.bit_length() * math.log10(2)) + 1
        return f"{'-' if value < 0 else '+' if sign else ''}(a whole number of ~{digits} digits)"
    if type(value) is int:
        return f"{value:+}" if sign else str(value)
    number = round(float(value), PLACES) + 0.0
    return f"{number:+g}" if sign else f"{number:g}"
