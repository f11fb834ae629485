"""A layout's slots: the ``<slot name="…"/>`` tags outside comments, checked and located."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .errors import PersonalizeError, RegistryError
from .includes import Source

__all__ = ["Slot", "find_slots", "uncomment_slots"]

_SLOT_TAG = re.compile(r"<slot\b([^>]*?)/?>(?:\s*</slot>)?", re.IGNORECASE)
_ATTR = re.compile(r'([A-Za-z_:][-\w:.]*)(?:\s*=\s*(?:"([^"]*)"|\'([^\']*)\'|([^\s"\'>/]+)))?')
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# The comments mj-include skips too: HTML/MJML comments, and Jinja's, which render to nothing.
_COMMENT = re.compile(r"<!--.*?-->|\{#.*?#\}", re.DOTALL)


@dataclass(frozen=True)
class Slot:
    """A named place in a layout that one module fills."""

    name: str
    required: bool
    line: int
    file: str  # the layout, or the partial it includes that holds the tag


def uncomment_slots(body: Source) -> Source:
    """``body`` without the slot tags inside comments; every line keeps its place and origin.

    A commented-out slot is no slot (as a commented-out include is no include). Its tag goes,
    so that assembly, which fills every tag of a slot's name, leaves the comment alone.
    """
    if not _SLOT_TAG.search(body.text):
        return body

    def blank(tag: re.Match[str]) -> str:
        return "\n" * tag.group().count("\n")

    text = _COMMENT.sub(lambda comment: _SLOT_TAG.sub(blank, comment.group()), body.text)
    return body if text == body.text else Source(text, body.origins)


def find_slots(
    body: Source, file: str, report: Callable[[PersonalizeError], None]
) -> tuple[Slot, ...]:
    """The slots of a layout ``body`` (comments already taken out by ``uncomment_slots``).

    ``report`` gets each problem: a tag without a valid name, a name used twice (both are
    skipped), or no slot at all.
    """
    slots: list[Slot] = []
    for match in _SLOT_TAG.finditer(body.text):
        line = body.text.count("\n", 0, match.start()) + 1
        where = body.origin(line)
        attrs = {
            m.group(1).lower(): next((g for g in m.groups()[1:] if g is not None), "")
            for m in _ATTR.finditer(match.group(1))
        }
        name = attrs.get("name", "")
        problem = None
        if not _NAME.match(name):
            problem = (
                f"slot needs a name of lowercase letters, digits, '-' or '_', got {name!r}",
                'write <slot name="hero"/>',
            )
        elif any(slot.name == name for slot in slots):
            problem = (
                f"slot {name!r} appears twice",
                "give each slot its own name; one module fills one slot",
            )
        if problem is not None:
            report(RegistryError(problem[0], file=where[0], line=where[1], hint=problem[1]))
            continue
        optional = (
            attrs.get("optional") in ("", "true", "optional") or attrs.get("required") == "false"
        )
        slots.append(Slot(name=name, required=not optional, line=where[1], file=where[0]))
    if not slots:
        report(
            RegistryError(
                "layout has no slots",
                file=file,
                hint='mark places for modules with <slot name="hero"/>',
            )
        )
    return tuple(slots)
