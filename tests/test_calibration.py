"""Tests for RFM calibration: quintiles over a streamed audience, the cut points file, memory."""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import cycle, islice
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personalize import Project, calibration
from personalize.calibration import Calibrator, quintiles
from personalize.cli import main
from personalize.errors import ConfigError, RuleError
from personalize.rfm import HEADER, CutPoints, Rfm, format_number
from projects import SETTINGS, make_project

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python -m pytest` puts it there too; plain `pytest` does not
from examples.generate_audience import generate  # noqa: E402

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
METRICS = """\
metrics:
  orders_365d: {count: orders, within: 365d}
  spend_365d: {sum: orders.total, within: 365d}
  days_since_order: {days_since: orders.at}
"""
RFM = "rfm: {recency: days_since_order, frequency: orders_365d, monetary: spend_365d"
FROM_FILE = METRICS + RFM + ", cut_points: rfm.yaml}\n"
CUTS = "{recency: [10, 20, 30, 40], frequency: [1, 1, 2, 4], monetary: [1, 2, 3, 4]}"
INLINE = f"{METRICS}{RFM}, cut_points: {CUTS}}}\n"


def orders(*days_ago: int, total: str = "10.00") -> list[dict[str, Any]]:
    return [{"at": NOW - timedelta(days=d, hours=1), "total": Decimal(total)} for d in days_ago]


# -- calibration --------------------------------------------------------------------------------


def independent_values(record: dict[str, Any], now: datetime) -> tuple[Any, Any, Any] | None:
    """Days since the last order, orders and spend in 365 days, computed from the raw JSON."""
    stamps = [
        (datetime.fromisoformat(order["at"]), Decimal(order["total"]))
        for order in record.get("orders", [])
    ]
    if not stamps:
        return None
    start = now - timedelta(days=365)
    recent = [total for at, total in stamps if start <= at <= now]
    days = (now - max(at for at, _ in stamps)) // timedelta(days=1)
    return days, len(recent), sum(recent, start=0)


def write_records(path: Path, records: list[dict[str, Any]]) -> None:
    lines = (json.dumps({"email": "a@example.com", **r}, default=str) + "\n" for r in records)
    path.write_text("".join(lines), encoding="utf-8")


def write_audience(path: Path, count: int, seed: int) -> list[dict[str, Any]]:
    records = list(generate(count, seed=seed, now=NOW))
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return records


def test_calibration_equals_statistics_quantiles(tmp_path: Path) -> None:
    project = Project.load(ROOT)
    records = write_audience(tmp_path / "audience.jsonl", 10_000, seed=11)
    seen: list[int] = []
    result = project.calibrate(
        tmp_path / "audience.jsonl", now=NOW, write=False, progress=seen.append
    )
    assert seen == [*range(1000, 10_001, 1000), 10_000]  # for the command's progress bar
    rows = [v for v in (independent_values(r, NOW) for r in records) if v is not None]
    recency, frequency, monetary = zip(*rows, strict=True)
    assert (result.records, result.used, result.skipped, result.file) == (
        10_000,
        len(rows),
        0,
        None,
    )
    assert result.cut_points == CutPoints(
        tuple(statistics.quantiles(recency, n=5)),
        tuple(statistics.quantiles(frequency, n=5)),
        tuple(statistics.quantiles(monetary, n=5)),
    )
    assert all(type(v) is Decimal for v in result.cut_points.monetary)


def test_calibrate_writes_the_file_and_scoring_then_needs_no_audience(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", segments="# Our segments, by hand.\n" + FROM_FILE)
    with pytest.raises(RuleError):  # no cut points yet
        Project.load(root).classify({"id": "a", "email": "a@example.com"})
    records = [
        {"id": f"r{i}", "email": f"r{i}@example.com", "orders": orders(*range(i, 4 * i + 1, i))}
        for i in range(1, 41)
    ] + [{"id": "bad", "email": "not an address"}, {"id": "none", "email": "n@example.com"}]
    audience = tmp_path / "audience.jsonl"
    audience.write_text("".join(json.dumps(r, default=str) + "\n" for r in records))
    before = (root / "segments.yaml").read_text()
    result = Project.load(root).calibrate(audience, source="audience.jsonl")
    assert (result.records, result.used, result.skipped, result.file) == (42, 40, 1, "rfm.yaml")
    assert str(result.errors[0]).startswith("audience.jsonl line 41 (recipient bad): email:")
    assert (root / "segments.yaml").read_text() == before  # comments and all
    text = (root / "rfm.yaml").read_text()
    assert text.splitlines()[1:2] == ["# Audience: audience.jsonl"]
    assert text.splitlines()[-3:] == [
        "recency: [8.2, 16.4, 24.6, 32.8]",
        "frequency: [4.0, 4.0, 4.0, 4.0]",
        "monetary: [40.00, 40.00, 40.00, 40.00]",
    ]
    again = Project.load(root)  # a fresh load: the audience is not needed any more
    assert again.segments.rfm is not None
    assert again.segments.rfm.cut_points == CutPoints(
        (Decimal("8.2"), Decimal("16.4"), Decimal("24.6"), Decimal("32.8")),
        (4, 4, 4, 4),
        (40, 40, 40, 40),
    )
    values = again.classify({"id": "x", "email": "x@example.com", "orders": orders(11)}).metrics
    assert (values["r_score"], values["f_score"], values["m_score"]) == (4, 1, 1)


def test_calibrate_errors(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", segments=INLINE)
    audience = tmp_path / "a.jsonl"
    audience.write_text('{"id": "a", "email": "a@example.com"}\n')
    with pytest.raises(ConfigError) as info:  # (writing, the inline cut points stop it first)
        Project.load(root).calibrate(audience, source="a.jsonl", write=False)
    assert str(info.value) == (
        "a.jsonl: calibration needs at least 2 recipients with recency, frequency and monetary "
        "values, found 0 in 1 records — use a larger audience; recipients who never ordered "
        "have no recency"
    )
    write_records(audience, [{"id": i, "orders": orders(i)} for i in (1, 2)])
    with pytest.raises(ConfigError) as info:
        Project.load(root).calibrate(audience)
    assert str(info.value) == (
        "segments.yaml line 5: rfm.cut_points: the cut points are written inline, so calibrate "
        "cannot write them — write cut_points: rfm.yaml to let 'personalize calibrate' keep "
        "them there"
    )
    assert Project.load(root).calibrate(audience, write=False).used == 2
    plain = make_project(tmp_path / "q")
    with pytest.raises(ConfigError) as info:
        Project.load(plain).calibrate(audience)
    assert str(info.value) == (
        "segments.yaml: there is no 'rfm:' section to calibrate — add rfm: {recency: ..., "
        "frequency: ..., monetary: ..., cut_points: rfm.yaml} (see docs/scores-and-rfm.md)"
    )


def test_calibrate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_project(tmp_path / "p", segments=FROM_FILE)
    audience = tmp_path / "a.jsonl"
    write_records(audience, [{"id": i, "orders": orders(i, i + 1)} for i in range(1, 11)])
    main(["--project", str(root), "calibrate", str(audience), "--format", "json"])
    payload = json.loads(capsys.readouterr().out)
    assert payload["cut_points"]["recency"] == ["2.2", "4.4", "6.6", "8.8"]
    assert (payload["used"], payload["file"]) == (10, "rfm.yaml")
    written = (root / "rfm.yaml").read_text(encoding="utf-8")
    (root / "rfm.yaml").unlink()
    records = [{"id": i, "orders": orders(i)} for i in (1, 2)]
    write_records(audience, [{"id": "x", "email": "bad"}, *records])
    main(["--project", str(root), "calibrate", str(audience), "--dry-run"])
    out, err = capsys.readouterr()
    assert "│ recency   │   0.6 │   1.2 │   1.8 │   2.4 │" in out  # as statistics.quantiles
    assert "2 of 3 records had recency, frequency and monetary values; 1 skipped" in out
    assert err.splitlines()[-1] == "dry run: nothing written"
    assert err.startswith(f"skipped: {audience} line 1 (recipient x): email:")
    assert not (root / "rfm.yaml").exists()
    assert written.splitlines()[-3] == "recency: [2.2, 4.4, 6.6, 8.8]"


def test_a_float_on_a_calibrated_cut_point_is_in_the_lower_bin(tmp_path: Path) -> None:
    settings = SETTINGS.replace('nickname = "str"', 'nickname = "str"\nltv = "float"')
    segments = FROM_FILE.replace("monetary: spend_365d", "monetary: ltv")
    root = make_project(tmp_path / "p", settings=settings, segments=segments)
    audience = tmp_path / "a.jsonl"
    write_records(audience, [{"id": i, "orders": orders(i), "ltv": 0.1} for i in range(10)])
    result = Project.load(root).calibrate(audience)
    again = Project.load(root)
    assert again.segments.rfm is not None
    # What calibrate reports is what the project reads back, and scores with.
    assert result.cut_points == again.segments.rfm.cut_points
    assert result.cut_points.monetary == (Decimal("0.1"),) * 4
    record = {"id": "x", "email": "x@example.com", "orders": orders(1), "ltv": 0.1}
    assert again.classify(record).metrics["m_score"] == 1  # on the cut point: the lower bin


def test_calibrated_cut_points_equal_what_the_file_keeps(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", segments=FROM_FILE)
    audience = tmp_path / "a.jsonl"
    write_records(audience, [{"id": i, "orders": orders(i, 2 * i)} for i in range(1, 8)])
    result = Project.load(root).calibrate(audience)
    again = Project.load(root).segments.rfm
    assert again is not None
    assert result.cut_points == again.cut_points
    # Whole numbers give fractional quintiles, kept as written; Decimals as computed.
    assert statistics.quantiles(range(1, 8), n=5) == [1.6, 3.2, 4.8, 6.4]
    assert result.cut_points.recency == tuple(map(Decimal, ("1.6", "3.2", "4.8", "6.4")))
    assert result.cut_points.monetary == (Decimal("20.00"),) * 4


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600])
def test_calibrate_keeps_the_files_permissions(tmp_path: Path, mode: int) -> None:
    root = make_project(tmp_path / "p", segments=FROM_FILE)
    audience = tmp_path / "a.jsonl"
    write_records(audience, [{"id": i, "orders": orders(i)} for i in (1, 2)])
    Project.load(root).calibrate(audience)  # a new file: as any new file, 0o666 less the umask
    umask = os.umask(0)
    os.umask(umask)
    assert (root / "rfm.yaml").stat().st_mode & 0o777 == 0o666 & ~umask
    (root / "rfm.yaml").chmod(mode)
    Project.load(root).calibrate(audience)
    assert (root / "rfm.yaml").stat().st_mode & 0o777 == mode
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) == []


def test_calibrate_skips_and_counts_lines_that_are_not_json(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", segments=FROM_FILE)
    audience = tmp_path / "a.jsonl"
    write_records(audience, [{"id": i, "orders": orders(i)} for i in (1, 2, 3)])
    with audience.open("a", encoding="utf-8") as out:
        out.write('{"id": "broken", \n')
    result = Project.load(root).calibrate(audience, source="a.jsonl", write=False)
    assert (result.records, result.used, result.skipped) == (4, 3, 1)
    assert [str(e) for e in result.errors] == [
        "a.jsonl line 4: invalid JSON: Expecting property name enclosed in double quotes "
        "(column 18) — each line must be one JSON object"
    ]


def test_a_malformed_cut_points_file_says_to_calibrate_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project(
        tmp_path / "p", segments=FROM_FILE, extra={"rfm.yaml": f"{HEADER}\nrecency: [1, 2, 3]\n"}
    )
    audience = tmp_path / "a.jsonl"
    write_records(audience, [{"id": i, "orders": orders(i)} for i in (1, 2)])
    with pytest.raises(SystemExit):
        main(["--project", str(root), "calibrate", str(audience)])
    assert capsys.readouterr().err.strip() == (
        "error: rfm.yaml line 2: recency: expected 4 cut points, got [1, 2, 3] — list the 4 "
        "boundaries between the scores 1–5, e.g. [14, 30, 90, 180]; or delete rfm.yaml and run "
        "'personalize calibrate AUDIENCE.jsonl' to write it again"
    )
    (root / "rfm.yaml").unlink()
    main(["--project", str(root), "calibrate", str(audience)])
    assert (
        (root / "rfm.yaml")
        .read_text(encoding="utf-8")
        .endswith("monetary: [10.00, 10.00, 10.00, 10.00]\n")
    )


# -- memory ---------------------------------------------------------------------------------------


def test_calibrating_100k_records_keeps_memory_flat() -> None:
    # RFM over three plain fields, so the run measures the calibrator, not metric arithmetic.
    rfm = Rfm("days", "orders", "spend", None, source="rfm.yaml")
    calibrator = Calibrator(rfm, {}, now=NOW, tz=UTC)
    rng = random.Random(5)
    pool = [
        {
            "days": rng.randrange(0, 2000),
            "orders": rng.randrange(0, 40),
            "spend": Decimal(rng.randrange(0, 10**6)).scaleb(-2),
        }
        for _ in range(997)
    ]

    def records(count: int) -> Iterator[dict[str, Any]]:
        return islice(cycle(pool), count)  # allocates nothing per record

    tracemalloc.start()
    try:
        for record in records(100_000):
            calibrator.add(record)
        result = calibrator.finish(source="pool", write=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.used == 100_000
    # 3 × 8 bytes a record kept, plus one column's sort at the end; records themselves are
    # never kept (they would take ~40 MB).
    assert peak < 10_000_000, f"peak {peak:,} bytes"
    for name, key in (("recency", "days"), ("frequency", "orders"), ("monetary", "spend")):
        values = [record[key] for record in records(100_000)]
        assert list(getattr(result.cut_points, name)) == statistics.quantiles(values, n=5), name


def test_quintiles_match_statistics_on_small_inputs() -> None:
    for data in ([1, 2], [5, 1, 3], list(range(7)), [1.5, 2.25, 9.0, 0.5, 3.0]):
        assert list(quintiles(sorted(data))) == statistics.quantiles(data, n=5)


def test_format_number_round_trips_through_yaml() -> None:
    assert [format_number(v) for v in (12, 31.4, Decimal("150.456"), Decimal("0E-2"))] == [
        "12",
        "31.4",
        "150.456",
        "0.00",
    ]
    assert format_number(Decimal("1E+3")) == "1000.0"
    assert format_number(1e-7) == "0.0000001"


# -- float inputs, skipped records, what is written ----------------------------------------------


def price_project(root: Path, kind: str) -> Path:
    settings = SETTINGS.replace('nickname = "str"', f'nickname = "str"\nprice = "{kind}"')
    segments = FROM_FILE.replace("monetary: spend_365d", "monetary: price")
    return make_project(root, settings=settings, segments=segments)


def price_audience(path: Path, price: Any, count: int = 1000) -> list[dict[str, Any]]:
    records = [
        {"id": f"s{i}", "orders": orders(1 + i % 300), "price": price(i)} for i in range(count)
    ]
    write_records(path, records)
    return records


@pytest.mark.parametrize("kind", ["float", "decimal"])
def test_a_tie_of_floats_is_cut_at_the_tied_value_as_decimals_are(
    tmp_path: Path, kind: str
) -> None:
    # The reviewer's audience: 300 pay 10, 300 pay 39.99, 400 pay 99.99. In float arithmetic
    # the tie's quintile was 39.989999999999995, and the 300 at 39.99 scored 3, not 2.
    def price(i: int) -> Any:
        value = 10.0 if i < 300 else 39.99 if i < 600 else 99.99
        return value if kind == "float" else Decimal(repr(value)).quantize(Decimal("0.01"))

    root = price_project(tmp_path / kind, kind)
    records = price_audience(tmp_path / "a.jsonl", price)
    result = Project.load(root).calibrate(tmp_path / "a.jsonl")
    assert result.cut_points.monetary == tuple(map(Decimal, ("10", "39.99", "75.99", "99.99")))
    project = Project.load(root)
    scores: dict[Any, set[int]] = {}
    for record in records:
        m_score = project.classify({"email": "a@example.com", **record}).metrics["m_score"]
        scores.setdefault(record["price"], set()).add(m_score)
    # A value on a cut point is in the lower bin, for floats as for Decimals.
    assert sorted((float(p), s) for p, s in scores.items()) == [
        (10.0, {1}),
        (39.99, {2}),
        (99.99, {4}),
    ]


def test_a_large_tie_of_floats_calibrates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 70 % pay 39.99: float arithmetic gave decreasing cut points, and calibrate refused them,
    # blaming a line of an rfm.yaml it had not written.
    root = price_project(tmp_path / "p", "float")
    price_audience(tmp_path / "a.jsonl", lambda i: 39.99 if i % 10 < 7 else 99.99)
    command = ["--project", str(root), "calibrate", str(tmp_path / "a.jsonl"), "--format", "json"]
    main([*command, "--dry-run"])
    payload = json.loads(capsys.readouterr().out)
    assert payload["cut_points"]["monetary"] == ["39.99", "39.99", "39.99", "99.99"]
    assert (payload["file"], (root / "rfm.yaml").exists()) == (None, False)
    main(command)
    payload = json.loads(capsys.readouterr().out)
    assert payload["cut_points"]["monetary"] == ["39.99", "39.99", "39.99", "99.99"]
    assert (
        (root / "rfm.yaml")
        .read_text(encoding="utf-8")
        .endswith("monetary: [39.99, 39.99, 39.99, 99.99]\n")
    )


def calibrate_values(values: list[Any]) -> CutPoints:
    calibrator = Calibrator(Rfm("v", "v", "v", None, source="rfm.yaml"), {}, now=NOW, tz=UTC)
    for value in values:
        calibrator.add({"v": value})
    return calibrator.finish(source="test", write=False).cut_points


PRICES = st.integers(-10_000, 100_000).map(lambda cents: round(cents / 100, 2))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([39.99, 0.1, 0.3]) | PRICES, min_size=2, max_size=60))
def test_floats_calibrate_as_the_decimals_they_print_as(prices: list[float]) -> None:
    decimals = [Decimal(repr(p)) for p in prices]
    found = calibrate_values(prices)
    assert found == calibrate_values(decimals)
    assert list(found.monetary) == statistics.quantiles(decimals, n=5)
    if len(set(decimals)) == 1:  # a tie of all: its value, never a hair below it
        assert set(found.monetary) == set(decimals)


def test_when_every_record_is_skipped_the_error_says_why(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", segments=FROM_FILE)
    audience = tmp_path / "a.jsonl"
    records = [{"id": f"r{i}", "orders": orders(i)} for i in range(1, 4)]
    audience.write_text("".join(json.dumps(r, default=str) + "\n" for r in records))  # no email
    with pytest.raises(ConfigError) as info:
        Project.load(root).calibrate(audience, source="a.jsonl", write=False)
    assert str(info.value) == (
        "a.jsonl: calibration needs at least 2 recipients with recency, frequency and monetary "
        "values, found 0 in 3 records; 3 skipped, the first: a.jsonl line 1 (recipient r1): "
        "email: required field is missing — fix the record, or declare a default for the "
        "field; then calibrate again"
    )
    # An RFM input that is not a number fails every recipient with orders: text under a `map`
    # field (a field of another type is refused at load).
    settings = SETTINGS.replace('links = "links"', 'links = "links"\nprefs = "map"')
    text = FROM_FILE.replace("frequency: orders_365d", "frequency: prefs.orders")
    root = make_project(tmp_path / "q", settings=settings, segments=text)
    write_records(
        audience, [*({**r, "prefs": {"orders": "many"}} for r in records), {"id": "none"}]
    )
    with pytest.raises(ConfigError) as info:
        Project.load(root).calibrate(audience, source="a.jsonl", write=False)
    assert str(info.value) == (
        "a.jsonl: calibration needs at least 2 recipients with recency, frequency and monetary "
        "values, found 0 in 4 records; 3 skipped, the first: segments.yaml line 5 (recipient "
        "r1): prefs.orders: rfm: frequency value 'prefs.orders' must be a finite number, got "
        "'many' (text) — check the field's type in the recipient schema; then calibrate again"
    )


def test_cut_points_that_do_not_read_back_blame_no_unwritten_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path / "p", segments=FROM_FILE)
    audience = tmp_path / "a.jsonl"
    write_records(audience, [{"id": i, "orders": orders(i)} for i in (1, 2)])
    monkeypatch.setattr(
        calibration, "cut_points_text", lambda *_, **__: "# header\nrecency: [2, 1, 3, 4]\n"
    )
    for write in (True, False):
        with pytest.raises(ConfigError) as info:
            Project.load(root).calibrate(audience, source="a.jsonl", write=write)
        assert str(info.value) == (
            "a.jsonl: the cut points calibrated from this audience do not read back as written "
            "(recency: cut points must not decrease, got [2, 1, 3, 4]); nothing was written — "
            "this is a bug in personalize: please report it"
        )
    assert not (root / "rfm.yaml").exists()


def test_line_breaks_in_the_audience_name_stay_in_the_header_comment(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", segments=FROM_FILE)
    audience = tmp_path / "a.jsonl"
    write_records(audience, [{"id": i, "orders": orders(i)} for i in (1, 2)])
    source = "x\r\nrecency: [9, 9, 9, 9]\u2028\x00"
    result = Project.load(root).calibrate(audience, source=source)
    lines = (root / "rfm.yaml").read_text(encoding="utf-8").splitlines()
    assert lines[:2] == [HEADER, "# Audience: x\\r\\nrecency: [9, 9, 9, 9]\\u2028\\x00"]
    assert Project.load(root).segments.rfm.cut_points == result.cut_points  # type: ignore[union-attr]


def test_a_cut_points_folder_that_does_not_exist_stops_calibrate_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    segments = FROM_FILE.replace("cut_points: rfm.yaml", "cut_points: data/rfm.yaml")
    root = make_project(tmp_path / "p", segments=segments)
    missing = str(tmp_path / "not-read.jsonl")  # the folder is checked before the audience
    with pytest.raises(SystemExit):
        main(["--project", str(root), "calibrate", missing])
    assert capsys.readouterr().err.strip() == (
        "error: segments.yaml line 5: rfm.cut_points: cannot write the cut points: the folder "
        "'data' does not exist — create it, or name a file next to the segments file"
    )
    inline = make_project(tmp_path / "q", segments=INLINE)
    with pytest.raises(SystemExit):
        main(["--project", str(inline), "calibrate", missing])
    assert capsys.readouterr().err.strip() == (
        "error: segments.yaml line 5: rfm.cut_points: the cut points are written inline, so "
        "calibrate cannot write them — write cut_points: rfm.yaml to let 'personalize "
        "calibrate' keep them there"
    )
    audience = tmp_path / "a.jsonl"
    write_records(audience, [{"id": i, "orders": orders(i)} for i in (1, 2)])
    with pytest.raises(ConfigError) as info:  # from Python, when writing
        Project.load(root).calibrate(audience)
    assert str(info.value).startswith("segments.yaml line 5: rfm.cut_points: cannot write")


def test_a_failed_write_names_the_cut_points_file_not_the_temporary_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path / "p", segments=FROM_FILE)
    audience = tmp_path / "a.jsonl"
    write_records(audience, [{"id": i, "orders": orders(i)} for i in (1, 2)])

    def refuse(source: Any, target: Any) -> None:
        raise PermissionError(13, "Permission denied", str(source))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ConfigError) as info:
        Project.load(root).calibrate(audience)
    assert str(info.value) == (
        "rfm.yaml: cannot write the cut points: Permission denied — check the folder's "
        "permissions and free space"
    )
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) == []


def test_project_calibrate_checks_it_can_write_before_reading_the_audience(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "not-read.jsonl"  # reading it would fail: the write check comes first
    segments = FROM_FILE.replace("cut_points: rfm.yaml", "cut_points: data/rfm.yaml")
    no_folder = Project.load(make_project(tmp_path / "p", segments=segments))
    inline = Project.load(make_project(tmp_path / "q", segments=INLINE))
    with pytest.raises(ConfigError) as info:
        no_folder.calibrate(missing)
    assert str(info.value) == (
        "segments.yaml line 5: rfm.cut_points: cannot write the cut points: the folder 'data' "
        "does not exist — create it, or name a file next to the segments file"
    )
    with pytest.raises(ConfigError) as info:
        inline.calibrate(missing)
    assert str(info.value) == (
        "segments.yaml line 5: rfm.cut_points: the cut points are written inline, so calibrate "
        "cannot write them — write cut_points: rfm.yaml to let 'personalize calibrate' keep "
        "them there"
    )
    for project in (no_folder, inline):  # a dry run writes nothing: it reads the audience
        with pytest.raises(ConfigError) as info:
            project.calibrate(missing, write=False, source="not-read.jsonl")
        assert str(info.value) == (
            "not-read.jsonl: cannot read the file: No such file or directory — pass the path "
            "of a JSONL file, one JSON object per line"
        )
