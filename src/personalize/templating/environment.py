"""The sandboxed Jinja environments: limits, finalizers, personalize's filters."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass
from types import BuiltinMethodType, MappingProxyType, MethodType
from typing import Any

from jinja2 import StrictUndefined, nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import (
    SecurityError,
)
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

from personalize.config import LimitSettings
from personalize.filters import FILTERS, url_part, validate_css_value, validate_url
from personalize.safevalues import css_url

from . import growth
from .codecache import CodeCache
from .growth import GROWING_METHODS, method_args, percent, str_format
from .lexer import FastLexer, fast_lexer
from .printing import (
    finalize_html,
    finalize_text,
    join_text,
    keeping_blocks,
)
from .sizes import SizeLimitError, check_size, spend, text_size

GLOBAL_NAMES = frozenset(
    {"range", "segments", "now", "lipsum", "dict", "cycler", "joiner", "namespace"}
)
# Jinja's filters whose result is markup built from their value without escaping it: in HTML,
# recipient data would add attributes or elements. Layouts and modules cannot use them (the HTML
# environment lacks them; check_template says why). Subjects, preheaders and the text part are
# plain text, escaped where they enter the HTML: there they stay.
MARKUP_FILTERS = frozenset({"tojson", "xmlattr", "urlize"})
_MAPPINGS = (dict, MappingProxyType)
_SEQUENCES = (tuple, list, range)  # sized for sure: no ABC check (slow) on the hot path
# str methods that only read their string and cannot build a much larger one: templates call
# them often (`locale.startswith("de")`), so they skip the sandbox's generic checks, which cost
# a few µs a call. `format` and `format_map` are not here: the sandbox must wrap those.
_STR_METHODS = frozenset(
    {
        "capitalize", "casefold", "count", "endswith", "find", "isalnum", "isalpha",
        "isascii", "isdecimal", "isdigit", "islower", "isnumeric", "isspace", "istitle",
        "isupper", "lower", "lstrip", "partition", "removeprefix", "removesuffix", "rfind",
        "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip",
        "swapcase", "title", "upper",
    }
)  # fmt: skip


def hole_name(index: int) -> str:
    """The name of a layout skeleton's hole for the module region of slot ``index``."""
    return f"_slot_{index}"


_HOLE = re.compile(r"_slot_\d+")


def is_hole(node: nodes.Node) -> bool:
    """Whether ``node`` is a skeleton's hole: ``{{ _slot_N }}``, a bare name, printed.

    Templates cannot write one: a name of theirs starting with ``_`` is reserved or unknown
    (``checks.check_template``).
    """
    return isinstance(node, nodes.Name) and _HOLE.fullmatch(node.name) is not None


class _Printer(CodeGenerator):
    """Jinja's code generator, printing each value with one call of ours, and holes in place.

    Jinja writes ``escape(environment.finalize(value))`` (HTML) or
    ``str(environment.finalize(value))`` (text) for every ``{{ … }}``; with our finalizers
    that is ``_print_html(value)`` or ``_print_text(value)``, one call and two lookups fewer
    (~2 µs an email). ``CompiledTemplate.build`` binds the two names. Anything else (another
    finalizer, a ``{% autoescape %}`` decided at run time) is written as Jinja writes it.

    A skeleton's hole holds its region's render function (``Composite.render_in``): the
    skeleton runs it where the hole stands, ``"".join(hole(context))``, so that a
    composite renders in document order, as the whole template would. (``yield from`` passes
    each of the region's pieces through the skeleton's frame: rendering in pieces took 174 µs
    a recipient against 142 this way.)
    """

    def _printer(self, frame: Frame, finalize: CodeGenerator._FinalizeInfo) -> str | None:
        if frame.eval_ctx.volatile or finalize.src != "environment.finalize(":
            return None
        own = self.environment.finalize
        if frame.eval_ctx.autoescape:
            return "_print_html" if own is finalize_html else None
        return "_print_text" if own is finalize_text else None

    def _output_child_pre(
        self, node: nodes.Expr, frame: Frame, finalize: CodeGenerator._FinalizeInfo
    ) -> None:
        if is_hole(node):
            # Not environment.concat: the text one would make the region a TextBlock, a copy.
            self.write('"".join((')
            return
        name = self._printer(frame, finalize)
        if name is None:
            super()._output_child_pre(node, frame, finalize)
        else:
            self.write(f"{name}(")

    def _output_child_post(
        self, node: nodes.Expr, frame: Frame, finalize: CodeGenerator._FinalizeInfo
    ) -> None:
        if is_hole(node):
            self.write(")(context))")
            return
        if self._printer(frame, finalize) is None:
            super()._output_child_post(node, frame, finalize)
        else:
            self.write(")")


class _Sandbox(ImmutableSandboxedEnvironment):
    """Immutable sandbox with size limits on what templates build (``*``, ``**``, ``%``,
    padding, formatting, joining: ``growth``) and a per-render loop budget."""

    intercepted_binops = frozenset({"*", "**", "%"})
    code_generator_class = _Printer

    def __init__(
        self, limits: LimitSettings, code_cache: CodeCache | None = None, **options: Any
    ) -> None:
        super().__init__(**options)
        self.limits = limits
        self.code_cache = code_cache

    @property
    def lexer(self) -> FastLexer:
        return fast_lexer(self)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        # Every {% for %} iterates through the _loop filter, which charges the email's loop
        # budget: nested loops over recipient data multiply, and only a count can stop them.
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "_loop", [], [], None, None, lineno=loop.lineno)
        return tree

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
        elif kind is str and attribute in _STR_METHODS:
            return getattr(obj, attribute)
        return super().getattr(obj, attribute)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        kind = type(obj)
        if kind is BuiltinMethodType and type(obj.__self__) is str:
            name = obj.__name__
            if name in _STR_METHODS:
                # What Context.call does for a plain callable, minus the checks a str method
                # passes.
                kwargs.pop("_loop_vars", None)
                kwargs.pop("_block_vars", None)
                return obj(*args, **kwargs)
            if name in GROWING_METHODS:
                return self._grow(context, obj, args, kwargs)
        elif (
            kind is MethodType
            and isinstance(obj.__self__, Markup)
            and obj.__name__ in GROWING_METHODS
        ):
            return self._grow(context, obj, args, kwargs)
        return super().call(context, obj, *args, **kwargs)

    def _grow(
        self, context: Context, method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Call a str method that may build a much larger string, checked and counted."""
        args, before = method_args(context, method, args, kwargs)
        result = super().call(context, method, *args, **kwargs)
        if isinstance(result, str):
            spend(context, len(result) - before)
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        # A string's format and format_map, sandboxed as Jinja does, with sizes checked.
        if not isinstance(value, MethodType | BuiltinMethodType) or value.__name__ not in (
            "format",
            "format_map",
        ):
            return None
        return str_format(self, value) if isinstance(value.__self__, str) else None

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        limit = self.limits.max_output_bytes
        if operator == "%" and isinstance(left, str):
            return percent(context, left, right)
        if operator == "**" and isinstance(right, (int, float)):
            if abs(right) > 100:
                raise SecurityError(f"exponent {right} is over the limit of 100")
            if type(left) is int and type(right) is int and right > 1:
                # An int of n bits has about 0.30103 × n decimal digits.
                digits = int(abs(left).bit_length() * right * 0.30103)
                if digits > limit:
                    raise SizeLimitError(
                        f"raising to the power {right} would build a number of about "
                        f"{digits:,} digits, over the limit of {limit:,}"
                    )
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and times > 0:
                    size = text_size(seq, limit // times + 1) * times
                    what = f"repeating a value {times} times"
                    check_size(context, what, size, added=size, estimate=False)
                    spend(context, size)
        return super().call_binop(context, operator, left, right)


@pass_context
def _range(context: Context, *args: int) -> range:
    numbers = range(*args)
    limits: LimitSettings = context.environment.limits  # type: ignore[attr-defined]
    if len(numbers) > limits.max_range:
        raise SecurityError(
            f"range of {len(numbers):,} items is over the limit of {limits.max_range:,}"
        )
    return numbers


@pass_context
def _loop(context: Context, iterable: Any) -> Any:
    """Charge a ``{% for %}`` loop's iterations to the email's budget (see ``_Sandbox._parse``)."""
    # From the email's own context, never a template's variables (reserved names, and a
    # direct look-up: Context.get costs a few lookups more, once per loop).
    budget = context.parent.get("_budget")
    if not isinstance(budget, list):
        return iterable
    if type(iterable) in _SEQUENCES or (
        isinstance(iterable, Sized) and not isinstance(iterable, StrictUndefined)
    ):
        budget[0] -= len(iterable)  # the whole loop at once: no per-item cost
        if budget[0] < 0:
            _over_budget(context)
        return iterable
    return _counted(context, iterable, budget)


def _counted(context: Context, iterable: Iterable[Any], budget: list[int]) -> Iterator[Any]:
    for item in iterable:
        budget[0] -= 1
        if budget[0] < 0:
            _over_budget(context)
        yield item


def _over_budget(context: Context) -> None:
    limits: LimitSettings = context.environment.limits  # type: ignore[attr-defined]
    raise SecurityError(
        f"loops ran over the limit of {limits.max_loop_iterations:,} iterations per email"
    )


def _named(value: Any, name: str) -> Any:
    # Inserted before |default by the compiler, so a fallback warning can name its field.
    if type(value) is str and value.strip():  # the usual case, in two checks
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        return StrictUndefined(name=name)
    return value


@dataclass(frozen=True)
class Environments:
    """The HTML environment (autoescaped) and the text one (subject, preheader, text part)."""

    html: _Sandbox
    text: _Sandbox


def make_environments(
    limits: LimitSettings, *, code_cache: CodeCache | None = None
) -> Environments:
    """Build both sandboxes with personalize's filters and limits.

    With ``code_cache``, templates built in them keep their compiled code there
    (``CompiledTemplate.build``), for the next process to load instead of compiling.
    """

    def build(autoescape: bool, finalize: Callable[[Any], Any]) -> _Sandbox:
        env = _Sandbox(
            limits,
            code_cache,
            autoescape=autoescape,
            undefined=StrictUndefined,
            finalize=finalize,
            keep_trailing_newline=True,
        )
        env.filters.pop("attr", None)  # |attr bypasses attribute checks in SSTI payloads
        env.filters.update(growth.FILTERS)
        env.filters.update(FILTERS)
        env.filters["_url"] = validate_url
        env.filters["_css"] = validate_css_value
        env.filters["_css_url"] = css_url
        env.filters["_url_part"] = url_part
        env.filters["_named"] = _named
        env.filters["_loop"] = _loop
        for name in MARKUP_FILTERS if autoescape else ():
            del env.filters[name]
        if not autoescape:
            env.concat = join_text  # type: ignore[method-assign]
            safe, escaped = keeping_blocks(Markup), keeping_blocks(escape)
            env.filters.update(safe=safe, e=escaped, escape=escaped)
        env.globals["range"] = _range
        env.globals["lipsum"] = growth.lipsum
        return env

    return Environments(html=build(True, finalize_html), text=build(False, finalize_text))
