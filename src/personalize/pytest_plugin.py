"""The pytest plugin: an ``email_snapshot`` fixture keeping rendered emails as syrupy snapshots."""

# pytest loads it in every run (entry point pytest11 personalize), so it imports no other module
# of personalize until a test uses the fixture or a scrub option is given, and it loads with
# pytest 7 too, and without syrupy 6: then only the tests that use the fixture fail.

from __future__ import annotations

import dataclasses
import functools
import os
import re
import shlex
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

if TYPE_CHECKING:
    from pluggy import Result
    from syrupy.assertion import AssertionResult
    from syrupy.data import SnapshotCollection
    from syrupy.extensions.base import AbstractSyrupyExtension
    from syrupy.types import PropertyFilter, PropertyMatcher, SerializableData, SerializedData

    from personalize.testing import Scrubber

__all__ = ["EmailSnapshotExtension", "email_extension", "email_snapshot"]

try:
    from syrupy.assertion import DiffMode, SnapshotAssertion
    from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode
except ImportError:  # syrupy is optional: pip install 'personalize[snapshots]'
    _HAVE_SYRUPY = False
else:
    _HAVE_SYRUPY = True

_NEEDS_SYRUPY = "needs syrupy: pip install 'personalize[snapshots]'"
_SETTINGS = pytest.StashKey[tuple[tuple["Scrubber", ...], bool]]()
_CLASHES = pytest.StashKey[dict[str, str]]()  # node id → why its snapshot file is not its own
_FAILED = pytest.StashKey[bool]()  # the test failed in setup or call
_LONG_ID = 100  # pytest 9 names a test by position for a str parameter longer than this


if _HAVE_SYRUPY:

    class EmailSnapshotExtension(SingleFileSnapshotExtension):
        """A syrupy extension storing one ``RenderedEmail`` per file as its snapshot text.

        Files are ``__snapshots__/<test file>/<test name>.email.txt`` holding
        ``personalize.testing.snapshot_text(email)``; on a mismatch the report leads with
        ``personalize.testing.diff_summary`` (changed decisions, subject, text, then HTML).
        Configure scrubbers and headers with :func:`email_extension`.
        """

        _write_mode = WriteMode.TEXT
        file_extension = "email.txt"
        scrubbers: ClassVar[tuple[Scrubber, ...]] = ()
        headers: ClassVar[bool] = False

        def serialize(
            self,
            data: SerializableData,
            *,
            exclude: PropertyFilter | None = None,
            include: PropertyFilter | None = None,
            matcher: PropertyMatcher | None = None,
        ) -> SerializedData:
            """The snapshot text of a ``RenderedEmail``.

            Raises:
                PersonalizeError: ``data`` is not a ``RenderedEmail``.
            """
            from personalize.errors import PersonalizeError, short_repr
            from personalize.render import RenderedEmail
            from personalize.testing import snapshot_text

            if not isinstance(data, RenderedEmail):
                raise PersonalizeError(
                    f"email_snapshot compares rendered emails, got {type(data).__name__} "
                    f"{short_repr(data)}",
                    hint="assert project.render(layout, persona, now=NOW) == email_snapshot; "
                    "use syrupy's snapshot fixture for other values",
                )
            return snapshot_text(data, scrubbers=self.scrubbers, headers=self.headers)

        def diff_lines(
            self, serialized_data: SerializedData, snapshot_data: SerializedData
        ) -> Iterator[str]:
            """The lines of ``diff_summary(snapshot, rendered)``: decisions first."""
            from personalize.testing import diff_summary

            if not snapshot_data:  # missing or empty: EmailSnapshotAssertion says which
                return
            yield from diff_summary(str(snapshot_data), str(serialized_data)).splitlines()

        @classmethod
        def write_snapshot_collection(
            cls,
            *,
            snapshot_collection: SnapshotCollection,
            name_order: dict[str, int] | None = None,
        ) -> None:
            """Write the file as UTF-8 with ``\\n`` line ends on every platform.

            Text mode would write ``\\r\\n`` on Windows; reading stays in text mode, so a
            checkout that turned line ends into ``\\r\\n`` still compares equal.
            """
            data = next(iter(snapshot_collection)).data
            text = data if isinstance(data, str) else str(data)
            Path(snapshot_collection.location).write_bytes(text.encode("utf-8"))

    class EmailSnapshotAssertion(SnapshotAssertion):
        """syrupy's assertion; a test's own ``email_extension`` keeps the project's settings.

        The ini and ``--email-scrub`` scrubbers run first, then the extension's; headers if
        either asks for them.
        """

        def __call__(
            self,
            *,
            extension_class: type[AbstractSyrupyExtension] | None = None,
            **options: Any,
        ) -> SnapshotAssertion:
            return super().__call__(extension_class=self._with_project(extension_class), **options)

        def with_defaults(
            self,
            *,
            extension_class: type[AbstractSyrupyExtension] | None = None,
            **options: Any,
        ) -> SnapshotAssertion:
            extension_class = self._with_project(extension_class)
            return super().with_defaults(extension_class=extension_class, **options)

        def get_assert_diff(self, *, diff_mode: DiffMode = DiffMode.DETAILED) -> list[str]:
            """syrupy's lines, or one saying that the snapshot file is empty."""
            result = self.executions.get(self.num_executions - 1)
            if result is not None and result.exception is None and result.recalled_data == "":
                return [
                    f"Snapshot '{result.snapshot_name}' is an empty file: write it again with "
                    "pytest --snapshot-update"
                ]
            return super().get_assert_diff(diff_mode=diff_mode)

        def _with_project(
            self, extension_class: type[AbstractSyrupyExtension] | None
        ) -> type[AbstractSyrupyExtension] | None:
            if extension_class is None or not issubclass(extension_class, EmailSnapshotExtension):
                return extension_class
            scrubbers, headers = self.test_location.item.config.stash[_SETTINGS]
            own = tuple(s for s in extension_class.scrubbers if s not in scrubbers)
            return _extension((*scrubbers, *own), headers or extension_class.headers)


def email_extension(
    *, scrubbers: Iterable[Scrubber] = (), headers: bool = False
) -> type[EmailSnapshotExtension]:
    """An ``EmailSnapshotExtension`` class with these scrubbers (and headers, if asked).

    For one test that needs more scrubbers than the project's (which still run first)::

        ext = email_extension(scrubbers=[Scrubber(r"order-\\d+", "order-N")])
        assert email == email_snapshot(extension_class=ext)

    Raises:
        TypeError: ``scrubbers`` is not an iterable of ``Scrubber``.
        ImportError: syrupy is not installed.
    """
    if not _HAVE_SYRUPY:
        raise ImportError(f"email_extension {_NEEDS_SYRUPY}")
    from personalize.errors import short_repr
    from personalize.testing import Scrubber

    if isinstance(scrubbers, (str, Scrubber)) or not isinstance(scrubbers, Iterable):
        raise TypeError(
            f"email_extension(scrubbers=…) takes a list or tuple of Scrubber, got "
            f"{type(scrubbers).__name__} {short_repr(scrubbers)}"
        )
    scrubbers = tuple(scrubbers)
    for scrubber in scrubbers:
        if not isinstance(scrubber, Scrubber):
            raise TypeError(
                f"email_extension(scrubbers=…) takes Scrubber objects, got "
                f"{type(scrubber).__name__} {short_repr(scrubber)} — build one with "
                "Scrubber(pattern, replacement) or Scrubber.parse('PATTERN=REPLACEMENT')"
            )
    return _extension(scrubbers, bool(headers))


@functools.lru_cache(maxsize=64)
def _extension(scrubbers: tuple[Scrubber, ...], headers: bool) -> type[EmailSnapshotExtension]:
    # One class per setting, however many tests ask for it.
    if not scrubbers and not headers:
        return EmailSnapshotExtension
    # syrupy instantiates extensions without arguments, so the settings live on a subclass.
    # Under pytest-xdist it re-imports extensions by module and qualified name; the base class
    # found that way reads and deletes the same files.
    name = "EmailSnapshotExtension"
    settings = {"scrubbers": scrubbers, "headers": headers}
    return type(
        name, (EmailSnapshotExtension,), {**settings, "__module__": __name__, "__qualname__": name}
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``personalize`` option group, and the same settings as ini options."""
    group = parser.getgroup("personalize", "personalize email snapshots")
    group.addoption(
        "--email-scrub",
        action="append",
        default=[],
        metavar="PATTERN=REPL",
        dest="email_scrub",
        help="Replace a regular expression in email snapshots, e.g. '(?<=[?&]t=)\\w+=TOKEN' "
        "(split at the last '='; repeatable; added to the email_scrub ini lines).",
    )
    group.addoption(
        "--email-headers",
        action="store_true",
        default=False,
        dest="email_headers",
        help="Include the message headers (From, To, Subject, List-Unsubscribe, ...) in "
        "email snapshots.",
    )
    parser.addini("email_scrub", "PATTERN=REPL lines applied to email snapshots.", type="linelist")
    parser.addini(
        "email_headers", "Include message headers in email snapshots.", type="bool", default=False
    )


def pytest_configure(config: pytest.Config) -> None:
    """Check the scrub patterns once, before any test runs."""
    specs = [*config.getini("email_scrub"), *config.getoption("email_scrub")]
    headers = bool(config.getoption("email_headers") or config.getini("email_headers"))
    config.stash[_SETTINGS] = (_scrubbers(specs), headers)


def _scrubbers(specs: Iterable[str]) -> tuple[Scrubber, ...]:
    specs = list(specs)
    if not specs:  # leave personalize unimported until a test needs it
        return ()
    from personalize.errors import PersonalizeError
    from personalize.testing import Scrubber

    try:
        return tuple(Scrubber.parse(spec) for spec in specs)
    except PersonalizeError as exc:
        raise pytest.UsageError(f"--email-scrub / email_scrub: {exc}") from None


@pytest.fixture
def email_snapshot(request: pytest.FixtureRequest) -> SnapshotAssertion:
    """syrupy's ``snapshot``, storing rendered emails as readable text files.

    ``assert project.render("weekly", persona, now=NOW) == email_snapshot``; write or refresh
    the files with ``pytest --snapshot-update``.
    """
    problem = _syrupy_problem(request.config)
    if problem:
        pytest.fail(problem, pytrace=False)
    if _CLASHES not in request.config.stash:
        request.config.stash[_CLASHES] = _clashes(request.session.items)
    clash = request.config.stash[_CLASHES].get(request.node.nodeid)
    if clash:
        pytest.fail(clash, pytrace=False)
    scrubbers, headers = request.config.stash[_SETTINGS]
    snapshot: SnapshotAssertion = request.getfixturevalue("snapshot")
    # syrupy's snapshot with the email extension, as use_extension() makes it, in our subclass.
    options = {f.name: getattr(snapshot, f.name) for f in dataclasses.fields(snapshot) if f.init}
    options["extension_class"] = _extension(scrubbers, headers)
    return EmailSnapshotAssertion(**options)


def _syrupy_problem(config: pytest.Config) -> str | None:
    """Why the fixture cannot run with the syrupy at hand, if it cannot."""
    found = _syrupy_version() or ""
    major = found.split(".")[0]
    # syrupy 4 names the files *.raw; 5 deletes those of skipped or failed tests on update.
    if major.isdigit() and int(major) < 6:
        return (
            f"email_snapshot needs syrupy 6 or later (which needs pytest 8), found syrupy "
            f"{found}: pip install 'personalize[snapshots]'"
        )
    if not (_HAVE_SYRUPY and config.pluginmanager.hasplugin("syrupy")):
        return f"email_snapshot {_NEEDS_SYRUPY} (and do not disable it with -p no:syrupy)"
    return None


@functools.cache
def _syrupy_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("syrupy")
    except PackageNotFoundError:
        return None


def _clashes(items: Iterable[pytest.Item]) -> dict[str, str]:
    """Tests whose snapshot file is not theirs alone, and why."""
    from syrupy.location import PyTestLocation

    owners: dict[str, tuple[pytest.Item, str]] = {}
    clashes: dict[str, str] = {}
    for item in items:
        if "email_snapshot" not in getattr(item, "fixturenames", ()):
            continue
        positional = _positional_id(item)
        if positional:
            clashes[item.nodeid] = positional
            continue
        location = EmailSnapshotExtension.get_location(test_location=PyTestLocation(item), index=0)
        other, seen = owners.setdefault(location.lower(), (item, location))
        if other is item:
            continue
        file = Path(location)
        case = "" if seen == location else " on macOS and Windows, which ignore case"
        why = (
            "syrupy cuts file names at 255 characters: give the parameters shorter ids"
            if len(file.name) >= 255
            else 'syrupy leaves \\ / ? * : | " < > and control characters out of file names: '
            "give the parameters ids that differ in other characters"
        )
        clashes[item.nodeid] = clashes[other.nodeid] = (
            f"email_snapshot: tests {other.name} and {item.name} share the snapshot file "
            f"{file.parent.name}/{file.name}{case} — {why}, e.g. pytest.param(value, id=...)"
        )
    return clashes


def _positional_id(item: pytest.Item) -> str | None:
    """Why the test's id names a parameter by its position, if it does."""
    # pytest 9 ids a str value over 100 characters as argname + index: the snapshot file would
    # then belong to another value once the list changes.
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    for name, value in callspec.params.items():
        if not (isinstance(value, str | bytes) and len(value) > _LONG_ID):
            continue
        index = next(
            (p for p in callspec.id.split("-") if re.fullmatch(rf"{re.escape(name)}\d+", p)), ""
        )
        if index:
            return (
                f"email_snapshot: test {item.name} is named {index}, after the position of its "
                f"{name}, because that value is longer than {_LONG_ID} characters — its "
                f"snapshot file would belong to another {name} once the list changes: give the "
                f'parameters ids, e.g. @pytest.mark.parametrize("{name}", ..., ids=str)'
            )
    return None


@pytest.hookimpl(hookwrapper=True)  # not wrapper=True: pytest 7 may come with pluggy < 1.1
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Result[pytest.TestReport], None]:
    """Name the snapshot file and the command to accept it, with the whole diff if cut short."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed or "email_snapshot" not in getattr(item, "fixturenames", ()):
        return
    if call.when in ("setup", "call"):
        item.stash[_FAILED] = True
    assertion = getattr(item, "funcargs", {}).get("email_snapshot")
    if call.when != "call" or assertion is None:
        return
    message = str(call.excinfo.value) if call.excinfo else ""
    for result in assertion.executions.values():
        if not result.success and result.exception is None and result.asserted_data is not None:
            report.sections.append(_section(item, result, message))


def _section(item: pytest.Item, result: AssertionResult, message: str) -> tuple[str, str]:
    """The report section of one failed snapshot: what changed, its file, how to accept it."""
    from personalize.testing import diff_summary

    config = item.config
    file = _relative(result.snapshot_location, config)
    words = ["pytest", "--snapshot-update"]
    words += [f"--email-scrub={spec}" for spec in config.getoption("email_scrub")]
    words += ["--email-headers"] if config.getoption("email_headers") else []
    test_file, sep, test = item.nodeid.partition("::")  # a parameter may hold "/" or ".."
    node = _relative(str(config.rootpath / test_file), config) + sep + test
    command = shlex.join([*words, node])
    title = f"email snapshot {result.snapshot_name}"
    if result.recalled_data is None:
        return title, f"snapshot file: {file} (not written yet)\nwrite it: {command}"
    lines = [f"snapshot file: {file}", f"accept the change: {command}"]
    # The assertion message shows the summary, unless pytest cut it short (it does not with
    # -vv or on CI) or has none (--assert=plain); the user may have turned diffs off.
    cut = "Full output truncated" in message or "[+ received]" not in message
    if result.recalled_data and cut and str(config.getoption("diff_mode", "")) != "disabled":
        summary = diff_summary(str(result.recalled_data), str(result.asserted_data))
        return f"{title}: what changed", "\n".join([summary, "", *lines])
    return title, "\n".join(lines)


def _relative(path: str, config: pytest.Config) -> str:
    """``path`` from where pytest was started, as pytest prints node ids."""
    try:
        return os.path.relpath(path, config.invocation_params.dir)
    except ValueError:  # another drive on Windows
        return path


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Keep the snapshots of a failed test, which syrupy would delete on update as unused."""
    # A test that fails before its assertion (a render error) uses no snapshot; syrupy keeps
    # a skipped test's snapshots, and the failure is already reported, so call it skipped.
    if not item.stash.get(_FAILED, False) or _syrupy_problem(item.config):
        return
    syrupy_session = getattr(item.config, "_syrupy", None)  # syrupy 6 and 7 keep it there
    if syrupy_session is not None:
        syrupy_session.ran_item(item.nodeid, "skipped")
