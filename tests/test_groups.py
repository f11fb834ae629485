"""Tests for exclusive groups: loading, resolution order, readers of members, explain output."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import pytest

from personalize import Project
from personalize.cli import main
from personalize.errors import ConfigError
from personalize.segmentgroups import Group, GroupResolution
from personalize.segments import Segments, load_segments
from projects import SETTINGS, make_project, module

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]
FIELDS = frozenset({"id", "tier", "spend", "days"})
EXAMPLE = """\
segments:
  vip: {when: {spend: {gte: 500}}}
  loyal: {when: {spend: {gte: 100}}}
  at_risk: {when: {days: {gte: 60}}}
  lapsed: {when: {days: {gte: 90}}}
  gold: {when: {tier: Gold}}
  lapsed_gold: {when: {all: [{lapsed: true}, {gold: true}]}}
groups:
  lifecycle:
    description: One lifecycle stage per recipient
    exclusive: true
    order: [vip, loyal, at_risk, lapsed]
"""


def load(tmp_path: Path, text: str) -> Segments:
    (tmp_path / "segments.yaml").write_text(text, encoding="utf-8")
    return load_segments(tmp_path / "segments.yaml", file="segments.yaml", fields=FIELDS)


def L(line: int) -> str:
    return f"segments.yaml line {line}: "


SEGMENTS = "segments:\n  a: {when: {tier: A}}\n  b: {when: {tier: B}}\n  c: {when: {tier: C}}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            SEGMENTS + "groups:\n  g: [a, b]\n",
            L(6) + "groups.g: group 'g' must be a mapping, got ['a', 'b'] — write e.g. "
            "lifecycle: {exclusive: true, order: [vip, loyal, lapsed]}",
            id="not-a-mapping",
        ),
        pytest.param(
            SEGMENTS + "groups:\n  g: {exclusive: true, ordre: [a, b]}\n",
            L(6) + "groups.g.ordre: unknown key 'ordre' — did you mean 'order'?",
            id="unknown-key",
        ),
        pytest.param(
            SEGMENTS + "groups:\n  g: {order: [a, b]}\n",
            L(6) + "groups.g: group 'g' needs 'exclusive' — write e.g. lifecycle: {exclusive: "
            "true, order: [vip, loyal, lapsed]}",
            id="no-exclusive",
        ),
        pytest.param(
            SEGMENTS + "groups:\n  g: {exclusive: yes please, order: [a, b]}\n",
            L(6) + "groups.g.exclusive: 'exclusive' must be true or false, got 'yes please' — "
            "write exclusive: true to keep at most one segment of the group",
            id="exclusive-not-bool",
        ),
        pytest.param(
            SEGMENTS + "groups:\n  g: {exclusive: true, order: [a]}\n",
            L(6) + "groups.g.order: 'order' needs a list of two or more segment names, got "
            "['a'] — list the group's segments, the one that wins a conflict first",
            id="one-member",
        ),
        pytest.param(
            SEGMENTS + "groups:\n  g: {exclusive: true, order: a}\n",
            L(6) + "groups.g.order: 'order' needs a list of two or more segment names, got 'a' — "
            "list the group's segments, the one that wins a conflict first",
            id="order-not-a-list",
        ),
        pytest.param(
            SEGMENTS + "groups:\n  g:\n    exclusive: true\n    order: [a, bb]\n",
            L(8) + "groups.g.order[1]: unknown segment 'bb' — did you mean 'b'?",
            id="unknown-segment",
        ),
        pytest.param(
            SEGMENTS + "groups:\n  g: {exclusive: true, order: [a, b, a]}\n",
            L(6) + "groups.g.order[2]: segment 'a' is listed twice — list each segment once",
            id="listed-twice",
        ),
        pytest.param(
            SEGMENTS + "groups:\n  g: {exclusive: true, order: [a, b]}\n"
            "  h: {exclusive: true, order: [c, a]}\n",
            L(7) + "groups.h.order: segment 'a' is in two exclusive groups, 'g' and 'h' — keep "
            "it in one group, or set exclusive: false on one of them",
            id="two-groups",
        ),
        pytest.param(
            "segments:\n  a: {when: {tier: A}}\n  b: {when: {all: [{tier: B}, {a: false}]}}\n"
            "groups:\n  g: {exclusive: true, order: [a, b]}\n",
            L(3) + "segments.b.when.all[1]: segment 'b' reads 'a', a member of its own exclusive "
            "group 'g' — the group already keeps only the first member that matches; remove the "
            "reference",
            id="reads-its-own-group",
        ),
        pytest.param(
            "segments:\n  a: {when: {tier: A}}\n  b: {when: {c: true}}\n  c: {when: {d: true}}\n"
            "  d: {when: {tier: D}}\ngroups:\n  g: {exclusive: true, order: [b, d]}\n",
            L(3) + "segments.b.when: segment 'b' depends on itself: b → c → b (c reads 'd', "
            "which shares an exclusive group with 'b') — remove one of the references to break "
            "the loop",
            id="loop-through-a-group",
        ),
        pytest.param(
            SEGMENTS + "groups:\n  g.h: {exclusive: true, order: [a, b]}\n",
            L(6) + "groups.g.h: invalid name 'g.h' — use letters, digits, '_' and '-', starting "
            "with a letter",
            id="bad-name",
        ),
        pytest.param(
            SEGMENTS + "groups:\n  g: {exclusive: true, order: [a, b], description: 5}\n",
            L(6) + "groups.g.description: 'description' must be text, got 5 — quote it",
            id="description-not-text",
        ),
    ],
)
def test_load_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert str(info.value) == message


def test_a_group_may_come_before_its_segments(tmp_path: Path) -> None:
    text = "groups:\n  g: {exclusive: true, order: [b, a]}\n" + SEGMENTS
    (group,) = load(tmp_path, text).groups.values()
    assert group == Group("g", ("b", "a"), True, "", 2, "segments.yaml")


# -- resolution ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "segments", "winner", "matched"),
    [
        pytest.param(
            {"spend": 900, "days": 120},
            {"vip"},
            "vip",
            ("vip", "loyal", "at_risk", "lapsed"),
            id="all-four",
        ),
        pytest.param(
            {"spend": 200, "days": 70}, {"loyal"}, "loyal", ("loyal", "at_risk"), id="two"
        ),
        pytest.param(
            {"spend": 0, "days": 100},
            {"at_risk"},
            "at_risk",
            ("at_risk", "lapsed"),
            id="at-risk-before-lapsed",
        ),
        pytest.param({"spend": 0, "days": 70}, {"at_risk"}, "at_risk", ("at_risk",), id="one"),
        pytest.param({"spend": 0, "days": 0}, set(), None, None, id="none"),
    ],
)
def test_the_first_member_in_order_wins(
    tmp_path: Path,
    data: dict[str, int],
    segments: set[str],
    winner: str | None,
    matched: tuple[str, ...] | None,
) -> None:
    loaded = load(tmp_path, EXAMPLE)
    for trace in (False, True):
        membership = loaded.classify(data, now=NOW, tz=UTC, trace=trace)
        assert membership.segments == segments
        if winner is None:
            assert dict(membership.groups) == {}
            continue
        order = ("vip", "loyal", "at_risk", "lapsed")
        assert dict(membership.groups) == {
            "lifecycle": GroupResolution("lifecycle", winner, matched or (), order)
        }


def test_readers_of_a_member_see_the_resolved_value(tmp_path: Path) -> None:
    # lapsed_gold reads `lapsed`, which lost to vip: the reader sees it as not held.
    loaded = load(tmp_path, EXAMPLE)
    rich = loaded.classify({"spend": 900, "days": 120, "tier": "Gold"}, now=NOW, tz=UTC)
    assert rich.segments == {"vip", "gold"}
    lapsed = loaded.classify({"days": 120, "tier": "Gold"}, now=NOW, tz=UTC, trace=True)
    assert lapsed.segments == {"at_risk", "gold"}
    trace = [(e.condition, e.value) for e in lapsed.trace["lapsed_gold"]]
    assert trace == [("lapsed = true", False)]


def test_a_non_exclusive_group_resolves_nothing(tmp_path: Path) -> None:
    text = EXAMPLE.replace("exclusive: true", "exclusive: false")
    membership = load(tmp_path, text).classify({"spend": 900, "days": 120}, now=NOW, tz=UTC)
    assert membership.segments == {"vip", "loyal", "at_risk", "lapsed"}
    assert dict(membership.groups) == {}


def test_several_groups_are_listed_in_file_order(tmp_path: Path) -> None:
    text = (
        "segments:\n  a: {when: {spend: {gt: 1}}}\n  b: {when: {spend: {gt: 2}}}\n"
        "  c: {when: {days: {gt: 1}}}\n  d: {when: {all: [{days: {gt: 2}}, {a: true}]}}\n"
        "groups:\n  second: {exclusive: true, order: [d, c]}\n"
        "  first: {exclusive: true, order: [b, a]}\n"
    )
    membership = load(tmp_path, text).classify({"spend": 5, "days": 5}, now=NOW, tz=UTC)
    # `d` reads `a`, a member of `first`: it sees `a` after `first` resolved (a lost to b).
    assert membership.segments == {"b", "c"}
    assert [str(r) for r in membership.groups.values()] == [
        "second: c (the only member that matched)",
        "first: b (also matched a; b comes first in the group's order)",
    ]
    other = load(tmp_path, text).classify({"spend": 1.5, "days": 5}, now=NOW, tz=UTC)
    assert other.segments == {"a", "d"}
    assert str(other.groups["second"]) == (
        "second: d (also matched c; d comes first in the group's order)"
    )


def test_groups_survive_pickling(tmp_path: Path) -> None:
    loaded = load(tmp_path, EXAMPLE)
    membership = loaded.classify({"spend": 900, "days": 120}, now=NOW, tz=UTC)
    assert pickle.loads(pickle.dumps(membership)) == membership
    copy = pickle.loads(pickle.dumps(loaded))
    assert copy.classify({"spend": 900, "days": 120}, now=NOW, tz=UTC) == membership


def test_groups_built_in_code_are_checked() -> None:
    base = load_segments(Path("/nonexistent/segments.yaml"), file="s.yaml", fields=FIELDS)
    with pytest.raises(ConfigError) as info:
        Segments(
            "s.yaml",
            base.metrics,
            base.segments,
            groups=MappingProxyType(
                {"g": Group("g", ("x", "y")), "h": Group("h", ("y", "z"), line=3, file="s.yaml")}
            ),
        )
    assert str(info.value) == (
        "s.yaml line 3: groups.h.order: segment 'y' is in two exclusive groups, 'g' and 'h' — "
        "keep it in one group, or set exclusive: false on one of them"
    )


def test_describe() -> None:
    one = GroupResolution("rfm", "lost", ("lost",), ("champions", "lost"))
    assert str(one) == "rfm: lost (the only member that matched)"
    two = GroupResolution("lifecycle", "vip", ("vip", "lapsed"), ("vip", "loyal", "lapsed"))
    assert two.describe() == "vip (also matched lapsed; vip comes first in the group's order)"
    assert two.dropped == ("lapsed",)


# -- decisions and explain -------------------------------------------------------------------------


def test_a_dropped_segment_is_not_targeted(tmp_path: Path) -> None:
    settings = SETTINGS.replace('nickname = "str"', 'nickname = "str"\nspend = "int"')
    segments = (
        "segments:\n  big: {when: {spend: {gte: 500}}}\n  some: {when: {spend: {gte: 100}}}\n"
        "groups:\n  value: {exclusive: true, order: [big, some]}\n"
    )
    body = "<mj-section><mj-column><mj-text>x</mj-text></mj-column></mj-section>"
    root = make_project(
        tmp_path,
        settings=settings,
        segments=segments,
        modules={
            "hero/default": module("description: fallback", body),
            "hero/some": module("segments: [some]\npriority: 50", body),
        },
    )
    project = Project.load(root)
    record = {"id": "r", "email": "r@example.com", "spend": 800}
    assert project.render("news", record).decisions["hero"] == "hero/default"
    assert project.render("news", {**record, "spend": 200}).decisions["hero"] == "hero/some"
    explanation = project.explain("news", record)
    assert explanation.segments == ("big",)
    assert str(explanation).splitlines()[1:4] == [
        "segments: big",
        "groups:",
        "  value: big (also matched some; big comes first in the group's order)",
    ]
    (some,) = [c for d in explanation.decisions for c in d.candidates if c.module == "hero/some"]
    assert some.detail == (
        "targets some; recipient is in none of them (some matched, but group value kept big)"
    )


def test_explain_shows_the_bundled_rfm_group(capsys: pytest.CaptureFixture[str]) -> None:
    project = Project.load(ROOT)
    expected = (
        "rfm_segments: champions (also matched loyal; champions comes first in the group's order)"
    )
    explanation = project.explain("weekly", project.personas["vip-vera"])
    assert f"\ngroups:\n  {expected}\n" in str(explanation)
    main(["--project", str(ROOT), "explain", "weekly", "-r", "vip-vera"])
    out = capsys.readouterr().out
    assert f"group {expected}" in out.replace("\n", "")
    main(["--project", str(ROOT), "explain", "weekly", "-r", "lost-leo", "--format", "json"])
    payload = json.loads(capsys.readouterr().out)
    assert payload["groups"] == {
        "rfm_segments": {
            "winner": "lost",
            "matched": ["lost"],
            "order": [
                "champions",
                "loyal",
                "potential_loyalist",
                "at_risk",
                "hibernating",
                "lost",
            ],
        }
    }
    assert payload["metrics"]["rfm"] == "111"
