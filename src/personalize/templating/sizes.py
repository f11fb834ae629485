"""How large a value a template operation would build, and each email's budget for them."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sized
from decimal import Decimal
from typing import Any, TypeVar

from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from markupsafe import Markup

SIZE_HINT = "build smaller values, or raise [limits] max_output_bytes if this size is intended"
# An upper bound of what printing one number beyond its width and precision takes: a float
# written with %f or {:f} has up to 309 digits before the point.
_NUMBER = 330
# A printf-style conversion after its '%' and mapping key: flags, width, precision ('*': taken
# from the arguments), length modifier, conversion. Everything is optional: it never backtracks.
_SPEC = re.compile(r"[#0 +-]*(\*|[0-9]*)(?:\.(\*|[0-9]*))?[hlL]?(.?)", re.S)
_PARENS = re.compile(r"[()]")
_S = TypeVar("_S", bound=Sized)


class SizeLimitError(SecurityError):
    """A template would build a value over ``[limits] max_output_bytes``, in one operation or
    in all of an email's together."""


def check_size(
    context: Context, what: str, size: int, *, added: int, estimate: bool, unit: str = "characters"
) -> None:
    """Refuse an operation about to build ``size`` characters, of which ``added`` are new (more
    than its input had), over the limit per value or over what is left of the email's budget.

    Raises:
        SizeLimitError: naming ``what`` (``|center``…) and the limit.
    """
    limit: int = context.environment.limits.max_output_bytes  # type: ignore[attr-defined]
    if size > limit:
        builds = "could build up to" if estimate else "would build"
        raise SizeLimitError(f"{what} {builds} {size:,} {unit}, over the limit of {limit:,}")
    budget = _budget(context, limit)
    if budget is not None and added > budget[1]:
        raise SizeLimitError(
            f"{what} would take the text this email builds with *, join, replace, formatting "
            f"and padding past the limit of {limit:,} characters ({limit - budget[1]:,} so far)"
        )


def spend(context: Context, added: int) -> None:
    """Charge ``added`` characters, just built, to the email's budget (see ``check_size``)."""
    budget = context.parent.get("_budget")
    if type(budget) is list and len(budget) > 1:
        budget[1] -= max(added, 0)


def _budget(context: Context, limit: int) -> list[int] | None:
    # render.context_for gives each email a list holding its loop budget; the character budget
    # joins it when the email first builds such a value, so other emails never pay for it.
    budget = context.parent.get("_budget")
    if type(budget) is not list:
        return None
    if len(budget) == 1:
        budget.append(limit)
    return budget


def text_size(value: Any, cap: int) -> int:
    """About the characters printing ``value`` writes, counted up to a little over ``cap``: a
    string's length; one per item of a list, tuple or mapping, plus the items' own text."""
    if isinstance(value, str):
        return len(value)
    size, stack = 0, [value]
    while stack and size <= cap:
        item = stack.pop()
        if isinstance(item, str):
            size += len(item)
        elif isinstance(item, list | tuple):
            size += len(item)
            stack.extend(item)
        elif isinstance(item, Mapping):
            size += len(item)
            stack.extend(item.values())
        else:
            size += 1
    return size


def natural(value: Any, reprs: bool) -> int:
    """An upper bound of the characters formatting ``value`` takes, beyond width and precision."""
    if isinstance(value, str):
        return len(repr(value)) if reprs else len(value)
    if isinstance(value, Decimal):
        # Formatting a decimal with 'f' writes every digit of 1E+100000000.
        finite = value.is_finite()
        return 2 * (len(value.as_tuple().digits) + abs(value.adjusted())) + _NUMBER if finite else 9
    if isinstance(value, float):
        return _NUMBER
    try:
        return len(repr(value))
    except ValueError:  # an int too long to print: formatting it fails as well
        return 0


def percent_size(fmt: str, args: Any) -> int:
    """An upper bound of ``len(fmt % args)``: its conversions, each as wide as the widest width
    or precision given and as long as the longest argument."""
    specs = list(_conversions(fmt))
    if not specs:
        return len(fmt)
    if isinstance(args, tuple):
        values: tuple[Any, ...] = args
    elif isinstance(args, Mapping):
        values = (args, *args.values())
    else:
        values = (args,)
    widths = [int(n) for spec in specs for n in spec[:2] if n.isdigit()]
    if any("*" in spec[:2] for spec in specs):  # widths taken from the arguments
        widths += [abs(v) for v in values if isinstance(v, int)]
    reprs = any(spec[2] in "ra" for spec in specs if spec[2])
    longest = max((natural(v, reprs) for v in values), default=0)
    escaped = 6 if isinstance(fmt, Markup) else 1  # Markup escapes each argument: & → &amp;
    return len(fmt) + len(specs) * (max(widths, default=0) + escaped * longest)


def _conversions(fmt: str) -> Iterator[tuple[str, str, str]]:
    """Width, precision and conversion of each of ``fmt``'s conversions, as Python reads them:
    a mapping key ends at its matching parenthesis. Linear in ``fmt``."""
    start = fmt.find("%")
    while start >= 0:
        at = start + 1
        if fmt.startswith("(", at):
            depth = 0
            for paren in _PARENS.finditer(fmt, at):
                depth += 1 if paren.group() == "(" else -1
                if depth == 0:
                    at = paren.end()
                    break
            else:
                return  # an unclosed key: formatting fails
        spec = _SPEC.match(fmt, at)
        if spec is None:  # pragma: no cover - every part of _SPEC is optional
            return
        yield spec.group(1), spec.group(2) or "", spec.group(3)
        start = fmt.find("%", spec.end())


def replaced_size(text: str, old: str, new: str, count: int) -> int:
    """``len(text.replace(old, new, count))``, without building it."""
    if len(new) <= len(old):
        return len(text)
    times = text.count(old) if old else len(text) + 1
    return len(text) + (times if count < 0 else min(times, count)) * (len(new) - len(old))


def wordwrap_size(text: str, width: int, wrap: str) -> int:
    """An upper bound of Jinja's ``wordwrap``: it drops spaces, and breaks lines between words,
    at hyphens and inside words longer than ``width``, and between paragraphs."""
    breaks = len(text.split()) + text.count("-") + len(text) // max(width, 1)
    return len(text) + (breaks + 2 * len(text.splitlines()) + 2) * len(wrap)


def indent_size(text: str, step: int) -> int:
    """An upper bound of Jinja's ``indent``: every line, the first and blank ones too."""
    return len(text) + 1 + (len(text.splitlines()) + 1) * step


def built(context: Context, result: _S, before: int) -> _S:
    """``result``, charged to the email for what it has beyond the ``before`` characters of its
    input."""
    spend(context, len(result) - before)
    return result


def join_sizes(sep: str, parts: list[Any]) -> tuple[int, int]:
    """The size of ``sep.join(parts)`` and the characters the separators add."""
    added = len(sep) * max(len(parts) - 1, 0)
    return sum(len(p) for p in parts if isinstance(p, str)) + added, added
