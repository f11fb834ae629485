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

from personalize import Project
from personalize.calibration import Calibrator, quintiles
from personalize.cli import main
from personalize.errors import ConfigError, RuleError
from personalize.rfm import CutPoints, Rfm, format_number
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
    with pytest.raises(ConfigError) as info:
        Project.load(root).calibrate(audience, source="a.jsonl")
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
        tmp_path / "p", segments=FROM_FILE, extra={"rfm.yaml": "recency: [1, 2, 3]\n"}
    )
    audience = tmp_path / "a.jsonl"
    write_records(audience, [{"id": i, "orders": orders(i)} for i in (1, 2)])
    with pytest.raises(SystemExit):
        main(["--project", str(root), "calibrate", str(audience)])
    assert capsys.readouterr().err.strip() == (
        "error: rfm.yaml line 1: recency: expected 4 cut points, got [1, 2, 3] — list the 4 "
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
