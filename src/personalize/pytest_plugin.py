"""The pytest plugin: an ``email_snapshot`` fixture keeping rendered emails as syrupy snapshots."""

# pytest loads it in every run (entry point pytest11 personalize), so it imports no other module
# of personalize until a test uses the fixture or a scrub option is given, and it loads with
# pytest 6 and 7 too, and without syrupy 7.0.1: then only the tests that use the fixture fail.

from __future__ import annotations

import dataclasses
import functools
import re
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
_SYRUPY = (7, 0, 1)  # 4 names files *.raw, 5 deletes skipped tests' files, 6 cuts names at 256
_NOT_RUN = "personalize_not_run"  # a pytest-xdist worker's email tests that it did not run

if hasattr(pytest, "StashKey"):  # pytest 6 has no stash: _syrupy_problem then stops each hook
    _SETTINGS = pytest.StashKey[tuple[tuple["Scrubber", ...], bool]]()
    _CLASHES = pytest.StashKey[dict[str, str]]()  # node id → why its snapshot file is not its own
    _PASSED = pytest.StashKey[bool]()  # False once set up, True when its call passed
    _ASSERTIONS = pytest.StashKey[list["SnapshotAssertion"]]()  # the test's email_snapshots
    _WORKERS = pytest.StashKey[list[set[str]]]()  # each pytest-xdist worker's _NOT_RUN


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
        def get_write_encoding(cls) -> str:
            """How syrupy reads the files: without the byte order mark some editors add."""
            return "utf-8-sig"  # write_snapshot_collection writes them, without one

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

        def __post_init__(self) -> None:
            super().__post_init__()
            # use_extension() and with_defaults() make new ones: the report reads them all.
            self.test_location.item.stash.setdefault(_ASSERTIONS, []).append(self)

        def __repr__(self) -> str:
            # pytest shows the test's arguments above a failure: not the stored snapshot text.
            return f"<email_snapshot {self.test_location.snapshot_name}>"

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
    if not hasattr(pytest, "StashKey"):  # pytest 6: only the fixture runs, to say so
        return
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
    """Why the fixture cannot run with the pytest and syrupy at hand, if it cannot."""
    needs = "email_snapshot needs syrupy 7.0.1 or later (which needs pytest 8)"
    install = "pip install 'personalize[snapshots]'"
    if not hasattr(pytest, "StashKey"):
        return f"{needs}, found pytest {pytest.__version__}: {install}"
    found = _syrupy_version() or ""
    number = tuple(int(n) for n in re.findall(r"\d+", found.partition("+")[0])[:3])
    if found and number < _SYRUPY:
        return f"{needs}, found syrupy {found}: {install}"
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

    from personalize.snapshotids import clashes

    def location(item: pytest.Item) -> str:
        return EmailSnapshotExtension.get_location(test_location=PyTestLocation(item), index=0)

    tests = _email_tests(items)
    return clashes((t.nodeid, t.name, getattr(t, "callspec", None), location(t)) for t in tests)


def _email_tests(items: Iterable[pytest.Item]) -> list[pytest.Item]:
    return [item for item in items if "email_snapshot" in getattr(item, "fixturenames", ())]


@pytest.hookimpl(hookwrapper=True)  # not wrapper=True: pytest 7 may come with pluggy < 1.1
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Result[pytest.TestReport], None]:
    """Name the snapshot file and the command to accept it, with the whole diff if cut short."""
    outcome = yield
    if not _email_tests([item]) or _syrupy_problem(item.config):
        return
    report = outcome.get_result()
    if call.when in ("setup", "call"):
        item.stash[_PASSED] = call.when == "call" and report.passed
    if call.when != "call" or not report.failed:
        return
    message = str(call.excinfo.value) if call.excinfo else ""
    for assertion in item.stash.get(_ASSERTIONS, []):
        for result in assertion.executions.values():
            if not result.success and result.exception is None and result.asserted_data is not None:
                report.sections.append(_section(item, result, message))


def _section(item: pytest.Item, result: AssertionResult, message: str) -> tuple[str, str]:
    """The report section of one failed snapshot: what changed, its file, how to accept it."""
    from personalize.snapshotreport import relative, section, update_command

    config, start = item.config, item.config.invocation_params.dir
    test_file, sep, test = item.nodeid.partition("::")  # a parameter may hold "/" or ".."
    command = update_command(
        relative(config.rootpath / test_file, start) + sep + test,
        inifile=config.getoption("inifilename", None),  # -c FILE, as given
        overrides=config.getoption("override_ini", None) or (),
        dirname=config.getoption("snapshot_dirname", "__snapshots__"),
        scrubs=config.getoption("email_scrub"),
        headers=config.getoption("email_headers"),
    )
    return section(
        result.snapshot_name,
        relative(result.snapshot_location, start),
        command,
        old=result.recalled_data,
        new=result.asserted_data,
        message=message,
        diffs=str(config.getoption("diff_mode", "")) != "disabled",
    )


@pytest.hookimpl(tryfirst=True)  # before --sw deselects tests, unbeknown to syrupy
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Show syrupy every email test collected, so that it deletes no deselected test's file."""
    syrupy_session = _syrupy_session(config)
    if syrupy_session is not None:
        syrupy_session.collect_items(_email_tests(items))


@pytest.hookimpl(hookwrapper=True)  # before syrupy's own, which deletes unused files
def pytest_sessionfinish(session: pytest.Session) -> Generator[None, None, None]:
    """Keep the snapshots of tests that failed or did not run, which syrupy deletes on update."""
    # A test that fails before its assertion (a render error) uses no snapshot, and -x,
    # --maxfail, --sw or Ctrl-C stop a run before some tests run; syrupy keeps the files of
    # skipped tests, and the failures are reported already, so call them all skipped.
    syrupy_session = _syrupy_session(session.config)
    if syrupy_session is not None:
        worker = getattr(session.config, "workeroutput", None)  # pytest-xdist
        not_run = []
        for item in _email_tests(session.items):
            passed = item.stash.get(_PASSED, None)
            if passed is None:
                not_run.append(item.nodeid)
            if not passed and (passed is not None or worker is None):  # a worker knows its own
                syrupy_session.ran_item(item.nodeid, "skipped")
        if worker is not None:
            worker[_NOT_RUN] = not_run
        # On the controller, the tests that no worker ran: syrupy merges the workers' reports.
        found = session.config.stash.get(_WORKERS, [])
        nowhere = set.intersection(*found) if found else set()
        for report in getattr(syrupy_session, "_worker_reports", ()):
            selected = report.get("selected") if isinstance(report, dict) else None
            if isinstance(selected, dict):
                selected.update(dict.fromkeys(nowhere & selected.keys(), "skipped"))
    yield


def _syrupy_session(config: pytest.Config) -> Any:
    """syrupy's session (syrupy 7 keeps it on the config), if the fixture can run."""
    return None if _syrupy_problem(config) else getattr(config, "_syrupy", None)


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the pytest-xdist controller: note which email tests a finished worker did not run."""
    not_run = getattr(node, "workeroutput", {}).get(_NOT_RUN)
    if not_run is not None and not _syrupy_problem(node.config):
        node.config.stash.setdefault(_WORKERS, []).append(set(not_run))
