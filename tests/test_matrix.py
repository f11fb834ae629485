"""The decision matrix: exact cells on a small project and on the bundled weekly layout."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from personalize import Project
from personalize.cli import app, main
from personalize.errors import RecipientError, RegistryError
from personalize.matrix import NO_SEGMENT, Cell, Choice, Matrix, decision_matrix, project_matrix
from projects import HERO, make_project, module, starter_kit_copy

ROOT = Path(__file__).resolve().parents[1]
BERLIN = ZoneInfo("Europe/Berlin")
BODY = "<mj-section><mj-column><mj-text>x</mj-text></mj-column></mj-section>"

LAYOUTS = {
    "news": """---
subject: "Hello"
---
<mjml><mj-body>
<slot name="hero"/>
<slot name="extra" optional/>
</mj-body></mjml>
""",
    "banner": """---
subject: "Hello"
---
<mjml><mj-body><slot name="banner"/></mj-body></mjml>
""",
    "trial": """---
subject: "Hello"
---
<mjml><mj-body><slot name="story"/></mj-body></mjml>
""",
}
STORY = "segments: [buyer]\npriority: 10\nexperiment: {{name: story-test, variant: {}{}}}"

MODULES = {
    "hero/default": HERO,
    "hero/gold": module("segments: [gold]\npriority: 10", BODY),
    # A `when` rule reads data a segment does not fix: shown as a condition, twice chained.
    "hero/big-buyer": module("when: {orders_30d: {gt: 2}}\npriority: 30", BODY),
    "hero/gold-buyer": module("segments: [gold]\nwhen: {orders_30d: {gte: 1}}\npriority: 20", BODY),
    "extra/buyer": module("segments: [buyer]\nexclude: [gold]\npriority: 5", BODY),
    "extra/xmas": module("active: {from: 2026-12-20, until: 2026-12-26}\npriority: 50", BODY),
    "extra/de": module("locales: [de]\npriority: 1", BODY),
    "banner/de": module("locales: [de]", BODY),
    "story/default": module("description: fallback", BODY),
    "story/a": module(STORY.format("a", ", holdout: 0.2"), BODY),
    "story/b": module(STORY.format("b", ""), BODY),
    "story/de-a": module(STORY.format("a", "") + "\nlocales: [de]", BODY),
    "story/de-b": module(STORY.format("b", "") + "\nlocales: [de]", BODY),
}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = make_project(tmp_path_factory.mktemp("matrix"), layouts=LAYOUTS, modules=MODULES)
    return Project.load(root)


@pytest.fixture(scope="module")
def bundled() -> Project:
    return Project.load(ROOT)


def test_small_project_cells_are_exact(small: Project) -> None:
    matrix = decision_matrix(small, "news")
    assert (matrix.layout, matrix.locale, matrix.slots) == ("news", "en_US", ("hero", "extra"))
    assert matrix.now == datetime(2026, 11, 27, 9, 0, tzinfo=BERLIN)
    assert matrix.table() == [
        ["segment", "hero", "extra"],
        [
            "buyer",
            "hero/big-buyer (if when: orders_30d > 2); otherwise hero/default (fallback)",
            "extra/buyer",
        ],
        [
            "gold",
            "hero/big-buyer (if when: orders_30d > 2); otherwise hero/gold-buyer "
            "(if when: orders_30d >= 1); otherwise hero/gold",
            "(empty)",
        ],
        [
            "(no segment)",
            "hero/big-buyer (if when: orders_30d > 2); otherwise hero/default (fallback)",
            "(empty)",
        ],
    ]


def test_cells_carry_choices_as_data(small: Project) -> None:
    matrix = decision_matrix(small, "news")
    gold = matrix.cell("gold", "hero")
    assert gold == Cell(
        "gold",
        "hero",
        (
            Choice("hero/big-buyer", when="orders_30d > 2"),
            Choice("hero/gold-buyer", when="orders_30d >= 1"),
            Choice("hero/gold"),
        ),
    )
    assert (gold.module, gold.fallback, gold.conditional) == ("hero/big-buyer", False, True)
    nobody = matrix.cell(NO_SEGMENT, "extra")
    assert (nobody.module, nobody.conditional, str(nobody)) == (None, False, "(empty)")
    assert matrix.cell(None, "hero").choices[-1] == Choice("hero/default", fallback=True)


@pytest.mark.parametrize(
    ("now", "locale", "segment", "slot", "expected"),
    [
        (datetime(2026, 12, 21, 12, 0), None, "buyer", "extra", "extra/xmas"),
        (datetime(2026, 12, 27, 12, 0), None, "buyer", "extra", "extra/buyer"),
        (None, "de_DE", "gold", "extra", "extra/de"),
        (None, "de_DE", "buyer", "extra", "extra/buyer"),
        (None, "de_AT", None, "extra", "extra/de"),
    ],
    ids=["inside-window", "after-window", "locale-de", "priority-over-locale", "de-prefix"],
)
def test_now_and_locale_change_cells(
    small: Project,
    now: datetime | None,
    locale: str | None,
    segment: str | None,
    slot: str,
    expected: str,
) -> None:
    assert str(decision_matrix(small, "news", now=now, locale=locale).cell(segment, slot)) == (
        expected
    )


def test_required_slot_without_eligible_module_is_marked(small: Project) -> None:
    english = decision_matrix(small, "banner")
    cell = english.cell(None, "banner")
    assert cell.choices == (Choice(None, error=True),)
    assert str(cell) == "(no eligible module: DecisionError)"
    assert str(decision_matrix(small, "banner", locale="de_DE").cell("gold", "banner")) == (
        "banner/de"
    )


@pytest.mark.parametrize(
    ("locale", "segment", "expected"),
    [
        (
            "en_US",
            "buyer",
            "story/a | story/b (experiment story-test: a 40 %, b 40 %, holdout 20 %); "
            "otherwise story/default (fallback)",
        ),
        (
            "de_DE",
            "buyer",
            "story/de-a | story/de-b (experiment story-test: a 40 %, b 40 %, holdout 20 %); "
            "otherwise story/default (fallback)",
        ),
        ("en_US", "gold", "story/default (fallback)"),
    ],
    ids=["arms", "arms-per-locale", "not-in-the-experiment"],
)
def test_experiments_show_their_arms(
    small: Project, locale: str, segment: str, expected: str
) -> None:
    cell = decision_matrix(small, "trial", locale=locale).cell(segment, "story")
    assert str(cell) == expected


def test_experiment_arms_as_data(small: Project) -> None:
    cell = decision_matrix(small, "trial").cell("buyer", "story")
    first, otherwise = cell.choices
    assert (first.module, first.experiment, otherwise.module) == (
        "story/a",
        "story-test",
        "story/default",
    )
    assert [(a.name, round(a.share, 9), a.module) for a in first.arms] == [
        ("a", 0.4, "story/a"),
        ("b", 0.4, "story/b"),
        ("holdout", 0.2, None),
    ]


def test_to_dict_is_plain_data(small: Project) -> None:
    data = decision_matrix(small, "news").to_dict()
    assert data["slots"] == ["hero", "extra"]
    assert [row["label"] for row in data["rows"]] == ["buyer", "gold", "(no segment)"]
    assert data["rows"][2]["segment"] is None
    assert data["rows"][0]["cells"]["hero"] == {
        "module": "hero/big-buyer",
        "fallback": False,
        "text": "hero/big-buyer (if when: orders_30d > 2); otherwise hero/default (fallback)",
        "choices": [
            {
                "module": "hero/big-buyer",
                "fallback": False,
                "when": "orders_30d > 2",
                "error": False,
                "experiment": None,
                "arms": [],
            },
            {
                "module": "hero/default",
                "fallback": True,
                "when": None,
                "error": False,
                "experiment": None,
                "arms": [],
            },
        ],
    }


STORY = "hero/default | hero/default-b (fallback; experiment hero-story-nov: a 50 %, b 50 %)"
PICKS, BF, BRONZE = (
    "recommendations/picks (fallback)",
    "offer/black-friday",
    "loyalty/bronze (fallback)",
)
WEEKLY_EN = [
    ["segment", "hero", "recommendations", "offer", "loyalty"],
    ["vip", "hero/vip-early-access", PICKS, BF, BRONZE],
    ["recent_purchaser", "hero/recent-purchase", "recommendations/complementary", BF, BRONZE],
    ["abandoned_cart", "hero/abandoned-cart", PICKS, "offer/cart-discount", BRONZE],
    ["lapsed", "hero/win-back", PICKS, "offer/win-back-coupon", BRONZE],
    ["new_subscriber", "hero/welcome", PICKS, "offer/welcome-discount", BRONZE],
    ["gold", STORY, PICKS, BF, "loyalty/gold"],
    ["silver", STORY, PICKS, BF, "loyalty/silver"],
    ["engaged", STORY, PICKS, BF, BRONZE],
    ["champions", STORY, PICKS, BF, BRONZE],
    ["loyal", STORY, PICKS, BF, BRONZE],
    ["potential_loyalist", STORY, PICKS, BF, BRONZE],
    ["at_risk", STORY, PICKS, BF, BRONZE],
    ["hibernating", STORY, PICKS, BF, BRONZE],
    ["lost", STORY, PICKS, BF, BRONZE],
    ["(no segment)", STORY, PICKS, BF, BRONZE],
]


def test_bundled_weekly_matrix_is_exact(bundled: Project) -> None:
    assert decision_matrix(bundled, "weekly").table() == WEEKLY_EN


def test_bundled_weekly_in_german_after_black_friday(bundled: Project) -> None:
    matrix = decision_matrix(bundled, "weekly", now=datetime(2026, 12, 5, 9, 0), locale="de_DE")
    rows = {row[0]: row[1:] for row in matrix.table()[1:]}
    assert rows["vip"] == [
        "hero/vip-early-access",
        "recommendations/picks-de",
        "(empty)",
        "loyalty/bronze-de",
    ]
    assert rows["(no segment)"] == [
        "hero/german",
        "recommendations/picks-de",
        "(empty)",
        "loyalty/bronze-de",
    ]
    assert rows["lapsed"][2] == "offer/win-back-coupon"


def _generated(count: int, *, seed: int) -> Iterator[dict[str, Any]]:
    spec = importlib.util.spec_from_file_location(
        "generate_audience", ROOT / "examples" / "generate_audience.py"
    )
    assert spec is not None
    assert spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded.generate(count, seed=seed)  # type: ignore[no-any-return]


def test_matrix_agrees_with_decide_for_recipients_in_one_segment(bundled: Project) -> None:
    """Real recipients in exactly one segment (or none) get what their row says."""
    matrices: dict[str, Matrix] = {}
    checked: Counter[str] = Counter()
    for record in [*bundled.personas.values(), *_generated(2_000, seed=1)]:
        recipient = bundled.recipient(record)
        segments = bundled.classify(recipient).segments
        if len(segments) > 1:
            continue
        (segment,) = segments or {None}
        locale = recipient.locale
        matrix = matrices.get(locale) or matrices.setdefault(
            locale, decision_matrix(bundled, "weekly", locale=locale)
        )
        decisions = bundled.decide("weekly", recipient)
        for slot, chosen in decisions.as_dict().items():
            first = matrix.cell(segment, slot).choices[0]
            if first.experiment is not None:  # the arm the recipient is in
                arm = decisions.experiments[first.experiment]
                assert next(a.module for a in first.arms if a.name == arm) == chosen, recipient.id
            else:
                assert first.module == chosen, recipient.id
        checked[segment or NO_SEGMENT] += 1
    assert sum(checked.values()) > 500
    assert len(checked) >= 6, checked  # several rows, not just one


def test_project_matrix_is_the_same_function() -> None:
    assert project_matrix is decision_matrix


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda p: decision_matrix(p, "weeky"),
            RegistryError,
            "no layout 'weeky' — did you mean 'weekly'?",
        ),
        (
            lambda p: decision_matrix(p, "weekly", locale="xx_YY"),
            RecipientError,
            "locale: unknown locale 'xx_YY' — use a locale Babel knows, such as 'en_US' or 'de_DE'",
        ),
        (
            lambda p: decision_matrix(p, "weekly").cell("vipp", "hero"),
            RegistryError,
            "no segment 'vipp' in the matrix of 'weekly' — did you mean 'vip'?",
        ),
        (
            lambda p: decision_matrix(p, "weekly").cell("vip", "footer"),
            RegistryError,
            "layout 'weekly' has no slot 'footer' — slots: hero, recommendations, offer, loyalty",
        ),
    ],
    ids=["unknown-layout", "unknown-locale", "unknown-segment", "unknown-slot"],
)
def test_errors_are_exact(bundled: Project, call: object, error: type, message: str) -> None:
    with pytest.raises(error) as info:
        call(bundled)  # type: ignore[operator]
    assert str(info.value) == message


# -- the command line ----------------------------------------------------------------------------


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(["--project", str(ROOT), *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["matrix", "weekly"], capsys)
    assert code == 0
    assert "weekly — locale en_US, now 2026-11-27T09:00+01:00" in out
    assert "│ vip                │ vip-early-access           │ picks (fallback) │" in out
    assert "│                    │  b 50 %: default-b         │" in out
    assert "(no segment)" in out


def test_cli_json_parses(capsys: pytest.CaptureFixture[str], bundled: Project) -> None:
    code, out, _ = _run(["matrix", "weekly", "--format", "json", "--locale", "de_DE"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data == decision_matrix(bundled, "weekly", locale="de_DE").to_dict()
    assert data["locale"] == "de_DE"


@pytest.mark.parametrize("locale", ["DE_de", "de_de", "de_DE.UTF-8", "de_DE_"])
def test_a_locale_no_record_can_have_is_refused_as_records_refuse_it(
    bundled: Project, locale: str
) -> None:
    # Babel reads 'DE_de' as German, but no module's `locales: [de]` matches it.
    with pytest.raises(RecipientError) as info:
        decision_matrix(bundled, "weekly", locale=locale)
    assert str(info.value) == (
        f"locale: expected a locale such as 'en_US' or 'de_DE', got {locale!r} — write it as "
        "records do: 'de', 'de_DE', 'zh_Hant_TW'"
    )
    with pytest.raises(RecipientError) as record:  # the same words as for a record's field
        bundled.recipient(
            {"id": "a", "email": "a@example.com", "links": {"unsubscribe": "https://x.y/u"}}
            | {"locale": locale}
        )
    assert str(record.value) == f"recipient a: locale: {info.value.message}"


def test_a_locale_written_with_a_hyphen_reads_as_settings_and_records_read_it(
    bundled: Project,
) -> None:
    assert decision_matrix(bundled, "weekly", locale="de-DE") == decision_matrix(
        bundled, "weekly", locale="de_DE"
    )


def test_cli_csv_has_a_header_and_a_row_per_segment(
    capsys: pytest.CaptureFixture[str], bundled: Project
) -> None:
    code, out, _ = _run(
        ["matrix", "weekly", "--format", "csv", "--now", "2026-12-05T09:00"], capsys
    )
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["segment", "hero", "recommendations", "offer", "loyalty"]
    assert rows == decision_matrix(bundled, "weekly", now=datetime(2026, 12, 5, 9, 0)).table()
    assert len(rows) == 1 + len(bundled.segments.names) + 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["matrix", "weeky"], 1, "error: no layout 'weeky' — did you mean 'weekly'?"),
        (
            ["matrix", "weekly", "--locale", "xx_YY"],
            2,
            "Error: Invalid value for --locale: unknown locale 'xx_YY' — use a locale Babel "
            "knows, such as 'en_US' or 'de_DE'\n",
        ),
        (
            ["matrix", "weekly", "--locale", "DE_de"],
            2,
            "Error: Invalid value for --locale: expected a locale such as 'en_US' or 'de_DE', "
            "got 'DE_de' — write it as records do: 'de', 'de_DE', 'zh_Hant_TW'\n",
        ),
        (  # an unset variable, --locale "$LOCALE": not the project's locale without a word
            ["matrix", "weekly", "--locale", ""],
            2,
            "Error: Invalid value for --locale: expected a locale such as 'en_US' or 'de_DE', "
            "got '' — leave --locale out for the project's locale, en_US\n",
        ),
        (["matrix", "weekly", "--format", "xml"], 2, "Invalid value for '--format'"),
        (["matrix", "weekly", "--now", "soon"], 2, "expected an ISO date-time"),
    ],
    ids=[
        "unknown-layout",
        "unknown-locale",
        "malformed-locale",
        "empty-locale",
        "bad-format",
        "bad-now",
    ],
)
def test_cli_errors(
    args: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    got, out, err = _run(args, capsys)
    assert got == code
    assert message in err
    assert out == ""


def _terminal(monkeypatch: pytest.MonkeyPatch, width: int, *, colour: bool = False) -> None:
    """stdout as a terminal of ``width`` columns, with or without colours."""
    monkeypatch.setattr(app.out, "_force_terminal", True)
    monkeypatch.setattr(app.out, "_width", width)
    coloured = app.Console(force_terminal=True, color_system="standard")._color_system
    monkeypatch.setattr(app.out, "_color_system", coloured if colour else None)


def _cells(printed: str) -> list[list[str]]:
    """The rows of a printed table with ruled rows: each cell's lines joined, spaces dropped."""
    rows: list[list[str]] = []
    current: list[str] = []
    for line in printed.splitlines():
        if line.startswith("│"):
            parts = [part.replace(" ", "") for part in line.split("│")[1:-1]]
            current = [a + b for a, b in zip(current, parts, strict=True)] if current else parts
        elif current and line[:1] in ("├", "└"):
            rows.append(current)
            current = []
    return rows


LONG_SEGMENT = "high_value_customers_with_recent_activity_in_the_winter_season"


@pytest.fixture
def long_segment(tmp_path: Path) -> Path:
    """The starter kit with a 62-character segment name."""
    root = starter_kit_copy(tmp_path / "kit", ("[project]", "[project]"))
    segments = root / "segments.yaml"
    text = segments.read_text(encoding="utf-8")
    long = f"\nsegments:\n  {LONG_SEGMENT}:\n    description: long\n    when: {{tier: Gold}}\n"
    segments.write_text(text.replace("\nsegments:\n", long, 1), encoding="utf-8")
    return root


def test_piped_table_keeps_its_natural_width_without_a_colour_legend(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(["matrix", "weekly"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "weekly — locale en_US, now 2026-11-27T09:00+01:00 (Europe/Berlin)"
    assert lines[-1].startswith("└")  # no legend: piped output has no colours to explain
    assert _cells(out)[0] == [
        "vip",
        "vip-early-access",
        "picks(fallback)",
        "black-friday",
        "bronze(fallback)",
    ]


def test_a_long_segment_name_folds_and_every_cell_keeps_its_text(
    long_segment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--project", str(long_segment), "matrix", "weekly"]
    code, wide, _ = _run(args, capsys)
    assert code == 0
    _terminal(monkeypatch, 80)
    code, narrow, _ = _run(args, capsys)
    assert code == 0
    assert max(len(line) for line in narrow.splitlines()) <= 80
    border = next(line for line in narrow.splitlines() if line.startswith("┏"))
    assert min(len(column) for column in border[1:-1].split("┳")) >= 2 + 12  # MIN_CELL
    assert _cells(narrow) == _cells(wide)  # folded, nothing lost
    assert all(all(cells) for cells in _cells(narrow))  # and no blank cell
    assert _cells(wide)[0] == [
        LONG_SEGMENT,
        "experimenthero-story-nov:a50%:defaultb50%:default-b",
        "picks(fallback)",
        "black-friday",
        "bronze(fallback)",
    ]


def test_a_narrow_terminal_gets_one_line_per_cell(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _terminal(monkeypatch, 34)
    code, out, _ = _run(["matrix", "weekly"], capsys)
    assert code == 0
    assert out.splitlines()[:8] == [
        "weekly — locale en_US, now 2026-11-27T09:00+01:00 (Europe/Berlin)",
        "(one line per cell: the table does not fit 34 columns)",
        "vip",
        "  hero: vip-early-access",
        "  recommendations: picks (fallback)",
        "  offer: black-friday",
        "  loyalty: bronze (fallback)",
        "recent_purchaser",
    ]
    gold = out.splitlines().index("gold")
    assert out.splitlines()[gold + 1 : gold + 4] == [
        "  hero: experiment hero-story-nov:",
        "     a 50 %: default",
        "     b 50 %: default-b",
    ]


def test_the_long_segment_at_34_columns_gets_one_line_per_cell(
    long_segment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _terminal(monkeypatch, 34)
    code, out, _ = _run(["--project", str(long_segment), "matrix", "weekly"], capsys)
    assert code == 0
    lines = out.splitlines()
    at = lines.index(LONG_SEGMENT)
    assert lines[at + 1 : at + 7] == [
        "  hero: experiment hero-story-nov:",
        "     a 50 %: default",
        "     b 50 %: default-b",
        "  recommendations: picks (fallback)",
        "  offer: black-friday",
        "  loyalty: bronze (fallback)",
    ]


def test_the_colour_legend_only_on_a_colour_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    legend = (
        "dim: the slot's fallback; yellow: depends on a `when` rule (unknown here); "
        "magenta: an experiment's arms"
    )
    _terminal(monkeypatch, 200, colour=True)
    code, out, _ = _run(["matrix", "weekly"], capsys)
    assert code == 0
    assert legend in out
    monkeypatch.setattr(app.out, "no_color", True)  # NO_COLOR
    code, out, _ = _run(["matrix", "weekly"], capsys)
    assert legend not in out
    _terminal(monkeypatch, 200)
    code, out, _ = _run(["matrix", "weekly"], capsys)
    assert legend not in out


def test_the_title_shows_now_in_the_project_zone(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["matrix", "weekly", "--now", "2026-11-30T23:30:00+00:00"], capsys)
    assert code == 0
    assert out.splitlines()[0] == (
        "weekly — locale en_US, now 2026-12-01T00:30+01:00 (Europe/Berlin)"
    )
    assert _cells(out)[0][3] == "(empty)"  # Black Friday ended at midnight in Berlin
