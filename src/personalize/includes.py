"""Project sources that remember where every line came from, and ``mj-include`` resolution."""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import RegistryError, short_repr
from .includepaths import Origin, include_path, read_include

__all__ = ["Resolved", "Source", "resolve_includes"]

INLINE_MARKER = "/* inline */"

# Comments are skipped so that a commented-out include stays inert, as in MJML itself.
_SCAN = re.compile(
    r"""<!--.*?-->|\{\#.*?\#\}|<mj-include\b(?P<attrs>(?:[^>"']++|"[^"]*+"|'[^']*+')*+)>""",
    re.DOTALL,
)
_END_TAG = re.compile(r"\s*</mj-include\s*>")
_ATTR = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
# Possessive and atomic: a comment ends at its first '-->' and is never taken apart again, so
# a partial opening with many comment lines (a licence header) is matched in linear time.
_DOCUMENT = re.compile(
    r"\A\s*+(?:<\?xml[^>]*\?>\s*+)?+(?:<!--(?>.*?-->)\s*+)*+<mjml[\s>/]", re.DOTALL
)
_TAG_REST = r"""(?:[^>"']|"[^"]*"|'[^']*')*?(?P<empty>/?)>"""
_BODY_OPEN = re.compile(r"<mj-body\b" + _TAG_REST)
_HEAD_OPEN = re.compile(r"<mj-head\b" + _TAG_REST)
_TYPES = ("mjml", "css", "html")


@dataclass(frozen=True)
class Source:
    """Markup text plus, for each of its lines, the project file and line it came from.

    ``origins[i]`` is the origin of line ``i + 1`` of ``text``; there is one entry per line,
    i.e. ``text.count("\\n") + 1`` entries.
    """

    text: str
    origins: tuple[Origin, ...]

    def origin(self, line: int) -> Origin:
        """The ``(file, line)`` that line ``line`` (1-based) of ``text`` came from.

        Lines outside the text are clamped to the first or last line, so that an error
        reported "at the end of the stream" still points into a real file.
        """
        if not self.origins:
            return ("", line)
        return self.origins[min(max(line, 1), len(self.origins)) - 1]

    def line_at(self, offset: int) -> int:
        """The 1-based line of ``text`` that contains the character at ``offset``."""
        return self.text.count("\n", 0, max(offset, 0)) + 1

    @classmethod
    def from_text(cls, text: str, *, file: str, first_line: int = 1) -> Source:
        """A source whose lines all come from ``file``, starting at line ``first_line``.

        Args:
            text: The markup.
            file: The project-relative POSIX path of the file (``modules/hero/vip.mjml``).
            first_line: The file line on which ``text`` starts (after front matter).
        """
        count = text.count("\n") + 1
        return cls(text, tuple((file, first_line + index) for index in range(count)))


@dataclass(frozen=True)
class Resolved:
    """The result of :func:`resolve_includes`.

    Attributes:
        source: The markup with every ``mj-include`` replaced; origins kept for every line.
        css: The contents of ``type="css"`` includes, in order, with the file and line of
            each line. Those marked ``css-inline="inline"`` start with the line
            ``/* inline */`` so that the caller can put them in ``<mj-style inline="inline">``.
        head: The ``<mj-head>`` children of included whole documents (``<mjml>`` root), in
            order, for the caller to merge into the including document's head.
    """

    source: Source
    css: tuple[Source, ...]
    head: tuple[Source, ...]


def resolve_includes(
    source: Source,
    *,
    root: Path,
    base: Path,
    max_depth: int = 10,
    max_chars: int = 2_000_000,
) -> Resolved:
    """Replace every ``<mj-include path="…" />`` in ``source`` with the included content.

    ``type="mjml"`` (the default) inserts the file (only the ``<mj-body>`` children of a whole
    document, whose ``<mj-head>`` children go to ``Resolved.head``), resolving its own includes
    relative to its folder; ``type="html"`` wraps the file in ``<mj-raw>``; ``type="css"``
    removes the tag and collects the file in ``Resolved.css``.

    Args:
        source: The including markup; its first line's origin names the including file.
        root: The project folder; no included file may resolve (symlinks followed) outside it.
        base: The folder of the including file; ``path`` is relative to it.
        max_depth: How deeply includes may nest.
        max_chars: The largest resolved markup allowed, against include fan-out bombs.

    Raises:
        RegistryError: A path leaves the project, is missing, is not UTF-8, or includes nest
            in a cycle or too deeply; located at the ``mj-include`` tag.
    """
    resolver = _Resolver(root.resolve(), max_depth=max_depth, max_chars=max_chars)
    chain = (source.origin(1)[0],)
    text, origins = resolver.expand(source.text, source.origins, base=base, chain=chain)
    return Resolved(Source(text, origins), tuple(resolver.css), tuple(resolver.head))


class _Builder:
    """Concatenates text pieces while keeping one origin per output line."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.origins: list[Origin] = []
        self.size = 0
        self._tail_blank = True

    def add(self, text: str, origins: Sequence[Origin]) -> None:
        if not text:
            return
        if not self.origins:
            self.origins.extend(origins)
        else:
            # A line joined from two pieces belongs to the piece that has content on it.
            head = text.split("\n", 1)[0]
            if self._tail_blank and head.strip():
                self.origins[-1] = origins[0]
            self.origins.extend(origins[1:])
        last_newline = text.rfind("\n")
        if last_newline >= 0:
            self._tail_blank = not text[last_newline + 1 :].strip()
        else:
            self._tail_blank = self._tail_blank and not text.strip()
        self.parts.append(text)
        self.size += len(text)

    def build(self, fallback: Origin) -> tuple[str, tuple[Origin, ...]]:
        return "".join(self.parts), tuple(self.origins) or (fallback,)


class _Lines:
    """Maps character offsets of one text to line indexes (0-based)."""

    def __init__(self, text: str) -> None:
        self._newlines = [match.start() for match in re.finditer("\n", text)]

    def index(self, offset: int) -> int:
        return bisect_right(self._newlines, offset - 1)


def _slice(
    text: str, origins: Sequence[Origin], lines: _Lines, start: int, end: int
) -> tuple[str, Sequence[Origin]]:
    return text[start:end], origins[lines.index(start) : lines.index(end) + 1]


class _Resolver:
    """One resolution run: the root, the limits, a read cache and the collected outputs."""

    def __init__(self, root: Path, *, max_depth: int, max_chars: int) -> None:
        self.root = root
        self.max_depth = max_depth
        self.max_chars = max_chars
        self.css: list[Source] = []
        self.head: list[Source] = []
        self._files: dict[Path, str] = {}
        self._located: dict[tuple[Path, str], Path] = {}

    def expand(
        self, text: str, origins: Sequence[Origin], *, base: Path, chain: tuple[str, ...]
    ) -> tuple[str, tuple[Origin, ...]]:
        if "<mj-include" not in text:
            return text, tuple(origins) or ((chain[0], 1),)
        lines = _Lines(text)
        out = _Builder()
        done = 0
        for match in _SCAN.finditer(text):
            attrs = match.group("attrs")
            if attrs is None:
                continue
            where = origins[min(lines.index(match.start()), len(origins) - 1)]
            end = match.end()
            if not attrs.rstrip().endswith("/"):
                closing = _END_TAG.match(text, end)
                if closing is None:
                    raise RegistryError(
                        "<mj-include> must be self-closing",
                        file=where[0],
                        line=where[1],
                        hint='write <mj-include path="…" />',
                    )
                end = closing.end()
            out.add(*_slice(text, origins, lines, done, match.start()))
            self._include(_attributes(attrs.rstrip().rstrip("/")), out, where, base, chain)
            done = end
            if out.size > self.max_chars:
                raise RegistryError(
                    f"mj-include: the resolved markup exceeds {self.max_chars:,} characters",
                    file=where[0],
                    line=where[1],
                    hint="a partial is included too many times; include large partials once",
                )
        out.add(*_slice(text, origins, lines, done, len(text)))
        return out.build(origins[0] if origins else (chain[0], 1))

    def _include(
        self,
        attrs: dict[str, str],
        out: _Builder,
        where: Origin,
        base: Path,
        chain: tuple[str, ...],
    ) -> None:
        file, line = where
        kind = attrs.get("type", "mjml").strip().lower()
        if kind not in _TYPES:
            raise RegistryError(
                f"mj-include type must be one of 'mjml', 'css', 'html', got {short_repr(kind)}",
                file=file,
                line=line,
                hint='leave type out for MJML partials; use type="css" for stylesheets',
            )
        written = attrs.get("path", "")
        path = self._locate(written, base, where)
        name = path.relative_to(self.root).as_posix()
        content = self._read(path, name, where)
        if kind == "css":
            css = Source.from_text(content, file=name)
            if attrs.get("css-inline", "").strip().lower() == "inline":
                css = Source(f"{INLINE_MARKER}\n{content}", ((name, 1), *css.origins))
            self.css.append(css)
            return
        if kind == "html":
            out.add("<mj-raw>", [(name, 1)])
            out.add(content, Source.from_text(content, file=name).origins)
            out.add("</mj-raw>", [(name, content.count("\n") + 1)])
            return
        if name in chain:
            raise RegistryError(
                f"mj-include cycle: {' → '.join((*chain, name))}",
                file=file,
                line=line,
                hint="remove one of the includes so that no file includes itself",
            )
        if len(chain) > self.max_depth:
            raise RegistryError(
                f"mj-include nests deeper than {self.max_depth} levels: "
                f"{' → '.join((*chain, name))}",
                file=file,
                line=line,
                hint="include the innermost partials directly instead of through each other",
            )
        own = Source.from_text(content, file=name).origins
        text, origins = self.expand(content, own, base=path.parent, chain=(*chain, name))
        if _DOCUMENT.match(text):
            out.add(*self._body(text, origins, name))
        else:
            out.add(text, origins)

    def _body(
        self, text: str, origins: tuple[Origin, ...], name: str
    ) -> tuple[str, Sequence[Origin]]:
        """Split an included whole document: keep its head children, return its body ones."""
        lines = _Lines(text)
        body = _BODY_OPEN.search(text)
        head = _HEAD_OPEN.search(text, 0, body.start() if body else len(text))
        if head is not None and not head.group("empty"):
            close = text.find("</mj-head", head.end())
            if close < 0:
                raise _unclosed("mj-head", name, origins[lines.index(head.start())][1])
            inner, inner_origins = _slice(text, origins, lines, *_strip(text, head.end(), close))
            if inner:
                self.head.append(Source(inner, tuple(inner_origins)))
        if body is None or body.group("empty"):
            return "", [origins[0]]
        close = text.rfind("</mj-body")
        if close < body.end():
            raise _unclosed("mj-body", name, origins[lines.index(body.start())][1])
        return _slice(text, origins, lines, body.end(), close)

    def _locate(self, written: str, base: Path, where: Origin) -> Path:
        key = (base, written)
        if key not in self._located:
            self._located[key] = include_path(written, base, self.root, where)
        return self._located[key]

    def _read(self, path: Path, name: str, where: Origin) -> str:
        if path not in self._files:
            self._files[path] = read_include(path, name, where)
        return self._files[path]


def _attributes(text: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for match in _ATTR.finditer(text):
        name, double, single, bare = match.groups()
        value = next((v for v in (double, single, bare) if v is not None), "")
        attrs.setdefault(name.lower(), html.unescape(value))
    return attrs


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink ``[start, end)`` to exclude surrounding whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _unclosed(tag: str, name: str, line: int) -> RegistryError:
    return RegistryError(
        f"<{tag}> of the included document is never closed",
        file=name,
        line=line,
        hint=f"add </{tag}>",
    )
