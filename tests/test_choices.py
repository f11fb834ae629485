"""Memoized decisions: shared by recipients who would be decided alike, never by others."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from personalize import Project
from personalize.choices import Choices
from personalize.decide import Decisions
from projects import ANN, HERO, make_project, module

BODY = "<mj-section><mj-column><mj-text>{}</mj-text></mj-column></mj-section>"
ROOT = Path(__file__).resolve().parents[1]


class _Counted:
    """Choices over a project, counting how often decisions are actually made."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.made = 0
        self.choices = Choices(
            project.registry, project.segments.segments, project.schema.tz, project.experiments
        )

    def chosen(
        self, layout: str, record: dict[str, object], now: datetime | None = None
    ) -> dict[str, str | None]:
        p = self.project
        r, now = p.recipient(record), p.now(now)
        membership = p.classify(r, now=now)

        def decide(*args: object, **kwargs: object) -> Decisions:
            self.made += 1
            return p.decide(layout, r, now=now, membership=membership)

        return dict(self.choices.chosen(layout, r, membership, now, decide).decisions)


def test_recipients_with_the_same_segments_share_decisions(tmp_path: Path) -> None:
    gold = module("segments: [gold]", BODY.format("Gold"))
    counted = _Counted(
        Project.load(make_project(tmp_path, modules={"hero/default": HERO, "hero/gold": gold}))
    )
    for i in range(5):
        assert counted.chosen("news", {**ANN, "id": f"a{i}"}) == {
            "hero": "hero/default",
            "extra": None,
        }
        assert counted.chosen("news", {**ANN, "id": f"g{i}", "tier": "Gold"})["hero"] == "hero/gold"
    assert counted.made == 2


def test_when_rules_split_the_memo_by_their_results(tmp_path: Path) -> None:
    named = module("when: {nickname: {exists: true}}", BODY.format("Hi {{ nickname }}"))
    counted = _Counted(
        Project.load(make_project(tmp_path, modules={"hero/default": HERO, "hero/named": named}))
    )
    for i in range(3):
        plain = counted.chosen("news", {**ANN, "id": f"a{i}"})
        nick = counted.chosen("news", {**ANN, "id": f"n{i}", "nickname": "Annie"})
        assert (plain["hero"], nick["hero"]) == ("hero/default", "hero/named")
    assert counted.made == 2


def test_experiment_arms_are_decided_once_per_arm() -> None:
    counted = _Counted(Project.load(ROOT))
    persona = dict(counted.project.personas["sparse-sol"].data)
    heroes = {counted.chosen("weekly", {**persona, "id": f"r{i}"})["hero"] for i in range(200)}
    assert heroes == {"hero/default", "hero/default-b"}
    assert counted.made == 2  # one decision per arm; the holdout, if any, would be a third


def test_the_memo_keys_on_the_moment_in_utc(tmp_path: Path) -> None:
    # The window ends at 02:30 summer time (00:30 UTC) on the night the clocks go back.
    night = module('active: {until: "2026-10-25T02:30:00"}\npriority: 9', BODY.format("Night"))
    counted = _Counted(
        Project.load(make_project(tmp_path, modules={"hero/default": HERO, "hero/night": night}))
    )
    first = datetime(2026, 10, 25, 2, 10, tzinfo=ZoneInfo("Europe/Berlin"))  # 00:10 UTC
    second = first.replace(fold=1)  # 01:10 UTC: equal to `first` as a date-time, and hashed alike
    assert counted.chosen("news", ANN, first)["hero"] == "hero/night"
    assert counted.chosen("news", ANN, second)["hero"] == "hero/default"
    assert counted.made == 2
    # The same moments spelled in UTC share their entries.
    assert counted.chosen("news", ANN, datetime(2026, 10, 25, 0, 10, tzinfo=UTC))["hero"] == (
        "hero/night"
    )
    assert counted.chosen("news", ANN, datetime(2026, 10, 25, 1, 10, tzinfo=UTC))["hero"] == (
        "hero/default"
    )
    assert counted.made == 2
