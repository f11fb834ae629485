"""Records from JSON Lines files, one object per line, with their line numbers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = ["iter_jsonl"]


def iter_jsonl(path: Path, *, display: str) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed JSON)`` for each non-blank line of a JSONL file.

    Raises:
        ConfigError: the file is missing or a line is not valid JSON (names file and line).
    """
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"no file {display!r}", hint="check the path (relative to the project)"
        ) from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"invalid JSON: {exc.msg} (column {exc.colno})",
                    file=display,
                    line=number,
                    hint="each line must be one JSON object",
                ) from None
