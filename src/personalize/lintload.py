"""Tolerant loading for lint: every file read on its own, problems collected instead of raised."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Literal, TypeVar

from .config import Settings, load_settings
from .errors import ConfigError, PersonalizeError
from .experimentfile import load_experiments
from .experiments import Experiment
from .frontmatter import MODULE_KEYS
from .messagecheck import check_message_settings
from .prepare import Prepared, prepare
from .profile import Recipient, Schema
from .records import duplicate_id, read_jsonl
from .registry import Registry, load_registry, mjml_files
from .rfm import NAMES as RFM_NAMES
from .segmentfile import SegmentFile, read_segments
from .segmentgroups import Group
from .segments import Segment, Segments
from .settingscheck import project_setting_problems
from .templating import Environments, make_environments
from .textfiles import display_path, refuse_special_file
from .yamlfile import Document, load_yaml, split_front_matter

__all__ = ["Loaded", "Problem", "Stage", "load_tolerantly"]

T = TypeVar("T")
Stage = Literal["settings", "segments", "registry", "prepare", "experiments", "personas"]


@dataclass(frozen=True)
class Problem:
    """A load error and the stage that raised it (the stage decides its lint code)."""

    stage: Stage
    error: PersonalizeError


@dataclass(frozen=True)
class Loaded:
    """What loaded of a project, for the cross-file checks.

    Attributes:
        settings: The settings.
        schema: The recipient schema.
        segments: The metrics, scores and segments that loaded.
        registry: The layouts and modules that loaded.
        experiments: The experiments that passed their checks.
        envs: The template environments.
        names: Every name a template may read (fields, metrics, scores, RFM values), also
            those declared in the segments file that failed to load, so that one mistake
            does not make every template that reads the name fail too.
        segment_names: The segments declared (loaded or not).
        lost_slots: The slots of layouts that did not load (``None``: no layouts folder),
            so that their modules are not reported as filling unknown slots too.
        lost_experiments: The experiments named by modules that did not load, so that their
            siblings are not reported as the only variant too.
        fronts: The front matter of each layout and module file, for key lines.
        segments_doc: The segments file as YAML, for key lines (None when unreadable).
        personas: The personas that validated.
        prepared: The layouts and modules that passed their checks, protected as for
            compiling (None when preparing stopped).
    """

    settings: Settings
    schema: Schema
    segments: Segments
    registry: Registry
    experiments: Mapping[str, Experiment]
    envs: Environments
    names: frozenset[str]
    segment_names: frozenset[str]
    lost_slots: frozenset[str] | None
    lost_experiments: frozenset[str]
    fronts: Mapping[str, Document]
    segments_doc: Document | None
    personas: tuple[Recipient, ...]
    prepared: Prepared | None = None


def load_tolerantly(root: Path) -> tuple[Loaded | None, list[Problem]]:
    """Load the project in ``root`` file by file, collecting every load error.

    Returns:
        What loaded (None when the settings or the schema do not load: nothing else can be
        read without them) and the problems found on the way.
    """
    problems: list[Problem] = []
    try:
        settings = load_settings(root)
        schema = Schema(settings)
    except PersonalizeError as err:
        return None, [Problem("settings", err)]
    try:
        check_message_settings(settings, schema)
    except PersonalizeError as err:  # the rest loads without these
        problems.append(Problem("settings", err))
    located = project_setting_problems(settings)
    problems.extend(Problem("settings", err) for err in located)
    project = settings.project
    fields = schema.paths()
    text = _text(settings.path(project.segments))
    segments_doc = _yaml(text, project.segments)
    raw = _declared(segments_doc) if segments_doc is not None else _declared_text(text)
    found = _collect(
        problems,
        "segments",
        lambda into: read_segments(
            settings.path(project.segments),
            file=project.segments,
            fields=fields,
            field_spec=schema.spec,
            problems=into,
        ),
    )
    segments = _segments(found, project.segments, problems)
    segment_names = frozenset({*segments.segments, *raw.get("segments", ())})
    computed = {*segments.computed, *raw.get("metrics", ()), *raw.get("scores", ())}
    if "rfm" in raw:
        computed.update(RFM_NAMES)
    registry = _collect(
        problems,
        "registry",
        lambda into: load_registry(
            settings.root,
            templates=project.templates,
            modules=project.modules,
            names=fields | computed | segment_names,
            segments=segment_names,
            tz=schema.tz,
            problems=into,
        ),
    ) or Registry(layouts={}, modules={})
    if any(err.path == "project.templates" for err in located):
        # Reported at its setting above: the registry's unlocated report would repeat it.
        missing = f"no {project.templates}/ folder"
        problems[:] = [p for p in problems if p.stage != "registry" or p.error.message != missing]
    envs = make_environments(settings.limits)
    names = frozenset({*schema.fields, *computed})
    prepared = _collect(
        problems,
        "prepare",
        lambda into: prepare(
            registry,
            envs=envs,
            names=names,
            settings=settings,
            segments=segment_names,
            problems=into,
        ),
    )
    return Loaded(
        settings=settings,
        schema=schema,
        segments=segments,
        registry=registry,
        experiments=_experiments(registry, problems),
        envs=envs,
        names=names,
        segment_names=segment_names,
        lost_slots=_lost_slots(settings, registry),
        lost_experiments=_lost_experiments(settings, registry),
        fronts=_fronts(settings.root, registry),
        segments_doc=segments_doc,
        personas=_personas(settings, schema, problems),
        prepared=prepared,
    ), problems


def _collect(
    problems: list[Problem], stage: Stage, load: Callable[[list[PersonalizeError]], T]
) -> T | None:
    """Run a loader in collecting mode; an error that stops it anyway is recorded too."""
    into: list[PersonalizeError] = []
    result: T | None = None
    try:
        result = load(into)
    except PersonalizeError as err:
        into.append(err)
    problems.extend(Problem(stage, err) for err in into)
    return result


def _text(path: Path) -> str:
    if not path.is_file():  # a named pipe would block: read_segments reports it
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""  # read_segments reports why


def _yaml(text: str, file: str) -> Document | None:
    try:
        return load_yaml(text, file=file)
    except PersonalizeError:
        return None  # read_segments reports why


_TOP_KEY = re.compile(r"([A-Za-z_]\w*)\s*:")
_INNER_KEY = re.compile(r"([ \t]+)([A-Za-z_][\w-]*)\s*:")
_EXPERIMENT_NAME = re.compile(r"""\bexperiment\s*:[^\n]*?\bname\s*:\s*["']?([\w-]+)""")
_SLOT_NAME = re.compile(r"""<slot\b[^>]*?\bname\s*=\s*["']?([\w-]+)""", re.IGNORECASE)


def _declared_text(text: str) -> dict[str, tuple[str, ...]]:
    """``_declared`` for a file that is not valid YAML: the keys one level under each section."""
    found: dict[str, list[str]] = {}
    section: str | None = None
    indent: str | None = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if top := _TOP_KEY.match(line):
            section, indent = top.group(1), None
            found.setdefault(section, [])
        elif section and (inner := _INNER_KEY.match(line)):
            indent = indent or inner.group(1)
            if inner.group(1) == indent:
                found[section].append(inner.group(2))
    return {name: tuple(names) for name, names in found.items()}


def _lost_slots(settings: Settings, registry: Registry) -> frozenset[str] | None:
    folder = settings.path(settings.project.templates)
    unread: list[PersonalizeError] = []  # load_registry reported it
    files = mjml_files(folder, report=unread.append)
    if not folder.is_dir() or unread:  # no layouts to tell which slots exist
        return None
    loaded = {layout.file for layout in registry.layouts.values()}
    lost: set[str] = set()
    for path in files:
        if display_path(path, settings.root) not in loaded:
            lost.update(_SLOT_NAME.findall(_text(path)))
    return frozenset(lost)


def _lost_experiments(settings: Settings, registry: Registry) -> frozenset[str]:
    folder = settings.path(settings.project.modules)
    if not folder.is_dir():
        return frozenset()
    unread: list[PersonalizeError] = []  # load_registry reported it
    files = mjml_files(folder, recursive=True, report=unread.append)
    if unread:  # any experiment may have variants in a folder that could not be read
        return frozenset(m.experiment.name for m in registry.modules.values() if m.experiment)
    loaded = {module.file for module in registry.modules.values()}
    lost: set[str] = set()
    for path in files:
        if path.name.startswith("_") or display_path(path, settings.root) in loaded:
            continue
        text = _text(path)
        try:
            data = split_front_matter(text, file=path.name, keys=MODULE_KEYS)[0].data
        except PersonalizeError:  # front matter that is not YAML: the name as written
            lost.update(_EXPERIMENT_NAME.findall(text))
            continue
        tag = data.get("experiment") if isinstance(data, Mapping) else None
        if isinstance(tag, Mapping) and isinstance(tag.get("name"), str):
            lost.add(tag["name"])
    return frozenset(lost)


def _declared(doc: Document | None) -> dict[str, tuple[str, ...]]:
    """The names each section of the segments file declares, whether they load or not."""
    data = doc.data if doc is not None else None
    if not isinstance(data, Mapping):
        return {}
    return {
        str(section): tuple(str(n) for n in body) if isinstance(body, Mapping) else ()
        for section, body in data.items()
    }


def _segments(found: SegmentFile | None, file: str, problems: list[Problem]) -> Segments:
    """Segments from what the file declared; a segment in a dependency loop is left out."""
    if found is None:
        return Segments(file=file, metrics={}, segments={})
    segments: dict[str, Segment] = dict(found.segments)
    groups: dict[str, Group] = dict(found.groups)
    while True:
        try:
            return Segments(
                file=file,
                metrics=MappingProxyType(found.metrics),
                segments=MappingProxyType(segments),
                scores=MappingProxyType(found.scores),
                rfm=found.rfm,
                groups=MappingProxyType(groups),
            )
        except PersonalizeError as err:
            problems.append(Problem("segments", err))
            name = (err.path or "").split(".")[1:2]
            if not name or name[0] not in segments:
                return Segments(file=file, metrics=MappingProxyType(found.metrics), segments={})
            del segments[name[0]]
            groups = {g: group for g, group in groups.items() if name[0] not in group.order}


def _experiments(registry: Registry, problems: list[Problem]) -> Mapping[str, Experiment]:
    """Each experiment checked on its own, so that one bad experiment hides no other."""
    names = sorted({m.experiment.name for m in registry.modules.values() if m.experiment})
    loaded: dict[str, Experiment] = {}
    for name in names:
        members = {
            mid: m
            for mid, m in registry.modules.items()
            if m.experiment and m.experiment.name == name
        }
        try:
            loaded.update(load_experiments(replace(registry, modules=members)))
        except PersonalizeError as err:
            problems.append(Problem("experiments", err))
    return MappingProxyType(loaded)


def _fronts(root: Path, registry: Registry) -> Mapping[str, Document]:
    files = [x.file for x in registry.layouts.values()]
    files += [x.file for x in registry.modules.values()]
    fronts: dict[str, Document] = {}
    for file in files:
        try:
            text = (root / file).read_text(encoding="utf-8")
            fronts[file] = split_front_matter(text, file=file, keys=MODULE_KEYS)[0]
        except (OSError, UnicodeDecodeError, PersonalizeError):
            continue  # it loaded a moment ago; if it changed since, lint just has no lines
    return MappingProxyType(fronts)


def _personas(settings: Settings, schema: Schema, problems: list[Problem]) -> tuple[Recipient, ...]:
    """Every persona that validates; bad lines are problems. No personas file: none."""
    file = settings.project.personas
    path = settings.path(file)
    if not path.exists() and not path.is_symlink():  # a broken link is read, and says so
        return ()
    personas: list[Recipient] = []
    lines: dict[str, int] = {}
    try:
        refuse_special_file(path, file=file)  # a named pipe or /dev/zero would never end
        for number, record in read_jsonl(path, display=file):
            if isinstance(record, ConfigError):  # not JSON, or not UTF-8
                problems.append(Problem("personas", record))
                continue
            try:
                persona = schema.validate(record, source=file, line=number)
                if persona.id in lines:
                    raise duplicate_id(persona.id, file, number, lines[persona.id], "persona")
            except PersonalizeError as err:
                problems.append(Problem("personas", err))
            else:
                lines[persona.id] = number
                personas.append(persona)
    except ConfigError as error:  # the file cannot be opened
        problems.append(Problem("personas", error))
        return ()
    return tuple(personas)
