"""Memoized decisions: recipients with the same segments, locale and `when` results share them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from types import MappingProxyType
from typing import Any

from .compile import VariantKey
from .decide import Decisions, RecipientScope
from .errors import PersonalizeError
from .experiments import ArmMemo, Experiment
from .profile import Recipient
from .registry import Module, Registry
from .rules import Rule
from .scope import exact_now
from .segments import Membership, Segment

__all__ = ["Choices", "Chosen"]

# Bounded; a new batch `now` starts afresh.
_MAX_KEYS = 4096


@dataclass(frozen=True)
class Chosen:
    """What a render needs from the decisions: the variant, and what the email reports."""

    key: VariantKey
    decisions: Mapping[str, str | None]
    experiments: Mapping[str, str]


_FAILED = object()  # a `when` rule that raised: decide() reports it if it gets that far


def _outcome(rule: Rule, scope: RecipientScope) -> object:
    """A rule's result for the memo key. One that fails stays unreported here: decide() checks
    a module's locale, window and segments first and stops at the first winner, so a rule of a
    module that cannot win never fails an email (as in render_reference)."""
    try:
        return rule.evaluate(scope)
    except PersonalizeError:
        return _FAILED


class Choices:
    """The decisions of each recipient, memoized.

    Without `when` rules, decisions depend only on the layout, locale, segments and `now` (the
    moment, in UTC); with them, also on each rule's result; experiments add the recipient's
    arms (``ArmMemo``).
    """

    def __init__(
        self,
        registry: Registry,
        segments: Mapping[str, Segment],
        tz: tzinfo,
        experiments: Mapping[str, Experiment],
    ) -> None:
        self._registry = registry
        self._segments = segments
        self._tz = tz
        self._experiments = experiments
        self._whens: dict[str, tuple[Module, ...]] = {}
        self._memo: dict[tuple[Any, ...], Chosen | ArmMemo[Chosen]] = {}

    def chosen(
        self,
        layout: str,
        r: Recipient,
        membership: Membership,
        now: datetime,
        decide: Callable[..., Decisions],
    ) -> Chosen:
        """The recipient's decisions; ``decide(layout, r, membership, now, explain=False)``
        makes them when nothing memoized fits."""
        whens = self._whens.get(layout)
        if whens is None:
            slots = self._registry.layout(layout).slots
            by_slot = self._registry.by_slot
            whens = self._whens[layout] = tuple(
                m for s in slots for m in by_slot.get(s.name, ()) if m.when is not None
            )
        values: tuple[object, ...] = ()
        # The key holds `now` in UTC: two spellings of one moment (UTC and Berlin time) must
        # share an entry, and two moments must not (Berlin's 02:10 before and after the clocks
        # go back are equal as date-times in one zone). A batch's `now` converts once.
        moment = exact_now(now, self._tz)
        if whens:
            scope = RecipientScope(
                r.data, membership, segments=self._segments, now=moment, tz=self._tz
            )
            values = tuple(_outcome(m.when, scope) for m in whens)  # type: ignore[arg-type]
        key = (layout, r.locale, membership.segments, moment, values)
        found = self._memo.get(key)
        if type(found) is Chosen:
            return found
        memo = found if isinstance(found, ArmMemo) else None
        chosen = memo.get(r.id) if memo else None
        if chosen is None:
            decisions = decide(layout, r, membership, now, explain=False)
            chosen = Chosen(
                VariantKey(layout, decisions.modules, r.locale),
                MappingProxyType(decisions.as_dict()),
                MappingProxyType(decisions.experiments),
            )
            if len(self._memo) >= _MAX_KEYS:
                self._memo.clear()
            if decisions.arms:
                memo = memo or ArmMemo(self._experiments)
                memo.put(decisions.arms, chosen)
            self._memo[key] = memo or chosen
        return chosen
