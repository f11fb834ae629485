"""The Project: loading, personas, now, render_many (nothing lost, order kept, workers)."""

from __future__ import annotations

import gc
import json
import random
import sys
import weakref
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from personalize import (
    ConfigError,
    PersonalizeError,
    Project,
    RecipientError,
    RegistryError,
    RenderedEmail,
    parallel,
)
from personalize.compile import VariantKey
from personalize.errors import RenderError, RuleError
from personalize.lint import lint_project
from personalize.segments import Segments
from personalize.variants import Variants
from projects import ANN, HERO, make_project, module

ROOT = Path(__file__).resolve().parents[1]
LAYOUTS = ("weekly", "welcome", "cart-reminder")


def test_load_reports_the_first_problem_with_its_location(tmp_path: Path) -> None:
    make_project(tmp_path, modules={"hero/default": "---\nsegments: [vipp]\n---\n<mj-section/>"})
    with pytest.raises(ConfigError) as caught:
        Project.load(tmp_path)
    assert str(caught.value) == (
        "modules/hero/default.mjml line 2: segments[0]: unknown segment 'vipp' — known "
        "segments: buyer, gold"
    )


def test_a_missing_layout_is_named_with_a_hint(tmp_path: Path) -> None:
    project = Project.load(make_project(tmp_path))
    with pytest.raises(RegistryError) as caught:
        project.render("nwes", ANN)
    assert str(caught.value) == "no layout 'nwes' — did you mean 'news'?"


def test_an_unknown_locale_compiles_no_variant(tmp_path: Path) -> None:
    project = Project.load(make_project(tmp_path))
    for render in (project.render, project.render_reference):
        with pytest.raises(RecipientError) as caught:
            render("news", {**ANN, "locale": "xx_YY"})
        assert str(caught.value) == (
            "recipient ann: locale: unknown locale 'xx_YY' — use a locale Babel knows, such as "
            "'en_US' or 'de_DE'"
        )
    # Refused before MJML and Jinja ran: a send with many such records pays nothing per record.
    assert project.cache_info["size"] == 0


def test_personas_are_validated_with_file_and_line(tmp_path: Path) -> None:
    make_project(tmp_path, personas=[ANN, {"id": "bad", "email": "nope"}])
    with pytest.raises(RecipientError) as caught:
        Project.load(tmp_path).personas  # noqa: B018 - the property loads lazily
    assert str(caught.value) == (
        "personas.jsonl line 2 (recipient bad): email: expected an email address such as "
        "'ann@example.com', got 'nope' — an address has a user, an '@' and a domain, as in "
        "'user@example.com'"
    )


def test_a_persona_id_used_twice_is_an_error_not_a_silent_replacement(tmp_path: Path) -> None:
    make_project(tmp_path, personas=[ANN, {**ANN, "first_name": "Bob"}])
    with pytest.raises(ConfigError) as caught:
        Project.load(tmp_path).personas  # noqa: B018
    assert str(caught.value) == (
        "personas.jsonl line 2 (recipient ann): duplicate id — already on line 1 — give every "
        "persona its own id"
    )
    report = lint_project(tmp_path)
    assert [str(f.message) for f in report.findings if f.location.startswith("personas")] == [
        "recipient ann: duplicate id — already on line 1"
    ]


def test_a_personas_file_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    make_project(tmp_path, extra={"personas.jsonl": "\ufeff" + json.dumps(ANN) + "\r\n"})
    assert list(Project.load(tmp_path).personas) == ["ann"]


def test_invalid_json_lines_are_located(tmp_path: Path) -> None:
    make_project(tmp_path, extra={"personas.jsonl": json.dumps(ANN) + "\n{oops\n"})
    with pytest.raises(ConfigError) as caught:
        Project.load(tmp_path).personas  # noqa: B018
    assert str(caught.value) == (
        "personas.jsonl line 2: invalid JSON: Expecting property name enclosed in double quotes "
        "(column 2) — each line must be one JSON object"
    )


def test_now_defaults_to_the_pinned_clock_and_naive_times_use_the_project_zone(
    tmp_path: Path,
) -> None:
    project = Project.load(make_project(tmp_path))
    assert project.now().isoformat() == "2026-11-27T09:00:00+01:00"
    naive = project.now(datetime(2026, 7, 1, 12, 0))
    assert naive.tzinfo == ZoneInfo("Europe/Berlin")
    assert naive.utcoffset().total_seconds() == 7200  # type: ignore[union-attr]


def _records(count: int, bad: set[int]) -> list[dict[str, object]]:
    return [
        {"id": f"r{i}", "email": "nope" if i in bad else f"r{i}@example.com", "links": {}}
        for i in range(count)
    ]


def test_render_many_loses_nothing_and_keeps_order(tmp_path: Path) -> None:
    project = Project.load(make_project(tmp_path))
    outcomes = list(project.render_many("news", _records(1000, {10, 500, 999})))
    assert [o.index for o in outcomes] == list(range(1000))
    failed = [o for o in outcomes if not o.ok]
    assert [(o.index, o.recipient) for o in failed] == [(10, "r10"), (500, "r500"), (999, "r999")]
    assert all(o.error is not None and o.email is None for o in failed)
    assert sum(o.ok for o in outcomes) == 997
    assert str(failed[0].error).startswith("recipient r10: email: expected an email address")


def test_render_many_gives_what_render_gives_record_by_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # render_many runs each stage over a batch of records; every record must still get what
    # render gives it: its email, or the error of the stage it failed in, in input order.
    monkeypatch.setattr(parallel, "BATCH", 32)  # the 76 records span three batches and a part
    project = Project.load(ROOT)
    personas = [
        dict(p.data) | {"id": f"{p.id}-{i}"} for i, p in enumerate(project.personas.values())
    ]
    records: list[object] = []
    for i in range(75):  # three batches and a part, with failures in every one
        record = dict(personas[i % len(personas)])
        if i % 11 == 3:
            record["email"] = "not an address"  # fails validation
        if i % 13 == 5:
            record["locale"] = "xx_XX"  # passes validation, fails rendering
        records.append(record)
    records.insert(40, "not a mapping")
    # Failures in the two middle stages: classifying some records, and choosing the variant
    # of the German ones.
    classify, for_render = Segments.classify, Variants.for_render

    def failing_classify(self: Segments, data: Any, **kwargs: Any) -> Any:
        if str(kwargs.get("recipient", "")).endswith("-7"):
            raise RuleError("no membership for this one", recipient=kwargs["recipient"])
        return classify(self, data, **kwargs)

    def failing_variant(self: Variants, key: VariantKey) -> Any:
        if key.locale == "de_DE":
            raise RenderError("no German variant today", file="templates/weekly.mjml")
        return for_render(self, key)

    monkeypatch.setattr(Segments, "classify", failing_classify)
    monkeypatch.setattr(Variants, "for_render", failing_variant)

    def shown(email: RenderedEmail) -> tuple[str, str, str]:
        return email.subject, email.html, email.text

    expected = []
    for record in records:
        try:
            expected.append(shown(project.render("weekly", record)))  # type: ignore[arg-type]
        except PersonalizeError as exc:
            expected.append(str(exc))
    outcomes = list(project.render_many("weekly", records))  # type: ignore[arg-type]
    assert [o.index for o in outcomes] == list(range(len(records)))
    assert [shown(o.email) if o.email else str(o.error) for o in outcomes] == expected
    failed = [str(o.error) for o in outcomes if o.error]
    assert any("email: expected an email address" in e for e in failed)
    assert any("unknown locale 'xx_XX'" in e for e in failed)
    assert any("expected a JSON object" in e for e in failed)
    assert any("no membership for this one" in e for e in failed)
    assert any("no German variant today" in e and "(recipient " in e for e in failed)


def test_render_with_a_membership_from_classify_renders_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = Project.load(ROOT)
    personas = list(project.personas.values())
    memberships = [project.classify(persona) for persona in personas]
    expected = [project.render(layout, p) for p in personas for layout in LAYOUTS]

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("classified a second time")

    monkeypatch.setattr(Segments, "classify", refuse)
    given = [
        project.render(layout, p, membership=m)
        for p, m in zip(personas, memberships, strict=True)
        for layout in LAYOUTS
    ]
    assert given == expected


def test_render_many_in_processes_equals_serial(tmp_path: Path) -> None:
    project = Project.load(make_project(tmp_path))
    records = _records(300, {7})
    serial = [
        (o.recipient, o.email.html if o.email else str(o.error))
        for o in project.render_many("news", records)
    ]
    parallel = [
        (o.recipient, o.email.html if o.email else str(o.error))
        for o in project.render_many("news", records, workers=2, chunk_size=32)
    ]
    assert parallel == serial


def test_shuffled_order_gives_each_recipient_the_same_email() -> None:
    # Caches (variants, regions, memoized decisions, experiment arms) must never carry one
    # recipient's email into another's, whatever the order.
    sys.path.insert(0, str(ROOT))  # `python -m pytest` puts it there too; plain `pytest` does not
    from examples.generate_audience import generate

    records = list(generate(300, seed=5))
    layouts = Project.load(ROOT).layouts

    def emails(order: list[int]) -> dict[tuple[str, int], tuple[str, ...]]:
        project = Project.load(ROOT)  # fresh caches
        out = {}
        for layout in layouts:
            for i in order:
                try:
                    e = project.render(layout, records[i])
                    out[layout, i] = (e.subject, e.preheader, e.html, e.text, *e.warnings)
                except PersonalizeError as exc:
                    out[layout, i] = (str(exc),)
        return out

    order = list(range(len(records)))
    shuffled = order[:]
    random.Random(3).shuffle(shuffled)
    assert emails(shuffled) == emails(order)


def test_the_bundled_project_renders_every_layout_for_every_persona() -> None:
    project = Project.load(ROOT)
    for layout in project.layouts:
        for persona in project.personas.values():
            assert project.render(layout, persona).html


def test_records_from_jsonl_keep_their_line_numbers(tmp_path: Path) -> None:
    project = Project.load(make_project(tmp_path))
    audience = tmp_path / "audience.jsonl"
    audience.write_text(
        json.dumps(ANN)
        + "\n\n"
        + json.dumps({"id": "x", "email": "x@example.com", "orders": [{"at": "soon"}]})
        + "\n"
    )
    with pytest.raises(RecipientError) as caught:
        list(project.read_records(audience))
    assert str(caught.value).startswith(f"{audience} line 3 (recipient x): orders[0].at:")


def test_render_many_in_processes_accepts_validated_recipients() -> None:
    project = Project.load(ROOT)
    personas = list(project.personas.values())
    parallel = list(project.render_many("weekly", personas, workers=2, chunk_size=3))
    assert [o.recipient for o in parallel] == [p.id for p in personas]
    assert all(o.ok for o in parallel)
    assert [(o.email.html, o.email.warnings) for o in parallel] == [  # type: ignore[union-attr]
        (e.html, e.warnings) for e in (project.render("weekly", p) for p in personas)
    ]


def test_a_project_is_freed_with_its_last_reference() -> None:
    # Nothing a project holds refers back to it: dropped, it goes at once, without waiting for
    # the cyclic collector (which render_many pauses, and callers may turn off).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        project = Project.load(ROOT)
        list(project.render_many("weekly", list(project.personas.values())[:3]))
        alive = weakref.ref(project), weakref.ref(project.segments)
        del project
        assert [ref() is None for ref in alive] == [True, True]
    finally:
        if was_enabled:
            gc.enable()


def test_a_jinja_runtime_error_from_data_is_located_and_the_batch_goes_on(tmp_path: Path) -> None:
    hero = module("description: fallback", "<mj-text>{{ nickname | reverse | join }}</mj-text>")
    root = make_project(tmp_path, modules={"hero/default": hero})
    project = Project.load(root)
    records = [
        {**ANN, "nickname": "Nan"},
        {**ANN, "id": "bo"},
        {**ANN, "id": "cy", "nickname": "C"},
    ]
    outcomes = list(project.render_many("news", records))
    assert [o.ok for o in outcomes] == [True, False, True]
    assert str(outcomes[1].error) == (
        "modules/hero/default.mjml line 4 (recipient bo): {{ nickname | reverse | join }} "
        "failed: FilterArgumentError: argument must be iterable"
    )


def test_a_when_rule_of_a_module_that_cannot_win_never_fails_the_email(tmp_path: Path) -> None:
    # A German-only module's rule fails on this value; an English recipient never reaches it.
    german = module(
        "locales: [de]\nwhen: {nickname: {within: 30d}}\npriority: 200",
        "<mj-text>Willkommen zurück</mj-text>",
    )
    root = make_project(tmp_path, modules={"hero/default": HERO, "hero/comeback-de": german})
    project = Project.load(root)
    record = {**ANN, "nickname": "yesterday"}
    assert project.decide("news", record).as_dict()["hero"] == "hero/default"
    assert "Hi Ann" in project.render("news", record).text
    (outcome,) = project.render_many("news", [record])
    assert outcome.ok
    with pytest.raises(RuleError) as caught:  # where the rule is reached, it still fails
        project.render("news", {**record, "locale": "de_DE"})
    assert str(caught.value) == (
        "modules/hero/comeback-de.mjml line 3 (recipient ann): nickname: expected an ISO date or "
        "date-time, got 'yesterday' (text) — check the field's type in the recipient schema"
    )


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (
            datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5))),
            "now: the render time 9999-12-31T23:59:59-05:00 is out of range: in UTC it falls "
            "after the end of year 9999",
        ),
        (
            datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=2))),
            "now: the render time 0001-01-01T00:00:00+02:00 is out of range: in UTC it falls "
            "before the start of year 1",
        ),
    ],
    ids=["after-9999", "before-1"],
)
def test_a_render_time_out_of_range_is_a_located_error(now: datetime, expected: str) -> None:
    project = Project.load(ROOT)
    vera = project.personas["vip-vera"]
    # `now` is the caller's argument: neither segments.yaml nor the recipient is blamed, and
    # render_many refuses it before the first record rather than failing every one.
    hint = " — render at a time between years 1 and 9999 in UTC, e.g. now=datetime.now(UTC)"
    for call in (
        lambda: project.classify(vera, now=now),
        lambda: project.render("weekly", vera, now=now),
        lambda: project.explain("weekly", vera, now=now),
        lambda: list(project.render_many("weekly", [vera], now=now)),
        lambda: project.lint(now=now),
    ):
        with pytest.raises(RuleError) as caught:
            call()
        assert str(caught.value) == expected + hint
        assert caught.value.path == "now"


def test_a_window_before_year_one_names_the_render_time() -> None:
    project = Project.load(ROOT)
    with pytest.raises(RuleError) as caught:
        project.classify(project.personas["vip-vera"], now=datetime(1, 1, 1, tzinfo=UTC))
    assert str(caught.value) == (
        "segments.yaml line 3 (recipient vip-vera): orders: metric 'orders_30d': the render "
        "time 0001-01-01T00:00:00+00:00 is too early for a window of 30d: the window would "
        "start before year 1 — render at a later time, or shorten the window"
    )


@pytest.mark.parametrize("target", ["nowhere.yaml", "segments.yaml"], ids=["dangling", "loop"])
def test_a_broken_link_for_the_segments_file_is_a_load_error(tmp_path: Path, target: str) -> None:
    root = make_project(tmp_path)
    (root / "segments.yaml").unlink()
    (root / "segments.yaml").symlink_to(target)  # "segments.yaml": a link to itself
    with pytest.raises(ConfigError) as caught:
        Project.load(root)
    assert str(caught.value) == (
        f"segments.yaml: cannot read the file (broken link to '{target}') — point the link at "
        "an existing file, or put the file itself in its place"
    )
