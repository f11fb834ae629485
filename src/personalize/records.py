"""Records from JSON Lines files, one object per line, with their line numbers."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypeVar

from .errors import ConfigError, PersonalizeError
from .textfiles import unreadable

__all__ = ["at_record", "by_id", "count_jsonl", "duplicate_id", "iter_jsonl", "read_jsonl"]


def _open(path: Path, display: str) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        hint = (
            "make the file readable for you, or pass a copy you can read"
            if isinstance(exc, PermissionError)
            else "pass the path of a JSONL file, one JSON object per line"
        )
        raise unreadable(path, exc, file=display, hint=hint) from None


def count_jsonl(path: Path, *, display: str) -> int:
    """The number of non-blank lines (records), without parsing them: for progress bars."""
    with _open(path, display) as handle:
        return sum(1 for raw in handle if raw.strip())


def read_jsonl(
    path: str | os.PathLike[str], *, display: str | None = None
) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line; a bad line's value is a ConfigError.

    Streams (one line in memory at a time). A line that is not UTF-8 or not JSON yields a
    ``ConfigError`` naming file and line instead of a value, so callers can count it as failed
    and carry on. Part of the public API (docs/api.md), for send scripts.

    Args:
        path: The JSONL file.
        display: The file's name in errors (default: ``path`` as given).

    Raises:
        ConfigError: the file cannot be opened (on the first step).
    """
    display = os.fspath(path) if display is None else display
    with _open(Path(path), display) as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield number, _parse(raw, file=display, line=number)


def _parse(raw: bytes, *, file: str, line: int) -> Any:
    try:
        text = raw.rstrip(b"\r\n").decode("utf-8")
        # A byte-order mark, as Windows editors write one, only opens the first line.
        return json.loads(text.removeprefix("\ufeff") if line == 1 else text)
    except UnicodeDecodeError as exc:
        return ConfigError(
            f"not valid UTF-8 ({exc.reason} at byte {exc.start})",
            file=file,
            line=line,
            hint="save the file as UTF-8",
        )
    except json.JSONDecodeError as exc:
        return ConfigError(
            f"invalid JSON: {exc.msg} (column {exc.colno})",
            file=file,
            line=line,
            hint="each line must be one JSON object",
        )
    except (ValueError, RecursionError) as exc:  # a number of 4,300+ digits; deep nesting
        what = "a number too long" if isinstance(exc, ValueError) else "nesting too deep"
        return ConfigError(
            f"unreadable JSON: {what} to be a field's value",
            file=file,
            line=line,
            hint="check how the file was exported",
        )


def iter_jsonl(path: Path, *, display: str) -> Iterator[tuple[int, Any]]:
    """Like `read_jsonl`, but the first bad line raises its ConfigError."""
    for number, value in read_jsonl(path, display=display):
        if isinstance(value, ConfigError):
            raise value
        yield number, value


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


_R = TypeVar("_R", bound=_HasId)


def by_id(items: Iterable[tuple[int, _R]], *, file: str, what: str = "record") -> dict[str, _R]:
    """``(line, record)`` pairs keyed by id, in file order; a repeated id is an error.

    Raises:
        ConfigError: two records share an id (the second would silently replace the first).
    """
    found: dict[str, _R] = {}
    lines: dict[str, int] = {}
    for line, item in items:
        if item.id in found:
            raise duplicate_id(item.id, file, line, lines[item.id], what)
        found[item.id], lines[item.id] = item, line
    return found


def duplicate_id(rid: str, file: str, line: int, first: int, what: str) -> ConfigError:
    """The error for a record whose id an earlier line of ``file`` already has."""
    return ConfigError(
        f"duplicate id — already on line {first}",
        file=file,
        line=line,
        recipient=rid,
        hint=f"give every {what} its own id",
    )


def at_record(
    exc: PersonalizeError, file: str | None, line: int | None
) -> tuple[PersonalizeError, str]:
    """The failure of the record at ``file`` line ``line``, and its paragraph, both naming it.

    An error without a file (a bad locale, an ``http:`` unsubscribe URL) takes the record's
    file and line; one located in a project file (a template) keeps it, and its paragraph
    starts with the record's.
    """
    if file is None or line is None or (exc.file, exc.line) == (file, line):
        return exc, str(exc)
    if exc.file is None:
        exc = exc.with_context(file=file, line=line)
        return exc, str(exc)
    return exc, f"{file} line {line}: {exc}"
