"""Every segment of a project as one generated Python function, for the hot path."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Set
from typing import Any

from .rulenodes import RuleSource
from .scope import Scope
from .segmentfile import Segment
from .segmentgroups import Group, GroupResolution

__all__ = ["SegmentRun", "segment_run"]

Groups = Mapping[str, GroupResolution]
SegmentRun = Callable[[Mapping[str, Any], dict[str, Any], Scope], tuple[list[str], Groups | None]]
"""``(data, values, scope) -> (members, groups)``: see ``segment_run``."""

_HEAD = """\
def run(data, values, scope):
    members = []
    groups = None
"""
_SEGMENT = """\
    try:
        held = {expression}
    except Exception:  # the checked path decides, and locates any error
        held = {rule}.evaluate(scope)
    values[{name}] = held
    if held:
        members.append({name})
"""
_GROUP = """\
    found = {resolved}(values)
    if found is not None:
        for name in found[0].dropped:
            members.remove(name)
        groups = found[1] if groups is None else {merged}(groups, found[1])
"""


def segment_run(
    rules: Sequence[tuple[Segment, Group | None]],
    names: Set[str],
    merged: Callable[[Groups, Groups], Groups],
) -> SegmentRun:
    """Evaluate each segment in order, as ``Segments.classify`` does without a trace.

    ``rules`` pairs each segment, in evaluation order, with the exclusive group that resolves
    right after it (if any). The function stores each result in ``values`` under the
    segment's name, and returns the member names in that order (minus those their groups
    dropped) and the group resolutions (``merged`` joins those of several groups), or None.
    A rule's compiled expression that raises is answered by its ``evaluate``, which decides
    and raises located errors. Refs, names and operands are bound by name, never written
    into the source.
    """
    try:
        return _generated(rules, names, merged, inline=True)
    except (SyntaxError, RecursionError, MemoryError):
        # A rule nested too deeply for one function: each runs as its own compiled rule.
        return _generated(rules, names, merged, inline=False)


def _generated(
    rules: Sequence[tuple[Segment, Group | None]],
    names: Set[str],
    merged: Callable[[Groups, Groups], Groups],
    *,
    inline: bool,
) -> SegmentRun:
    source = RuleSource(names)
    lines = [_HEAD]
    for segment, group in rules:
        rule = segment.rule
        if inline:
            expression = source.expression(rule)
        else:
            expression = f"{source.bind(rule.compiled(names))}(data, values, scope)"
        lines.append(
            _SEGMENT.format(
                expression=expression,
                rule=source.bind(rule),
                name=source.bind(segment.name),
            )
        )
        if group is not None:
            resolved, merge = source.bind(group.resolved), source.bind(merged)
            lines.append(_GROUP.format(resolved=resolved, merged=merge))
    lines.append("    return members, groups\n")
    code = compile("".join(lines), "<segments>", "exec")
    namespace = dict(source.bound)
    exec(code, namespace)  # our own source: every value in it is bound by name
    run: SegmentRun = namespace["run"]
    return run
