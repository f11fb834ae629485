"""Reading a project's text files: regular files only, UTF-8, one kind of newline."""

from __future__ import annotations

import stat
from pathlib import Path

from .errors import ConfigError

__all__ = ["decode_text", "display_path", "read_text_file", "refuse_special_file", "unreadable"]


def display_path(path: Path, root: Path) -> str:
    """How messages name a project file: relative to the project folder when inside it, else
    as found (``[project] templates`` and ``modules`` may name folders outside it)."""
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()


def read_text_file(path: Path, *, file: str | None = None) -> str:
    """A project file's text, or a ``ConfigError`` naming ``file`` (default: its name).

    Newlines are read universally and a leading byte-order mark is dropped, as editors on
    Windows write one.
    """
    name = file or path.name
    refuse_special_file(path, file=name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        hint = "pass a file, not a folder" if path.is_dir() else "check the path and permissions"
        raise unreadable(path, exc, file=name, hint=hint) from None
    try:
        return decode_text(data)
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not valid UTF-8 ({exc.reason} at byte {exc.start})",
            file=name,
            line=data.count(b"\n", 0, exc.start) + 1,
            hint="save it as a UTF-8 text file",
        ) from None


def unreadable(path: Path, exc: OSError, *, file: str, hint: str) -> ConfigError:
    """The error for a project file that cannot be opened, naming ``file``; a link whose target
    is missing, or a loop of links, is called what it is."""
    if path.is_symlink() and not path.exists():
        return ConfigError(
            f"cannot read the file (broken link to {str(path.readlink())!r})",
            file=file,
            hint="point the link at an existing file, or put the file itself in its place",
        )
    return ConfigError(f"cannot read the file: {exc.strerror or exc}", file=file, hint=hint)


def decode_text(data: bytes) -> str:
    """A project file's bytes as text: UTF-8, without a byte-order mark, with ``\\n`` newlines.

    Raises:
        UnicodeDecodeError: the bytes are not UTF-8.
    """
    return data.decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def refuse_special_file(path: Path, *, file: str) -> None:
    """Refuse a named pipe, device or socket, which reading would block on or never finish.

    Raises:
        ConfigError: naming ``file`` and what ``path`` is instead of a regular file.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # reading it will say why
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return  # a folder: reading it says so
    kind = (
        "a named pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    )
    raise ConfigError(
        f"cannot read the file: it is {kind}, not a regular file",
        file=file,
        hint="point the setting at a regular text file",
    )
