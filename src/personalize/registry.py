"""Layouts and content modules: loading, front-matter validation and indexing by slot."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from .errors import ConfigError, RegistryError, did_you_mean, short_repr
from .includes import Resolved, Source, resolve_includes
from .rules import Rule, parse_rule
from .yamlfile import Document, split_front_matter

__all__ = ["Active", "Layout", "Module", "Registry", "Slot", "load_registry", "locale_matches"]

MODULE_KEYS = (
    "slot",
    "segments",
    "exclude",
    "when",
    "priority",
    "locales",
    "active",
    "subject",
    "preheader",
    "description",
)
LAYOUT_KEYS = ("subject", "preheader", "description")
_SLOT_TAG = re.compile(r"<slot\b([^>]*?)/?>(?:\s*</slot>)?", re.IGNORECASE)
_ATTR = re.compile(r'([A-Za-z_:][-\w:.]*)(?:\s*=\s*(?:"([^"]*)"|\'([^\']*)\'|([^\s"\'>/]+)))?')
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class Active:
    """A module's active window; ``start`` inclusive, ``end`` exclusive, both aware."""

    start: datetime | None
    end: datetime | None
    text: str

    def contains(self, now: datetime) -> bool:
        """Whether ``now`` falls inside the window."""
        return (self.start is None or now >= self.start) and (self.end is None or now < self.end)


@dataclass(frozen=True)
class Slot:
    """A named place in a layout that one module fills."""

    name: str
    required: bool
    line: int


@dataclass(frozen=True)
class Layout:
    """An email skeleton: MJML + Jinja with ``<slot name="…"/>`` markers."""

    name: str
    file: str
    body: Source
    slots: tuple[Slot, ...]
    subject: str
    subject_line: int
    preheader: str | None = None
    preheader_line: int | None = None
    description: str = ""
    css: tuple[str, ...] = ()
    head: tuple[str, ...] = ()


@dataclass(frozen=True)
class Module:
    """A content block for one slot, with its targeting."""

    id: str
    slot: str
    file: str
    body: Source
    segments: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    when: Rule | None = None
    priority: int = 0
    locales: tuple[str, ...] = ()
    active: Active | None = None
    subject: str | None = None
    subject_line: int | None = None
    preheader: str | None = None
    preheader_line: int | None = None
    description: str = ""
    css: tuple[str, ...] = ()
    head: tuple[str, ...] = ()

    @property
    def is_fallback(self) -> bool:
        """A module with no targeting at all fills its slot for everyone else."""
        return not (self.segments or self.exclude or self.when or self.locales or self.active)


@dataclass(frozen=True)
class Registry:
    """Every layout and module of a project, modules indexed by slot in decision order."""

    layouts: Mapping[str, Layout]
    modules: Mapping[str, Module]
    by_slot: Mapping[str, tuple[Module, ...]] = field(default_factory=dict)

    def layout(self, name: str) -> Layout:
        """The layout called ``name`` (``weekly`` for ``templates/weekly.mjml``)."""
        try:
            return self.layouts[name]
        except KeyError:
            raise RegistryError(
                f"no layout {name!r}",
                hint=did_you_mean(name, self.layouts)
                or f"layouts: {', '.join(sorted(self.layouts)) or 'none'}",
            ) from None


def locale_matches(wanted: Collection[str], locale: str) -> bool:
    """``de`` matches ``de_DE``; ``de_AT`` matches only ``de_AT``."""
    return any(locale == item or locale.startswith(item + "_") for item in wanted)


def decision_order(module: Module) -> tuple[int, bool, str]:
    """Sort key: highest priority first, targeted before fallback, then by id (stable)."""
    return (-module.priority, module.is_fallback, module.id)


def load_registry(
    root: Path,
    *,
    templates: str,
    modules: str,
    names: Collection[str],
    segments: Collection[str],
    tz: tzinfo,
) -> Registry:
    """Load every ``templates/*.mjml`` layout and ``modules/**/*.mjml`` module.

    Args:
        root: The project folder.
        templates: The layouts folder, relative to ``root``.
        modules: The modules folder, relative to ``root``.
        names: Every name a ``when`` rule may use (fields, metrics, segments).
        segments: The segment names modules may target.
        tz: The project time zone (for ``active`` windows given as dates).

    Raises:
        ConfigError: malformed front matter (file, line, key, value, hint).
        RegistryError: unknown slots or segments, missing layouts, duplicate slots.
    """
    layout_dir, module_dir = root / templates, root / modules
    if not layout_dir.is_dir():
        raise RegistryError(
            f"no {templates}/ folder",
            hint="layouts live in templates/*.mjml; set [project] templates to use another folder",
        )
    layouts: dict[str, Layout] = {}
    for path in sorted(layout_dir.glob("*.mjml")):
        layout = _load_layout(root, path)
        layouts[layout.name] = layout
    if not layouts:
        raise RegistryError(f"no layouts in {templates}/", hint="add e.g. templates/weekly.mjml")
    slots = {slot.name for layout in layouts.values() for slot in layout.slots}
    loaded: dict[str, Module] = {}
    if module_dir.is_dir():
        for path in sorted(module_dir.rglob("*.mjml")):
            if path.name.startswith("_"):
                continue  # a partial for mj-include, not a module
            module = _load_module(
                root, path, module_dir, slots=slots, names=names, segments=segments, tz=tz
            )
            loaded[module.id] = module
    by_slot = {
        slot: tuple(sorted((m for m in loaded.values() if m.slot == slot), key=decision_order))
        for slot in sorted(slots)
    }
    for layout in layouts.values():
        for slot in layout.slots:
            # A module for everyone (no segments, exclude or when) may still be limited to
            # locales or a date window; then a recipient outside them is a DecisionError.
            if slot.required and not any(_for_everyone(m) for m in by_slot[slot.name]):
                targeted = ", ".join(m.id for m in by_slot[slot.name]) or "none"
                raise ConfigError(
                    f"required slot {slot.name!r} has no fallback module (modules: {targeted})",
                    file=layout.file,
                    line=slot.line,
                    hint=f"add a module without targeting in {modules}/{slot.name}/ to fill it "
                    f'for everyone else, or mark the slot optional: <slot name="{slot.name}" '
                    "optional/>",
                )
    return Registry(layouts=layouts, modules=loaded, by_slot=by_slot)


def _for_everyone(module: Module) -> bool:
    return not (module.segments or module.exclude or module.when)


def _relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _read(root: Path, path: Path) -> tuple[Document, Resolved, str]:
    file = _relative(root, path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not valid UTF-8 ({exc.reason})", file=file) from None
    front, body, first = split_front_matter(text, file=file)
    source = Source.from_text(body, file=file, first_line=first)
    return front, resolve_includes(source, root=root, base=path.parent), file


def _check_keys(front: Document, allowed: tuple[str, ...], what: str) -> None:
    for key in front.data:
        if key not in allowed:
            raise front.error(
                (key,),
                f"unknown {what} key {key!r}",
                hint=did_you_mean(str(key), allowed) or f"known keys: {', '.join(allowed)}",
            )


def _text(front: Document, key: str) -> tuple[str | None, int | None]:
    value = front.data.get(key)
    if value is None:
        return None, None
    if not isinstance(value, str) or not value.strip():
        raise front.error((key,), f"{key} must be text, got {short_repr(value)}")
    return value, front.line((key,))


def _load_layout(root: Path, path: Path) -> Layout:
    front, resolved, file = _read(root, path)
    body = resolved.source
    _check_keys(front, LAYOUT_KEYS, "layout")
    subject, subject_line = _text(front, "subject")
    if subject is None or subject_line is None:
        raise ConfigError(
            "layout has no subject",
            file=file,
            line=1,
            hint='add front matter with a subject line: ---\\nsubject: "Your weekly picks"\\n---',
        )
    preheader, preheader_line = _text(front, "preheader")
    return Layout(
        name=path.stem,
        file=file,
        body=body,
        slots=_slots(body, file),
        subject=subject,
        subject_line=subject_line,
        preheader=preheader,
        preheader_line=preheader_line,
        description=str(front.data.get("description") or ""),
        css=resolved.css,
        head=tuple(h.text for h in resolved.head),
    )


def _slots(body: Source, file: str) -> tuple[Slot, ...]:
    slots: list[Slot] = []
    for match in _SLOT_TAG.finditer(body.text):
        line = body.text.count("\n", 0, match.start()) + 1
        where = body.origin(line)
        attrs = {
            m.group(1).lower(): next((g for g in m.groups()[1:] if g is not None), "")
            for m in _ATTR.finditer(match.group(1))
        }
        name = attrs.get("name", "")
        if not _NAME.match(name):
            raise RegistryError(
                f"slot needs a name of lowercase letters, digits, '-' or '_', got {name!r}",
                file=where[0],
                line=where[1],
                hint='write <slot name="hero"/>',
            )
        if any(slot.name == name for slot in slots):
            raise RegistryError(
                f"slot {name!r} appears twice",
                file=where[0],
                line=where[1],
                hint="give each slot its own name; one module fills one slot",
            )
        optional = (
            attrs.get("optional") in ("", "true", "optional") or attrs.get("required") == "false"
        )
        slots.append(Slot(name=name, required=not optional, line=where[1]))
    if not slots:
        raise RegistryError(
            "layout has no slots",
            file=file,
            hint='mark places for modules with <slot name="hero"/>',
        )
    return tuple(slots)


def _names(front: Document, key: str, known: Collection[str], what: str) -> tuple[str, ...]:
    value = front.data.get(key)
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise front.error((key,), f"{key} must be a list of {what} names, got {short_repr(value)}")
    for index, item in enumerate(items):
        if item not in known:
            raise front.error(
                (key, index) if isinstance(value, list) else (key,),
                f"unknown {what} {item!r}",
                hint=did_you_mean(item, known)
                or (
                    f"known {what}s: {', '.join(sorted(known))}"
                    if known
                    else f"no {what}s are defined"
                ),
            )
    return tuple(items)


def _load_module(
    root: Path,
    path: Path,
    module_dir: Path,
    *,
    slots: Collection[str],
    names: Collection[str],
    segments: Collection[str],
    tz: tzinfo,
) -> Module:
    front, resolved, file = _read(root, path)
    body = resolved.source
    _check_keys(front, MODULE_KEYS, "module")
    module_id = path.relative_to(module_dir).with_suffix("").as_posix()
    folder = module_id.split("/")[0] if "/" in module_id else None
    slot = front.data.get("slot", folder)
    if not isinstance(slot, str) or slot not in slots:
        if slot is None:
            raise ConfigError(
                "module has no slot",
                file=file,
                line=1,
                hint="put it in modules/<slot>/ or add 'slot: hero' to its front matter",
            )
        raise front.error(
            ("slot",),
            f"slot {slot!r} is not used by any layout",
            hint=did_you_mean(str(slot), slots) or f"slots: {', '.join(sorted(slots))}",
        )
    priority = front.data.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise front.error(
            ("priority",), f"priority must be a whole number, got {short_repr(priority)}"
        )
    when = front.data.get("when")
    rule = None if when is None else parse_rule(when, doc=front, path=("when",))
    if rule is not None:
        for ref in sorted(rule.refs()):
            if ref not in names:
                raise front.error(
                    ("when",),
                    f"unknown name {ref!r} in when",
                    hint=did_you_mean(ref, names) or "use a recipient field, metric or segment",
                )
    locales = front.data.get("locales")
    if locales is not None and (
        not isinstance(locales, list) or not all(isinstance(x, str) and x for x in locales)
    ):
        raise front.error(
            ("locales",), f"locales must be a list such as [en, de_AT], got {short_repr(locales)}"
        )
    subject, subject_line = _text(front, "subject")
    preheader, preheader_line = _text(front, "preheader")
    return Module(
        id=module_id,
        slot=slot,
        file=file,
        body=body,
        segments=_names(front, "segments", segments, "segment"),
        exclude=_names(front, "exclude", segments, "segment"),
        when=rule,
        priority=priority,
        locales=tuple(x.replace("-", "_") for x in locales or ()),
        active=_active(front, tz),
        subject=subject,
        subject_line=subject_line,
        preheader=preheader,
        preheader_line=preheader_line,
        description=str(front.data.get("description") or ""),
        css=resolved.css,
        head=tuple(h.text for h in resolved.head),
    )


def _active(front: Document, tz: tzinfo) -> Active | None:
    value = front.data.get("active")
    if value is None:
        return None
    if not isinstance(value, dict) or not value or set(value) - {"from", "until"}:
        raise front.error(
            ("active",),
            f"active must be {{from: DATE, until: DATE}}, got {short_repr(value)}",
            hint="either bound may be left out; dates are in the project time zone",
        )
    start = _bound(front, value.get("from"), "from", tz, end=False)
    end = _bound(front, value.get("until"), "until", tz, end=True)
    if start and end and end <= start:
        raise front.error(
            ("active",),
            "active window ends before it starts",
            hint="'until' must be later than 'from'; a date covers its whole day",
        )
    text = f"{value.get('from', '…')} – {value.get('until', '…')}"
    return Active(start=start, end=end, text=text)


def _bound(front: Document, value: Any, key: str, tz: tzinfo, *, end: bool) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = (
                datetime.fromisoformat(value)
                if "T" in value or " " in value
                else date.fromisoformat(value)
            )
        except ValueError:
            raise front.error(
                ("active", key), f"expected a date such as 2026-11-20, got {short_repr(value)}"
            ) from None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        # A date bound covers the whole day: 'until: 2026-12-01' includes December 1st.
        day = datetime.combine(value, time.min, tzinfo=tz)
        return day + timedelta(days=1) if end else day
    raise front.error(
        ("active", key), f"expected a date such as 2026-11-20, got {short_repr(value)}"
    )
