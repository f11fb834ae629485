"""What a project was loaded from, by content, so that worker processes load the same one."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError, PersonalizeError
from .registry import mjml_files
from .textfiles import display_path

if TYPE_CHECKING:
    from .config import Settings
    from .project import Project
    from .registry import Layout, Module, Registry
    from .segments import Segments

__all__ = ["Snapshot", "load_unchanged"]


@dataclass(frozen=True)
class Snapshot:
    """The files a project was loaded from, by content, so that a worker loading it from disk
    can tell whether it would get the same project.

    Attributes:
        root: The project folder.
        folders: The layouts and modules folders (a layout or module added there is a change).
        digests: Each file's content digest by project-relative path (None: missing).
    """

    root: Path
    folders: tuple[str, str]
    digests: Mapping[str, str | None]

    @classmethod
    def of(cls, settings: Settings, segments: Segments, registry: Registry) -> Snapshot:
        """The files a project loaded: settings, segments, cut points, layouts, modules and
        what they include."""
        files = {settings.file, settings.project.segments}
        rfm = segments.rfm
        if rfm is not None and rfm.target is not None:
            files.add(display_path(rfm.target, settings.root))
        items: list[Layout | Module] = [*registry.layouts.values(), *registry.modules.values()]
        for item in items:
            for source in (item.body, *item.css, *item.head):
                files.update(file for file, _ in source.origins)
        folders = (settings.project.templates, settings.project.modules)
        return cls._take(settings.root, files, folders)

    @classmethod
    def _take(cls, root: Path, files: Iterable[str], folders: tuple[str, str]) -> Snapshot:
        layouts, modules = (root / folder for folder in folders)
        listed = [*mjml_files(layouts), *mjml_files(modules, recursive=True)]
        names = {*files, *(display_path(p, root) for p in listed if not p.name.startswith("_"))}
        return cls(root, folders, {name: _digest(root / name) for name in sorted(names)})

    def changes(self) -> list[str]:
        """The files that differ on disk now, e.g. ``rfm.yaml (changed)``, sorted."""
        now = self._take(self.root, self.digests, self.folders).digests
        found = []
        for name in sorted(now.keys() | self.digests.keys()):
            before, after = self.digests.get(name), now.get(name)
            if before != after:
                state = "added" if before is None else "removed" if after is None else "changed"
                found.append(f"{name} ({state})")
        return found


def _digest(path: Path) -> str | None:
    try:
        return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
    except OSError:
        return None


def load_unchanged(snapshot: Snapshot) -> Project:
    """The project from disk, as it was when ``snapshot`` was taken.

    Raises:
        PersonalizeError: its files changed since (a ``ConfigError``), or it does not load
            (the real error, which then says which files changed).
    """
    from .project import Project

    changes = ", ".join(snapshot.changes())
    changed = f"project files changed since the Project was loaded: {changes}"
    hint = (
        "workers started by 'spawn' or 'forkserver' load the project from disk, and would "
        "render another version: load it again with Project.load, or use workers=1"
    )
    try:
        project = Project.load(snapshot.root)
    except PersonalizeError as exc:
        if not changes:
            raise
        message = f"{exc.message} ({changed})"
        raise type(exc)(message, file=exc.file, line=exc.line, path=exc.path, hint=hint) from None
    if changes:
        raise ConfigError(changed, hint=hint)
    return project
