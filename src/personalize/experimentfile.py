"""Experiments read from the registry: variant modules grouped by name and checked."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from .errors import ConfigError
from .experiments import Experiment, Variant
from .registry import Module, Registry, decision_order, locale_matches

__all__ = ["holdout_experiments", "load_experiments"]


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
