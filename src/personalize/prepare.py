"""Load-time preparation: check every layout and module, protect their tokens once."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from .config import Settings
from .errors import ConfigError, PersonalizeError, RegistryError
from .frontmatter import LAYOUT_KEYS, MODULE_KEYS
from .includes import Source
from .markupcheck import check_markup
from .protect import MJ_TAG, TOKEN, Markers, Protected, Token, choose_markers, protect
from .registry import Layout, Module, Registry
from .survival import check_shape
from .templating import CompiledTemplate, Environments, check_template, hole_name
from .yamlfile import load_yaml

__all__ = [
    "PREHEADER",
    "SUBJECT",
    "Piece",
    "Prepared",
    "check_included",
    "check_unopened_front_matter",
    "prepare",
]

SUBJECT, PREHEADER = "{{ _subject }}", "{{ _preheader }}"
_MJML_OPEN = re.compile(r"<mjml\b([^>]*)>")
# Comments match too (group 1 empty), so that a tag inside one is skipped.
_BODY_TAGS = re.compile(r"<!--.*?-->|\{#.*?#\}|<(mj-body|body)[\s>/]", re.DOTALL)
_FRONT_KEYS = frozenset({*LAYOUT_KEYS, *MODULE_KEYS})
_KEY_LINE = re.compile(r"[A-Za-z_][\w-]*:(\s|$)")


@dataclass(frozen=True)
class Piece:
    """A layout or module checked and protected at load time."""

    id: str
    file: str
    raw: Source
    protected: Protected
    names: frozenset[str]
    css: tuple[str, ...] = ()
    head: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prepared:
    """Every piece of a project, ready to assemble into variants."""

    markers: Markers
    layouts: Mapping[str, Piece]
    modules: Mapping[str, Piece]
    tokens: Mapping[int, Token]
    # Per layout: the synthetic subject and preheader tokens, and one hole token per slot.
    heads: Mapping[str, tuple[Token, Token]]
    holes: Mapping[str, tuple[Token, ...]]
    # Per "file#subject" / "file#preheader": the compiled template and the names it reads.
    subjects: Mapping[str, CompiledTemplate]
    subject_names: Mapping[str, frozenset[str]]


def prepare(
    registry: Registry,
    *,
    envs: Environments,
    names: Collection[str],
    settings: Settings,
    segments: Collection[str] = (),
    problems: list[PersonalizeError] | None = None,
) -> Prepared:
    """Check every layout, module, subject and preheader, and protect their tokens.

    With ``problems`` (collecting mode, for lint), a piece that fails is recorded there and
    left out, and the checks go on.

    Raises:
        RegistryError: markup, template syntax, unknown names, unsafe constructs, Jinja around
            structure MJML counts — with the file and line of the offending piece.
    """
    render = settings.render
    owners: list[Layout | Module] = [*registry.layouts.values(), *registry.modules.values()]
    markers = choose_markers(
        [part.text for owner in owners for part in (owner.body, *owner.css, *owner.head)]
    )
    tokens: dict[int, Token] = {}
    allowed = {*names, "_subject", "_preheader"}

    def piece(owner: Layout | Module, id_: str) -> Piece:
        source = owner.body
        check_unopened_front_matter(source, file=owner.file)
        check_markup(source, max_depth=render.max_depth, max_bytes=render.max_source_bytes)
        check_included(owner.css, owner.head, settings=settings)
        info = check_template(
            envs.html, source.text, origin=source.origin, names=allowed, segments=segments
        )
        protected = protect(source, markers=markers, start=len(tokens) + 1)
        own = {t.id: t for t in protected.tokens}
        check_shape(protected.text, markers=markers, tokens=own, fragment=isinstance(owner, Module))
        tokens.update(own)
        css, head = (tuple(part.text for part in parts) for parts in (owner.css, owner.head))
        return Piece(id_, owner.file, source, protected, info.names, css, head)

    def checked(owner: Layout | Module, id_: str) -> Piece | None:
        if problems is None:
            return piece(owner, id_)
        try:
            return piece(owner, id_)
        except PersonalizeError as err:
            problems.append(err)
            return None

    layouts = {n: p for n, lay in registry.layouts.items() if (p := checked(lay, n))}
    modules = {m: p for m, mod in registry.modules.items() if (p := checked(mod, m))}
    heads: dict[str, tuple[Token, Token]] = {}
    holes: dict[str, tuple[Token, ...]] = {}
    for name, layout in registry.layouts.items():
        if error := _incomplete(layout):
            if problems is None:
                raise error
            problems.append(error)
        base = len(tokens) + 1
        subject = Token(base, SUBJECT, False, layout.file, layout.subject_line, False)
        pre = Token(base + 1, PREHEADER, False, layout.file, layout.preheader_line or 1, False)
        heads[name] = (subject, pre)
        holes[name] = tuple(
            Token(base + 2 + i, f"{{{{ {hole_name(i)} }}}}", False, slot.file, slot.line, False)
            for i, slot in enumerate(layout.slots)
        )
        tokens.update({t.id: t for t in (subject, pre, *holes[name])})
    subjects: dict[str, CompiledTemplate] = {}
    subject_names: dict[str, frozenset[str]] = {}
    for owner in owners:
        for key in ("subject", "preheader"):
            text, line = getattr(owner, key), getattr(owner, f"{key}_line")
            if text is not None and line is not None:
                try:
                    info = check_template(
                        envs.text,
                        text,
                        origin=_fixed(owner.file, line),
                        names=names,
                        segments=segments,
                    )
                except PersonalizeError as err:
                    if problems is None:
                        raise
                    problems.append(err)
                    continue
                source, origins = _token_lines(text, owner.file, line)
                subjects[f"{owner.file}#{key}"] = CompiledTemplate.build(
                    envs.text,
                    source,
                    filename=f"<{owner.file} {key}>",
                    origins=origins,
                    fallback=(owner.file, line),
                )
                subject_names[f"{owner.file}#{key}"] = info.names
    return Prepared(markers, layouts, modules, tokens, heads, holes, subjects, subject_names)


def _incomplete(layout: Layout) -> RegistryError | None:
    """Why ``layout`` is not a whole MJML document, or None: without ``<mj-body>``, MJML
    refuses every email built from it, and the error would name the module in it."""
    text = layout.body.text
    if not _MJML_OPEN.search(text):
        return RegistryError(
            "layout is not a complete MJML document",
            file=layout.file,
            hint="wrap it in <mjml><mj-body>…</mj-body></mjml>",
        )
    tags = {m.group(1): m for m in _BODY_TAGS.finditer(text) if m.group(1)}
    if "mj-body" in tags:
        return None

    def line_of(found: re.Match[str] | None) -> tuple[str, int]:
        return layout.body.origin(layout.body.line_at(found.start() if found else 0))

    file, line = line_of(_MJML_OPEN.search(text))
    html = tags.get("body")
    return RegistryError(
        "layout has no <mj-body>: MJML only renders what is inside it",
        file=file,
        line=line,
        hint=f"write <mj-body> in place of <body> on line {line_of(html)[1]}, and </mj-body> "
        "in place of </body>"
        if html
        else "put the layout's sections and slots inside <mj-body>…</mj-body>, within <mjml>",
    )


def check_unopened_front_matter(source: Source, *, file: str) -> None:
    """Refuse a body that opens with front matter whose opening ``---`` line is missing.

    Without it the file has no front matter: its YAML would be sent to every recipient as
    body text, and a module would lose its targeting and become a fallback.

    Raises:
        RegistryError: at the front matter's first line, when the text above the body's first
            ``---`` line is YAML naming a front-matter key.
    """
    if source.origin(1) != (file, 1):
        return  # the body starts below front matter (or an include): it has its '---' lines
    lines = source.text.removeprefix("\ufeff").split("\n")
    end = next((i for i, line in enumerate(lines) if line.strip() == "---"), None)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if end is None or first is None or first >= end or not _KEY_LINE.match(lines[first]):
        return
    try:
        data = load_yaml("\n".join(lines[:end]), file=file).data
    except ConfigError:  # not YAML: body text that happens to hold a '---' line
        return
    if not isinstance(data, dict) or not any(str(key) in _FRONT_KEYS for key in data):
        return
    where = f"line {end}" if first + 1 == end else f"lines {first + 1}–{end}"
    raise RegistryError(
        f"front matter has no opening '---' line: {where} would be sent as body text",
        file=file,
        line=first + 1,
        hint=f"add a line holding only '---' above line {first + 1}, to match the closing "
        f"'---' on line {end + 1}",
    )


def check_included(css: Iterable[Source], head: Iterable[Source], *, settings: Settings) -> None:
    """The load checks for included stylesheets and heads of included documents.

    They go into ``<mj-head>`` as they are, on every path: Jinja never runs in them, so a token
    there is refused (rule 3), and so is markup that must never reach a recipient.

    Raises:
        RegistryError: at the included file's line.
    """
    render = settings.render
    for part, parent in [*((c, "mj-style") for c in css), *((h, "") for h in head)]:
        check_markup(part, max_depth=render.max_depth, max_bytes=render.max_source_bytes)
        found = TOKEN.search(part.text)
        if found is None:
            continue
        file, line = part.origin(part.line_at(found.start()))
        opened = [m for m in MJ_TAG.finditer(part.text, 0, found.start()) if not m.group(4)]
        name = parent or _innermost(opened)
        raise RegistryError(
            f"Jinja tag {found.group()!r} in <{name}> inside <mj-head>",
            file=file,
            line=line,
            hint="an included document's head is the same for everyone; write a personal "
            "title or preview in the layout's own <mj-title> or <mj-preview>"
            if name in ("mj-title", "mj-preview")
            else "the head is compiled once per variant; only <mj-title> and <mj-preview> "
            "may hold {{ expressions }}",
        )


def _innermost(tags: list[re.Match[str]]) -> str:
    """The innermost mj- element still open after ``tags`` (start and end tags, in order)."""
    stack: list[str] = []
    for tag in tags:
        closing, name = tag.group(1), tag.group(2)
        if not closing:
            stack.append(name)
        elif name in stack:
            while stack.pop() != name:
                pass
    return stack[-1] if stack else "mj-head"


def _token_lines(text: str, file: str, line: int) -> tuple[str, dict[int, Token]]:
    """``text`` (a subject or preheader) with each ``{{ … }}`` starting a template line of its
    own, and the token behind each such line: a render error then names its field, as in a
    body (see ``restore``). The added lines are Jinja comments, so the output is the same."""
    pieces: list[str] = []
    origins: dict[int, Token] = {}
    number = 1
    at = 0
    for match in TOKEN.finditer(text):
        token = match.group()
        if not token.startswith("{{"):
            continue
        static = text[at : match.start()]
        # `{{-` strips the whitespace before it; the comment in between must do it instead.
        pieces.append(static + ("{#-\n#}" if token.startswith("{{-") else "{#\n#}"))
        number += static.count("\n") + 1
        origin = Token(0, token, False, file, line, False)
        for offset in range(token.count("\n") + 1):  # every line of the token, as restore maps
            origins[number + offset] = origin
        pieces.append(token)
        number += token.count("\n")
        at = match.end()
    pieces.append(text[at:])
    return "".join(pieces), origins


def _fixed(file: str, line: int) -> Callable[[int], tuple[str, int]]:
    # Front-matter strings are one YAML value: every template line maps to the key's line.
    return lambda _line: (file, line)
