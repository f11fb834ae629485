"""Lint checks across files: targeting, windows, fallbacks and locales, personas, groups."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Final

from .decide import RecipientScope
from .errors import PersonalizeError
from .experimentfile import holdout_experiments
from .experiments import Experiment
from .lintcodes import Finding, from_error
from .lintload import Loaded
from .lintsubjects import overridden_tests
from .profile import Recipient
from .registry import Active, Module, Slot, locale_matches
from .segments import Membership

__all__ = [
    "Classified",
    "classify_personas",
    "membership_findings",
    "targeting_findings",
]

# A window outside these years is a typo (2062 for 2026), never meant to be active.
_EARLIEST: Final = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST: Final = datetime(2100, 1, 1, tzinfo=UTC)
Classified = list[tuple[Recipient, Membership]]
Locales = dict[str, str]  # each locale the project uses, with why (a persona's, a module's…)


def targeting_findings(
    loaded: Loaded, classified: Classified, *, now: datetime
) -> Iterator[Finding]:
    """L104 (in modules), L201–L204 (L204: range), L205, L206 and L207 over what loaded.

    ``classified`` (the personas with their membership) shows overlaps that targeting alone
    cannot (L202).
    """
    registry = loaded.registry
    for module in registry.modules.values():
        yield from _duplicates(loaded, module)
        yield from _window(loaded, module, now)
    evidence = _eligible_pairs(loaded, classified, now)
    for modules in registry.by_slot.values():
        yield from _order(loaded, modules, evidence)
    yield from _fallback_gaps(loaded, now)
    yield from overridden_tests(loaded)


def _line(loaded: Loaded, module: Module, *keys: str | tuple[str | int, ...]) -> int:
    """The line of the first of ``keys`` the module's front matter has, else of its first key."""
    doc = loaded.fronts.get(module.file)
    if doc is None:
        return 1
    for key in keys:
        path = key if isinstance(key, tuple) else (key,)
        if path in doc.lines:
            return doc.lines[path]
    return min((line for path, line in doc.lines.items() if len(path) == 1), default=1)


def _duplicates(loaded: Loaded, module: Module) -> Iterator[Finding]:
    for key, names in (("segments", module.segments), ("exclude", module.exclude)):
        for index, name in enumerate(names):
            if name in names[:index]:
                yield Finding(
                    module.file,
                    _line(loaded, module, (key, index), key),
                    "L104",
                    f"{key}[{index}]: segment {name!r} is listed twice",
                    "list each segment once",
                )
    for index, name in enumerate(module.exclude):
        if name in module.segments:
            yield Finding(
                module.file,
                _line(loaded, module, ("exclude", index), "exclude"),
                "L104",
                f"exclude[{index}]: segment {name!r} is both targeted and excluded, so the "
                "module never matches it",
                f"remove {name!r} from segments or from exclude",
            )


def _window(loaded: Loaded, module: Module, now: datetime) -> Iterator[Finding]:
    active = module.active
    if active is None:
        return
    line = _line(loaded, module, "active")
    start, end = active.start, active.end
    if (end and end <= _EARLIEST) or (start and start >= _LATEST):
        yield Finding(
            module.file,
            line,
            "L204",
            f"active: window {active.text} lies outside the years "
            f"{_EARLIEST.year}–{_LATEST.year - 1}, so it is never active",
            "check the year of each bound",
        )
    elif end is not None and end <= now:
        yield Finding(
            module.file,
            line,
            "L203",
            f"active: window {active.text} ended before now "
            f"({now.isoformat(timespec='minutes')}), so the module is never chosen",
            "move the window, or delete the module; lint checks windows at --now (default: "
            "the project's now, else the current time)",
        )


def _covers(high: Module, low: Module, experiments: Mapping[str, Experiment]) -> bool:
    """Whether every recipient ``low`` could get is also eligible for ``high``."""
    if high.experiment is not None:
        found = experiments.get(high.experiment.name)
        # An arm covers only its share; a whole experiment covers only without a holdout.
        same = low.experiment is not None and low.experiment.name == high.experiment.name
        if same or found is None or found.holdout:
            return False
    segments = not high.segments or (bool(low.segments) and set(low.segments) <= set(high.segments))
    when = high.when is None or (
        low.when is not None and high.when.describe() == low.when.describe()
    )
    locales = not high.locales or (
        bool(low.locales) and all(locale_matches(high.locales, x) for x in low.locales)
    )
    return (
        segments
        and set(high.exclude) <= set(low.exclude)
        and when
        and locales
        and _within(low.active, high.active)
    )


def _within(inner: Active | None, outer: Active | None) -> bool:
    if outer is None:
        return True
    if inner is None:
        return False
    starts = outer.start is None or (inner.start is not None and outer.start <= inner.start)
    ends = outer.end is None or (inner.end is not None and inner.end <= outer.end)
    return starts and ends


def _overlap(a: Module, b: Module) -> str | None:
    """Why ``a`` and ``b`` surely share recipients (from their targeting alone), or None."""
    if a.when is not None and b.when is not None:
        return None  # two different rules: only a persona can tell
    if a.locales and b.locales and not _locales_meet(a.locales, b.locales):
        return None
    if a.active and b.active and not _windows_meet(a.active, b.active):
        return None
    for one, other in ((a, b), (b, a)):
        if other.segments and set(other.segments) <= set(one.exclude):
            return None
    common = sorted(set(a.segments) & set(b.segments))
    if common:
        return f"both target {common[0]!r}"
    if not a.segments or not b.segments:
        targeted = a if a.segments else b
        if not targeted.segments:
            return "both target everyone"
        return f"{(b if targeted is a else a).id} targets everyone in {targeted.segments[0]!r}"
    return None


def _locales_meet(a: Sequence[str], b: Sequence[str]) -> bool:
    return any(locale_matches(a, x) or locale_matches(b, y) for x in b for y in a)


def _windows_meet(a: Active, b: Active) -> bool:
    return (a.end is None or b.start is None or b.start < a.end) and (
        b.end is None or a.start is None or a.start < b.end
    )


def _order(
    loaded: Loaded, modules: Sequence[Module], evidence: Mapping[frozenset[str], str]
) -> Iterator[Finding]:
    """L201 and L202 within one slot, whose modules are in decision order."""
    experiments = loaded.experiments
    for index, low in enumerate(modules):
        earlier = modules[:index]
        cover = next((h for h in earlier if _covers(h, low, experiments)), None)
        if cover is not None:
            yield Finding(
                low.file,
                _line(loaded, low, "priority", "segments", "slot"),
                "L201",
                f"{low.id} is never chosen: {cover.id} (priority {cover.priority}) comes first "
                f"in slot {low.slot!r} and targets everyone {low.id} targets",
                f"give {low.id} a higher priority than {cover.priority}, narrow {cover.id}'s "
                f"targeting, or delete {low.id}",
            )
            continue
        for high in earlier:
            same_experiment = (
                high.experiment is not None
                and low.experiment is not None
                and high.experiment.name == low.experiment.name
            )
            tie = high.priority == low.priority and high.is_fallback == low.is_fallback
            if not tie or same_experiment:
                continue
            why = _overlap(high, low) or evidence.get(frozenset((high.id, low.id)))
            if why:
                yield Finding(
                    low.file,
                    _line(loaded, low, "priority", "segments", "slot"),
                    "L202",
                    f"{low.id} and {high.id} have the same priority ({low.priority}) and "
                    f"overlapping audiences ({why}): {high.id} wins only because its "
                    f"{_sort_name(high)} sorts first",
                    f"raise the priority of the one that should win, or make their audiences "
                    f"exclusive (e.g. exclude: [...] on {low.id})",
                )
                break


def _sort_name(module: Module) -> str:
    """What breaks a tie on priority: the id, or for a variant its experiment's name."""
    tag = module.experiment
    return f"experiment name {tag.name!r}" if tag else "id"


def _eligible_pairs(
    loaded: Loaded, classified: Classified, now: datetime
) -> Mapping[frozenset[str], str]:
    """Pairs of same-slot, same-priority modules some persona is eligible for, with who."""
    found: dict[frozenset[str], str] = {}
    for persona, membership in classified:
        scope = RecipientScope(
            persona.data,
            membership,
            segments=loaded.segments.segments,
            now=now,
            tz=loaded.schema.tz,
        )
        for modules in loaded.registry.by_slot.values():
            fits = [m for m in modules if _eligible(m, persona, membership, scope)]
            for i, a in enumerate(fits):
                for b in fits[i + 1 :]:
                    if a.priority == b.priority:
                        found.setdefault(frozenset((a.id, b.id)), f"persona {persona.id} fits both")
    return found


def _eligible(module: Module, r: Recipient, membership: Membership, scope: RecipientScope) -> bool:
    if module.active and not module.active.contains(scope.now):  # in UTC, as decide() does
        return False
    if module.locales and not locale_matches(module.locales, r.locale):
        return False
    if any(s in membership.segments for s in module.exclude):
        return False
    if module.segments and not any(s in membership.segments for s in module.segments):
        return False
    try:
        return module.when is None or module.when.evaluate(scope)
    except PersonalizeError:
        return False  # the render would fail: not a question of ambiguity


def _fallback_gaps(loaded: Loaded, now: datetime) -> Iterator[Finding]:
    """L205 and L206: per required slot, who its modules for everyone leave without one.

    A module for everyone (no segments, exclude or when) in an experiment with a holdout
    serves only the arms: held-out recipients pass on to the next, so it does not count.
    """
    used = _locales_used(loaded)
    for layout in loaded.registry.layouts.values():
        for slot in layout.slots:
            modules = loaded.registry.by_slot.get(slot.name, ())
            everyone = [m for m in modules if not (m.segments or m.exclude or m.when)]
            holding = holdout_experiments(everyone)
            serving = [m for m in everyone if not (m.experiment and m.experiment.name in holding)]
            if not slot.required or not serving:
                continue  # an optional slot may stay empty; none at all is L105, or L503
            active = [m for m in serving if m.active is None or m.active.contains(now)]
            gaps = [x for x in sorted(used) if not any(_serves(m, x) for m in serving)]
            closed = [x for x in sorted(used) if x not in gaps]
            closed = [x for x in closed if not any(_serves(m, x) for m in active)]
            held = [
                m
                for m in everyone
                if m.experiment
                and m.experiment.name in holding
                and any(_serves(m, x) for x in gaps)
            ]
            if closed:
                yield _closed(slot, serving, closed, used, now)
            if gaps:
                yield _gap(slot, held, gaps, used)


def _gap(slot: Slot, held: Sequence[Module], gaps: list[str], used: Locales) -> Finding:
    passing = ", ".join(sorted({m.experiment.name for m in held if m.experiment}))
    shown = ", ".join(f"{x} ({used[x]})" for x in gaps)
    other = f" other than experiment {passing}, which holds recipients out" if passing else ""
    return Finding(
        slot.file,
        slot.line,
        "L205",
        f"required slot {slot.name!r} has no module for everyone in locale {shown}{other}: "
        "such recipients outside every targeted module get none",
        f"add a module without targeting in modules/{slot.name}/, or one with "
        f"locales: [{gaps[0].split('_')[0]}]{', or remove the holdout' if passing else ''}",
    )


def _closed(
    slot: Slot, serving: list[Module], closed: list[str], used: Locales, now: datetime
) -> Finding:
    shut = [m for m in serving if m.active and any(_serves(m, x) for x in closed)]
    some = len(closed) < len({x for x in used if any(_serves(m, x) for m in serving)})
    where = f" in locale {', '.join(f'{x} ({used[x]})' for x in closed)}" if some else ""
    windows = "; ".join(f"{m.id} is active {m.active.text}" for m in shut if m.active)
    return Finding(
        slot.file,
        slot.line,
        "L206",
        f"required slot {slot.name!r} has no module for everyone active at now "
        f"({now.isoformat(timespec='minutes')}){where}: {windows}, so "
        f"{'such recipients' if some else 'recipients'} outside every targeted module get none",
        f"add a module without targeting or window in modules/{slot.name}/, or move the window; "
        "lint checks windows at --now (default: the project's now, else the current time)",
    )


def _locales_used(loaded: Loaded) -> Locales:
    """Each locale the project uses, with why: its default, a persona's, a module's."""
    used = {loaded.settings.project.locale: "the project's default locale"}
    for persona in loaded.personas:
        used.setdefault(persona.locale, f"persona {persona.id}")
    for module in loaded.registry.modules.values():
        for locale in module.locales:
            used.setdefault(locale, f"module {module.id}")
    return used


def _serves(module: Module, locale: str) -> bool:
    return not module.locales or locale_matches(module.locales, locale)


def classify_personas(loaded: Loaded, *, now: datetime) -> tuple[Classified, list[Finding]]:
    """Each persona's membership (with group resolutions); a rule error is an L001 finding."""
    done: Classified = []
    failed: list[Finding] = []
    segments = loaded.segments
    for persona in loaded.personas:
        try:
            membership = segments.classify(
                persona.data, now=now, tz=loaded.schema.tz, recipient=persona.id, trace=True
            )
        except PersonalizeError as err:
            failed.append(from_error("L001", err, segments.file, blocking=False))
            continue
        done.append((persona, membership))
    return done, failed


def membership_findings(loaded: Loaded, classified: Classified) -> Iterator[Finding]:
    """L303: two members of an exclusive group that test different values match a persona."""
    seen: dict[tuple[str, str, str], list[str]] = {}
    segments = loaded.segments.segments
    for persona, membership in classified:
        for resolution in membership.groups.values():
            matched = resolution.matched
            for i, a in enumerate(matched):
                for b in matched[i + 1 :]:
                    # Members that test the same values (RFM bands over r_score, f_score…)
                    # overlap at their edges by design: the order is the tie-break.
                    if not segments[a].rule.refs() & segments[b].rule.refs():
                        seen.setdefault((resolution.group, a, b), []).append(persona.id)
    for (group, a, b), personas in seen.items():
        doc, found = loaded.segments_doc, loaded.segments.groups[group]
        line = (doc.line(("groups", group, "order")) if doc else None) or found.line
        more = f" and {len(personas) - 1} more" if len(personas) > 1 else ""
        yield Finding(
            found.file or loaded.segments.file,
            line,
            "L303",
            f"segments {a!r} and {b!r} of exclusive group {group!r} both match persona "
            f"{personas[0]}{more}; the group keeps {a!r}",
            f"{a!r} and {b!r} test different values, so only the group's order separates "
            "them: check that recipients may really be in both, or take one out of the group",
        )
