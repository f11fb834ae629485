"""Snapshots of every persona × layout of the bundled project (``pytest --snapshot-update``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

import personalize
from personalize.errors import ConfigError
from personalize.testing import Scrubber, canonical_html

ROOT = Path(__file__).resolve().parents[1]
PROJECT = personalize.Project.load(ROOT)  # [project] now is pinned: the output is fixed
SNAPSHOTS = sorted((ROOT / "tests" / "__snapshots__" / "test_snapshots").glob("*.email.txt"))


@pytest.mark.parametrize("layout", PROJECT.layouts)
@pytest.mark.parametrize("persona", list(PROJECT.personas), ids=str)  # as the docs
def test_email(layout: str, persona: str, email_snapshot: SnapshotAssertion) -> None:
    assert PROJECT.render(layout, PROJECT.personas[persona]) == email_snapshot


def test_canonical_html_of_every_email_is_its_own_canonical_html() -> None:
    for layout in PROJECT.layouts:
        for persona in PROJECT.personas.values():
            once = canonical_html(PROJECT.render(layout, persona).html)
            assert canonical_html(once) == once, (layout, persona.id)


def _suggested_scrubbers() -> list[str]:
    """The tracking-token scrubbers that docs/testing.md and the error hints suggest."""
    token = re.compile(r"\(\S*t=\)\\w\+=\S*?TOKEN")
    found = token.findall((ROOT / "docs" / "testing.md").read_text(encoding="utf-8"))
    for spec in ("no-equals-sign", "=X"):
        with pytest.raises(ConfigError) as info:
            Scrubber.parse(spec)
        found += token.findall(info.value.hint or "")
    return sorted(set(found))


SUGGESTED = _suggested_scrubbers()


def test_the_suggested_scrubbers_are_found() -> None:
    assert SUGGESTED == [r"(?<=[?&]t=)\w+=TOKEN", r"([?&]t=)\w+=\1TOKEN"]


@pytest.mark.parametrize("spec", SUGGESTED)
def test_the_suggested_scrubbers_replace_tokens_and_leave_the_charset_alone(spec: str) -> None:
    scrubber = Scrubber.parse(spec)
    assert len(SNAPSHOTS) == len(PROJECT.layouts) * len(PROJECT.personas)
    for path in SNAPSHOTS:
        text = path.read_text(encoding="utf-8")
        scrubbed = scrubber.apply(text)
        assert scrubbed.count("charset=UTF-8") == text.count("charset=UTF-8") == 1, path.name
        assert not re.search(r"[?&]t=(?!TOKEN\b)", scrubbed), path.name
    vera = (SNAPSHOTS[0].parent / "test_email[vip-vera-weekly].email.txt").read_text("utf-8")
    text, html = scrubber.apply(vera).split("\n## html\n")
    for part in (text, html):  # the HTML, too, reads `&t=` as in the URL
        assert "https://northwind.example/unsubscribe?u=vera&t=TOKEN" in part
