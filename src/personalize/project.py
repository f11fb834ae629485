"""The Project: loads a project folder once, owns the variant cache, renders and explains."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .cache import LRUCache
from .calibration import Calibration
from .choices import Choices, Chosen
from .compile import CompiledVariant, Fragments, VariantKey, compile_variant
from .config import Settings
from .decide import Decisions, Explanation, RecipientScope, decide
from .errors import PersonalizeError
from .experimentfile import load_experiments
from .experiments import Experiment
from .lint import LintReport, lint_project
from .parallel import Outcome, check_options, iter_outcomes
from .prepare import Prepared
from .profile import Recipient, Schema
from .projectexplain import explanation, reference_email
from .projectload import load_parts, read_personas, read_records
from .projectsnapshot import Snapshot
from .registry import Registry
from .render import RenderedEmail, render_email
from .rfmfile import check_writable
from .scope import exact_now
from .segments import Membership, Segments
from .templating import Environments
from .text import ParseCache
from .variants import Variants

__all__ = ["Outcome", "Project"]

Record = Mapping[str, Any] | Recipient


class Project:
    """A loaded project: settings, schema, segments, layouts and modules, checked up front.

    Build one with :meth:`Project.load` and reuse it: loading checks every file once, and the
    project keeps compiled variants in a bounded cache, so per recipient only Jinja runs.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        schema: Schema,
        segments: Segments,
        registry: Registry,
        prepared: Prepared,
        envs: Environments,
    ) -> None:
        self.settings = settings
        self.schema = schema
        self.segments = segments
        self.registry = registry
        self.experiments: Mapping[str, Experiment] = load_experiments(registry)
        self._prepared = prepared
        self._envs = envs
        # Skeletons and module regions shared between variants (keyed by their source).
        self._fragments: Fragments = LRUCache(settings.render.cache_size * 8)
        self._parsed: ParseCache = LRUCache(settings.render.cache_size * 8)
        # The builder holds what compiling needs, not the project: a project that refers to
        # itself would outlive its last reference until the cyclic collector runs.
        build = functools.partial(
            compile_variant,
            registry=registry,
            prepared=prepared,
            envs=envs,
            settings=settings,
            fragments=self._fragments,
            parsed=self._parsed,
        )
        self._variants = Variants(settings.render.cache_size, settings.render.merge_after, build)
        self._personas: dict[str, Recipient] | None = None
        self._choices = Choices(registry, segments.segments, schema.tz, self.experiments)
        # What workers that load the project from disk must find there (render_many).
        self._snapshot = Snapshot.of(settings, segments, registry)

    @classmethod
    def load(cls, path: str | os.PathLike[str] = ".") -> Project:
        """Load and check the project in ``path`` (the folder holding personalize.toml).

        Raises:
            PersonalizeError: the first problem found, naming file, line and key.
        """
        parts = load_parts(path)
        return cls(
            parts.settings,
            schema=parts.schema,
            segments=parts.segments,
            registry=parts.registry,
            prepared=parts.prepared,
            envs=parts.envs,
        )

    # -- inputs -----------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        """The project folder."""
        return self.settings.root

    @property
    def layouts(self) -> tuple[str, ...]:
        """Layout names, sorted."""
        return tuple(sorted(self.registry.layouts))

    @property
    def personas(self) -> Mapping[str, Recipient]:
        """The named sample recipients of ``personas.jsonl``, validated, in file order."""
        if self._personas is None:
            self._personas = read_personas(self.settings, self.schema)
        return self._personas

    def read_records(self, path: str | os.PathLike[str]) -> Iterator[Recipient]:
        """Validate every line of a JSONL file (relative paths are read from the project)."""
        return read_records(self.schema, self.root, path)

    def recipient(self, record: Record) -> Recipient:
        """Validate a record (a mapping) into a ``Recipient``; a ``Recipient`` passes through."""
        return self.schema.validate(record)

    def now(self, now: datetime | None = None) -> datetime:
        """``now`` made aware, else the project's pinned ``now``, else the current time.

        Raises:
            RuleError: ``now`` falls outside years 1 to 9999 in UTC (path ``now``). It is the
                caller's argument, so no file or recipient is blamed for it.
        """
        if now is None:
            return self.settings.project.now or datetime.now(UTC)
        aware = now if now.tzinfo else now.replace(tzinfo=self.schema.tz)
        exact_now(aware, self.schema.tz)  # checks the range once; remembered for the batch
        return aware

    # -- stages -----------------------------------------------------------------------------

    def classify(
        self, recipient: Record, *, now: datetime | None = None, trace: bool = False
    ) -> Membership:
        """Segment membership and metric values of a recipient."""
        r = self.recipient(recipient)
        return self.segments.classify(
            r.data, now=self.now(now), tz=self.schema.tz, recipient=r.id, trace=trace
        )

    def decide(
        self,
        layout: str,
        recipient: Record,
        *,
        now: datetime | None = None,
        explain: bool = False,
        membership: Membership | None = None,
    ) -> Decisions:
        """The module chosen for each slot of ``layout``.

        ``membership``, from ``classify`` of the same recipient at the same ``now``, saves
        classifying again.
        """
        r, membership, moment = self._inputs(recipient, now, trace=explain, membership=membership)
        return self._decide(layout, r, membership, moment, explain=explain)

    def _inputs(
        self,
        recipient: Record,
        now: datetime | None,
        *,
        trace: bool,
        membership: Membership | None = None,
    ) -> tuple[Recipient, Membership, datetime]:
        """The validated recipient, its membership (``membership`` when given), the moment."""
        r = self.recipient(recipient)
        moment = self.now(now)
        if membership is None:
            membership = self._classify(r, moment, trace=trace)
        return r, membership, moment

    def _classify(self, r: Recipient, now: datetime, *, trace: bool = False) -> Membership:
        return self.segments.classify(
            r.data, now=now, tz=self.schema.tz, recipient=r.id, trace=trace
        )

    def _decide(
        self, layout: str, r: Recipient, membership: Membership, now: datetime, *, explain: bool
    ) -> Decisions:
        scope = RecipientScope(
            r.data, membership, segments=self.segments.segments, now=now, tz=self.schema.tz
        )
        return decide(
            self.registry.layout(layout),
            self.registry,
            membership=membership,
            scope=scope,
            locale=r.locale,
            recipient=r.id,
            explain=explain,
            experiments=self.experiments,
        )

    def variant(self, layout: str, decisions: Decisions, locale: str) -> CompiledVariant:
        """The compiled variant for these decisions and locale (built once, then cached)."""
        return self._variants.get(VariantKey(layout, decisions.modules, locale))

    # -- the public jobs ----------------------------------------------------------------------

    def render(
        self,
        layout: str,
        recipient: Record,
        *,
        now: datetime | None = None,
        membership: Membership | None = None,
    ) -> RenderedEmail:
        """Render ``layout`` for one recipient.

        Args:
            layout: A layout name, e.g. ``"weekly"`` for ``templates/weekly.mjml``.
            recipient: A record (mapping) or a validated ``Recipient``.
            now: The moment to render for (defaults: the project's pinned ``now``, else the
                current time). Date windows, metrics and relative dates use it.
            membership: ``classify``'s result for the same recipient and ``now``, which saves
                classifying again.

        Raises:
            PersonalizeError: validation, decision or render problems, located.
        """
        r, membership, moment = self._inputs(recipient, now, trace=False, membership=membership)
        return self._render_classified(layout, r, membership, moment)

    def _render_classified(
        self, layout: str, r: Recipient, membership: Membership, now: datetime
    ) -> RenderedEmail:
        """The rest of ``render`` once the recipient is validated and classified."""
        chosen, variant = self._chosen(layout, r, membership, now)
        return self._render_chosen(chosen, variant, r, membership, now)

    def _chosen(
        self, layout: str, r: Recipient, membership: Membership, now: datetime
    ) -> tuple[Chosen, CompiledVariant]:
        """The decisions for a classified recipient, and their compiled variant."""
        chosen = self._choices.chosen(layout, r, membership, now, self._decide)
        try:
            return chosen, self._variants.for_render(chosen.key)
        except PersonalizeError as exc:  # a variant compiles on first use: say who needed it
            raise exc.with_context(recipient=r.id) from None

    def _render_chosen(
        self,
        chosen: Chosen,
        variant: CompiledVariant,
        r: Recipient,
        membership: Membership,
        now: datetime,
    ) -> RenderedEmail:
        """The email of a recipient whose variant is chosen (``_chosen``)."""
        return render_email(
            variant,
            recipient=r,
            membership=membership,
            decisions=chosen.decisions,
            now=now,
            limits=self.settings.limits,
            clip_bytes=self.settings.render.clip_bytes,
            message=self.settings.message,
            experiments=chosen.experiments,
        )

    def render_reference(
        self, layout: str, recipient: Record, *, now: datetime | None = None
    ) -> RenderedEmail:
        """Render the slow way (Jinja, MJML, inliner per recipient); for differential tests.

        A test oracle only: it skips the URL and CSS checks ``render`` adds by context, so
        what it returns must never be sent.
        """
        return reference_email(self, layout, recipient, now=now)

    def explain(
        self, layout: str, recipient: Record, *, now: datetime | None = None
    ) -> Explanation:
        """Why each slot got its module: every candidate, and the condition that failed.

        ``print(project.explain("weekly", persona))`` shows it readably; the fields hold the
        same facts as data.
        """
        return explanation(self, layout, recipient, now=now)

    def calibrate(
        self,
        audience: str | os.PathLike[str],
        *,
        now: datetime | None = None,
        write: bool = True,
        source: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Calibration:
        """RFM cut points from the quintiles of an audience (a JSONL file), streamed.

        With ``write``, they go to the file named by ``rfm: cut_points:`` in the segments file;
        load the project again to score with them. Records that do not validate, and lines
        that are not JSON, are skipped and counted. See docs/scores-and-rfm.md.

        Args:
            audience: A JSONL file of recipient records (relative paths are read from the
                project).
            now: The moment the metrics are computed at (default: as for ``render``).
            write: Write the cut points file.
            source: The audience's name in errors and in the file's header (default: the
                path as given).
            progress: Called with the number of records read, every thousand and at the end.

        Raises:
            ConfigError: no ``rfm:`` section, the file cannot be read, fewer than 2
                recipients with all three values; with ``write``, inline cut points or a
                cut points folder that does not exist (both found before reading).
        """
        calibrator = self.segments.calibrator(now=self.now(now), tz=self.schema.tz)
        if write:
            check_writable(calibrator.rfm)  # before a long read, not after it
        name = source or str(audience)
        calibrator.add_jsonl(
            self.root / audience,
            lambda record, line: self.schema.validate(record, source=name, line=line),
            display=name,
            progress=progress,
        )
        return calibrator.finish(source=name, write=write)

    def render_many(
        self,
        layout: str,
        records: Iterable[Record],
        *,
        now: datetime | None = None,
        workers: int = 1,
        chunk_size: int = 256,
    ) -> Iterator[Outcome]:
        """Render many records in input order; each yields an email or an error, none dropped.

        With ``workers`` > 1, records are rendered in that many processes, with the project as
        it was loaded; results still come back in input order, each as without workers.

        Raises:
            ConfigError: bad ``workers`` or ``chunk_size``; workers that load the project from
                disk (not forked) found its files changed since it was loaded.
            RenderError: a worker process died; names the first record without an outcome.
        """
        check_options(workers=workers, chunk_size=chunk_size)
        return iter_outcomes(
            self, layout, records, now=self.now(now), workers=workers, chunk_size=chunk_size
        )

    def lint(self, *, now: datetime | None = None) -> LintReport:
        """Check every file of the project for mistakes and risks (docs/lint.md lists codes).

        Lint reads the files again, tolerantly, so it reports every problem at once.
        """
        return lint_project(self.root, now=self.now(now))

    @property
    def cache_info(self) -> dict[str, int]:
        """Variant cache figures: size, hits, misses, and how many variants were compiled whole
        after ``[render] merge_after`` renders (merged)."""
        return self._variants.info()
