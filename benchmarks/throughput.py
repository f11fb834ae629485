"""Throughput of personalize's render path against a floor and a naive baseline, one core.

Prints, from one run on the same machine:
  full path   Project.render_many: validate → segments → decide → subject, preheader, HTML,
              text (and Project.render called once per record, for comparison)
  floor       a bare jinja2 render of the same compiled HTML (nothing else)
  naive       what a user would write with the same packages: Jinja → mjml-python → premailer
              per recipient, for the HTML alone (given the validated context); and the same
              email as the full path from the same records (`render_reference` with premailer:
              validate → segments → decide → subject, preheader, Jinja → MJML → premailer, text)
  ratios      full / floor (time) and naive / full (time), for both naive paths
  cold build  the first variant of a fresh project (judged against the 10 ms target), each
              variant compiled alone, a new variant in a loaded project, which reuses the
              pieces earlier variants compiled, and the first variant of a fresh project that
              finds its compiled code in [render] code_cache (builds.py)
  merge build compiling a variant whole, which a send does once per variant after [render]
              merge_after renders (1,000); here every variant is compiled whole before the turns
Each timed block of the full path and the floor finds only other recipients' values in the
filters' caches, as in a send, where each recipient is new (fresh_values).

Usage: python benchmarks/throughput.py [--layout weekly] [--recipients 20000] [--naive 40]
                                     [--repeats 5] [--audience personas|generated]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import css_inline
import jinja2
import mjml
import premailer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from builds import build_rows  # noqa: E402

from personalize import Project  # noqa: E402
from personalize.compile import compile_reference  # noqa: E402
from personalize.filters import (  # noqa: E402
    FILTERS,
    clear_value_caches,
    url_part,
    validate_css_value,
    validate_url,
)
from personalize.render import RenderedEmail, context_for, render_reference  # noqa: E402
from personalize.safevalues import css_url  # noqa: E402

AUDIENCES = ("personas", "generated")
WARM = 1_000  # other recipients whose values fill the value caches before each timed block


def at_least(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number of ``low`` or more."""

    def parse(text: str) -> int:
        try:
            value: int | None = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(
                f"expected a whole number of {low} or more, got {text!r}"
            )
        return value

    return parse


def check_layout(parser: argparse.ArgumentParser, project: Project, layout: str) -> None:
    """Exit as argparse does (status 2) if the project has no layout ``layout``."""
    if layout not in project.layouts:
        known = ", ".join(project.layouts)
        parser.error(f"argument --layout: no layout {layout!r} — layouts: {known}")


def _idle_ticks() -> dict[int, int]:
    """Idle and I/O-wait ticks of each CPU since boot (/proc/stat; empty where unreadable)."""
    try:
        lines = Path("/proc/stat").read_text(encoding="ascii").splitlines()
    except OSError:
        return {}
    ticks = {}
    for line in lines:
        name, *fields = line.split()
        if name[3:].isdigit() and name.startswith("cpu") and len(fields) >= 5:
            ticks[int(name[3:])] = int(fields[3]) + int(fields[4])
    return ticks


def pin_one_core() -> str:
    """Pin this process to the idlest CPU it may run on (another pinned run leaves its CPU
    busy); what the header says of it."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned: this platform cannot"
    allowed = sorted(os.sched_getaffinity(0))
    before = _idle_ticks()
    time.sleep(0.1)
    after = _idle_ticks()
    idle = {cpu: after[cpu] - before[cpu] for cpu in allowed if cpu in before and cpu in after}
    # Threads started later inherit the affinity; none has started yet.
    os.sched_setaffinity(0, {max(allowed, key=lambda cpu: idle.get(cpu, -1))})
    return "one core"


def render_whole(project: Project, layout: str, records: Sequence[Any]) -> list[RenderedEmail]:
    """``project.render`` of each record, each variant compiled whole at its first render (as a
    long send has them after ``[render] merge_after`` renders; 0, never, is kept)."""
    variants = project._variants
    merge_after = variants._merge_after
    variants._merge_after = min(merge_after, 1)
    try:
        return [project.render(layout, record) for record in records]
    finally:
        variants._merge_after = merge_after


def fresh_values(project: Project, layout: str, warm: list[dict[str, object]]) -> None:
    """Empty the filters' value caches and fill them with ``warm``'s values: the block timed next
    formats and checks its recipients' own values, as a send does for each new recipient, and
    finds cached the values recipients share, as a send does after its first thousand."""
    clear_value_caches()
    for outcome in project.render_many(layout, warm):
        assert outcome.ok, outcome.error


def audience(count: int, kind: str) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """``count`` records to time, and others for ``fresh_values`` (``WARM``, or ``count`` if
    fewer) from the same audience."""
    everyone = _records(count + min(WARM, count), kind)
    return everyone[:count], everyone[count:]


def _records(count: int, audience: str = "personas") -> list[dict[str, object]]:
    """The records to render: the bundled personas cycled with fresh ids (the default; their
    links, numbers and dates repeat, so every formatted value comes from the filters' caches),
    or a generated audience (examples/generate_audience.py, seed 7: links, points and dates of
    each recipient's own, and many more variants)."""
    if audience == "generated":
        sys.path.insert(0, str(ROOT))
        from examples.generate_audience import generate

        return list(generate(count, seed=7))
    personas = [
        json.loads(line)
        for line in (ROOT / "personas.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return [{**personas[i % len(personas)], "id": f"r{i}"} for i in range(count)]


def _plain_env() -> jinja2.Environment:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(FILTERS)
    env.filters.update(
        _url=validate_url,
        _css=validate_css_value,
        _css_url=css_url,
        _url_part=url_part,
        _named=lambda v, n: v,
    )
    return env


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="throughput.py", description=__doc__.splitlines()[0])
    parser.add_argument("--layout", default="weekly")
    parser.add_argument("--recipients", type=at_least(1), default=20_000)
    parser.add_argument(
        "--naive",
        type=at_least(1),
        default=40,
        help="recipients for the naive path (≤ --recipients)",
    )
    parser.add_argument("--repeats", type=at_least(1), default=5, help="timed turns of every path")
    parser.add_argument("--audience", choices=AUDIENCES, default="personas")
    args = parser.parse_args(argv)
    if args.naive > args.recipients:
        parser.error(
            f"argument --naive: expected at most --recipients ({args.recipients:,}), "
            f"got {args.naive:,}"
        )
    project = Project.load(ROOT)
    check_layout(parser, project, args.layout)
    pinned = pin_one_core()
    records, warm = audience(args.recipients, args.audience)
    layout = args.layout

    # Every variant the records use is compiled whole first, as in a long send; then validated
    # inputs, decisions and contexts, for the floor and the naive path.
    emails = render_whole(project, layout, records)
    merged = project.cache_info["merged"]
    render_whole(project, layout, warm)
    prepared = []
    for record, email in zip(records, emails, strict=True):
        recipient = project.recipient(record)
        now = project.now()
        membership = project.segments.classify(recipient.data, now=now, tz=project.schema.tz)
        decisions = project._decide(layout, recipient, membership, now, explain=False)
        variant = project.variant(layout, decisions, recipient.locale)
        context = context_for(
            recipient,
            membership,
            now=now,
            limits=project.settings.limits,
            warnings=[],
            globals=variant.globals,
        )
        context.update(_subject=email.subject, _preheader=email.preheader)
        prepared.append((recipient, decisions, variant, context))
    variants = {v.key: v for _, _, v, _ in prepared}
    print(
        f"layout {layout!r}, {len(records):,} recipients ({args.audience}), "
        f"{len(variants)} variants ({merged} compiled whole before the turns), {pinned}",
        flush=True,
    )

    # 1. full path, from raw records: Project.render_many (the way to render many records),
    #    and Project.render called once per record; 2. the floor: bare jinja2 over the same
    #    compiled HTML source; 3. the naive paths (below), on the first --naive records. A
    #    shared machine's speed drifts by tens of percent within seconds, so all of them are
    #    timed in turns on blocks of 1,000 recipients (a few hundred ms each; the naive paths on
    #    a few recipients per block), and each block counts with its best turn: a slow spell
    #    then hits all alike instead of skewing their ratios. Every turn keeps all its results,
    #    as a caller collecting emails would. Before each block of the first three, the value
    #    caches hold other recipients' values only (fresh_values): a block timed again would
    #    find its own there, where a send formats each new recipient's (the bundled personas'
    #    values all repeat, so they stay cached; the naive paths take milliseconds a recipient).
    env = _plain_env()
    floors = {key: env.from_string(v.html.source) for key, v in variants.items()}
    jobs = [(floors[v.key], c) for _, _, v, c in prepared]

    def many(chunk: list[dict[str, object]]) -> list[object]:
        outcomes = list(project.render_many(layout, chunk))
        assert all(o.ok for o in outcomes), "the bundled personas all render"
        return [o.email for o in outcomes]

    # 3. naive: Jinja on the MJML source, mjml-python, premailer — per recipient, for the HTML
    #    alone, given each recipient's validated context.
    #    The same MJML templates serve the naive email below (compiled once, as a user's would).
    mjml_templates = {
        key: compile_reference(
            key, registry=project.registry, prepared=project._prepared, envs=project._envs
        )
        for key in variants
    }
    references = {key: env.from_string(t.source) for key, t in mjml_templates.items()}
    naive_jobs = [(references[v.key], c) for _, _, v, c in prepared[: args.naive]]

    def naive_run(chunk: list[tuple[jinja2.Template, dict[str, object]]]) -> list[object]:
        return [
            premailer.Premailer(
                mjml.mjml2html(template.render(context)),
                allow_network=False,
                cssutils_logging_level=50,
            ).transform()
            for template, context in chunk
        ]

    # css-inline instead of premailer in the naive path, for reference
    inliner = css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)

    def naive_css_inline_run(
        chunk: list[tuple[jinja2.Template, dict[str, object]]],
    ) -> list[object]:
        return [inliner.inline(mjml.mjml2html(t.render(c))) for t, c in chunk]

    # The same email as the full path, from the same raw records: the reference path of the
    # differential tests, with premailer.
    settings = project.settings
    with_premailer = settings.render.model_copy(update={"inliner": "premailer"})

    def naive_email_run(chunk: list[dict[str, object]]) -> list[object]:
        emails: list[object] = []
        for record in chunk:
            recipient = project.recipient(record)
            now = project.now()
            membership = project.classify(recipient, now=now)
            decisions = project.decide(layout, recipient, now=now, membership=membership)
            variant = project.variant(layout, decisions, recipient.locale)
            emails.append(
                render_reference(
                    mjml_templates[variant.key],
                    variant,
                    recipient=recipient,
                    membership=membership,
                    decisions=decisions.as_dict(),
                    now=now,
                    limits=settings.limits,
                    clip_bytes=settings.render.clip_bytes,
                    render=with_premailer,
                    message=settings.message,
                    experiments=decisions.experiments,
                )
            )
        return emails

    naive_records = records[: len(naive_jobs)]
    naive_run(naive_jobs[:1])  # premailer's and cssutils' first-use costs are not per recipient
    fast: dict[str, tuple[Callable[[Any], list[object]], Sequence[Any]]] = {
        "many": (many, records),
        "render": (lambda chunk: [project.render(layout, r) for r in chunk], records),
        "floor": (lambda chunk: [t.render(x) for t, x in chunk], jobs),
    }
    blocks = range(0, len(records), 1_000)
    share = -(-len(naive_jobs) // len(blocks))  # naive recipients per block
    names = (*fast, "naive", "naive+css", "naive email")
    best = {name: [float("inf")] * len(blocks) for name in names}

    def timed(name: str, i: int, run: Any, chunk: Any) -> list[object]:
        started = time.perf_counter()
        out = run(chunk)
        best[name][i] = min(best[name][i], time.perf_counter() - started)
        return out  # type: ignore[no-any-return]

    for _ in range(args.repeats):
        kept: list[object] = []
        gc.collect()
        for i, start in enumerate(blocks):
            for name, (run, items) in fast.items():
                fresh_values(project, layout, warm)
                kept.extend(timed(name, i, run, items[start : start + 1_000]))
            few = slice(i * share, (i + 1) * share)
            kept.extend(timed("naive", i, naive_run, naive_jobs[few]))
            kept.extend(timed("naive+css", i, naive_css_inline_run, naive_jobs[few]))
            kept.extend(timed("naive email", i, naive_email_run, naive_records[few]))
        del kept
    full, single, floor = sum(best["many"]), sum(best["render"]), sum(best["floor"])
    naive = sum(best["naive"]) / len(naive_jobs)
    naive_fast = sum(best["naive+css"]) / len(naive_jobs)
    naive_email = sum(best["naive email"]) / len(naive_records)
    # 4. variant builds (builds.py): cold, alone, new, from a warm code cache, merged.
    firsts: dict[Any, tuple[Any, Any]] = {}
    for recipient, decisions, variant, _ in prepared:
        firsts.setdefault(variant.key, (recipient, decisions))
    builds = build_rows(project, layout, firsts)

    per_full, per_floor = full / len(records), floor / len(records)
    per_single = single / len(records)
    rows = [
        ("full path", f"{1 / per_full:,.0f} recipients/s", f"{per_full * 1e6:.1f} µs each"),
        (
            "  one by one",
            f"{1 / per_single:,.0f} recipients/s",
            f"{per_single * 1e6:.1f} µs each (render per record: "
            f"{per_single / per_floor:.2f}× the floor)",
        ),
        ("floor", f"{1 / per_floor:,.0f} renders/s", f"{per_floor * 1e6:.1f} µs each"),
        ("naive", f"{1 / naive:,.1f} recipients/s", f"{naive * 1e3:.1f} ms each (HTML, premailer)"),
        ("naive+css", f"{1 / naive_fast:,.1f} recipients/s", f"{naive_fast * 1e3:.1f} ms each"),
        (
            "naive email",
            f"{1 / naive_email:,.1f} recipients/s",
            f"{naive_email * 1e3:.1f} ms each (the whole email, premailer)",
        ),
        ("full / floor", f"{per_full / per_floor:.2f}×", "(target ≤ 4×)"),
        ("naive / full", f"{naive / per_full:.0f}×", "(target ≥ 100×; naive: HTML only)"),
        ("naive email / full", f"{naive_email / per_full:.0f}×", "(the same email each way)"),
        *builds,
    ]
    for label, figure, note in rows:
        print(f"  {label:<18} {figure:>22}   {note}")


if __name__ == "__main__":
    main()
