"""Tests for the decision matrix: which module fills each slot, why, and the explanation."""

from __future__ import annotations

import json
import random
import re
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from personalize.decide import (
    EXCLUDED,
    INACTIVE,
    LOST_PRIORITY,
    NOT_TARGETED,
    RULE_FAILED,
    WON,
    WRONG_LOCALE,
    Candidate,
    Decision,
    Decisions,
    Explanation,
    RecipientScope,
    decide,
)
from personalize.errors import DecisionError, RuleError
from personalize.includes import Source
from personalize.project import Project
from personalize.registry import Active, Layout, Module, Registry, Slot, decision_order
from personalize.rules import MISSING, Rule, TraceEntry, parse_rule
from personalize.segments import Membership
from personalize.yamlfile import Document

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 20, 9, tzinfo=BERLIN)
BODY = "<mj-section><mj-column><mj-text>{{ tier }}</mj-text></mj-column></mj-section>\n"

SETTINGS = """\
[project]
timezone = "Europe/Berlin"
locale = "en_US"

[recipient.fields]
tier = {type = "str", default = "Bronze"}
cart_items = {type = "int", default = 0}
unsubscribed = {type = "bool", default = false}
orders = {type = "list[order]", default = []}

[recipient.types.order]
at = "datetime"
total = "decimal"
"""
SEGMENTS = """\
metrics:
  orders_30d: {count: orders, within: 30d, at: at}
segments:
  vip: {when: {tier: Gold}}
  loyal: {when: {orders_30d: {gte: 3}}}
  unsubscribed_promo: {when: {unsubscribed: true}}
"""
WEEKLY = """\
---
subject: "Hi"
---
<mjml><mj-body>
<slot name="hero"/>
<slot name="offer" optional/>
<slot name="footer"/>
</mj-body></mjml>
"""
PROMO = """\
---
subject: "Only for you"
---
<mjml><mj-body>
<slot name="banner"/>
</mj-body></mjml>
"""
MODULES = {
    "hero/default": "",
    "hero/vip": "segments: [vip]\npriority: 50",
    "hero/loyal": "segments: [loyal]\npriority: 40",
    "hero/cart": "when: {cart_items: {gt: 0}}\nexclude: [unsubscribed_promo]\npriority: 60",
    "hero/german": "locales: [de]\npriority: 70",
    "hero/black-friday": "active: {from: 2026-11-27, until: 2026-11-30}\npriority: 80",
    "offer/vip-discount": "segments: [vip, loyal]\nexclude: [unsubscribed_promo]\npriority: 10",
    "footer/default": "",
    "banner/vip-only": "segments: [vip]",
    "banner/german": "locales: [de]",
}


def module_text(front: str) -> str:
    return f"---\n{front}\n---\n{BODY}" if front else BODY


def write_project(
    root: Path,
    *,
    modules: dict[str, str] = MODULES,
    layouts: dict[str, str] | None = None,
) -> Path:
    """A project folder: settings, segments, layouts and modules (front matter per id)."""
    (root / "personalize.toml").write_text(SETTINGS, encoding="utf-8")
    (root / "segments.yaml").write_text(SEGMENTS, encoding="utf-8")
    (root / "templates").mkdir()
    for name, text in (layouts or {"weekly": WEEKLY, "promo": PROMO}).items():
        (root / "templates" / f"{name}.mjml").write_text(text, encoding="utf-8")
    for module_id, front in modules.items():
        path = root / "modules" / f"{module_id}.mjml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(module_text(front), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return Project.load(write_project(tmp_path_factory.mktemp("shop")))


def orders(count: int) -> list[dict[str, Any]]:
    return [{"at": (NOW - timedelta(days=i + 1)).isoformat(), "total": 20} for i in range(count)]


# -- end to end through Project --------------------------------------------------------------

DECIDE_CASES: list[tuple[str, dict[str, Any], dict[str, str | None]]] = [
    (
        "nobody special gets the fallbacks",
        {},
        {"hero": "hero/default", "offer": None, "footer": "footer/default"},
    ),
    (
        "a targeted segment wins over the fallback",
        {"tier": "Gold"},
        {"hero": "hero/vip", "offer": "offer/vip-discount", "footer": "footer/default"},
    ),
    (
        "any of the targeted segments is enough",
        {"orders": orders(3)},
        {"hero": "hero/loyal", "offer": "offer/vip-discount", "footer": "footer/default"},
    ),
    (
        "the highest priority wins",
        {"tier": "Gold", "orders": orders(3)},
        {"hero": "hero/vip", "offer": "offer/vip-discount", "footer": "footer/default"},
    ),
    (
        "a when rule that holds",
        {"tier": "Gold", "cart_items": 2},
        {"hero": "hero/cart", "offer": "offer/vip-discount", "footer": "footer/default"},
    ),
    (
        "an excluded segment removes a module",
        {"tier": "Gold", "cart_items": 2, "unsubscribed": True},
        {"hero": "hero/vip", "offer": None, "footer": "footer/default"},
    ),
    (
        "de matches de_DE",
        {"locale": "de_DE", "tier": "Gold"},
        {"hero": "hero/german", "offer": "offer/vip-discount", "footer": "footer/default"},
    ),
    (
        "de matches de-AT",
        {"locale": "de-AT"},
        {"hero": "hero/german", "offer": None, "footer": "footer/default"},
    ),
    (
        "de does not match en_US",
        {"locale": "en_US"},
        {"hero": "hero/default", "offer": None, "footer": "footer/default"},
    ),
    (
        "de does not match da_DK",
        {"locale": "da_DK"},
        {"hero": "hero/default", "offer": None, "footer": "footer/default"},
    ),
]


@pytest.mark.parametrize(
    ("fields", "expected"), [c[1:] for c in DECIDE_CASES], ids=[c[0] for c in DECIDE_CASES]
)
def test_decisions(
    project: Project, fields: dict[str, Any], expected: dict[str, str | None]
) -> None:
    decisions = project.decide("weekly", {"id": "ann", **fields}, now=NOW)
    assert decisions.layout == "weekly"
    assert decisions.as_dict() == expected


WINDOW_CASES = [
    (
        "the day before, one second to midnight",
        datetime(2026, 11, 26, 23, 59, 59, tzinfo=BERLIN),
        False,
    ),
    ("the first day at midnight", datetime(2026, 11, 27, tzinfo=BERLIN), True),
    ("the first day, given in UTC", datetime(2026, 11, 26, 23, 30, tzinfo=UTC), True),
    ("the last day, late", datetime(2026, 11, 30, 23, 59, 59, tzinfo=BERLIN), True),
    ("the day after at midnight", datetime(2026, 12, 1, tzinfo=BERLIN), False),
    ("the day after, given in UTC", datetime(2026, 11, 30, 23, 0, tzinfo=UTC), False),
    ("a naive moment is read in the project zone", datetime(2026, 11, 27, 0, 30), True),
    ("a naive moment the evening before", datetime(2026, 11, 26, 23, 30), False),
]


@pytest.mark.parametrize(
    ("now", "active"), [c[1:] for c in WINDOW_CASES], ids=[c[0] for c in WINDOW_CASES]
)
def test_active_window_edges(project: Project, now: datetime, active: bool) -> None:
    hero = project.decide("weekly", {"id": "ann"}, now=now).as_dict()["hero"]
    assert hero == ("hero/black-friday" if active else "hero/default")


def test_an_optional_slot_may_stay_empty(project: Project) -> None:
    decisions = project.decide("weekly", {"id": "ann"}, now=NOW)
    offer = decisions.items[1]
    assert offer == Decision("offer", None, False, "optional slot, no eligible module", ())
    assert decisions.modules == (
        ("hero", "hero/default"),
        ("offer", None),
        ("footer", "footer/default"),
    )
    assert [d.slot for d in decisions] == ["hero", "offer", "footer"]


REQUIRED_HINT = (
    "add a fallback module without targeting in modules/{slot}/, or mark the slot optional: "
    '<slot name="{slot}" optional/>'
)


def test_a_required_slot_without_an_eligible_module(project: Project) -> None:
    with pytest.raises(DecisionError) as caught:
        project.decide("promo", {"id": "ann"}, now=NOW)
    message = (
        "no module can fill required slot 'banner' (candidates: banner/german: wrong locale, "
        "banner/vip-only: not in a targeted segment)"
    )
    # The module without targeting exists, limited to German: "add a fallback" would mislead.
    hint = (
        "no module without targeting serves this recipient (banner/german is for locales de, "
        "not en_US): add one without locales or active in modules/banner/, or mark the slot "
        'optional: <slot name="banner" optional/>'
    )
    assert str(caught.value) == (f"templates/promo.mjml line 5 (recipient ann): {message} — {hint}")
    assert caught.value.to_dict() == {
        "type": "DecisionError",
        "message": message,
        "file": "templates/promo.mjml",
        "line": 5,
        "recipient": "ann",
        "path": None,
        "hint": hint,
    }


def test_the_same_slot_is_filled_where_its_locale_module_applies(project: Project) -> None:
    decisions = project.decide("promo", {"id": "jan", "locale": "de_DE"}, now=NOW)
    assert decisions.as_dict() == {"banner": "banner/german"}


def test_decisions_are_deterministic(tmp_path: Path, project: Project) -> None:
    again = Project.load(write_project(tmp_path))
    people = [
        {
            "id": f"r{i}",
            "tier": tier,
            "cart_items": i % 3,
            "locale": locale,
            "orders": orders(i % 5),
        }
        for i, (tier, locale) in enumerate(
            [(t, loc) for t in ("Bronze", "Gold") for loc in ("en_US", "de_DE")] * 3
        )
    ]
    first = [project.decide("weekly", p, now=NOW) for p in people]
    assert [again.decide("weekly", p, now=NOW) for p in people] == first
    assert [project.decide("weekly", p, now=NOW) for p in reversed(people)] == first[::-1]


def test_a_rule_error_names_the_recipient(tmp_path: Path) -> None:
    modules = {**MODULES, "hero/odd": "when: {tier: {gt: 5}}\npriority: 5"}
    odd = Project.load(write_project(tmp_path, modules=modules))
    with pytest.raises(RuleError) as caught:
        odd.decide("weekly", {"id": "ann"}, now=NOW)
    assert caught.value.file == "modules/hero/odd.mjml"
    assert caught.value.line == 2
    assert caught.value.recipient == "ann"
    assert str(caught.value).startswith("modules/hero/odd.mjml line 2 (recipient ann): tier: ")


# -- explain ----------------------------------------------------------------------------------


def candidates(explanation: Explanation, slot: str) -> list[tuple[str, int, str, str]]:
    decision = next(d for d in explanation.decisions if d.slot == slot)
    return [(c.module, c.priority, c.outcome, c.detail) for c in decision.candidates]


def test_explain_every_losing_reason(project: Project) -> None:
    explanation = project.explain("weekly", {"id": "ann", "tier": "Silver"}, now=NOW)
    assert candidates(explanation, "hero") == [
        (
            "hero/black-friday",
            80,
            INACTIVE,
            "active 2026-11-27 – 2026-11-30 (Europe/Berlin), now is 2026-11-20T09:00+01:00",
        ),
        ("hero/german", 70, WRONG_LOCALE, "for locales de; recipient is en_US"),
        ("hero/cart", 60, RULE_FAILED, "when: cart_items > 0 — failed: cart_items > 0 (saw 0)"),
        (
            "hero/vip",
            50,
            NOT_TARGETED,
            "targets vip; recipient is in none of them — failed: tier = Gold (saw 'Silver')",
        ),
        (
            "hero/loyal",
            40,
            NOT_TARGETED,
            "targets loyal; recipient is in none of them — failed: orders_30d >= 3 (saw 0)",
        ),
        ("hero/default", 0, WON, "fallback"),
    ]
    assert candidates(explanation, "offer") == [
        (
            "offer/vip-discount",
            10,
            NOT_TARGETED,
            "targets vip, loyal; recipient is in none of them — failed: tier = Gold (saw "
            "'Silver'); orders_30d >= 3 (saw 0)",
        )
    ]


def test_explain_keeps_the_failed_conditions_as_data(project: Project) -> None:
    explanation = project.explain("weekly", {"id": "ann", "tier": "Silver"}, now=NOW)
    hero = explanation.decisions.items[0].candidates
    by_id = {c.module: c for c in hero}
    assert by_id["hero/cart"].failed == (TraceEntry("when", "cart_items > 0", 0, False),)
    assert by_id["hero/vip"].failed == (
        TraceEntry("segments.vip.when", "tier = Gold", "Silver", False),
    )
    assert by_id["hero/default"].failed == ()


def test_explain_winner_losers_and_exclusions(project: Project) -> None:
    record = {"id": "ann", "tier": "Gold", "unsubscribed": True, "orders": orders(3)}
    explanation = project.explain("weekly", record, now=NOW)
    assert candidates(explanation, "hero")[2:] == [
        ("hero/cart", 60, EXCLUDED, "recipient is in excluded segment 'unsubscribed_promo'"),
        ("hero/vip", 50, WON, "eligible with the highest priority (50)"),
        ("hero/loyal", 40, LOST_PRIORITY, "eligible, but hero/vip (priority 50) ranks first"),
        ("hero/default", 0, LOST_PRIORITY, "eligible, but hero/vip (priority 50) ranks first"),
    ]
    assert explanation.decisions.as_dict()["hero"] == "hero/vip"
    assert explanation.decisions.items[0].reason == "priority 50"
    assert explanation.segments == ("vip", "loyal", "unsubscribed_promo")
    assert dict(explanation.metrics) == {"orders_30d": 3}


def test_a_blank_field_takes_its_default_before_rules_run(tmp_path: Path) -> None:
    modules = {
        "hero/default": "",
        "footer/default": "",
        "hero/named": "when: {tier: {exists: true}}",
    }
    p = Project.load(write_project(tmp_path, modules=modules, layouts={"weekly": WEEKLY}))
    explanation = p.explain("weekly", {"id": "ann", "tier": " "}, now=NOW)
    # A blank tier takes the declared default, so the rule sees "Bronze" and holds.
    assert candidates(explanation, "hero")[0][:3] == ("hero/named", 0, WON)


def test_explain_and_decide_agree(project: Project) -> None:
    for fields in ({}, {"tier": "Gold"}, {"cart_items": 1}, {"locale": "de_CH"}):
        record = {"id": "ann", **fields}
        explained = project.explain("weekly", record, now=NOW).decisions
        assert explained.as_dict() == project.decide("weekly", record, now=NOW).as_dict()


def test_str_of_an_explanation(project: Project) -> None:
    record = {"id": "ann", "tier": "Gold", "unsubscribed": True}
    text = str(project.explain("weekly", record, now=NOW))
    assert text == textwrap.dedent(
        """\
        weekly for recipient ann (locale en_US, now 2026-11-20T09:00+01:00)
        segments: vip, unsubscribed_promo
        values: orders_30d=0

        hero: hero/vip — priority 50
          ✗ hero/black-friday [priority 80] outside its date window: active 2026-11-27 – 2026-11-30 (Europe/Berlin), now is 2026-11-20T09:00+01:00
          ✗ hero/german [priority 70] wrong locale: for locales de; recipient is en_US
          ✗ hero/cart [priority 60] excluded: recipient is in excluded segment 'unsubscribed_promo'
          ✓ hero/vip [priority 50] won: eligible with the highest priority (50)
          ✗ hero/loyal [priority 40] not in a targeted segment: targets loyal; recipient is in none of them — failed: orders_30d >= 3 (saw 0)
          ✗ hero/default [priority 0] lost on priority: eligible, but hero/vip (priority 50) ranks first

        offer: (empty) — optional slot, no eligible module
          ✗ offer/vip-discount [priority 10] excluded: recipient is in excluded segment 'unsubscribed_promo'

        footer: footer/default — fallback
          ✓ footer/default [priority 0] won: fallback"""  # noqa: E501
    )


TIES = {
    "hero/default": "",
    "hero/plain": "",
    "hero/story-a": "experiment: {name: a-story, variant: a}",
    "hero/story-b": "experiment: {name: a-story, variant: b}",
    "hero/vip": "segments: [vip]\npriority: 50",
    "hero/vip2": "segments: [vip]\npriority: 50",
    "hero/zz-loyal": "segments: [loyal]",
    "footer/default": "",
}


@pytest.mark.parametrize(
    ("record", "loser", "detail"),
    [
        (
            {"tier": "Gold"},
            "hero/vip2",
            "eligible, but tied at priority 50 with hero/vip, which wins the tie-break: its id "
            "hero/vip sorts before the id hero/vip2",
        ),
        (
            {"orders": orders(3)},
            "hero/default",
            "eligible, but tied at priority 0 with hero/zz-loyal, which wins the tie-break: a "
            "targeted module ranks before a fallback",
        ),
        (
            {},
            "hero/default",
            "eligible, but tied at priority 0 with hero/story-{arm}, which wins the tie-break: its "
            "experiment name a-story sorts before the id hero/default",
        ),
        (
            {"tier": "Gold"},
            "hero/default",
            "eligible, but hero/vip (priority 50) ranks first",
        ),
    ],
    ids=["by-id", "targeted-before-fallback", "by-experiment-name", "by-priority"],
)
def test_a_tie_on_priority_says_what_broke_it(
    tmp_path: Path, record: dict[str, Any], loser: str, detail: str
) -> None:
    ties = Project.load(write_project(tmp_path, modules=TIES, layouts={"weekly": WEEKLY}))
    explanation = ties.explain("weekly", {"id": "ann", **record}, now=NOW)
    arm = explanation.decisions.experiments.get("a-story", "")
    found = {c[0]: c[2:] for c in candidates(explanation, "hero")}
    assert found[loser] == (LOST_PRIORITY, detail.format(arm=arm))


def test_a_window_names_the_project_zone_and_shows_now_in_it(project: Project) -> None:
    """23:30 UTC on the 30th is past the window's last day in Berlin: the reason says so."""
    now = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    explanation = project.explain("weekly", {"id": "ann"}, now=now)
    assert candidates(explanation, "hero")[0] == (
        "hero/black-friday",
        80,
        INACTIVE,
        "active 2026-11-27 – 2026-11-30 (Europe/Berlin), now is 2026-12-01T00:30+01:00",
    )


DAYS_AGO = r"(ordered|order|last|bought \w+|signed up) (\d+) days ago"


def test_the_kit_persona_notes_match_what_explain_shows() -> None:
    """A note's "N days ago" is the metric explain prints (whole days); its segments are real."""
    root = Path(__file__).resolve().parents[1]
    kit = Project.load(root)
    lines = (root / "personas.jsonl").read_text(encoding="utf-8").splitlines()
    notes = {record["id"]: record["persona"] for record in map(json.loads, lines)}
    checked = 0
    for rid, note in notes.items():
        metrics = kit.explain("weekly", kit.personas[rid]).metrics
        for verb, days in re.findall(DAYS_AGO, note):
            metric = "days_since_signup" if verb == "signed up" else "days_since_order"
            assert (rid, metrics[metric]) == (rid, int(days)), note
            checked += 1
    assert checked >= 10
    assert "potential_loyalist" in notes["bronze-ben"]
    assert kit.explain("weekly", kit.personas["bronze-ben"]).segments == ("potential_loyalist",)


def test_str_of_an_explanation_without_segments_or_metrics() -> None:
    decisions = Decisions(
        "weekly", (Decision("hero", None, False, "optional slot, no eligible module"),)
    )
    explanation = Explanation(
        layout="weekly",
        recipient="r1",
        now=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        locale="de_DE",
        segments=(),
        metrics={},
        decisions=decisions,
    )
    assert str(explanation) == (
        "weekly for recipient r1 (locale de_DE, now 2026-01-02T03:04+00:00)\n"
        "segments: none\n"
        "\n"
        "hero: (empty) — optional slot, no eligible module"
    )


# -- decide() on hand-built registries --------------------------------------------------------


def mod(module_id: str, **targeting: Any) -> Module:
    slot = module_id.split("/")[0]
    file = f"modules/{module_id}.mjml"
    return Module(
        id=module_id, slot=slot, file=file, body=Source.from_text(BODY, file=file), **targeting
    )


def rule(data: Any, *, file: str = "modules/hero/x.mjml") -> Rule:
    return parse_rule(data, doc=Document({"when": data}, file, {("when",): 2}), path=("when",))


def registry_of(
    *modules: Module, slots: tuple[Slot, ...] = (Slot("hero", True, 5, "templates/weekly.mjml"),)
) -> Registry:
    body = Source.from_text("<mjml/>", file="templates/weekly.mjml")
    layout = Layout("weekly", "templates/weekly.mjml", body, slots, "Hi", 2)
    by_slot = {
        slot.name: tuple(sorted((m for m in modules if m.slot == slot.name), key=decision_order))
        for slot in slots
    }
    return Registry({"weekly": layout}, {m.id: m for m in modules}, MappingProxyType(by_slot))


def run(
    registry: Registry,
    *,
    segments: frozenset[str] = frozenset(),
    data: dict[str, Any] | None = None,
    locale: str = "en_US",
    now: datetime = NOW,
    explain: bool = False,
    known: tuple[str, ...] = ("vip", "lapsed", "unsubscribed"),
) -> Decisions:
    membership = Membership(segments, MappingProxyType({}), MappingProxyType({}))
    scope = RecipientScope(data or {}, membership, segments=known, now=now, tz=BERLIN)
    return decide(
        registry.layout("weekly"),
        registry,
        membership=membership,
        scope=scope,
        locale=locale,
        recipient="r1",
        explain=explain,
    )


def test_equal_priorities_are_broken_by_id() -> None:
    modules = [mod(f"hero/{name}", segments=("vip",), priority=5) for name in ("c", "a", "b")]
    for _ in range(5):
        random.shuffle(modules)
        assert run(registry_of(*modules), segments=frozenset({"vip"})).as_dict() == {
            "hero": "hero/a"
        }


def test_a_targeted_module_beats_a_fallback_of_equal_priority() -> None:
    registry = registry_of(
        mod("hero/a-fallback", priority=5), mod("hero/z", when=rule({"vip": True}), priority=5)
    )
    assert run(registry, segments=frozenset({"vip"})).as_dict() == {"hero": "hero/z"}
    assert run(registry).as_dict() == {"hero": "hero/a-fallback"}


def test_a_fallback_with_a_higher_priority_wins() -> None:
    registry = registry_of(
        mod("hero/loud", priority=9), mod("hero/vip", segments=("vip",), priority=1)
    )
    decisions = run(registry, segments=frozenset({"vip"}))
    assert decisions.items[0] == Decision("hero", "hero/loud", True, "fallback", ())


def test_when_rules_see_fields_segments_and_nested_paths() -> None:
    registry = registry_of(
        mod("hero/city", when=rule({"address.city": "Berlin"}), priority=3),
        mod("hero/vip", when=rule({"vip": True}), priority=2),
        mod("hero/default"),
    )
    assert run(registry, data={"address": {"city": "Berlin"}}).as_dict() == {"hero": "hero/city"}
    assert run(registry, segments=frozenset({"vip"})).as_dict() == {"hero": "hero/vip"}
    assert run(registry, data={"address": "Berlin"}).as_dict() == {"hero": "hero/default"}


def test_scope_lookup() -> None:
    membership = Membership(
        frozenset({"vip"}), MappingProxyType({"orders_30d": 4}), MappingProxyType({})
    )
    scope = RecipientScope(
        {"tier": "Gold", "links": {"shop": "https://x"}, "vip": "shadowed"},
        membership,
        segments=("vip", "lapsed"),
        now=NOW,
        tz=BERLIN,
    )
    assert scope.lookup("orders_30d") == 4
    assert scope.lookup("vip") is True
    assert scope.lookup("lapsed") is False
    assert scope.lookup("tier") == "Gold"
    assert scope.lookup("links.shop") == "https://x"
    assert scope.lookup("links.nope") is MISSING
    assert scope.lookup("tier.x") is MISSING
    assert (scope.now, scope.tz) == (NOW, BERLIN)


def test_locales_on_hand_built_modules() -> None:
    registry = registry_of(
        mod("hero/de", locales=("de",), priority=1),
        mod("hero/at", locales=("de_AT",), priority=2),
        mod("hero/default"),
    )
    assert run(registry, locale="de_DE").as_dict() == {"hero": "hero/de"}
    assert run(registry, locale="de_AT").as_dict() == {"hero": "hero/at"}
    assert run(registry, locale="de").as_dict() == {"hero": "hero/de"}
    assert run(registry, locale="en_GB").as_dict() == {"hero": "hero/default"}


def test_window_end_is_exclusive_and_start_inclusive() -> None:
    start, end = NOW, NOW + timedelta(hours=1)
    registry = registry_of(
        mod("hero/sale", active=Active(start, end, "x"), priority=1), mod("hero/default")
    )
    assert run(registry, now=start).as_dict() == {"hero": "hero/sale"}
    assert run(registry, now=end - timedelta(microseconds=1)).as_dict() == {"hero": "hero/sale"}
    assert run(registry, now=end).as_dict() == {"hero": "hero/default"}
    assert run(registry, now=start.replace(tzinfo=None)).as_dict() == {"hero": "hero/sale"}


def test_eligibility_checks_run_in_order() -> None:
    # A module failing several checks reports the first: window, locale, exclude, segments, when.
    everything = mod(
        "hero/picky",
        active=Active(NOW + timedelta(days=1), None, "tomorrow – …"),
        locales=("fr",),
        exclude=("unsubscribed",),
        segments=("vip",),
        when=rule({"tier": "Gold"}),
    )
    explained = run(
        registry_of(everything, mod("hero/default")),
        segments=frozenset({"unsubscribed"}),
        explain=True,
    )
    assert explained.items[0].candidates[0].outcome == INACTIVE
    no_window = mod("hero/picky", locales=("fr",), exclude=("unsubscribed",), segments=("vip",))
    explained = run(
        registry_of(no_window, mod("hero/default")),
        segments=frozenset({"unsubscribed"}),
        explain=True,
    )
    assert explained.items[0].candidates[0].outcome == WRONG_LOCALE
    only_exclude = mod("hero/picky", exclude=("unsubscribed",), segments=("vip",))
    explained = run(
        registry_of(only_exclude, mod("hero/default")),
        segments=frozenset({"unsubscribed"}),
        explain=True,
    )
    assert explained.items[0].candidates[0].outcome == EXCLUDED


def test_without_explain_only_the_winner_is_listed_nothing_else() -> None:
    registry = registry_of(mod("hero/vip", segments=("vip",), priority=1), mod("hero/default"))
    decisions = run(registry)
    assert decisions.items[0].candidates == ()
    explained = run(registry, explain=True)
    assert [c.outcome for c in explained.items[0].candidates] == [NOT_TARGETED, WON]
    assert explained.items[0].candidates[0].detail == "targets vip; recipient is in none of them"


def test_a_failing_when_rule_shows_the_value_seen() -> None:
    when = rule({"all": [{"cart_items": {"gt": 2}}, {"tier": "Gold"}]})
    registry = registry_of(mod("hero/big", when=when, priority=1), mod("hero/default"))
    explained = run(registry, data={"cart_items": 1, "tier": "Gold"}, explain=True)
    first = explained.items[0].candidates[0]
    assert (first.outcome, first.detail) == (
        RULE_FAILED,
        f"when: {when.describe()} — failed: cart_items > 2 (saw 1)",
    )
    assert first.failed == (TraceEntry("when.all[0]", "cart_items > 2", 1, False),)
    missing = run(registry, data={}, explain=True).items[0].candidates[0]
    # all() stops at the first condition that fails.
    assert missing.detail == f"when: {when.describe()} — failed: cart_items > 2 (saw nothing)"


def test_long_values_seen_are_truncated() -> None:
    registry = registry_of(
        mod("hero/x", when=rule({"tier": "Gold"}), priority=1), mod("hero/default")
    )
    explained = run(registry, data={"tier": "S" * 100}, explain=True)
    assert explained.items[0].candidates[0].detail == (
        "when: tier = Gold — failed: tier = Gold (saw '" + "S" * 38 + "…)"
    )


def test_the_decision_error_lists_every_candidate() -> None:
    registry = registry_of(mod("hero/b", segments=("vip",)), mod("hero/a", segments=("lapsed",)))
    with pytest.raises(DecisionError) as caught:
        run(registry)
    assert str(caught.value) == (
        "templates/weekly.mjml line 5 (recipient r1): no module can fill required slot 'hero' "
        "(candidates: hero/a: not in a targeted segment, hero/b: not in a targeted segment) — "
        + REQUIRED_HINT.format(slot="hero")
    )


def test_results_are_frozen() -> None:
    decisions = run(registry_of(mod("hero/default")), explain=True)
    with pytest.raises(AttributeError):
        decisions.layout = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        decisions.items[0].candidates[0].outcome = "x"  # type: ignore[misc]
    assert isinstance(decisions.items, tuple)
    assert decisions.items[0].candidates == (Candidate("hero/default", 0, WON, "fallback"),)


def test_decide_with_a_membership_from_classify_decides_the_same() -> None:
    bundled = Project.load(Path(__file__).resolve().parents[1])
    for persona in bundled.personas.values():
        membership = bundled.classify(persona)
        assert bundled.decide("weekly", persona, membership=membership) == bundled.decide(
            "weekly", persona
        )


# -- windows across the changes of daylight saving time ----------------------------------------

NIGHT = "priority: 500\nactive: {}"
# Berlin, 2026: the clocks go back at 03:00 summer time on October 25 (02:00-03:00 happens
# twice) and forward at 02:00 winter time on March 29 (02:00-03:00 does not happen).
DST_CASES: list[tuple[str, str, datetime, bool]] = [
    # 02:30 summer time is 00:30 UTC; the first 02:10 (summer time) is inside.
    ("fall back, first 02:10", "{until: 2026-10-25T02:30:00}", datetime(2026, 10, 25, 0, 10), True),
    # The second 02:10 (winter time) is 01:10 UTC: 40 minutes after the window ended.
    (
        "fall back, second 02:10",
        "{until: 2026-10-25T02:30:00}",
        datetime(2026, 10, 25, 1, 10),
        False,
    ),
    # 02:30 never happens: read with the offset before the change, it is 01:30 UTC.
    ("spring forward, 03:15", "{from: 2026-03-29T02:30:00}", datetime(2026, 3, 29, 1, 15), False),
    ("spring forward, 03:45", "{from: 2026-03-29T02:30:00}", datetime(2026, 3, 29, 1, 45), True),
]


def spellings(utc: datetime) -> list[datetime]:
    """One moment as UTC, Berlin time, naive Berlin time (fold kept) and a fixed offset."""
    berlin = utc.astimezone(BERLIN)
    offset = berlin.utcoffset()
    assert offset is not None
    return [utc, berlin, berlin.replace(tzinfo=None), utc.astimezone(timezone(offset))]


@pytest.mark.parametrize(
    ("window", "moment", "inside"), [c[1:] for c in DST_CASES], ids=[c[0] for c in DST_CASES]
)
def test_windows_compare_moments_across_daylight_saving_changes(
    tmp_path: Path, window: str, moment: datetime, inside: bool
) -> None:
    modules = {**MODULES, "hero/night": NIGHT.replace("{}", window)}
    root = write_project(tmp_path, modules=modules)
    expected = "hero/night" if inside else "hero/default"
    record = {"id": "ann"}
    nows = spellings(moment.replace(tzinfo=UTC))
    for order in (nows, nows[::-1]):  # the memo must give each the same, whoever came first
        project = Project.load(root)
        for now in order:
            assert project.decide("weekly", record, now=now).as_dict()["hero"] == expected
            assert project.render("weekly", record, now=now).decisions["hero"] == expected
            night = candidates(project.explain("weekly", record, now=now), "hero")[0]
            assert night[:3] == ("hero/night", 500, WON if inside else INACTIVE)
    reference = project.render_reference("weekly", record, now=nows[1])
    assert reference.decisions["hero"] == expected


def test_the_two_0210s_of_the_night_clocks_go_back_are_told_apart(tmp_path: Path) -> None:
    # Equal as date-times in one zone (only `fold` differs), they are an hour apart.
    modules = {**MODULES, "hero/night": NIGHT.replace("{}", "{until: 2026-10-25T02:30:00}")}
    project = Project.load(write_project(tmp_path, modules=modules))
    first = datetime(2026, 10, 25, 2, 10, tzinfo=BERLIN)
    second = first.replace(fold=1)
    assert first == second
    heroes = [
        project.render("weekly", {"id": "ann"}, now=now).decisions["hero"]
        for now in (first, second)
    ]
    assert heroes == ["hero/night", "hero/default"]
    night = candidates(project.explain("weekly", {"id": "ann"}, now=second), "hero")[0]
    assert night == (
        "hero/night",
        500,
        INACTIVE,
        "active … – 2026-10-25 02:30:00 (Europe/Berlin), now is 2026-10-25T02:10+01:00",
    )


# -- explain shows what render would do, and never fails where render does not -------------------


def test_explain_shows_a_required_slot_no_module_can_fill(project: Project) -> None:
    explanation = project.explain("promo", {"id": "ann"}, now=NOW)
    assert str(explanation) == textwrap.dedent(
        """\
        promo for recipient ann (locale en_US, now 2026-11-20T09:00+01:00)
        segments: none
        values: orders_30d=0

        banner: (empty) — required slot, no eligible module: rendering raises a DecisionError
          ✗ banner/german [priority 0] wrong locale: for locales de; recipient is en_US
          ✗ banner/vip-only [priority 0] not in a targeted segment: targets vip; recipient is in none of them — failed: tier = Gold (saw 'Bronze')"""  # noqa: E501
    )
    assert explanation.unfilled == ("banner",)
    assert explanation.decisions.items[0] == Decision(
        "banner",
        None,
        True,
        "required slot, no eligible module: rendering raises a DecisionError",
        explanation.decisions.items[0].candidates,
    )
    # What explain shows empty, render refuses.
    with pytest.raises(DecisionError):
        project.render("promo", {"id": "ann"}, now=NOW)
    assert project.explain("weekly", {"id": "ann"}, now=NOW).unfilled == ()


def test_explain_notes_a_rule_after_the_winner_that_render_never_runs(tmp_path: Path) -> None:
    # `tier` is text: comparing it with a number raises, but only if the rule runs.
    modules = {**MODULES, "hero/zz": "when: {tier: {gt: 5}}\npriority: -5"}
    project = Project.load(write_project(tmp_path, modules=modules))
    record = {"id": "ann"}
    assert project.render("weekly", record, now=NOW).decisions["hero"] == "hero/default"
    assert project.decide("weekly", record, now=NOW).as_dict()["hero"] == "hero/default"
    explanation = project.explain("weekly", record, now=NOW)
    assert candidates(explanation, "hero")[-2:] == [
        ("hero/default", 0, WON, "fallback"),
        (
            "hero/zz",
            -5,
            LOST_PRIORITY,
            "hero/default ranks first, so its when rule never runs; for this recipient it "
            "would raise a RuleError at line 2: tier: cannot compare 'Bronze' (text) with 5 "
            "(number)",
        ),
    ]


def test_a_rule_that_raises_before_the_winner_fails_explain_as_it_fails_render(
    tmp_path: Path,
) -> None:
    modules = {**MODULES, "hero/zz": "when: {tier: {gt: 5}}\npriority: 5"}
    project = Project.load(write_project(tmp_path, modules=modules))
    expected = (
        "modules/hero/zz.mjml line 2 (recipient ann): tier: cannot compare 'Bronze' (text) with "
        "5 (number) — check the field's type in the recipient schema"
    )
    for call in (project.render, project.explain):
        with pytest.raises(RuleError) as caught:
            call("weekly", {"id": "ann"}, now=NOW)
        assert str(caught.value) == expected


def test_explain_shows_the_condition_a_not_rule_failed_on(tmp_path: Path) -> None:
    modules = {**MODULES, "hero/not-bronze": "when: {not: {tier: Bronze}}\npriority: 1"}
    project = Project.load(write_project(tmp_path, modules=modules))
    explanation = project.explain("weekly", {"id": "ann"}, now=NOW)
    hero = next(c for c in explanation.decisions.items[0].candidates if c.module.endswith("bronze"))
    assert hero.detail == "when: not(tier = Bronze) — failed: not(tier = Bronze) (saw 'Bronze')"
    assert hero.failed == (TraceEntry("when.not", "not(tier = Bronze)", "Bronze", False),)


def test_the_decision_error_names_a_fallback_outside_its_window() -> None:
    window = Active(
        datetime(2026, 11, 27, tzinfo=UTC).astimezone(UTC),
        datetime(2026, 11, 30, 23, tzinfo=UTC),
        "2026-11-27 – 2026-11-30",
    )
    registry = registry_of(mod("hero/sale", active=window), mod("hero/vip", segments=("vip",)))
    with pytest.raises(DecisionError) as caught:
        run(registry)
    assert str(caught.value) == (
        "templates/weekly.mjml line 5 (recipient r1): no module can fill required slot 'hero' "
        "(candidates: hero/sale: outside its date window, hero/vip: not in a targeted segment) "
        "— no module without targeting serves this recipient (hero/sale is active 2026-11-27 – "
        "2026-11-30 (Europe/Berlin), now is 2026-11-20T09:00+01:00): add one without locales or "
        'active in modules/hero/, or mark the slot optional: <slot name="hero" optional/>'
    )


def test_decide_with_explain_leaves_a_required_slot_empty_instead_of_raising() -> None:
    registry = registry_of(mod("hero/de", locales=("de",)))
    decision = run(registry, explain=True).items[0]
    assert (decision.module, decision.required, decision.reason) == (
        None,
        True,
        "required slot, no eligible module: rendering raises a DecisionError",
    )
    assert decision.candidates == (
        Candidate("hero/de", 0, WRONG_LOCALE, "for locales de; recipient is en_US"),
    )
