"""The sandboxed Jinja environments, load-time template checks, and render-error translation."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Any, Protocol

from jinja2 import StrictUndefined, nodes, pass_context
from jinja2.exceptions import (
    SecurityError,
    TemplateAssertionError,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.meta import find_undeclared_variables
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from .config import LimitSettings
from .errors import PersonalizeError, RegistryError, RenderError, did_you_mean
from .filters import FILTERS, validate_css_value, validate_url

__all__ = [
    "CompiledTemplate",
    "Composite",
    "Environments",
    "Fragment",
    "Origin",
    "Printed",
    "TemplateInfo",
    "TemplateScan",
    "check_template",
    "make_environments",
    "scan_template",
]

GLOBAL_NAMES = frozenset(
    {"range", "segments", "now", "lipsum", "dict", "cycler", "joiner", "namespace"}
)
_MAPPINGS = (dict, MappingProxyType)
# ASCII whitespace only: U+00A0 (as in Babel's "1.234,56\xa0€") stays.
_WS = re.compile(r"[ \t\n\r\f\v]+")
# The text converter marks line breaks and links with these noncharacters; data may not.
_NONCHARACTERS = re.compile("[\ufdd0-\ufdef]")
_TEXT_CLEANUP = re.compile("[\t\n\r\f\v\ufdd0-\ufdef]|  ")
_RAW = re.compile(r"\{%-?\s*raw\s*-?%\}")


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


class _NoValueError(Exception):
    """A ``{{ expression }}`` evaluated to None: never print 'Hi None'."""


def _finalize_html(value: Any) -> Any:
    if value is None:
        raise _NoValueError
    return value


class Fragment(Markup):
    """A module region's finished output, pasted into its layout's skeleton as is."""

    __slots__ = ()


def _finalize_text(value: Any) -> Any:
    if value is None:
        raise _NoValueError
    if type(value) is Fragment:
        return value
    # Whitespace in data collapses as HTML would show it, so the text part matches the HTML.
    if isinstance(value, str):
        # Fast paths: printable text with single spaces, or text (e.g. "1.234,56\xa0€") that
        # only fails isprintable() on characters we keep.
        if ("  " not in value and value.isprintable()) or not _TEXT_CLEANUP.search(value):
            return value
        return _WS.sub(" ", _NONCHARACTERS.sub("", value))
    return value


class _Sandbox(ImmutableSandboxedEnvironment):
    """Immutable sandbox with size limits on ``*``/``**`` and a per-render loop budget."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, limits: LimitSettings, **options: Any) -> None:
        super().__init__(**options)
        self.limits = limits

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Recipient data is mappings: look keys up first (fast, and `cart.items` means the key).
        kind = type(obj)
        if kind in _MAPPINGS:
            try:
                return obj[attribute]
            except KeyError:
                pass
        elif kind is LoopContext and not attribute.startswith("_"):
            # loop.index, loop.first…: public and read-only; skip the generic safety checks.
            return getattr(obj, attribute)
        return super().getattr(obj, attribute)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        limit = self.limits.max_output_bytes
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 100:
            raise SecurityError(f"exponent {right} is over the limit of 100")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                sized = isinstance(seq, (str, list, tuple)) and isinstance(times, int)
                if sized and len(seq) * times > limit:
                    raise SecurityError(
                        f"repeating a value {times} times would build {len(seq) * times:,} "
                        f"items, over the limit of {limit:,}"
                    )
        return super().call_binop(context, operator, left, right)


@pass_context
def _range(context: Context, *args: int) -> range:
    numbers = range(*args)
    budget = context.get("_budget")
    limits: LimitSettings = context.environment.limits  # type: ignore[attr-defined]
    if len(numbers) > limits.max_range:
        raise SecurityError(
            f"range of {len(numbers):,} items is over the limit of {limits.max_range:,}"
        )
    if isinstance(budget, list):
        budget[0] -= len(numbers)
        if budget[0] < 0:
            raise SecurityError(
                f"loops ran over the limit of {limits.max_loop_iterations:,} iterations per email"
            )
    return numbers


def _named(value: Any, name: str) -> Any:
    # Inserted before |default by the compiler, so a fallback warning can name its field.
    if value is None or (isinstance(value, str) and not value.strip()):
        return StrictUndefined(name=name)
    return value


@dataclass(frozen=True)
class Environments:
    """The HTML environment (autoescaped) and the text one (subject, preheader, text part)."""

    html: _Sandbox
    text: _Sandbox


def make_environments(limits: LimitSettings) -> Environments:
    """Build both sandboxes with personalize's filters and limits."""

    def build(autoescape: bool, finalize: Callable[[Any], Any]) -> _Sandbox:
        env = _Sandbox(
            limits,
            autoescape=autoescape,
            undefined=StrictUndefined,
            finalize=finalize,
            keep_trailing_newline=True,
        )
        env.filters.pop("attr", None)  # |attr bypasses attribute checks in SSTI payloads
        env.filters.update(FILTERS)
        env.filters["_url"] = validate_url
        env.filters["_css"] = validate_css_value
        env.filters["_named"] = _named
        env.globals["range"] = _range
        return env

    return Environments(html=build(True, _finalize_html), text=build(False, _finalize_text))


@dataclass(frozen=True)
class TemplateInfo:
    """What a template uses: the root names it reads from the context."""

    names: frozenset[str]


def check_template(
    env: ImmutableSandboxedEnvironment,
    text: str,
    *,
    origin: Callable[[int], tuple[str, int]],
    names: Collection[str],
    segments: Collection[str] = (),
) -> TemplateInfo:
    """Check a layout, module body, subject or preheader before any recipient is seen.

    Args:
        env: The environment the template will render in.
        text: The Jinja source (front matter removed).
        origin: Maps a 1-based line of ``text`` to its (file, line).
        names: Every name the context will hold (fields, metrics, globals…).

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
    for kind in (nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport):
        for found in ast.find_all(kind):
            raise fail(
                found.lineno,
                f"{{% {kind.__name__.lower()} %}} is not supported",
                "compose emails with layouts, slots and mj-include instead",
            )
    used = find_undeclared_variables(ast)
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
        ast = env.parse(text)
    except TemplateSyntaxError:
        return None  # check_template reports why
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
    node: nodes.Node, guards: frozenset[str], context: set[str], out: list[Printed]
) -> None:
    if isinstance(node, nodes.If):
        # Every branch counts as guarded: `{% if not x %}…{% else %}{{ x }}` is fine too.
        tests = [node.test, *node.test.find_all(nodes.Expr)]
        inner = guards | {p for n in tests if (p := _path(n))}
        for child in (*node.body, *node.elif_, *node.else_):
            _collect_printed(child, inner, context, out)
        return
    if isinstance(node, nodes.Output):
        for expr in node.nodes:
            path = _printed_path(expr)
            if path and path.split(".")[0] in context:
                out.append(Printed(path, expr.lineno, guards))
        return
    for child in node.iter_child_nodes():
        _collect_printed(child, guards, context, out)


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


@dataclass(frozen=True)
class CompiledTemplate:
    """A compiled Jinja template plus the origin of each of its lines."""

    template: Any
    filename: str
    origins: Mapping[int, Origin] = field(default_factory=dict)
    fallback: tuple[str, int] | None = None
    source: str = field(default="", repr=False)

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
        """Compile ``source``; ``filename`` identifies its frames in tracebacks."""
        try:
            code = env.compile(source, name=filename, filename=filename)
        except TemplateSyntaxError as exc:
            origin = (origins or {}).get(exc.lineno or 0)
            raise RenderError(
                f"compiled template is invalid: {exc.message}",
                file=origin.file if origin else (fallback or (None, None))[0],
                line=origin.line if origin else (fallback or (None, None))[1],
                hint="this is a bug in personalize's compiler; please report it with the module",
            ) from None
        template = env.template_class.from_code(env, code, env.make_globals(None))
        return cls(template, filename, origins or {}, fallback, source)

    def render(self, context: Mapping[str, Any]) -> str:
        """Render with ``context``; any failure becomes a located ``PersonalizeError``."""
        # shared=True: no per-render copy of the context; it already holds the globals.
        return self.render_in(self.template.new_context(context, shared=True))

    def render_in(self, context: Context) -> str:
        """Render into an existing Jinja context (shared by a skeleton and its regions)."""
        try:
            return "".join(self.template.root_render_func(context))
        except PersonalizeError as exc:
            origin = self._origin(exc.__traceback__)
            raise self._located(exc, origin) from None
        except _NoValueError as exc:
            origin = self._origin(exc.__traceback__)
            expr = origin.expression if origin else ""
            raise self._error(
                origin,
                f"{origin.text if origin else 'a value'} has no value for this recipient",
                f"declare a default for the field, or write {{{{ {expr or 'x'} | default('…') }}}}",
                path=_root(expr),
            ) from None
        except UndefinedError as exc:
            origin = self._origin(exc.__traceback__)
            raise self._error(
                origin,
                f"{origin.text + ': ' if origin else ''}{exc.message}",
                "declare the field in personalize.toml or give a default with |default('…')",
                path=_root(origin.expression if origin else ""),
            ) from None
        except SecurityError as exc:
            origin = self._origin(exc.__traceback__)
            raise self._error(origin, f"unsafe or too costly: {exc}", None) from None
        except RecursionError as exc:
            origin = self._origin(exc.__traceback__)
            raise self._error(origin, "recursion went too deep", "check recursive macros") from None
        except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
            origin = self._origin(exc.__traceback__)
            where = f"{origin.text} failed: " if origin else ""
            raise self._error(origin, f"{where}{type(exc).__name__}: {exc}", None) from None

    def _origin(self, tb: TracebackType | None) -> Origin | None:
        line = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
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
    a new combination of modules compiles only what is new.
    """

    skeleton: CompiledTemplate
    regions: tuple[tuple[str, CompiledTemplate], ...]  # (hole variable, region template)

    def render(self, context: Mapping[str, Any]) -> str:
        """Render every region, then the skeleton with the regions in its holes."""
        shared = self.skeleton.template.new_context(context, shared=True)
        for name, region in self.regions:
            shared.vars[name] = Fragment(region.render_in(shared))
        return self.skeleton.render_in(shared)

    @property
    def source(self) -> str:
        """The whole template's source, as if compiled in one piece."""
        text = self.skeleton.source
        for name, region in self.regions:
            text = text.replace("{#\n#}{{ " + name + " }}", region.source, 1)
        return text


def _root(expression: str) -> str | None:
    """The field path an expression reads: ``links.shop | url`` → ``links.shop``."""
    match = re.match(r"\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)", expression or "")
    return match.group(1) if match else None
