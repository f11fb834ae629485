"""Exclusive groups of segments: at most one member per recipient, the first in order wins."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from .errors import ConfigError, did_you_mean, short_repr
from .values import written
from .yamlfile import Document

if TYPE_CHECKING:  # segmentfile.py imports this module: groups need Segment only as a type
    from .segmentdraft import Segment

__all__ = ["Group", "GroupResolution", "check_groups", "parse_group"]

_KEYS: Final = ("description", "exclusive", "order")


@dataclass(frozen=True, slots=True)
class GroupResolution:
    """How an exclusive group resolved for one recipient.

    Attributes:
        group: The group's name.
        winner: The segment the recipient keeps: the first of ``order`` that matched.
        matched: Every member whose rule held, in the group's order (``winner`` first).
        order: The group's order.
    """

    group: str
    winner: str
    matched: tuple[str, ...]
    order: tuple[str, ...]

    @property
    def dropped(self) -> tuple[str, ...]:
        """The members that matched but were dropped for the winner."""
        return self.matched[1:]

    def describe(self) -> str:
        """``'vip (also matched lapsed; vip comes first in the group's order)'``."""
        if not self.dropped:
            return f"{self.winner} (the only member that matched)"
        return (
            f"{self.winner} (also matched {', '.join(self.dropped)}; "
            f"{self.winner} comes first in the group's order)"
        )

    def __str__(self) -> str:
        return f"{self.group}: {self.describe()}"


@dataclass(frozen=True, slots=True)
class Group:
    """A named, ordered set of segments.

    Attributes:
        name: The group's name.
        order: Its segments, highest priority first.
        exclusive: Whether a recipient keeps at most one of them (``exclusive: false`` keeps
            the group for people and tools, without resolving anything).
        description: Text for people.
        line: The line of the group in its file.
        file: The file it comes from.
    """

    name: str
    order: tuple[str, ...]
    exclusive: bool = True
    description: str = ""
    line: int | None = None
    file: str | None = None
    # Resolutions by the members that matched (at most 2 ** len(order)), each with a read-only
    # {group: resolution} mapping: recipients share them, and the hot path allocates nothing.
    _known: dict[tuple[str, ...], tuple[GroupResolution, Mapping[str, GroupResolution]]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __reduce__(self) -> tuple[Any, ...]:
        # The shared resolutions hold read-only mappings, which do not pickle: start afresh.
        fields = (self.name, self.order, self.exclusive, self.description, self.line, self.file)
        return Group, fields

    def resolve(self, values: dict[str, Any]) -> GroupResolution | None:
        """Keep the first member that holds in ``values`` and set the others to False.

        Returns:
            The resolution, or None when no member holds.
        """
        found = self.resolved(values)
        return None if found is None else found[0]

    def resolved(
        self, values: dict[str, Any]
    ) -> tuple[GroupResolution, Mapping[str, GroupResolution]] | None:
        """``resolve``, plus the mapping ``{self.name: resolution}`` (shared, read-only)."""
        matched = tuple([name for name in self.order if values[name]])
        if not matched:
            return None
        found = self._known.get(matched)
        if found is None:
            resolution = GroupResolution(self.name, matched[0], matched, self.order)
            found = resolution, MappingProxyType({self.name: resolution})
            self._known[matched] = found
        for name in matched[1:]:
            values[name] = False
        return found


def parse_group(name: str, spec: Any, *, doc: Document, segments: Mapping[str, Segment]) -> Group:
    """Parse one group: ``{exclusive: true, order: [vip, loyal, lapsed]}``.

    Raises:
        ConfigError: with file, line and key path: unknown or missing keys, an order that is
            not a list of two or more distinct, known segment names.
    """
    path: tuple[str | int, ...] = ("groups", name)
    if not isinstance(spec, Mapping):
        raise doc.error(
            path, f"group {name!r} must be a mapping, got {written(spec)}", hint=_GROUP_HINT
        )
    for key in spec:
        if key not in _KEYS:
            hint = did_you_mean(str(key), _KEYS) or f"use {', '.join(_KEYS)}"
            raise doc.error((*path, key), f"unknown key {short_repr(key)}", hint=hint)
    for key in ("exclusive", "order"):
        if key not in spec:
            raise doc.error(path, f"group {name!r} needs {key!r}", hint=_GROUP_HINT)
    exclusive = spec["exclusive"]
    if not isinstance(exclusive, bool):
        raise doc.error(
            (*path, "exclusive"),
            f"'exclusive' must be true or false, got {written(exclusive)}",
            hint="write exclusive: true to keep at most one segment of the group",
        )
    description = doc.text(spec, path, "description")
    order = spec["order"]
    if not isinstance(order, list) or len(order) < 2:
        raise doc.error(
            (*path, "order"),
            f"'order' needs a list of two or more segment names, got {written(order)}",
            hint="list the group's segments, the one that wins a conflict first",
        )
    for index, member in enumerate(order):
        where = (*path, "order", index)
        if member not in segments:
            hint = did_you_mean(str(member), segments) or "list segments declared under segments:"
            raise doc.error(where, f"unknown segment {short_repr(member)}", hint=hint)
        if member in order[:index]:
            raise doc.error(
                where, f"segment {member!r} is listed twice", hint="list each segment once"
            )
    return Group(name, tuple(order), exclusive, description, doc.line(path), doc.file)


_GROUP_HINT: Final = "write e.g. lifecycle: {exclusive: true, order: [vip, loyal, lapsed]}"


def check_groups(groups: Mapping[str, Group], segments: Mapping[str, Segment]) -> None:
    """Check groups against each other and the segments' rules.

    A segment may be in one exclusive group only (two could each drop what the other keeps),
    and may not read another member of its own group: the group already keeps one of them.

    Raises:
        ConfigError: at the group or the condition that breaks a rule.
    """
    owner: dict[str, Group] = {}
    for group in groups.values():
        if not group.exclusive:
            continue
        for member in group.order:
            other = owner.setdefault(member, group)
            if other is not group:
                raise ConfigError(
                    f"segment {member!r} is in two exclusive groups, {other.name!r} and "
                    f"{group.name!r}",
                    file=group.file,
                    line=group.line,
                    path=f"groups.{group.name}.order",
                    hint="keep it in one group, or set exclusive: false on one of them",
                )
    for name, segment in segments.items():
        mine = owner.get(name)
        if mine is None:
            continue
        for leaf in segment.rule.conditions():
            if leaf.ref in mine.order:
                raise ConfigError(
                    f"segment {name!r} reads {leaf.ref!r}, a member of its own exclusive group "
                    f"{mine.name!r}",
                    file=leaf.file,
                    line=leaf.line,
                    path=leaf.path,
                    hint="the group already keeps only the first member that matches; "
                    "remove the reference",
                )
