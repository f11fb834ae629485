"""The ``personalize`` command group, shared options and helpers, and the entry point."""

from __future__ import annotations

import os
import sys
import traceback
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, NoReturn, TextIO, cast

import click
from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from personalize.errors import ConfigError, PersonalizeError, did_you_mean
from personalize.profile import Recipient
from personalize.project import Project
from personalize.records import count_jsonl, read_jsonl

# markup=False: ids, subjects and explanations hold recipient data, which rich would otherwise
# read as markup ("[/x]" raises, "[link=…]" makes a hyperlink in the operator's terminal).
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
PROGRESS_FROM = 20  # show a progress bar when rendering at least this many emails
_WIDEST = 10_000  # piped output is measured up to this width; wider cells fold, never truncate

# Control characters (ESC starts terminal sequences) and bidi overrides, written as escapes.
_CONTROLS = {
    c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"
    for c in (*range(0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A))
    if c not in (0x09, 0x0A)
}


def plain(text: object) -> str:
    """``text`` with control characters written as escapes, fit for a terminal."""
    return str(text).translate(_CONTROLS)


def safe(text: object, style: str = "") -> Text:
    """Text for the terminal from data: no markup, control characters shown as escapes."""
    return Text(plain(text), style=style)


def show(renderable: RenderableType) -> None:
    """Print a table to stdout: on a terminal it fits the window; piped, at its natural width.

    Tables fold long module and recipient ids instead of cutting them with "…" (two ids that
    share a prefix would look the same). A pipe has no window: fitting it to 80 columns would
    fold them for nothing.
    """
    console = out
    if not out.is_terminal:
        natural = Measurement.get(out, out.options.update(max_width=_WIDEST), renderable).maximum
        width = max(natural, out.width)
        console = Console(file=out.file, width=width, highlight=False, soft_wrap=True, markup=False)
    console.print(renderable)


def colours_shown() -> bool:
    """Whether stdout shows colours (a terminal without NO_COLOR): else a colour legend is noise."""
    return out.is_terminal and out.color_system is not None and not out.no_color


def zoned(now: datetime, tz: tzinfo) -> str:
    """``2026-12-01T00:30+01:00 (Europe/Berlin)``: ``now`` in the project's zone, named.

    Date windows are in that zone; ``now`` in the offset it was typed in (23:30 UTC on the
    30th) would look inside a window that in Berlin already ended.
    """
    try:
        local = now.astimezone(tz)
    except OverflowError:  # the zone's wall clock is past the calendar's end: keep it as given
        local = now
    return f"{local.isoformat(timespec='minutes')} ({tz})"


class State:
    def __init__(self, project: str | None, debug: bool) -> None:
        self.project_dir = project or os.environ.get("PERSONALIZE_PROJECT") or "."
        self.debug = debug
        self._project: Project | None = None

    @property
    def project(self) -> Project:
        if self._project is None:
            self._project = Project.load(self.project_dir)
        return self._project


class NowError(click.BadParameter):
    """A ``--now`` that is not a moment: a usage error whose parts a JSON report can give."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(f"{message} — {hint}" if hint else message, param_hint="--now")
        self.reason, self.hint = message, hint

    def to_dict(self) -> dict[str, Any]:
        """The error as ``PersonalizeError.to_dict`` gives one, for JSON reports."""
        return {
            "type": "UsageError",
            "message": self.reason,
            "file": None,
            "line": None,
            "recipient": None,
            "path": "--now",
            "hint": self.hint,
        }


def parse_now(value: str | None, tz: tzinfo | None = None) -> datetime | None:
    """The ``--now`` option's moment; a usage error if it is not one, or has no UTC time.

    Every stage works in UTC, so a moment whose UTC time falls outside years 1 to 9999
    (``9999-12-31T23:59:59-05:00``) is refused here rather than failing deep inside. A
    moment without an offset is read in ``tz``, the project's zone (unchecked without it).

    Raises:
        NowError: not an ISO date-time, or outside the calendar in UTC.
    """
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise NowError(
            f"expected an ISO date-time such as 2026-11-27T09:00:00+01:00, got {value!r}"
        ) from None
    read = moment if moment.tzinfo is not None or tz is None else moment.replace(tzinfo=tz)
    try:
        if read.tzinfo is not None:
            read.astimezone(UTC)
    except OverflowError:
        where = "" if moment.tzinfo is not None else f" (read in {tz})"
        side = "before 0001-01-01" if moment.year == 1 else "after 9999-12-31"
        raise NowError(
            f"expected a moment between the years 1 and 9999 in UTC, got {value!r}{where}, "
            f"which is {side} in UTC",
            "pass a date-time inside the calendar, such as 2026-11-27T09:00:00+01:00",
        ) from None
    return moment


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--project",
    "-p",
    type=click.Path(file_okay=False),
    default=None,
    help="Project folder (default: the current folder, or $PERSONALIZE_PROJECT).",
)
@click.option("--debug", is_flag=True, help="Show the Python traceback on errors.")
@click.version_option(package_name="personalize")
@click.pass_context
def cli(ctx: click.Context, project: str | None, debug: bool) -> None:
    """Render personalized marketing emails from segments, modules and layouts."""
    ctx.obj = State(project, debug)


class Chosen(NamedTuple):
    """A recipient to render, and its line in ``--data`` (``None`` for a persona)."""

    recipient: Recipient
    line: int | None = None


def records(
    state: State,
    recipients: tuple[str, ...],
    everyone: bool,
    data: str | None,
    failures: list[PersonalizeError] | None = None,
) -> list[Chosen]:
    """The chosen recipients: personas, or records of ``--data`` (by id, or all).

    ``--data`` is read once, from start to end: it may be a pipe (``--data <(zcat …)``).
    Records of it that do not validate go to ``failures`` (when given) so the others still
    render; without ``failures`` the first one raises.
    """
    project = state.project
    if data is None:
        personas = project.personas
        if everyone:
            return [Chosen(p) for p in personas.values()]
        missing = [r for r in recipients if r not in personas]
        if missing:
            raise ConfigError(
                f"no persona {missing[0]!r} in {project.settings.project.personas}",
                hint=did_you_mean(missing[0], personas)
                or f"personas: {', '.join(personas) or 'none'}; or pass --data FILE.jsonl",
            )
        return [Chosen(personas[r]) for r in recipients]
    wanted = set(recipients)
    found: list[Chosen] = []
    seen: set[str] = set()
    unread: list[PersonalizeError] = []  # lines that are not JSON: one may be the wanted record
    # Not resolved: /dev/stdin would become /proc/<pid>/fd/pipe:[N], which cannot be opened.
    for line, record in read_jsonl(data):
        if isinstance(record, PersonalizeError):  # a line that is not JSON
            unread.append(record)
            if everyone:
                _collect(record, failures)
            continue
        rid = record.get("id") if isinstance(record, dict) else None
        if rid is not None:
            seen.add(str(rid))
        if not (everyone or (rid is not None and str(rid) in wanted)):
            continue
        try:
            found.append(Chosen(project.schema.validate(record, source=data, line=line), line))
        except PersonalizeError as exc:
            _collect(exc, failures)
    missing = sorted(wanted - seen)
    if missing:
        # difflib is linear in the ids: no suggestion from a file of millions.
        close = did_you_mean(missing[0], seen) if len(seen) <= 20_000 else None
        hint = close or "check the id, or pass --all"
        if unread:
            hint += (
                f"; {len(unread)} line{'s' if len(unread) > 1 else ''} could not be read, "
                f"the first: {unread[0]}"
            )
        raise ConfigError(f"no record with id {missing[0]!r}", file=data, hint=hint)
    return found


def _collect(exc: PersonalizeError, failures: list[PersonalizeError] | None) -> None:
    if failures is None:
        raise exc
    failures.append(exc)


def duplicate_ids(chosen: list[Chosen], data: str | None) -> None:
    """Refuse two chosen records with the same id: their results could not be told apart."""
    seen: set[str] = set()
    for recipient, _ in chosen:
        if recipient.id in seen:
            raise ConfigError(
                f"two records have the id {recipient.id!r}",
                file=data,
                hint="give every record its own id",
            )
        seen.add(recipient.id)


def count_records(path: Path, *, display: str) -> int | None:
    """Non-blank lines, for a progress bar's total (one quick pass over the file).

    ``None`` for what is not a regular file: a pipe, a FIFO or a terminal can be read only
    once, and counting would leave nothing to read after it.
    """
    return count_jsonl(path, display=display) if path.is_file() else None


def progress_bar(total: int | None, label: str = "rendering") -> Progress:
    """A bar on stderr for long runs: hidden below PROGRESS_FROM items or off a terminal; a
    stream's length (``None``) is unknown, so its bar shows."""
    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=(total is not None and total < PROGRESS_FROM) or not err.is_terminal,
        transient=True,
    )


class OutputError(OSError):
    """Writing stdout failed (a full disk, a closed socket): the system's refusal, not a bug."""


class _Output:
    """``sys.stdout``, with its write errors told apart from other OSErrors.

    Every command writes through it (rich, click.echo, csv), so ``main`` can say that the
    output could not be written, rather than blame personalize for a full disk.
    """

    def __init__(self, stream: TextIO | BinaryIO) -> None:
        self.stream = stream

    def write(self, text: Any) -> int:
        try:
            return self.stream.write(text)
        except OSError as exc:  # keeps errno: click still quiets a broken pipe (EPIPE)
            raise OutputError(exc.errno, exc.strerror) from exc

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as exc:
            raise OutputError(exc.errno, exc.strerror) from exc

    def __getattr__(self, name: str) -> Any:  # isatty, encoding, fileno: the stream's own
        value = getattr(self.stream, name)
        # click writes bytes through .buffer when it finds the text stream's encoding unfit.
        return _Output(value) if name == "buffer" else value


def _fail(message: str, code: int) -> NoReturn:
    err.print(safe(message, style="red"))
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``personalize`` command: one-paragraph errors, never a traceback."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    stdout = sys.stdout
    if stdout is not None:  # None when started with stdout closed
        sys.stdout = cast(TextIO, _Output(stdout))
    try:
        cli.main(args=argv, prog_name="personalize", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort as exc:
        # click turns Ctrl-C into Abort; shells expect 130 for an interrupt.
        if isinstance(exc.__context__, KeyboardInterrupt):
            _fail("interrupted", 130)
        _fail("aborted", 1)
    except click.ClickException as exc:  # usage errors: exit 2 with click's usual message
        exc.show()
        sys.exit(exc.exit_code)
    except PersonalizeError as exc:
        if debug:
            traceback.print_exc()
        _fail(f"error: {exc}", 1)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except OutputError as exc:
        if debug:
            traceback.print_exc()
        _fail(
            f"error: cannot write the output: {exc.strerror or exc} — check where stdout goes: "
            "a full disk or a closed connection refuses it",
            1,
        )
    except Exception as exc:  # a bug in personalize, not in the project: say so, briefly
        if debug:
            traceback.print_exc()
        _fail(
            f"internal error: {type(exc).__name__}: {exc} — this is a bug in personalize; rerun "
            "with --debug for the traceback and report it",
            1,
        )
    finally:
        if isinstance(sys.stdout, _Output):  # click may have wrapped it for a broken pipe
            sys.stdout = stdout
