"""Where an ``mj-include`` points: its path checked to stay inside the project, and its text."""

from __future__ import annotations

import re
from pathlib import Path, PureWindowsPath

from .errors import RegistryError, did_you_mean, short_repr
from .textfiles import decode_text

__all__ = ["Origin", "include_path", "read_include"]

Origin = tuple[str, int]
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def include_path(written: str, base: Path, root: Path, where: Origin) -> Path:
    """The file an ``mj-include`` path written in ``where`` names, checked to be inside ``root``.

    Raises:
        RegistryError: the path is empty, a template expression, leaves the project, or names
            a folder or no file (one with a NUL character names none).
    """
    file, line = where
    if not written.strip():
        raise RegistryError(
            "mj-include needs a path",
            file=file,
            line=line,
            hint='write <mj-include path="partials/header.mjml" />',
        )
    if "{{" in written or "{%" in written:
        raise RegistryError(
            f"mj-include path {short_repr(written)} is a template expression",
            file=file,
            line=line,
            hint="includes are resolved when the project loads; write a plain file path",
        )
    if "\x00" in written:
        raise RegistryError(
            f"mj-include: no file {short_repr(written)}",
            file=file,
            line=line,
            hint="a file name cannot hold a NUL character (\\x00); remove it from the path",
        )
    leaves = RegistryError(
        f"mj-include path {short_repr(written)} leaves the project",
        file=file,
        line=line,
        hint="include files from inside the project folder",
    )
    if (
        written.startswith(("/", "\\", "~"))
        or _SCHEME.match(written)
        or PureWindowsPath(written).anchor
    ):
        raise leaves
    try:
        path = (base / written).resolve()
    except (OSError, RuntimeError):
        # A symlink loop cannot lead to a file inside the project either.
        raise leaves from None
    if not path.is_relative_to(root):
        raise leaves
    if path.is_dir():
        first = next((p.name for p in sorted(path.glob("*.mjml"))), "x.mjml")
        raise RegistryError(
            f"mj-include: {short_repr(written)} is a folder",
            file=file,
            line=line,
            hint=f"include one file of it, e.g. {written.rstrip('/')}/{first}",
        )
    if not path.is_file():
        raise RegistryError(
            f"mj-include: no file {short_repr(written)}",
            file=file,
            line=line,
            hint=_suggest(written, base, root) or "paths are relative to the including file",
        )
    return path


def read_include(path: Path, name: str, where: Origin) -> str:
    """An included file's text, read as every project file is (``textfiles.decode_text``).

    Raises:
        RegistryError: the file cannot be read or is not UTF-8.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RegistryError(
            f"mj-include: cannot read {short_repr(name)}: {exc.strerror}",
            file=where[0],
            line=where[1],
            hint="check the file's permissions",
        ) from None
    try:
        text = decode_text(data)
    except UnicodeDecodeError as exc:
        raise RegistryError(
            f"mj-include: {short_repr(name)} is not UTF-8 text (byte {exc.start})",
            file=where[0],
            line=where[1],
            hint="save the file with UTF-8 encoding",
        ) from None
    return text


def _suggest(written: str, base: Path, root: Path) -> str | None:
    """``did you mean …?`` over the files next to where ``written`` points, as written."""
    folder, _, _ = written.replace("\\", "/").rpartition("/")
    try:
        directory = (base / folder).resolve()
        if not directory.is_relative_to(root) or not directory.is_dir():
            return None
        names = [entry.name for entry in directory.iterdir() if entry.is_file()]
    except OSError:
        return None
    prefix = f"{folder}/" if folder else ""
    return did_you_mean(written, [prefix + name for name in names])
