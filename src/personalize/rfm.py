"""RFM: recency, frequency and monetary scores 1–5 from cut points, and reading the cut points."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from pathlib import Path, PurePosixPath
from typing import Any, Final

from .errors import ConfigError, RuleError, did_you_mean, short_repr
from .scope import MISSING, Scope
from .textfiles import read_text_file
from .values import TYPE_HINT, described, written
from .yamlfile import Document, load_yaml

__all__ = [
    "DIMENSIONS",
    "HEADER",
    "NAMES",
    "RFM_CODES",
    "CutPoints",
    "Rfm",
    "finite",
    "format_number",
    "parse_cut_points",
    "parse_rfm",
]

DIMENSIONS: Final = ("recency", "frequency", "monetary")
NAMES: Final = ("r_score", "f_score", "m_score", "rfm")
_KEYS: Final = (*DIMENSIONS, "cut_points")
_CUTS: Final = 4  # four boundaries between the scores 1–5
_CUTS_HINT: Final = "list the 4 boundaries between the scores 1–5, e.g. [14, 30, 90, 180]"
HEADER: Final = (
    "# RFM cut points, written by `personalize calibrate`: run it again rather than edit."
)
"""The first line of a cut points file that ``personalize calibrate`` wrote."""

Number = int | float | Decimal


@dataclass(frozen=True, slots=True)
class CutPoints:
    """Four ascending boundaries per dimension; bins are (−∞, c1], (c1, c2], …, (c4, ∞).

    A value's bin number (0–4) is the count of cut points below it. Recency scores
    ``5 − bin`` (fewer days since the last order is better); frequency and monetary score
    ``1 + bin``. A float is on a cut point when it is the float nearest to it: the float
    ``0.1`` (a hair above one tenth) is on the cut point ``Decimal("0.1")``.
    """

    recency: tuple[Number, ...]
    frequency: tuple[Number, ...]
    monetary: tuple[Number, ...]

    def as_dict(self) -> dict[str, tuple[Number, ...]]:
        """``{"recency": (…), "frequency": (…), "monetary": (…)}``."""
        return {"recency": self.recency, "frequency": self.frequency, "monetary": self.monetary}


@dataclass(frozen=True, slots=True)
class Rfm:
    """The ``rfm:`` section: which values feed R, F and M, and the cut points that score them.

    Attributes:
        recency: The metric or field holding the days since the last order.
        frequency: The metric or field holding the orders in a window.
        monetary: The metric or field holding the spend in a window.
        cut_points: The cut points, or None when their file does not exist yet.
        source: The cut points file as ``segments.yaml`` names it (relative to the project),
            or None when the cut points are written inline.
        target: Where that file is on disk (``personalize calibrate`` writes it).
        file: The segments file.
        line: The line of the ``rfm:`` section.
    """

    recency: str
    frequency: str
    monetary: str
    cut_points: CutPoints | None
    source: str | None = None
    target: Path | None = None
    file: str | None = None
    line: int | None = None
    _plan: tuple[tuple[str, tuple[Number, ...], tuple[Number, ...]], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        cuts = self.cut_points
        found = () if cuts is None else (cuts.recency, cuts.frequency, cuts.monetary)
        # Per dimension: the ref, the cut points for floats and Decimals, and for ints.
        plan = tuple(
            (ref, tuple(map(_for_floats, exact)), tuple(map(_for_ints, exact)))
            for ref, exact in zip(self.inputs, found, strict=False)
        )
        object.__setattr__(self, "_plan", plan)

    @property
    def inputs(self) -> tuple[str, str, str]:
        """The names of the recency, frequency and monetary values."""
        return self.recency, self.frequency, self.monetary

    def score(self, scope: Scope) -> tuple[int | None, int | None, int | None, str | None]:
        """``(r_score, f_score, m_score, rfm)`` for the recipient in ``scope``.

        A score is None when its value is missing; ``rfm`` (e.g. ``"545"``) when any is.

        Raises:
            RuleError: a value is not a finite number, or there are no cut points yet.
        """
        if not self._plan:
            raise RuleError(
                f"rfm: no cut points: {self.source!r} does not exist",
                file=self.file,
                line=self.line,
                path="rfm.cut_points",
                hint="run 'personalize calibrate AUDIENCE.jsonl' to write it",
            )
        bins: list[int | None] = []
        for ref, exact, for_ints in self._plan:
            value = scope.lookup(ref)
            if type(value) is int:  # days and counts: compared with int and float cut points
                bins.append(bisect_left(for_ints, value))
            elif value is MISSING or value is None:
                bins.append(None)
            elif finite(value):
                bins.append(bisect_left(exact, value))
            else:
                raise RuleError(
                    f"rfm: {DIMENSIONS[len(bins)]} value {ref!r} must be a finite number, "
                    f"got {described(value)}",
                    file=self.file,
                    line=self.line,
                    path=ref,
                    hint=TYPE_HINT,
                )
        r, f, m = bins
        if r is None or f is None or m is None:
            return (
                None if r is None else 5 - r,
                None if f is None else 1 + f,
                None if m is None else 1 + m,
                None,
            )
        return 5 - r, 1 + f, 1 + m, RFM_CODES[r * 25 + f * 5 + m]


# "rfm" by bins: r_score is 5 - bin, f_score and m_score 1 + bin.
RFM_CODES: Final = tuple(
    f"{5 - r}{1 + f}{1 + m}" for r in range(5) for f in range(5) for m in range(5)
)


def _for_ints(cut: Number) -> Number:
    """A cut point that compares with every int as ``cut`` does, but faster than a Decimal."""
    if isinstance(cut, Decimal):
        whole = math.floor(cut)
        if cut == whole:
            return whole
        near = float(cut)
        # Safe unless rounding to float moved it onto or across a whole number.
        if math.floor(near) == whole and near != whole:
            return near
    return cut


def _for_floats(cut: Number) -> Number:
    """A cut point that compares with floats as their nearest cut point, and with Decimals
    exactly (up to Decimals of 17 digits or more, which nobody spends).

    A float rounded up from the cut point (the float 0.1 is 0.1000000000000000055…) is on the
    cut point, so its bin is the lower one; the generated scoring code compares floats and
    Decimals with the same tuple, so the float's exact value stands in for the cut point.
    """
    try:
        near = float(cut)
    except OverflowError:  # an int beyond any float: every float compares alike
        return cut
    return Decimal(near) if math.isfinite(near) and near > cut else cut


def finite(value: Any) -> bool:
    """Whether ``value`` is an int, float or Decimal (not a bool) and neither NaN nor infinite."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return False
    if isinstance(value, Decimal):
        return value.is_finite()
    return isinstance(value, int) or math.isfinite(value)


# -- parsing -----------------------------------------------------------------------------------


def parse_rfm(spec: Any, *, doc: Document, base: Path) -> Rfm:
    """Parse the ``rfm:`` section; read the cut points file when it names one.

    Args:
        spec: The section as loaded from YAML.
        doc: The segments file.
        base: The folder of the segments file (cut points files are relative to it).

    Raises:
        ConfigError: with file, line and key path: unknown or missing keys, names that are not
            text, a bad cut points file name, malformed cut points (inline or in their file).
    """
    path: tuple[str | int, ...] = ("rfm",)
    if not isinstance(spec, Mapping):
        raise doc.error(path, f"'rfm' must be a mapping, got {written(spec)}", hint=_RFM_HINT)
    for key in spec:
        if key not in _KEYS:
            hint = did_you_mean(str(key), _KEYS) or f"use {', '.join(_KEYS)}"
            raise doc.error((*path, key), f"unknown key {short_repr(key)}", hint=hint)
    for key in _KEYS:
        if key not in spec:
            raise doc.error(path, f"'rfm' needs {key!r}", hint=_RFM_HINT)
    names: list[str] = []
    for key in DIMENSIONS:
        name = spec[key]
        if not isinstance(name, str) or not all(name.split(".")):
            raise doc.error(
                (*path, key),
                f"{key!r} needs a metric or field name, got {written(name)}",
                hint=_RFM_HINT,
            )
        names.append(name)
    recency, frequency, monetary = names
    line = doc.line(path)
    cuts = spec["cut_points"]
    if isinstance(cuts, Mapping):
        parsed = parse_cut_points(cuts, doc=doc, path=(*path, "cut_points"))
        return Rfm(recency, frequency, monetary, parsed, file=doc.file, line=line)
    source, target = _cut_points_file(cuts, doc, base)
    found = None
    if target.exists():
        try:
            cut_doc = load_yaml(read_text_file(target, file=source), file=source)
            found = parse_cut_points(cut_doc.data, doc=cut_doc)
        except ConfigError as err:
            raise ConfigError(
                err.message,
                file=err.file,
                line=err.line,
                path=err.path,
                hint="; ".join(filter(None, (err.hint, _remedy(source, target, doc.file)))),
            ) from None
    return Rfm(
        recency, frequency, monetary, found, source=source, target=target, file=doc.file, line=line
    )


_RFM_HINT: Final = (
    "write rfm: {recency: days_since_order, frequency: orders_365d, monetary: spend_365d, "
    "cut_points: rfm.yaml}"
)


def _remedy(source: str, target: Path, segments: str) -> str | None:
    """How to get past a cut points file that does not load (``None``: it cannot be read,
    and the read error's own hint says what to check)."""
    generated = _generated(target)
    if generated is None:
        return None
    if generated:
        # Regenerating it is the fix, and calibrate needs the project loaded, so the file
        # must go first.
        return (
            f"or delete {source} and run 'personalize calibrate AUDIENCE.jsonl' to write it again"
        )
    # Not calibrate's file: deleting it could lose someone's work.
    return (
        f"{source} was not written by 'personalize calibrate' (its header is missing): fix it, "
        f"or check that rfm.cut_points in {segments} names the cut points file"
    )


def _generated(target: Path) -> bool | None:
    """Whether the file starts with the header calibrate writes; ``None`` if it cannot be read."""
    try:
        with target.open("rb") as handle:
            start = handle.read(len(HEADER.encode()) + 3)
    except OSError:
        return None
    return start.removeprefix(b"\xef\xbb\xbf").startswith(HEADER.encode())


def _cut_points_file(name: Any, doc: Document, base: Path) -> tuple[str, Path]:
    where = ("rfm", "cut_points")
    if not isinstance(name, str):
        raise doc.error(
            where,
            f"'cut_points' needs a file name or the cut points, got {written(name)}",
            hint="write cut_points: rfm.yaml, and run 'personalize calibrate AUDIENCE.jsonl'",
        )
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or relative.suffix not in (".yaml", ".yml"):
        raise doc.error(
            where,
            f"'cut_points' must name a .yaml file inside the project, got {short_repr(name)}",
            hint="write e.g. cut_points: rfm.yaml (next to the segments file)",
        )
    folder = PurePosixPath(doc.file).parent
    target = base.joinpath(*relative.parts)
    if _same_file(target, base / PurePosixPath(doc.file).name):
        raise doc.error(
            where,
            f"'cut_points' names the segments file itself, got {short_repr(name)}",
            hint="name the file 'personalize calibrate' writes the cut points to, "
            "e.g. cut_points: rfm.yaml",
        )
    return (folder / relative).as_posix(), target


def _same_file(one: Path, other: Path) -> bool:
    try:
        return one.samefile(other)
    except OSError:  # either does not exist (a segments file read from memory, say)
        return False


def parse_cut_points(data: Any, *, doc: Document, path: tuple[str | int, ...] = ()) -> CutPoints:
    """Check and parse cut points: ``{recency: [4 numbers], frequency: […], monetary: […]}``.

    Each list has 4 numbers that do not decrease. Whole numbers stay ``int``; other numbers
    become ``Decimal`` of their written (shortest) form, so comparisons are exact.

    Args:
        data: The cut points as loaded from YAML.
        doc: The document, for lines in errors (a cut points file is its own document).
        path: The key path of ``data`` in ``doc``.

    Raises:
        ConfigError: with file, line and key path, for anything else.
    """

    def error(where: tuple[str | int, ...], message: str, hint: str) -> ConfigError:
        return doc.error((*path, *where), message, hint=hint)

    if not isinstance(data, Mapping):
        raise error((), f"expected cut points per dimension, got {written(data)}", _CUTS_HINT)
    for key in data:
        if key not in DIMENSIONS:
            hint = did_you_mean(str(key), DIMENSIONS) or "use recency, frequency and monetary"
            raise error((key,), f"unknown key {short_repr(key)}", hint)
    found: dict[str, tuple[Number, ...]] = {}
    for key in DIMENSIONS:
        if key not in data:
            raise error((), f"cut points for {key!r} are missing", _CUTS_HINT)
        values = data[key]
        if not isinstance(values, list) or len(values) != _CUTS:
            raise error((key,), f"expected {_CUTS} cut points, got {written(values)}", _CUTS_HINT)
        for index, value in enumerate(values):
            if isinstance(value, bool) or not finite(value):
                raise error(
                    (key, index), f"expected a number, got {written(value)}", "write a number"
                )
        if any(b < a for a, b in pairwise(values)):
            raise error(
                (key,),
                f"cut points must not decrease, got {written(values)}",
                "sort them from the lowest to the highest value",
            )
        found[key] = tuple(_exact(value) for value in values)
    return CutPoints(**found)


def _exact(value: int | float) -> Number:
    # YAML reads 150.45 as a float; its shortest repr is the text that was written.
    return value if isinstance(value, int) else Decimal(repr(value))


def format_number(value: Number) -> str:
    """A cut point as YAML reads it back as the same number: ``12``, ``31.4``, ``150.456``."""
    if isinstance(value, int):
        return str(value)
    exact = Decimal(repr(value)) if isinstance(value, float) else value
    text = format(exact, "f")
    return text if "." in text else f"{text}.0"
