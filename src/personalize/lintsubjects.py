"""Lint L207: subject and preheader tests that a module of an earlier slot can override."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from .experiments import Experiment
from .lintcodes import Finding
from .lintload import Loaded
from .registry import Layout, Module, Slot

__all__ = ["overridden_tests"]


def overridden_tests(loaded: Loaded) -> Iterator[Finding]:
    """L207: a subject or preheader test that a module of an earlier slot can override.

    The first chosen module in slot order that sets the line wins, so a recipient who gets
    such a module sees its line, though recorded in the experiment's arm.
    """
    registry = loaded.registry
    for layout in registry.layouts.values():
        for index, slot in enumerate(layout.slots):
            earlier = [m for s in layout.slots[:index] for m in registry.by_slot.get(s.name, ())]
            for experiment in loaded.experiments.values():
                if experiment.slot != slot.name:
                    continue
                for key in _tested(experiment, registry.modules):
                    setters: dict[str, list[str]] = {}  # slot → its modules that set the line
                    for module in earlier:
                        if getattr(module, key) is not None:
                            setters.setdefault(module.slot, []).append(module.id)
                    if setters:
                        yield _overridden(layout, slot, experiment.name, key, setters)


def _tested(experiment: Experiment, modules: Mapping[str, Module]) -> list[str]:
    """The lines (subject, preheader) the variants differ in, locale version by version."""
    variants = [[modules[m] for m in v.modules] for v in experiment.variants]
    return [
        key
        for key in ("subject", "preheader")
        if len({frozenset((m.locales, getattr(m, key)) for m in v) for v in variants}) > 1
    ]


def _overridden(
    layout: Layout, slot: Slot, experiment: str, key: str, setters: dict[str, list[str]]
) -> Finding:
    shown = ", ".join(
        f"{name!r} ({', '.join(ids[:3])}{f' and {len(ids) - 3} more' if len(ids) > 3 else ''})"
        for name, ids in setters.items()
    )
    return Finding(
        slot.file,
        slot.line,
        "L207",
        f"layout {layout.name!r}: the variants of experiment {experiment!r} in slot "
        f"{slot.name!r} differ in {key}, but modules of earlier "
        f"slot{'s' if len(setters) > 1 else ''} {shown} set a {key} too, and the first chosen "
        f"module in slot order that sets one wins: recipients who get one of them are "
        f"recorded in their arm but never see its {key}",
        f"move the test to slot {next(iter(setters))!r}, the first slot that sets a {key}, or "
        f"set the {key} on the layout instead of on those modules",
    )
