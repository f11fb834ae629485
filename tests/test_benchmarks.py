"""The benchmark scripts still run (tiny sizes): notes and docs quote their figures."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import re
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from personalize import Project
from personalize.filters.numbers import number_text

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
PINNED = "one core" if hasattr(os, "sched_setaffinity") else "not pinned: this platform cannot"


def load_script(name: str) -> ModuleType:
    """A benchmark script imported as a module: its ``main`` takes the arguments."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module(name)


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


def test_throughput_compiles_every_variant_whole_before_the_turns() -> None:
    out = run("throughput.py", "--recipients", "40", "--naive", "2", "--repeats", "1")
    assert out.splitlines()[0] == (
        "layout 'weekly', 40 recipients (personas), 13 variants (13 compiled whole before the "
        f"turns), {PINNED}"
    )
    printed = [line.strip() for line in out.splitlines()]
    for start in ("full path", "floor", "naive / full", "alone", "new variant", "merge build"):
        assert any(line.startswith(start) for line in printed), (start, out)
    cold = (
        r"cold build +[0-9.]+ ms +\(first variant of a fresh project; target ≤ 10 ms: (not )?met\)"
    )
    assert re.search(cold, out), out


def test_render_whole_merges_each_variant_at_its_first_render_and_restores_the_setting() -> None:
    throughput = load_script("throughput")
    project = Project.load(ROOT)
    throughput.render_whole(project, "weekly", throughput._records(30, "generated"))
    info = project.cache_info
    assert info["merged"] == info["size"] > 1
    assert project._variants._merge_after == project.settings.render.merge_after == 1_000


def test_each_timed_block_formats_its_own_values_again() -> None:
    throughput = load_script("throughput")
    project = Project.load(ROOT)
    records = throughput._records(30, "generated")
    timed, warm = records[:20], records[20:]
    throughput.render_whole(project, "weekly", records)
    before = number_text.cache_info().misses
    list(project.render_many("weekly", timed))
    assert number_text.cache_info().misses == before  # all cached: what the turns found
    throughput.fresh_values(project, "weekly", warm)
    before = number_text.cache_info().misses
    list(project.render_many("weekly", timed))
    assert number_text.cache_info().misses > before


def test_pinning_picks_the_idlest_cpu_it_may_run_on(monkeypatch: pytest.MonkeyPatch) -> None:
    throughput = load_script("throughput")
    ticks = iter([{0: 100, 1: 100, 2: 100}, {0: 102, 1: 109, 2: 150}])
    pinned: list[set[int]] = []
    monkeypatch.setattr(throughput, "_idle_ticks", lambda: next(ticks))
    monkeypatch.setattr(throughput.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(
        os, "sched_setaffinity", lambda pid, cpus: pinned.append(cpus), raising=False
    )
    assert throughput.pin_one_core() == "one core"
    assert pinned == [{1}]  # CPU 2 was idler, but this process may not run there


def test_without_pinning_the_header_does_not_say_one_core(monkeypatch: pytest.MonkeyPatch) -> None:
    throughput = load_script("throughput")
    monkeypatch.delattr(os, "sched_setaffinity", raising=False)
    assert throughput.pin_one_core() == "not pinned: this platform cannot"


LAYOUTS = "no layout 'nope' — layouts: cart-reminder, weekly, welcome"


@pytest.mark.parametrize(
    ("name", "argv", "error"),
    [
        (
            "throughput",
            ["--recipients", "0"],
            "--recipients: expected a whole number of 1 or more, got '0'",
        ),
        (
            "throughput",
            ["--recipients", "-5"],
            "--recipients: expected a whole number of 1 or more, got '-5'",
        ),
        ("throughput", ["--naive", "0"], "--naive: expected a whole number of 1 or more, got '0'"),
        (
            "throughput",
            ["--naive", "-1"],
            "--naive: expected a whole number of 1 or more, got '-1'",
        ),
        (
            "throughput",
            ["--recipients", "30", "--naive", "40"],
            "--naive: expected at most --recipients (30), got 40",
        ),
        (
            "throughput",
            ["--repeats", "0"],
            "--repeats: expected a whole number of 1 or more, got '0'",
        ),
        ("throughput", ["--layout", "nope"], f"--layout: {LAYOUTS}"),
        (
            "stages",
            ["--recipients", "-3"],
            "--recipients: expected a whole number of 1 or more, got '-3'",
        ),
        ("stages", ["--repeats", "0"], "--repeats: expected a whole number of 1 or more, got '0'"),
        ("stages", ["--layout", "nope"], f"--layout: {LAYOUTS}"),
        (
            "compare",
            ["--recipients", "0"],
            "--recipients: expected a whole number of 1 or more, got '0'",
        ),
        (
            "compare",
            ["--recipients", "many"],
            "--recipients: expected a whole number of 1 or more, got 'many'",
        ),
        ("compare", ["--block", "0"], "--block: expected a whole number of 1 or more, got '0'"),
        ("compare", ["--repeats", "0"], "--repeats: expected a whole number of 1 or more, got '0'"),
        (
            "compare",
            ["--merge-after", "-1"],
            "--merge-after: expected a whole number of 0 or more, got '-1'",
        ),
        ("compare", ["--layout", "nope"], f"--layout: {LAYOUTS}"),
        ("audience", ["--layout", "nope"], f"--layout: {LAYOUTS}"),
        (
            "audience",
            ["--memory", "99"],
            "--memory: expected a whole number of 100 or more, got '99'",
        ),
    ],
)
def test_a_bad_argument_exits_2_with_a_one_line_error(
    name: str, argv: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        load_script(name).main(argv)
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"{name}.py: error: argument {error}"


class _Failing:
    """A version in which every record fails (an older revision without the layout, say)."""

    def render_many(self, layout: str, records: list[dict[str, object]]) -> Iterator[Any]:
        for record in records:
            yield SimpleNamespace(ok=False, email=None, error=f"recipient {record['id']}: boom")


class _Retitled:
    """A version that renders every email with another subject."""

    def __init__(self, project: Project) -> None:
        self.project = project

    def render_many(self, layout: str, records: list[dict[str, object]]) -> Iterator[Any]:
        for outcome in self.project.render_many(layout, records):
            email = dataclasses.replace(outcome.email, subject="other")
            yield SimpleNamespace(ok=True, email=email, error=None)


def _compare_args() -> argparse.Namespace:
    return argparse.Namespace(
        layout="weekly",
        recipients=10,
        audience="personas",
        block=5,
        repeats=1,
        base="HEAD",
        merge_after=None,
    )


@pytest.mark.parametrize(
    ("new_fails", "counts"),
    [
        (False, "base (HEAD) 10 of 10, new (this tree) 0 of 10"),
        (True, "base (HEAD) 10 of 10, new (this tree) 10 of 10"),
    ],
)
def test_compare_refuses_to_time_failed_renders(new_fails: bool, counts: str) -> None:
    compare = load_script("compare")
    projects = {"base": _Failing(), "new": _Failing() if new_fails else Project.load(ROOT)}
    with pytest.raises(SystemExit) as exited:
        compare.run(projects, _compare_args(), pinned="one core")
    assert exited.value.code == (
        f"compare.py: records failed to render, so nothing was timed: {counts}\n"
        "  the first, in base (HEAD): recipient r0: boom\n"
        "  hint: both versions must render every record; check --layout and --audience"
    )


def test_compare_names_the_fields_that_differ(capsys: pytest.CaptureFixture[str]) -> None:
    compare = load_script("compare")
    project = Project.load(ROOT)
    compare.run({"base": _Retitled(project), "new": project}, _compare_args(), pinned="one core")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "layout 'weekly', 10 recipients (personas), one core, best of 1 turns"
    assert out[-1] == "  same emails      no: 10 of 10 differ (subject)"


def test_compare_extracts_on_python_without_tar_filters(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    compare = load_script("compare")
    extractall = tarfile.TarFile.extractall

    def before_3_11_4(
        self: tarfile.TarFile, path: str = ".", members: Any = None, *, numeric_owner: bool = False
    ) -> None:
        extractall(self, path, members, numeric_owner=numeric_owner)

    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    monkeypatch.setattr(tarfile.TarFile, "extractall", before_3_11_4)
    package = compare.extract("HEAD", tmp_path)
    assert package == tmp_path / "personalize_base"
    assert (package / "project.py").is_file()
