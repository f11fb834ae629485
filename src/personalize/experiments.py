"""Experiments: variant modules grouped by name, checked, and deterministic arm assignment."""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from .errors import ConfigError, RecipientError, shown
from .frontmatter import HOLDOUT
from .registry import Module, Registry, decision_order, locale_matches

__all__ = [
    "HOLDOUT",
    "ArmMemo",
    "Assignment",
    "Experiment",
    "Variant",
    "bucket",
    "holdout_experiments",
    "load_experiments",
]

T = TypeVar("T")
RecipientId = str | int | float  # a record's number id becomes text: 42 is hashed as "42"
_BITS = 53  # a float holds 53 bits exactly, so the bucket as a fraction loses nothing
_SCALE = 2.0**-_BITS
_FIRST_8 = struct.Struct(">Q").unpack_from


def bucket(experiment: str, recipient: RecipientId) -> float:
    """The recipient's place in ``[0, 1)`` for an experiment: the same everywhere, always.

    The first 53 bits of ``sha256("<experiment>:<recipient id>")`` (UTF-8), as a fraction. The
    experiment name is the salt: another experiment splits the same audience independently.
    Nothing depends on the process, machine or ``PYTHONHASHSEED``, so a data warehouse can
    recompute it. A number id is hashed as its text, as records' ids are (42 as ``"42"``).

    Raises:
        RecipientError: the id is neither text nor a number.
    """
    return _place(_salt(experiment), recipient) * _SCALE


def _salt(experiment: str) -> Any:
    return hashlib.sha256(f"{experiment}:".encode("utf-8", "surrogatepass"))


def _place(salt: Any, recipient: RecipientId) -> int:
    """The bucket as a whole number in ``[0, 2**53)``: the salted hash's first 53 bits."""
    text = recipient if isinstance(recipient, str) else _id_text(recipient)
    digest = salt.copy()  # the salt is hashed once per experiment, not once per recipient
    digest.update(text.encode("utf-8", "surrogatepass"))
    return int(_FIRST_8(digest.digest())[0] >> (64 - _BITS))


def _id_text(recipient: object) -> str:
    if isinstance(recipient, int | float) and not isinstance(recipient, bool):
        try:  # as records' ids: str(), which refuses an int of more than 4,300 digits
            return str(recipient)
        except ValueError:
            pass
    raise RecipientError(
        f"expected text or a number, got {shown(recipient)}",
        path="id",
        hint="pass the recipient's id as its record holds it, e.g. 'r-17' or 42",
    )


@dataclass(frozen=True)
class Variant:
    """One arm of an experiment: its name, relative weight and modules (one per locale set)."""

    name: str
    weight: float
    modules: tuple[str, ...]


@dataclass(frozen=True)
class Assignment:
    """A recipient's arm in one experiment: a variant name or ``"holdout"``, and the bucket."""

    experiment: str
    variant: str
    bucket: float

    @property
    def held_out(self) -> bool:
        """Whether the recipient is in the holdout (gets the slot's next choice)."""
        return self.variant == HOLDOUT

    def __str__(self) -> str:
        arm = HOLDOUT if self.held_out else f"variant {self.variant}"
        return f"experiment {self.experiment}: {arm}"


@dataclass(frozen=True)
class Experiment:
    """Modules of one slot that share an ``experiment`` name, and how recipients split.

    ``[0, holdout)`` of the buckets is the holdout; the rest is cut in proportion to the
    variants' weights, in variant-name order. Changing a weight, the holdout or the set of
    variants moves recipients between arms; renaming the experiment reshuffles everyone.
    """

    name: str
    slot: str
    holdout: float
    variants: tuple[Variant, ...]
    file: str
    line: int | None = None
    _bounds: tuple[tuple[int, str], ...] = field(init=False, repr=False, compare=False)
    _salt: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        total = sum(v.weight for v in self.variants)
        cuts: list[tuple[float, str]] = [(self.holdout, HOLDOUT)] if self.holdout else []
        start, running = self.holdout, 0.0
        for variant in self.variants:
            running += variant.weight
            cuts.append((start + (1.0 - start) * running / total, variant.name))
        # As whole numbers: place * 2**-53 < cut exactly when place < ceil(cut * 2**53).
        bounds = [(math.ceil(cut * 2**_BITS), name) for cut, name in cuts]
        bounds[-1] = (2**_BITS, bounds[-1][1])  # float sums may fall short of 1: close the range
        object.__setattr__(self, "_bounds", tuple(bounds))
        object.__setattr__(self, "_salt", _salt(self.name))

    def __reduce__(self) -> tuple[Any, ...]:
        # The salted hash object does not pickle; a copy builds its own.
        fields = (self.name, self.slot, self.holdout, self.variants, self.file, self.line)
        return Experiment, fields

    @property
    def shares(self) -> dict[str, float]:
        """Each arm's expected share of recipients: ``{"holdout": 0.1, "a": 0.45, "b": 0.45}``."""
        total = sum(v.weight for v in self.variants)
        out = {HOLDOUT: self.holdout} if self.holdout else {}
        out.update({v.name: (1 - self.holdout) * v.weight / total for v in self.variants})
        return out

    def variant_of(self, recipient: RecipientId) -> str:
        """The recipient's arm: a variant name, or ``"holdout"`` (a number id as in ``bucket``)."""
        return self._arm(_place(self._salt, recipient))

    def assign(self, recipient: RecipientId) -> Assignment:
        """The recipient's arm with its bucket; stable across runs, processes and machines.

        Raises:
            RecipientError: the id is neither text nor a number (see ``bucket``).
        """
        place = _place(self._salt, recipient)
        return Assignment(self.name, self._arm(place), place * _SCALE)

    def _arm(self, place: int) -> str:
        for bound, name in self._bounds:
            if place < bound:
                return name
        raise AssertionError("unreachable: the last bound is 2**53")  # pragma: no cover


class ArmMemo(Generic[T]):
    """Values memoized by the arms a decision looked up, walked in the order it asked them.

    A decision that reached experiments depends on the recipient only through their arms, and
    asks for them one at a time: which experiment comes next can depend on the arm before (a
    holdout falls through to a later experiment). So the memo is a small tree: each branch
    names an experiment and forks on its arm; a leaf is the value. A lookup costs one hash per
    experiment on the path.
    """

    __slots__ = ("_experiments", "_root")

    def __init__(self, experiments: Mapping[str, Experiment]) -> None:
        self._experiments = experiments
        self._root: _Branch[T] | _Leaf[T] | None = None

    def get(self, recipient: str) -> T | None:
        """The value memoized for this recipient's arms, or ``None`` when not seen yet."""
        node = self._root
        while isinstance(node, _Branch):
            node = node.arms.get(node.experiment.variant_of(recipient))
        return None if node is None else node.value

    def put(self, asked: Sequence[Assignment], value: T) -> None:
        """Remember ``value`` for the arms ``asked``, in the order the decision asked them."""
        if not asked:
            self._root = _Leaf(value)
            return
        if self._root is None:
            self._root = _Branch(self._experiments[asked[0].experiment])
        node = self._root
        for index, arm in enumerate(asked):
            if not isinstance(node, _Branch) or node.experiment.name != arm.experiment:
                return  # same inputs always ask alike, so never; if so, just do not memoize
            if index == len(asked) - 1:
                node.arms[arm.variant] = _Leaf(value)
                return
            child = node.arms.get(arm.variant)
            if child is None:
                following = self._experiments[asked[index + 1].experiment]
                child = node.arms[arm.variant] = _Branch(following)
            node = child


@dataclass
class _Branch(Generic[T]):
    experiment: Experiment
    arms: dict[str, _Branch[T] | _Leaf[T]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Leaf(Generic[T]):
    value: T


def load_experiments(registry: Registry) -> Mapping[str, Experiment]:
    """Group modules by their ``experiment`` name and check each group.

    Raises:
        ConfigError: located at the module that breaks a rule: variants of one experiment
            must fill one slot, target the same audience (priority, segments, exclude, when,
            active — only locales may differ), agree on the holdout and on each variant's
            weight (the weights' sum must be finite), cover the same locales, and not shadow
            each other; an experiment needs two variants or a holdout, and a holdout in a
            required slot needs a fallback module outside every experiment with a holdout.
    """
    groups: dict[str, list[Module]] = {}
    for module in sorted(registry.modules.values(), key=decision_order):
        if module.experiment is not None:
            groups.setdefault(module.experiment.name, []).append(module)
    return MappingProxyType(
        {name: _experiment(name, members, registry) for name, members in sorted(groups.items())}
    )


def _experiment(name: str, members: list[Module], registry: Registry) -> Experiment:
    first = members[0]
    holdout: tuple[Module, float] | None = None
    weights: dict[str, tuple[Module, float]] = {}
    modules: dict[str, list[Module]] = {}
    for module in members:
        tag = module.experiment
        assert tag is not None
        _same_audience(name, first, module)
        if tag.holdout is not None:
            if holdout is not None and holdout[1] != tag.holdout:
                raise _error(
                    module,
                    "holdout",
                    f"experiment {name!r} holds out {tag.holdout:g} here but "
                    f"{holdout[1]:g} in {holdout[0].id}",
                    hint="state the holdout once, or the same value in every variant",
                )
            holdout = holdout or (module, tag.holdout)
        seen = weights.setdefault(tag.variant, (module, tag.weight))
        if seen[1] != tag.weight:
            raise _error(
                module,
                "weight",
                f"variant {tag.variant!r} of experiment {name!r} has weight {tag.weight:g} "
                f"here but {seen[1]:g} in {seen[0].id}",
                hint="the modules of one variant (one per locale) need the same weight",
            )
        for other in modules.get(tag.variant, ()):
            wider = not other.locales or (
                bool(module.locales)
                and all(locale_matches(other.locales, x) for x in module.locales)
            )
            if wider:
                raise _error(
                    module,
                    "variant",
                    f"{module.id} is never chosen: {other.id} is variant {tag.variant!r} of "
                    f"experiment {name!r} for the same recipients",
                    hint="give each module of a variant its own locales, e.g. locales: [de]",
                )
        modules.setdefault(tag.variant, []).append(module)
    share = holdout[1] if holdout else 0.0
    _check_weights(name, weights)
    _check_arms(name, first, modules, share)
    if share:
        _check_fallback(name, first, registry)
    variants = tuple(
        Variant(v, weights[v][1], tuple(m.id for m in modules[v])) for v in sorted(modules)
    )
    named = min(members, key=lambda m: m.id)  # where people look for it: the first file
    return Experiment(name, first.slot, share, variants, named.file, _line(named, "name"))


def _audience(module: Module) -> dict[str, object]:
    active = module.active
    return {
        "slot": module.slot,
        "priority": module.priority,
        "segments": sorted(module.segments),
        "exclude": sorted(module.exclude),
        "when": module.when.describe() if module.when else None,
        "active": active.text if active else None,
    }


def _same_audience(name: str, first: Module, module: Module) -> None:
    mine, theirs = _audience(module), _audience(first)
    for key, value in mine.items():
        if value != theirs[key]:
            if key == "slot":
                raise _error(
                    module,
                    "name",
                    f"experiment {name!r} is in slot {first.slot!r} ({first.id}) and in slot "
                    f"{module.slot!r}",
                    hint="an experiment tests one slot; give this module another experiment name",
                )
            raise _error(
                module,
                "name",
                f"variants of experiment {name!r} target different recipients: {key} is "
                f"{_shown(value)} here but {_shown(theirs[key])} in {first.id}",
                hint="give every variant the same priority, segments, exclude, when and active "
                "(only locales may differ), so that every arm sees the same audience",
            )


def _check_arms(name: str, first: Module, modules: dict[str, list[Module]], share: float) -> None:
    if len(modules) < 2 and not share:
        raise _error(
            first,
            "variant",
            f"experiment {name!r} has one variant ({next(iter(modules))!r}) and no holdout, "
            "so everyone gets it",
            hint="add another module with the same experiment name and another variant, "
            "or hold some recipients out: holdout: 0.1",
        )
    covers = {v: sorted(tuple(sorted(m.locales)) for m in ms) for v, ms in modules.items()}
    base = min(covers)
    for variant, locales in sorted(covers.items()):
        if locales != covers[base]:
            raise _error(
                modules[variant][0],
                "variant",
                f"variant {variant!r} of experiment {name!r} has modules for locales "
                f"{_locales(locales)}, but variant {base!r} has {_locales(covers[base])}",
                hint="give every variant the same locale versions (a module with e.g. "
                "locales: [de] per variant), so that no arm falls back to another language",
            )


def _check_weights(name: str, weights: dict[str, tuple[Module, float]]) -> None:
    total = 0.0
    for variant, (module, weight) in sorted(weights.items()):
        total += weight  # each weight is finite, but their sum (the arms' divisor) may not be
        if not math.isfinite(total):
            raise _error(
                module,
                "weight",
                f"the weights of experiment {name!r} add up to more than a number can hold "
                f"(variant {variant!r} has weight {weight:g})",
                hint="weights are relative: 1 and 1 split evenly, 3 and 1 give 75% and 25%",
            )


def _check_fallback(name: str, first: Module, registry: Registry) -> None:
    # Held-out recipients need a module for everyone that no holdout passes over in turn. As
    # for any fallback at load, only targeting counts: locales and windows are lint's (L205/6).
    required = any(
        s.name == first.slot and s.required for lay in registry.layouts.values() for s in lay.slots
    )
    modules = registry.by_slot.get(first.slot, ())
    others = [
        m
        for m in modules
        if not (m.segments or m.exclude or m.when)
        and (m.experiment is None or m.experiment.name != name)
    ]
    holding = holdout_experiments(modules)
    if not required or any(
        m.experiment is None or m.experiment.name not in holding for m in others
    ):
        return
    passing = ", ".join(sorted({m.experiment.name for m in others if m.experiment}))
    raise _error(
        first,
        "holdout",
        f"the holdout of experiment {name!r} would leave required slot {first.slot!r} empty: "
        + (
            f"the slot's other fallback modules are in experiment {passing}, which holds "
            "recipients out too"
            if passing
            else "the slot has no fallback module outside the experiment"
        ),
        hint=f"add a module without targeting in modules/{first.slot}/ for the "
        + ("holdouts, or remove a holdout" if passing else "holdout, or remove the holdout"),
    )


def holdout_experiments(modules: Iterable[Module]) -> frozenset[str]:
    """The names of the experiments among ``modules`` that hold recipients out (any variant)."""
    return frozenset(m.experiment.name for m in modules if m.experiment and m.experiment.holdout)


def _error(module: Module, key: str, message: str, *, hint: str) -> ConfigError:
    return ConfigError(
        message, file=module.file, line=_line(module, key), path=f"experiment.{key}", hint=hint
    )


def _line(module: Module, key: str) -> int | None:
    return module.experiment.line(key) if module.experiment else None


def _shown(value: object) -> str:
    if isinstance(value, list):
        return f"[{', '.join(map(str, value))}]"
    return "none" if value is None else str(value)


def _locales(lists: list[tuple[str, ...]]) -> str:
    return ", ".join(f"[{', '.join(x)}]" if x else "all" for x in lists)
