"""The decision matrix: which module each segment gets in each slot of a layout."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from .decide import Decision, RecipientScope, decide
from .errors import (
    DecisionError,
    RecipientError,
    RegistryError,
    did_you_mean,
    short_repr,
)
from .experiments import HOLDOUT, Experiment
from .fieldtypes import formatting_problem
from .filters import check_locale
from .project import Project
from .registry import Layout, Module, Registry, Slot
from .segments import Membership

__all__ = [
    "NO_SEGMENT",
    "Arm",
    "Cell",
    "Choice",
    "Matrix",
    "Row",
    "decision_matrix",
    "project_matrix",
]

NO_SEGMENT = "(no segment)"
_EMPTY: MappingProxyType[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Arm:
    """One arm of an experiment in a cell: its share and the module its recipients get.

    ``module`` is ``None`` for the holdout, whose recipients get the cell's next choice.
    """

    name: str
    share: float
    module: str | None

    def __str__(self) -> str:
        return f"{self.name} {self.share * 100:.3g} %"


@dataclass(frozen=True)
class Choice:
    """One module (or experiment) a cell may show, and the ``when`` rule it depends on.

    Attributes:
        module: The module id (for an experiment, the first variant's; see ``arms``); ``None``
            when the slot stays empty (or, with ``error``, cannot be filled).
        fallback: The module has no targeting at all (it fills the slot for everyone else).
        when: The module's ``when`` rule as text (``cart_items > 0``); ``None`` when the choice
            does not depend on recipient data.
        error: A required slot no module can fill: rendering raises ``DecisionError``.
        experiment: The experiment this choice splits between, if any.
        arms: The experiment's arms in variant order, then the holdout (whose recipients get
            the next choice).
    """

    module: str | None
    fallback: bool = False
    when: str | None = None
    error: bool = False
    experiment: str | None = None
    arms: tuple[Arm, ...] = ()

    def __str__(self) -> str:
        if self.error:
            return "(no eligible module: DecisionError)"
        if self.module is None:
            return "(empty)"
        modules = " | ".join(a.module for a in self.arms if a.module) or self.module
        notes = ["fallback"] if self.fallback else []
        if self.experiment is not None:
            notes.append(f"experiment {self.experiment}: {', '.join(map(str, self.arms))}")
        if self.when is not None:
            notes.append(f"if when: {self.when}")
        return f"{modules} ({'; '.join(notes)})" if notes else modules


@dataclass(frozen=True)
class Cell:
    """What a recipient in exactly one segment gets in one slot.

    ``choices`` are tried in order: each but the last depends on a ``when`` rule over the
    recipient's data (unknown here); the last is what they get when none of those rules hold.
    """

    segment: str | None
    slot: str
    choices: tuple[Choice, ...]

    @property
    def module(self) -> str | None:
        """The first choice's module: what the recipient gets if its ``when`` rule holds."""
        return self.choices[0].module

    @property
    def fallback(self) -> bool:
        """Whether the first choice is the slot's fallback."""
        return self.choices[0].fallback

    @property
    def conditional(self) -> bool:
        """Whether the outcome depends on a ``when`` rule."""
        return len(self.choices) > 1

    def __str__(self) -> str:
        return "; otherwise ".join(str(c) for c in self.choices)

    def to_dict(self) -> dict[str, Any]:
        """The cell as plain data (for JSON)."""
        return {
            "module": self.module,
            "fallback": self.fallback,
            "text": str(self),
            "choices": [
                {
                    "module": c.module,
                    "fallback": c.fallback,
                    "when": c.when,
                    "error": c.error,
                    "experiment": c.experiment,
                    "arms": [
                        {"name": a.name, "share": a.share, "module": a.module} for a in c.arms
                    ],
                }
                for c in self.choices
            ],
        }


@dataclass(frozen=True)
class Row:
    """One segment's cells, in slot order (``segment`` is ``None`` for recipients in none)."""

    segment: str | None
    cells: tuple[Cell, ...]

    @property
    def label(self) -> str:
        """The segment name, or ``(no segment)``."""
        return self.segment if self.segment is not None else NO_SEGMENT


@dataclass(frozen=True)
class Matrix:
    """Segments × slots → module, for one layout, moment and locale.

    Attributes:
        layout: The layout name.
        now: The moment the decisions were made for (date windows).
        locale: The locale the decisions were made for (module ``locales``).
        slots: The layout's slot names, in layout order.
        rows: One row per segment (file order), then the ``(no segment)`` row.
    """

    layout: str
    now: datetime
    locale: str
    slots: tuple[str, ...]
    rows: tuple[Row, ...]

    def cell(self, segment: str | None, slot: str) -> Cell:
        """The cell of ``segment`` (``None`` or ``(no segment)`` for none) and ``slot``.

        Raises:
            RegistryError: no such segment row or slot.
        """
        wanted = None if segment == NO_SEGMENT else segment
        row = next((r for r in self.rows if r.segment == wanted), None)
        if row is None:
            labels = [r.label for r in self.rows]
            raise RegistryError(
                f"no segment {segment!r} in the matrix of {self.layout!r}",
                hint=did_you_mean(str(segment), labels) or f"segments: {', '.join(labels)}",
            )
        for cell in row.cells:
            if cell.slot == slot:
                return cell
        raise RegistryError(
            f"layout {self.layout!r} has no slot {slot!r}",
            hint=did_you_mean(slot, self.slots) or f"slots: {', '.join(self.slots)}",
        )

    def table(self) -> list[list[str]]:
        """A header row (``segment``, then the slots) and one row of cell texts per segment."""
        return [
            ["segment", *self.slots],
            *([row.label, *(str(c) for c in row.cells)] for row in self.rows),
        ]

    def to_dict(self) -> dict[str, Any]:
        """The matrix as plain data (for JSON)."""
        return {
            "layout": self.layout,
            "now": self.now.isoformat(),
            "locale": self.locale,
            "slots": list(self.slots),
            "rows": [
                {
                    "segment": row.segment,
                    "label": row.label,
                    "cells": {cell.slot: cell.to_dict() for cell in row.cells},
                }
                for row in self.rows
            ],
        }


def decision_matrix(
    project: Project, layout: str, *, now: datetime | None = None, locale: str | None = None
) -> Matrix:
    """Which module a recipient in exactly one segment gets, for every segment and slot.

    Each cell comes from the real decision function, with a membership holding just that
    segment (a last row holds none). A module's ``when`` rule reads recipient data, which a
    segment alone does not fix: such a module shows as ``module (if when: rule)``, followed by
    what the recipient gets when the rule does not hold. An experiment shows its arms, each
    with its configured share and the module it gives in this locale; its holdout, like a rule
    that does not hold, gets the next choice.

    Args:
        project: The loaded project.
        layout: The layout name, e.g. ``"weekly"``.
        now: The moment for date windows (default: the project's pinned ``now``, else the
            current time).
        locale: The recipient locale for module ``locales`` (default: the project locale).

    Raises:
        RegistryError: unknown layout.
        RecipientError: a locale no record can have (``DE_de``), or one Babel does not know
            (path ``locale``).
    """
    chosen = project.registry.layout(layout)
    moment = project.now(now)
    where = _locale(locale or project.settings.project.locale)
    names = project.segments.names
    rows = tuple(
        Row(
            segment,
            tuple(
                _cell(project, chosen, slot=slot, segment=segment, now=moment, locale=where)
                for slot in chosen.slots
            ),
        )
        for segment in (*names, None)
    )
    return Matrix(
        layout=chosen.name,
        now=moment,
        locale=where,
        slots=tuple(slot.name for slot in chosen.slots),
        rows=rows,
    )


project_matrix = decision_matrix  # the name issue 3 uses for the same function


def _locale(name: str) -> str:
    """``name`` as records read it (``de-DE`` is ``de_DE``), if a record could have it."""
    where = name.strip().replace("-", "_")
    if formatting_problem("locale", where) is not None:  # Babel reads 'DE_de'; modules do not
        raise RecipientError(
            f"expected a locale such as 'en_US' or 'de_DE', got {short_repr(name)}",
            path="locale",
            hint="write it as records do: 'de', 'de_DE', 'zh_Hant_TW'",
        )
    return check_locale(where)


def _cell(
    project: Project,
    layout: Layout,
    *,
    slot: Slot,
    segment: str | None,
    now: datetime,
    locale: str,
) -> Cell:
    membership = Membership(frozenset({segment} if segment else ()), _EMPTY, _EMPTY)
    scope = RecipientScope(
        {}, membership, segments=project.segments.segments, now=now, tz=project.schema.tz
    )
    chooser = _Chooser(project.registry, replace(layout, slots=(slot,)), membership, scope)
    remaining = list(project.registry.by_slot.get(slot.name, ()))
    choices: list[Choice] = []
    while True:
        decision = chooser.decide(remaining, locale=locale)
        if decision is None or decision.module is None:
            choices.append(Choice(None, error=decision is None))
            return Cell(segment, slot.name, tuple(choices))
        module = project.registry.modules[decision.module]
        when = module.when.describe() if module.when is not None else None
        tag = module.experiment
        if tag is None:
            choices.append(Choice(module.id, fallback=module.is_fallback, when=when))
            last = when is None
            remaining = [m for m in remaining if m.id != module.id]
        else:
            experiment = project.experiments[tag.name]
            arms = _arms(chooser, experiment, remaining, locale=locale)
            first = next((a.module for a in arms if a.module), module.id)
            fallback = project.registry.modules[first].is_fallback
            choices.append(Choice(first, fallback, when, experiment=tag.name, arms=arms))
            # The holdout, like a failed rule, gets what the slot holds without the experiment.
            last = when is None and not experiment.holdout
            remaining = [m for m in remaining if not _in_experiment(m, tag.name)]
        if last:
            return Cell(segment, slot.name, tuple(choices))


def _in_experiment(module: Module, name: str) -> bool:
    return module.experiment is not None and module.experiment.name == name


def _arms(
    chooser: _Chooser,
    experiment: Experiment,
    remaining: list[Module],
    *,
    locale: str,
) -> tuple[Arm, ...]:
    """Each variant's module (the one for this locale), then the holdout."""
    shares = experiment.shares
    arms: list[Arm] = []
    for variant in experiment.variants:
        own = [
            m
            for m in remaining
            if not _in_experiment(m, experiment.name)
            or (m.experiment is not None and m.experiment.variant == variant.name)
        ]
        decision = chooser.decide(own, locale=locale)
        arms.append(Arm(variant.name, shares[variant.name], decision.module if decision else None))
    if experiment.holdout:
        arms.append(Arm(HOLDOUT, shares[HOLDOUT], None))
    return tuple(arms)


class _Chooser:
    """The real decision function over one slot, with rules and experiments taken as given."""

    def __init__(
        self, registry: Registry, layout: Layout, membership: Membership, scope: RecipientScope
    ) -> None:
        self.registry = registry
        self.layout = layout
        self.membership = membership
        self.scope = scope

    def decide(self, modules: list[Module], *, locale: str) -> Decision | None:
        """The slot's decision when every ``when`` rule of ``modules`` holds and no experiment
        arm is drawn (the caller narrows experiments to one variant); ``None``: DecisionError.
        """
        (slot,) = self.layout.slots
        # The order stays that of the registry: dropping a rule changes `is_fallback`, which
        # would otherwise reorder ties.
        assumed = tuple(
            replace(m, when=None, experiment=None) if m.when or m.experiment else m for m in modules
        )
        try:
            decisions = decide(
                self.layout,
                replace(self.registry, by_slot={slot.name: assumed}),
                membership=self.membership,
                scope=self.scope,
                locale=locale,
                recipient="(matrix)",
                experiments={},
            )
        except DecisionError:
            return None
        return decisions.items[0]
