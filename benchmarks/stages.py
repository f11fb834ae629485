"""Where the full path's time goes: each stage of a render timed alone, per recipient, one core.

Runs the stages of `Project.render_many` (validate → classify → decide → context → subject and
preheader → HTML → text render → text normalization → checks and the RenderedEmail) one at a
time over blocks of 500 records, each block in several turns, and prints each stage's best
time per recipient, their sum, and `render_many` over the same blocks in the same turns. A
stage timed alone keeps its code and data in the CPU caches, so the sum comes out below
`render_many`; the ratio says by how much. Variants are compiled whole first, as in a long send,
and the garbage collector is paused while the stages run, as render_many pauses it per batch.
Before each block's stages and its render_many, the filters' value caches hold other recipients'
values only (throughput.fresh_values), as in a send, where each recipient is new.

Usage: python benchmarks/stages.py [--layout weekly] [--recipients 5000] [--repeats 5]
                                 [--audience personas|generated]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from throughput import (  # noqa: E402
    AUDIENCES,
    at_least,
    audience,
    check_layout,
    fresh_values,
    pin_one_core,
    render_whole,
)

from personalize import Project  # noqa: E402
from personalize.render import _finish, _subject, context_for  # noqa: E402
from personalize.text import normalize_text  # noqa: E402

BLOCK = 500
STAGES = (
    ("validate", "pydantic and the Recipient"),
    ("classify", "metrics, RFM, scores, segments, groups"),
    ("decide", "memoized decisions and the variant"),
    ("context", "the render context"),
    ("subject", "subject and preheader"),
    ("html", "the HTML template"),
    ("text", "the text template"),
    ("normalize", "normalize_text"),
    ("finish", "checks, warnings, RenderedEmail"),
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="stages.py", description=__doc__.splitlines()[0])
    parser.add_argument("--layout", default="weekly")
    parser.add_argument("--recipients", type=at_least(1), default=5_000)
    parser.add_argument("--repeats", type=at_least(1), default=5, help="timed turns of every stage")
    parser.add_argument("--audience", choices=AUDIENCES, default="personas")
    args = parser.parse_args(argv)
    project = Project.load(ROOT)
    check_layout(parser, project, args.layout)
    pinned = pin_one_core()
    layout, (records, warm) = args.layout, audience(args.recipients, args.audience)
    settings = project.settings
    limits, clip, message = settings.limits, settings.render.clip_bytes, settings.message
    render_whole(project, layout, records + warm)  # every variant whole first, as in a send
    now, tz = project.now(), project.schema.tz

    def stages(chunk: list[dict[str, Any]], timed: Callable[[str, Callable[[], Any]], Any]) -> None:
        rs = timed("validate", lambda: [project.recipient(r) for r in chunk])
        ms = timed(
            "classify", lambda: [project.segments.classify(r.data, now=now, tz=tz) for r in rs]
        )

        def decide() -> list[Any]:
            chosen = [
                project._choices.chosen(layout, r, m, now, project._decide)
                for r, m in zip(rs, ms, strict=True)
            ]
            return [(c, project._variants.for_render(c.key)) for c in chosen]

        cvs = timed("decide", decide)
        warnings: list[list[str]] = [[] for _ in chunk]
        xs = timed(
            "context",
            lambda: [
                context_for(r, m, now=now, limits=limits, warnings=w, globals=v.globals)
                for r, m, (_, v), w in zip(rs, ms, cvs, warnings, strict=True)
            ],
        )
        ss = timed(
            "subject",
            lambda: [
                _subject(x, v.subject, v.preheader) for x, (_, v) in zip(xs, cvs, strict=True)
            ],
        )
        hs = timed("html", lambda: [v.html.render(x) for x, (_, v) in zip(xs, cvs, strict=True)])
        ts = timed(
            "text", lambda: [v.text.render_in(s[2]) for s, (_, v) in zip(ss, cvs, strict=True)]
        )
        ns = timed("normalize", lambda: [normalize_text(t) for t in ts])
        timed(
            "finish",
            lambda: [
                _finish(
                    layout=layout,
                    recipient=r,
                    decisions=c.decisions,
                    subject=s[0],
                    preheader=s[1],
                    html=h,
                    text=n,
                    warnings=w,
                    names=v.names,
                    clip_bytes=clip,
                    max_output=limits.max_output_bytes,
                    now=now,
                    message=message,
                    experiments=c.experiments,
                )
                for r, (c, v), s, h, n, w in zip(rs, cvs, ss, hs, ns, warnings, strict=True)
            ],
        )

    blocks = [records[i : i + BLOCK] for i in range(0, len(records), BLOCK)]
    names = (*(name for name, _ in STAGES), "render_many")
    best = {name: [float("inf")] * len(blocks) for name in names}
    for _ in range(args.repeats):
        gc.collect()
        for i, chunk in enumerate(blocks):

            def timed(name: str, run: Callable[[], Any], i: int = i) -> Any:
                started = time.perf_counter()
                out = run()
                best[name][i] = min(best[name][i], time.perf_counter() - started)
                return out

            fresh_values(project, layout, warm)
            gc.disable()  # as render_many does while it renders a batch
            try:
                stages(chunk, timed)
            finally:
                gc.enable()
            fresh_values(project, layout, warm)

            def render_all(chunk: list[dict[str, Any]] = chunk) -> list[Any]:
                return list(project.render_many(layout, chunk))

            timed("render_many", render_all)

    def per(name: str) -> float:
        return sum(best[name]) / len(records) * 1e6

    print(
        f"layout {layout!r}, {len(records):,} recipients ({args.audience}), {pinned}, "
        "µs per recipient"
    )
    for name, what in STAGES:
        print(f"  {name:<12} {per(name):7.1f}   {what}")
    total = sum(per(name) for name, _ in STAGES)
    print(f"  {'sum':<12} {total:7.1f}   every stage timed alone")
    together = per("render_many")
    print(f"  {'render_many':<12} {together:7.1f}   the stages together: {together / total:.2f}×")
    print(f"  {'at 10,000/s':<12} {100.0:7.1f}   the budget of issue 2's target")


if __name__ == "__main__":
    main()
