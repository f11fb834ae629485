"""Jinja's filters and str methods that build a value by an argument, checked first."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from functools import update_wrapper
from string import Formatter
from typing import Any

from jinja2 import pass_context
from jinja2.constants import LOREM_IPSUM_WORDS
from jinja2.exceptions import FilterArgumentError
from jinja2.filters import (
    do_batch,
    do_format,
    do_indent,
    do_tojson,
    do_truncate,
    do_wordwrap,
    make_attrgetter,
    sync_do_slice,
)
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedFormatter
from jinja2.utils import generate_lorem_ipsum
from markupsafe import EscapeFormatter, Markup, escape, soft_str

from .sizes import (
    built,
    check_size,
    indent_size,
    join_sizes,
    natural,
    percent_size,
    replaced_size,
    spend,
    wordwrap_size,
)

# str methods whose result may be much larger than their string, by an argument: checked (and
# counted) before they run. Markup has the same methods, escaping their arguments.
GROWING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join"})
_LONGEST_WORD = max(map(len, LOREM_IPSUM_WORDS.split()))
_DIGITS = re.compile(r"[0-9]+")


@pass_context
def _center(context: Context, value: Any, width: Any = 80) -> str:
    """Jinja's ``center``, checked."""
    text = soft_str(value)
    if isinstance(width, int):
        check_size(
            context, "|center", max(len(text), width), added=width - len(text), estimate=False
        )
    return built(context, text.center(width), len(text))


@pass_context
def _indent(
    context: Context, s: Any, width: Any = 4, first: bool = False, blank: bool = False
) -> str:
    """Jinja's ``indent``, checked (it builds the indentation first: ``" " * width``)."""
    if context.eval_ctx.autoescape and isinstance(width, str) and hasattr(s, "__html__"):
        # Around markup, Jinja marks a text width safe as it is: escape it, as Markup does.
        width = escape(width)
    text = soft_str(s)
    step = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    if step > 0:
        size = indent_size(text, step)
        check_size(context, "|indent", size, added=size - len(text), estimate=True)
    return built(context, do_indent(s, width, first, blank), len(text))


@pass_context
def _wordwrap(
    context: Context,
    s: Any,
    width: Any = 79,
    break_long_words: bool = True,
    wrapstring: Any = None,
    break_on_hyphens: bool = True,
) -> str:
    """Jinja's ``wordwrap``, checked (a long ``wrapstring`` goes between every two lines)."""
    env = context.environment
    text = soft_str(s)
    wrap = env.newline_sequence if wrapstring is None else wrapstring
    if isinstance(width, int) and isinstance(wrap, str):
        size = wordwrap_size(text, width, wrap)
        check_size(context, "|wordwrap", size, added=size - len(text), estimate=True)
    result = do_wordwrap(env, s, width, break_long_words, wrapstring, break_on_hyphens)
    return built(context, result, len(text))


@pass_context
def _format(context: Context, value: Any, *args: Any, **kwargs: Any) -> str:
    """Jinja's ``format`` (``value % args``), checked."""
    if not (args and kwargs):  # else Jinja refuses the call
        size = percent_size(soft_str(value), kwargs or args)
        check_size(context, "|format", size, added=size, estimate=True)
    return built(context, do_format(value, *args, **kwargs), 0)


def percent(context: Context, left: str, right: Any) -> str:
    """The ``%`` operator on a string, checked."""
    size = percent_size(left, right)
    check_size(context, "'%' formatting", size, added=size, estimate=True)
    result: str = left % right
    return built(context, result, 0)


@pass_context
def _replace(context: Context, s: Any, old: Any, new: Any, count: Any = None) -> str:
    """Jinja's ``replace``, checked: the same steps, sized before the result is built."""
    count = -1 if count is None else count
    text: str
    if not context.eval_ctx.autoescape:
        text, old, new = str(s), str(old), str(new)
    else:
        if hasattr(old, "__html__") or (hasattr(new, "__html__") and not hasattr(s, "__html__")):
            text = escape(s)
        else:
            text = soft_str(s)
        old, new = soft_str(old), soft_str(new)
    if isinstance(text, Markup):  # Markup.replace escapes its arguments
        old, new = escape(old), escape(new)
    if isinstance(count, int) and isinstance(old, str) and isinstance(new, str):
        size = replaced_size(text, old, new, count)
        check_size(context, "|replace", size, added=size - len(text), estimate=False)
    return built(context, text.replace(old, new, count), len(text))


@pass_context
def _join(context: Context, value: Iterable[Any], d: Any = "", attribute: Any = None) -> str:
    """Jinja's ``join``, checked: the same steps, sized before the result is built."""
    if attribute is not None:
        value = map(make_attrgetter(context.environment, attribute), value)
    items = list(value)
    sep: str
    if not context.eval_ctx.autoescape:
        sep, parts = str(d), [str(item) for item in items]
    elif not hasattr(d, "__html__"):
        parts = [item if hasattr(item, "__html__") else str(item) for item in items]
        marked = any(hasattr(item, "__html__") for item in items)
        sep = escape(d) if marked else str(d)
    else:
        sep, parts = soft_str(d), [soft_str(item) for item in items]
    if isinstance(sep, Markup):  # Markup.join escapes each item
        parts = [escape(part) for part in parts]
    size, added = join_sizes(sep, parts)
    check_size(context, "|join", size, added=added, estimate=False)
    return built(context, sep.join(parts), size - added)


@pass_context
def _batch(context: Context, value: Iterable[Any], linecount: Any, fill_with: Any = None) -> Any:
    """Jinja's ``batch``, checked: ``fill_with`` fills the last batch up to ``linecount``."""
    if fill_with is not None and isinstance(linecount, int) and linecount > 0:
        value = list(value)
        size = -(-len(value) // linecount) * linecount
        check_size(context, "|batch", size, added=size - len(value), estimate=False, unit="items")
        spend(context, size - len(value))
    return do_batch(value, linecount, fill_with)


@pass_context
def _slice(context: Context, value: Any, slices: Any, fill_with: Any = None) -> Any:
    """Jinja's ``slice``, checked: it makes ``slices`` lists, however few the items."""
    if isinstance(slices, int):
        value = list(value)
        check_size(
            context, "|slice", len(value) + slices, added=slices, estimate=False, unit="items"
        )
        spend(context, slices)
    return sync_do_slice(value, slices, fill_with)


@pass_context
def _tojson(context: Context, value: Any, indent: Any = None) -> Markup:
    """Jinja's ``tojson``, checked: ``indent`` repeats on every line, once per level."""
    step = len(indent) if isinstance(indent, str) else indent if isinstance(indent, int) else 0
    if step > 1:
        policies = context.environment.policies
        dumps: Callable[..., str] = policies["json.dumps_function"] or json.dumps
        options = {**policies["json.dumps_kwargs"], "indent": 0}
        flat = len(dumps(value, **options))
        levels = len(dumps(value, **{**options, "indent": 1})) - flat
        # (json builds the indentation string first, whatever the value.)
        size = flat + step * levels + step
        check_size(context, "|tojson", size, added=size - flat, estimate=True)
    return built(context, do_tojson(context.eval_ctx, value, indent), 0)


@pass_context
def lipsum(context: Context, n: Any = 5, html: bool = True, min: Any = 20, max: Any = 100) -> str:
    """Jinja's ``lipsum()``, checked: ``n`` paragraphs of fewer than ``max`` words."""
    if isinstance(n, int) and isinstance(max, int):
        size = n * (max * (_LONGEST_WORD + 2) + 9)
        check_size(context, "lipsum()", size, added=size, estimate=True)
    return built(context, generate_lorem_ipsum(n, html, min, max), 0)


def method_args(
    context: Context, method: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[tuple[Any, ...], int]:
    """Check a call of one of the ``GROWING_METHODS`` of a string. Returns the arguments to
    call it with (``join``'s items, read once), and the characters it starts from: what the
    result has beyond them is charged to the email (``spend``)."""
    text: str = method.__self__
    name: str = method.__name__
    what = f".{name}()"
    markup = isinstance(text, Markup)
    if name == "join":
        if len(args) != 1 or not isinstance(args[0], Iterable):
            return args, 0  # the call fails as it would
        parts = [escape(part) for part in args[0]] if markup else list(args[0])
        joined, added = join_sizes(text, parts)
        check_size(context, what, joined, added=added, estimate=False)
        return (parts,), joined - added
    size: int | None = None
    if name == "expandtabs":
        tabs = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tabs, int):
            size = len(text) + text.count("\t") * max(tabs - 1, 0)
    elif name == "replace":
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        if len(args) >= 2 and isinstance(count, int):
            old, new = (escape(a) for a in args[:2]) if markup else args[:2]
            if isinstance(old, str) and isinstance(new, str):
                size = replaced_size(text, old, new, count)
    elif args and isinstance(args[0], int):  # center, ljust, rjust, zfill
        size = max(len(text), args[0])
    if size is not None:
        check_size(context, what, size, added=size - len(text), estimate=name == "expandtabs")
    return args, len(text)


class _Bounded(SandboxedFormatter):
    """The sandbox's ``str.format``, counting what each field adds before it is built."""

    def __init__(self, env: Any, context: Context, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self.context = context
        self.size = 0
        self.factor = 1

    def vformat(self, format_string: str, args: Any, kwargs: Any) -> str:
        self.size = len(format_string)
        return super().vformat(format_string, args, kwargs)

    def format_field(self, value: Any, format_spec: str) -> Any:
        widest = max((int(n) for n in _DIGITS.findall(format_spec)), default=0)
        self.size += self.factor * (widest + natural(value, False))
        check_size(self.context, ".format()", self.size, added=self.size, estimate=True)
        return super().format_field(value, format_spec)


class _BoundedEscape(_Bounded, EscapeFormatter):
    """The same for a ``Markup`` string, whose fields are escaped (up to 6 × longer)."""

    def __init__(self, env: Any, context: Context, **kwargs: Any) -> None:
        super().__init__(env, context, **kwargs)
        self.factor = 6


def str_format(env: Any, method: Any) -> Callable[..., str]:
    """``method`` (a string's ``format`` or ``format_map``) for templates: sandboxed as Jinja
    does, with each field checked, and the result counted."""
    text: str = method.__self__
    str_type = type(text)
    is_format_map = method.__name__ == "format_map"

    @pass_context
    def wrapper(context: Context, *args: Any, **kwargs: Any) -> str:
        if is_format_map:
            if kwargs:
                raise TypeError("format_map() takes no keyword arguments")
            if len(args) != 1:
                raise TypeError(f"format_map() takes exactly one argument ({len(args)} given)")
            kwargs, args = args[0], ()
        formatter: Formatter = (
            _BoundedEscape(env, context, escape=text.escape)
            if isinstance(text, Markup)
            else _Bounded(env, context)
        )
        result = str_type(formatter.vformat(text, args, kwargs))
        return built(context, result, 0)

    return update_wrapper(wrapper, method)


@pass_context
def _truncate(
    context: Context,
    value: Any,
    length: int = 255,
    killwords: bool = False,
    end: str = "...",
    leeway: int | None = None,
) -> str:
    """Jinja's ``truncate``, whose length shorter than its ``end`` is an argument error, not
    the bare AssertionError Jinja raises."""
    if isinstance(length, int) and isinstance(end, str) and length < len(end):
        raise FilterArgumentError(
            f"truncate: the length ({length}) is shorter than the end it adds ({end!r})"
        )
    return do_truncate(context.environment, value, length, killwords, end, leeway)


FILTERS: Mapping[str, Callable[..., Any]] = {
    "center": _center,
    "indent": _indent,
    "wordwrap": _wordwrap,
    "format": _format,
    "replace": _replace,
    "join": _join,
    "batch": _batch,
    "slice": _slice,
    "tojson": _tojson,
    "truncate": _truncate,
}
"""Jinja's filters that build a value by an argument, checked: they replace Jinja's own."""
