"""This tree's render path against a git revision's, in one process, on one core.

The development machine's speed drifts by tens of percent within seconds, so two runs of
throughput.py cannot tell a 3 % change from noise. Here both versions run in the same process:
the revision's `src/personalize` is extracted (`git archive`) as a package named
`personalize_base`, both load this tree's project, and `render_many` of each takes turns on the
same blocks of records, alternating which goes first; each block counts with its best turn.
Before the turns, each renders every record twice (if a record fails in either, it stops there
and says so); by the best turns, popular variants are compiled whole in both ([render]
merge_after). Prints µs per recipient for each, their ratio, and whether the two rendered the
same emails (every field both versions' RenderedEmail has).

Usage: python benchmarks/compare.py [--base HEAD~1] [--layout weekly] [--recipients 6000]
                                    [--block 500] [--repeats 5] [--audience personas|generated]
                                    [--merge-after N]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
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

from throughput import AUDIENCES, _records, at_least, check_layout, pin_one_core  # noqa: E402

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
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, filter="data")
        else:  # Python before 3.11.4 has no filters; git archive wrote this tar itself
            tar.extractall(into)
    package = into / "personalize_base"
    (into / "src" / "personalize").rename(package)
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        path.write_text(_ABSOLUTE.sub(r"\1 personalize_base", text), encoding="utf-8")
    return package


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="compare.py", description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD~1", help="git revision to compare against")
    parser.add_argument("--layout", default="weekly")
    parser.add_argument("--recipients", type=at_least(1), default=6_000)
    parser.add_argument("--block", type=at_least(1), default=500)
    parser.add_argument("--repeats", type=at_least(1), default=5, help="timed turns of every block")
    parser.add_argument("--audience", choices=AUDIENCES, default="personas")
    parser.add_argument(
        "--merge-after",
        type=at_least(0),
        default=None,
        help="renders before a variant is compiled whole, in both (0: never; default: the "
        "project's [render] merge_after)",
    )
    args = parser.parse_args(argv)
    new = personalize.Project.load(ROOT)
    check_layout(parser, new, args.layout)
    pinned = pin_one_core()
    # The revision's files stay on disk while it runs: a module may import another late.
    with tempfile.TemporaryDirectory() as tmp:
        extract(args.base, Path(tmp))
        sys.path.insert(0, tmp)
        import personalize_base  # type: ignore[import-not-found]

        projects: dict[str, Any] = {"base": personalize_base.Project.load(ROOT), "new": new}
        if args.merge_after is not None:
            for project in projects.values():
                project._variants._merge_after = args.merge_after
        run(projects, args, pinned=pinned)


def _fields(email: Any) -> dict[str, object]:
    return {field.name: getattr(email, field.name) for field in dataclasses.fields(email)}


def _failed(failed: dict[str, list[Any]], total: int, base: str) -> str:
    """The message when records failed to render: how many in each, and the first error."""
    names = {"base": f"base ({base})", "new": "new (this tree)"}
    counts = ", ".join(f"{names[name]} {len(outs):,} of {total:,}" for name, outs in failed.items())
    name, outs = next((name, outs) for name, outs in failed.items() if outs)
    return (
        f"compare.py: records failed to render, so nothing was timed: {counts}\n"
        f"  the first, in {names[name]}: {outs[0].error}\n"
        "  hint: both versions must render every record; check --layout and --audience"
    )


def run(projects: dict[str, Any], args: argparse.Namespace, *, pinned: str) -> None:
    """Render with both in turns and print the figures (exits if a record fails to render)."""
    layout, records = args.layout, _records(args.recipients, args.audience)
    emails: dict[str, list[dict[str, object]]] = {}
    failed: dict[str, list[Any]] = {}
    for name, project in projects.items():
        outcomes = list(project.render_many(layout, records))
        failed[name] = [o for o in outcomes if not o.ok]
        emails[name] = [_fields(o.email) for o in outcomes if o.ok]
    if any(failed.values()):
        sys.exit(_failed(failed, len(records), args.base))
    for project in projects.values():
        list(project.render_many(layout, records))
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
    differ, fields = 0, set[str]()
    for base, new in zip(emails["base"], emails["new"], strict=True):
        unlike = {key for key in base.keys() & new.keys() if base[key] != new[key]}
        differ += bool(unlike)
        fields |= unlike
    merged = "" if args.merge_after is None else f", merge_after {args.merge_after}"
    print(
        f"layout {layout!r}, {len(records):,} recipients ({args.audience}{merged}), {pinned}, "
        f"best of {args.repeats} turns"
    )
    print(f"  base ({args.base})  {per['base']:7.1f} µs per recipient")
    print(f"  new (this tree)  {per['new']:7.1f} µs per recipient")
    print(f"  new / base       {per['new'] / per['base']:7.3f}")
    named = ", ".join(sorted(fields))
    same = "yes" if not differ else f"no: {differ:,} of {len(records):,} differ ({named})"
    print(f"  same emails      {same}")


if __name__ == "__main__":
    main()
