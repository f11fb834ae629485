"""Layouts and content modules: loading, front-matter validation and indexing by slot."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from fnmatch import fnmatch
from pathlib import Path

from .errors import ConfigError, PersonalizeError, RegistryError, did_you_mean
from .frontmatter import (
    LAYOUT_KEYS,
    MODULE_KEYS,
    Active,
    ExperimentTag,
    active_of,
    check_keys,
    experiment_of,
    locales_of,
    names_of,
    priority_of,
    text_of,
    when_of,
)
from .includes import Resolved, Source, resolve_includes
from .rules import Rule
from .slots import Slot, find_slots, uncomment_slots
from .textfiles import display_path, read_text_file
from .yamlfile import Document, split_front_matter

__all__ = [
    "Active",
    "ExperimentTag",
    "Layout",
    "Module",
    "Registry",
    "Slot",
    "load_registry",
    "locale_matches",
]


@dataclass(frozen=True)
class Layout:
    """An email skeleton: MJML + Jinja with ``<slot name="…"/>`` markers."""

    name: str
    file: str
    body: Source
    slots: tuple[Slot, ...]
    subject: str
    subject_line: int
    preheader: str | None = None
    preheader_line: int | None = None
    description: str = ""
    css: tuple[Source, ...] = ()  # included stylesheets and heads, each line's origin kept
    head: tuple[Source, ...] = ()


@dataclass(frozen=True)
class Module:
    """A content block for one slot, with its targeting."""

    id: str
    slot: str
    file: str
    body: Source
    segments: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    when: Rule | None = None
    priority: int = 0
    locales: tuple[str, ...] = ()
    active: Active | None = None
    subject: str | None = None
    subject_line: int | None = None
    preheader: str | None = None
    preheader_line: int | None = None
    description: str = ""
    css: tuple[Source, ...] = ()  # included stylesheets and heads, each line's origin kept
    head: tuple[Source, ...] = ()
    experiment: ExperimentTag | None = None

    @property
    def is_fallback(self) -> bool:
        """A module with no targeting at all fills its slot for everyone else."""
        return not (self.segments or self.exclude or self.when or self.locales or self.active)


@dataclass(frozen=True)
class Registry:
    """Every layout and module of a project, modules indexed by slot in decision order."""

    layouts: Mapping[str, Layout]
    modules: Mapping[str, Module]
    by_slot: Mapping[str, tuple[Module, ...]] = field(default_factory=dict)

    def layout(self, name: str) -> Layout:
        """The layout called ``name`` (``weekly`` for ``templates/weekly.mjml``)."""
        try:
            return self.layouts[name]
        except KeyError:
            raise RegistryError(
                f"no layout {name!r}",
                hint=did_you_mean(name, self.layouts)
                or f"layouts: {', '.join(sorted(self.layouts)) or 'none'}",
            ) from None


def locale_matches(wanted: Collection[str], locale: str) -> bool:
    """``de`` matches ``de_DE``; ``de_AT`` matches only ``de_AT``."""
    return any(locale == item or locale.startswith(item + "_") for item in wanted)


def decision_order(module: Module) -> tuple[int, bool, str, bool, str]:
    """Sort key: highest priority first, targeted before fallback, then by id (stable).

    The variants of an experiment sort next to each other (by experiment name), locale-specific
    ones first, so that no other module can sit between the arms of one experiment.
    """
    tag = module.experiment
    return (
        -module.priority,
        module.is_fallback,
        tag.name if tag else module.id,
        not module.locales,
        module.id,
    )


def load_registry(
    root: Path,
    *,
    templates: str,
    modules: str,
    names: Collection[str],
    segments: Collection[str],
    tz: tzinfo,
    problems: list[PersonalizeError] | None = None,
) -> Registry:
    """Load every ``templates/*.mjml`` layout and ``modules/**/*.mjml`` module.

    Args:
        root: The project folder.
        templates: The layouts folder, relative to ``root`` or absolute. Files outside
            ``root`` are named as found (their includes must still stay inside ``root``).
        modules: The modules folder, likewise.
        names: Every name a ``when`` rule may use (fields, metrics, segments).
        segments: The segment names modules may target.
        tz: The project time zone (for ``active`` windows given as dates).
        problems: Collecting mode (for lint): each problem is recorded here instead of
            raised; a layout or module that fails is left out, a repeated or unnamed slot
            tag is skipped, and loading goes on.

    Raises:
        ConfigError: malformed front matter (file, line, key, value, hint).
        RegistryError: unknown slots or segments, missing layouts, duplicate slots.
    """
    report = _reporter(problems)
    layout_dir, module_dir = root / templates, root / modules
    layouts: dict[str, Layout] = {}
    if not layout_dir.is_dir():
        report(
            RegistryError(
                f"no {templates}/ folder",
                hint="layouts live in templates/*.mjml; set [project] templates to use another "
                "folder",
            )
        )
    unread: list[PersonalizeError] = []  # folders that cannot be listed (collecting mode)

    def listing(error: PersonalizeError) -> None:
        unread.append(error)
        report(error)

    for path in mjml_files(layout_dir, root=root, report=listing):
        try:
            layout = _load_layout(root, path, report)
        except PersonalizeError as err:
            report(err)
            continue
        layouts[layout.name] = layout
    if not layouts and layout_dir.is_dir() and not unread:
        report(RegistryError(f"no layouts in {templates}/", hint="add e.g. templates/weekly.mjml"))
    slots = {slot.name for layout in layouts.values() for slot in layout.slots}
    loaded: dict[str, Module] = {}
    if module_dir.is_dir():
        for path in mjml_files(module_dir, recursive=True, root=root, report=listing):
            if path.name.startswith("_"):
                continue  # a partial for mj-include, not a module
            try:
                module = _load_module(
                    root, path, module_dir, slots=slots, names=names, segments=segments, tz=tz
                )
            except PersonalizeError as err:
                report(err)
                continue
            loaded[module.id] = module
    by_slot = {
        slot: tuple(sorted((m for m in loaded.values() if m.slot == slot), key=decision_order))
        for slot in sorted(slots)
    }
    for layout in layouts.values():
        for slot in layout.slots:
            # A module for everyone (no segments, exclude or when) may still be limited to
            # locales or a date window; then a recipient outside them is a DecisionError.
            # Its fallback may be in a folder that could not be read: that is the problem.
            fallback = any(_for_everyone(m) for m in by_slot[slot.name])
            if slot.required and not fallback and not unread:
                targeted = ", ".join(m.id for m in by_slot[slot.name]) or "none"
                report(
                    ConfigError(
                        f"required slot {slot.name!r} has no fallback module (modules: {targeted})",
                        file=slot.file,
                        line=slot.line,
                        hint=f"add a module without targeting in {modules}/{slot.name}/ to fill "
                        f"it for everyone else, or mark the slot optional: "
                        f'<slot name="{slot.name}" optional/>',
                    )
                )
    return Registry(layouts=layouts, modules=loaded, by_slot=by_slot)


def mjml_files(
    folder: Path,
    *,
    recursive: bool = False,
    root: Path | None = None,
    report: Callable[[PersonalizeError], None] | None = None,
) -> list[Path]:
    """The ``*.mjml`` files of ``folder``, sorted: regular files only, hidden ones skipped.

    Editors leave hidden files and links beside the one being edited (Emacs links
    ``.#weekly.mjml`` to nowhere); a folder named ``*.mjml`` is not a template either. A
    missing ``folder`` has no files.

    Args:
        folder: The layouts or modules folder.
        recursive: Include the files of its subfolders (not hidden ones).
        root: The project folder, for naming a folder that cannot be read.
        report: Called with each folder that cannot be read (default: raise the first).

    Raises:
        ConfigError: a folder cannot be listed (no permission, an I/O error), naming the
            folder and why: its files would be left out without a word.
    """
    errors: list[OSError] = []
    found: list[Path] = []
    # Path.glob skips a folder it cannot list without a word; os.walk tells us.
    for top, folders, files in os.walk(folder, onerror=errors.append):
        folders[:] = [name for name in folders if recursive and not name.startswith(".")]
        for name in files:
            if fnmatch(name, "*.mjml") and not name.startswith("."):
                try:
                    if Path(top, name).is_file():
                        found.append(Path(top, name))
                except OSError as exc:  # listed, but the folder cannot be searched
                    errors.append(OSError(exc.errno, exc.strerror, top))
    shown: set[str] = set()
    for error in errors:
        if isinstance(error, FileNotFoundError | NotADirectoryError):
            continue  # no such folder (load_registry says so), or it went away meanwhile
        path = Path(error.filename or folder)
        name = f"{display_path(path, root) if root is not None else path.as_posix()}/"
        if name in shown:
            continue
        shown.add(name)
        problem = ConfigError(
            f"cannot read the folder: {error.strerror or error}",
            file=name,
            hint="check its permissions: personalize lists it to find the .mjml files in it",
        )
        if report is None:
            raise problem
        report(problem)
    return sorted(found)


def _reporter(problems: list[PersonalizeError] | None) -> Callable[[PersonalizeError], None]:
    """Raise each problem, or (collecting mode) record it and let loading go on."""

    def report(error: PersonalizeError) -> None:
        if problems is None:
            raise error
        problems.append(error)

    return report


def _for_everyone(module: Module) -> bool:
    return not (module.segments or module.exclude or module.when)


def _read(root: Path, path: Path) -> tuple[Document, Resolved, str]:
    file = display_path(path, root)
    text = read_text_file(path, file=file)
    front, body, first = split_front_matter(text, file=file, keys=MODULE_KEYS)
    source = Source.from_text(body, file=file, first_line=first)
    return front, resolve_includes(source, root=root, base=path.parent), file


def _load_layout(
    root: Path, path: Path, report: Callable[[PersonalizeError], None] | None = None
) -> Layout:
    front, resolved, file = _read(root, path)
    body = uncomment_slots(resolved.source)
    check_keys(front, LAYOUT_KEYS, what="layout")
    subject, subject_line = text_of(front, "subject")
    if subject is None or subject_line is None:
        raise ConfigError(
            "layout has no subject",
            file=file,
            line=1,
            hint='add front matter with a subject line: ---\\nsubject: "Your weekly picks"\\n---',
        )
    preheader, preheader_line = text_of(front, "preheader")
    return Layout(
        name=path.stem,
        file=file,
        body=body,
        slots=find_slots(body, file, report or _reporter(None)),
        subject=subject,
        subject_line=subject_line,
        preheader=preheader,
        preheader_line=preheader_line,
        description=str(front.data.get("description") or ""),
        css=resolved.css,
        head=resolved.head,
    )


def _load_module(
    root: Path,
    path: Path,
    module_dir: Path,
    *,
    slots: Collection[str],
    names: Collection[str],
    segments: Collection[str],
    tz: tzinfo,
) -> Module:
    front, resolved, file = _read(root, path)
    body = resolved.source
    check_keys(front, MODULE_KEYS, what="module")
    module_id = path.relative_to(module_dir).with_suffix("").as_posix()
    folder = module_id.split("/")[0] if "/" in module_id else None
    slot = front.data.get("slot", folder)
    if not isinstance(slot, str) or slot not in slots:
        if slot is None:
            raise ConfigError(
                "module has no slot",
                file=file,
                line=1,
                hint="put it in modules/<slot>/ or add 'slot: hero' to its front matter",
            )
        message = f"slot {slot!r} is not used by any layout"
        hint = did_you_mean(str(slot), slots) or f"slots: {', '.join(sorted(slots))}"
        if "slot" not in front.data:  # the folder names the slot: there is no key to point at
            raise ConfigError(message, file=file, line=1, hint=hint)
        raise front.error(("slot",), message, hint=hint)
    priority = priority_of(front)
    rule = when_of(front, names=names)
    locales = locales_of(front)
    subject, subject_line = text_of(front, "subject")
    preheader, preheader_line = text_of(front, "preheader")
    return Module(
        id=module_id,
        slot=slot,
        file=file,
        body=body,
        segments=names_of(front, "segments", known=segments, what="segment"),
        exclude=names_of(front, "exclude", known=segments, what="segment"),
        when=rule,
        priority=priority,
        locales=locales,
        active=active_of(front, tz=tz),
        subject=subject,
        subject_line=subject_line,
        preheader=preheader,
        preheader_line=preheader_line,
        description=str(front.data.get("description") or ""),
        css=resolved.css,
        head=resolved.head,
        experiment=experiment_of(front),
    )
