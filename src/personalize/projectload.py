"""Reading a project folder: the checked parts ``Project.load`` builds on, and its record files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .config import Settings, load_settings
from .messagecheck import check_message_settings
from .prepare import Prepared, prepare
from .profile import Recipient, Schema
from .records import by_id, iter_jsonl
from .registry import Registry, load_registry
from .segments import Segments, load_segments
from .settingscheck import check_project_settings, open_code_cache
from .templating import Environments, make_environments

__all__ = ["ProjectParts", "load_parts", "read_personas", "read_records"]


@dataclass(frozen=True, slots=True)
class ProjectParts:
    """What a project folder holds, loaded and checked: the arguments of ``Project``."""

    settings: Settings
    schema: Schema
    segments: Segments
    registry: Registry
    prepared: Prepared
    envs: Environments


def load_parts(path: str | os.PathLike[str]) -> ProjectParts:
    """Load and check the project in ``path`` (the folder holding personalize.toml).

    Raises:
        PersonalizeError: the first problem found, naming file, line and key.
    """
    settings = load_settings(Path(path))
    schema = Schema(settings)
    check_message_settings(settings, schema)
    check_project_settings(settings)
    fields = schema.paths()
    project = settings.project
    segments = load_segments(
        settings.path(project.segments),
        file=project.segments,
        fields=fields,
        field_spec=schema.spec,
    )
    # Templates see fields, metrics (with RFM values and scores) and `segments` (a set):
    # `{% if 'vip' in segments %}`.
    names = {*schema.fields, *segments.computed}
    registry = load_registry(
        settings.root,
        templates=project.templates,
        modules=project.modules,
        names=fields | set(segments.computed) | set(segments.segments),
        segments=segments.segments,
        tz=schema.tz,
    )
    envs = make_environments(settings.limits, code_cache=open_code_cache(settings))
    prepared = prepare(
        registry, envs=envs, names=names, settings=settings, segments=segments.segments
    )
    return ProjectParts(
        settings,
        schema=schema,
        segments=segments,
        registry=registry,
        prepared=prepared,
        envs=envs,
    )


def read_personas(settings: Settings, schema: Schema) -> dict[str, Recipient]:
    """The named sample recipients of ``personas.jsonl``, validated, in file order."""
    file = str(settings.project.personas)
    validated = (
        (line, schema.validate(record, source=file, line=line))
        for line, record in iter_jsonl(settings.root / file, display=file)
    )
    return by_id(validated, file=file, what="persona")


def read_records(schema: Schema, root: Path, path: str | os.PathLike[str]) -> Iterator[Recipient]:
    """Validate every line of a JSONL file (a relative ``path`` is read from ``root``)."""
    for line, record in iter_jsonl(root / path, display=str(path)):
        yield schema.validate(record, source=str(path), line=line)
