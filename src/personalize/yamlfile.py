"""Safe YAML loading with line numbers for every key, and front-matter splitting."""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import ConfigError, format_path, short_repr

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

    def text(self, spec: Mapping[Any, Any], path: Path, key: str) -> str:
        """The optional text under ``key`` of the mapping at ``path`` ("" when absent)."""
        value = spec.get(key, "")
        if isinstance(value, str):
            return value
        if value is None:
            shown = "null"
        elif isinstance(value, bool):  # as YAML spells it
            shown = "true" if value else "false"
        else:
            shown = short_repr(value)
        raise self.error((*path, key), f"{key!r} must be text, got {shown}", hint="quote it")

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

    Lines are counted at '\n' only, as editors count them (PyYAML also breaks at U+2028 and
    kin, which a quoted text may hold).

    Raises:
        ConfigError: invalid YAML (a control character too), duplicate keys, non-standard tags
            (also on lists and mappings), impossible typed values such as ``2026-13-01``, an
            alias inside its own anchor, more than ``MAX_VALUES`` values, or more than
            ``MAX_DEPTH`` levels of nesting. Nothing else escapes.
    """
    lines = _Lines(text, first_line)
    loader = None  # yaml.compose, keeping the loader to say where it stopped
    try:
        loader = _Loader(text)  # refuses a control character at once
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ConfigError(
            f"invalid YAML: {exc.problem or exc.context}",
            file=file,
            line=lines.of(mark.index) if mark else None,
            hint=lines.separator_before(mark.index if mark else len(text))
            or "check indentation and quoting; strings with ': ' or '#' need quotes",
        ) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, e.g. NUL or ESC
        kind = (
            "control character" if unicodedata.category(chr(exc.character)) == "Cc" else "character"
        )
        raise ConfigError(
            f"invalid YAML: {kind} U+{exc.character:04X} is not allowed",
            file=file,
            line=lines.of(exc.position),
            hint="delete it: most editors do not show it (it often comes with copied text)",
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=file) from None
    except RecursionError:
        raise _too_deep(file, lines.of(loader.get_mark().index) if loader else None) from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        return Document(None, file, {})
    builder = _Builder(file, lines)
    try:
        data = builder.build(node, ())
    except RecursionError:
        raise _too_deep(file) from None
    return Document(data, file, builder.lines)


# Aliases repeat their anchor's value; without a budget a few lines can expand to billions
# of values ("billion laughs"). No settings or front matter comes near this many.
MAX_VALUES = 100_000
_PLAIN_TAGS: dict[type[yaml.Node], str] = {
    yaml.MappingNode: "tag:yaml.org,2002:map",
    yaml.SequenceNode: "tag:yaml.org,2002:seq",
}


# Far more than any settings or rule need; what reads the data (rules nest once per level)
# must not meet Python's recursion limit before the YAML parser does.
MAX_DEPTH = 100


def _too_deep(file: str, line: int | None = None) -> ConfigError:
    return ConfigError(
        "the YAML is nested too deeply",
        file=file,
        line=line,
        hint="flatten the structure; settings and rules need only a few levels",
    )


# Besides '\n', PyYAML breaks lines at these; editors do not, so its line numbers drift.
_SEPARATORS = {
    "\x85": "next-line character (U+0085)",
    "\u2028": "line separator (U+2028)",
    "\u2029": "paragraph separator (U+2029)",
}


class _Lines:
    """File lines, counted at '\n' as editors count them, of positions in a YAML text."""

    def __init__(self, text: str, first_line: int) -> None:
        self.text = text
        self.first_line = first_line
        self.breaks: list[int] | None = None  # the positions of '\n', found on first use

    def of(self, index: int) -> int:
        """The file line of the character at ``index``."""
        if self.breaks is None:
            self.breaks = [m.start() for m in re.finditer("\n", self.text)]
        return bisect_left(self.breaks, index) + self.first_line

    def separator_before(self, index: int) -> str | None:
        """A hint naming a separator on the lines just above ``index``, which PyYAML took for
        a line break: as in 'description: High<U+2028>value', pasted from a web page."""
        at = max(self.text.rfind(char, 0, index) for char in _SEPARATORS)
        if at < 0 or self.of(index) - self.of(at) > 3:
            return None
        return (
            f"line {self.of(at)} holds an invisible {_SEPARATORS[self.text[at]]}, "
            "which YAML reads as a line break: delete it, or quote the text"
        )


class _Builder:
    """Turns a composed node tree into plain data, recording the line of every key path."""

    def __init__(self, file: str, lines: _Lines) -> None:
        self.file = file
        self.lines_of = lines
        self.lines: dict[Path, int] = {}
        self.constructor = _Loader("")
        self.count = 0
        self.open: set[int] = set()  # ids of the collections being built (alias loops)

    def line_of(self, node: yaml.Node) -> int:
        return self.lines_of.of(int(node.start_mark.index))

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise ConfigError(
                f"the YAML holds more than {MAX_VALUES:,} values",
                file=self.file,
                line=self.line_of(node),
                path=format_path(path),
                hint="aliases (*name) repeat their anchor's value; use fewer of them",
            )
        if len(path) > MAX_DEPTH:
            raise _too_deep(self.file, self.line_of(node))
        self.lines.setdefault(path, self.line_of(node))
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        plain = _PLAIN_TAGS.get(type(node))
        if plain is None or node.tag != plain:
            raise self.unsupported(node)
        if id(node) in self.open:
            raise ConfigError(
                "an alias refers to a value that contains it",
                file=self.file,
                line=self.line_of(node),
                path=format_path(path),
                hint="an anchor (&name) cannot be used (*name) inside its own value",
            )
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, path)
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(
                    "mapping keys must be plain strings",
                    file=self.file,
                    line=self.line_of(key_node),
                    path=format_path(path),
                )
            key = self.scalar(key_node)
            if key in result:
                raise ConfigError(
                    f"duplicate key {key!r}",
                    file=self.file,
                    line=self.line_of(key_node),
                    path=format_path(path),
                    hint=f"{key!r} is already set on line {self.lines[(*path, key)]}; keep one",
                )
            child = (*path, key)
            self.lines[child] = self.line_of(key_node)
            result[key] = self.build(value_node, child)
        return result

    def scalar(self, node: yaml.ScalarNode) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError:
            raise self.unsupported(node) from None
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            # A scalar that looks like a typed value but is not one, e.g. 2026-13-01.
            kind = str(node.tag).rsplit(":", 1)[-1]
            raise ConfigError(
                f"invalid {kind} {short_repr(node.value)}",
                file=self.file,
                line=self.line_of(node),
                hint="fix the value, or quote it to keep it as text",
            ) from None

    def unsupported(self, node: yaml.Node) -> ConfigError:
        return ConfigError(
            f"unsupported YAML tag {node.tag!r}",
            file=self.file,
            line=self.line_of(node),
            hint="only plain YAML values are allowed (no !!python or custom tags)",
        )


def split_front_matter(text: str, *, file: str, keys: Collection[str]) -> tuple[Document, str, int]:
    """Split ``---``-delimited YAML front matter from a template body.

    The front matter opens the file; blank lines (and a byte-order mark) may come before it.
    A ``---`` block below other text that names one of ``keys`` (the front-matter keys the
    caller knows) is misplaced front matter, and an error.

    Returns:
        The front matter document (empty mapping when absent), the body, and the file line
        on which the body starts.

    Raises:
        ConfigError: front matter that is never closed or is not a mapping, or front matter
            (a block naming a known key) below other text, which would be sent as body text.
    """
    # Some editors start UTF-8 files with a byte-order mark; it must not hide the front matter.
    text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    fences = (index for index, line in enumerate(lines) if line.strip() == "---")
    start = next(fences, None)
    if start is None:
        return Document({}, file, {}), text, 1
    if any(line.strip() for line in lines[:start]):
        _refuse_late_front_matter(lines, start, next(fences, None), file=file, keys=keys)
        return Document({}, file, {}), text, 1
    end = next(fences, None)
    if end is None:
        raise ConfigError(
            "front matter is never closed",
            file=file,
            line=start + 1,
            hint="end the front matter with a line holding only '---'",
        )
    doc = load_yaml("\n".join(lines[start + 1 : end]), file=file, first_line=start + 2)
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(
            "front matter must be a mapping of keys to values",
            file=file,
            line=start + 2,
            hint="write it as 'key: value' lines between the two '---' lines",
        )
    return Document(data, file, doc.lines), "\n".join(lines[end + 1 :]), end + 2


def _refuse_late_front_matter(
    lines: list[str], start: int, end: int | None, *, file: str, keys: Collection[str]
) -> None:
    """Raise if the ``---`` block at ``start`` is front matter with text above it.

    Such a file would be all body: its targeting ignored and its YAML sent to every recipient.
    """
    if end is None:
        return
    try:
        data = load_yaml("\n".join(lines[start + 1 : end]), file=file).data
    except ConfigError:  # not YAML: body text that happens to hold two '---' lines
        return
    if not isinstance(data, dict) or not any(str(key) in keys for key in data):
        return
    above = [number for number, line in enumerate(lines[:start], 1) if line.strip()]
    where = f"line {above[0]}" if len(above) == 1 else f"lines {above[0]}–{above[-1]}"
    comment = lines[above[0] - 1].lstrip().startswith(("<!--", "{#"))
    what = "the comment" if comment else "the text"
    raise ConfigError(
        "front matter must start the file: with other text above it, it would be sent as body text",
        file=file,
        line=start + 1,
        hint=f"move {what} on {where} below the closing '---' on line {end + 1}",
    )
