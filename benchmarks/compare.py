"""This tree's render path against a git revision's, in one process, on one core.

The development machine's speed drifts by tens of percent within seconds, so two runs of
throughput.py cannot tell a 3 % change from noise. Here both versions run in the same process:
the revision's `src/personalize` is extracted (`git archive`) as a package named
`personalize_base`, both load this tree's project, and `render_many` of each takes turns on the
same blocks of records, alternating which goes first; each block counts with its best turn.
Before the turns, each renders every record twice; by the best turns, popular variants are
compiled whole in both ([render] merge_after). Prints µs per recipient for each, their ratio,
and whether the two rendered the same emails.

Usage: python benchmarks/compare.py [--base HEAD~1] [--layout weekly] [--recipients 6000]
                                    [--block 500] [--repeats 5] [--audience personas|generated]
                                    [--merge-after N]
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from throughput import AUDIENCES, _records  # noqa: E402

import personalize  # noqa: E402

# `from personalize.x import …` and `import personalize` inside the extracted package would load
# this tree's modules; they are renamed (relative imports need nothing).
_ABSOLUTE = re.compile(r"\b(from|import) personalize\b")


def extract(revision: str, into: Path) -> Path:
    """The revision's package, as ``into/personalize_base`` (exits with a message on error)."""
    found = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "src/personalize"],
        capture_output=True,
        check=False,
    )
    if found.returncode != 0:
        message = found.stderr.decode(errors="replace").strip()
        sys.exit(f"compare.py: cannot read src/personalize at {revision!r}: {message}")
    with tarfile.open(fileobj=io.BytesIO(found.stdout)) as tar:
        tar.extractall(into, filter="data")
    package = into / "personalize_base"
    (into / "src" / "personalize").rename(package)
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        path.write_text(_ABSOLUTE.sub(r"\1 personalize_base", text), encoding="utf-8")
    return package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD~1", help="git revision to compare against")
    parser.add_argument("--layout", default="weekly")
    parser.add_argument("--recipients", type=int, default=6_000)
    parser.add_argument("--block", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5, help="timed turns of every block")
    parser.add_argument("--audience", choices=AUDIENCES, default="personas")
    parser.add_argument(
        "--merge-after",
        type=int,
        default=None,
        help="renders before a variant is compiled whole, in both (0: never; default: the "
        "project's [render] merge_after)",
    )
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    # The revision's files stay on disk while it runs: a module may import another late.
    with tempfile.TemporaryDirectory() as tmp:
        extract(args.base, Path(tmp))
        sys.path.insert(0, tmp)
        import personalize_base  # type: ignore[import-not-found]

        projects: dict[str, Any] = {
            "base": personalize_base.Project.load(ROOT),
            "new": personalize.Project.load(ROOT),
        }
        if args.merge_after is not None:
            for project in projects.values():
                project._variants._merge_after = args.merge_after
        run(projects, args)


def run(projects: dict[str, Any], args: argparse.Namespace) -> None:
    """Render with both in turns and print the figures."""
    layout, records = args.layout, _records(args.recipients, args.audience)
    emails: dict[str, list[tuple[str, str, str] | str]] = {}
    for name, project in projects.items():
        for _ in range(2):
            outcomes = list(project.render_many(layout, records))
        emails[name] = [
            (o.email.subject, o.email.html, o.email.text) if o.email else str(o.error)
            for o in outcomes
        ]
    blocks = [records[i : i + args.block] for i in range(0, len(records), args.block)]
    best = {name: [float("inf")] * len(blocks) for name in projects}
    for turn in range(args.repeats):
        for i, block in enumerate(blocks):
            order = list(projects) if (turn + i) % 2 else list(reversed(projects))
            for name in order:
                started = time.perf_counter()
                list(projects[name].render_many(layout, block))
                best[name][i] = min(best[name][i], time.perf_counter() - started)
    per = {name: sum(times) / len(records) * 1e6 for name, times in best.items()}
    differ = sum(a != b for a, b in zip(emails["base"], emails["new"], strict=True))
    merged = "" if args.merge_after is None else f", merge_after {args.merge_after}"
    print(
        f"layout {layout!r}, {len(records):,} recipients ({args.audience}{merged}), one core, "
        f"best of {args.repeats} turns"
    )
    print(f"  base ({args.base})  {per['base']:7.1f} µs per recipient")
    print(f"  new (this tree)  {per['new']:7.1f} µs per recipient")
    print(f"  new / base       {per['new'] / per['base']:7.3f}")
    same = "yes" if not differ else f"no: {differ:,} of {len(records):,} differ"
    print(f"  same emails      {same}")


if __name__ == "__main__":
    main()
