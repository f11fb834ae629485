"""RFM calibration: quintile cut points over a streamed audience (rfmfile.py writes them)."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from .errors import ConfigError, PersonalizeError, RuleError
from .metricplan import MetricPlan
from .metrics import Metric
from .profile import Recipient
from .records import read_jsonl
from .rfm import DIMENSIONS, CutPoints, Number, Rfm, finite
from .rfmfile import cut_points_text, read_back, write_cut_points
from .scope import MISSING, MappingScope
from .values import TYPE_HINT, described

__all__ = ["Calibration", "Calibrator", "quintiles"]

_KEPT_ERRORS: Final = 5
_INT64: Final = 2**63
_QUINTILES: Final = 5


@dataclass(frozen=True)
class Calibration:
    """What ``personalize calibrate`` found and wrote.

    Attributes:
        cut_points: The quintile cut points, as ``statistics.quantiles(values, n=5)`` gives them
            (floats interpolated as the decimals they print as), in the form the cut points file
            keeps and the project loads: a ``Decimal`` each, ``Decimal("21.0")``,
            ``Decimal("31.4")``, ``Decimal("40.00")``.
        records: The records read.
        used: The records with a recency, frequency and monetary value (the ones counted).
        skipped: The records that failed validation or a metric.
        errors: The first few of those failures.
        file: The cut points file written (relative to the project), or None.
    """

    cut_points: CutPoints
    records: int
    used: int
    skipped: int = 0
    errors: tuple[PersonalizeError, ...] = field(default=())
    file: str | None = None


class _Column:
    """One dimension's values, exact and compact: whole numbers and Decimals as 64-bit
    integers scaled by a shared power of ten (8 bytes a value), floats as doubles."""

    __slots__ = ("exponent", "floats", "ints", "kind")

    def __init__(self) -> None:
        self.kind = "int"  # "int", "decimal" (ints scaled by 10**exponent) or "float"
        self.ints = array("q")
        self.floats = array("d")
        self.exponent = 0

    def __len__(self) -> int:
        return len(self.floats) if self.kind == "float" else len(self.ints)

    def add(self, value: Number) -> None:
        kind = self.kind
        if type(value) is int and kind == "int":
            try:
                self.ints.append(value)
            except OverflowError:  # beyond 64 bits: floats from here on
                self._add_float(float(value))
        elif isinstance(value, float) or kind == "float":
            self._add_float(float(value))
        elif type(value) is Decimal and kind == "decimal":
            # Money has the column's exponent nearly always: scale without looking first.
            scaled = value.scaleb(-self.exponent)
            whole = int(scaled)
            if whole == scaled and -_INT64 <= whole < _INT64:
                self.ints.append(whole)
            else:
                self._add_decimal(value)
        else:
            self._add_decimal(Decimal(value))

    def _add_float(self, value: float) -> None:
        if self.kind != "float":
            self.floats = array("d", map(float, self.values()))
            self.ints = array("q")
            self.kind = "float"
        self.floats.append(value)

    def _add_decimal(self, value: Decimal) -> None:
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)  # finite, checked by the caller
        try:
            if self.kind == "int" or exponent < self.exponent:
                shift = self.exponent - min(exponent, self.exponent)
                self.ints = array("q", (k * 10**shift for k in self.ints))
                self.exponent -= shift
                self.kind = "decimal"
            self.ints.append(int(value.scaleb(-self.exponent)))
        except OverflowError:  # too many digits for 64 bits: floats from here on
            self._add_float(float(value))

    def values(self) -> list[Number]:
        """Every value, back in its exact form (sorting needs them all at once)."""
        if self.kind == "float":
            return list(self.floats)
        if self.kind == "int":
            return list(self.ints)
        return [Decimal(k).scaleb(self.exponent) for k in self.ints]

    def quintiles(self) -> tuple[Number, ...]:
        """The 4 cut points of ``statistics.quantiles(values, n=5)`` (method 'exclusive').

        Floats are interpolated as the decimals they print as (``39.99``, not the binary
        fraction a hair below it): a tie then gives the tied value, and a float column the
        cut points of the same values in a Decimal column. Float arithmetic would not:
        ``(39.99 * 3 + 39.99 * 2) / 5`` is ``39.989999999999995``.
        """
        if self.kind == "float":
            return quintiles(sorted(self.floats), exact=lambda x: Decimal(repr(x)))
        ordered = sorted(self.ints)  # Python ints, 28 bytes each, for the sort only
        if self.kind == "int":
            return quintiles(ordered)
        exponent = self.exponent
        return quintiles(ordered, exact=lambda k: Decimal(k).scaleb(exponent))


def quintiles(
    ordered: Sequence[Any], *, exact: Callable[[Any], Any] | None = None
) -> tuple[Any, ...]:
    """``statistics.quantiles(ordered, n=5)`` for sorted data, with Python 3.11's formula.

    Args:
        ordered: The values, sorted.
        exact: Turns a stored value back into the value it stands for (a scaled integer into
            its Decimal); applied only to the order statistics the formula reads.
    """
    n, size = _QUINTILES, len(ordered)
    m = size + 1
    result = []
    for i in range(1, n):
        j = i * m // n
        j = 1 if j < 1 else size - 1 if j > size - 1 else j
        delta = i * m - j * n
        low, high = ordered[j - 1], ordered[j]
        if exact is not None:
            low, high = exact(low), exact(high)
        # Decimals of a column (19 digits) or floats' shortest forms (17): exact in 28 digits,
        # unless the two lie 10 orders of magnitude apart (then rounded far below a float's).
        result.append((low * (n - delta) + high * delta) / n)
    return tuple(result)


class Calibrator:
    """Collects recency, frequency and monetary values record by record, in bounded memory.

    Only the three values of each record are kept (8 bytes each in typed arrays); records
    lacking any of them are counted but not kept.

    Args:
        rfm: The project's ``rfm:`` section.
        metrics: The project's metrics by name (only the three RFM inputs are computed).
        now: The moment the metrics are computed at.
        tz: The zone for naive date-times and dates.
    """

    def __init__(
        self, rfm: Rfm, metrics: Mapping[str, Metric], *, now: datetime, tz: tzinfo
    ) -> None:
        self.rfm = rfm
        self.now = now
        self.tz = tz
        self._metrics = tuple(metrics.get(name) for name in rfm.inputs)
        self._inputs = tuple(zip(rfm.inputs, self._metrics, strict=True))
        # The three metrics in one pass over each list, as classify computes them.
        self._plan = MetricPlan([m for m in self._metrics if m is not None], frozenset(metrics))
        self._computes = any(m is not None for m in self._metrics)
        self._columns = (_Column(), _Column(), _Column())
        self.records = 0
        self.skipped = 0
        self.errors: list[PersonalizeError] = []

    def skip(self, error: PersonalizeError) -> None:
        """Count a record that could not be read or validated."""
        self.records += 1
        self.skipped += 1
        if len(self.errors) < _KEPT_ERRORS:
            self.errors.append(error)

    def add(self, data: Mapping[str, Any], *, recipient: str | None = None) -> bool:
        """Add one validated record's values; False when it lacks one or its data fails."""
        found: list[Any] = []
        try:
            scope = MappingScope(data, now=self.now, tz=self.tz)
            cache: dict[Any, Any] = {}
            if self._computes:
                self._plan.prefill(scope, cache)
            for name, metric in self._inputs:
                value = scope.lookup(name) if metric is None else metric.compute(scope, cache=cache)
                if value is MISSING or value is None:
                    self.records += 1
                    return False
                if type(value) is not int and not finite(value):
                    dimension = DIMENSIONS[len(found)]
                    raise RuleError(
                        f"rfm: {dimension} value {name!r} must be a finite number, "
                        f"got {described(value)}",
                        file=self.rfm.file,
                        line=self.rfm.line,
                        path=name,
                        hint=TYPE_HINT,
                    )
                found.append(value)
        except RuleError as err:
            self.skip(err.with_context(recipient=recipient))
            return False
        self.records += 1
        for column, value in zip(self._columns, found, strict=True):
            column.add(value)
        return True

    @property
    def used(self) -> int:
        """The records counted so far."""
        return len(self._columns[0])

    def add_all(
        self,
        records: Iterable[tuple[int, Any]],
        validate: Callable[[Any, int], Recipient],
        *,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Validate and add each ``(line, record)``; one that fails validation is skipped, and
        so is a line that is not JSON (``read_jsonl`` gives its ``ConfigError`` as the record).

        ``progress`` is called with the number of records read, every thousand and at the end.
        """
        done = 0
        for line, record in records:
            done += 1
            if progress is not None and done % 1000 == 0:
                progress(done)
            if isinstance(record, PersonalizeError):
                self.skip(record)
                continue
            try:
                recipient = validate(record, line)
            except PersonalizeError as exc:
                self.skip(exc)
                continue
            self.add(recipient.data, recipient=recipient.id)
        if progress is not None:
            progress(done)

    def add_jsonl(
        self,
        path: Path,
        validate: Callable[[Any, int], Recipient],
        *,
        display: str,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """``add_all`` over a JSONL file, streamed; a line that is not JSON is skipped and
        counted, as coverage does, so one bad line in a large export does not stop it.

        Raises:
            ConfigError: the file cannot be opened.
        """
        self.add_all(read_jsonl(path, display=display), validate, progress=progress)

    def finish(self, *, source: str, write: bool = True) -> Calibration:
        """The quintile cut points; with ``write``, also saved to the project's cut points file.

        Args:
            source: The audience's name, for messages and the file's header.
            write: Write the cut points file named by ``rfm: cut_points:``.

        Raises:
            ConfigError: fewer than 2 records had all three values (naming the first skipped
                record's error, when records were skipped); with ``write``, the cut points
                file cannot be written (see ``rfmfile.write_cut_points``).
        """
        if self.used < 2:
            raise self._too_few(source)
        found = CutPoints(*(column.quintiles() for column in self._columns))
        text = cut_points_text(
            found, source=source, now=self.now, records=self.records, used=self.used
        )
        kept = read_back(text, source)
        # A Decimal the file keeps stays as computed, trailing zeros and all (40.00).
        cuts = CutPoints(
            *(
                tuple(
                    mine if not isinstance(mine, float) and mine == back else back
                    for mine, back in zip(values, kept[name], strict=True)
                )
                for name, values in found.as_dict().items()
            )
        )
        written = None
        if write:
            written = write_cut_points(self.rfm, text)
        return Calibration(
            cuts, self.records, self.used, self.skipped, tuple(self.errors), file=written
        )

    def _too_few(self, source: str) -> ConfigError:
        found = (
            f"calibration needs at least 2 recipients with recency, frequency and monetary "
            f"values, found {self.used} in {self.records} records"
        )
        if not self.errors:
            return ConfigError(
                found,
                file=source,
                hint="use a larger audience; recipients who never ordered have no recency",
            )
        # Often every record failed for one reason (a field the export lacks, an RFM input
        # that is not a number): the first of them says what to fix.
        first = self.errors[0]
        where = ": ".join(part for part in (first.location, first.path, first.message) if part)
        return ConfigError(
            f"{found}; {self.skipped} skipped, the first: {where}",
            file=source,
            hint=f"{first.hint}; then calibrate again"
            if first.hint
            else "fix the skipped records, then calibrate again",
        )
