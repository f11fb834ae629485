"""Audience coverage: how an audience splits across segments, slots and modules, streamed."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .coveragesizes import SizeHistogram, SizeStats
from .errors import ConfigError, PersonalizeError, RegistryError, did_you_mean
from .filters import check_locale
from .profile import Recipient
from .project import Project
from .records import at_record, read_jsonl
from .registry import Slot

__all__ = [
    "Audience",
    "CoverageReport",
    "Failure",
    "SizeHistogram",
    "SizeStats",
    "SlotCoverage",
    "coverage",
    "read_audience",
]

Record = Mapping[str, Any] | Recipient
PROGRESS_EVERY = 256  # records between progress calls: cheap enough for a live bar
_MAX_KINDS = 100  # distinct failure kinds kept; the rest are counted together
_OTHER_KINDS = "(other kinds)"
_DEFAULTED = re.compile(r"^(?P<field>.+?) fell back to its default ")
_INDEX = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class Failure:
    """A record that could not be decided or rendered.

    Attributes:
        index: The record's position in the input (0-based).
        recipient: Its id, when it has one.
        kind: The error type and field path, e.g. ``RecipientError at email``.
        message: The error as one paragraph (``str(error)``), which starts with the file and
            line when the records come from ``read_audience``.
        line: The record's line in that file (``None`` for other inputs).
    """

    index: int
    recipient: str | None
    kind: str
    message: str
    line: int | None = None


@dataclass(frozen=True)
class SlotCoverage:
    """Which modules filled one slot, over the recipients that did not fail.

    Attributes:
        slot: The slot name.
        required: Whether the layout requires it.
        modules: Module id → recipients, most received first (ties by id).
        fallback: Recipients who got the slot's fallback module.
        empty: Recipients for whom the (optional) slot stayed empty.
        total: Recipients counted (the report's ``ok``).
    """

    slot: str
    required: bool
    modules: Mapping[str, int]
    fallback: int
    empty: int
    total: int

    def share(self, module: str | None) -> float:
        """The share of recipients (0–1) who got ``module`` (``None``: the slot stayed empty)."""
        count = self.empty if module is None else self.modules.get(module, 0)
        return count / self.total if self.total else 0.0


@dataclass(frozen=True)
class CoverageReport:
    """How an audience fared for one layout: counts only, no emails or records kept.

    Attributes:
        layout: The layout name.
        now: The moment every recipient was decided and rendered for.
        total: Records read.
        ok: Records decided (and, when sampled for rendering, rendered) without error.
        failed: Records that failed: ``total == ok + failed``.
        rendered: Records rendered in full (all ``ok`` ones when ``render_every`` is 1).
        render_every: 1 renders everyone; n renders every n-th record; 0 renders no one.
        failures: The first failures, in input order.
        failure_kinds: Failures per kind (``RecipientError at email``), most frequent first.
        classified: Records whose segments were computed (the base of ``segments``).
        segments: Segment → recipients in it, in file order.
        no_segment: Recipients in no segment.
        slots: Per slot of the layout, in layout order.
        unreceived: Modules of the layout's slots that no recipient got.
        defaults: Field → recipients for whom it fell back to a default in this email.
        sizes: HTML size distribution of the rendered emails, in UTF-8 bytes.
        experiments: Experiment → arm → recipients (empty when the layout has none).
    """

    layout: str
    now: datetime
    total: int
    ok: int
    failed: int
    rendered: int
    render_every: int
    failures: tuple[Failure, ...]
    failure_kinds: Mapping[str, int]
    classified: int
    segments: Mapping[str, int]
    no_segment: int
    slots: tuple[SlotCoverage, ...]
    unreceived: tuple[str, ...]
    defaults: Mapping[str, int]
    sizes: SizeStats
    experiments: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def slot(self, name: str) -> SlotCoverage:
        """The coverage of slot ``name``.

        Raises:
            RegistryError: the layout has no such slot.
        """
        for item in self.slots:
            if item.slot == name:
                return item
        names = [s.slot for s in self.slots]
        raise RegistryError(
            f"layout {self.layout!r} has no slot {name!r}",
            hint=did_you_mean(name, names) or f"slots: {', '.join(names) or 'none'}",
        )

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (for JSON); each slot's modules with count and share."""
        data = asdict(self) | {"now": self.now.isoformat()}
        data.update((key, list(data[key])) for key in ("failures", "slots", "unreceived"))
        for slot, item in zip(self.slots, data["slots"], strict=True):
            del item["total"]  # the report's `ok`
            item["modules"] = {
                m: {"count": n, "share": round(slot.share(m), 6)} for m, n in slot.modules.items()
            }
        return data


class Audience(Iterator[Any]):
    """A JSONL file's records, streamed: ``file`` is its name in errors (the path as given),
    ``line`` the line of the record yielded last (0 before the first)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.file, self.line = os.fspath(path), 0
        self._lines = read_jsonl(Path(path), display=self.file)

    def __next__(self) -> Any:
        self.line, value = next(self._lines)
        return value


def read_audience(path: str | os.PathLike[str]) -> Audience:
    """Each record of a JSONL file, one at a time; a line that is not JSON comes as an error.

    Blank lines are skipped. A bad line yields a ``ConfigError`` (with file and line) instead
    of a record, so that ``coverage`` counts it as failed and carries on. Given this iterator,
    ``coverage`` locates every failure by file and line.

    Raises:
        ConfigError: the file cannot be opened (on the first step).
    """
    return Audience(path)


def coverage(
    project: Project,
    layout: str,
    records: Iterable[Record | PersonalizeError],
    *,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    render_every: int = 1,
    max_failures: int = 20,
) -> CoverageReport:
    """Stream ``records`` through segments, decisions and rendering, keeping only counters.

    Memory stays flat however many records there are: no email or record is kept, HTML sizes
    go into a fixed-resolution histogram, and only the first ``max_failures`` errors are kept
    in full (all are counted).

    Args:
        project: The loaded project.
        layout: The layout name, e.g. ``"weekly"``.
        records: Records (mappings or ``Recipient``s), e.g. ``read_audience(path)`` (whose
            failures then name the file and line); an item that is a ``PersonalizeError`` (a
            line that was not JSON) counts as failed.
        now: The moment for everyone (default: the project's pinned ``now``, else the current
            time — read once).
        progress: Called with the number of records done, every few hundred and at the end.
        render_every: 1 renders every recipient in full; n > 1 decides everyone but renders
            only every n-th record (HTML sizes, template defaults and render errors then come
            from that sample); 0 renders no one. Deciding alone is ~2× faster. A locale
            Babel does not know fails every record that has it, rendered or not.
        max_failures: How many failures to keep in full.

    Raises:
        RegistryError: unknown layout.
        ConfigError: ``render_every`` or ``max_failures`` is negative.
    """
    project.registry.layout(layout)  # unknown: fail before reading any record
    for name, value in (("render_every", render_every), ("max_failures", max_failures)):
        if value < 0:
            raise ConfigError(
                f"{name} must be 0 or more, got {value!r}", hint="pass e.g. 1 (everyone)"
            )
    audience = records if isinstance(records, Audience) else None
    source = audience.file if audience is not None else None
    tally = _Tally(project, layout, now=project.now(now), max_failures=max_failures, source=source)
    done = 0
    for index, record in enumerate(records):
        line = audience.line if audience is not None else None
        tally.add(index, record, render=render_every > 0 and index % render_every == 0, line=line)
        done = index + 1
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done)
    if progress is not None:
        progress(done)
    return tally.report(render_every=render_every)


class _Tally:
    """The running counters of one coverage run (owned by it, never shared)."""

    def __init__(
        self, project: Project, layout: str, *, now: datetime, max_failures: int, source: str | None
    ) -> None:
        self.project = project
        self.layout = layout
        self.now = now
        self.max_failures = max_failures
        self.source = source  # the audience file, whose lines locate failures
        self.layout_ = project.registry.layout(layout)
        self.slots = tuple(s.name for s in self.layout_.slots)
        self.total = self.failed = self.rendered = self.classified = self.no_segment = 0
        self.failures: list[Failure] = []
        self.kinds: Counter[str] = Counter()
        self.segments: Counter[str] = Counter()
        self.chosen: dict[str, Counter[str | None]] = {s: Counter() for s in self.slots}
        self.fallback: Counter[str] = Counter()
        self.defaults: Counter[str] = Counter()
        self.experiments: dict[str, Counter[str]] = {}
        self.sizes = SizeHistogram()
        # Names each variant's templates use, so a decided-only recipient's defaulted fields
        # count as the rendered email would warn of them; bounded by the number of variants.
        self._names: dict[tuple[Any, ...], frozenset[str]] = {}

    def add(
        self, index: int, record: Record | PersonalizeError, *, render: bool, line: int | None
    ) -> None:
        self.total += 1
        if isinstance(record, PersonalizeError):
            self._fail(index, None, record, line)
            return
        project, now = self.project, self.now
        recipient: Recipient | None = None
        try:
            recipient = project.schema.validate(record, source=self.source, line=line)
            membership = project.classify(recipient, now=now)
            self._count_segments(membership.segments)
            unknown = _unknown_locale(recipient.locale)
            if render and unknown is None:
                email = project.render(self.layout, recipient, now=now, membership=membership)
                decisions: Mapping[str, str | None] = email.decisions
                arms: Mapping[str, str] = email.experiments
                size = len(email.html) if email.html.isascii() else len(email.html.encode())
                self.sizes.add(size, clip=project.settings.render.clip_bytes)
                defaulted = {m.group("field") for w in email.warnings if (m := _DEFAULTED.match(w))}
            else:
                # The membership above saves a second classification: a third of the time.
                decided = project.decide(self.layout, recipient, now=now, membership=membership)
                if unknown is not None:
                    # What the render raises, after the same decisions, without compiling a
                    # variant for a locale no email can be rendered in.
                    raise unknown.with_context(recipient=recipient.id)
                decisions, arms = decided.as_dict(), decided.experiments
                key = (decided.modules, recipient.locale)
                names = self._names.get(key)
                if names is None:
                    variant = project.variant(self.layout, decided, recipient.locale)
                    names = self._names[key] = variant.names
                defaulted = set(recipient.defaulted & names)
        except PersonalizeError as exc:
            self._fail(index, recipient.id if recipient else _record_id(record), exc, line)
            return
        self.rendered += render
        self.defaults.update(defaulted)
        for experiment, arm in arms.items():
            self.experiments.setdefault(experiment, Counter())[arm] += 1
        modules = self.project.registry.modules
        for slot in self.slots:
            module = decisions.get(slot)
            self.chosen[slot][module] += 1
            if module is not None and modules[module].is_fallback:
                self.fallback[slot] += 1

    def _count_segments(self, segments: frozenset[str]) -> None:
        self.classified += 1
        if segments:
            self.segments.update(segments)
        else:
            self.no_segment += 1

    def _fail(self, index: int, rid: str | None, exc: PersonalizeError, line: int | None) -> None:
        self.failed += 1
        kind = type(exc).__name__
        if exc.path:
            kind += f" at {_INDEX.sub('[]', exc.path)}"
        if kind not in self.kinds and len(self.kinds) >= _MAX_KINDS:
            kind = _OTHER_KINDS
        self.kinds[kind] += 1
        if len(self.failures) < self.max_failures:
            rid = exc.recipient if exc.recipient is not None else rid
            self.failures.append(
                Failure(index, rid, kind, at_record(exc, self.source, line)[1], line)
            )

    def report(self, *, render_every: int) -> CoverageReport:
        ok = self.total - self.failed
        slots = tuple(self._slot(slot, ok) for slot in self.layout_.slots)
        by_slot = self.project.registry.by_slot
        unreceived = tuple(
            m.id for s in slots for m in by_slot.get(s.slot, ()) if m.id not in s.modules
        )
        return CoverageReport(
            layout=self.layout,
            now=self.now,
            total=self.total,
            ok=ok,
            failed=self.failed,
            rendered=self.rendered,
            render_every=render_every,
            failures=tuple(self.failures),
            failure_kinds=dict(self.kinds.most_common()),
            classified=self.classified,
            segments={n: self.segments[n] for n in self.project.segments.names},
            no_segment=self.no_segment,
            slots=slots,
            unreceived=unreceived,
            defaults=dict(sorted(self.defaults.items(), key=lambda item: (-item[1], item[0]))),
            sizes=self.sizes.stats(clip=self.project.settings.render.clip_bytes),
            experiments={k: dict(sorted(v.items())) for k, v in sorted(self.experiments.items())},
        )

    def _slot(self, slot: Slot, ok: int) -> SlotCoverage:
        counts = self.chosen[slot.name]
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0] or ""))
        modules = {m: n for m, n in ranked if m is not None}
        fallback, empty = self.fallback[slot.name], counts[None]
        return SlotCoverage(slot.name, slot.required, modules, fallback, empty, total=ok)


def _unknown_locale(locale: str) -> PersonalizeError | None:
    """The error rendering raises for a locale Babel does not know; ``None`` if it knows it."""
    try:
        check_locale(locale)
    except PersonalizeError as exc:
        return exc
    return None


def _record_id(record: Any) -> str | None:
    value = record.get("id") if isinstance(record, Mapping) else None
    return str(value) if value is not None else None
