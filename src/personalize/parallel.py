"""render_many: records in batches, stage by stage, in this process or in worker processes."""

from __future__ import annotations

import copyreg
import gc
import io
import multiprocessing
import pickle
import signal
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from multiprocessing.context import BaseContext
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, PersonalizeError, RenderError, short_repr
from .profile import Recipient
from .projectsnapshot import Snapshot, load_unchanged
from .render import RenderedEmail

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event as EventType

    from .project import Project, Record

__all__ = ["BATCH", "Outcome", "gc_paused", "iter_outcomes", "render_batch"]

# render_many takes records this many at a time and runs each stage (validation,
# classification, rendering) over the whole batch before the next: a stage's code and data then
# stay in the CPU caches. In-process A/B runs: 32 at a time is ~13 % faster than one record at
# a time, 256 a few % more, 1,000 a little more still; 256 keeps a batch's emails small (~7 MB,
# ~40 ms of work before the first is yielded).
BATCH = 256


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with Python's cyclic garbage collector off, then restore its state.

    A batch keeps every record's intermediate results alive until its last stage, so the
    collector's young generations fill with objects that outlive them and get traversed
    again and again, and full collections follow (each ~30 ms with a project loaded). The
    render path, variant builds included, makes no cycles (tests/test_parallel.py); anything
    cyclic made in the block would be collected after it. Never left off across a yield:
    callers pause one batch at a time. A collector that was already off stays off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@dataclass(frozen=True)
class Outcome:
    """One record's result in ``render_many``: an email or an error, never both."""

    index: int
    recipient: str | None
    email: RenderedEmail | None = None
    error: PersonalizeError | None = None

    @property
    def ok(self) -> bool:
        """Whether the record rendered."""
        return self.email is not None


def record_id(record: Mapping[str, Any]) -> str | None:
    value = record.get("id") if isinstance(record, Mapping) else None
    return str(value) if value is not None else None


def render_batch(
    project: Project, layout: str, items: Sequence[tuple[int, Record]], now: datetime
) -> list[Outcome]:
    """One outcome per ``(index, record)`` item, in order: what ``Project.render`` gives for
    each record (its email or its ``PersonalizeError``), stage by stage over the batch.

    The stages are ``Project.render``'s own steps (validate, classify, choose the variant,
    render it), called directly: going through ``render`` per record cost ~4 µs more.
    """
    outcomes: dict[int, Outcome] = {}
    validated: list[tuple[int, str | None, Recipient]] = []
    for index, record in items:
        rid = record.id if isinstance(record, Recipient) else record_id(record)
        try:
            validated.append((index, rid, project.recipient(record)))
        except PersonalizeError as exc:
            outcomes[index] = Outcome(index, rid, error=_detached(exc))
    classified = []
    for index, rid, r in validated:
        try:
            classified.append((index, rid, r, project._classify(r, now)))
        except PersonalizeError as exc:
            outcomes[index] = Outcome(index, rid, error=_detached(exc))
    chosen = []
    for index, rid, r, membership in classified:
        try:
            chosen.append((index, rid, r, membership, project._chosen(layout, r, membership, now)))
        except PersonalizeError as exc:
            outcomes[index] = Outcome(index, rid, error=_detached(exc))
    for index, rid, r, membership, (choice, variant) in chosen:
        try:
            email = project._render_chosen(choice, variant, r, membership, now)
            outcomes[index] = _rendered(index, rid, email)
        except PersonalizeError as exc:
            outcomes[index] = Outcome(index, rid, error=_detached(exc))
    return [outcomes[index] for index, _ in items]


def _rendered(index: int, rid: str | None, email: RenderedEmail) -> Outcome:
    """``Outcome(index, rid, email=email)``, ~0.5 µs faster: the frozen dataclass's
    ``__init__`` sets each field through ``object.__setattr__`` (as ``render._email``)."""
    outcome: Outcome = object.__new__(Outcome)
    outcome.__dict__.update(index=index, recipient=rid, email=email, error=None)
    return outcome


def _detached(exc: PersonalizeError) -> PersonalizeError:
    """``exc`` without tracebacks: a failed outcome kept for a report must not keep its batch.

    A traceback holds frames, and each frame its caller's (``f_back``) with its locals: the
    batch's records, emails and intermediate results, and the caller's input. Errors that
    ``exc`` was raised from lose their tracebacks too, and a context hidden by ``from None``
    goes (a pydantic error keeps the exceptions of failed validators, with tracebacks). The
    message names the record, field, file and line; a worker process's errors come back
    without tracebacks as well.
    """
    pending: list[BaseException] = [exc]
    while pending:
        error = pending.pop()
        error.__traceback__ = None
        if error.__suppress_context__:
            error.__context__ = None
        pending.extend(e for e in (error.__cause__, error.__context__) if e is not None)
    return exc


def check_options(*, workers: int, chunk_size: int) -> None:
    """Refuse what would render nothing or fail later (``chunk_size=0`` yielded no outcomes).

    Raises:
        ConfigError: ``workers`` or ``chunk_size`` is not a whole number of at least 1.
    """
    for name, value in (("workers", workers), ("chunk_size", chunk_size)):
        if type(value) is not int or value < 1:
            hint = "1 renders in this process" if name == "workers" else "the default is 256"
            raise ConfigError(
                f"expected a whole number of at least 1, got {short_repr(value)}",
                path=name,
                hint=hint,
            )


def iter_outcomes(
    project: Project,
    layout: str,
    records: Iterable[Record],
    *,
    now: datetime,
    workers: int,
    chunk_size: int,
) -> Iterator[Outcome]:
    """``Project.render_many``: batches in this process, or chunks in worker processes."""
    if workers <= 1:
        numbered = enumerate(records)
        while batch := list(islice(numbered, BATCH)):
            with gc_paused():
                outcomes = render_batch(project, layout, batch, now)
            yield from outcomes
        return
    yield from _in_workers(project, layout, records, now, workers=workers, chunk_size=chunk_size)


def _in_workers(
    project: Project,
    layout: str,
    records: Iterable[Record],
    now: datetime,
    *,
    workers: int,
    chunk_size: int,
) -> Iterator[Outcome]:
    """Parts of ``chunk_size`` records rendered by ``workers`` processes, yielded in order.

    A part that cannot go to a worker or come back (it does not pickle, or a bug raised) is
    rendered here instead, so every record gets the outcome it gets without workers.

    Raises:
        RenderError: a worker process died; names the first record without an outcome.
        ConfigError: a worker could not load the project as the caller loaded it.
    """
    context = start_context()
    # Forked workers start with the caller's project as it is in memory; others load it from
    # disk and check that its files are still those it was loaded from.
    forked = context.get_start_method() == "fork"
    source = project if forked else project._snapshot
    # Set by the first worker that gets as far as its initializer: a pool that breaks before
    # that, when not forked, failed to import the main script again (see _received).
    started = context.Event()
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=start_worker, initargs=(source, started)
    )
    numbered = enumerate(records)
    try:
        while chunk := list(islice(numbered, chunk_size * workers)):
            parts = [chunk[i : i + chunk_size] for i in range(0, len(chunk), chunk_size)]
            jobs = [_submitted(pool, (layout, part, now)) for part in parts]
            for part, job in zip(parts, jobs, strict=True):
                unstarted = None if forked or started.is_set() else context.get_start_method()
                outcomes = _received(job, first=part[0][0], unstarted=unstarted)
                if outcomes is None:
                    with gc_paused():
                        outcomes = render_batch(project, layout, part, now)
                yield from outcomes
    finally:
        # Also on Ctrl-C or an early break: parts not started are dropped, and the workers
        # (which ignore SIGINT) finish the ones they hold and exit.
        pool.shutdown(wait=True, cancel_futures=True)


def start_context() -> BaseContext:
    """How worker processes start: the platform's default (tests choose others)."""
    return multiprocessing.get_context()


def _submitted(pool: ProcessPoolExecutor, job: Job) -> Future[bytes | None] | None:
    """The job sent to a worker, or None when it does not pickle (a database row)."""
    try:
        payload = dumps(job)
    except Exception:  # whatever a record's own __reduce__ raises, RecursionError included
        return None
    try:
        return pool.submit(render_chunk, payload)
    except BrokenProcessPool as exc:  # a worker died while idle: reported in turn, as any
        broken: Future[bytes | None] = Future()
        broken.set_exception(exc)
        return broken


def _received(
    job: Future[bytes | None] | None, *, first: int, unstarted: str | None = None
) -> list[Outcome] | None:
    """A part's outcomes from its worker, or None to render the part here.

    ``unstarted``: the start method, while no worker has reached its initializer (a forked
    one always has: it imports nothing).
    """
    if job is None:
        return None
    try:
        result = job.result()
    except BrokenProcessPool as exc:
        if unstarted is not None:
            # A spawned worker imports the main script again before its initializer; a script
            # that renders at its top level then starts workers of its own, which Python
            # refuses, and the worker dies (its traceback is printed above ours).
            raise RenderError(
                "no worker process started: each one ended while importing the main script "
                f"again, as the {unstarted!r} start method does — "
                "the script starts its work when imported",
                hint='put the script\'s work under `if __name__ == "__main__":`, or pass workers=1',
            ) from exc
        raise RenderError(
            f"a worker process ended abruptly (killed, or out of memory?): the records from "
            f"index {first} on have no outcome",
            hint=f"every record before index {first} has its outcome; render the rest again, "
            "e.g. with fewer workers or a smaller chunk_size",
        ) from exc
    except PersonalizeError as exc:  # the worker could not load the project
        raise exc.with_context() from None
    if result is None:
        return None
    try:
        outcomes: list[Outcome] = pickle.loads(result)
    except Exception:  # e.g. a value of a record's error that cannot be rebuilt here
        return None
    return outcomes


Job = tuple[str, Sequence[tuple[int, Any]], datetime]


def _proxy(mapping: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(mapping)


# Recipients, their nested objects and emails' decisions are read-only mappings, which pickle
# does not handle: they travel as dicts and arrive read-only again.
_REDUCERS = MappingProxyType(
    {**copyreg.dispatch_table, MappingProxyType: lambda proxy: (_proxy, (dict(proxy),))}
)


def dumps(value: object) -> bytes:
    """``value`` pickled, read-only mappings included."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _REDUCERS
    pickler.dump(value)
    return buffer.getvalue()


# The worker process's project, or the error that kept it from loading.
_WORKER: Project | Exception | None = None


def start_worker(source: Project | Snapshot, started: EventType) -> None:
    """A worker process's initializer: ignore Ctrl-C, and take or load the project once.

    Ctrl-C reaches every process of the terminal's group; a worker interrupted while it sends
    a result left the caller's pool waiting for the rest forever. The caller stops the pool.
    """
    started.set()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _WORKER  # one project per worker process
    try:
        _WORKER = source if not isinstance(source, Snapshot) else load_unchanged(source)
    except Exception as exc:  # raised at each part, so the caller sees it, not a dead worker
        _WORKER = exc


def render_chunk(payload: bytes) -> bytes | None:
    """A worker's part: its outcomes, pickled; None to have the caller render the part.

    Raises:
        Exception: what kept the worker from loading the project (a ``PersonalizeError``).
    """
    if isinstance(_WORKER, Exception):
        raise _WORKER
    assert _WORKER is not None
    try:
        layout, items, now = pickle.loads(payload)
        with gc_paused():
            outcomes = render_batch(_WORKER, layout, items, now)
        return dumps(outcomes)
    except Exception:
        # The part does not unpickle here, an outcome does not pickle, or a bug raised: the
        # caller renders the part as without workers, and a bug raises there, in its process.
        return None
