"""Memoized decisions: shared by recipients who would be decided alike, never by others."""

from __future__ import annotations

from pathlib import Path

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

    def chosen(self, layout: str, record: dict[str, object]) -> dict[str, str | None]:
        p = self.project
        r, now = p.recipient(record), p.now()
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
