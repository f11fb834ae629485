"""Compiled templates, skeleton + regions, and render errors located at their token."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import TracebackType
from typing import Any, Protocol

from jinja2 import nodes
from jinja2.exceptions import (
    SecurityError,
    TemplateRuntimeError,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.runtime import Context as Context
from jinja2.runtime import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from personalize.errors import PersonalizeError, RenderError, did_you_mean

from .checks import TOO_DEEP, TOO_DEEP_HINT, nests_too_deeply
from .codecache import CodeCache, Compiled
from .environment import is_hole
from .printing import NoValueError, escape_output, print_html, print_text
from .sizes import SIZE_HINT, SizeLimitError

Run = Callable[[Context], Iterator[str]]
"""A template's render function: its output in pieces, rendered into a Jinja context."""

# What rendering a template may raise that render_in reports as a located RenderError.
_FAILURES = (
    PersonalizeError,
    NoValueError,
    UndefinedError,
    SecurityError,
    TemplateRuntimeError,  # what the others above derive from: FilterArgumentError and kin
    RecursionError,
    TypeError,
    ValueError,
    ArithmeticError,
    LookupError,
    AttributeError,
)
# Nodes that hold a hole in place: anything else around one (a loop, macro, call, filter or
# with block) gives its contents names of their own, which a region compiled apart cannot see.
_OPEN = (nodes.Template, nodes.Output, nodes.If)


class Origin(Protocol):
    """Where a template line came from (a protected token, see ``protect.Token``)."""

    @property
    def file(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def expression(self) -> str: ...


@dataclass(frozen=True)
class CompiledTemplate:
    """A compiled Jinja template plus the origin of each of its lines."""

    template: Any
    filename: str
    origins: Mapping[int, Origin] = field(default_factory=dict)
    fallback: tuple[str, int] | None = None
    source: str = field(default="", repr=False)
    # The names the template may set for the templates after it ({% set %}, {% macro %}).
    assigned: frozenset[str] = frozenset()
    # Whether every hole (as a skeleton) stands outside loops, macros and other blocks.
    holes_open: bool = True

    @classmethod
    def build(
        cls,
        env: ImmutableSandboxedEnvironment,
        source: str,
        *,
        filename: str,
        origins: Mapping[int, Origin] | None = None,
        fallback: tuple[str, int] | None = None,
    ) -> CompiledTemplate:
        """Compile ``source``; ``filename`` identifies its frames in tracebacks.

        With the environment's code cache (``make_environments``), code compiled by an
        earlier process for the same source is loaded instead, and new code is stored.
        """
        cache: CodeCache | None = getattr(env, "code_cache", None)
        key = cache.key(env, source, filename) if cache is not None else ""
        cached = cache.load(key) if cache is not None else None
        if cached is None:
            cached = cls._compile(env, source, filename, origins, fallback)
            if cache is not None:
                cache.store(key, cached)
        code, assigned, holes_open = cached
        # A plain copy of the globals, not make_globals' ChainMap: each render's Context makes
        # a set of the template's globals, and iterating a ChainMap costs ~1.5 µs a context.
        # The environments' globals never change after make_environments.
        template = env.template_class.from_code(env, code, dict(env.globals))
        # The generated code prints each value of an HTML template with `escape(…)`, a name
        # it imports into its own namespace: ours gives the same text, faster.
        namespace = template.root_render_func.__globals__
        namespace["escape"] = escape_output
        namespace["_print_html"] = print_html  # see environment._Printer
        namespace["_print_text"] = print_text
        return cls(template, filename, origins or {}, fallback, source, assigned, holes_open)

    @staticmethod
    def _compile(
        env: ImmutableSandboxedEnvironment,
        source: str,
        filename: str,
        origins: Mapping[int, Origin] | None,
        fallback: tuple[str, int] | None,
    ) -> Compiled:
        """Parse and compile ``source``: its code, the names it sets, whether holes are open."""
        try:
            tree = env.parse(source, name=filename, filename=filename)
            assigned = _assigned(tree)
            if assigned:
                _load_first(tree, assigned)
            code = env.compile(tree, name=filename, filename=filename)
        except TemplateSyntaxError as exc:
            origin = (origins or {}).get(exc.lineno or 0)
            raise RenderError(
                f"compiled template is invalid: {exc.message}",
                file=origin.file if origin else (fallback or (None, None))[0],
                line=origin.line if origin else (fallback or (None, None))[1],
                hint="this is a bug in personalize's compiler; please report it with the module",
            ) from None
        except (SyntaxError, RecursionError) as exc:
            if not nests_too_deeply(exc):
                raise
            # Each part passed check_template on its own; only what they make together is
            # too deep, and that has no one line: name where the template starts.
            origin = (origins or {}).get(1)
            file, line = (origin.file, origin.line) if origin else fallback or (None, None)
            raise RenderError(TOO_DEEP, file=file, line=line, hint=TOO_DEEP_HINT) from None
        # Only a skeleton has holes (`{{ _slot_N }}`): a tree without one need not be walked.
        holes_open = _holes_open(tree) if "_slot_" in source else True
        return code, assigned, holes_open

    def render(self, context: Mapping[str, Any]) -> str:
        """Render with ``context``; any failure becomes a located ``PersonalizeError``."""
        return self.render_in(self.new_context(context))

    def new_context(self, context: Mapping[str, Any]) -> Context:
        """A Jinja context over ``context``, which other templates of the same environment
        may render into in turn (see ``fresh``)."""
        # shared=True: no per-render copy of the context; it already holds the globals.
        shared: Context = self.template.new_context(context, shared=True)
        return shared

    def render_in(self, context: Context) -> str:
        """Render into an existing Jinja context (shared by a skeleton and its regions)."""
        try:
            return "".join(self.template.root_render_func(context))
        except _FAILURES as exc:
            raise self.failure(exc) from None

    @cached_property  # built once, not at each render (it sits in the instance's __dict__)
    def run(self) -> Run:
        """The render function a skeleton's hole runs in place (see ``Composite``).

        A module's names stay its own, as in the whole template, where its region is a
        ``{% with %}`` block (``assemble.scope_regions``): what it sets is undone after it.
        """
        run: Run = self.template.root_render_func
        return _scoped(run, self.assigned) if self.assigned else run

    def failure(self, exc: BaseException) -> Exception:
        """The located error for ``exc``, raised while rendering this template."""
        origin = self._origin(exc.__traceback__)
        if isinstance(exc, PersonalizeError):
            return self._located(exc, origin)
        if isinstance(exc, NoValueError):
            expr = origin.expression if origin else ""
            return self._error(
                origin,
                f"{origin.text if origin else 'a value'} has no value for this recipient",
                f"declare a default for the field, or write {{{{ {expr or 'x'} | default('…') }}}}",
                path=_root(expr),
            )
        if isinstance(exc, UndefinedError) and (missing := _missing_key(exc, origin)):
            return self._error(origin, *missing, path=_root(origin.expression if origin else ""))
        if isinstance(exc, UndefinedError):
            return self._error(
                origin,
                f"{origin.text + ': ' if origin else ''}{exc.message}",
                "declare the field in personalize.toml or give a default with |default('…')",
                path=_root(origin.expression if origin else ""),
            )
        if isinstance(exc, SecurityError):
            hint = SIZE_HINT if isinstance(exc, SizeLimitError) else None
            return self._error(origin, f"unsafe or too costly: {exc}", hint)
        if isinstance(exc, RecursionError):
            return self._error(origin, "recursion went too deep", "check recursive macros")
        where = f"{origin.text} failed: " if origin else ""
        return self._error(origin, f"{where}{type(exc).__name__}: {exc}", None)

    def _origin(self, tb: TracebackType | None) -> Origin | None:
        # Frames of this template's code share its module globals: its name alone is not enough,
        # as two regions with the same source have the same name.
        own = self.template.root_render_func.__globals__
        line = None
        while tb is not None:
            if tb.tb_frame.f_globals is own:
                line = self.template.get_corresponding_lineno(tb.tb_lineno)
            tb = tb.tb_next
        return self.origins.get(line) if line is not None else None

    def _where(self, origin: Origin | None) -> tuple[str | None, int | None]:
        if origin is not None:
            return origin.file, origin.line
        return self.fallback if self.fallback else (None, None)

    def _error(
        self, origin: Origin | None, message: str, hint: str | None, *, path: str | None = None
    ) -> RenderError:
        file, line = self._where(origin)
        return RenderError(message, file=file, line=line, hint=hint, path=path)

    def _located(self, exc: PersonalizeError, origin: Origin | None) -> PersonalizeError:
        file, line = self._where(origin)
        return exc.with_context(
            file=file, line=line, path=_root(origin.expression) if origin else None
        )


@dataclass(frozen=True)
class Composite:
    """A layout skeleton and the module regions that fill its holes, compiled separately.

    Regions are shared by every variant whose compiled output repeats them byte for byte, so
    a new combination of modules compiles only what is new. It renders what the whole
    template renders (``compile.merge_variant``): the skeleton runs each region where its
    hole stands, in one context, so each reads what the layout set before it.
    """

    skeleton: CompiledTemplate
    regions: tuple[tuple[str, CompiledTemplate], ...]  # (hole variable, region template)

    def render(self, context: Mapping[str, Any]) -> str:
        """Render the skeleton, running each region in its hole."""
        return self.render_in(self.skeleton.new_context(context))

    def render_in(self, shared: Context) -> str:
        """Render into an existing Jinja context of the skeleton's environment."""
        holes = shared.vars
        for name, region in self.regions:
            holes[name] = region.run
        try:
            return "".join(self.skeleton.template.root_render_func(shared))
        except _FAILURES as exc:
            raise self._failed_in(exc.__traceback__).failure(exc) from None

    def _failed_in(self, tb: TracebackType | None) -> CompiledTemplate:
        """The skeleton or region whose code raised: the last of their frames in ``tb``."""
        # By the frame's module globals, not its file name: regions with the same source (the
        # same module body in two slots) have the same name.
        owners = {id(t.template.root_render_func.__globals__): t for _, t in self.regions}
        owners[id(self.skeleton.template.root_render_func.__globals__)] = self.skeleton
        owner = self.skeleton
        while tb is not None:
            owner = owners.get(id(tb.tb_frame.f_globals), owner)
            tb = tb.tb_next
        return owner

    @property
    def source(self) -> str:
        """The whole template's source, as if compiled in one piece."""
        text = self.skeleton.source
        for name, region in self.regions:
            text = text.replace("{#\n#}{{ " + name + " }}", region.source, 1)
        return text


def _scoped(run: Run, names: frozenset[str]) -> Run:
    """``run``, with the names it sets in the context put back as they were after it."""

    def scoped(context: Context) -> Iterator[str]:
        values = context.vars
        saved = {name: values[name] for name in names if name in values}
        try:
            yield from run(context)
        finally:
            for name in names:
                if name in saved:
                    values[name] = saved[name]
                else:
                    values.pop(name, None)
            context.exported_vars.difference_update(names)

    return scoped


def _assigned(node: nodes.Node, names: frozenset[str] = frozenset()) -> frozenset[str]:
    """The names a template sets in its context: ``{% set %}`` and ``{% macro %}`` outside
    loops and other blocks (whose names are their own), ``{% if %}`` blocks included."""
    # Recursive module functions, not closures: a closure that calls itself is a reference
    # cycle, and variants compile while render_many keeps the collector paused.
    for child in node.iter_child_nodes():
        if isinstance(child, (nodes.Assign, nodes.AssignBlock)):
            target = child.target
            found = [target] if isinstance(target, nodes.Name) else target.find_all(nodes.Name)
            names = names.union(name.name for name in found)
        elif isinstance(child, nodes.Macro):
            names = names.union((child.name,))
        elif isinstance(child, nodes.If):
            names = _assigned(child, names)
    return names


def _load_first(tree: nodes.Template, names: frozenset[str]) -> None:
    """Make ``tree`` read ``names`` from its context at its start, as a dead ``{% if %}`` does.

    Jinja starts a name the template sets at its top level as unset for a ``{% with %}`` block
    or a loop that reads it before the set, where the top level itself reads it from the
    context. A module in the whole template is such a block (``assemble.scope_regions``), and
    in pieces it reads the context: with this, both read what the layout set so far, or the
    recipient's value.
    """
    loads: list[nodes.Expr] = [nodes.Name(name, "load") for name in sorted(names)]
    tree.body.insert(0, nodes.If(nodes.Const(False), [nodes.Output(loads)], [], []))


def _holes_open(node: nodes.Node, open_: bool = True) -> bool:
    """Whether every hole in ``node`` stands in the open: only ``{% if %}`` blocks around it."""
    if is_hole(node):
        return open_
    inside = open_ and isinstance(node, _OPEN)
    return all(_holes_open(child, inside) for child in node.iter_child_nodes())


def fresh(context: Context) -> Context:
    """``context`` without what the last render set in it, ready for the next template.

    A Jinja context costs ~1.5 µs to build; the templates of one email that share an
    environment (subject, preheader, text part) take turns in one, each starting as in a new
    one: the names a template sets (``{% set %}``, a composite's holes) are gone.
    """
    context.vars.clear()
    context.exported_vars.clear()
    return context


def _missing_key(exc: UndefinedError, origin: Origin | None) -> tuple[str, str] | None:
    """The message and hint for a key a mapping field lacks (``links.shpo``), in the words of
    the template, not Jinja's ("'mappingproxy object' has no attribute 'shpo'")."""
    tb = exc.__traceback__
    undefined = None
    while tb is not None:  # the Undefined that failed raised from one of its methods
        if isinstance(me := tb.tb_frame.f_locals.get("self"), Undefined):
            undefined = me
        tb = tb.tb_next
    if undefined is None:
        return None
    # Jinja's own attributes, not its API: without them, the generic message stands.
    found = getattr(undefined, "_undefined_obj", None)
    key = getattr(undefined, "_undefined_name", None)
    path = _root(origin.expression) if origin else None
    parent = path.rsplit(".", 1)[0] if path and path.endswith(f".{key}") else None
    if found is None and isinstance(key, str) and origin:  # an optional object left out
        # In a tag ({% if address.city %}) the path is not the expression's root: find it.
        read = re.search(rf"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\.{re.escape(key)}\b", origin.text)
        if read:
            parent, path = read.group(1), read.group()
            return (
                f"{origin.text}: field {parent!r} has no value for this recipient, so it has "
                f"no {key!r}",
                f"guard it with {{% if {parent} and {path} %}}, or write "
                f"{{{{ {path} | default('…') }}}}",
            )
    if not isinstance(found, Mapping) or not isinstance(key, str):
        return None
    shown = repr(parent) if parent else "the field"
    keys = sorted(str(k) for k in found)
    where = f"{origin.text}: " if origin else ""
    # A map field's keys come from data: name a few, never all of them.
    listed = ", ".join(keys[:10]) + (f" and {len(keys) - 10} more" if len(keys) > 10 else "")
    hint = did_you_mean(key, keys) or (
        f"its keys: {listed}" if keys else f"{shown} is empty for this recipient"
    )
    subject = f"field {shown}" if parent else shown
    return f"{where}{subject} has no key {key!r}", hint


def _root(expression: str) -> str | None:
    """The field path an expression reads: ``links.shop | url`` → ``links.shop``."""
    match = re.match(r"\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)", expression or "")
    return match.group(1) if match else None
