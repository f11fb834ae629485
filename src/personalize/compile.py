"""Variant compilation: MJML and inlining once per variant, then templates with tokens back."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from .assemble import (
    Split,
    assemble,
    head_for,
    lift_sentinels,
    locator,
    rows_inside_tbody,
    scope_regions,
    split_regions,
    strip_fences,
)
from .cache import LRUCache
from .config import Settings
from .errors import RenderError
from .filters import check_locale
from .includes import Source, resolve_includes
from .inline import inline_css
from .inlinecheck import check_inlined
from .markupcheck import check_markup
from .mjml import compile_assembled
from .prepare import PREHEADER, SUBJECT, Prepared, check_included
from .protect import Markers, Token, check_structure, choose_markers, protect, restore
from .registry import Layout, Module, Registry
from .survival import check_blocks, check_pairs, check_survival, check_tables, drop_empty_conditions
from .templating import CompiledTemplate, Composite, Environments, check_template, hole_name
from .text import ParseCache, html_to_text, settle_static_breaks

__all__ = [
    "CompiledVariant",
    "Fragments",
    "VariantKey",
    "compile_document",
    "compile_reference",
    "compile_variant",
    "merge_variant",
]

Template = CompiledTemplate | Composite
Fragments = LRUCache[tuple[str, str], CompiledTemplate]  # (kind, marked text) → template


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
class Output:
    """A variant's compiled HTML and text with tokens still as markers, and what restoring
    them needs: kept while the variant is in pieces, so that it can be compiled whole."""

    html: str
    text: str
    tokens: Mapping[int, Token]
    markers: Markers
    envs: Environments
    fallback: tuple[str, int]


@dataclass(frozen=True)
class CompiledVariant:
    """Templates for one variant: per recipient, only these render.

    ``output`` is set while the HTML or text template is a skeleton with regions (quick to
    build, as regions are shared); ``merge_variant`` compiles such a variant whole, which
    renders faster.
    """

    key: VariantKey
    html: Template
    text: Template
    subject: CompiledTemplate
    preheader: CompiledTemplate | None
    names: frozenset[str]
    build_seconds: float
    globals: Mapping[str, Any]
    output: Output | None = field(default=None, repr=False, compare=False)


def compile_variant(
    key: VariantKey,
    *,
    registry: Registry,
    prepared: Prepared,
    envs: Environments,
    settings: Settings,
    fragments: Fragments | None = None,
    parsed: ParseCache | None = None,
) -> CompiledVariant:
    """Compile one variant: MJML and inlining run here, never per recipient.

    The output is cut into the layout's skeleton and one region per chosen module; regions and
    skeletons already compiled for other variants (same bytes) come from ``fragments``, and the
    pieces of HTML between slot fences that earlier variants parsed come from ``parsed``.

    Raises:
        RenderError: MJML failed, a token did not survive compilation — each naming the
            module file and line.
    """
    started = time.perf_counter()
    # Before any work: every render with this locale would refuse it (render.context_for).
    check_locale(key.locale)
    layout = registry.layouts[key.layout]
    chosen = [registry.modules[m] for _, m in key.modules if m is not None]
    pieces = [prepared.layouts[key.layout], *(prepared.modules[m.id] for m in chosen)]
    markers = prepared.markers
    subject_token, pre_token = prepared.heads[key.layout]
    holes = prepared.holes[key.layout]
    slots = [slot for slot, _ in key.modules]
    source = assemble(
        pieces[0].protected.text,
        {slot: prepared.modules[m].protected.text for slot, m in key.modules if m},
        locale=key.locale,
        head=[
            *head_for(layout, markers.expr(subject_token.id), markers.expr(pre_token.id)),
            *(h for p in pieces for h in p.head),
        ],
        css=[c for p in pieces for c in p.css],
        fences=slots,
        markers=markers,
    )
    expected = {t.id: t for p in pieces for t in p.protected.tokens}
    expected.update({t.id: t for t in (subject_token, pre_token, *holes)})
    where = f"{layout.file} with {', '.join(m.file for m in chosen) or 'no modules'}"
    regions = {i: prepared.modules[m].raw for i, (_, m) in enumerate(key.modules) if m}
    html, text = _compile(
        source,
        expected,
        markers=markers,
        settings=settings,
        where=where,
        parsed=parsed,
        locate=locator(source, (pieces[0].protected.text, pieces[0].raw), regions, markers),
    )
    filled = {i: markers.expr(holes[i].id) for i, (_, m) in enumerate(key.modules) if m}
    fallback = (layout.file, 1)
    cache = fragments if fragments is not None else LRUCache(64)
    html_t = _template("html", html, filled, expected, markers, envs, cache, fallback)
    text_t = _template("text", text, filled, expected, markers, envs, cache, fallback)
    subject, preheader = _subjects(layout, chosen, prepared)
    owners: list[Layout | Module] = [layout, *chosen]
    keys = [f"{o.file}#{k}" for o in owners for k in ("subject", "preheader")]
    names = frozenset[str]().union(
        *(p.names for p in pieces), *(prepared.subject_names.get(k, frozenset()) for k in keys)
    )
    in_pieces = isinstance(html_t, Composite) or isinstance(text_t, Composite)
    return CompiledVariant(
        key,
        html_t,
        text_t,
        subject,
        preheader,
        names,
        time.perf_counter() - started,
        dict(envs.html.globals),
        Output(html, text, expected, markers, envs, fallback) if in_pieces else None,
    )


def merge_variant(variant: CompiledVariant) -> CompiledVariant:
    """``variant`` with its HTML and text each compiled as one template.

    Rendering a skeleton and its regions costs more than rendering one template (each piece
    looks up its names and filters again): whole, a variant renders ~10–25 µs faster, but takes
    15–25 ms to compile, so the project does it once a variant has proved popular
    (``[render] merge_after``). A variant already whole comes back as it is.
    """
    out = variant.output
    if out is None:
        return variant
    # Not kept in the fragment cache: no other variant has the same whole output.
    html, text = (
        _whole(kind, output, out.tokens, out.markers, out.envs, out.fallback)
        for kind, output in (("html", out.html), ("text", out.text))
    )
    return replace(variant, html=html, text=text, output=None)


def _compile(
    source: str,
    expected: Mapping[int, Token],
    *,
    markers: Markers,
    settings: Settings,
    where: str,
    parsed: ParseCache | None = None,
    locate: Callable[[int], tuple[str, int | None]] | None = None,
) -> tuple[str, str]:
    """Protected MJML → MJML compiler → inliner → HTML and text, tokens still as markers."""
    # Over the whole document: a module's block tags may sit in a column of its layout. Pairs
    # are checked per piece at load (a block tag opens and closes in one template).
    check_structure(source, markers=markers, tokens=expected)
    check_tables(source, markers=markers, tokens=expected)
    render = settings.render
    html = compile_assembled(source, render, where=where, locate=locate)
    html = lift_sentinels(html, markers)
    check_survival(html, expected, markers, source)  # what MJML did; then the inliner
    inline = partial(inline_css, engine=render.inliner)
    inlined = inline(html)
    check_inlined(html, inlined, expected, markers, inliner=render.inliner, inline=inline)
    html = rows_inside_tbody(inlined, markers)
    p, s = re.escape(markers.prefix), re.escape(markers.suffix)
    fences = re.compile(rf"<!--{p}[be]\d+{s}-->")
    # With a cache shared by variants, parsed piece by piece between the slot fences: most
    # pieces recur across variants. Block tags inside HTML comments have bare markers there,
    # which the text part needs as sentinels too.
    in_comments = "|".join(str(n) for n, t in expected.items() if t.block and t.in_comment)
    text = html_to_text(
        html,
        keep_comment=markers.comment_pattern,
        comment_blocks=re.compile(rf"{p}(?:{in_comments}){s}") if in_comments else None,
        cut=fences,
        cache=parsed,
    )
    check_blocks(text, expected, markers)
    text = drop_empty_conditions(text, expected, markers)
    dynamic = re.compile(rf"<!--{p}\d+{s}-->|{p}\d+{s}")
    return html, settle_static_breaks(text, dynamic, fences=fences)


def _template(
    kind: str,
    output: str,
    holes: Mapping[int, str],
    tokens: Mapping[int, Token],
    markers: Markers,
    envs: Environments,
    cache: Fragments,
    fallback: tuple[str, int],
) -> Template:
    """Templates from compiled output: skeleton + regions when the fences hold, else whole."""

    def build(text: str) -> CompiledTemplate:
        # Markers carry project-wide token ids, so the marked text names its template exactly.
        return cache.get(
            (kind, text), lambda: _restored(kind, text, tokens, markers, envs, fallback)
        )

    split: Split | None = split_regions(output, markers, holes) if holes else None
    if split is not None:
        try:
            regions = tuple((hole_name(i), build(region)) for i, region in split.regions)
            skeleton = build(split.skeleton)
            # A region in a loop or macro would not see the names that block gives its contents.
            if skeleton.holes_open:
                return Composite(skeleton, regions)
        except RenderError:
            pass  # a region did not come out self-contained; compile the variant whole
    return cache.get((kind, output), lambda: _whole(kind, output, tokens, markers, envs, fallback))


def _whole(
    kind: str,
    output: str,
    tokens: Mapping[int, Token],
    markers: Markers,
    envs: Environments,
    fallback: tuple[str, int],
) -> CompiledTemplate:
    """Marked output compiled as one template, each module region that sets names a
    ``{% with %}`` block.

    Where a region's fences cut across the template's blocks (it did not come out
    self-contained), they are dropped instead, and its names are not its own.
    """
    try:
        return _restored(kind, output, tokens, markers, envs, fallback, scoped=True)
    except RenderError:
        return _restored(kind, strip_fences(output, markers), tokens, markers, envs, fallback)


def _restored(
    kind: str,
    text: str,
    tokens: Mapping[int, Token],
    markers: Markers,
    envs: Environments,
    fallback: tuple[str, int],
    *,
    label: str | None = None,
    scoped: bool = False,
) -> CompiledTemplate:
    """Marked output with its tokens put back, compiled (``restore`` maps lines to origins).

    ``label`` names the template in tracebacks (``<label.html>``); by default a fragment named
    by its source's digest, which is the same in every process, so the code cache
    (``[render] code_cache``) finds it. With ``scoped``, region fences become ``{% with %}``
    blocks (``scope_regions``).
    """
    restored = restore(text, tokens, markers=markers, contexts=kind == "html")
    source = restored.source
    if scoped:
        source = scope_regions(source, markers, _setting_regions(text, tokens, markers))
    return CompiledTemplate.build(
        envs.html if kind == "html" else envs.text,
        source,
        filename=f"<{label or 'fragment ' + _digest(source)}.{kind}>",
        origins=restored.lines,
        fallback=fallback,
    )


def _digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:20]


_SETS = re.compile(r"\{%[-+]?\s*(?:set|macro)\b")


def _setting_regions(text: str, tokens: Mapping[int, Token], markers: Markers) -> set[int]:
    """The slot indices of the regions in marked ``text`` with a ``{% set %}`` or
    ``{% macro %}`` of their own (anywhere in them: a loop's own set counts too)."""
    p, s = re.escape(markers.prefix), re.escape(markers.suffix)
    found = set()
    for region in re.finditer(rf"<!--{p}b(\d+){s}-->(.*?)<!--{p}e\1{s}-->", text, re.S):
        for marker in markers.pattern.finditer(region[2]):
            token = tokens.get(int(marker[1] or marker[2]))
            if token is not None and _SETS.match(token.text):
                found.add(int(region[1]))
                break
    return found


def _subjects(
    layout: Layout, chosen: list[Module], prepared: Prepared
) -> tuple[CompiledTemplate, CompiledTemplate | None]:
    """The first chosen module (in slot order) that overrides a line wins, else the layout."""

    owners: list[Layout | Module] = [*chosen, layout]

    def pick(key: str) -> CompiledTemplate | None:
        for owner in owners:
            found = prepared.subjects.get(f"{owner.file}#{key}")
            if found is not None:
                return found
        return None

    subject = pick("subject")
    assert subject is not None  # the registry requires a subject on every layout
    return subject, pick("preheader")


def compile_document(
    text: str,
    *,
    file: str,
    root: Path,
    envs: Environments,
    settings: Settings,
    locale: str = "en_US",
) -> tuple[CompiledTemplate, CompiledTemplate]:
    """Compile one whole MJML document with Jinja tokens through the same stage as variants.

    For documents that are not part of a project's layouts and modules (e.g. an existing
    MJML template); ``mj-include`` resolves relative to ``file`` and must stay inside ``root``.

    Returns:
        The HTML and text templates; render them with a mapping holding the names they use.
    """
    resolved = resolve_includes(
        Source.from_text(text, file=file), root=root, base=(root / file).parent
    )
    # The checks a project's layouts get at load, but for names: the caller's mapping holds them.
    render = settings.render
    check_markup(resolved.source, max_depth=render.max_depth, max_bytes=render.max_source_bytes)
    check_included(resolved.css, resolved.head, settings=settings)
    check_template(envs.html, resolved.source.text, origin=resolved.source.origin, names=None)
    css, head = ([part.text for part in parts] for parts in (resolved.css, resolved.head))
    markers = choose_markers([resolved.source.text, *css, *head])
    protected = protect(resolved.source, markers=markers, start=1)
    source = assemble(protected.text, {}, locale=locale, head=head, css=css)
    tokens = {t.id: t for t in protected.tokens}
    check_pairs(source, markers=markers, tokens=tokens)  # a document has no load stage
    html, plain = _compile(source, tokens, markers=markers, settings=settings, where=file)
    label = f"document {file}"
    return (
        _restored("html", html, tokens, markers, envs, (file, 1), label=label),
        _restored("text", plain, tokens, markers, envs, (file, 1), label=label),
    )


def compile_reference(
    key: VariantKey, *, registry: Registry, prepared: Prepared, envs: Environments
) -> CompiledTemplate:
    """The reference path's template: the assembled MJML source itself, rendered by Jinja."""
    layout = registry.layouts[key.layout]
    pieces = [prepared.layouts[key.layout], *(prepared.modules[m] for _, m in key.modules if m)]
    source = assemble(
        pieces[0].protected.reference,
        {slot: prepared.modules[m].protected.reference for slot, m in key.modules if m},
        locale=key.locale,
        head=[*head_for(layout, SUBJECT, PREHEADER), *(h for p in pieces for h in p.head)],
        css=[c for p in pieces for c in p.css],
        scoped=True,
    )
    return CompiledTemplate.build(
        envs.html, source, filename=f"<reference {key}>", fallback=(layout.file, 1)
    )
