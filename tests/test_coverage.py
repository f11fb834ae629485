"""Audience coverage: exact counts on a small project, the size histogram, streaming input."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import sys
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personalize import Project
from personalize.cli import app, main
from personalize.coverage import (
    CoverageReport,
    Failure,
    SizeHistogram,
    SlotCoverage,
    coverage,
    read_audience,
)
from personalize.errors import ConfigError, PersonalizeError, RegistryError
from personalize.profile import Recipient
from projects import make_project, module

ROOT = Path(__file__).resolve().parents[1]
BERLIN = ZoneInfo("Europe/Berlin")
LAYOUT = """---
subject: "Hello {{ first_name }}"
---
<mjml><mj-body>
<slot name="hero"/>
<slot name="extra" optional/>
</mj-body></mjml>
"""
SECTION = "<mj-section><mj-column><mj-text>{}</mj-text></mj-column></mj-section>"
MODULES = {
    "hero/default": module("description: fallback", SECTION.format("Hi")),
    "hero/gold": module(
        "segments: [gold]\npriority: 10",
        SECTION.format('{{ tier }} {{ nickname | default("friend") }}'),
    ),
    # Fails at render for buyers with a single order: a render error counted per recipient.
    "extra/buyer": module("segments: [buyer]", SECTION.format("{{ orders[1].total }}")),
    "extra/never": module("segments: [gold]\nexclude: [gold]", SECTION.format("never")),
}
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=BERLIN)
ORDER = {"at": "2026-11-20T10:00:00+01:00", "total": "10.00"}


def _record(rid: str, **fields: Any) -> dict[str, Any]:
    return {"id": rid, "email": f"{rid}@example.com", **fields}


RECORDS: list[Any] = [
    _record("ann", first_name="Ann"),  # no segment; first_name given
    _record("bob", tier="Gold"),  # gold; first_name and nickname fall back
    _record("cy", first_name="Cy", orders=[ORDER, ORDER]),  # buyer
    _record("dee", first_name="Dee", tier="Gold", nickname="D", orders=[ORDER, ORDER]),
    _record("eve", first_name="Eve", orders=[ORDER]),  # buyer; render fails
    _record("fay", email="nope"),  # invalid
    42,  # not an object
    ConfigError("invalid JSON: Expecting value (column 1)", file="a.jsonl", line=9),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = make_project(
        tmp_path_factory.mktemp("coverage"), layouts={"news": LAYOUT}, modules=MODULES
    )
    return Project.load(root)


@pytest.fixture(scope="module")
def report(project: Project) -> CoverageReport:
    return coverage(project, "news", RECORDS, now=NOW)


def test_totals_and_failures_are_exact(report: CoverageReport) -> None:
    assert (report.total, report.ok, report.failed, report.rendered) == (8, 4, 4, 4)
    assert report.failure_kinds == {
        "RenderError at orders": 1,
        "RecipientError at email": 1,
        "RecipientError": 1,
        "ConfigError": 1,
    }
    assert [(f.index, f.recipient, f.kind) for f in report.failures] == [
        (4, "eve", "RenderError at orders"),
        (5, "fay", "RecipientError at email"),
        (6, None, "RecipientError"),
        (7, None, "ConfigError"),
    ]
    assert report.failures[0].message == (
        "modules/extra/buyer.mjml line 4 (recipient eve): orders: {{ orders[1].total }}: tuple "
        "object has no element 1 — declare the field in personalize.toml or give a default with "
        "|default('…')"
    )
    assert report.failures[1].message == (
        "recipient fay: email: expected an email address such as 'ann@example.com', got 'nope'"
        " — an address has a user, an '@' and a domain, as in 'user@example.com'"
    )
    assert report.failures[3] == Failure(
        7,
        None,
        "ConfigError",
        "a.jsonl line 9: invalid JSON: Expecting value (column 1)",
    )


def test_segments_slots_and_unreceived_are_exact(report: CoverageReport) -> None:
    # eve classified (a buyer) before her render failed: 5 classified, 4 decided.
    assert report.classified == 5
    assert report.segments == {"buyer": 3, "gold": 2}
    assert report.no_segment == 1
    assert report.slots == (
        SlotCoverage(
            "hero",
            required=True,
            modules={"hero/default": 2, "hero/gold": 2},
            fallback=2,
            empty=0,
            total=4,
        ),
        SlotCoverage(
            "extra", required=False, modules={"extra/buyer": 2}, fallback=0, empty=2, total=4
        ),
    )
    assert report.slot("extra").share("extra/buyer") == 0.5
    assert report.slot("extra").share(None) == 0.5
    assert report.unreceived == ("extra/never",)


def test_defaults_count_schema_and_template_fallbacks(report: CoverageReport) -> None:
    # bob: first_name (schema default, in the subject), nickname (a template default).
    assert report.defaults == {"first_name": 1, "nickname": 1}


def test_sizes_match_independent_renders(project: Project, report: CoverageReport) -> None:
    sizes = sorted(
        len(project.render("news", r, now=NOW).html.encode())
        for r in RECORDS[:4]  # the four that render
    )
    stats = report.sizes
    assert (stats.count, stats.min, stats.max, stats.over_clip) == (4, sizes[0], sizes[-1], 0)
    assert stats.clip_bytes == project.settings.render.clip_bytes
    assert sizes[0] <= stats.p50 <= sizes[-1]


def test_decide_only_keeps_decision_counts(project: Project, report: CoverageReport) -> None:
    fast = coverage(project, "news", RECORDS, now=NOW, render_every=0)
    # Without rendering, eve's render error is not met, and template defaults are not seen.
    assert (fast.total, fast.ok, fast.failed, fast.rendered) == (8, 5, 3, 0)
    assert fast.slot("hero").modules == {"hero/default": 3, "hero/gold": 2}
    assert fast.slot("extra").modules == {"extra/buyer": 3}
    assert fast.defaults == {"first_name": 1}
    assert fast.sizes.count == 0
    assert fast.segments == report.segments


def test_render_every_samples_by_index(project: Project) -> None:
    good = RECORDS[:4] * 5  # 20 records that all render
    sampled = coverage(project, "news", good, now=NOW, render_every=3)
    assert (sampled.total, sampled.ok, sampled.rendered) == (20, 20, 7)  # 0, 3, …, 18
    assert sampled.sizes.count == 7
    full = coverage(project, "news", good, now=NOW)
    assert sampled.slots == full.slots
    assert sampled.segments == full.segments


def test_max_failures_keeps_the_first_and_counts_all(project: Project) -> None:
    bad = [_record(f"r{i}", email="nope") for i in range(50)]
    report = coverage(project, "news", bad, now=NOW, max_failures=3)
    assert report.failed == 50
    assert [f.recipient for f in report.failures] == ["r0", "r1", "r2"]
    assert report.failure_kinds == {"RecipientError at email": 50}


# Past the field's pattern, but no email can be rendered in them: Babel does not know them.
UNKNOWN_LOCALES = [
    _record("xx", locale="xx"),
    _record("en-xx", locale="en_XX"),
    _record("ok", first_name="Ok", locale="de_DE"),
    _record("zz", locale="zz_ZZ", tier="Gold"),
    _record("xx-2", locale="xx"),
    _record("tlh", locale="tlh"),
]


def test_unknown_locales_fail_alike_whether_rendered_or_only_decided(project: Project) -> None:
    reports = {
        n: coverage(project, "news", UNKNOWN_LOCALES, now=NOW, render_every=n) for n in (0, 1, 2)
    }
    for every, report in reports.items():
        assert (report.total, report.ok, report.failed) == (6, 1, 5), every
        assert report.failure_kinds == {"RecipientError at locale": 5}, every
        assert report.failures == reports[1].failures, every
        assert (report.slots, report.segments, report.defaults) == (
            reports[1].slots,
            reports[1].segments,
            reports[1].defaults,
        ), every
    assert reports[1].failures[1] == Failure(
        1,
        "en-xx",
        "RecipientError at locale",
        "recipient en-xx: locale: unknown locale 'en_XX' — use a locale Babel knows, such as "
        "'en_US' or 'de_DE'",
    )
    with pytest.raises(PersonalizeError) as render:
        project.render("news", UNKNOWN_LOCALES[1], now=NOW)
    assert reports[0].failures[1].message == str(render.value)  # the error a render gives


def test_unknown_locales_compile_no_variant(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = [r for r in UNKNOWN_LOCALES if r["id"] != "ok"]
    called: list[str] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        called.append(repr(args))
        raise AssertionError("a variant or an email for a locale that cannot render")

    monkeypatch.setattr(project, "variant", refuse)
    monkeypatch.setattr(project, "render", refuse)
    for every in (0, 1):
        report = coverage(project, "news", bad, now=NOW, render_every=every)
        assert (report.failed, report.failure_kinds) == (5, {"RecipientError at locale": 5})
    assert called == []


def test_progress_is_reported_and_records_are_streamed(project: Project) -> None:
    seen: list[int] = []
    pulled = 0

    def records() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for i in range(600):
            pulled += 1
            # Consumed one at a time: coverage has counted every earlier record by now.
            assert len(seen) == i // 256
            yield _record(f"r{i}")

    report = coverage(project, "news", records(), now=NOW, progress=seen.append)
    assert (pulled, report.total) == (600, 600)
    assert seen == [256, 512, 600]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"render_every": -1},
            ConfigError,
            "render_every must be 0 or more, got -1 — pass e.g. 1 (everyone)",
        ),
        (
            {"max_failures": -2},
            ConfigError,
            "max_failures must be 0 or more, got -2 — pass e.g. 1 (everyone)",
        ),
    ],
    ids=["render-every", "max-failures"],
)
def test_bad_arguments(project: Project, kwargs: dict[str, int], error: type, message: str) -> None:
    with pytest.raises(error) as info:
        coverage(project, "news", [], **kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_unknown_layout_and_slot(project: Project, report: CoverageReport) -> None:
    with pytest.raises(RegistryError) as info:
        coverage(project, "newz", [])
    assert str(info.value) == "no layout 'newz' — did you mean 'news'?"
    with pytest.raises(RegistryError) as slot:
        report.slot("footer")
    assert str(slot.value) == "layout 'news' has no slot 'footer' — slots: hero, extra"
    with pytest.raises(RegistryError) as typo:
        report.slot("heroo")
    assert str(typo.value) == "layout 'news' has no slot 'heroo' — did you mean 'hero'?"


def test_empty_audience(project: Project) -> None:
    report = coverage(project, "news", [], now=NOW)
    assert (report.total, report.ok, report.sizes.count, report.sizes.p50) == (0, 0, 0, 0)
    assert report.slot("hero").share("hero/default") == 0.0
    assert report.unreceived == ("hero/gold", "hero/default", "extra/buyer", "extra/never")


def test_to_dict_is_plain_data(report: CoverageReport) -> None:
    data = report.to_dict()
    assert data["now"] == "2026-11-27T09:00:00+01:00"
    assert data["slots"][1] == {
        "slot": "extra",
        "required": False,
        "modules": {"extra/buyer": {"count": 2, "share": 0.5}},
        "fallback": 0,
        "empty": 2,
    }
    assert data["failures"][1]["recipient"] == "fay"
    assert data["sizes"]["count"] == 4


# -- read_audience ---------------------------------------------------------------------------


def test_read_audience_yields_errors_for_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"id": "a"}\n\n{"id": \n[1]\n"\xff"\n{"id": "b"}')
    items = list(read_audience(path))
    assert [items[0], items[2], items[4]] == [{"id": "a"}, [1], {"id": "b"}]
    assert [str(e) for e in items if isinstance(e, ConfigError)] == [
        f"{path} line 3: invalid JSON: Expecting value (column 8) — each line must be one JSON "
        "object",
        f"{path} line 5: not valid UTF-8 (invalid start byte at byte 1) — save the file as UTF-8",
    ]


def test_read_audience_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        list(read_audience(tmp_path / "none.jsonl"))
    assert str(info.value) == (
        f"{tmp_path / 'none.jsonl'}: cannot read the file: No such file or directory — "
        "pass the path of a JSONL file, one JSON object per line"
    )


def test_failures_from_a_file_name_its_line(project: Project, tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    lines = [
        json.dumps(_record("ann")),
        "",
        json.dumps(_record("fay", email="nope")),
        "",
        "",
        json.dumps({"email": "x@example.com"}),
        "{oops",
        json.dumps(_record("eve", first_name="Eve", orders=[ORDER])),
        json.dumps(_record("xx", locale="xx")),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = coverage(project, "news", read_audience(path), now=NOW)
    assert [(f.index, f.line, f.recipient) for f in report.failures] == [
        (1, 3, "fay"),
        (2, 6, None),
        (3, 7, None),
        (4, 8, "eve"),
        (5, 9, "xx"),
    ]
    assert [f.message for f in report.failures] == [
        f"{path} line 3 (recipient fay): email: expected an email address such as "
        "'ann@example.com', got 'nope' — an address has a user, an '@' and a domain, as in "
        "'user@example.com'",
        f"{path} line 6: id: required field is missing — fix the record, or declare a default "
        "for the field",
        f"{path} line 7: invalid JSON: Expecting property name enclosed in double quotes "
        "(column 2) — each line must be one JSON object",
        f"{path} line 8: modules/extra/buyer.mjml line 4 (recipient eve): orders: "
        "{{ orders[1].total }}: tuple object has no element 1 — declare the field in "
        "personalize.toml or give a default with |default('…')",
        f"{path} line 9 (recipient xx): locale: unknown locale 'xx' — use a locale Babel knows, "
        "such as 'en_US' or 'de_DE'",
    ]
    assert report.to_dict()["failures"][1] == {
        "index": 2,
        "recipient": None,
        "kind": "RecipientError at id",
        "message": f"{path} line 6: id: required field is missing — fix the record, or declare "
        "a default for the field",
        "line": 6,
    }


def test_read_audience_feeds_coverage(project: Project, tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"id": "a", "email": "a@example.com"}\nnot json\n', encoding="utf-8")
    report = coverage(project, "news", read_audience(path), now=NOW)
    assert (report.total, report.ok, report.failed) == (2, 1, 1)
    assert report.failures[0].message == (
        f"{path} line 2: invalid JSON: Expecting value (column 1) — each line must be one JSON "
        "object"
    )


# -- the size histogram ------------------------------------------------------------------------


def _nearest_rank(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)), 1) - 1]


@given(st.lists(st.integers(min_value=0, max_value=50_000_000), min_size=1, max_size=300))
def test_histogram_quantiles_are_within_a_thousandth(sizes: list[int]) -> None:
    histogram = SizeHistogram()
    for size in sizes:
        histogram.add(size, clip=102_000)
    stats = histogram.stats(clip=102_000)
    assert (stats.count, stats.min, stats.max) == (len(sizes), min(sizes), max(sizes))
    assert stats.over_clip == sum(s > 102_000 for s in sizes)
    for q, got in ((0.5, stats.p50), (0.9, stats.p90), (0.99, stats.p99)):
        exact = _nearest_rank(sizes, q)
        assert exact * (1 - 1 / 1024) <= got <= exact, (q, exact, got)
        if exact < 2048:
            assert got == exact


def test_histogram_memory_is_bounded() -> None:
    histogram = SizeHistogram()
    for size in range(20_000, 120_000):
        histogram.add(size, clip=102_000)
    assert len(histogram._buckets) <= 3 * 1024  # three octaves: at most 1,024 buckets each


# -- the command line ----------------------------------------------------------------------------


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(["--project", str(ROOT), *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def audience(tmp_path: Path) -> Path:
    path = tmp_path / "audience.jsonl"
    lines = (ROOT / "examples" / "audience.jsonl").read_text(encoding="utf-8").splitlines()
    lines += ["not json", '{"id": "x", "email": "bad"}', ""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_cli_json_parses_and_counts_bad_lines(
    audience: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(["coverage", "weekly", str(audience), "--format", "json"], capsys)
    assert code == 0  # a report, even with failures
    data = json.loads(out)
    assert (data["total"], data["ok"], data["failed"]) == (7, 5, 2)
    assert data["failure_kinds"] == {"ConfigError": 1, "RecipientError at email": 1}
    assert data["failures"][0]["message"] == (
        f"{audience} line 6: invalid JSON: Expecting value (column 1) — each line must be one "
        "JSON object"
    )
    project = Project.load(ROOT)
    assert data == coverage(project, "weekly", read_audience(audience)).to_dict()


def test_cli_table(audience: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["coverage", "weekly", str(audience), "--render-every", "0"], capsys)
    assert code == 0
    assert out.splitlines()[0] == (
        "weekly  now 2026-11-27T09:00+01:00 (Europe/Berlin) — 7 recipients: 5 ok, 2 failed, "
        "0 rendered"
    )
    assert "segments (5 classified)" in out
    assert "HTML sizes: no email rendered (--render-every 0)" in out
    assert out.endswith(
        "failed records:\n"
        f"  {audience} line 6: invalid JSON: Expecting value (column 1) — each line must be one "
        "JSON object\n"
        f"  {audience} line 7 (recipient x): email: expected an email address such as "
        "'ann@example.com', got 'bad' (and 1 more problem) — an address has a user, an '@' and "
        "a domain, as in 'user@example.com'\n"
    )


def test_cli_header_shows_now_in_the_project_zone(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["coverage", "weekly", "examples/audience.jsonl", "--now", "2026-11-30T23:30:00+00:00"]
    code, out, _ = _run(args, capsys)
    assert code == 0
    assert out.splitlines()[0] == (
        "weekly  now 2026-12-01T00:30+01:00 (Europe/Berlin) — 5 recipients: 5 ok, 0 failed"
    )


GOOD = json.dumps({"id": "g", "email": "g@example.com", "links": {"unsubscribe": "https://x.y/u"}})
BAD = json.dumps({"id": "b", "email": "bad"})


@pytest.mark.parametrize(
    ("lines", "every", "why"),
    [
        ([], "1", "the audience has no records"),
        (["", "  "], "1", "the audience has no records"),
        ([GOOD], "0", "--render-every 0"),
        ([BAD, BAD], "1", "every record failed"),
        ([BAD, GOOD, BAD, GOOD, BAD], "2", "the 3 records sampled by --render-every 2 all failed"),
        ([BAD, GOOD, GOOD], "5", "the record sampled by --render-every 5 failed"),
    ],
    ids=["empty", "blank", "decide-only", "all-failed", "sample-failed", "one-sampled-failed"],
)
def test_cli_says_why_no_email_was_rendered(
    lines: list[str], every: str, why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    code, out, _ = _run(["coverage", "weekly", str(path), "--render-every", every], capsys)
    assert code == 0
    assert [line for line in out.splitlines() if line.startswith("HTML sizes")] == [
        f"HTML sizes: no email rendered ({why})"
    ]


@pytest.mark.parametrize("terminal", [False, True], ids=["piped", "progress-bar"])
def test_cli_reads_a_pipe_once(
    terminal: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A pipe, as in `… | personalize coverage weekly /dev/stdin`: it can be read only once.
    if terminal:  # the bar, which has no total for a stream
        monkeypatch.setattr(app.err, "_force_terminal", True)
    data = (ROOT / "examples" / "audience.jsonl").read_bytes() * 5  # 25: enough for a bar
    read, write = os.pipe()
    try:
        os.write(write, data)
        os.close(write)
        code, out, _ = _run(["coverage", "weekly", f"/dev/fd/{read}"], capsys)
    finally:
        os.close(read)
    assert code == 0
    assert out.splitlines()[0] == (
        "weekly  now 2026-11-27T09:00+01:00 (Europe/Berlin) — 25 recipients: 25 ok, 0 failed"
    )


def _module_column(printed: str) -> str:
    """The slots table's module column, every line's piece joined: what folding kept."""
    table = printed[printed.index("slots (") : printed.index("fields that fell back")]
    rows = [line.split("│") for line in table.splitlines() if line.startswith("│")]
    return "".join(row[2].strip() for row in rows)


def test_cli_table_folds_module_ids_on_a_narrow_terminal_and_keeps_them_whole_piped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["coverage", "weekly", str(ROOT / "examples" / "audience.jsonl")]
    code, piped, _ = _run(args, capsys)
    assert code == 0
    assert "…" not in piped
    assert "│                 │ recommendations/complementary    │          1 │ 20.0 % │" in piped
    monkeypatch.setattr(app.out, "_force_terminal", True)
    monkeypatch.setattr(app.out, "_width", 60)
    monkeypatch.setattr(app.out, "_color_system", None)
    code, narrow, _ = _run(args, capsys)
    assert code == 0
    assert "…" not in narrow
    assert max(len(line) for line in narrow.splitlines() if "│" in line) <= 60
    assert _module_column(narrow).replace(" ", "") == _module_column(piped).replace(" ", "")
    assert "recommendations/complementary" in _module_column(piped)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["coverage", "weekly", "missing.jsonl"], 1, "cannot read the file"),
        (["coverage", "weekly", "."], 1, "cannot read the file"),
        (["coverage", "weeky", "examples/audience.jsonl"], 1, "did you mean 'weekly'?"),
        (["coverage", "weekly", "x.jsonl", "--format", "csv"], 2, "Invalid value for '--format'"),
        (["coverage", "weekly", "x.jsonl", "--render-every", "-1"], 2, "--render-every"),
    ],
    ids=["missing-file", "directory", "unknown-layout", "bad-format", "negative-sample"],
)
def test_cli_errors(
    args: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    got, out, err = _run(args, capsys)
    assert got == code
    assert message in err
    assert out == ""


# -- acceptance: 100,000 generated recipients ------------------------------------------------------


def _generator() -> Callable[..., Iterator[dict[str, Any]]]:
    spec = importlib.util.spec_from_file_location(
        "generate_audience", ROOT / "examples" / "generate_audience.py"
    )
    assert spec is not None
    assert spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded.generate  # type: ignore[no-any-return]


class _Independent:
    """Counts kept beside coverage, from Project.classify, .decide and .render per record."""

    def __init__(self, project: Project, *, render_every: int) -> None:
        self.project = project
        self.render_every = render_every
        self.total = self.no_segment = 0
        self.segments: Counter[str] = Counter()
        self.modules: Counter[tuple[str, str | None]] = Counter()
        self.fallback: Counter[str] = Counter()
        self.arms: Counter[tuple[str, str]] = Counter()
        self.sizes: list[int] = []  # only the rendered sample: 1 in render_every

    def tee(self, records: Iterable[dict[str, Any]]) -> Iterator[Recipient]:
        for index, record in enumerate(records):
            recipient = self.project.recipient(record)
            self.total += 1
            segments = self.project.classify(recipient).segments
            self.segments.update(segments)
            self.no_segment += not segments
            decisions = self.project.decide("weekly", recipient)
            for decision in decisions:
                self.modules[decision.slot, decision.module] += 1
                self.fallback[decision.slot] += decision.reason == "fallback"
            self.arms.update(decisions.experiments.items())
            if index % self.render_every == 0:
                html = self.project.render("weekly", recipient).html
                self.sizes.append(len(html.encode()))
            yield recipient

    def check(self, report: CoverageReport) -> None:
        assert (report.total, report.ok, report.failed) == (self.total, self.total, 0)
        assert report.segments == {n: self.segments[n] for n in self.project.segments.names}
        assert report.no_segment == self.no_segment
        for slot in report.slots:
            expected = {m: n for (s, m), n in self.modules.items() if s == slot.slot}
            assert {**slot.modules, None: slot.empty} == {None: 0, **expected}, slot.slot
            assert slot.fallback == self.fallback[slot.slot], slot.slot
        received = {m for (_, m), n in self.modules.items() if n}
        registry = self.project.registry
        assert set(report.unreceived) == {
            m.id for s in report.slots for m in registry.by_slot[s.slot] if m.id not in received
        }
        arms: dict[str, dict[str, int]] = {}
        for (experiment, arm), count in self.arms.items():
            arms.setdefault(experiment, {})[arm] = count
        assert report.experiments == arms
        assert report.experiments  # the bundled hero experiment is reached
        sizes = report.sizes
        assert (sizes.count, sizes.min, sizes.max) == (
            len(self.sizes),
            min(self.sizes),
            max(self.sizes),
        )
        assert sizes.over_clip == sum(s > sizes.clip_bytes for s in self.sizes)
        exact = _nearest_rank(self.sizes, 0.9)
        assert exact * (1 - 1 / 1024) <= sizes.p90 <= exact


@pytest.mark.slow
def test_coverage_of_100k_generated_recipients_is_exact_with_flat_memory() -> None:
    project = Project.load(ROOT)
    independent = _Independent(project, render_every=100)
    blocks: dict[int, int] = {}

    def progress(done: int) -> None:
        blocks[done] = sys.getallocatedblocks()

    records = independent.tee(_generator()(100_000, seed=7))
    report = coverage(project, "weekly", records, render_every=100, progress=progress)
    assert report.total == 100_000
    assert report.rendered == 1_000
    independent.check(report)
    # Flat: the live heap after 100,000 records is about what it was after 20,000 (bounded
    # caches still warm up); keeping anything per record would add at least 80,000 blocks.
    growth = blocks[99_840] - blocks[19_968]
    assert growth < 30_000, growth


@pytest.mark.slow
def test_coverage_peak_memory_does_not_grow_with_the_audience() -> None:
    project = Project.load(ROOT)
    # Made before tracing starts: the peaks are coverage's own, not the input list's.
    records = list(_generator()(2_500, seed=3))
    coverage(project, "weekly", records, render_every=50)  # compile the variants first
    peaks = []
    for count in (500, 2_500):
        tracemalloc.start()
        try:
            report = coverage(project, "weekly", iter(records[:count]), render_every=50)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert report.total == count
    small, large = peaks
    assert large < 50_000_000
    # Five times the audience, not five times the memory: 2,000 more records may add less
    # than 500 bytes each (bounded caches warming up); keeping each Recipient would add MBs.
    assert large - small < 1_000_000, peaks
