"""TOML source text: parsing with located errors, and finding the line of a key path."""

from __future__ import annotations

import re
import tomllib
from typing import Any

from .errors import ConfigError

__all__ = ["parse_toml", "toml_line"]

# A table header, `[name]` or `[[name]]` (a quoted part may hold brackets), with an optional
# comment after it.
_HEADER = re.compile(r'\[+\s*((?:"[^"]*"|[^\]"])+?)\s*\]+\s*(?:#.*)?')
# One part of a dotted key: quoted (spaces and dots kept) or bare, then a dot or the end.
_KEY_PART = re.compile(r"""\s*(?:"([^"]*)"|'([^']*)'|([\w-]+))\s*(\.|$)""")


def parse_toml(text: str, name: str) -> dict[str, Any]:
    """The TOML document in ``text``.

    Raises:
        ConfigError: invalid TOML, naming ``name`` and the line.
    """
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        # "(at end of document)": the last line, where the file stopped short.
        last = text.count("\n", 0, len(text.rstrip("\n"))) + 1
        raise ConfigError(
            f"invalid TOML: {exc}",
            file=name,
            line=int(match.group(1)) if match else last,
            hint="check quoting and brackets; strings need double quotes",
        ) from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError(
            "the TOML is nested too deeply",
            file=name,
            line=_deepest_line(text),
            hint="flatten the structure; settings need only a few levels",
        ) from None


def _deepest_line(text: str) -> int:
    """The line where brackets nest deepest: a guess (brackets in strings count too), but the
    line of a structure deep enough to stop the parser stands out."""
    depth = deepest = 0
    line = found = 1
    for char in text:
        if char == "\n":
            line += 1
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest, found = depth, line
        elif char in "]}":
            depth = max(depth - 1, 0)
    return found


def toml_line(text: str, path: tuple[str, ...]) -> int | None:
    """Best-effort line of a dotted key path in TOML source (tomllib keeps no positions).

    Looks for the deepest part of ``path`` that appears as a table header or a key.
    """
    # Split at '\n' only, as editors and tomllib count lines: splitlines() also breaks at
    # U+2028 and other separators that a string value may hold. A byte-order mark that an
    # editor wrote would hide the first line's header or key.
    lines = [raw.strip() for raw in text.removeprefix("\ufeff").split("\n")]
    for depth in range(len(path), 0, -1):
        key = path[depth - 1]
        in_table = depth == 1
        for number, line in enumerate(lines, start=1):
            header = _HEADER.fullmatch(line)
            if header:
                name = _dotted(header.group(1))
                if name == path[:depth]:
                    return number
                in_table = name == path[: depth - 1]
            elif in_table and re.match(rf'"?{re.escape(key)}"?\s*=', line):
                return number
    return None


def _dotted(key: str) -> tuple[str, ...]:
    """The parts of a dotted TOML key: ``a . "b c".d`` → ``('a', 'b c', 'd')``."""
    parts: list[str] = []
    pos = 0
    while pos < len(key):
        match = _KEY_PART.match(key, pos)
        if match is None:
            return (key,)  # not a key as TOML writes one: tomllib refused it already
        parts.append(next(part for part in match.groups()[:3] if part is not None))
        pos = match.end()
        if not match.group(4):
            break
    return tuple(parts)
