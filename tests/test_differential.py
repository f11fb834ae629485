"""Compile-once equals the reference path (Jinja, then MJML, then inlining, per recipient)."""

from __future__ import annotations

from pathlib import Path

import pytest

from personalize import Project
from personalize.testing import canonical_html
from projects import starter_kit_copy

ROOT = Path(__file__).resolve().parents[1]
PROJECT = Project.load(ROOT)
CASES = [(layout, persona) for layout in PROJECT.layouts for persona in PROJECT.personas]


def _same(project: Project, layout: str, persona: str) -> None:
    recipient = project.personas[persona]
    fast = project.render(layout, recipient)
    reference = project.render_reference(layout, recipient)
    assert fast.decisions == reference.decisions
    assert fast.subject == reference.subject
    assert fast.preheader == reference.preheader
    assert fast.text == reference.text
    assert canonical_html(fast.html) == canonical_html(reference.html)


def test_there_are_enough_cases() -> None:
    assert len(PROJECT.layouts) >= 3
    assert len(PROJECT.personas) >= 8


@pytest.mark.parametrize(
    ("layout", "persona"), CASES, ids=[f"{layout}-{persona}" for layout, persona in CASES]
)
def test_compiled_path_equals_reference_path(layout: str, persona: str) -> None:
    _same(PROJECT, layout, persona)


@pytest.fixture(scope="module")
def premailer_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    target = tmp_path_factory.mktemp("premailer")
    return Project.load(
        starter_kit_copy(target, ('inliner = "css-inline"', 'inliner = "premailer"'))
    )


@pytest.mark.parametrize("layout", PROJECT.layouts)
def test_premailer_compiled_path_equals_its_reference_path(
    premailer_project: Project, layout: str
) -> None:
    for persona in list(PROJECT.personas)[:4]:
        _same(premailer_project, layout, persona)
