"""What a decision is: each slot's module, each candidate's outcome, and the readable report."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .experiments import Assignment
from .rules import MISSING, TraceEntry
from .segments import GroupResolution

__all__ = [
    "EXCLUDED",
    "HELD_OUT",
    "INACTIVE",
    "LOST_PRIORITY",
    "NOT_TARGETED",
    "OTHER_VARIANT",
    "RULE_FAILED",
    "UNFILLED",
    "WON",
    "WRONG_LOCALE",
    "Candidate",
    "Decision",
    "Decisions",
    "Explanation",
    "failures",
    "seen",
]

WON = "won"
LOST_PRIORITY = "lost on priority"
NOT_TARGETED = "not in a targeted segment"
EXCLUDED = "excluded"
RULE_FAILED = "when rule failed"
INACTIVE = "outside its date window"
WRONG_LOCALE = "wrong locale"
OTHER_VARIANT = "other variant"
HELD_OUT = "held out"

# The reason of a slot that no module can fill: explain shows it, render raises DecisionError.
UNFILLED = "required slot, no eligible module: rendering raises a DecisionError"


@dataclass(frozen=True)
class Candidate:
    """One module considered for a slot, and what happened to it."""

    module: str
    priority: int
    outcome: str
    detail: str
    failed: tuple[TraceEntry, ...] = ()


@dataclass(frozen=True)
class Decision:
    """The module chosen for one slot (``None``: the slot stays empty).

    ``experiments`` holds the experiment arms that shaped the choice: the holdout of an
    experiment passed over, and the variant that won (empty when no experiment was involved).
    A required slot is empty only in an explanation (``reason`` says so): render raises then.
    """

    slot: str
    module: str | None
    required: bool
    reason: str
    candidates: tuple[Candidate, ...] = ()
    experiments: tuple[Assignment, ...] = ()


@dataclass(frozen=True)
class Decisions:
    """Every slot's decision for one recipient and layout, in layout order.

    ``arms`` lists every experiment arm the decision looked up, in order: all that the
    decision depends on of the recipient's id (what ``Project`` memoizes on).
    """

    layout: str
    items: tuple[Decision, ...]
    arms: tuple[Assignment, ...] = ()

    def as_dict(self) -> dict[str, str | None]:
        """``{"hero": "hero/vip", "offer": None, …}``."""
        return {d.slot: d.module for d in self.items}

    def __iter__(self) -> Iterator[Decision]:
        return iter(self.items)

    @property
    def modules(self) -> tuple[tuple[str, str | None], ...]:
        """``(slot, module id)`` pairs: with the locale, this is the variant key."""
        return tuple((d.slot, d.module) for d in self.items)

    @property
    def experiments(self) -> dict[str, str]:
        """Experiment → the recipient's variant or ``"holdout"``, for the slots they shaped."""
        return {a.experiment: a.variant for d in self.items for a in d.experiments}


def failures(failed: Any) -> str:
    """`` — failed: tier = Gold (saw 'Bronze')`` for the first three failed conditions."""
    shown = [f"{e.condition} (saw {seen(e.value)})" for e in failed][:3]
    return f" — failed: {'; '.join(shown)}" if shown else ""


def seen(value: Any) -> str:
    """A value as a rule saw it, short: ``'Bronze'``, ``0``, ``nothing``."""
    if value is MISSING or value is None:
        return "nothing"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:39] + "…"


@dataclass(frozen=True)
class Explanation:
    """Why each module was chosen or not, for one recipient, layout and moment."""

    layout: str
    recipient: str
    now: datetime
    locale: str
    segments: tuple[str, ...]
    metrics: Mapping[str, Any]
    decisions: Decisions
    segment_trace: Mapping[str, tuple[TraceEntry, ...]] = field(default_factory=dict)
    groups: Mapping[str, GroupResolution] = field(default_factory=dict)
    scores: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def values(self) -> str:
        """The recipient's metrics, RFM values and scores: ``orders_365d=2, rfm='434', …``."""
        return ", ".join(f"{k}={seen(v)}" for k, v in self.metrics.items())

    @property
    def unfilled(self) -> tuple[str, ...]:
        """The required slots no module can fill: rendering raises a ``DecisionError``."""
        return tuple(d.slot for d in self.decisions if d.required and d.module is None)

    def score_lines(self) -> list[str]:
        """One line per score: its value, then how each input or point line added to it."""
        return [
            f"score {name} = {seen(self.metrics.get(name))}: {'; '.join(terms)}"
            for name, terms in self.scores.items()
        ]

    def __str__(self) -> str:
        lines = [
            f"{self.layout} for recipient {self.recipient} "
            f"(locale {self.locale}, now {self.now.isoformat(timespec='minutes')})",
            f"segments: {', '.join(self.segments) or 'none'}",
        ]
        if self.groups:
            lines.append("groups:")
            lines.extend(f"  {resolution}" for resolution in self.groups.values())
        if self.metrics:
            lines.append(f"values: {self.values}")
        lines.extend(self.score_lines())
        for decision in self.decisions:
            chosen = decision.module or "(empty)"
            arms = "".join(f" [{arm}]" for arm in decision.experiments)
            lines.append(f"\n{decision.slot}: {chosen}{arms} — {decision.reason}")
            for c in decision.candidates:
                mark = "✓" if c.outcome == WON else "✗"
                detail = f": {c.detail}" if c.detail else ""
                lines.append(f"  {mark} {c.module} [priority {c.priority}] {c.outcome}{detail}")
        return "\n".join(lines)
