"""Which email snapshot tests cannot own a file: ids from a position, or one file for two tests."""

# The pytest plugin calls this with plain values, so that it needs neither pytest nor syrupy.

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

__all__ = ["CallSpec", "clashes", "positional_id"]

LONG_ID = 100  # pytest 9 names a test by position for a str parameter longer than this


class CallSpec(Protocol):
    """The parameters of one parametrized test, as pytest's ``item.callspec`` has them."""

    @property
    def id(self) -> str: ...  # e.g. "vip-vera-weekly", its parameters' ids joined by "-"

    @property
    def params(self) -> Mapping[str, object]: ...


def clashes(tests: Iterable[tuple[str, str, CallSpec | None, str]]) -> dict[str, str]:
    """Tests whose snapshot file is not theirs alone, and why, by node id.

    Args:
        tests: ``(node id, test name, callspec, snapshot file path)`` of each test.
    """
    found: dict[str, str] = {}
    files = []
    for nodeid, name, callspec, location in tests:
        positional = callspec and positional_id(name, callspec.id, callspec.params)
        if positional:
            found[nodeid] = positional
        else:
            files.append((nodeid, name, location))
    return found | _shared_files(files)


def positional_id(test: str, callspec_id: str, params: Mapping[str, object]) -> str | None:
    """Why test ``test`` is named after the position of one of its parameters, if it is.

    pytest names a parameter ``argname`` + index when it has no id for its value: an object
    (a ``Recipient``, a dict…), and in pytest 9 a string longer than 100 characters. A file
    named so would belong to another value as soon as the list changes.
    """
    parts = callspec_id.split("-")
    for name, value in params.items():
        if _named_by_value(value) or _spelled_out(value, callspec_id):
            continue
        # callspec.indices do not hold the position in the list (pytest 8 and 9 renumber them).
        index = next((p for p in parts if re.fullmatch(rf"{re.escape(name)}\d+", p)), None)
        if index is None:  # an id from ids=, pytest.param(id=) or a hook
            continue
        if isinstance(value, str | bytes):
            why = f"that value is longer than {LONG_ID} characters"
            example = f'@pytest.mark.parametrize("{name}", ..., ids=str)'
        else:
            why = f"pytest cannot name a {type(value).__name__} by its value"
            example = (
                f'@pytest.mark.parametrize("{name}", ..., ids=lambda {name}: {name}.id)'
                if isinstance(getattr(value, "id", None), str)
                else "pytest.param(value, id=...)"
            )
        return (
            f"email_snapshot: test {test} is named {index}, after the position of its {name}, "
            f"because {why} — its snapshot file would belong to another {name} once the list "
            f"changes: give the parameters ids, e.g. {example}"
        )
    return None


def _named_by_value(value: object) -> bool:
    """Whether pytest names a parameter with this value after the value (as pytest 9 does)."""
    if isinstance(value, str | bytes):
        return len(value) <= LONG_ID  # pytest 8 names longer ones by value too: no harm
    if value is None or isinstance(value, int | float | complex | re.Pattern | enum.Enum):
        return True
    return isinstance(getattr(value, "__name__", None), str)  # a class, function, module


def _spelled_out(value: object, callspec_id: str) -> bool:
    """Whether a string parameter's id is the string itself (e.g. with ``ids=str``)."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "backslashreplace")
    if not isinstance(value, str):
        return False
    return value in callspec_id or value.encode("unicode_escape").decode("ascii") in callspec_id


def _shared_files(tests: Iterable[tuple[str, str, str]]) -> dict[str, str]:
    """Tests whose snapshot file is also another test's, and why, by node id."""
    owners: dict[str, tuple[str, str, str]] = {}
    shared: dict[str, str] = {}
    for nodeid, name, location in tests:
        other, other_name, seen = owners.setdefault(location.lower(), (nodeid, name, location))
        if other == nodeid:
            continue
        file = Path(location)
        case = "" if seen == location else " on macOS and Windows, which ignore case"
        why = (
            "syrupy cuts file names at 255 characters: give the parameters shorter ids"
            if len(file.name) >= 255
            else 'syrupy leaves \\ / ? * : | " < > and control characters out of file names: '
            "give the parameters ids that differ in other characters"
        )
        shared[nodeid] = shared[other] = (
            f"email_snapshot: tests {other_name} and {name} share the snapshot file "
            f"{file.parent.name}/{file.name}{case} — {why}, e.g. pytest.param(value, id=...)"
        )
    return shared
