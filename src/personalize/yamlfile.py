"""Safe YAML loading with line numbers for every key, and front-matter splitting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import ConfigError, format_path

__all__ = ["Document", "load_yaml", "split_front_matter"]

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Document:
    """Parsed YAML data plus the source line of every key path in it."""

    data: Any
    file: str
    lines: Mapping[Path, int] = field(default_factory=dict)

    def line(self, path: Path) -> int | None:
        """The line of ``path``, or of its closest parent that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def error(self, path: Path, message: str, *, hint: str | None = None) -> ConfigError:
        """A ``ConfigError`` located at ``path`` in this document."""
        return ConfigError(
            message, file=self.file, line=self.line(path), path=format_path(path), hint=hint
        )


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses every non-standard tag (``!!python/...``, custom tags)."""


def load_yaml(text: str, *, file: str, first_line: int = 1) -> Document:
    """Parse YAML safely; duplicate keys and unsafe tags are ``ConfigError``s with a line.

    Args:
        text: The YAML source.
        file: The file name used in error messages (relative to the project).
        first_line: The file line on which ``text`` starts (for front matter).
    """
    offset = first_line - 1
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 + offset if mark else None
        raise ConfigError(
            f"invalid YAML: {exc.problem or exc.context}",
            file=file,
            line=line,
            hint="check indentation and quoting; strings with ': ' or '#' need quotes",
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=file) from None
    lines: dict[Path, int] = {}
    if node is None:
        return Document(None, file, lines)
    constructor = _Loader("")
    data = _build(node, (), lines, constructor, file, offset)
    return Document(data, file, lines)


def _build(
    node: yaml.Node,
    path: Path,
    lines: dict[Path, int],
    constructor: _Loader,
    file: str,
    offset: int,
) -> Any:
    line = node.start_mark.line + 1 + offset
    lines.setdefault(path, line)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(
                    "mapping keys must be plain strings",
                    file=file,
                    line=key_node.start_mark.line + 1 + offset,
                    path=format_path(path),
                )
            key = _scalar(key_node, constructor, file, offset)
            if key in result:
                raise ConfigError(
                    f"duplicate key {key!r}",
                    file=file,
                    line=key_node.start_mark.line + 1 + offset,
                    path=format_path(path),
                    hint=f"{key!r} is already set on line {lines[(*path, key)]}; keep one",
                )
            child = (*path, key)
            lines[child] = key_node.start_mark.line + 1 + offset
            result[key] = _build(value_node, child, lines, constructor, file, offset)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*path, index), lines, constructor, file, offset)
            for index, item in enumerate(node.value)
        ]
    assert isinstance(node, yaml.ScalarNode)  # composer yields only these three node kinds
    return _scalar(node, constructor, file, offset)


def _scalar(node: yaml.ScalarNode, constructor: _Loader, file: str, offset: int) -> Any:
    try:
        return constructor.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError:
        raise ConfigError(
            f"unsupported YAML tag {node.tag!r}",
            file=file,
            line=node.start_mark.line + 1 + offset,
            hint="only plain YAML values are allowed (no !!python or custom tags)",
        ) from None


def split_front_matter(text: str, *, file: str) -> tuple[Document, str, int]:
    """Split ``---``-delimited YAML front matter from a template body.

    Returns:
        The front matter document (empty mapping when absent), the body, and the file line
        on which the body starts.
    """
    if not text.startswith("---"):
        return Document({}, file, {}), text, 1
    lines = text.split("\n")
    if lines[0].strip() != "---":
        return Document({}, file, {}), text, 1
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            doc = load_yaml("\n".join(lines[1:index]), file=file, first_line=2)
            data = doc.data if doc.data is not None else {}
            if not isinstance(data, dict):
                raise ConfigError(
                    "front matter must be a mapping of keys to values",
                    file=file,
                    line=2,
                    hint="write it as 'key: value' lines between the two '---' lines",
                )
            return Document(data, file, doc.lines), "\n".join(lines[index + 1 :]), index + 2
    raise ConfigError(
        "front matter is never closed",
        file=file,
        line=1,
        hint="end the front matter with a line holding only '---'",
    )
