"""Build small throwaway projects on disk for tests."""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SETTINGS = """
[project]
timezone = "Europe/Berlin"
now = "2026-11-27T09:00:00+01:00"

[message]
sender = "Shop <shop@example.com>"
unsubscribe = "links.unsubscribe"

[recipient.fields]
email = {type = "email", required = true}
first_name = {type = "str", default = "there"}
nickname = "str"
tier = {type = "str", default = "Bronze"}
orders = {type = "list[order]", default = []}
links = "links"

[recipient.types.order]
at = "datetime"
total = "decimal"

[recipient.types.links]
shop = {type = "url", default = "https://shop.example/"}
unsubscribe = {type = "url", default = "https://shop.example/unsubscribe"}
"""

SEGMENTS = """
metrics:
  orders_30d: {count: orders, within: 30d}
segments:
  buyer: {when: {orders_30d: {gte: 1}}}
  gold: {when: {tier: Gold}}
"""

LAYOUT = """---
subject: "Hello {{ first_name }}"
preheader: "News for {{ first_name }}"
---
<mjml>
  <mj-body>
    <slot name="hero"/>
    <slot name="extra" optional/>
  </mj-body>
</mjml>
"""

HERO = """---
description: fallback
---
<mj-section><mj-column><mj-text>Hi {{ first_name }}</mj-text></mj-column></mj-section>
"""


def make_project(
    root: Path,
    *,
    settings: str = SETTINGS,
    segments: str = SEGMENTS,
    layouts: Mapping[str, str] | None = None,
    modules: Mapping[str, str] | None = None,
    personas: Sequence[Mapping[str, Any]] = (),
    extra: Mapping[str, str] | None = None,
) -> Path:
    """Write a project: settings, segments, layouts, modules (id → text), personas."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "personalize.toml").write_text(textwrap.dedent(settings), encoding="utf-8")
    (root / "segments.yaml").write_text(textwrap.dedent(segments), encoding="utf-8")
    for name, text in (layouts if layouts is not None else {"news": LAYOUT}).items():
        path = root / "templates" / f"{name}.mjml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for module_id, text in (modules if modules is not None else {"hero/default": HERO}).items():
        path = root / "modules" / f"{module_id}.mjml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "personas.jsonl").write_text(
        "".join(json.dumps(p) + "\n" for p in personas), encoding="utf-8"
    )
    for name, text in (extra or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def module(front: str, body: str) -> str:
    """A module file from front matter lines and an MJML body."""
    return f"---\n{textwrap.dedent(front).strip()}\n---\n{textwrap.dedent(body).strip()}\n"


ANN = {"id": "ann", "email": "ann@example.com", "first_name": "Ann", "links": {}}


STARTER_KIT = Path(__file__).resolve().parents[1]


def starter_kit_copy(target: Path, settings: tuple[str, str]) -> Path:
    """A copy of the bundled starter kit in ``target``, with ``settings[0]`` replaced by
    ``settings[1]`` in its personalize.toml (which must contain it)."""
    for name in ("templates", "modules"):
        shutil.copytree(STARTER_KIT / name, target / name)
    for name in ("segments.yaml", "rfm.yaml", "personas.jsonl"):
        shutil.copy(STARTER_KIT / name, target / name)
    text = (STARTER_KIT / "personalize.toml").read_text(encoding="utf-8")
    assert settings[0] in text
    (target / "personalize.toml").write_text(text.replace(*settings), encoding="utf-8")
    return target
