"""A folder of snapshots, one file per persona × layout, checked against fresh renders."""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from personalize.errors import ConfigError, PersonalizeError, short_repr
from personalize.profile import Recipient
from personalize.project import Project

from .snapshot import (
    Scrubber,
    SnapshotChange,
    compare_snapshots,
    diff_summary,
    parse_header,
    snapshot_text,
)

__all__ = ["SUFFIX", "SnapshotFile", "SnapshotReport", "check_snapshots", "snapshot_path"]


# -- a folder of snapshots for every persona × layout ------------------------------------------

SUFFIX = ".email.txt"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
# Windows refuses these as file or folder names, with any extension (`con.email.txt`).
_RESERVED = re.compile(r"(?i)(?:con|prn|aux|nul|com[0-9]|lpt[0-9])(?:\.|$)")
_MAX_NAME = 255  # characters in one file name, on every common file system
_RENAME = (
    "rename one: in snapshot file names, characters other than letters, digits, '.', '_' and "
    "'-' become '_', and macOS and Windows ignore case"
)


@dataclass(frozen=True)
class SnapshotFile:
    """One persona × layout in a snapshot folder, compared with a fresh render.

    Attributes:
        path: The file, relative to the folder (``weekly/vip-vera.email.txt``).
        layout: The layout name (for a stale file: as its header says).
        recipient: The persona id (likewise).
        status: ``unchanged``, ``changed``, ``missing`` (no file yet), ``stale`` (a snapshot of a
            persona or layout that no longer exists) or ``error`` (the render failed).
        text: The fresh snapshot text (``None`` for ``stale`` and ``error``).
        change: What differs, for ``changed``.
        summary: :func:`diff_summary` of the file and the fresh text, for ``changed``.
        error: The render error, for ``error``.
    """

    path: str
    layout: str | None
    recipient: str | None
    status: str
    text: str | None = None
    change: SnapshotChange = field(default_factory=SnapshotChange)
    summary: str = ""
    error: PersonalizeError | None = None


@dataclass(frozen=True)
class SnapshotReport:
    """Every snapshot of a folder compared with the project as it renders now.

    Attributes:
        folder: The snapshot folder.
        files: One entry per persona × layout (layouts sorted, personas in file order), then
            stale files sorted by path.
        segments: ``(segment, personas with a changed, missing or failed email, personas)``
            for every segment with members, in segments.yaml order.
        others: The ``*.email.txt`` files in the folder that are not snapshots this check
            writes (no snapshot header, or not in the folder of the layout it names), sorted:
            an update leaves them alone.
    """

    folder: Path
    files: tuple[SnapshotFile, ...]
    segments: tuple[tuple[str, int, int], ...]
    others: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether every file exists and equals its fresh render."""
        return all(f.status == "unchanged" for f in self.files)

    def count(self, status: str) -> int:
        """How many files have ``status``."""
        return sum(f.status == status for f in self.files)


def snapshot_path(layout: str, recipient: str) -> str:
    """The file of one layout × persona in a snapshot folder: ``weekly/vip-vera.email.txt``.

    Characters other than letters, digits, ``.``, ``_`` and ``-`` become ``_``, and a name
    that Windows reserves (``con``, ``nul``, ``com1``, …) gets a ``_`` after it.
    """
    return f"{_safe(layout)}/{_safe(recipient)}{SUFFIX}"


def _safe(name: str) -> str:
    name = _UNSAFE.sub("_", name).lstrip(".")
    return re.sub(r"^[^.]*", r"\g<0>_", name, count=1) if _RESERVED.match(name) else name


def check_snapshots(
    project: Project,
    folder: str | os.PathLike[str],
    *,
    now: datetime | None = None,
    scrubbers: Iterable[Scrubber] = (),
    headers: bool = False,
) -> SnapshotReport:
    """Render every persona × layout and compare it with its file in ``folder``.

    Nothing is written: the report holds each fresh text for a caller that updates files.
    A file counts as a stale snapshot only if its header names a layout and a persona and it
    lies in that layout's folder; other ``*.email.txt`` files are listed in ``others``.

    Args:
        project: The project.
        folder: The snapshot folder (it may not exist yet).
        now: The moment to render for (default: the project's pinned ``[project] now``).
        scrubbers: Applied to every snapshot text (see :func:`snapshot_text`).
        headers: Include the message headers in the snapshot texts.

    Raises:
        ConfigError: neither ``now`` nor ``[project] now`` is set; two layouts or two personas
            map to the same file name (ignoring case, as macOS and Windows do); or a persona id
            makes a file name longer than file systems allow.
    """
    if now is None and project.settings.project.now is None:
        raise ConfigError(
            "snapshots need a fixed moment, but the project does not pin one",
            hint='set now = "2026-11-27T09:00:00+01:00" under [project], or pass --now',
        )
    moment = project.now(now)
    root, scrubbers = Path(folder), tuple(scrubbers)
    _check_names(project)
    files: list[SnapshotFile] = []
    for layout in project.layouts:
        for rid, persona in project.personas.items():
            path = snapshot_path(layout, rid)
            files.append(_compare(project, layout, persona, root, path, moment, scrubbers, headers))
    expected = {f.path for f in files}
    others: list[str] = []
    for found in sorted(root.rglob(f"*{SUFFIX}")) if root.is_dir() else ():
        path = found.relative_to(root).as_posix()
        if path in expected or not found.is_file():  # a folder named *.email.txt is not one
            continue
        try:
            header = parse_header(found.read_bytes().decode("utf-8-sig", "replace"))
        except OSError as exc:
            raise _unreadable(found, exc) from None
        named, recipient = header.get("layout"), header.get("recipient")
        # An update deletes stale files: only those it wrote, at the path their header gives,
        # never a file of someone else's that happens to end in .email.txt (notes, an archive,
        # a copy, the pytest fixture's folder).
        if named is None or recipient is None or path != snapshot_path(named, recipient):
            others.append(path)
        else:
            files.append(SnapshotFile(path, named, recipient, "stale"))
    segments = _segment_counts(project, files, moment)
    return SnapshotReport(root, tuple(files), segments, tuple(others))


def _check_names(project: Project) -> None:
    """Each layout and persona gets a file name of its own, on every file system."""
    folders: dict[str, str] = {}
    for layout in project.layouts:
        other = folders.setdefault(_safe(layout).lower(), layout)
        if other != layout:
            templates = project.settings.project.templates
            raise ConfigError(
                f"{templates}/{other}.mjml and {templates}/{layout}.mjml share the snapshot "
                f"folder {_safe(layout)}/{_case(other, layout)}",
                hint=_RENAME,
            )
    folder = _safe(project.layouts[0]) if project.layouts else "LAYOUT"
    personas = str(project.settings.project.personas)
    names: dict[str, str] = {}
    for rid in project.personas:
        name = f"{_safe(rid)}{SUFFIX}"
        if len(name) > _MAX_NAME:
            raise ConfigError(
                f"persona {short_repr(rid)} gets a snapshot file name of {len(name)} characters, "
                f"more than the {_MAX_NAME} file systems allow",
                file=personas,
                hint="use a shorter persona id",
            )
        other = names.setdefault(name.lower(), rid)
        if other != rid:
            raise ConfigError(
                f"personas {other!r} and {rid!r} share the snapshot file "
                f"{folder}/{name}{_case(other, rid)}",
                file=personas,
                hint=_RENAME,
            )


def _case(one: str, other: str) -> str:
    # Names that differ in case only are one file on macOS and Windows, two on Linux.
    return "" if _safe(one) == _safe(other) else " on macOS and Windows, which ignore case"


def _compare(
    project: Project,
    layout: str,
    persona: Recipient,
    root: Path,
    path: str,
    now: datetime,
    scrubbers: tuple[Scrubber, ...],
    headers: bool,
) -> SnapshotFile:
    try:
        email = project.render(layout, persona, now=now)
        text = snapshot_text(email, scrubbers=scrubbers, headers=headers)
    except PersonalizeError as exc:
        return SnapshotFile(path, layout, persona.id, "error", error=exc)
    file = root / path
    try:
        if not file.is_file():
            return SnapshotFile(path, layout, persona.id, "missing", text)
        # A checkout may have turned the "\n" line ends into "\r\n", and an editor may have
        # put a byte order mark first (as the email_snapshot fixture reads it): the text counts.
        old = file.read_bytes().decode("utf-8-sig", "replace").replace("\r\n", "\n")
    except OSError as exc:  # e.g. a folder so deep that the path is too long
        raise _unreadable(file, exc) from None
    if old == text:
        return SnapshotFile(path, layout, persona.id, "unchanged", text)
    change = compare_snapshots(old, text)
    return SnapshotFile(path, layout, persona.id, "changed", text, change, diff_summary(old, text))


def _unreadable(file: Path, exc: OSError) -> ConfigError:
    return ConfigError(
        f"cannot read {str(file)!r}: {exc.strerror or exc}",
        hint="use a snapshot folder with a shorter path"
        if exc.errno == errno.ENAMETOOLONG
        else "check that the snapshot folder can be read",
    )


def _segment_counts(
    project: Project, files: list[SnapshotFile], now: datetime
) -> tuple[tuple[str, int, int], ...]:
    changed = {f.recipient for f in files if f.status in ("changed", "missing", "error")}
    members: dict[str, list[str]] = {name: [] for name in project.segments.segments}
    for rid, persona in project.personas.items():
        try:
            segments = project.classify(persona, now=now).segments
        except PersonalizeError:  # its render failed too, and says why
            continue
        for name in segments:
            members.setdefault(name, []).append(rid)
    return tuple(
        (name, sum(rid in changed for rid in rids), len(rids))
        for name, rids in members.items()
        if rids
    )
