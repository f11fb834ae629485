"""Tests for layouts and modules: loading, front-matter checks, slots, windows, decision order."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from personalize.errors import ConfigError, PersonalizeError, RegistryError
from personalize.includes import Source
from personalize.lint import lint_project
from personalize.project import Project
from personalize.registry import (
    Active,
    ExperimentTag,
    Layout,
    Module,
    Registry,
    Slot,
    decision_order,
    load_registry,
    locale_matches,
    mjml_files,
)
from projects import HERO, LAYOUT
from projects import make_project as make_full_project

BERLIN = ZoneInfo("Europe/Berlin")
SEGMENTS = frozenset({"vip", "lapsed", "unsubscribed_promo"})
NAMES = frozenset({"cart_items", "tier", "orders", "orders.total", "orders_30d", *SEGMENTS})
BODY = "<mj-section><mj-column><mj-text>Hi</mj-text></mj-column></mj-section>\n"
WEEKLY = """\
---
subject: "Hi {{ first_name }}"
preheader: New this week
description: The weekly newsletter
---
<mjml><mj-body>
  <slot name="hero"/>
  <slot name="offer" optional/>
</mj-body></mjml>
"""


def module(front: str = "", body: str = BODY) -> str:
    """The text of a module file: front matter (if any) and a body."""
    if not front:
        return body
    return f"---\n{textwrap.dedent(front).strip()}\n---\n{body}"


def make_project(
    tmp_path: Path,
    *,
    modules: dict[str, str] | None = None,
    layouts: dict[str, str] | None = None,
    fallbacks: bool = True,
) -> Path:
    """A project folder: templates/<name>.mjml and modules/<id>.mjml (ids may hold folders)."""
    (tmp_path / "personalize.toml").write_text("", encoding="utf-8")
    for name, text in (layouts if layouts is not None else {"weekly": WEEKLY}).items():
        path = tmp_path / "templates" / f"{name}.mjml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (tmp_path / "templates").mkdir(exist_ok=True)
    modules = dict(modules or {})
    if fallbacks:
        # Required slots need a module for everyone; add a plain one where a test has none.
        for text in (layouts if layouts is not None else {"weekly": WEEKLY}).values():
            for match in re.finditer(r"<slot\b([^>]*)>", text):
                name = re.search(r"name\s*=\s*[\"']?([\w-]+)", match.group(1))
                optional = re.search(
                    r"optional(?!\s*=\s*[\"']?false)|required\s*=\s*[\"']?false", match.group(1)
                )
                slot = name.group(1) if name else ""
                mine = [t for m, t in modules.items() if m.startswith(f"{slot}/")]
                targeted = all(re.search(r"^(segments|exclude|when):", t, re.M) for t in mine)
                if slot and not optional and targeted:
                    modules[f"{slot}/zz-fallback"] = BODY
    for module_id, text in modules.items():
        path = tmp_path / "modules" / f"{module_id}.mjml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def load(tmp_path: Path, **kwargs: dict[str, str]) -> Registry:
    root = make_project(tmp_path, **kwargs)
    return load_registry(
        root, templates="templates", modules="modules", names=NAMES, segments=SEGMENTS, tz=BERLIN
    )


def load_error(tmp_path: Path, **kwargs: dict[str, str]) -> PersonalizeError:
    with pytest.raises(PersonalizeError) as caught:
        load(tmp_path, **kwargs)
    return caught.value


def one(tmp_path: Path, front: str, *, module_id: str = "hero/a") -> Module:
    return load(tmp_path, modules={module_id: module(front)}).modules[module_id]


# -- layouts --------------------------------------------------------------------------------


def test_a_layout_and_its_slots(tmp_path: Path) -> None:
    layout = load(tmp_path).layout("weekly")
    assert layout.name == "weekly"
    assert layout.file == "templates/weekly.mjml"
    assert layout.subject == "Hi {{ first_name }}"
    assert layout.subject_line == 2
    assert layout.preheader == "New this week"
    assert layout.preheader_line == 3
    assert layout.description == "The weekly newsletter"
    assert layout.slots == (
        Slot("hero", True, 7, "templates/weekly.mjml"),
        Slot("offer", False, 8, "templates/weekly.mjml"),
    )
    assert layout.body.text.startswith("<mjml><mj-body>")
    assert layout.body.origin(1) == ("templates/weekly.mjml", 6)


SLOT_CASES = [
    ("self-closing", '<slot name="hero"/>', True),
    ("with a closing tag", '<slot name="hero"></slot>', True),
    ("single quotes", "<slot name='hero'/>", True),
    ("unquoted", "<slot name=hero />", True),
    ("bare optional", '<slot name="hero" optional/>', False),
    ("optional true", '<slot name="hero" optional="true"/>', False),
    ("optional optional", '<slot name="hero" optional="optional"/>', False),
    ("required false", '<slot name="hero" required="false"/>', False),
    ("required true", '<slot name="hero" required="true"/>', True),
    ("optional false", '<slot name="hero" optional="false"/>', True),
    ("upper-case tag and attributes", '<SLOT NAME="hero" OPTIONAL/>', False),
    ("attribute order", '<slot optional name="hero"/>', False),
]


@pytest.mark.parametrize(
    ("tag", "required"), [c[1:] for c in SLOT_CASES], ids=[c[0] for c in SLOT_CASES]
)
def test_slot_markup(tmp_path: Path, tag: str, required: bool) -> None:
    layout_text = f'---\nsubject: "Hi"\n---\n<mjml><mj-body>\n{tag}\n</mj-body></mjml>\n'
    registry = load(tmp_path, layouts={"weekly": layout_text})
    assert registry.layout("weekly").slots == (Slot("hero", required, 5, "templates/weekly.mjml"),)


LAYOUT_ERROR_CASES = [
    (
        "no front matter",
        '<mjml><mj-body><slot name="hero"/></mj-body></mjml>\n',
        "templates/weekly.mjml line 1: layout has no subject — add front matter with a subject "
        'line: ---\\nsubject: "Your weekly picks"\\n---',
    ),
    (
        "front matter without a subject",
        '---\npreheader: x\n---\n<slot name="hero"/>\n',
        "templates/weekly.mjml line 1: layout has no subject — add front matter with a subject "
        'line: ---\\nsubject: "Your weekly picks"\\n---',
    ),
    (
        "blank subject",
        '---\nsubject: "  "\n---\n<slot name="hero"/>\n',
        "templates/weekly.mjml line 2: subject: subject must be text, got '  '",
    ),
    (
        "subject that is a list",
        '---\n\nsubject: [a]\n---\n<slot name="hero"/>\n',
        "templates/weekly.mjml line 3: subject: subject must be text, got ['a']",
    ),
    (
        "unknown layout key",
        '---\nsubject: Hi\nslots: [hero]\n---\n<slot name="hero"/>\n',
        "templates/weekly.mjml line 3: slots: unknown layout key 'slots' — known keys: subject, "
        "preheader, description",
    ),
    (
        "misspelt layout key",
        '---\nsubject: Hi\npreheadr: x\n---\n<slot name="hero"/>\n',
        "templates/weekly.mjml line 3: preheadr: unknown layout key 'preheadr' — did you mean "
        "'preheader'?",
    ),
    (
        "no slots",
        "---\nsubject: Hi\n---\n<mjml><mj-body></mj-body></mjml>\n",
        "templates/weekly.mjml: layout has no slots — mark places for modules with "
        '<slot name="hero"/>',
    ),
    (
        "the same slot twice",
        '---\nsubject: Hi\n---\n<slot name="hero"/>\n<p/>\n<slot name="hero" optional/>\n',
        "templates/weekly.mjml line 6: slot 'hero' appears twice — give each slot its own name; "
        "one module fills one slot",
    ),
    (
        "slot without a name",
        "---\nsubject: Hi\n---\n\n<slot/>\n",
        "templates/weekly.mjml line 5: slot needs a name of lowercase letters, digits, '-' or "
        "'_', got '' — write <slot name=\"hero\"/>",
    ),
    (
        "slot name in capitals",
        '---\nsubject: Hi\n---\n<slot name="Hero"/>\n',
        "templates/weekly.mjml line 4: slot needs a name of lowercase letters, digits, '-' or "
        "'_', got 'Hero' — write <slot name=\"hero\"/>",
    ),
    (
        "slot name with a space",
        '---\nsubject: Hi\n---\n<slot name="my hero"/>\n',
        "templates/weekly.mjml line 4: slot needs a name of lowercase letters, digits, '-' or "
        "'_', got 'my hero' — write <slot name=\"hero\"/>",
    ),
    (
        "front matter never closed",
        '---\nsubject: Hi\n<slot name="hero"/>\n',
        "templates/weekly.mjml line 1: front matter is never closed — end the front matter with "
        "a line holding only '---'",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [c[1:] for c in LAYOUT_ERROR_CASES],
    ids=[c[0] for c in LAYOUT_ERROR_CASES],
)
def test_layout_errors(tmp_path: Path, text: str, expected: str) -> None:
    assert str(load_error(tmp_path, layouts={"weekly": text})) == expected


def test_no_templates_folder(tmp_path: Path) -> None:
    (tmp_path / "personalize.toml").write_text("")
    with pytest.raises(RegistryError) as caught:
        load_registry(
            tmp_path, templates="layouts", modules="modules", names=(), segments=(), tz=UTC
        )
    assert str(caught.value) == (
        "no layouts/ folder — layouts live in templates/*.mjml; set [project] templates to use "
        "another folder"
    )


def test_an_empty_templates_folder(tmp_path: Path) -> None:
    err = load_error(tmp_path, layouts={})
    assert str(err) == "no layouts in templates/ — add e.g. templates/weekly.mjml"


def test_layout_lookup(tmp_path: Path) -> None:
    registry = load(tmp_path, layouts={"weekly": WEEKLY, "welcome": WEEKLY})
    assert sorted(registry.layouts) == ["weekly", "welcome"]
    with pytest.raises(RegistryError) as caught:
        registry.layout("weekyl")
    assert str(caught.value) == "no layout 'weekyl' — did you mean 'weekly'?"
    with pytest.raises(RegistryError) as caught:
        registry.layout("receipt")
    assert str(caught.value) == "no layout 'receipt' — layouts: weekly, welcome"


def test_slots_of_every_layout_can_be_filled(tmp_path: Path) -> None:
    other = '---\nsubject: Hi\n---\n<slot name="footer"/>\n'
    registry = load(
        tmp_path,
        layouts={"weekly": WEEKLY, "receipt": other},
        modules={"footer/default": module()},
    )
    assert set(registry.by_slot) == {"hero", "offer", "footer"}
    assert [m.id for m in registry.by_slot["footer"]] == ["footer/default"]
    assert [m.id for m in registry.by_slot["hero"]] == ["hero/zz-fallback"]
    assert registry.by_slot["offer"] == ()


# -- modules: ids, slots, targeting ---------------------------------------------------------


def test_module_ids_and_slots_come_from_paths(tmp_path: Path) -> None:
    registry = load(
        tmp_path,
        modules={
            "hero/default": module(),
            "hero/seasonal/black-friday": module("priority: 5"),
            "offer/ten-off": module("segments: [vip]"),
            "banner": module("slot: offer"),
            "misc/hero-too": module("slot: hero"),
        },
    )
    found = {m.id: (m.slot, m.file) for m in registry.modules.values()}
    assert found == {
        "hero/default": ("hero", "modules/hero/default.mjml"),
        "hero/seasonal/black-friday": ("hero", "modules/hero/seasonal/black-friday.mjml"),
        "offer/ten-off": ("offer", "modules/offer/ten-off.mjml"),
        "banner": ("offer", "modules/banner.mjml"),
        "misc/hero-too": ("hero", "modules/misc/hero-too.mjml"),
    }


def test_module_fields(tmp_path: Path) -> None:
    found = one(
        tmp_path,
        """
        slot: hero
        segments: [vip, lapsed]
        exclude: unsubscribed_promo
        when: {cart_items: {gt: 0}}
        priority: 50
        locales: [en, de-AT]
        active: {from: 2026-11-20, until: 2026-12-01}
        subject: "{{ first_name }}, early access"
        preheader: Only this week
        description: VIP early access
        """,
    )
    assert found.id == "hero/a"
    assert found.segments == ("vip", "lapsed")
    assert found.exclude == ("unsubscribed_promo",)
    assert found.when is not None
    assert found.when.refs() == {"cart_items"}
    assert found.priority == 50
    assert found.locales == ("en", "de_AT")
    assert found.active == Active(
        start=datetime(2026, 11, 20, tzinfo=BERLIN),
        end=datetime(2026, 12, 2, tzinfo=BERLIN),
        text="2026-11-20 – 2026-12-01",
    )
    assert (found.subject, found.subject_line) == ("{{ first_name }}, early access", 9)
    assert (found.preheader, found.preheader_line) == ("Only this week", 10)
    assert found.description == "VIP early access"
    assert not found.is_fallback
    assert found.body.origin(1) == ("modules/hero/a.mjml", 13)


def test_a_module_without_front_matter_is_a_fallback(tmp_path: Path) -> None:
    found = one(tmp_path, "")
    assert (found.slot, found.priority, found.segments, found.when, found.active) == (
        "hero",
        0,
        (),
        None,
        None,
    )
    assert found.subject is None
    assert found.is_fallback
    assert found.body.origin(1) == ("modules/hero/a.mjml", 1)


def test_a_byte_order_mark_does_not_hide_front_matter(tmp_path: Path) -> None:
    registry = load(tmp_path, modules={"hero/a": "\ufeff" + module("segments: [vip]\npriority: 3")})
    found = registry.modules["hero/a"]
    assert (found.segments, found.priority) == (("vip",), 3)
    assert "---" not in found.body.text
    assert found.body.origin(1) == ("modules/hero/a.mjml", 5)


FALLBACK_CASES = [
    ("no targeting", "", True),
    ("priority only", "priority: 9", True),
    ("subject only", "subject: Hi", True),
    ("empty segment list", "segments: []", True),
    ("segments", "segments: [vip]", False),
    ("exclude", "exclude: [vip]", False),
    ("when", "when: {tier: Gold}", False),
    ("locales", "locales: [de]", False),
    ("active", "active: {from: 2026-01-01}", False),
]


@pytest.mark.parametrize(
    ("front", "fallback"), [c[1:] for c in FALLBACK_CASES], ids=[c[0] for c in FALLBACK_CASES]
)
def test_is_fallback(tmp_path: Path, front: str, fallback: bool) -> None:
    assert one(tmp_path, front).is_fallback is fallback


MODULE_ERROR_CASES: list[tuple[str, str, str, str]] = [
    (
        "unknown slot with a close match",
        "hero/a",
        "slot: heor",
        "modules/hero/a.mjml line 2: slot: slot 'heor' is not used by any layout — did you mean "
        "'hero'?",
    ),
    (
        "unknown slot from the folder",
        "banner/a",
        "",
        "modules/banner/a.mjml line 1: slot 'banner' is not used by any layout — slots: hero, "
        "offer",
    ),
    (
        "slot that is not text",
        "hero/a",
        "slot: 5",
        "modules/hero/a.mjml line 2: slot: slot 5 is not used by any layout — slots: hero, offer",
    ),
    (
        "no slot at all",
        "top",
        "",
        "modules/top.mjml line 1: module has no slot — put it in modules/<slot>/ or add 'slot: "
        "hero' to its front matter",
    ),
    (
        "misspelt front matter key",
        "hero/a",
        "segments: [vip]\npriorty: 5",
        "modules/hero/a.mjml line 3: priorty: unknown module key 'priorty' — did you mean "
        "'priority'?",
    ),
    (
        "unknown front matter key",
        "hero/a",
        "colour: red",
        "modules/hero/a.mjml line 2: colour: unknown module key 'colour' — known keys: slot, "
        "segments, exclude, when, priority, locales, active, subject, preheader, description, "
        "experiment",
    ),
    (
        "unknown segment in a list",
        "hero/a",
        "segments:\n  - vip\n  - lapsd",
        "modules/hero/a.mjml line 4: segments[1]: unknown segment 'lapsd' — did you mean 'lapsed'?",
    ),
    (
        "unknown segment as text",
        "hero/a",
        "segments: vipp",
        "modules/hero/a.mjml line 2: segments: unknown segment 'vipp' — did you mean 'vip'?",
    ),
    (
        "unknown excluded segment, nothing close",
        "hero/a",
        "exclude: [zzz]",
        "modules/hero/a.mjml line 2: exclude[0]: unknown segment 'zzz' — known segments: lapsed, "
        "unsubscribed_promo, vip",
    ),
    (
        "segments that are not names",
        "hero/a",
        "segments: [1, 2]",
        "modules/hero/a.mjml line 2: segments: segments must be a list of segment names, got "
        "[1, 2]",
    ),
    (
        "segments as a mapping",
        "hero/a",
        "segments: {vip: true}",
        "modules/hero/a.mjml line 2: segments: segments must be a list of segment names, got "
        "{'vip': True}",
    ),
    (
        "priority as text",
        "hero/a",
        'priority: "50"',
        "modules/hero/a.mjml line 2: priority: priority must be a whole number, got '50'",
    ),
    (
        "priority as a fraction",
        "hero/a",
        "priority: 1.5",
        "modules/hero/a.mjml line 2: priority: priority must be a whole number, got 1.5",
    ),
    (
        "priority as a boolean",
        "hero/a",
        "priority: yes",
        "modules/hero/a.mjml line 2: priority: priority must be a whole number, got True",
    ),
    (
        "locales as text",
        "hero/a",
        "locales: de",
        "modules/hero/a.mjml line 2: locales: locales must be a list such as [en, de_AT], got 'de'",
    ),
    (
        "blank locale",
        "hero/a",
        'locales: [en, ""]',
        "modules/hero/a.mjml line 2: locales: locales must be a list such as [en, de_AT], got "
        "['en', '']",
    ),
    (
        "unknown name in when",
        "hero/a",
        "segments: [vip]\nwhen:\n  cart_itmes: {gt: 0}",
        "modules/hero/a.mjml line 3: when: unknown name 'cart_itmes' in when — did you mean "
        "'cart_items'?",
    ),
    (
        "unknown name in a nested when",
        "hero/a",
        "when: {all: [{tier: Gold}, {zzz: 1}]}",
        "modules/hero/a.mjml line 2: when: unknown name 'zzz' in when — use a recipient field, "
        "metric or segment",
    ),
    (
        "malformed when",
        "hero/a",
        "when: [tier]",
        "modules/hero/a.mjml line 2: when: expected a rule such as {tier: Gold}, got a list — "
        "combine rules with {all: [...]} or {any: [...]}",
    ),
    (
        "subject that is not text",
        "hero/a",
        "subject: 5",
        "modules/hero/a.mjml line 2: subject: subject must be text, got 5",
    ),
    (
        "python tag in front matter",
        "hero/a",
        "priority: !!python/object/apply:os.getpid []",
        "modules/hero/a.mjml line 2: unsupported YAML tag "
        "'tag:yaml.org,2002:python/object/apply:os.getpid' — only plain YAML values are allowed "
        "(no !!python or custom tags)",
    ),
    (
        "duplicate key in front matter",
        "hero/a",
        "priority: 1\nsegments: [vip]\npriority: 2",
        "modules/hero/a.mjml line 4: duplicate key 'priority' — 'priority' is already set on "
        "line 2; keep one",
    ),
]


@pytest.mark.parametrize(
    ("module_id", "front", "expected"),
    [c[1:] for c in MODULE_ERROR_CASES],
    ids=[c[0] for c in MODULE_ERROR_CASES],
)
def test_module_errors(tmp_path: Path, module_id: str, front: str, expected: str) -> None:
    err = load_error(tmp_path, modules={module_id: module(front)})
    assert isinstance(err, ConfigError)
    assert str(err) == expected


def test_no_segments_defined(tmp_path: Path) -> None:
    root = make_project(tmp_path, modules={"hero/a": module("segments: [vip]")})
    with pytest.raises(ConfigError) as caught:
        load_registry(root, templates="templates", modules="modules", names=(), segments=(), tz=UTC)
    assert str(caught.value) == (
        "modules/hero/a.mjml line 2: segments[0]: unknown segment 'vip' — no segments are defined"
    )


def test_a_module_that_is_not_utf8(tmp_path: Path) -> None:
    make_project(tmp_path)
    path = tmp_path / "modules" / "hero" / "a.mjml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"---\n---\n<mj-text>caf\xe9</mj-text>")
    with pytest.raises(ConfigError) as caught:
        load_registry(
            tmp_path, templates="templates", modules="modules", names=(), segments=(), tz=UTC
        )
    assert str(caught.value) == (
        "modules/hero/a.mjml line 3: not valid UTF-8 (invalid continuation byte at byte 20) — "
        "save it as a UTF-8 text file"
    )


def test_hidden_files_links_to_nowhere_and_folders_are_not_templates(tmp_path: Path) -> None:
    make_project(tmp_path)
    (tmp_path / "templates" / ".#weekly.mjml").symlink_to("root@host.123:1700000000")  # Emacs
    (tmp_path / "templates" / "drafts.mjml").mkdir()
    (tmp_path / "modules" / "hero" / "old.mjml").mkdir(parents=True)
    (tmp_path / "modules" / ".trash").mkdir()
    (tmp_path / "modules" / ".trash" / "a.mjml").write_text("{{ broken")
    registry = load_registry(
        tmp_path,
        templates="templates",
        modules="modules",
        names=NAMES,
        segments=SEGMENTS,
        tz=BERLIN,
    )
    assert sorted(registry.layouts) == ["weekly"]
    files = [m.file for m in registry.modules.values()]
    assert files
    assert not [f for f in files if f.startswith(("modules/.trash", "modules/hero/old"))]


def test_mjml_files_sorted_and_filtered(tmp_path: Path) -> None:
    (tmp_path / "b.mjml").write_text("")
    (tmp_path / "a.mjml").write_text("")
    (tmp_path / ".a.mjml").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.mjml").write_text("")
    assert [p.name for p in mjml_files(tmp_path)] == ["a.mjml", "b.mjml"]
    assert [p.name for p in mjml_files(tmp_path, recursive=True)] == ["a.mjml", "b.mjml", "c.mjml"]


def test_a_project_without_modules(tmp_path: Path) -> None:
    layout = WEEKLY.replace('<slot name="hero"/>', '<slot name="hero" optional/>')
    registry = load(tmp_path, layouts={"weekly": layout})
    assert dict(registry.modules) == {}
    assert dict(registry.by_slot) == {"hero": (), "offer": ()}


def test_negative_priorities_are_allowed(tmp_path: Path) -> None:
    assert one(tmp_path, "priority: -5").priority == -5


# -- active windows -------------------------------------------------------------------------


def window(tmp_path: Path, active: str) -> Active:
    found = one(tmp_path, f"active: {active}")
    assert found.active is not None
    return found.active


WINDOW_CASES: list[tuple[str, str, datetime | None, datetime | None]] = [
    (
        "dates cover whole days in the project time zone",
        "{from: 2026-11-20, until: 2026-12-01}",
        datetime(2026, 11, 20, tzinfo=BERLIN),
        datetime(2026, 12, 2, tzinfo=BERLIN),
    ),
    (
        "one day",
        "{from: 2026-11-27, until: 2026-11-27}",
        datetime(2026, 11, 27, tzinfo=BERLIN),
        datetime(2026, 11, 28, tzinfo=BERLIN),
    ),
    ("only from", "{from: 2026-11-20}", datetime(2026, 11, 20, tzinfo=BERLIN), None),
    ("only until", "{until: 2026-11-20}", None, datetime(2026, 11, 21, tzinfo=BERLIN)),
    (
        "aware date-times",
        "{from: 2026-11-20T09:00:00+01:00, until: 2026-11-20T18:00:00Z}",
        datetime(2026, 11, 20, 9, tzinfo=timezone(timedelta(hours=1))),
        datetime(2026, 11, 20, 18, tzinfo=UTC),
    ),
    (
        "naive date-times are in the project time zone",
        "{from: 2026-11-20T09:00:00, until: 2026-11-20 18:00}",
        datetime(2026, 11, 20, 9, tzinfo=BERLIN),
        datetime(2026, 11, 20, 18, tzinfo=BERLIN),
    ),
    (
        "quoted dates",
        '{from: "2026-11-20", until: "2026-11-21T12:00:00+00:00"}',
        datetime(2026, 11, 20, tzinfo=BERLIN),
        datetime(2026, 11, 21, 12, tzinfo=UTC),
    ),
    (
        "a day that ends daylight saving time",
        "{until: 2026-10-25}",
        None,
        datetime(2026, 10, 26, tzinfo=BERLIN),
    ),
    # The calendar's last day has no next day to end at: 'until' it means no end at all.
    ("until the calendar's last day", "{until: 9999-12-31}", None, None),
    (
        "the calendar's first and last days",
        "{from: 0001-01-01, until: 9999-12-31}",
        datetime(1, 1, 1, tzinfo=BERLIN),
        None,
    ),
    (
        "a day starting at the calendar's last day",
        "{from: 9999-12-31}",
        datetime(9999, 12, 31, tzinfo=BERLIN),
        None,
    ),
]


@pytest.mark.parametrize(
    ("active", "start", "end"), [c[1:] for c in WINDOW_CASES], ids=[c[0] for c in WINDOW_CASES]
)
def test_active_windows(
    tmp_path: Path, active: str, start: datetime | None, end: datetime | None
) -> None:
    found = window(tmp_path, active)
    assert found.start == start
    assert found.end == end
    for bound in (found.start, found.end):
        # In UTC, where comparing is exact; only a bound UTC cannot hold keeps its own zone.
        assert bound is None or bound.tzinfo is UTC or bound.year == 1


def test_date_bounds_include_the_whole_last_day(tmp_path: Path) -> None:
    active = window(tmp_path, "{from: 2026-11-20, until: 2026-12-01}")
    assert active.text == "2026-11-20 – 2026-12-01"
    inside = [
        datetime(2026, 11, 20, tzinfo=BERLIN),
        datetime(2026, 11, 19, 23, 0, tzinfo=UTC),  # midnight in Berlin
        datetime(2026, 12, 1, 23, 59, 59, tzinfo=BERLIN),
        datetime(2026, 12, 1, 22, 59, tzinfo=UTC),
    ]
    outside = [
        datetime(2026, 11, 19, 23, 59, 59, tzinfo=BERLIN),
        datetime(2026, 11, 19, 22, 59, tzinfo=UTC),
        datetime(2026, 12, 2, tzinfo=BERLIN),
        datetime(2026, 12, 1, 23, 0, tzinfo=UTC),
    ]
    assert [active.contains(now) for now in inside] == [True] * 4
    assert [active.contains(now) for now in outside] == [False] * 4


def test_a_window_until_the_calendars_last_day_never_ends(tmp_path: Path) -> None:
    active = window(tmp_path, "{from: 2026-11-20, until: 9999-12-31}")
    assert active.text == "2026-11-20 – 9999-12-31"
    assert active.contains(datetime(9999, 12, 31, 23, 59, tzinfo=BERLIN))
    assert active.contains(datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=14))))
    assert not active.contains(datetime(2026, 11, 19, 23, tzinfo=UTC) - timedelta(seconds=1))


def test_open_windows() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert Active(None, None, "").contains(now)
    assert Active(now, None, "").contains(now)
    assert not Active(None, now, "").contains(now)
    assert Active(None, now + timedelta(microseconds=1), "").contains(now)


@pytest.mark.parametrize(
    ("now", "shown"),
    [
        (datetime(2026, 11, 30, 23, 30, tzinfo=UTC), "2026-12-01T00:30+01:00"),
        (
            datetime(2026, 11, 26, 18, 30, tzinfo=timezone(timedelta(hours=-5))),
            "2026-11-27T00:30+01:00",
        ),
        (datetime(2026, 11, 28, 9), "2026-11-28T09:00+01:00"),  # naive: the project's clock
        # Berlin's clock is past the calendar's end: shown as given rather than failing.
        (datetime(9999, 12, 31, 23, 30, tzinfo=UTC), "9999-12-31T23:30+00:00"),
    ],
    ids=["utc-after-the-end", "new-york-at-the-start", "naive", "past-the-calendar"],
)
def test_a_window_is_described_in_the_project_zone(now: datetime, shown: str) -> None:
    active = Active(None, None, "2026-11-27 – 2026-11-30")
    assert active.describe(now, BERLIN) == (
        f"active 2026-11-27 – 2026-11-30 (Europe/Berlin), now is {shown}"
    )


ACTIVE_ERROR_CASES = [
    (
        "reversed dates",
        "active: {from: 2026-12-01, until: 2026-11-20}",
        "modules/hero/a.mjml line 2: active: active window ends before it starts — 'until' must "
        "be later than 'from'; a date covers its whole day",
    ),
    (
        "reversed date-times",
        "active:\n  from: 2026-12-01T10:00:00Z\n  until: 2026-12-01T09:00:00Z",
        "modules/hero/a.mjml line 2: active: active window ends before it starts — 'until' must "
        "be later than 'from'; a date covers its whole day",
    ),
    (
        "text that is not a date",
        "active:\n  from: soon",
        "modules/hero/a.mjml line 3: active.from: expected a date such as 2026-11-20, got 'soon'",
    ),
    (
        "a number",
        "active:\n  until: 2026",
        "modules/hero/a.mjml line 3: active.until: expected a date such as 2026-11-20, got 2026",
    ),
    (
        "an unknown bound",
        "active: {from: 2026-11-20, to: 2026-12-01}",
        "modules/hero/a.mjml line 2: active: active must be {from: DATE, until: DATE}, got "
        "{'from': datetime.date(2026, 11, 20), 'to': datetime.date(2… — either bound "
        "may be left out; dates are in the project time zone",
    ),
    (
        "empty",
        "active: {}",
        "modules/hero/a.mjml line 2: active: active must be {from: DATE, until: DATE}, got {} — "
        "either bound may be left out; dates are in the project time zone",
    ),
    # No bound at all is `{}`: not a window that would make a fallback count as targeted.
    (
        "both bounds null",
        "active: {from: null, until: null}",
        "modules/hero/a.mjml line 2: active: active must be {from: DATE, until: DATE}, got "
        "{'from': None, 'until': None} — either bound may be left out; dates are in the "
        "project time zone",
    ),
    (
        "the only bound null",
        "active: {from: null}",
        "modules/hero/a.mjml line 2: active: active must be {from: DATE, until: DATE}, got "
        "{'from': None} — either bound may be left out; dates are in the project time zone",
    ),
    (
        "a single date",
        "active: 2026-11-20",
        "modules/hero/a.mjml line 2: active: active must be {from: DATE, until: DATE}, got "
        "datetime.date(2026, 11, 20) — either bound may be left out; dates are in the project "
        "time zone",
    ),
]


@pytest.mark.parametrize(
    ("front", "expected"),
    [c[1:] for c in ACTIVE_ERROR_CASES],
    ids=[c[0] for c in ACTIVE_ERROR_CASES],
)
def test_active_errors(tmp_path: Path, front: str, expected: str) -> None:
    assert str(load_error(tmp_path, modules={"hero/a": module(front)})) == expected


# -- decision order -------------------------------------------------------------------------


def test_modules_are_indexed_in_decision_order(tmp_path: Path) -> None:
    registry = load(
        tmp_path,
        modules={
            "hero/default": module(),
            "hero/zeta": module("segments: [vip]\npriority: 10"),
            "hero/alpha": module("segments: [lapsed]\npriority: 10"),
            "hero/loud-fallback": module("priority: 10"),
            "hero/top": module("when: {tier: Gold}\npriority: 50"),
            "hero/low": module("segments: [vip]\npriority: -1"),
            "hero/plain": module("locales: [de]"),
            "offer/ten-off": module("segments: [vip]"),
        },
    )
    assert [m.id for m in registry.by_slot["hero"]] == [
        "hero/top",
        "hero/alpha",
        "hero/zeta",
        "hero/loud-fallback",
        "hero/plain",
        "hero/default",
        "hero/low",
    ]
    assert [m.id for m in registry.by_slot["offer"]] == ["offer/ten-off"]


def test_decision_order_key() -> None:
    body = Source.from_text("", file="x")
    targeted = Module(id="hero/b", slot="hero", file="x", body=body, segments=("vip",), priority=1)
    fallback = Module(id="hero/a", slot="hero", file="x", body=body, priority=1)
    assert decision_order(targeted) == (-1, False, "hero/b", True, "hero/b")
    assert decision_order(fallback) == (-1, True, "hero/a", True, "hero/a")
    assert sorted([fallback, targeted], key=decision_order) == [targeted, fallback]
    # Variants of an experiment sort by its name, locale versions first.
    tag = ExperimentTag("e", "b")
    variant = Module(
        id="hero/z",
        slot="hero",
        file="x",
        body=body,
        segments=("vip",),
        priority=1,
        locales=("de",),
        experiment=tag,
    )
    assert decision_order(variant) == (-1, False, "e", False, "hero/z")
    assert sorted([targeted, variant], key=decision_order) == [variant, targeted]


# -- locales --------------------------------------------------------------------------------

LOCALE_CASES = [
    ("language matches a regional locale", ["de"], "de_DE", True),
    ("language matches itself", ["de"], "de", True),
    ("exact regional match", ["de_AT"], "de_AT", True),
    ("region does not match another region", ["de_AT"], "de_DE", False),
    ("regional does not match the bare language", ["de_DE"], "de", False),
    ("other language", ["de"], "en_US", False),
    ("prefix is not a language", ["d"], "de_DE", False),
    ("one of several", ["fr", "de"], "de_CH", True),
    ("script locale", ["zh"], "zh_Hant_TW", True),
    ("nothing wanted", [], "de_DE", False),
]


@pytest.mark.parametrize(
    ("wanted", "locale", "expected"),
    [c[1:] for c in LOCALE_CASES],
    ids=[c[0] for c in LOCALE_CASES],
)
def test_locale_matches(wanted: list[str], locale: str, expected: bool) -> None:
    assert locale_matches(wanted, locale) is expected


def test_layout_and_registry_are_frozen(tmp_path: Path) -> None:
    registry = load(tmp_path)
    layout = registry.layout("weekly")
    with pytest.raises(AttributeError):
        layout.subject = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        registry.layouts = {}  # type: ignore[misc]
    assert isinstance(layout, Layout)


def test_timezone_offsets_in_windows_use_the_given_zone(tmp_path: Path) -> None:
    root = make_project(tmp_path, modules={"hero/a": module("active: {from: 2026-07-01}")})
    tokyo = load_registry(
        root,
        templates="templates",
        modules="modules",
        names=NAMES,
        segments=SEGMENTS,
        tz=ZoneInfo("Asia/Tokyo"),
    )
    active = tokyo.modules["hero/a"].active
    assert active is not None
    assert active.start == datetime(2026, 6, 30, 15, tzinfo=UTC)
    assert active.start is not None
    assert active.start.tzinfo is UTC
    assert date(2026, 7, 1) == active.start.astimezone(ZoneInfo("Asia/Tokyo")).date()


def test_a_required_slot_needs_a_module_for_everyone(tmp_path: Path) -> None:
    make_project(tmp_path, modules={"hero/gold": module("segments: [vip]")}, fallbacks=False)
    with pytest.raises(ConfigError) as caught:
        load_registry(
            tmp_path,
            templates="templates",
            modules="modules",
            names=NAMES,
            segments=SEGMENTS,
            tz=BERLIN,
        )
    assert str(caught.value) == (
        "templates/weekly.mjml line 7: required slot 'hero' has no fallback module (modules: "
        "hero/gold) — add a module without targeting in modules/hero/ to fill it for everyone "
        'else, or mark the slot optional: <slot name="hero" optional/>'
    )


def test_a_locale_limited_module_counts_as_a_fallback_at_load(tmp_path: Path) -> None:
    assert list(load(tmp_path, modules={"hero/de": module("locales: [de]")}).modules) == ["hero/de"]


def test_files_starting_with_an_underscore_are_partials_not_modules(tmp_path: Path) -> None:
    registry = load(tmp_path, modules={"hero/default": BODY, "hero/_shared": BODY})
    assert sorted(registry.modules) == ["hero/default"]


def test_a_null_bound_beside_a_real_one_is_left_out(tmp_path: Path) -> None:
    active = window(tmp_path, "{from: null, until: 2026-12-01}")
    assert (active.start, active.end) == (None, datetime(2026, 12, 1, 23, tzinfo=UTC))
    assert active.text == "… – 2026-12-01"


# -- module locales are written like recipients' ----------------------------------------------

_LOCALE_EXPECTED = "expected a language such as 'de' or a locale such as 'de_AT', got"
_NO_MATCH = "As written it would match no recipient"
LOCALE_ERROR_CASES = [
    (
        "lowercase country",
        "locales: [de_de]",
        f"2: locales[0]: {_LOCALE_EXPECTED} 'de_de' — did you mean 'de_DE'? {_NO_MATCH}",
    ),
    (
        "uppercase language",
        "locales: [DE]",
        f"2: locales[0]: {_LOCALE_EXPECTED} 'DE' — did you mean 'de'? {_NO_MATCH}",
    ),
    (
        "dash and lowercase",
        "locales: [de-at]",
        f"2: locales[0]: {_LOCALE_EXPECTED} 'de-at' — did you mean 'de_AT'? {_NO_MATCH}",
    ),
    (
        "script",
        "locales: [sr-latn]",
        f"2: locales[0]: {_LOCALE_EXPECTED} 'sr-latn' — did you mean 'sr_Latn'? {_NO_MATCH}",
    ),
    (
        "a word",
        "locales: [deutsch]",
        f"2: locales[0]: {_LOCALE_EXPECTED} 'deutsch' — write a "
        "language code, optionally with a country: de, de_AT, pt_BR",
    ),
    (
        "at its own line",
        "locales:\n  - en\n  - en_us",
        f"4: locales[1]: {_LOCALE_EXPECTED} 'en_us' — did you mean 'en_US'? {_NO_MATCH}",
    ),
]


@pytest.mark.parametrize(
    ("front", "expected"),
    [c[1:] for c in LOCALE_ERROR_CASES],
    ids=[c[0] for c in LOCALE_ERROR_CASES],
)
def test_module_locales_are_checked_at_load(tmp_path: Path, front: str, expected: str) -> None:
    error = load_error(tmp_path, modules={"hero/a": module(front)})
    assert isinstance(error, ConfigError)
    assert str(error) == f"modules/hero/a.mjml line {expected}"


def test_module_locales_are_normalized(tmp_path: Path) -> None:
    front = 'locales: [de-DE, sr_Latn, sr-Latn-RS, es_419, " fr "]'
    assert one(tmp_path, front).locales == ("de_DE", "sr_Latn", "sr_Latn_RS", "es_419", "fr")


# -- slots inside comments ----------------------------------------------------------------------

COMMENTED = """\
---
subject: Hi
---
<mjml><mj-body>
  <slot name="hero"/>
  <!-- paused: <slot name="promo" optional/> -->
  <!-- old hero:
  <slot
    name="hero"/> -->
  {# <slot name="jinja" optional/> #}
  <slot name="offer" optional/>
</mj-body></mjml>
"""


def test_a_slot_inside_a_comment_is_no_slot(tmp_path: Path) -> None:
    layout = load(tmp_path, layouts={"weekly": COMMENTED}).layout("weekly")
    # The hero in the comment is neither a second hero nor filled when the real one is.
    assert layout.slots == (
        Slot("hero", True, 5, "templates/weekly.mjml"),
        Slot("offer", False, 11, "templates/weekly.mjml"),
    )
    # The tags in comments are gone, their lines kept: every line keeps its origin.
    assert layout.body.text.splitlines()[1:8] == [
        '  <slot name="hero"/>',
        "  <!-- paused:  -->",
        "  <!-- old hero:",
        "  ",
        " -->",
        "  {#  #}",
        '  <slot name="offer" optional/>',
    ]
    assert layout.body.origin(8) == ("templates/weekly.mjml", 11)


def test_a_module_for_a_commented_out_slot_has_no_slot(tmp_path: Path) -> None:
    error = load_error(
        tmp_path, layouts={"weekly": COMMENTED}, modules={"promo/sale": module(body=BODY)}
    )
    assert str(error) == (
        "modules/promo/sale.mjml line 1: slot 'promo' is not used by any layout — slots: hero, "
        "offer"
    )


def test_a_layout_whose_slots_are_all_commented_out(tmp_path: Path) -> None:
    layout = "---\nsubject: Hi\n---\n<mjml><mj-body><!-- <slot name='hero'/> --></mj-body></mjml>"
    assert str(load_error(tmp_path, layouts={"weekly": layout})) == (
        "templates/weekly.mjml: layout has no slots — mark places for modules with "
        '<slot name="hero"/>'
    )


def test_a_commented_out_slot_renders_as_its_comment(tmp_path: Path) -> None:
    paused = LAYOUT.replace(
        '<slot name="extra" optional/>', '<!-- paused: <slot name="extra" optional/> -->'
    )
    root = make_full_project(tmp_path, layouts={"news": paused}, modules={"hero/default": HERO})
    project = Project.load(root)
    record = {"id": "x", "email": "x@example.com"}
    email = project.render("news", record)
    assert email.decisions == {"hero": "hero/default"}
    assert email.html == project.render_reference("news", record).html


# -- templates and modules folders outside the project ------------------------------------------


def test_folders_outside_the_project(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    shared = make_project(tmp_path / "shared")
    root = tmp_path / "project"
    root.mkdir()
    registry = load_registry(
        root,
        templates=str(shared / "templates"),
        modules="../shared/modules",
        names=NAMES,
        segments=SEGMENTS,
        tz=BERLIN,
    )
    # Named as found: a folder outside the project has no path relative to it.
    assert registry.layout("weekly").file == (shared / "templates" / "weekly.mjml").as_posix()
    assert registry.modules["hero/zz-fallback"].file == "../shared/modules/hero/zz-fallback.mjml"


def test_an_absolute_folder_inside_the_project_is_named_relative_to_it(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    registry = load_registry(
        root,
        templates=str(root / "templates"),
        modules=str(root / "modules"),
        names=NAMES,
        segments=SEGMENTS,
        tz=BERLIN,
    )
    assert registry.layout("weekly").file == "templates/weekly.mjml"
    assert registry.modules["hero/zz-fallback"].file == "modules/hero/zz-fallback.mjml"


def test_a_module_outside_the_project_includes_only_files_inside_it(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "hero").mkdir(parents=True)
    (shared / "hero" / "_sign.mjml").write_text(BODY, encoding="utf-8")
    (tmp_path / "project").mkdir()
    root = make_project(tmp_path / "project")
    (root / "partials").mkdir()
    (root / "partials" / "sign.mjml").write_text(BODY, encoding="utf-8")
    inside = '<mj-include path="../../project/partials/sign.mjml"/>'
    (shared / "hero" / "ok.mjml").write_text(inside, encoding="utf-8")
    kwargs = {"names": NAMES, "segments": SEGMENTS, "tz": BERLIN}
    registry = load_registry(root, templates="templates", modules=str(shared), **kwargs)
    assert registry.modules["hero/ok"].body.origin(1) == ("partials/sign.mjml", 1)
    # The include rule stays: no file outside the project, not even beside such a module.
    (shared / "hero" / "next.mjml").write_text('<mj-include path="_sign.mjml"/>', encoding="utf-8")
    with pytest.raises(RegistryError) as caught:
        load_registry(root, templates="templates", modules=str(shared), **kwargs)
    assert str(caught.value) == (
        f"{shared.as_posix()}/hero/next.mjml line 1: mj-include path '_sign.mjml' leaves the "
        "project — include files from inside the project folder"
    )


# -- folders that cannot be read --------------------------------------------------------------

UNREADABLE = (
    "cannot read the folder: Permission denied — check its permissions: personalize lists it "
    "to find the .mjml files in it"
)


def deny(monkeypatch: pytest.MonkeyPatch, *folders: Path) -> None:
    """Make listing ``folders`` fail as it does for a user without read permission."""
    scandir = os.scandir

    def refuse(path: Any = ".") -> Any:
        if Path(os.fsdecode(path)) in folders:
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refuse)


def offer_project(tmp_path: Path) -> Path:
    """A project whose required offer slot has its only fallback in modules/offer/."""
    footer = (
        '<slot name="offer"/>\n<mj-section><mj-column><mj-text>{% if links %}<a href="'
        '{{ links.unsubscribe | url }}">Unsubscribe</a>{% endif %}</mj-text></mj-column>'
        "</mj-section>"
    )
    layout = LAYOUT.replace('<slot name="extra" optional/>', footer)
    offer = "<mj-section><mj-column><mj-text>10% off</mj-text></mj-column></mj-section>\n"
    return make_full_project(
        tmp_path / "shop",
        layouts={"weekly": layout},
        modules={"hero/default": HERO, "offer/default": offer},
    )


@pytest.mark.parametrize(
    ("folder", "recursive"), [("templates", False), ("modules/hero", True)], ids=str
)
def test_a_folder_that_cannot_be_listed_is_a_located_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str, recursive: bool
) -> None:
    root = make_project(tmp_path, modules={"hero/a": BODY})
    deny(monkeypatch, root / folder)
    top = root / folder.split("/")[0]
    with pytest.raises(ConfigError) as caught:
        mjml_files(top, recursive=recursive, root=root)
    assert str(caught.value) == f"{folder}/: {UNREADABLE}"
    kwargs = {"names": NAMES, "segments": SEGMENTS, "tz": BERLIN}
    with pytest.raises(ConfigError) as caught:
        load_registry(root, templates="templates", modules="modules", **kwargs)
    assert str(caught.value) == f"{folder}/: {UNREADABLE}"


def test_a_hidden_folder_that_cannot_be_listed_is_not_looked_into(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path, modules={"hero/a": BODY, ".trash/hero/b": BODY})
    deny(monkeypatch, root / "modules" / ".trash")
    assert [p.name for p in mjml_files(root / "modules", recursive=True)] == ["a.mjml"]


def test_a_missing_folder_has_no_files(tmp_path: Path) -> None:
    assert mjml_files(tmp_path / "nowhere", recursive=True) == []
    (tmp_path / "file").write_text("", encoding="utf-8")
    assert mjml_files(tmp_path / "file") == []


@pytest.mark.parametrize("folder", ["modules/offer", "templates", "modules/hero/b"])
def test_lint_reports_an_unreadable_folder_and_nothing_it_causes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str
) -> None:
    root = offer_project(tmp_path)
    for variant in ("a", "b"):  # the variants of an experiment, b in a folder of its own
        path = root / "modules" / "hero" / variant / "story.mjml"
        path.parent.mkdir(parents=True)
        front = f"segments: [gold]\nexperiment: {{name: story, variant: {variant}}}"
        path.write_text(module(front), encoding="utf-8")
    assert lint_project(root).findings == ()
    deny(monkeypatch, root / folder)
    # Not "no problems" (modules/offer/), nor "no layouts in templates/" and "slot … is not
    # used by any layout" for every module (templates/), nor a missing fallback for offer, nor
    # an experiment with one variant (modules/hero/b/).
    assert [str(f) for f in lint_project(root).findings] == [f"{folder}/: L001 error: {UNREADABLE}"]
    with pytest.raises(ConfigError) as caught:
        Project.load(root)
    assert str(caught.value) == f"{folder}/: {UNREADABLE}"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
@pytest.mark.parametrize(
    ("folder", "mode"), [("modules/offer", 0), ("modules/hero", 0o600), ("templates", 0)]
)
def test_unreadable_folders_in_a_real_run(tmp_path: Path, folder: str, mode: int) -> None:
    if os.geteuid() != 0:
        command = [sys.executable, "-m", "personalize"]
    elif shutil.which("setpriv"):  # root reads anything: drop that, as for a normal user
        caps = "-dac_override,-dac_read_search"
        command = ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}"]
        command += [sys.executable, "-m", "personalize"]
    else:
        pytest.skip("running as root without setpriv: permissions do not apply")
    root = offer_project(tmp_path)
    (root / folder).chmod(mode)  # 0o600: listed, but the files in it cannot be opened
    try:
        render = [*command, "--project", str(root), "render", "weekly", "-r", "ann"]
        done = subprocess.run(render, capture_output=True, text=True)
        assert (done.returncode, done.stderr) == (1, f"error: {folder}/: {UNREADABLE}\n")
        lint = [*command, "--project", str(root), "lint", "--format", "json"]
        done = subprocess.run(lint, capture_output=True, text=True)
        findings = json.loads(done.stdout)["findings"]
        assert (done.returncode, [(f["file"], f["code"]) for f in findings]) == (
            1,
            [(f"{folder}/", "L001")],
        )
    finally:
        (root / folder).chmod(0o755)


def test_a_slot_in_an_included_partial_is_placed_in_the_partial(tmp_path: Path) -> None:
    layout = (
        '---\nsubject: "Hi"\n---\n<mjml><mj-body>\n<mj-include path="parts/_slots.mjml"/>\n'
        "</mj-body></mjml>\n"
    )
    make_project(
        tmp_path,
        layouts={"weekly": layout},
        modules={"hero/gold": module("segments: [vip]")},
        fallbacks=False,
    )
    (tmp_path / "templates" / "parts").mkdir()
    (tmp_path / "templates" / "parts" / "_slots.mjml").write_text(
        '<mj-raw></mj-raw>\n<slot name="hero"/>\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_registry(
            tmp_path,
            templates="templates",
            modules="modules",
            names=NAMES,
            segments=SEGMENTS,
            tz=BERLIN,
        )
    assert str(caught.value).startswith(
        "templates/parts/_slots.mjml line 2: required slot 'hero' has no fallback module"
    )
