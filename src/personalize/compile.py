"""Variant compilation: assemble, protect, MJML, inline, restore — once per variant, cached."""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import Settings
from .errors import RenderError
from .includes import Source
from .inline import inline_css
from .mjml import check_markup, compile_mjml
from .protect import Markers, Protected, Token, check_structure, choose_markers, protect, restore
from .registry import Layout, Module, Registry
from .templating import CompiledTemplate, Environments, check_template
from .text import html_to_text

__all__ = [
    "CompiledVariant",
    "Piece",
    "Prepared",
    "VariantCache",
    "VariantKey",
    "assemble",
    "compile_reference",
    "compile_variant",
    "prepare",
]

_SLOT_TAG = re.compile(r"<slot\b([^>]*?)/?>(?:\s*</slot>)?", re.IGNORECASE)
_SLOT_NAME = re.compile(r"""name\s*=\s*["']([^"']*)["']""")
_MJML_OPEN = re.compile(r"<mjml\b([^>]*)>")
_HEAD_OPEN = re.compile(r"<mj-head\b[^>]*>")
_RTL = frozenset({"ar", "he", "fa", "ur", "yi", "ps", "sd", "ug", "dv", "ckb"})
SUBJECT, PREHEADER = "{{ _subject }}", "{{ _preheader }}"


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
    heads: Mapping[str, tuple[Token, Token]]  # per layout: the synthetic subject/preheader tokens
    subject_names: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class VariantKey:
    """What a compiled variant depends on: the layout, the chosen modules and the locale."""

    layout: str
    modules: tuple[tuple[str, str | None], ...]
    locale: str

    def __str__(self) -> str:
        chosen = ", ".join(f"{slot}={module or '-'}" for slot, module in self.modules)
        return f"{self.layout}[{chosen}] {self.locale}"


@dataclass(frozen=True)
class CompiledVariant:
    """Templates for one variant: per recipient, only these render."""

    key: VariantKey
    html: CompiledTemplate
    text: CompiledTemplate
    subject: CompiledTemplate
    preheader: CompiledTemplate | None
    names: frozenset[str]
    build_seconds: float
    globals: Mapping[str, Any] = field(default_factory=dict)


def prepare(
    registry: Registry, *, envs: Environments, names: Collection[str], settings: Settings
) -> Prepared:
    """Check every layout, module, subject and preheader, and protect their tokens.

    Raises:
        RegistryError: markup, template syntax, unknown names, unsafe constructs — with the
            file and line of the offending piece.
    """
    render = settings.render
    owners: list[Layout | Module] = [*registry.layouts.values(), *registry.modules.values()]
    sources = [owner.body.text for owner in owners]
    markers = choose_markers(sources)
    tokens: dict[int, Token] = {}
    allowed = {*names, "_subject", "_preheader"}

    def piece(owner: Layout | Module, id_: str) -> Piece:
        source = owner.body
        check_markup(source, max_depth=render.max_depth, max_bytes=render.max_source_bytes)
        info = check_template(envs.html, source.text, origin=source.origin, names=allowed)
        protected = protect(source, markers=markers, start=len(tokens) + 1)
        tokens.update((t.id, t) for t in protected.tokens)
        return Piece(id_, owner.file, source, protected, info.names, owner.css, owner.head)

    layouts = {name: piece(layout, name) for name, layout in registry.layouts.items()}
    modules = {mid: piece(module, mid) for mid, module in registry.modules.items()}
    heads: dict[str, tuple[Token, Token]] = {}
    subject_names: dict[str, frozenset[str]] = {}
    for name, layout in registry.layouts.items():
        if not _MJML_OPEN.search(layout.body.text):
            raise RenderError(
                "layout is not a complete MJML document",
                file=layout.file,
                hint="wrap it in <mjml><mj-body>…</mj-body></mjml>",
            )
        base = len(tokens) + 1
        subject = Token(base, SUBJECT, False, layout.file, layout.subject_line, False)
        pre = Token(base + 1, PREHEADER, False, layout.file, layout.preheader_line or 1, False)
        tokens.update({subject.id: subject, pre.id: pre})
        heads[name] = (subject, pre)
    for owner in owners:
        for key in ("subject", "preheader"):
            text, line = getattr(owner, key), getattr(owner, f"{key}_line")
            if text is not None and line is not None:
                info = check_template(envs.text, text, origin=_fixed(owner.file, line), names=names)
                subject_names[f"{owner.file}#{key}"] = info.names
    return Prepared(markers, layouts, modules, tokens, heads, subject_names)


def _fixed(file: str, line: int) -> Callable[[int], tuple[str, int]]:
    # Front-matter strings are one YAML value: every template line maps to the key's line.
    return lambda _line: (file, line)


def assemble(
    layout: str,
    modules: Mapping[str, str],
    *,
    locale: str,
    head: Collection[str],
    css: Collection[str],
) -> str:
    """Fill a layout's slots with module bodies and add the per-variant head.

    Works on raw sources (reference path) and protected ones (compile path) alike.
    """
    text = _SLOT_TAG.sub(lambda m: modules.get(_slot_name(m.group(1)), ""), layout)
    language = locale.split("_")[0]

    def root(match: re.Match[str]) -> str:
        attrs = match.group(1)
        if "lang=" not in attrs:
            attrs += f' lang="{locale.replace("_", "-")}"'
        if "dir=" not in attrs and language in _RTL:
            attrs += ' dir="rtl"'
        return f"<mjml{attrs}>"

    text = _MJML_OPEN.sub(root, text, count=1)
    extra = "".join(head) + "".join(
        f'<mj-style inline="inline">{c.removeprefix("/* inline */")}</mj-style>'
        if c.startswith("/* inline */")
        else f"<mj-style>{c}</mj-style>"
        for c in css
    )
    if not extra:
        return text
    found = _HEAD_OPEN.search(text)
    if found:
        return text[: found.end()] + extra + text[found.end() :]
    opened = _MJML_OPEN.search(text)
    at = opened.end() if opened else 0
    return text[:at] + f"<mj-head>{extra}</mj-head>" + text[at:]


def _slot_name(attrs: str) -> str:
    match = _SLOT_NAME.search(attrs)
    return match.group(1) if match else ""


def _head(layout: Layout, subject: str, preheader: str) -> list[str]:
    text = layout.body.text
    head = [] if "<mj-title" in text else [f"<mj-title>{subject}</mj-title>"]
    if "<mj-preview" not in text:
        head.append(f"<mj-preview>{preheader}</mj-preview>")
    return head


def _subject_source(layout: Layout, modules: list[Module], key: str) -> tuple[str, str, int] | None:
    for module in modules:  # the first chosen module (in slot order) that overrides wins
        text, line = getattr(module, key), getattr(module, f"{key}_line")
        if text is not None and line is not None:
            return text, module.file, line
    text, line = getattr(layout, key), getattr(layout, f"{key}_line")
    return (text, layout.file, line) if text is not None and line is not None else None


def compile_variant(
    key: VariantKey,
    *,
    registry: Registry,
    prepared: Prepared,
    envs: Environments,
    settings: Settings,
) -> CompiledVariant:
    """Compile one variant: MJML and inlining run here, never per recipient.

    Raises:
        RenderError: MJML failed, a token did not survive compilation, or a block tag wraps
            structure MJML lays out by count — each naming the module file and line.
    """
    started = time.perf_counter()
    layout = registry.layouts[key.layout]
    chosen = [registry.modules[m] for _, m in key.modules if m is not None]
    pieces = [prepared.layouts[key.layout], *(prepared.modules[m.id] for m in chosen)]
    markers = prepared.markers
    subject_token, pre_token = prepared.heads[key.layout]
    source = assemble(
        pieces[0].protected.text,
        {slot: prepared.modules[m].protected.text for slot, m in key.modules if m},
        locale=key.locale,
        head=[
            *_head(layout, markers.expr(subject_token.id), markers.expr(pre_token.id)),
            *(h for p in pieces for h in p.head),
        ],
        css=[c for p in pieces for c in p.css],
    )
    expected = {t.id: t for p in pieces for t in p.protected.tokens}
    expected.update({subject_token.id: subject_token, pre_token.id: pre_token})
    check_structure(source, markers=markers, tokens=expected)
    render = settings.render
    where = f"{layout.file} with {', '.join(m.file for m in chosen) or 'no modules'}"
    html = compile_mjml(
        source,
        web_fonts=render.web_fonts,
        max_depth=render.max_depth,
        max_bytes=render.max_source_bytes * 4,
        where=where,
    )
    html = _rows_inside_tbody(inline_css(html, engine=render.inliner), markers)
    _check_survival(html, expected, markers, source)
    restored = restore(html, expected, markers=markers, contexts=True)
    text_source = html_to_text(html, keep_comment=markers.comment_pattern)
    _check_blocks(text_source, expected, markers)
    restored_text = restore(text_source, expected, markers=markers, contexts=False)
    name = f"<variant {key}>"
    html_t = CompiledTemplate.build(
        envs.html,
        restored.source,
        filename=name + ".html",
        origins=restored.lines,
        fallback=(layout.file, 1),
    )
    text_t = CompiledTemplate.build(
        envs.text,
        restored_text.source,
        filename=name + ".txt",
        origins=restored_text.lines,
        fallback=(layout.file, 1),
    )
    subject, preheader = _subject_templates(layout, chosen, envs, name)
    owners: list[Layout | Module] = [layout, *chosen]
    keys = [f"{o.file}#{k}" for o in owners for k in ("subject", "preheader")]
    names = frozenset[str]().union(
        *(p.names for p in pieces), *(prepared.subject_names.get(k, frozenset()) for k in keys)
    )
    return CompiledVariant(
        key,
        html_t,
        text_t,
        subject,
        preheader,
        names,
        time.perf_counter() - started,
        globals=dict(envs.html.globals),
    )


def _subject_templates(
    layout: Layout, chosen: list[Module], envs: Environments, name: str
) -> tuple[CompiledTemplate, CompiledTemplate | None]:
    found = _subject_source(layout, chosen, "subject")
    assert found is not None  # registry guarantees every layout has a subject
    subject = CompiledTemplate.build(
        envs.text, found[0], filename=name + ".subject", fallback=(found[1], found[2])
    )
    pre = _subject_source(layout, chosen, "preheader")
    preheader = (
        None
        if pre is None
        else CompiledTemplate.build(
            envs.text, pre[0], filename=name + ".preheader", fallback=(pre[1], pre[2])
        )
    )
    return subject, preheader


def _rows_inside_tbody(html: str, markers: Markers) -> str:
    # HTML5 parsers open <tbody> at the first <tr>, after a `{% for %}` sentinel that precedes
    # it; left there, the loop would repeat <tbody>. Move such sentinels into the tbody.
    p, s = re.escape(markers.prefix), re.escape(markers.suffix)
    leading = re.compile(rf"(<table\b[^>]*>)((?:\s*<!--{p}\d+{s}-->)+)(\s*<tbody>)")
    return leading.sub(lambda m: m.group(1) + m.group(3) + m.group(2), html)


def _check_survival(
    html: str, expected: Mapping[int, Token], markers: Markers, source: str
) -> None:
    seen: dict[int, int] = {}
    for match in markers.pattern.finditer(html):
        number = int(match.group(1) or match.group(2))
        seen[number] = seen.get(number, 0) + 1
    for number, token in expected.items():
        if markers.expr(number) not in source:
            continue  # e.g. the preheader token of a layout without a preheader
        count = seen.get(number, 0)
        if count == 0:
            raise RenderError(
                f"MJML dropped {token.text}",
                file=token.file,
                line=token.line,
                hint="MJML reads some attributes as numbers (width on mj-column/mj-image, "
                "title on mj-button…); use a literal value there",
            )
        if token.block and count != 1:
            raise RenderError(
                f"MJML copied {token.text} {count} times",
                file=token.file,
                line=token.line,
                hint="move the tag into the content of a column (mj-text, mj-raw)",
            )


def _check_blocks(text: str, expected: Mapping[int, Token], markers: Markers) -> None:
    for number, token in expected.items():
        if token.block and markers.comment(number) not in text and not token.in_tag:
            raise RenderError(
                f"{token.text} sits in a part of the email the text version leaves out",
                file=token.file,
                line=token.line,
                hint="keep block tags out of hidden elements and the head",
            )


def compile_reference(
    key: VariantKey, *, registry: Registry, prepared: Prepared, envs: Environments
) -> CompiledTemplate:
    """The reference path's template: the assembled MJML source itself, rendered by Jinja."""
    layout = registry.layouts[key.layout]
    pieces = [prepared.layouts[key.layout], *(prepared.modules[m] for _, m in key.modules if m)]
    source = assemble(
        pieces[0].raw.text,
        {slot: prepared.modules[m].raw.text for slot, m in key.modules if m},
        locale=key.locale,
        head=[*_head(layout, SUBJECT, PREHEADER), *(h for p in pieces for h in p.head)],
        css=[c for p in pieces for c in p.css],
    )
    return CompiledTemplate.build(
        envs.html, source, filename=f"<reference {key}>", fallback=(layout.file, 1)
    )


class VariantCache:
    """A bounded, thread-safe LRU cache of compiled variants, owned by a Project."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[VariantKey, CompiledVariant] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: VariantKey, build: Callable[[], CompiledVariant]) -> CompiledVariant:
        """The cached variant for ``key``, building (outside the lock) on a miss."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        built = build()
        with self._lock:
            self._items[key] = built
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return built

    def __len__(self) -> int:
        return len(self._items)
