"""Tests for personalize.projectsnapshot: what a project was loaded from, for worker processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from personalize import ConfigError, Project
from personalize.projectsnapshot import load_unchanged
from projects import HERO, LAYOUT, make_project


def test_a_snapshot_names_the_project_files_changed_since_it_was_taken(tmp_path: Path) -> None:
    layout = LAYOUT.replace("<mj-body>", '<mj-body>\n<mj-include path="../parts/top.mjml"/>')
    root = make_project(
        tmp_path,
        layouts={"news": layout},
        extra={"parts/top.mjml": "<mj-section/>", "modules/hero/_part.mjml": "<mj-text/>"},
    )
    snapshot = Project.load(root)._snapshot
    assert snapshot.changes() == []
    assert sorted(snapshot.digests) == [
        "modules/hero/default.mjml",
        "parts/top.mjml",
        "personalize.toml",
        "segments.yaml",
        "templates/news.mjml",
    ]
    (root / "parts/top.mjml").write_text("<mj-section></mj-section>")
    (root / "modules/hero/new.mjml").write_text(HERO)
    (root / "modules/hero/_part.mjml").write_text("<mj-text>not included</mj-text>")
    (root / "personalize.toml").unlink()
    assert snapshot.changes() == [
        "modules/hero/new.mjml (added)",
        "parts/top.mjml (changed)",
        "personalize.toml (removed)",
    ]


HINT = (
    " — workers started by 'spawn' or 'forkserver' load the project from disk, and would "
    "render another version: load it again with Project.load, or use workers=1"
)


def test_a_worker_loading_from_disk_refuses_a_changed_project(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    project = Project.load(root)
    assert load_unchanged(project._snapshot).root == project.root
    (root / "modules/hero/default.mjml").write_text(HERO.replace("Hi", "Edited"))
    with pytest.raises(ConfigError) as caught:
        load_unchanged(project._snapshot)
    assert str(caught.value) == (
        "project files changed since the Project was loaded: modules/hero/default.mjml "
        "(changed)" + HINT
    )
    (root / "segments.yaml").write_text("segments: [")  # and now it no longer loads
    with pytest.raises(ConfigError) as caught:
        load_unchanged(project._snapshot)
    assert str(caught.value).startswith("segments.yaml line 1: invalid YAML: ")
    assert str(caught.value).endswith(
        " (project files changed since the Project was loaded: modules/hero/default.mjml "
        "(changed), segments.yaml (changed))" + HINT
    )
