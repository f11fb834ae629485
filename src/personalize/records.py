"""Records from JSON Lines files, one object per line, with their line numbers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .errors import ConfigError

__all__ = ["count_jsonl", "iter_jsonl", "read_jsonl"]


def _open(path: Path, display: str) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the file: {exc.strerror or exc}",
            file=display,
            hint="pass the path of a JSONL file, one JSON object per line",
        ) from None


def count_jsonl(path: Path, *, display: str) -> int:
    """The number of non-blank lines (records), without parsing them: for progress bars."""
    with _open(path, display) as handle:
        return sum(1 for raw in handle if raw.strip())


def read_jsonl(path: Path, *, display: str) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line; a bad line's value is a ConfigError.

    Streams (one line in memory at a time). A line that is not UTF-8 or not JSON yields a
    ``ConfigError`` naming file and line instead of a value, so callers can count it as failed
    and carry on.

    Raises:
        ConfigError: the file cannot be opened.
    """
    with _open(path, display) as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield number, _parse(raw, file=display, line=number)


def _parse(raw: bytes, *, file: str, line: int) -> Any:
    try:
        return json.loads(raw.rstrip(b"\r\n").decode("utf-8"))
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


def iter_jsonl(path: Path, *, display: str) -> Iterator[tuple[int, Any]]:
    """Like `read_jsonl`, but the first bad line raises its ConfigError."""
    for number, value in read_jsonl(path, display=display):
        if isinstance(value, ConfigError):
            raise value
        yield number, value
