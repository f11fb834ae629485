"""Lint: the fixture's exact findings, a clean starter kit, messages, the CLI, the loaders."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personalize import Project
from personalize.cli import main
from personalize.config import load_settings
from personalize.errors import PersonalizeError
from personalize.includes import Source
from personalize.lint import CODES, LintReport, lint_project
from personalize.lintcontent import content_findings
from personalize.prepare import check_unopened_front_matter
from personalize.registry import Module, load_registry
from personalize.segmentfile import read_segments
from personalize.templating import make_environments
from projects import ANN, SETTINGS, make_project, module

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "lint"

# One defect per code, at these places (tests/fixtures/lint; docs/lint.md shows each one).
EXPECTED = {
    ("L001", "modules/hero/typo.mjml", 3),
    ("L101", "modules/sidebar/news.mjml", 2),
    ("L102", "templates/promo.mjml", 9),
    ("L103", "modules/hero/ghost.mjml", 2),
    ("L104", "modules/loyalty/gold.mjml", 2),
    ("L105", "templates/promo.mjml", 7),
    ("L201", "modules/hero/vip-copy.mjml", 3),
    ("L202", "modules/offer/ten-off.mjml", 3),
    ("L203", "modules/offer/summer.mjml", 3),
    ("L204", "modules/offer/christmas.mjml", 3),
    ("L205", "templates/promo.mjml", 8),
    ("L206", "templates/promo.mjml", 10),
    ("L207", "templates/promo.mjml", 8),
    ("L301", "modules/extra/unknown-name.mjml", 7),
    ("L302", "modules/extra/optional.mjml", 8),
    ("L303", "segments.yaml", 22),
    ("L401", "modules/extra/safe.mjml", 7),
    ("L402", "modules/extra/autoescape.mjml", 7),
    ("L403", "modules/extra/js-link.mjml", 7),
    ("L404", "modules/extra/script.mjml", 7),
    ("L405", "modules/extra/onclick.mjml", 7),
    ("L406", "modules/extra/no-alt.mjml", 7),
    ("L407", "templates/promo.mjml", 5),
    ("L501", "modules/extra/exp-solo.mjml", 4),
    ("L502", "modules/extra/exp-a.mjml", 4),
    ("L503", "modules/loyalty/base-a.mjml", 2),
}

LAYOUT = """---
subject: "Hello {{ first_name }}"
---
<mjml>
  <mj-body>
    <slot name="hero"/>
    <slot name="extra" optional/>
    <mj-section><mj-column>
      <mj-text><a href="{{ links.unsubscribe | url }}">Unsubscribe</a></mj-text>
    </mj-column></mj-section>
  </mj-body>
</mjml>
"""
# The test projects' `links` is optional: give it a default, as the layout prints it.
OWN_SETTINGS = SETTINGS.replace('links = "links"', 'links = {type = "links", default = {}}')
HERO = module("description: everyone", "<mj-section><mj-column></mj-column></mj-section>")


@pytest.fixture(scope="module")
def fixture_report() -> LintReport:
    return lint_project(FIXTURE)


def _project(tmp_path: Path, *, modules: dict[str, str] | None = None, **kwargs: Any) -> Path:
    everyone = {"hero/default": HERO, **(modules or {})}
    kwargs.setdefault("settings", OWN_SETTINGS)
    kwargs.setdefault("layouts", {"news": LAYOUT})
    return make_project(tmp_path, modules=everyone, **kwargs)


def _found(root: Path, code: str, *, now: datetime | None = None) -> list[str]:
    return [str(f) for f in lint_project(root, now=now).findings if f.code == code]


# -- the fixture and the starter kit ------------------------------------------------------------


def test_fixture_reports_exactly_one_finding_per_code_at_its_place(
    fixture_report: LintReport,
) -> None:
    assert {(f.code, f.file, f.line) for f in fixture_report.findings} == EXPECTED
    assert len(fixture_report.findings) == len(EXPECTED)


def test_every_code_is_in_the_fixture_and_documented() -> None:
    assert {code for code, _, _ in EXPECTED} == set(CODES)
    docs = (ROOT / "docs" / "lint.md").read_text(encoding="utf-8")
    for code in CODES:
        assert f"### {code}" in docs, code


def test_the_starter_kit_is_clean_at_its_pinned_now() -> None:
    report = lint_project(ROOT)
    assert report.findings == ()
    assert report.exit_code == 0
    assert report.now == datetime.fromisoformat("2026-11-27T09:00:00+01:00")


def test_report_counts_severities(fixture_report: LintReport) -> None:
    assert len(fixture_report.errors) == 18
    assert len(fixture_report.warnings) == 8
    assert fixture_report.exit_code == 1
    data = fixture_report.to_dict()
    assert (data["errors"], data["warnings"], len(data["findings"])) == (18, 8, 26)
    assert str(fixture_report).endswith("18 errors, 8 warnings")


def test_a_problem_that_stops_the_load_is_an_error_whatever_its_code(
    fixture_report: LintReport,
) -> None:
    inverted = next(f for f in fixture_report.findings if f.code == "L204")
    assert (inverted.severity, inverted.blocking) == ("error", True)
    assert str(inverted).startswith("modules/offer/christmas.mjml:3: L204 error: active: active ")


# -- exact messages -------------------------------------------------------------------------------

MESSAGES = {
    "L201": "modules/hero/vip-copy.mjml:3: L201 warning: hero/vip-copy is never chosen: hero/vip "
    "(priority 10) comes first in slot 'hero' and targets everyone hero/vip-copy targets — give "
    "hero/vip-copy a higher priority than 10, narrow hero/vip's targeting, or delete hero/vip-copy",
    "L202": "modules/offer/ten-off.mjml:3: L202 warning: offer/ten-off and offer/free-ship have "
    "the same priority (10) and overlapping audiences (both target 'buyer'): offer/free-ship wins "
    "only because its id sorts first — raise the priority of the one that should win, or make "
    "their audiences exclusive (e.g. exclude: [...] on offer/ten-off)",
    "L203": "modules/offer/summer.mjml:3: L203 warning: active: window 2026-06-01 – 2026-08-31 "
    "ended before now (2026-11-27T09:00+01:00), so the module is never chosen — move the window, "
    "or delete the module; lint checks windows at --now (default: the project's now, else the "
    "current time)",
    "L205": "templates/promo.mjml:8: L205 warning: required slot 'teaser' has no module for "
    "everyone in locale de_DE (persona dora): such recipients outside every targeted module get "
    "none — add a module without targeting in modules/teaser/, or one with locales: [de]",
    "L206": "templates/promo.mjml:10: L206 error: required slot 'footer' has no module for "
    "everyone active at now (2026-11-27T09:00+01:00): footer/new-year is active 2027-01-01 – …, "
    "so recipients outside every targeted module get none — add a module without targeting or "
    "window in modules/footer/, or move the window; lint checks windows at --now (default: the "
    "project's now, else the current time)",
    "L207": "templates/promo.mjml:8: L207 warning: layout 'promo': the variants of experiment "
    "'teaser-subject' in slot 'teaser' differ in subject, but modules of earlier slot 'hero' "
    "(hero/vip) set a subject too, and the first chosen module in slot order that sets one wins: "
    "recipients who get one of them are recorded in their arm but never see its subject — move "
    "the test to slot 'hero', the first slot that sets a subject, or set the subject on the "
    "layout instead of on those modules",
    "L301": "modules/extra/unknown-name.mjml:7: L301 error: unknown name 'nick': not a field, "
    "metric, score or template global — did you mean 'nickname'?",
    "L302": "modules/extra/optional.mjml:8: L302 warning: {{ nickname }} prints optional field "
    "'nickname', which has no default: it fails for recipients without it — declare a default "
    "for 'nickname' in personalize.toml, write {{ nickname | default('…') }}, or wrap it in "
    "{% if nickname %}…{% endif %}",
    "L303": "segments.yaml:22: L303 warning: segments 'vip' and 'lapsed' of exclusive group "
    "'lifecycle' both match persona vic; the group keeps 'vip' — 'vip' and 'lapsed' test "
    "different values, so only the group's order separates them: check that recipients may "
    "really be in both, or take one out of the group",
    "L103": "modules/hero/ghost.mjml:2: L103 error: segments[0]: unknown segment 'vipp' — did you "
    "mean 'vip'?",
    "L104": "modules/loyalty/gold.mjml:2: L104 error: segments[1]: segment 'gold' is listed "
    "twice — list each segment once",
    "L001": "modules/hero/typo.mjml:3: L001 error: priorty: unknown module key 'priorty' — did "
    "you mean 'priority'?",
    "L407": "templates/promo.mjml:5: L407 error: layout has no unsubscribe link: expected an href "
    "containing 'unsubscribe' or the [message] unsubscribe field 'links.unsubscribe' — add a "
    'footer link such as <a href="{{ links.unsubscribe | url }}">Unsubscribe</a>; recipients '
    "and the law expect one in every marketing email",
    "L403": "modules/extra/js-link.mjml:7: L403 error: href= on <mj-button> is a javascript: URL, "
    "expected an http(s), mailto or tel link — use an http:, https:, mailto: or tel: URL",
}


@pytest.mark.parametrize("code", sorted(MESSAGES), ids=sorted(MESSAGES))
def test_exact_messages(fixture_report: LintReport, code: str) -> None:
    assert [str(f) for f in fixture_report.findings if f.code == code] == [MESSAGES[code]]


def test_a_load_error_that_lint_also_finds_is_reported_once(fixture_report: LintReport) -> None:
    # check_markup stops js-link.mjml at its script URL: lint's own message is kept.
    found = [f for f in fixture_report.findings if f.file == "modules/extra/js-link.mjml"]
    assert [f.code for f in found] == ["L403"]


# -- single checks on small projects --------------------------------------------------------------


def test_settings_that_do_not_load_stop_lint_with_one_finding(tmp_path: Path) -> None:
    root = _project(tmp_path, settings="[project]\ntimzone = 'UTC'\n")
    report = lint_project(root)
    assert [str(f) for f in report.findings] == [
        "personalize.toml:2: L001 error: project.timzone: unknown setting 'timzone' — did you "
        "mean 'timezone'?"
    ]
    assert report.now is None


def test_a_missing_folder_is_one_l001(tmp_path: Path) -> None:
    report = lint_project(tmp_path / "nowhere")
    assert [(f.code, f.file) for f in report.findings] == [("L001", "personalize.toml")]


def test_every_markup_problem_of_one_file_is_reported(tmp_path: Path) -> None:
    body = """<mj-section><mj-column>
      <mj-raw><script>x()</script></mj-raw>
      <mj-text><a href="data:text/html,hi" onmouseover="x()">a</a></mj-text>
      <mj-image src="https://shop.example/a.png" alt="" />
      <mj-button href="https://shop.example/">{{ first_name | safe }}</mj-button>
    </mj-column></mj-section>"""
    root = _project(tmp_path, modules={"extra/x": module("when: {tier: Gold}", body)})
    found = {(f.code, f.line) for f in lint_project(root).findings}
    assert found == {("L404", 5), ("L403", 6), ("L405", 6), ("L401", 8)}


def test_markup_the_load_refuses_is_one_l001_with_the_load_s_message(tmp_path: Path) -> None:
    # |tojson, |xmlattr and |urlize, and elements that embed or redirect, stop Project.load:
    # lint lists each as an L001, once, with the load's message.
    json = '<mj-text><span title="{{ first_name | tojson }}">x</span></mj-text>'
    frame = '<mj-raw><iframe src="https://x.example/"></iframe></mj-raw>'
    modules = {
        f"extra/{name}": module(
            "when: {tier: Gold}", f"<mj-section><mj-column>\n{body}\n</mj-column></mj-section>"
        )
        for name, body in (("json", json), ("frame", frame))
    }
    root = _project(tmp_path, modules=modules)
    assert _found(root, "L001") == [
        "modules/extra/frame.mjml:5: L001 error: <iframe> elements are not allowed: '<iframe "
        'src="https://x.example/">\' — it embeds content that no check sees, and email clients '
        "do not show it; remove the element, or link to the content with <a href>",
        "modules/extra/json.mjml:5: L001 error: |tojson is not allowed in layouts and modules: "
        "its JSON keeps quotes unescaped, so recipient data inside an attribute could end it and "
        "add attributes — print the value itself, {{ value }}: it is HTML-escaped",
    ]
    assert [f for f in lint_project(root).findings if f.code.startswith("L4")] == []


def test_windows_outside_any_sensible_year_never_open(tmp_path: Path) -> None:
    front = "segments: [gold]\nactive: {from: 2620-11-01, until: 2620-11-30}"
    root = _project(tmp_path, modules={"hero/x": module(front, "<mj-section></mj-section>")})
    assert _found(root, "L204") == [
        "modules/hero/x.mjml:3: L204 warning: active: window 2620-11-01 – 2620-11-30 lies outside "
        "the years 2000–2099, so it is never active — check the year of each bound"
    ]
    assert _found(root, "L203") == []


def test_now_decides_which_windows_expired(tmp_path: Path) -> None:
    front = "segments: [gold]\nactive: {until: 2026-12-01}"
    root = _project(tmp_path, modules={"hero/x": module(front, "<mj-section></mj-section>")})
    assert _found(root, "L203") == []
    assert len(_found(root, "L203", now=datetime(2026, 12, 5, 9))) == 1


def test_a_segment_both_targeted_and_excluded(tmp_path: Path) -> None:
    front = "segments: [gold, buyer]\nexclude: [buyer]"
    root = _project(tmp_path, modules={"hero/x": module(front, "<mj-section></mj-section>")})
    assert _found(root, "L104") == [
        "modules/hero/x.mjml:3: L104 error: exclude[0]: segment 'buyer' is both targeted and "
        "excluded, so the module never matches it — remove 'buyer' from segments or from exclude"
    ]


def test_a_persona_shows_an_ambiguity_targeting_alone_cannot(tmp_path: Path) -> None:
    body = "<mj-section></mj-section>"
    modules = {
        "hero/a": module("segments: [gold]\npriority: 5", body),
        "hero/b": module("segments: [buyer]\npriority: 5", body),
    }
    root = _project(tmp_path / "1", modules=modules, personas=[ANN])
    assert _found(root, "L202") == []
    orders = [{"at": "2026-11-20T10:00:00+01:00", "total": "5"}]
    both = {**ANN, "tier": "Gold", "orders": orders}
    root = _project(tmp_path / "2", modules=modules, personas=[both])
    assert [f.split(" — ")[0] for f in _found(root, "L202")] == [
        "modules/hero/b.mjml:3: L202 warning: hero/b and hero/a have the same priority (5) and "
        "overlapping audiences (persona ann fits both): hero/a wins only because its id sorts first"
    ]


def test_groups_over_the_same_values_may_overlap_at_their_edges(tmp_path: Path) -> None:
    segments = """
    metrics:
      orders_30d: {count: orders, within: 30d}
    segments:
      many: {when: {orders_30d: {gte: 2}}}
      some: {when: {orders_30d: {gte: 1}}}
      gold: {when: {tier: Gold}}
    groups:
      bands: {exclusive: true, order: [many, some]}
      mixed: {exclusive: true, order: [gold, x]}
    """
    orders = [{"at": "2026-11-20T10:00:00+01:00", "total": "5"}] * 2
    persona = {**ANN, "orders": orders}
    root = _project(tmp_path, segments=segments, personas=[persona])
    assert _found(root, "L303") == []  # many ⊂ some is the point of the order
    assert [f.code for f in lint_project(root).findings] == ["L103"]  # 'x' in mixed's order


def test_a_fallback_that_does_not_load_leaves_its_slot_without_one(tmp_path: Path) -> None:
    broken = module("descripton: typo", "<mj-section></mj-section>")
    root = _project(tmp_path, modules={"hero/default": broken})
    assert [f.code for f in lint_project(root).findings] == ["L001", "L105"]


def test_one_mistake_in_the_segments_file_is_one_finding(tmp_path: Path) -> None:
    segments = """
    metrics:
      orders_30d: {count: ordrs, within: 30d}
    segments:
      buyer: {when: {orders_30d: {gte: 1}}}
      loyal: {when: {buyer: true}}
    """
    extra = module(
        "segments: [loyal]",
        "<mj-section><mj-column><mj-text>{{ orders_30d }}</mj-text></mj-column></mj-section>",
    )
    root = _project(tmp_path, segments=segments, modules={"extra/x": extra})
    assert [str(f) for f in lint_project(root).findings] == [
        "segments.yaml:3: L001 error: metrics.orders_30d.count: unknown field 'ordrs' — did you "
        "mean 'orders'?"
    ]


@pytest.mark.parametrize(
    ("segments", "codes"),
    [
        ("segments:\n  buyer: {when: {tier: Gold}}\n  broken: [\n", ["L001"]),
        # One line of flow YAML hides its names: the module's segment looks unknown too.
        ("segments: {buyer: {when: 5", ["L103", "L001"]),
    ],
    ids=["block", "flow"],
)
def test_segments_that_are_not_yaml_still_declare_their_names(
    tmp_path: Path, segments: str, codes: list[str]
) -> None:
    hero = module("segments: [buyer]\npriority: 1", "<mj-section></mj-section>")
    root = _project(tmp_path, segments=segments, modules={"hero/buyer": hero})
    assert [f.code for f in lint_project(root).findings] == codes


def test_modules_of_a_layout_that_fails_are_not_unknown_slots_too(tmp_path: Path) -> None:
    broken = LAYOUT.replace("subject:", "subjet:").replace('name="extra"', 'name="side"')
    side = module("description: x", "<mj-section></mj-section>")
    root = _project(tmp_path, modules={"side/x": side}, layouts={"news": LAYOUT, "other": broken})
    assert [(f.code, f.file) for f in lint_project(root).findings] == [
        ("L001", "templates/other.mjml")
    ]


# -- the command line ---------------------------------------------------------------------------


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().out


def test_cli_exits_1_on_errors_with_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(["--project", str(FIXTURE), "lint"], capsys)
    assert code == 1
    assert "modules/hero/typo.mjml:3" in out
    assert "L503" in out
    assert out.rstrip().endswith("18 errors, 8 warnings")


def test_cli_json_lists_every_finding(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(["--project", str(FIXTURE), "lint", "--format", "json"], capsys)
    assert code == 1
    data = json.loads(out)
    assert {(f["code"], f["file"], f["line"]) for f in data["findings"]} == EXPECTED
    assert data["findings"][0] == {
        "code": "L402",
        "severity": "error",
        "file": "modules/extra/autoescape.mjml",
        "line": 7,
        "message": "{% autoescape false %} prints every value inside it unescaped",
        "hint": "remove the autoescape block; escaping keeps recipient data from becoming markup",
    }


def test_cli_exits_0_with_warnings_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    front = "segments: [gold]\nactive: {until: 2026-11-01}"
    root = _project(tmp_path, modules={"hero/x": module(front, "<mj-section></mj-section>")})
    code, out = _run(["--project", str(root), "lint"], capsys)
    assert code == 0
    assert "L203" in out
    assert out.rstrip().endswith("0 errors, 1 warning")


def test_cli_now_and_a_clean_project(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(["--project", str(ROOT), "lint"], capsys)
    assert (code, out.strip()) == (0, "no problems found")
    code, out = _run(["--project", str(ROOT), "lint", "--now", "2026-12-05T09:00:00+01:00"], capsys)
    assert code == 0
    assert "L203" in out  # the Black Friday offers ended on November 30
    code, _ = _run(["--project", str(ROOT), "lint", "--now", "soon"], capsys)
    assert code == 2


# -- collecting mode of the loaders ---------------------------------------------------------------


def test_load_registry_collects_and_goes_on_but_raises_by_default() -> None:
    kwargs: dict[str, Any] = {
        "templates": "templates",
        "modules": "modules",
        "names": {"orders_30d"},
        "segments": {"vip", "gold", "buyer"},
        "tz": ZoneInfo("Europe/Berlin"),
    }
    with pytest.raises(PersonalizeError, match="slot 'hero' appears twice"):
        load_registry(FIXTURE, **kwargs)
    problems: list[PersonalizeError] = []
    registry = load_registry(FIXTURE, problems=problems, **kwargs)
    assert [(p.file, p.line) for p in problems] == [
        ("templates/promo.mjml", 9),
        ("modules/hero/ghost.mjml", 2),
        ("modules/hero/typo.mjml", 3),
        ("modules/offer/christmas.mjml", 3),
        ("modules/sidebar/news.mjml", 2),
        ("templates/promo.mjml", 7),
    ]
    assert [s.name for s in registry.layouts["promo"].slots] == [
        "hero",
        "banner",
        "teaser",
        "footer",
    ]
    assert "hero/vip" in registry.modules
    assert "hero/ghost" not in registry.modules


def test_read_segments_skips_each_bad_entry_only(tmp_path: Path) -> None:
    path = tmp_path / "segments.yaml"
    path.write_text(
        "metrics:\n"
        "  a: {count: ordrs}\n"
        "  b: {count: orders}\n"
        "segments:\n"
        "  uses_a: {when: {a: {gt: 1}}}\n"
        "  fine: {when: {b: {gt: 1}}}\n"
        "groups:\n"
        "  g: {exclusive: true, order: [fine, nope]}\n",
        encoding="utf-8",
    )
    fields = frozenset({"orders", "orders.at"})
    with pytest.raises(PersonalizeError, match="unknown field 'ordrs'"):
        read_segments(path, file="segments.yaml", fields=fields)
    problems: list[PersonalizeError] = []
    found = read_segments(path, file="segments.yaml", fields=fields, problems=problems)
    assert found is not None
    assert [str(p) for p in problems] == [
        "segments.yaml line 2: metrics.a.count: unknown field 'ordrs' — did you mean 'orders'?",
        "segments.yaml line 8: groups.g.order[1]: unknown segment 'nope' — list segments "
        "declared under segments:",
    ]
    # uses_a reads the metric left out: it is left out too, and only the metric is reported.
    assert (list(found.metrics), list(found.segments), list(found.groups)) == (["b"], ["fine"], [])


def test_prepare_checks_every_piece_in_collecting_mode(tmp_path: Path) -> None:
    broken = module("when: {tier: T}", "<mj-section>\n{{ x </mj-section>")
    modules = {f"extra/{t}": broken.replace("T", t) for t in ("Gold", "Silver")}
    root = _project(tmp_path, modules=modules)
    assert [str(f) for f in lint_project(root).findings] == [
        f"modules/extra/{t}.mjml:5: L001 error: template syntax error: unexpected '/'"
        for t in ("Gold", "Silver")
    ]


# -- properties -----------------------------------------------------------------------------------

_MARKUP = st.text(alphabet=st.sampled_from(list("<>/=\"' {}%#-!abhimnorstx:\n")), max_size=80)
_SETTINGS = load_settings(FIXTURE)
_ENVS = make_environments(_SETTINGS.limits)


@settings(max_examples=300, deadline=None)
@given(_MARKUP)
def test_content_checks_are_total_and_located(text: str) -> None:
    body = Source.from_text(text, file="modules/hero/x.mjml", first_line=4)
    mod = Module(id="hero/x", slot="hero", file="modules/hero/x.mjml", body=body)
    findings = list(
        content_findings(
            {},
            {"hero/x": mod},
            envs=_ENVS,
            names=frozenset({"first_name"}),
            segments=frozenset(),
            settings=_SETTINGS,
            optional=frozenset({"nickname"}),
        )
    )
    for f in findings:
        assert f.file == "modules/hero/x.mjml"
        assert f.line is not None
        assert 4 <= f.line <= 4 + text.count("\n")
        assert f.code in CODES


def test_project_lint_is_the_same_report() -> None:
    from personalize import Project

    root = Path(__file__).resolve().parents[1]
    report = Project.load(root).lint()
    assert report.findings == ()
    assert report.exit_code == 0


# -- fallbacks at now, holdouts, experiments, content --------------------------------------------

BODY = "<mj-section><mj-column><mj-text>x</mj-text></mj-column></mj-section>"
HOLDOUT = {
    "hero/default": module("experiment: {name: story, variant: a, holdout: 0.5}", BODY),
    "hero/default-b": module("experiment: {name: story, variant: b}", BODY),
}


def test_a_holdout_needs_a_fallback_for_every_locale(tmp_path: Path) -> None:
    # Held-out recipients pass the experiment by; hero/german serves only German ones.
    modules = {**HOLDOUT, "hero/german": module("locales: [de]", BODY)}
    root = _project(tmp_path, modules=modules)
    assert [str(f) for f in lint_project(root).findings] == [
        "templates/news.mjml:6: L205 warning: required slot 'hero' has no module for everyone "
        "in locale en_US (the project's default locale) other than experiment story, which "
        "holds recipients out: such recipients outside every targeted module get none — add a "
        "module without targeting in modules/hero/, or one with locales: [en], or remove the "
        "holdout"
    ]


def test_a_holdout_whose_other_fallback_has_expired(tmp_path: Path) -> None:
    modules = {**HOLDOUT, "hero/old": module("active: {until: 2026-11-01}", BODY)}
    root = _project(tmp_path, modules=modules)
    assert _found(root, "L206") == [
        "templates/news.mjml:6: L206 error: required slot 'hero' has no module for everyone "
        "active at now (2026-11-27T09:00+01:00): hero/old is active … – 2026-11-01, so "
        "recipients outside every targeted module get none — add a module without targeting or "
        "window in modules/hero/, or move the window; lint checks windows at --now (default: "
        "the project's now, else the current time)"
    ]


def test_a_required_slots_only_fallback_has_not_started_yet(tmp_path: Path) -> None:
    modules = {
        "hero/default": module("active: {from: 2027-01-01}", BODY),
        "hero/gold": module("segments: [gold]\npriority: 5", BODY),
    }
    root = _project(tmp_path, modules=modules)
    report = lint_project(root)
    assert [(f.code, f.severity) for f in report.findings] == [("L206", "error")]
    assert report.exit_code == 1
    assert str(report.findings[0]).startswith(
        "templates/news.mjml:6: L206 error: required slot 'hero' has no module for everyone "
        "active at now (2026-11-27T09:00+01:00): hero/default is active 2027-01-01 – …, so "
    )
    assert _found(root, "L206", now=datetime(2027, 1, 2, 9)) == []
    # A window on one fallback is fine while another serves everyone.
    root = _project(tmp_path / "2", modules={**modules, "hero/always": HERO})
    assert lint_project(root).findings == ()
    # While German recipients have theirs, the others have none.
    root = _project(
        tmp_path / "3", modules={**modules, "hero/german": module("locales: [de]", BODY)}
    )
    assert _found(root, "L206") == [
        "templates/news.mjml:6: L206 error: required slot 'hero' has no module for everyone "
        "active at now (2026-11-27T09:00+01:00) in locale en_US (the project's default locale): "
        "hero/default is active 2027-01-01 – …, so such recipients outside every targeted module "
        "get none — add a module without targeting or window in modules/hero/, or move the "
        "window; lint checks windows at --now (default: the project's now, else the current time)"
    ]


def test_a_sibling_variant_that_does_not_load_is_one_finding(tmp_path: Path) -> None:
    modules = {
        "hero/default": module("experiment: {name: story, variant: a}", BODY),
        "hero/default-b": module("priorty: 0\nexperiment: {name: story, variant: b}", BODY),
    }
    root = _project(tmp_path, modules=modules)
    assert [str(f) for f in lint_project(root).findings] == [
        "modules/hero/default-b.mjml:2: L001 error: priorty: unknown module key 'priorty' — did "
        "you mean 'priority'?"
    ]


def test_a_tie_with_an_experiment_is_broken_by_its_name(tmp_path: Path) -> None:
    modules = {
        "extra/b": module("segments: [buyer]\npriority: 5", BODY),
        "extra/y1": module(
            "segments: [gold]\npriority: 5\nexperiment: {name: aaa, variant: a}", BODY
        ),
        "extra/y2": module(
            "segments: [gold]\npriority: 5\nexperiment: {name: aaa, variant: b}", BODY
        ),
    }
    orders = [{"at": "2026-11-20T10:00:00+01:00", "total": "5"}]
    both = {**ANN, "tier": "Gold", "orders": orders}
    root = _project(tmp_path, modules=modules, personas=[both])
    assert [f.split(" — ")[0] for f in _found(root, "L202")] == [
        "modules/extra/b.mjml:3: L202 warning: extra/b and extra/y1 have the same priority (5) "
        "and overlapping audiences (persona ann fits both): extra/y1 wins only because its "
        "experiment name 'aaa' sorts first"
    ]


ADDRESS = OWN_SETTINGS.replace(
    'links = {type = "links", default = {}}',
    'links = {type = "links", default = {}}\naddress = "addr"\n\n[recipient.types.addr]\n'
    'city = "str"',
)


def test_each_level_of_a_dotted_path_needs_its_own_guard(tmp_path: Path) -> None:
    # {% if address.city %} fails at render for a recipient without an address: it guards
    # address.city only, and the hint names the guard that works.
    body = """<mj-section><mj-column>
      <mj-text>{% if address %}{{ address.city }}{% endif %}</mj-text>
      <mj-text>{% if address.city %}{{ address.city }}{% endif %}</mj-text>
      <mj-text>{% if address and address.city %}{{ address.city }}{% endif %}</mj-text>
    </mj-column></mj-section>"""
    modules = {"extra/x": module("when: {tier: Gold}", body)}
    root = _project(tmp_path, settings=ADDRESS, modules=modules)
    assert _found(root, "L302") == [
        "modules/extra/x.mjml:5: L302 warning: {{ address.city }} prints optional field "
        "'address.city', which has no default: it fails for recipients without it — declare a "
        "default for 'address.city' in personalize.toml, write {{ address.city | "
        "default('…') }}, or wrap it in {% if address and address.city %}…{% endif %}",
        "modules/extra/x.mjml:6: L302 warning: {{ address.city }} prints optional field "
        "'address', which has no default: it fails for recipients without it — declare a "
        "default for 'address' in personalize.toml, write {{ address.city | "
        "default('…') }}, or wrap it in {% if address and address.city %}…{% endif %}",
    ]


def test_a_loop_variable_is_not_the_optional_field_it_shadows(tmp_path: Path) -> None:
    body = """<mj-section><mj-column><mj-text>
      {% for nickname in ["a"] %}{{ nickname }}{% else %}{{ nickname }}{% endfor %}
      {% macro m(nickname) %}{{ nickname }}{% endmacro %}{{ m("b") }}
    </mj-text></mj-column></mj-section>"""
    root = _project(tmp_path, modules={"extra/x": module("when: {tier: Gold}", body)})
    # Only the else branch prints the field: it runs when the loop has nothing to loop over.
    assert [f.split(": L302")[0] for f in _found(root, "L302")] == ["modules/extra/x.mjml:5"]


def test_a_script_url_in_any_branch_of_an_href(tmp_path: Path) -> None:
    body = """<mj-section><mj-column>
      <mj-text><a href="{% if first_name == 'Zed' %}https://a.example/{% else %}javascript:alert(1){% endif %}">x</a></mj-text>
      <mj-button href="{% if first_name %}https://a.example/{% else %}data:text/html,x{% endif %}">x</mj-button>
      <mj-button href="https://a.example/?next=javascript:x">fine</mj-button>
      <mj-button href="{{ links.shop }}?next=javascript:x">fine</mj-button>
      <mj-image src="{% if first_name %}https://a.example/a.png{% else %}data:image/png;base64,AA{% endif %}" alt="" />
    </mj-column></mj-section>"""  # noqa: E501
    root = _project(tmp_path, modules={"extra/x": module("when: {tier: Gold}", body)})
    assert _found(root, "L403") == [
        "modules/extra/x.mjml:5: L403 error: href= on <a> is a javascript: URL, expected an "
        "http(s), mailto or tel link — use an http:, https:, mailto: or tel: URL",
        "modules/extra/x.mjml:6: L403 error: href= on <mj-button> is a data: URL, expected an "
        "http(s), mailto or tel link — use an http:, https:, mailto: or tel: URL",
    ]


# -- files that once stopped lint with no report ----------------------------------------------


def test_a_window_until_the_calendars_last_day_is_open_ended(tmp_path: Path) -> None:
    front = "segments: [gold]\nactive: {from: 0001-01-01, until: 9999-12-31}"
    root = _project(tmp_path, modules={"hero/x": module(front, "<mj-section></mj-section>")})
    assert lint_project(root).findings == ()


def test_a_template_too_deep_to_compile_is_one_finding_among_the_others(tmp_path: Path) -> None:
    loops = "".join(f"{{% for a{i} in [1] %}}" for i in range(21)) + "{% endfor %}" * 21
    deep = module(
        "when: {tier: Gold}", f"<mj-section><mj-column>\n{loops}\n</mj-column></mj-section>"
    )
    subject = "{% if first_name %}" * 99 + "x" + "{% endif %}" * 99
    typo = module("descripton: typo", "<mj-section></mj-section>")
    root = _project(
        tmp_path,
        modules={
            "extra/deep": deep,
            "extra/deep-subject": module(f'subject: "{subject}"', ""),
            "extra/typo": typo,
        },
    )
    hint = (
        "nest fewer {% for %} and {% if %} blocks, and chain fewer filters, brackets or "
        "attributes in one expression"
    )
    assert [str(f) for f in lint_project(root).findings] == [
        "modules/extra/deep-subject.mjml:2: L001 error: template nests too deeply to compile — "
        + hint,
        f"modules/extra/deep.mjml:4: L001 error: template nests too deeply to compile — {hint}",
        "modules/extra/typo.mjml:2: L001 error: descripton: unknown module key 'descripton' — "
        "did you mean 'description'?",
    ]


def test_a_control_character_in_front_matter_is_located(tmp_path: Path) -> None:
    broken = module("when: {tier: Gold}\ndescription: x\x1b", "<mj-section></mj-section>")
    root = _project(tmp_path, modules={"extra/x": broken})
    assert [str(f) for f in lint_project(root).findings] == [
        "modules/extra/x.mjml:3: L001 error: invalid YAML: control character U+001B is not "
        "allowed — delete it: most editors do not show it (it often comes with copied text)"
    ]


def test_a_module_in_a_folder_that_is_no_slot_is_located(tmp_path: Path) -> None:
    root = _project(tmp_path, modules={"banner/x": "<mj-section></mj-section>\n"})
    assert [str(f) for f in lint_project(root).findings] == [
        "modules/banner/x.mjml:1: L101 error: slot 'banner' is not used by any layout — slots: "
        "extra, hero"
    ]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_named_pipes_are_findings_not_a_hang(tmp_path: Path) -> None:
    root = _project(tmp_path)
    for name in ("segments.yaml", "personas.jsonl"):
        (root / name).unlink()
        os.mkfifo(root / name)  # reading either would wait for a writer forever
    assert [str(f) for f in lint_project(root).findings] == [
        "personas.jsonl: L001 error: cannot read the file: it is a named pipe, not a regular "
        "file — point the setting at a regular text file",
        "segments.yaml: L001 error: cannot read the file: it is a named pipe, not a regular file "
        "— point the setting at a regular text file",
    ]


def test_an_unknown_project_locale_is_one_finding_at_its_setting(tmp_path: Path) -> None:
    settings = OWN_SETTINGS.replace(
        'timezone = "Europe/Berlin"', 'timezone = "Europe/Berlin"\nlocale = "zz"'
    )
    root = _project(tmp_path, settings=settings)
    assert [str(f) for f in lint_project(root).findings] == [
        "personalize.toml:4: L001 error: project.locale: unknown locale 'zz' — use a locale "
        "Babel knows, such as 'en_US' or 'de_DE'"
    ]


def test_max_length_on_a_number_is_a_finding_not_an_internal_error(tmp_path: Path) -> None:
    settings = OWN_SETTINGS.replace(
        'nickname = "str"', 'nickname = "str"\npoints = {type = "int", max_length = 5}'
    )
    root = _project(tmp_path, settings=settings)
    assert [str(f) for f in lint_project(root).findings] == [
        "personalize.toml:14: L001 error: recipient.fields.points.max_length: max_length does not "
        "apply to a field of type 'int' — remove it: max_length limits text (characters), "
        "list[…] and map (items)"
    ]


def test_a_window_ends_at_its_moment_on_the_night_the_clocks_go_back(tmp_path: Path) -> None:
    # 02:30 summer time is 00:30 UTC; the second 02:10 (winter time, 01:10 UTC) comes after it.
    front = "segments: [gold]\nactive: {until: 2026-10-25T02:30:00}"
    root = _project(tmp_path, modules={"hero/x": module(front, "<mj-section></mj-section>")})
    first = datetime(2026, 10, 25, 2, 10, tzinfo=ZoneInfo("Europe/Berlin"))
    assert _found(root, "L203", now=first) == []
    assert _found(root, "L203", now=first.replace(fold=1)) == [
        "modules/hero/x.mjml:3: L203 warning: active: window … – 2026-10-25 02:30:00 ended "
        "before now (2026-10-25T02:10+01:00), so the module is never chosen — move the window, "
        "or delete the module; lint checks windows at --now (default: the project's now, else "
        "the current time)"
    ]


def test_a_module_locale_written_unlike_a_locale_is_an_error(tmp_path: Path) -> None:
    front = "segments: [gold]\nlocales: [de_de]"
    root = _project(tmp_path, modules={"hero/x": module(front, "<mj-section></mj-section>")})
    assert _found(root, "L001") == [
        "modules/hero/x.mjml:3: L001 error: locales[0]: expected a language such as 'de' or a "
        "locale such as 'de_AT', got 'de_de' — did you mean 'de_DE'? As written it would match "
        "no recipient"
    ]


def test_lint_reads_layout_and_module_folders_outside_the_project(tmp_path: Path) -> None:
    # Project.load supports them; lint named their files relative to the project and crashed.
    inside = lint_project(make_project(tmp_path / "inside"))
    root = make_project(tmp_path / "project")
    shared = tmp_path / "shared"
    shared.mkdir()
    (root / "templates").rename(shared / "templates")
    (root / "modules").rename(shared / "modules")
    toml = root / "personalize.toml"
    folders = f'[project]\ntemplates = "{shared / "templates"}"\nmodules = "../shared/modules"\n'
    toml.write_text(toml.read_text().replace("[project]\n", folders))
    outside = lint_project(root)
    assert [(f.code, f.line) for f in outside.findings] == [
        (f.code, f.line) for f in inside.findings
    ]
    assert outside.findings[0].file == (shared / "templates" / "news.mjml").as_posix()


def test_a_subject_or_preheader_test_that_an_earlier_slot_can_override(tmp_path: Path) -> None:
    def variant(front: str) -> str:
        return module(f"segments: [gold]\n{front}", "<mj-section></mj-section>")

    layout = LAYOUT.replace(
        '<slot name="extra" optional/>',
        '<slot name="extra" optional/>\n    <slot name="offer" optional/>',
    )
    modules = {
        "hero/vip": variant('preheader: "For our VIPs"'),
        "extra/note": variant('subject: "A note"\npreheader: "Read on"'),
        "offer/a": variant('subject: "A"\npreheader: "pa"\nexperiment: {name: lines, variant: a}'),
        "offer/b": variant('subject: "B"\npreheader: "pb"\nexperiment: {name: lines, variant: b}'),
        # Not overridden: a test in the first slot (which does override 'lines'), and
        # variants whose lines differ only between their locale versions.
        "hero/t-a": variant('priority: 3\nsubject: "T"\nexperiment: {name: first, variant: a}'),
        "hero/t-b": variant('priority: 3\nsubject: "U"\nexperiment: {name: first, variant: b}'),
        "offer/c": variant('priority: 2\nsubject: "C"\nexperiment: {name: same, variant: c}'),
        "offer/c-de": variant(
            'priority: 2\nlocales: [de]\nsubject: "D"\nexperiment: {name: same, variant: c}'
        ),
        "offer/d": variant('priority: 2\nsubject: "C"\nexperiment: {name: same, variant: d}'),
        "offer/d-de": variant(
            'priority: 2\nlocales: [de]\nsubject: "D"\nexperiment: {name: same, variant: d}'
        ),
    }
    root = _project(tmp_path, modules=modules, layouts={"news": layout})
    assert _found(root, "L207") == [
        "templates/news.mjml:8: L207 warning: layout 'news': the variants of experiment 'lines' "
        "in slot 'offer' differ in preheader, but modules of earlier slots 'hero' (hero/vip), "
        "'extra' (extra/note) set a preheader too, and the first chosen module in slot order that "
        "sets one wins: recipients who get one of them are recorded in their arm but never see "
        "its preheader — move the test to slot 'hero', the first slot that sets a preheader, or "
        "set the preheader on the layout instead of on those modules",
        "templates/news.mjml:8: L207 warning: layout 'news': the variants of experiment 'lines' "
        "in slot 'offer' differ in subject, but modules of earlier slots 'hero' (hero/t-a, "
        "hero/t-b), 'extra' (extra/note) set a subject too, and the first chosen module in slot "
        "order that sets one wins: recipients who get one of them are recorded in their arm but "
        "never see its subject — move the test to slot 'hero', the first slot that sets a "
        "subject, or set the subject on the layout instead of on those modules",
    ]


# -- front matter below other text ----------------------------------------------------------------

LATE = (
    ": L001 error: front matter must start the file: with other text above it, it would be "
    "sent as body text — move the comment on line 1 below the closing '---' on line {close}"
)


def test_front_matter_below_a_comment_is_a_blocking_l001(tmp_path: Path) -> None:
    gold = "<!-- for gold only -->\n" + module("segments: [gold]", "<mj-section></mj-section>")
    layout = "<!-- the weekly news -->\n" + LAYOUT
    root = _project(tmp_path, modules={"extra/gold": gold}, layouts={"news": LAYOUT, "x": layout})
    report = lint_project(root)
    assert [str(f) for f in report.findings if f.code == "L001"] == [
        "modules/extra/gold.mjml:2" + LATE.format(close=4),
        "templates/x.mjml:2" + LATE.format(close=4),
    ]
    assert all(f.blocking for f in report.findings if f.code == "L001")
    with pytest.raises(PersonalizeError) as info:
        Project.load(root)
    assert str(info.value) == "templates/x.mjml line 2" + LATE.format(close=4).replace(
        ": L001 error", ""
    )


def test_front_matter_after_blank_lines_targets(tmp_path: Path) -> None:
    gold = "\n\n" + module("segments: [gold]", "<mj-section></mj-section>")
    root = _project(tmp_path, modules={"extra/gold": gold}, layouts={"news": "\n" + LAYOUT})
    assert lint_project(root).findings == ()
    project = Project.load(root)
    assert project.registry.modules["extra/gold"].segments == ("gold",)


# -- front matter without its opening '---' -------------------------------------------------------

UNOPENED = (
    "front matter has no opening '---' line: lines 2–3 would be sent as body text — add a line "
    "holding only '---' above line 2, to match the closing '---' on line 4"
)


def test_front_matter_without_its_opening_line_is_a_blocking_l001(tmp_path: Path) -> None:
    # Without the check the module loads with no targeting: a fallback sending its YAML.
    gold = "\nsegments: [gold]\npriority: 10\n---\n<mj-section></mj-section>\n"
    root = _project(tmp_path, modules={"extra/gold": gold})
    assert _found(root, "L001") == ["modules/extra/gold.mjml:2: L001 error: " + UNOPENED]
    with pytest.raises(PersonalizeError) as info:
        Project.load(root)
    assert str(info.value) == "modules/extra/gold.mjml line 2: " + UNOPENED


@pytest.mark.parametrize(
    ("text", "first_line"),
    [
        ("Note: the sale ends soon\n---\n<mj-section></mj-section>", 1),  # names no known key
        ("subject: no closing line\n<mj-section></mj-section>", 1),
        ("<mj-section></mj-section>\n---\n", 1),
        ("priority: 3\n---\n", 4),  # the body of a file that has front matter
    ],
)
def test_text_that_only_looks_like_front_matter_loads(text: str, first_line: int) -> None:
    source = Source.from_text(text, file="m.mjml", first_line=first_line)
    check_unopened_front_matter(source, file="m.mjml")


def test_one_line_of_front_matter_without_its_opening_line(tmp_path: Path) -> None:
    source = Source.from_text("slot: hero\n---\n<mj-section/>", file="m.mjml")
    with pytest.raises(PersonalizeError) as info:
        check_unopened_front_matter(source, file="m.mjml")
    assert str(info.value) == (
        "m.mjml line 1: front matter has no opening '---' line: line 1 would be sent as body "
        "text — add a line holding only '---' above line 1, to match the closing '---' on line 2"
    )


# -- a layout without <mj-body> -------------------------------------------------------------------

NO_BODY = "layout has no <mj-body>: MJML only renders what is inside it — "


BARE = LAYOUT.replace("  </mj-body>\n", "")
WRAP = "put the layout's sections and slots inside <mj-body>…</mj-body>, within <mjml>"


@pytest.mark.parametrize(
    ("layout", "line", "hint"),
    [
        (BARE.replace("  <mj-body>\n", ""), 4, WRAP),
        (BARE.replace("<mj-body>", "<!-- <mj-body> -->"), 4, WRAP),
        (
            LAYOUT.replace("mj-body>", "body>"),
            4,
            "write <mj-body> in place of <body> on line 5, and </mj-body> in place of </body>",
        ),
    ],
    ids=["none", "in-a-comment", "html-body"],
)
def test_a_layout_without_mj_body_is_refused_at_its_file(
    tmp_path: Path, layout: str, line: int, hint: str
) -> None:
    # Before, it loaded, and every render failed naming the module MJML stopped at.
    root = _project(tmp_path, layouts={"news": layout})
    assert f"templates/news.mjml:{line}: L001 error: {NO_BODY}{hint}" in _found(root, "L001")
    with pytest.raises(PersonalizeError) as info:
        Project.load(root)
    assert str(info.value) == f"templates/news.mjml line {line}: {NO_BODY}{hint}"


# -- what the MJML compiler refuses ---------------------------------------------------------------

MJML_HINT = (
    "check that every mj- tag is closed, that the HTML inside <mj-table> balances and that "
    "attribute names are valid; 'personalize lint' compiles each module on its own and names "
    "the one to fix"
)
STOPPED = "MJML stopped here, so the mistake is on this line or above it; "


def test_a_module_mjml_refuses_is_an_l001_at_its_line(tmp_path: Path) -> None:
    table = """<mj-section><mj-column>
      <mj-table>
        <tr><td>a</td></tr>
        <![CDATA[ b ]]>
      </mj-table>
    </mj-column></mj-section>
    <mj-section><mj-column></mj-column></mj-section>"""
    button = '<mj-section><mj-column><mj-button 1href="x">Go</mj-button></mj-column></mj-section>'
    modules = {
        "extra/table": module("when: {tier: Gold}", table),
        "extra/button": module("when: {tier: Silver}", button),
    }
    root = _project(tmp_path, modules=modules)
    assert _found(root, "L001") == [
        "modules/extra/button.mjml:4: L001 error: <mj-button> has an attribute the MJML compiler"
        " cannot read: '1href=\"x\"' — attribute names start with a letter or _ and hold "
        "letters, digits, -, _ and ., with at most one : (as in xlink:href); rename or remove "
        "the attribute",
        "modules/extra/table.mjml:7: L001 error: MJML could not compile modules/extra/table.mjml"
        " in slot 'extra' of templates/news.mjml: unexpected token in root template at "
        f"'<![CDATA[ b ]]>' — {STOPPED}{MJML_HINT}",
    ]


def test_a_layout_mjml_refuses_is_an_l001_at_its_line(tmp_path: Path) -> None:
    layout = LAYOUT.replace(
        "    </mj-column></mj-section>",
        "    </mj-column></mj-section>\n    <mj-table><![CDATA[ b ]]></mj-table>",
    )
    root = _project(tmp_path, layouts={"news": layout})
    assert _found(root, "L001") == [
        "templates/news.mjml:11: L001 error: MJML could not compile templates/news.mjml: "
        f"unexpected token in root template at '<![CDATA[ b ]]>' — {STOPPED}{MJML_HINT}"
    ]


def test_a_key_an_object_field_does_not_declare_is_an_l301(tmp_path: Path) -> None:
    body = """<mj-section><mj-column>
      <mj-button href="{{ links.shpo | url }}">Shop</mj-button>
      <mj-text>{{ links.basket }} {{ orders.total }}</mj-text>
    </mj-column></mj-section>"""
    root = _project(tmp_path, modules={"extra/x": module("when: {tier: Gold}", body)})
    assert _found(root, "L301") == [
        "modules/extra/x.mjml:5: L301 error: unknown name 'links.shpo': field 'links' has no key "
        "'shpo' — did you mean 'shop'?",
        "modules/extra/x.mjml:6: L301 error: unknown name 'links.basket': field 'links' has no "
        "key 'basket' — the keys of 'links': shop, unsubscribe",
    ]


def test_cli_json_reports_a_now_out_of_range_as_an_error_object(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["--project", str(ROOT), "lint", "--now", "0001-01-01T00:00:00"]
    code, out = _run([*args, "--format", "json"], capsys)
    assert code == 2
    assert json.loads(out) == {
        "error": {
            "type": "UsageError",
            "message": "expected a moment between the years 1 and 9999 in UTC, got "
            "'0001-01-01T00:00:00' (read in Europe/Berlin), which is before 0001-01-01 in UTC",
            "file": None,
            "line": None,
            "recipient": None,
            "path": "--now",
            "hint": "pass a date-time inside the calendar, such as 2026-11-27T09:00:00+01:00",
        }
    }
    code, _ = _run(args, capsys)
    assert code == 2


@pytest.mark.parametrize("target", ["nowhere.jsonl", "personas.jsonl"], ids=["dangling", "loop"])
def test_a_broken_link_for_the_personas_is_a_finding(tmp_path: Path, target: str) -> None:
    root = _project(tmp_path)
    (root / "personas.jsonl").unlink()
    (root / "personas.jsonl").symlink_to(target)
    assert _found(root, "L001") == [
        f"personas.jsonl: L001 error: cannot read the file (broken link to {target!r}) — point "
        "the link at an existing file, or put the file itself in its place"
    ]
