"""The decision matrix: one module per slot for a recipient, and why."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from .errors import DecisionError, RuleError
from .experiments import Assignment, Experiment, load_experiments
from .registry import Layout, Module, Registry, locale_matches
from .rules import MISSING, TraceEntry, failed_conditions
from .scope import exact_now
from .segments import GroupResolution, Membership

__all__ = [
    "Candidate",
    "Decision",
    "Decisions",
    "Explanation",
    "RecipientScope",
    "decide",
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


class RecipientScope:
    """What ``when`` rules see: metrics, segment membership, then recipient fields."""

    __slots__ = ("_data", "_membership", "_segments", "now", "tz")

    def __init__(
        self,
        data: Mapping[str, Any],
        membership: Membership,
        *,
        segments: Collection[str],
        now: datetime,
        tz: tzinfo,
    ) -> None:
        self._data = data
        self._membership = membership
        self._segments = segments
        self.now = exact_now(now, tz)
        self.tz = tz

    def lookup(self, ref: str) -> Any:
        """The value of a metric, segment (as a bool) or dotted field path; MISSING if absent."""
        metrics = self._membership.metrics
        if ref in metrics:
            return metrics[ref]
        if ref in self._segments:
            return ref in self._membership.segments
        value: Any = self._data
        for part in ref.split("."):
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            else:
                return MISSING
        return value


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
    """The module chosen for one slot (``None``: an optional slot left empty).

    ``experiments`` holds the experiment arms that shaped the choice: the holdout of an
    experiment passed over, and the variant that won (empty when no experiment was involved).
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


def _why_not(
    module: Module,
    membership: Membership,
    scope: RecipientScope,
    locale: str,
    now: datetime,
    explain: bool,
) -> tuple[str, str, tuple[TraceEntry, ...]] | None:
    """``None`` when the module is eligible, else (outcome, detail, failed conditions)."""
    if module.active is not None and not module.active.contains(now):
        return INACTIVE, module.active.describe(now, scope.tz) if explain else "", ()
    if module.locales and not locale_matches(module.locales, locale):
        return WRONG_LOCALE, f"for locales {', '.join(module.locales)}; recipient is {locale}", ()
    segments = membership.segments
    for name in module.exclude:
        if name in segments:
            return EXCLUDED, f"recipient is in excluded segment {name!r}", ()
    if module.segments and not any(name in segments for name in module.segments):
        if not explain:
            return NOT_TARGETED, "", ()
        failed: list[TraceEntry] = []
        for name in module.segments:
            failed.extend(failed_conditions(membership.trace.get(name, ())))
        detail = f"targets {', '.join(module.segments)}; recipient is in none of them"
        # A targeted segment that matched but lost in an exclusive group: say to which.
        lost = [
            f"{name} matched, but group {g.group} kept {g.winner}"
            for g in membership.groups.values()
            for name in g.dropped
            if name in module.segments
        ]
        detail += f" ({'; '.join(lost)})" if lost else ""
        return NOT_TARGETED, detail + _failures(failed), tuple(failed)
    if module.when is not None:
        trace: list[TraceEntry] | None = [] if explain else None
        if not module.when.evaluate(scope, trace):
            failed_when = tuple(failed_conditions(trace or ()))
            return (
                RULE_FAILED,
                "when: " + module.when.describe() + _failures(failed_when),
                failed_when,
            )
    return None


def _failures(failed: Any) -> str:
    shown = [f"{e.condition} (saw {_seen(e.value)})" for e in failed][:3]
    return f" — failed: {'; '.join(shown)}" if shown else ""


def _seen(value: Any) -> str:
    if value is MISSING or value is None:
        return "nothing"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def decide(
    layout: Layout,
    registry: Registry,
    *,
    membership: Membership,
    scope: RecipientScope,
    locale: str,
    now: datetime,
    recipient: str,
    explain: bool = False,
    experiments: Mapping[str, Experiment] | None = None,
) -> Decisions:
    """Pick one module per slot of ``layout``: the eligible module with the highest priority.

    Eligibility, in order: inside its ``active`` window, one of its ``locales``, in none of its
    ``exclude`` segments, in at least one of its ``segments`` (if any), and its ``when`` rule
    holds. Ties on priority go to targeted modules over the fallback, then to the smaller id
    (for a variant of an experiment, the smaller experiment name),
    so the same inputs always give the same decisions. A module that is a variant of an
    experiment is eligible only for recipients whose arm (a hash of experiment name and
    ``recipient`` id) is that variant; the holdout passes to the slot's next eligible module.
    ``experiments`` are the project's (``load_experiments(registry)`` when not given).

    Raises:
        DecisionError: a required slot has no eligible module (names recipient, slot and
            candidates).
    """
    if now.tzinfo is None:
        # Active windows are aware; a naive moment is read in the project time zone.
        now = now.replace(tzinfo=scope.tz)
    items: list[Decision] = []
    arms = _Arms(registry, experiments, recipient)
    for slot in layout.slots:
        candidates = registry.by_slot.get(slot.name, ())
        winner: Module | None = None
        considered: list[Candidate] = []
        shaped: list[Assignment] = []
        for module in candidates:
            try:
                why = _why_not(module, membership, scope, locale, now, explain)
            except RuleError as err:
                # The rule knows its file and line; only the caller knows whose data it saw.
                raise err.with_context(file=module.file, recipient=recipient) from None
            if why is None and _in_experiment(module, winner):
                why = arms.check(module, None if winner else shaped)
            if why is None and winner is None:
                winner = module
                if not explain:
                    break
                considered.append(Candidate(module.id, module.priority, WON, ""))
            elif explain:
                outcome, detail, failed = why or (LOST_PRIORITY, "", ())
                considered.append(Candidate(module.id, module.priority, outcome, detail, failed))
        if winner is None and slot.required:
            names = ", ".join(m.id for m in candidates) or "none"
            raise DecisionError(
                f"no module can fill required slot {slot.name!r} (candidates: {names})",
                file=layout.file,
                line=slot.line,
                recipient=recipient,
                hint=f"add a fallback module without targeting in modules/{slot.name}/, "
                f'or mark the slot optional: <slot name="{slot.name}" optional/>',
            )
        reason = (
            "fallback"
            if winner is not None and winner.is_fallback
            else f"priority {winner.priority}"
            if winner is not None
            else "optional slot, no eligible module"
        )
        items.append(
            Decision(
                slot.name,
                winner.id if winner else None,
                slot.required,
                reason,
                tuple(_rank(considered, winner, registry.modules)),
                tuple(shaped),
            )
        )
    return Decisions(layout.name, tuple(items), tuple(arms.asked))


def _in_experiment(module: Module, winner: Module | None) -> bool:
    """Whether the module's arm matters: before the winner, or in the winner's experiment."""
    tag = module.experiment
    if tag is None:
        return False
    # After the winner only its own variants are told apart; others simply lost on priority.
    return winner is None or (winner.experiment is not None and winner.experiment.name == tag.name)


class _Arms:
    """One recipient's experiment arms, looked up on first need, in the order asked."""

    __slots__ = ("_experiments", "_recipient", "_registry", "asked")

    def __init__(
        self, registry: Registry, experiments: Mapping[str, Experiment] | None, recipient: str
    ) -> None:
        self._registry = registry
        self._experiments = experiments
        self._recipient = recipient
        self.asked: list[Assignment] = []

    def check(
        self, module: Module, shaped: list[Assignment] | None
    ) -> tuple[str, str, tuple[TraceEntry, ...]] | None:
        """``None`` when the recipient's arm is the module's variant, else why not.

        ``shaped`` (``None`` once the slot has a winner) collects the arms that decide the
        slot: the holdout passed over, and the winning variant.
        """
        tag = module.experiment
        assert tag is not None
        arm = next((a for a in self.asked if a.experiment == tag.name), None)
        if arm is None:
            if self._experiments is None:
                self._experiments = load_experiments(self._registry)
            experiment = self._experiments[tag.name]
            arm = experiment.assign(self._recipient)
            self.asked.append(arm)
        won = arm.variant == tag.variant
        if shaped is not None and (won or arm.held_out) and arm not in shaped:
            shaped.append(arm)
        if won:
            return None
        where = f"(bucket {arm.bucket:.3f})"
        if arm.held_out:
            return HELD_OUT, f"recipient is in the holdout of experiment {tag.name} {where}", ()
        detail = f"experiment {tag.name} put the recipient in variant {arm.variant} {where}"
        return OTHER_VARIANT, detail, ()


def _rank(
    considered: list[Candidate], winner: Module | None, modules: Mapping[str, Module]
) -> list[Candidate]:
    if winner is None:
        return considered
    top = f"eligible with the highest priority ({winner.priority})"
    best = "fallback" if winner.is_fallback else top
    out: list[Candidate] = []
    for c in considered:
        if c.outcome == WON:
            c = Candidate(c.module, c.priority, WON, best)
        elif c.outcome == LOST_PRIORITY:
            c = Candidate(c.module, c.priority, LOST_PRIORITY, _lost(winner, modules[c.module]))
        out.append(c)
    return out


def _lost(winner: Module, loser: Module) -> str:
    """Why ``winner`` ranks first: its priority, else the tie-break of ``decision_order``."""
    if loser.priority != winner.priority:
        return f"eligible, but {winner.id} (priority {winner.priority}) ranks first"
    if winner.is_fallback != loser.is_fallback:
        why = "a targeted module ranks before a fallback"
    elif _tie_name(winner) != _tie_name(loser):
        why = f"its {_tie_name(winner)} sorts before the {_tie_name(loser)}"
    elif bool(winner.locales) != bool(loser.locales):
        why = "a module for some locales ranks before one for every locale"
    else:  # two modules of one experiment
        why = f"its id {winner.id} sorts before {loser.id}"
    tie = f"tied at priority {winner.priority} with {winner.id}, which wins the tie-break"
    return f"eligible, but {tie}: {why}"


def _tie_name(module: Module) -> str:
    # An experiment's variants sort by experiment name, so that they stay next to each other.
    tag = module.experiment
    return f"experiment name {tag.name}" if tag else f"id {module.id}"


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
        return ", ".join(f"{k}={_seen(v)}" for k, v in self.metrics.items())

    def score_lines(self) -> list[str]:
        """One line per score: its value, then how each input or point line added to it."""
        return [
            f"score {name} = {_seen(self.metrics.get(name))}: {'; '.join(terms)}"
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
