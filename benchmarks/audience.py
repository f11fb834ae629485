"""Speed and memory of the audience-level tools (coverage, calibrate) over a generated audience.

Generates a synthetic audience (examples/generate_audience.py) into a temporary JSONL file,
then prints, from one run on one core:
  read        read_audience() over the file and nothing else (the baseline)
  decide      coverage(render_every=0): segments and decisions, no rendering; ratio to read
  render      coverage(render_every=1) over the first --render records: everything rendered
  calibrate   project.calibrate(write=False): RFM quintiles over the whole file
  mem         tracemalloc peak of decide and of calibrate over the first --memory/10 records
              and over --memory records, a fresh project each (cold caches); a ratio near 1 means
              flat. Calibrate keeps 3 compact numbers per record by design: read its B/record

Usage: python benchmarks/audience.py [--layout weekly] [--recipients 100000] [--render 10000]
                                     [--memory 20000] [--repeats 2] [--seed 7]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT), str(ROOT / "benchmarks")]

from examples.generate_audience import write as write_audience  # noqa: E402
from throughput import at_least, check_layout, pin_one_core  # noqa: E402

from personalize import Project  # noqa: E402
from personalize.coverage import coverage, read_audience  # noqa: E402

T = TypeVar("T")


def _best(run: Callable[[], T], repeats: int = 3) -> tuple[float, T]:
    """The best of ``repeats`` timings of ``run()``, in seconds (least disturbed by noise), and
    what the last run returned."""
    times = []
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def _peak(run: Callable[[Project, Path], object], file: Path) -> int:
    """Peak memory traced while ``run(project, file)`` runs on a freshly loaded project, in
    bytes (the project's load itself is not counted; its caches start cold)."""
    project = Project.load(ROOT)
    gc.collect()
    tracemalloc.start()
    try:
        run(project, file)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _head(source: Path, count: int, target: Path) -> Path:
    """Copy the first ``count`` lines of ``source`` to ``target``."""
    with source.open(encoding="utf-8") as lines, target.open("w", encoding="utf-8") as out:
        out.writelines(itertools.islice(lines, count))
    return target


def _drain(records: Iterable[object]) -> None:
    for _ in records:
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="audience.py", description=__doc__.splitlines()[0])
    parser.add_argument("--layout", default="weekly")
    parser.add_argument("--recipients", type=at_least(100), default=100_000)
    parser.add_argument(
        "--render", type=at_least(1), default=10_000, help="records rendered in full"
    )
    parser.add_argument(
        "--memory", type=at_least(100), default=20_000, help="records traced for memory"
    )
    parser.add_argument(
        "--repeats", type=at_least(1), default=2, help="timings per figure (best kept)"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    project = Project.load(ROOT)
    check_layout(parser, project, args.layout)
    pinned = pin_one_core()
    layout, count, repeats = args.layout, args.recipients, args.repeats
    sample, memory = min(args.render, count), min(args.memory, count)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audience.jsonl"
        started = time.perf_counter()
        with path.open("w", encoding="utf-8") as out:
            write_audience(out, count, seed=args.seed)
        generated = time.perf_counter() - started
        size = path.stat().st_size

        read, _ = _best(lambda: _drain(read_audience(path)), max(3, repeats))
        coverage(project, layout, itertools.islice(read_audience(path), 1000))  # warm caches
        decide, report = _best(
            lambda: coverage(project, layout, read_audience(path), render_every=0), repeats
        )
        assert report.ok == count, report.failure_kinds  # the generator makes valid records
        render, _ = _best(
            lambda: coverage(
                project, layout, itertools.islice(read_audience(path), sample), render_every=1
            ),
            repeats,
        )
        calibrate, calibration = _best(lambda: project.calibrate(path, write=False), repeats)

        def decide_run(fresh: Project, file: Path) -> object:
            return coverage(fresh, layout, read_audience(file), render_every=0)

        def calibrate_run(fresh: Project, file: Path) -> object:
            return fresh.calibrate(file, write=False)

        # Memory: a fresh project per pass, so both pay the same cache warm-up.
        small = _head(path, memory // 10, Path(tmp) / "small.jsonl")
        large = _head(path, memory, Path(tmp) / "large.jsonl")
        peaks = {
            name: (_peak(tool, small), _peak(tool, large))
            for name, tool in (("decide", decide_run), ("calibrate", calibrate_run))
        }

    def rate(seconds: float, records: int) -> str:
        return f"{records / seconds:,.0f} records/s"

    def each(seconds: float, records: int) -> str:
        return f"{seconds / records * 1e6:.1f} µs each"

    per_read, per_decide = read / count, decide / count
    rows = [
        ("read", rate(read, count), each(read, count) + " (baseline)"),
        ("decide", rate(decide, count), f"{per_decide / per_read:.1f}× read, {decide:.1f} s"),
        ("render", rate(render, sample), f"{render / sample / per_decide:.1f}× decide"),
        (
            "calibrate",
            rate(calibrate, count),
            f"{calibrate / count / per_read:.1f}× read, {calibrate:.1f} s "
            f"({calibration.used:,} used)",
        ),
    ]
    for name, (low, high) in peaks.items():
        growth = (high - low) / (memory - memory // 10)
        rows.append(
            (
                f"mem {name}",
                f"{low / 1e6:.2f} → {high / 1e6:.2f} MB",
                f"{high / low:.2f}× for {memory // 10:,} → {memory:,}, {growth:.1f} B/record",
            )
        )
    print(
        f"layout {layout!r}, {count:,} recipients ({size / 1e6:.0f} MB, generated in "
        f"{generated:.1f} s), render sample {sample:,}, best of {repeats}, {pinned}"
    )
    for label, figure, note in rows:
        print(f"  {label:<13} {figure:>22}   {note}")


if __name__ == "__main__":
    main()
