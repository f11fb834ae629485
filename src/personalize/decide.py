"""The decision matrix: one module per slot for a recipient, and why."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from .decisions import (
    EXCLUDED,
    HELD_OUT,
    INACTIVE,
    LOST_PRIORITY,
    NOT_TARGETED,
    OTHER_VARIANT,
    RULE_FAILED,
    UNFILLED,
    WON,
    WRONG_LOCALE,
    Candidate,
    Decision,
    Decisions,
    Explanation,
    failures,
)
from .errors import DecisionError, PersonalizeError, RuleError
from .experimentfile import load_experiments
from .experiments import Assignment, Experiment
from .registry import Layout, Module, Registry, Slot, locale_matches
from .rules import MISSING, TraceEntry, failed_conditions
from .scope import exact_now
from .segments import Membership

# The result types live in decisions.py; callers import them from here, beside decide().
__all__ = [
    "Candidate",
    "Decision",
    "Decisions",
    "Explanation",
    "RecipientScope",
    "decide",
]

Why = tuple[str, str, tuple[TraceEntry, ...]]  # (outcome, detail, failed conditions)


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


def _why_not(
    module: Module, membership: Membership, scope: RecipientScope, locale: str, explain: bool
) -> Why | None:
    """``None`` when the module is eligible, else (outcome, detail, failed conditions)."""
    # Windows compare at scope.now, the exact moment in UTC: two date-times in one zone
    # compare by their wall clocks, and so put 02:10 after 02:30 on the night clocks go back.
    if module.active is not None and not module.active.contains(scope.now):
        return INACTIVE, module.active.describe(scope.now, scope.tz) if explain else "", ()
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
        return NOT_TARGETED, detail + failures(failed), tuple(failed)
    if module.when is not None:
        trace: list[TraceEntry] | None = [] if explain else None
        if not module.when.evaluate(scope, trace):
            failed_when = tuple(failed_conditions(trace or ()))
            return (
                RULE_FAILED,
                "when: " + module.when.describe() + failures(failed_when),
                failed_when,
            )
    return None


def decide(
    layout: Layout,
    registry: Registry,
    *,
    membership: Membership,
    scope: RecipientScope,
    locale: str,
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

    Windows compare at ``scope.now``, the render time in UTC. With ``explain``, every candidate
    gets its outcome, a ``when`` rule that cannot be evaluated after the winner (which render
    never runs) is noted on its candidate, and a required slot that no module can fill is left
    empty with the reason ``UNFILLED``.

    Raises:
        DecisionError: a required slot has no eligible module (not with ``explain``); names
            recipient, slot and each candidate's outcome.
        RuleError: a ``when`` rule cannot be evaluated on the recipient's data.
    """
    items: list[Decision] = []
    arms = _Arms(registry, experiments, recipient)
    for slot in layout.slots:
        candidates = registry.by_slot.get(slot.name, ())
        winner: Module | None = None
        considered: list[Candidate] = []
        shaped: list[Assignment] = []
        for module in candidates:
            try:
                why = _why_not(module, membership, scope, locale, explain)
            except RuleError as err:
                # The rule knows its file and line; only the caller knows whose data it saw.
                located = err.with_context(file=module.file, recipient=recipient)
                if winner is None:
                    raise located from None
                # Only explain gets past the winner; render never runs this rule.
                why = LOST_PRIORITY, _unevaluated(located), ()
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
        if winner is None and slot.required and not explain:
            raise _unfilled(layout, slot, candidates, membership, scope, locale, arms)
        reason = (
            "fallback"
            if winner is not None and winner.is_fallback
            else f"priority {winner.priority}"
            if winner is not None
            else UNFILLED
            if slot.required
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


def _unevaluated(err: PersonalizeError) -> str:
    """The note on a candidate after the winner whose ``when`` rule raised."""
    where = f" at line {err.line}" if err.line else ""
    what = ": ".join(part for part in (err.path, err.message) if part)
    return f"for this recipient it would raise a RuleError{where}: {what}"


def _unfilled(
    layout: Layout,
    slot: Slot,
    candidates: Sequence[Module],
    membership: Membership,
    scope: RecipientScope,
    locale: str,
    arms: _Arms,
) -> DecisionError:
    """The error of a required slot no candidate can fill, with each candidate's outcome.

    Checked again here, off the hot path: decide() keeps no outcomes when not explaining.
    """
    outcomes: list[tuple[Module, str]] = []
    for module in candidates:
        why = _why_not(module, membership, scope, locale, False)
        if why is None and module.experiment is not None:
            why = arms.check(module, None)
        outcomes.append((module, why[0] if why else LOST_PRIORITY))
    names = ", ".join(f"{m.id}: {outcome}" for m, outcome in outcomes) or "none"
    optional = f'mark the slot optional: <slot name="{slot.name}" optional/>'
    # Load checks that a module without segments, exclude or when exists; only its locales,
    # window or experiment arm can leave a recipient out, which "add a fallback" does not fix.
    limits = [
        _limit(m, outcome, scope, locale)
        for m, outcome in outcomes
        if not (m.segments or m.exclude or m.when)
    ]
    hint = (
        f"no module without targeting serves this recipient ({'; '.join(limits)}): add one "
        f"without locales or active in modules/{slot.name}/, or {optional}"
        if limits
        else f"add a fallback module without targeting in modules/{slot.name}/, or {optional}"
    )
    return DecisionError(
        f"no module can fill required slot {slot.name!r} (candidates: {names})",
        file=slot.file,
        line=slot.line,
        recipient=arms.recipient,
        hint=hint,
    )


def _limit(module: Module, outcome: str, scope: RecipientScope, locale: str) -> str:
    """Why a module without targeting leaves the recipient out: ``hero/x is for locales de…``."""
    if outcome == WRONG_LOCALE:
        return f"{module.id} is for locales {', '.join(module.locales)}, not {locale}"
    if outcome == INACTIVE and module.active is not None:
        return f"{module.id} is {module.active.describe(scope.now, scope.tz)}"
    return f"{module.id}: {outcome}"


def _in_experiment(module: Module, winner: Module | None) -> bool:
    """Whether the module's arm matters: before the winner, or in the winner's experiment."""
    tag = module.experiment
    if tag is None:
        return False
    # After the winner only its own variants are told apart; others simply lost on priority.
    return winner is None or (winner.experiment is not None and winner.experiment.name == tag.name)


class _Arms:
    """One recipient's experiment arms, looked up on first need, in the order asked."""

    __slots__ = ("_experiments", "_registry", "asked", "recipient")

    def __init__(
        self, registry: Registry, experiments: Mapping[str, Experiment] | None, recipient: str
    ) -> None:
        self._registry = registry
        self._experiments = experiments
        self.recipient = recipient
        self.asked: list[Assignment] = []

    def check(self, module: Module, shaped: list[Assignment] | None) -> Why | None:
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
            arm = experiment.assign(self.recipient)
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
        elif c.outcome == LOST_PRIORITY and c.detail:  # its rule raised (`_unevaluated`)
            detail = f"{winner.id} ranks first, so its when rule never runs; {c.detail}"
            c = Candidate(c.module, c.priority, LOST_PRIORITY, detail)
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
