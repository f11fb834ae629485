"""Load-time template checks: syntax, unsafe constructs, names nobody declared."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, nodes
from jinja2.exceptions import (
    TemplateAssertionError,
    TemplateSyntaxError,
)
from jinja2.meta import find_undeclared_variables
from jinja2.sandbox import ImmutableSandboxedEnvironment

from personalize.errors import RegistryError, did_you_mean
from personalize.filters.locales import CACHE

from .environment import GLOBAL_NAMES, MARKUP_FILTERS

_RAW = re.compile(r"\{%-?\s*raw\s*-?%\}")
TOO_DEEP = "template nests too deeply to compile"
TOO_DEEP_HINT = (
    "nest fewer {% for %} and {% if %} blocks, and chain fewer filters, brackets or "
    "attributes in one expression"
)

# Why each of the MARKUP_FILTERS would let recipient data add markup, and what to write instead.
_MARKUP_FILTER_REASONS = {
    "tojson": (
        "its JSON keeps quotes unescaped, so recipient data inside an attribute could end it "
        "and add attributes",
        "print the value itself, {{ value }}: it is HTML-escaped",
    ),
    "xmlattr": (
        "it writes whole attributes, so recipient data could add attributes of its own",
        'write each attribute out, title="{{ value }}": the value is HTML-escaped',
    ),
    "urlize": (
        "it turns text into <a href> links, so recipient data could add links that no URL "
        "check sees",
        'write the link out, <a href="{{ value | url }}">…</a>: the URL is checked and escaped',
    ),
}


def nests_too_deeply(exc: BaseException) -> bool:
    """Whether compiling a template failed on a nesting limit: Jinja's parser and code
    generator recurse, and Python's compiler allows 20 nested loops, 100 indents, 200 brackets."""
    if isinstance(exc, RecursionError | IndentationError):
        return True
    return isinstance(exc, SyntaxError) and str(exc.msg).startswith("too many ")


@dataclass(frozen=True)
class TemplateInfo:
    """What a template uses: the root names it reads from the context."""

    names: frozenset[str]


def check_template(
    env: ImmutableSandboxedEnvironment,
    text: str,
    *,
    origin: Callable[[int], tuple[str, int]],
    names: Collection[str] | None,
    segments: Collection[str] = (),
) -> TemplateInfo:
    """Check a layout, module body, subject or preheader before any recipient is seen.

    Args:
        env: The environment the template will render in.
        text: The Jinja source (front matter removed).
        origin: Maps a 1-based line of ``text`` to its (file, line).
        names: Every name the context will hold (fields, metrics, globals…); ``None`` when
            they are not known (a document compiled on its own): names are then not checked.

    Raises:
        RegistryError: syntax errors, unknown filters, unsafe attributes, unsupported tags,
            and names nobody declared — each with file and line.
    """

    def fail(line: int, message: str, hint: str | None = None) -> RegistryError:
        file, file_line = origin(max(line, 1))
        return RegistryError(message, file=file, line=file_line, hint=hint)

    raw = _RAW.search(text)
    if raw:
        raise fail(
            text.count("\n", 0, raw.start()) + 1,
            "{% raw %} is not supported here",
            "print a literal with {{ '{{' }} instead",
        )
    try:
        ast = env.parse(text)
        refused = _markup_filter(env, ast)
        if refused is not None:
            name, line = refused
            why, hint = _MARKUP_FILTER_REASONS[name]
            raise fail(line, f"|{name} is not allowed in layouts and modules: {why}", hint)
        env.compile(ast)
    except TemplateAssertionError as exc:
        hint = None
        match = re.search(r"No filter named '([^']+)'", exc.message or "")
        if match:
            name = match.group(1)
            hint = (
                "|attr is disabled for safety"
                if name == "attr"
                else did_you_mean(name, env.filters)
            )
        raise fail(exc.lineno, f"template error: {exc.message}", hint) from None
    except TemplateSyntaxError as exc:
        raise fail(exc.lineno, f"template syntax error: {exc.message}") from None
    except (SyntaxError, RecursionError) as exc:
        if not nests_too_deeply(exc):
            raise
        raise fail(1, TOO_DEEP, TOO_DEEP_HINT) from None
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        attr: Any = None
        if isinstance(node, nodes.Getattr):
            attr = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            attr = node.arg.value
        if isinstance(attr, str) and attr.startswith("_"):
            raise fail(
                node.lineno,
                f"unsafe attribute {attr!r}",
                "names starting with '_' are not reachable from templates",
            )
    for name_node in ast.find_all(nodes.Name):
        # personalize keeps its per-email state (_budget, _locale, _warnings…) in the context:
        # a template's own `{% set _budget = … %}` would shadow it, e.g. to lift loop limits.
        if name_node.ctx in ("store", "param") and name_node.name.startswith("_"):
            raise fail(
                name_node.lineno,
                f"name {name_node.name!r} is reserved",
                "names starting with '_' belong to personalize; choose another name",
            )
    for kind in (nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport, nodes.Block):
        for found in ast.find_all(kind):
            raise fail(
                found.lineno,
                f"{{% {kind.__name__.lower()} %}} is not supported",
                "compose emails with layouts, slots and mj-include instead; reuse markup "
                "with a {% macro %}",
            )
    # Jinja counts a name set inside an {% if %} as undeclared (the branch may not run): a
    # template's own {% set %} anywhere declares it; a branch not taken is a render error.
    own = {n.name for n in ast.find_all(nodes.Name) if n.ctx == "store"}
    used = find_undeclared_variables(ast) - own
    if names is None:
        return TemplateInfo(frozenset(used))
    known = set(names) | GLOBAL_NAMES | set(env.globals)
    for name, line in _unknown(ast, used, known):
        if name in segments:
            hint = f"test segment membership with {{% if '{name}' in segments %}}"
        else:
            hint = did_you_mean(name, known) or (
                "declare it under [recipient.fields] in personalize.toml, or write "
                f"{{{{ {name} | default('…') }}}}"
            )
        raise fail(line, f"unknown name {name!r}", hint)
    return TemplateInfo(frozenset(used))


def _markup_filter(
    env: ImmutableSandboxedEnvironment, ast: nodes.Template
) -> tuple[str, int] | None:
    """The first of the ``MARKUP_FILTERS`` that ``ast`` applies and ``env`` lacks, and its line:
    as a filter, in a ``{% filter %}`` block, or by name through ``map``."""
    for node in ast.find_all(nodes.Filter):
        name: Any = node.name
        if name == "map" and node.args and isinstance(node.args[0], nodes.Const):
            name = node.args[0].value
        if isinstance(name, str) and name in MARKUP_FILTERS and name not in env.filters:
            return name, node.lineno
    return None


def _unknown(ast: nodes.Template, used: set[str], known: set[str]) -> list[tuple[str, int]]:
    """Names read but not in ``known`` (nor piped straight into ``default``), first line each."""
    defaulted = {
        n.node.name
        for n in ast.find_all(nodes.Filter)
        if n.name in ("default", "d") and isinstance(n.node, nodes.Name)
    }
    first: dict[str, int] = {}
    for node in ast.find_all(nodes.Name):
        first.setdefault(node.name, node.lineno)
    return [(name, first.get(name, 1)) for name in sorted(used - known - defaulted)]


@dataclass(frozen=True)
class Printed:
    """A field path a template prints without ``default``, and the paths its ``if``s test."""

    path: str
    line: int
    guards: frozenset[str]


@dataclass(frozen=True)
class TemplateScan:
    """What lint looks for in a template; lines are lines of the scanned text.

    Attributes:
        unknown: Names read that are not in ``names`` (nor piped into ``default``), with the
            first line each is read on.
        safe: Lines that apply ``|safe``.
        autoescape_off: Lines of ``{% autoescape false %}``.
        printed: Every ``{{ path }}`` (filters allowed, except ``default``) that prints a
            context name or a dotted path into one.
    """

    unknown: tuple[tuple[str, int], ...]
    safe: tuple[int, ...]
    autoescape_off: tuple[int, ...]
    printed: tuple[Printed, ...]


def scan_template(
    env: ImmutableSandboxedEnvironment, text: str, *, names: Collection[str]
) -> TemplateScan | None:
    """Every finding lint wants from one template, or None when it does not parse.

    ``check_template`` stops at the first problem; this reports them all, for lint.
    """
    try:
        return _scan(env, env.parse(text), names)
    except (TemplateSyntaxError, RecursionError):
        return None  # check_template reports why


def _scan(
    env: ImmutableSandboxedEnvironment, ast: nodes.Template, names: Collection[str]
) -> TemplateScan:
    used = find_undeclared_variables(ast)
    unknown = tuple(_unknown(ast, used, set(names) | GLOBAL_NAMES | set(env.globals)))
    safe = tuple(n.lineno for n in ast.find_all(nodes.Filter) if n.name == "safe")
    off = tuple(
        n.lineno
        for n in ast.find_all(nodes.ScopedEvalContextModifier)
        for option in n.options
        if option.key == "autoescape"
        and not (isinstance(option.value, nodes.Const) and option.value.value)
    )
    printed: list[Printed] = []
    _collect_printed(ast, frozenset(), used, printed)
    return TemplateScan(unknown, safe, off, tuple(printed))


def _collect_printed(
    node: nodes.Node,
    guards: frozenset[str],
    context: set[str],
    out: list[Printed],
    local: frozenset[str] = frozenset(),
) -> None:
    """The field paths printed without a default, with the paths their ``if``s test.

    ``local`` holds the names a loop, macro or ``with`` block binds around ``node``: a loop
    variable called like an optional field prints the loop's value, not the field.
    """
    if isinstance(node, nodes.If):
        # Every branch counts as guarded: `{% if not x %}…{% else %}{{ x }}` is fine too.
        inner = guards | _tested(node.test)
        for child in (*node.body, *node.elif_, *node.else_):
            _collect_printed(child, inner, context, out, local)
        return
    if isinstance(node, nodes.Output):
        for expr in node.nodes:
            path = _printed_path(expr)
            root = path.split(".")[0] if path else ""
            if path and root in context and root not in local:
                out.append(Printed(path, expr.lineno, guards))
        return
    bound = _bound(node)
    if bound:
        inner_local = local | bound
        if isinstance(node, nodes.For):  # the else branch runs outside the loop's names
            for child in node.iter_child_nodes(exclude=("else_",)):
                _collect_printed(child, guards, context, out, inner_local)
            for child in node.else_:
                _collect_printed(child, guards, context, out, local)
            return
        for child in node.iter_child_nodes():
            _collect_printed(child, guards, context, out, inner_local)
        return
    for child in node.iter_child_nodes():
        _collect_printed(child, guards, context, out, local)


def _tested(test: nodes.Node) -> frozenset[str]:
    """The whole paths an ``if`` tests: ``address.city`` but not ``address`` on its own, as
    testing ``address.city`` fails, not just comes out false, when ``address`` is missing."""
    path = _path(test)
    if path:
        return frozenset({path})
    return frozenset(p for child in test.iter_child_nodes() for p in _tested(child))


def _bound(node: nodes.Node) -> frozenset[str]:
    """The names ``node`` binds for its body: loop targets, macro arguments, ``with`` names."""
    if isinstance(node, nodes.For):
        names = {n.name for n in node.target.find_all(nodes.Name)}
        return frozenset({*names, "loop"})
    if isinstance(node, nodes.Macro | nodes.CallBlock):
        return frozenset({*(a.name for a in node.args), "caller", "varargs", "kwargs"})
    if isinstance(node, nodes.With):
        return frozenset(n.name for t in node.targets for n in t.find_all(nodes.Name))
    return frozenset()


def _printed_path(expr: nodes.Node) -> str | None:
    """The path ``{{ expr }}`` prints: through filters, but None past a ``default``."""
    while isinstance(expr, nodes.Filter):
        if expr.name in ("default", "d") or expr.node is None:
            return None
        expr = expr.node
    return _path(expr)


def _path(expr: nodes.Node) -> str | None:
    """``links.shop`` for ``links.shop`` or ``links['shop']``; None for anything else."""
    if isinstance(expr, nodes.Name):
        return expr.name
    key: Any = None
    if isinstance(expr, nodes.Getattr):
        key = expr.attr
    elif isinstance(expr, nodes.Getitem) and isinstance(expr.arg, nodes.Const):
        key = expr.arg.value
    if isinstance(key, str) and isinstance(expr, nodes.Getattr | nodes.Getitem):
        inner = _path(expr.node)
        return f"{inner}.{key}" if inner else None
    return None


# Parses only: the templates use Jinja's default syntax.
_SYNTAX = Environment()


@lru_cache(maxsize=CACHE)
def url_filtered(tag: str) -> bool:
    """Whether the ``{{ … }}`` tag prints what ``| url`` returns, ``url`` being its outermost
    operation as Jinja parses it: in ``{{ y or x | url }}`` the filter binds to ``x`` only, and
    ``y`` would reach the link unchecked. ``restore`` adds no URL check to such a tag."""
    try:
        body = _SYNTAX.parse(tag).body
    except TemplateSyntaxError:
        return False
    match body:
        case [nodes.Output(nodes=[nodes.Filter(name="url")])]:
            return True
    return False
