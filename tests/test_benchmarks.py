"""The benchmark scripts still run (tiny sizes): notes and docs quote their figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize(
    ("script", "args", "lines"),
    [
        (
            "throughput.py",
            ("--recipients", "40", "--naive", "2", "--repeats", "1"),
            ("full path", "floor", "naive / full", "cold build", "merge build"),
        ),
        (
            "throughput.py",
            ("--recipients", "40", "--naive", "2", "--repeats", "1", "--audience", "generated"),
            ("layout 'weekly', 40 recipients (generated)", "full path", "naive / full"),
        ),
        (
            "stages.py",
            ("--recipients", "100", "--repeats", "1"),
            ("validate", "classify", "normalize", "sum", "render_many"),
        ),
        (
            "compare.py",
            (
                *("--base", "HEAD", "--recipients", "100", "--block", "50", "--repeats", "1"),
                *("--merge-after", "0"),
            ),
            (
                "layout 'weekly', 100 recipients (personas, merge_after 0)",
                "base (HEAD)",
                "new (this tree)",
                "new / base",
                "same emails      yes",
            ),
        ),
    ],
)
def test_the_script_runs_and_prints_its_figures(
    script: str, args: tuple[str, ...], lines: tuple[str, ...]
) -> None:
    out = run(script, *args)
    printed = [line.strip() for line in out.splitlines()]
    for start in lines:
        assert any(line.startswith(start) for line in printed), (start, out)


def test_compare_names_a_revision_it_cannot_read() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "compare.py"), "--base", "no-such-rev"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("compare.py: cannot read src/personalize at 'no-such-rev': ")
