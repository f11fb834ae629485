"""Snapshots of every persona × layout of the bundled project (``pytest --snapshot-update``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

import personalize

ROOT = Path(__file__).resolve().parents[1]
PROJECT = personalize.Project.load(ROOT)  # [project] now is pinned: the output is fixed


@pytest.mark.parametrize("layout", PROJECT.layouts)
@pytest.mark.parametrize("persona", list(PROJECT.personas))
def test_email(layout: str, persona: str, email_snapshot: SnapshotAssertion) -> None:
    assert PROJECT.render(layout, PROJECT.personas[persona]) == email_snapshot
