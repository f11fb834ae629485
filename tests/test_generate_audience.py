"""Tests for examples/generate_audience.py: deterministic, valid, plausible, streaming, fast."""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from personalize import Project

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python -m pytest` puts it there too; plain `pytest` does not
from examples.generate_audience import NOW, generate, main, write  # noqa: E402

PROJECT = Project.load(ROOT)
SAMPLE = list(generate(5_000, seed=7))


def spend(record: dict[str, Any]) -> float:
    return sum(float(order["total"]) for order in record.get("orders", []))


def test_the_same_seed_gives_the_same_records() -> None:
    assert list(generate(200, seed=7)) == SAMPLE[:200]
    assert list(generate(200, seed=8)) != SAMPLE[:200]
    assert [r["id"] for r in SAMPLE[:3]] == ["g7-000000", "g7-000001", "g7-000002"]


def test_the_same_seed_gives_the_same_bytes_in_another_process() -> None:
    code = "from examples.generate_audience import main; main(['20', '--seed', '7'])"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", "PATH": ""},
    )
    out = io.StringIO()
    write(out, 20, seed=7)
    assert result.stdout == out.getvalue()


def test_every_record_fits_the_bundled_schema() -> None:
    for line, record in enumerate(SAMPLE[:2_000], start=1):
        recipient = PROJECT.schema.validate(record, source="generated", line=line)
        assert recipient.id == record["id"]
        assert not recipient.defaulted & {"links", "email", "tier"}


def test_generated_recipients_render() -> None:
    for outcome in PROJECT.render_many("weekly", SAMPLE[:30]):
        assert outcome.error is None, outcome.error
        assert outcome.email is not None
        assert record_link(outcome.index) in outcome.email.html


def record_link(index: int) -> str:
    return SAMPLE[index]["links"]["unsubscribe"].replace("&", "&amp;")


def test_distributions_are_plausible() -> None:
    buyers = [r for r in SAMPLE if r.get("orders")]
    assert 0.65 < len(buyers) / len(SAMPLE) < 0.8
    counts = [len(r["orders"]) for r in buyers]
    assert 1 <= statistics.median(counts) <= 6
    assert max(counts) <= 150
    totals = [float(o["total"]) for r in buyers for o in r["orders"]]
    assert 50 < statistics.median(totals) < 85
    assert min(totals) > 0
    locales = Counter(r["locale"] for r in SAMPLE)
    assert set(locales) == {"en_US", "de_DE", "en_GB", "fr_FR", "es_ES", "nl_NL"}
    assert 0.45 < locales["en_US"] / len(SAMPLE) < 0.55
    assert 0.16 < locales["de_DE"] / len(SAMPLE) < 0.24
    currencies = {(r["locale"], r["currency"]) for r in SAMPLE}
    assert ("de_DE", "EUR") in currencies
    assert ("en_GB", "GBP") in currencies
    assert ("en_US", "EUR") not in currencies
    carts = sum("cart" in r for r in SAMPLE) / len(SAMPLE)
    assert 0.05 < carts < 0.2
    assert all(r["clicks_30d"] <= r["opens_30d"] for r in SAMPLE)
    assert sum(r["opens_30d"] > 0 for r in SAMPLE) / len(SAMPLE) > 0.5


def test_loyalty_follows_spend() -> None:
    by_tier: dict[str, list[float]] = {"Bronze": [], "Silver": [], "Gold": []}
    for record in SAMPLE:
        by_tier[record["tier"]].append(spend(record))
    assert max(by_tier["Bronze"]) < min(by_tier["Silver"])
    assert max(by_tier["Silver"]) < min(by_tier["Gold"])
    assert all(by_tier.values())
    buyers = [r for r in SAMPLE if r.get("orders")]
    correlation = statistics.correlation([spend(r) for r in buyers], [r["points"] for r in buyers])
    assert correlation > 0.95


def test_orders_are_in_the_past_newest_first_and_recency_is_skewed() -> None:
    ages = []
    for record in SAMPLE:
        stamps = [datetime.fromisoformat(o["at"]) for o in record.get("orders", [])]
        assert stamps == sorted(stamps, reverse=True)
        assert all(stamp <= NOW for stamp in stamps)
        signup = datetime.fromisoformat(record["signup_at"])
        assert all(stamp >= signup - timedelta(days=1) for stamp in stamps)
        if stamps:
            ages.append((NOW - stamps[0]).days)
    quintiles = statistics.quantiles(ages, n=5)
    # Many recent buyers, a long tail of lapsed ones.
    assert quintiles[0] < 40
    assert quintiles[3] > 200


def test_links_are_per_recipient() -> None:
    unsubscribe = [r["links"]["unsubscribe"] for r in SAMPLE]
    assert len(set(unsubscribe)) == len(SAMPLE)
    assert all(f"u={r['id']}&t=" in r["links"]["unsubscribe"] for r in SAMPLE)
    assert len({r["email"] for r in SAMPLE}) == len(SAMPLE)


def test_generate_streams() -> None:
    started = time.perf_counter()
    first = list(islice(generate(10**12, seed=1), 3))
    assert len(first) == 3
    assert time.perf_counter() - started < 1


def test_ten_thousand_records_take_well_under_a_few_seconds() -> None:
    out = io.StringIO()
    started = time.perf_counter()
    assert write(out, 10_000, seed=2) == 10_000
    elapsed = time.perf_counter() - started
    assert elapsed < 5, f"{elapsed:.2f} s"  # ~0.5 s on a laptop: 100,000 in a few seconds
    assert out.getvalue().count("\n") == 10_000


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "audience.jsonl"
    assert main(["25", "--seed", "3", "--out", str(target)]) == 0
    lines = target.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == list(generate(25, seed=3))
    assert capsys.readouterr().err == f"wrote 25 recipients to {target}\n"
    moment = "2025-01-01T00:00:00+01:00"
    assert main(["2", "--now", moment]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records == list(generate(2, now=datetime.fromisoformat(moment)))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-1"], "N must be 0 or more, got -1"),
        (["3", "--now", "2026-01-01T00:00:00"], "--now needs an offset"),
        (["many"], "invalid int value: 'many'"),
    ],
)
def test_command_line_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_api_errors() -> None:
    with pytest.raises(ValueError, match="count must be 0 or more"):
        next(generate(-1))
    with pytest.raises(ValueError, match="now needs a time zone"):
        next(generate(1, now=datetime(2026, 1, 1)))
    assert list(generate(0)) == []
    assert generate(3, now=datetime(2026, 1, 1, tzinfo=UTC)) is not None


@pytest.mark.parametrize("count", [10, 50_000], ids=["buffered", "streaming"])
def test_a_closed_pipe_ends_quietly(count: int) -> None:
    # As in `generate_audience.py N | head -1`, but the reader is gone before the first write.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "generate_audience.py"), str(count)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (1, "")
