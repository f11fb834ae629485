"""Golden tests for the starter kit: every persona × layout renders and decides as documented."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from datetime import datetime
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from personalize.decide import EXCLUDED, LOST_PRIORITY, NOT_TARGETED, WON, WRONG_LOCALE
from personalize.project import Project
from personalize.render import RenderedEmail

ROOT = Path(__file__).resolve().parents[1]
BERLIN = ZoneInfo("Europe/Berlin")

# The decision matrix at the project's pinned now (Black Friday 2026-11-27 09:00 Berlin): per
# layout, its slots in layout order, then per persona the module chosen for each slot (ids
# without the slot folder; None leaves an optional slot empty). A new persona needs a row here.
# The hero fallback is experiment hero-story-nov: by id, gold-greta and sparse-sol are in
# variant a (hero/default), silver-sam and bronze-ben in variant b (hero/default-b).
SLOTS: dict[str, tuple[str, ...]] = {
    "weekly": ("hero", "recommendations", "offer", "loyalty"),
    "welcome": ("hero", "recommendations", "loyalty"),
    "cart-reminder": ("cart", "offer", "recommendations"),
}
MATRIX: dict[str, dict[str, tuple[str | None, ...]]] = {
    "weekly": {
        "vip-vera": ("vip-early-access", "complementary", "black-friday", "gold"),
        "recent-rafael": ("recent-purchase", "complementary", "black-friday", "bronze"),
        "cart-carla": ("abandoned-cart", "picks", "cart-discount", "bronze"),
        "lapsed-lars": ("win-back", "picks", "win-back-coupon", "bronze"),
        "lapsed-lena": ("win-back", "picks", "win-back-coupon", "bronze"),
        "new-nina": ("welcome", "picks", "welcome-discount", "bronze"),
        "gold-greta": ("default", "picks", "black-friday", "gold"),
        "silver-sam": ("default-b", "picks", "black-friday", "silver"),
        "bronze-ben": ("default-b", "picks", "black-friday", "bronze"),
        "sparse-sol": ("default", "picks", "black-friday", "bronze"),
        "german-dora": ("german", "picks-de", "black-friday-de", "bronze-de"),
        "hostile-hugo": ("abandoned-cart", "complementary", "cart-discount", "silver"),
        "hibernating-hana": ("win-back", "picks", "win-back-coupon", "bronze"),
        "lost-leo": ("win-back", "picks", "win-back-coupon", "bronze"),
    },
    "welcome": {
        "vip-vera": ("vip-early-access", "complementary", "gold"),
        "recent-rafael": ("recent-purchase", "complementary", "bronze"),
        "cart-carla": ("abandoned-cart", "picks", "bronze"),
        "lapsed-lars": ("win-back", "picks", "bronze"),
        "lapsed-lena": ("win-back", "picks", "bronze"),
        "new-nina": ("welcome", "picks", "bronze"),
        "gold-greta": ("default", "picks", "gold"),
        "silver-sam": ("default-b", "picks", "silver"),
        "bronze-ben": ("default-b", "picks", "bronze"),
        "sparse-sol": ("default", "picks", "bronze"),
        "german-dora": ("german", "picks-de", "bronze-de"),
        "hostile-hugo": ("abandoned-cart", "complementary", "silver"),
        "hibernating-hana": ("win-back", "picks", "bronze"),
        "lost-leo": ("win-back", "picks", "bronze"),
    },
    "cart-reminder": {
        "vip-vera": ("empty", "black-friday", "complementary"),
        "recent-rafael": ("empty", "black-friday", "complementary"),
        "cart-carla": ("items", "cart-discount", "picks"),
        "lapsed-lars": ("empty", "win-back-coupon", "picks"),
        "lapsed-lena": ("empty", "win-back-coupon", "picks"),
        "new-nina": ("empty", "welcome-discount", "picks"),
        "gold-greta": ("empty", "black-friday", "picks"),
        "silver-sam": ("empty", "black-friday", "picks"),
        "bronze-ben": ("empty", "black-friday", "picks"),
        "sparse-sol": ("empty", "black-friday", "picks"),
        "german-dora": ("empty", "black-friday-de", "picks-de"),
        "hostile-hugo": ("items", "cart-discount", "complementary"),
        "hibernating-hana": ("empty", "win-back-coupon", "picks"),
        "lost-leo": ("empty", "win-back-coupon", "picks"),
    },
}
CASES = [(layout, persona) for layout, rows in MATRIX.items() for persona in rows]
CASE_IDS = [f"{layout}-{persona}" for layout, persona in CASES]

HOSTILE = "hostile-hugo"
# Jinja syntax the hostile persona carries as data: it must come out literally, never run.
JINJA_IN_DATA = ("{{ 7*7 }}", "{% if true %}jinja{% endif %}", "{{ links.unsubscribe }}")
SVG_URL = 'https://northwind.example/p/x3?q="><svg/onload=alert(1)>'
LEFTOVER = re.compile(r"\{\{|\{%|%7B%7B|%7B%25|zq\d+qz", re.IGNORECASE)


@cache
def project() -> Project:
    return Project.load(ROOT)


@cache
def rendered(layout: str, persona: str) -> RenderedEmail:
    return project().render(layout, project().personas[persona])


@cache
def raw_personas() -> dict[str, dict[str, Any]]:
    lines = (ROOT / "personas.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    return {record["id"]: record for record in records}


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text, of an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, tuple[tuple[str, str], ...]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple((name, value or "") for name, value in attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


# -- the kit as a whole ---------------------------------------------------------------------


def test_matrix_lists_every_persona_and_slot() -> None:
    p = project()
    assert set(p.layouts) == set(MATRIX)
    for layout, rows in MATRIX.items():
        assert list(rows) == list(p.personas), layout
        assert tuple(s.name for s in p.registry.layout(layout).slots) == SLOTS[layout]
        assert all(len(row) == len(SLOTS[layout]) for row in rows.values()), layout


def test_every_segment_has_a_persona() -> None:
    p = project()
    held = {name for r in p.personas.values() for name in p.classify(r).segments}
    assert held == set(p.segments.names)


def test_every_module_wins_somewhere_and_is_described() -> None:
    registry = project().registry
    chosen = {
        f"{slot}/{name}"
        for layout, rows in MATRIX.items()
        for row in rows.values()
        for slot, name in zip(SLOTS[layout], row, strict=True)
        if name is not None
    }
    assert chosen == set(registry.modules)
    assert len(registry.modules) >= 14
    assert [m.id for m in registry.modules.values() if not m.description.strip()] == []
    assert [n for n, lay in registry.layouts.items() if not lay.description.strip()] == []


@pytest.mark.parametrize(
    ("moment", "offer"),
    [
        pytest.param((2026, 11, 26, 23, 59), None, id="day-before"),
        pytest.param((2026, 11, 27, 0, 0), "offer/black-friday", id="first-minute"),
        pytest.param((2026, 11, 30, 23, 59), "offer/black-friday", id="last-minute"),
        pytest.param((2026, 12, 1, 0, 0), None, id="day-after"),
    ],
)
def test_black_friday_window_covers_whole_days(
    moment: tuple[int, int, int, int, int], offer: str | None
) -> None:
    p = project()
    now = datetime(*moment, tzinfo=BERLIN)
    decisions = p.decide("weekly", p.personas["bronze-ben"], now=now).as_dict()
    assert decisions["offer"] == offer


# -- every persona × layout ------------------------------------------------------------------


@pytest.mark.parametrize(("layout", "persona"), CASES, ids=CASE_IDS)
def test_decisions_follow_the_matrix(layout: str, persona: str) -> None:
    expected = {
        slot: None if name is None else f"{slot}/{name}"
        for slot, name in zip(SLOTS[layout], MATRIX[layout][persona], strict=True)
    }
    assert dict(rendered(layout, persona).decisions) == expected


@pytest.mark.parametrize(("layout", "persona"), CASES, ids=CASE_IDS)
def test_no_template_syntax_or_markers_left(layout: str, persona: str) -> None:
    email = rendered(layout, persona)
    for part in (email.subject, email.preheader, email.html, email.text):
        if persona == HOSTILE:
            for literal in JINJA_IN_DATA:
                part = part.replace(literal, "")
        assert LEFTOVER.findall(part) == []
        assert "None" not in part


@pytest.mark.parametrize(("layout", "persona"), CASES, ids=CASE_IDS)
def test_links_are_absolute_and_unsubscribe_is_there(layout: str, persona: str) -> None:
    email = rendered(layout, persona)
    urls = [v for _, attrs in parse(email.html).tags for n, v in attrs if n in ("href", "src")]
    assert urls
    assert [u for u in urls if not u.startswith("https://")] == []
    unsubscribe = project().personas[persona]["links"]["unsubscribe"]
    assert unsubscribe in urls
    assert f"({unsubscribe})" in email.text


# -- the hostile persona -----------------------------------------------------------------------


def _benign_twin(*, keep_urls: bool) -> dict[str, Any]:
    """The hostile record with every text field made harmless; same shape, so same decisions."""
    twin = copy.deepcopy(raw_personas()[HOSTILE])
    twin.update(id="benign-twin", first_name="Hugo", last_name="Hill", favorite_category="home")
    for order in twin["orders"]:
        order["category"] = "home"
    for index, item in enumerate([*twin["cart"], *twin["recommendations"]]):
        item["name"] = f"Product {index}"
        if not keep_urls and item.get("url") == SVG_URL:
            item["url"] = "https://northwind.example/p/x3"
    return twin


@pytest.mark.parametrize("keep_urls", [True, False], ids=["same-urls", "plain-urls"])
@pytest.mark.parametrize("layout", list(MATRIX))
def test_hostile_text_adds_no_tags_or_attributes(layout: str, keep_urls: bool) -> None:
    hostile = rendered(layout, HOSTILE)
    benign = project().render(layout, _benign_twin(keep_urls=keep_urls))
    assert dict(benign.decisions) == dict(hostile.decisions)
    bad, good = parse(hostile.html), parse(benign.html)
    assert Counter(tag for tag, _ in bad.tags) == Counter(tag for tag, _ in good.tags)
    names = Counter((tag, name) for tag, attrs in bad.tags for name, _ in attrs)
    assert names == Counter((tag, name) for tag, attrs in good.tags for name, _ in attrs)
    values = [value.lower() for _, attrs in bad.tags for _, value in attrs]
    assert [v for v in values if "javascript:" in v or "onerror" in v] == []
    if keep_urls:
        # MJML copies the title (the subject, which holds first_name) into an aria-label;
        # everything else must be identical, values included.
        assert _blank_labels(bad.tags) == _blank_labels(good.tags)


def _blank_labels(tags: list[tuple[str, tuple[tuple[str, str], ...]]]) -> Counter[Any]:
    return Counter(
        (tag, tuple((name, "" if name == "aria-label" else value) for name, value in attrs))
        for tag, attrs in tags
    )


@pytest.mark.parametrize("layout", list(MATRIX))
def test_hostile_markup_and_jinja_come_out_as_text(layout: str) -> None:
    email = rendered(layout, HOSTILE)
    shown = "".join(parse(email.html).text)
    assert "<script>alert(1)</script>" in shown  # first_name, escaped, so it is text
    assert "<script>" not in email.html
    assert "{{ links.unsubscribe }} & Tom <3" in shown
    assert "{{ links.unsubscribe }} & Tom <3" in email.text
    if "recommendations/complementary" in email.decisions.values():
        assert '"><img src=x onerror=alert(1)> range' in shown
        assert "javascript:alert(1)" in shown
        links = [dict(attrs).get("href") for tag, attrs in parse(email.html).tags if tag == "a"]
        assert SVG_URL in links
    if layout == "cart-reminder":
        assert "{{ 7*7 }} {% if true %}jinja{% endif %}" in shown
        assert "{{ 7*7 }} {% if true %}jinja{% endif %}" in email.text


@pytest.mark.parametrize("layout", list(MATRIX))
def test_hostile_first_name_cannot_inject_headers(layout: str) -> None:
    email = rendered(layout, HOSTILE)
    assert "\r" not in email.subject
    assert "\n" not in email.subject
    assert email.subject.startswith("Hi Hugo<script>alert(1)</script> Bcc: victim@example.com, ")
    message = email.to_message(sender="Northwind Goods <shop@northwind.example>")
    assert message.get_all("Subject") == [email.subject]
    assert message["Bcc"] is None
    assert message["To"] == "hugo@example.com"


# -- the German persona -----------------------------------------------------------------------


@pytest.mark.parametrize("layout", list(MATRIX))
def test_german_money_and_dates(layout: str) -> None:
    email = rendered(layout, "german-dora")
    assert "1.234,56\xa0€" in email.html
    assert "1.234,56\xa0€" in email.text
    assert "Abmelden" in email.text
    if layout != "cart-reminder":
        assert email.subject == "Hallo Dora, das ist neu bei Northwind Goods"
        assert "13. Oktober 2026" in email.html
        assert "13. Oktober 2026" in email.text


# -- explain ------------------------------------------------------------------------------------


def test_explain_names_winners_and_failed_conditions() -> None:
    p = project()
    explanation = p.explain("weekly", p.personas["vip-vera"])
    assert explanation.segments == ("vip", "recent_purchaser", "gold", "engaged", "champions")
    winners = {d.slot: d.module for d in explanation.decisions}
    assert winners == dict(rendered("weekly", "vip-vera").decisions)
    for decision in explanation.decisions:
        won = [c.module for c in decision.candidates if c.outcome == WON]
        assert won == [decision.module]
    candidates = {c.module: c for d in explanation.decisions for c in d.candidates}
    silver = candidates["loyalty/silver"]
    assert silver.outcome == NOT_TARGETED
    assert [(e.condition, e.value) for e in silver.failed] == [("tier = Silver", "Gold")]
    cart = candidates["hero/abandoned-cart"]
    assert [(e.condition, e.value) for e in cart.failed] == [("cart_items > 0", 0)]
    assert candidates["hero/win-back"].outcome == EXCLUDED
    assert candidates["hero/german"].outcome == WRONG_LOCALE
    assert candidates["hero/recent-purchase"].outcome == LOST_PRIORITY
    text = str(explanation)
    assert "hero: hero/vip-early-access — priority 100" in text
    assert "loyalty: loyalty/gold — priority 20" in text
    assert (
        "✗ loyalty/silver [priority 10] not in a targeted segment: targets silver; recipient is "
        "in none of them — failed: tier = Silver (saw 'Gold')"
    ) in text
    assert (
        "✗ hero/win-back [priority 40] excluded: recipient is in excluded segment "
        "'recent_purchaser'"
    ) in text
