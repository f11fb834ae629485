"""The pytest plugin: an ``email_snapshot`` fixture that keeps rendered emails as syrupy snapshots.

Registered with the ``pytest11`` entry point ``personalize``; nothing in the library imports it.
It stays cheap when unused: personalize itself is imported on first use of the fixture (or of
a scrub option), and without syrupy installed pytest still runs; only the fixture fails.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

if TYPE_CHECKING:
    from syrupy.assertion import SnapshotAssertion
    from syrupy.data import SnapshotCollection
    from syrupy.types import PropertyFilter, PropertyMatcher, SerializableData, SerializedData

    from personalize.testing import Scrubber

__all__ = ["EmailSnapshotExtension", "email_extension", "email_snapshot"]

try:
    from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode
except ImportError:  # syrupy is optional: pip install 'personalize[snapshots]'
    _HAVE_SYRUPY = False
else:
    _HAVE_SYRUPY = True

_SETTINGS = pytest.StashKey[tuple[tuple["Scrubber", ...], bool]]()
_CLASHES = pytest.StashKey[dict[str, str]]()  # node id → why its snapshot file is not its own
_SECTION = "email snapshot {}: what changed"


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

            if not snapshot_data:  # syrupy already says it does not exist; no 500-line dump
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


def email_extension(
    *, scrubbers: Iterable[Scrubber] = (), headers: bool = False
) -> type[EmailSnapshotExtension]:
    """An ``EmailSnapshotExtension`` class with these scrubbers (and headers, if asked).

    For one test that needs its own scrubbers::

        ext = email_extension(scrubbers=[Scrubber(r"order-\\d+", "order-N")])
        assert email == email_snapshot(extension_class=ext)

    Raises:
        TypeError: ``scrubbers`` is not an iterable of ``Scrubber``.
    """
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
    return type(
        "EmailSnapshotExtension",
        (EmailSnapshotExtension,),
        {
            "scrubbers": scrubbers,
            "headers": headers,
            "__module__": __name__,
            "__qualname__": "EmailSnapshotExtension",
        },
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
    if not (_HAVE_SYRUPY and request.config.pluginmanager.hasplugin("syrupy")):
        pytest.fail(
            "email_snapshot needs syrupy: pip install 'personalize[snapshots]' "
            "(and do not disable it with -p no:syrupy)",
            pytrace=False,
        )
    if _CLASHES not in request.config.stash:
        request.config.stash[_CLASHES] = _clashes(request.session.items)
    clash = request.config.stash[_CLASHES].get(request.node.nodeid)
    if clash:
        pytest.fail(clash, pytrace=False)
    scrubbers, headers = request.config.stash[_SETTINGS]
    snapshot: SnapshotAssertion = request.getfixturevalue("snapshot")
    return snapshot.use_extension(email_extension(scrubbers=scrubbers, headers=headers))


def _clashes(items: Iterable[pytest.Item]) -> dict[str, str]:
    """Tests whose snapshot file another test of the session also writes, and why."""
    from syrupy.location import PyTestLocation

    owners: dict[str, tuple[pytest.Item, str]] = {}
    clashes: dict[str, str] = {}
    for item in items:
        if "email_snapshot" not in getattr(item, "fixturenames", ()):
            continue
        location = EmailSnapshotExtension.get_location(test_location=PyTestLocation(item), index=0)
        other, seen = owners.setdefault(location.lower(), (item, location))
        if other is item:
            continue
        file = Path(location)
        case = "" if seen == location else " on macOS and Windows, which ignore case"
        clashes[item.nodeid] = clashes[other.nodeid] = (
            f"email_snapshot: tests {other.name} and {item.name} share the snapshot file "
            f'{file.parent.name}/{file.name}{case} — syrupy leaves \\ / ? * : | " < > and '
            "control characters out of file names: give the parameters ids that differ in "
            "other characters, e.g. pytest.param(value, id=...)"
        )
    return clashes


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Add the whole diff summary to a failed report when pytest cuts the assertion short."""
    report = yield
    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    assertion = funcargs.get("email_snapshot")
    if call.when != "call" or not report.failed or assertion is None or _untruncated(item):
        return report
    from personalize.testing import diff_summary

    for result in assertion.executions.values():
        if result.success or result.recalled_data is None or result.asserted_data is None:
            continue
        summary = diff_summary(str(result.recalled_data), str(result.asserted_data))
        report.sections.append((_SECTION.format(result.snapshot_name), summary))
    return report


def _untruncated(item: pytest.Item) -> bool:
    # pytest shows assertion explanations whole with -vv or on CI (the CI or BUILD_NUMBER
    # variables); elsewhere it keeps ~8 lines, so the section carries the rest.
    verbose = item.config.get_verbosity(pytest.Config.VERBOSITY_ASSERTIONS)
    return verbose >= 2 or any(os.environ.get(name) for name in ("CI", "BUILD_NUMBER"))
