"""The error hierarchy: every error says where, what was expected, and how to fix it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "ConfigError",
    "DecisionError",
    "PersonalizeError",
    "RecipientError",
    "RegistryError",
    "RenderError",
    "RuleError",
    "did_you_mean",
    "escaped_id",
    "format_path",
    "render_time_problem",
    "short_repr",
]


class PersonalizeError(Exception):
    """Base class of every error this library raises on purpose.

    ``str(error)`` is one paragraph for people::

        modules/hero/a.mjml line 3: segments[0]: unknown segment 'vipp' — did you mean 'vip'?

    The attributes are for programs: ``file``, ``line``, ``recipient``, ``path`` (a key path in
    a file or a field path in a recipient), ``message`` and ``hint``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        recipient: str | None = None,
        path: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.recipient = recipient
        self.path = path or None
        self.hint = hint
        super().__init__(str(self))

    @property
    def location(self) -> str:
        """Where the problem is: file and line, recipient id, or both."""
        parts: list[str] = []
        if self.file:
            parts.append(f"{self.file} line {self.line}" if self.line else self.file)
        if self.recipient is not None:
            # Ids come from data: escaped here, so no error can forge a log line or a colour.
            who = f"recipient {escaped_id(self.recipient)}"
            parts.append(f"({who})" if parts else who)
        return " ".join(parts)

    def __str__(self) -> str:
        head = ": ".join(part for part in (self.location, self.path, self.message) if part)
        return f"{head} — {self.hint}" if self.hint else head

    def to_dict(self) -> dict[str, Any]:
        """The error as plain data, e.g. for JSON reports."""
        return {
            "type": type(self).__name__,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "recipient": self.recipient,
            "path": self.path,
            "hint": self.hint,
        }

    def with_context(
        self,
        *,
        file: str | None = None,
        line: int | None = None,
        recipient: str | None = None,
        path: str | None = None,
    ) -> PersonalizeError:
        """A copy of this error with missing location parts filled in."""
        return type(self)(
            self.message,
            file=self.file or file,
            line=self.line or line,
            recipient=self.recipient if self.recipient is not None else recipient,
            path=self.path or path,
            hint=self.hint,
        )


class ConfigError(PersonalizeError):
    """A project file (settings, segments, personas, front matter) is malformed."""


class RecipientError(PersonalizeError):
    """A recipient record does not match the project's schema, or holds an unsafe value."""


class RuleError(PersonalizeError):
    """A rule cannot be parsed, or cannot be evaluated on a recipient's data."""


class RegistryError(PersonalizeError):
    """A layout or content module is invalid (targeting, template syntax, unsafe markup)."""


class DecisionError(PersonalizeError):
    """No module can fill a required slot for a recipient."""


class RenderError(PersonalizeError):
    """A template failed while rendering or compiling (undefined value, resource limit, MJML)."""


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint naming the closest known choice, or ``None`` when nothing is close."""
    known = sorted(set(choices))
    # 'WEEKLY' is far from 'weekly' for difflib, which compares characters as they are.
    same = [choice for choice in known if choice.casefold() == word.casefold()]
    if same:
        return f"did you mean {same[0]!r}?"
    matches = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f"did you mean {matches[0]!r}?" if matches else None


def render_time_problem(moment: datetime) -> str | None:
    """Why an aware ``moment`` cannot be a render time, or None: every stage works in UTC,
    which ends at 0001-01-01 east of UTC and at 9999-12-31 west of it."""
    try:
        moment.astimezone(UTC)
    except OverflowError:
        edge = "before the start of year 1" if moment.year == 1 else "after the end of year 9999"
        return f"the render time {moment.isoformat()} is out of range: in UTC it falls {edge}"
    return None


def short_repr(value: Any, limit: int = 60) -> str:
    """A truncated repr for error messages: control characters escaped, never huge.

    Total: it reads only as much of ``value`` as it shows, so a value nested a thousand deep, a
    huge list or an int too large for repr() cannot make building an error message fail.
    """
    text = ""
    for piece in _repr_pieces(value, limit):
        text += piece
        if len(text) > limit:
            break
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escaped_id(recipient: str) -> str:
    """A recipient id as messages show it: as it is when short and printable, else escaped.

    Escaping an already shown id changes nothing, so an id may pass through here twice.
    """
    text = str(recipient)
    return text if len(text) <= 64 and text.isprintable() else short_repr(text, 64)


# The built-in containers whose repr() is rebuilt piece by piece; subclasses have their own.
_ENDS: dict[type, tuple[str, str]] = {
    list: ("[", "]"),
    tuple: ("(", ")"),
    dict: ("{", "}"),
    set: ("{", "}"),
    frozenset: ("frozenset({", "})"),
}

_Step = tuple[bool, Any]  # (True, text to write) or (False, a value to write out)


def _repr_pieces(value: Any, limit: int) -> Iterator[str]:
    """``repr(value)`` in pieces, lazily and without recursion, for short_repr to cut off."""
    active: set[int] = set()  # containers being written: one met again is a cycle, as for repr
    stack: list[Iterator[_Step]] = [iter([(False, value)])]
    while stack:
        step = next(stack[-1], None)
        if step is None:
            stack.pop()
            continue
        literal, item = step
        kind = type(item)
        if literal:
            yield item
        elif kind in _ENDS and not item:
            yield repr(item)
        elif kind in _ENDS and id(item) in active:  # as repr writes a cycle
            yield "{}...{}".format(*_ENDS[kind])
        elif kind in _ENDS:
            stack.append(_container_steps(item, active))
        elif kind is str and len(item) > limit:
            yield _str_start(item, limit)
        else:
            yield _plain_repr(item)


def _container_steps(container: Any, active: set[int]) -> Iterator[_Step]:
    """The steps that write one built-in container: its brackets, separators and items."""
    kind = type(container)
    active.add(id(container))
    opening, closing = _ENDS[kind]
    yield True, opening
    for index, item in enumerate(container.items() if kind is dict else container):
        if index:
            yield True, ", "
        if kind is dict:
            yield False, item[0]
            yield True, ": "
            item = item[1]
        yield False, item
    if kind is tuple and len(container) == 1:
        yield True, ","
    yield True, closing
    active.discard(id(container))


def _str_start(text: str, limit: int) -> str:
    """The start of ``repr(text)``, read from the first ``limit`` characters only.

    repr() quotes with " when the text holds ' but no ": the quote for the whole text is
    forced on the start by adding the other quote character, which is then cut off again.
    """
    double = "'" in text and '"' not in text
    return repr(text[:limit] + ("'" if double else '"'))[:-2]


def _plain_repr(value: Any) -> str:
    """``repr(value)``, or a note when the value cannot be shown."""
    try:
        return repr(value)
    except ValueError:  # ints past sys.get_int_max_str_digits() cannot be repr'd
        return f"<{type(value).__name__} too large to show>"
    except RecursionError:  # a nested value of some other type
        return f"<{type(value).__name__} nested too deeply to show>"
    except Exception:  # a broken __repr__ must not hide the error being reported
        return f"<{type(value).__name__} that cannot be shown>"


def format_path(path: Iterable[str | int]) -> str:
    """``('orders', 3, 'total')`` → ``'orders[3].total'``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
