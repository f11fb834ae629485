"""Variant build times for throughput.py: cold, alone, new variant, warm code cache, merge."""

from __future__ import annotations

import gc
import shutil
import statistics
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from personalize import Project
from personalize.compile import compile_variant, merge_variant


def build_rows(
    project: Project, layout: str, firsts: Mapping[Any, tuple[Any, Any]]
) -> list[tuple[str, str, str]]:
    """The build lines of the report, for the first recipient and decisions of each variant.

    Each figure is the best of three fresh projects per variant, as in the timed turns. The
    collector runs before each timed build: the benchmark keeps every email it rendered, and a
    full collection over them that a build happens to trigger is not the build's cost.
    """
    root = project.root
    builds = [float("inf")] * len(firsts)
    alone = [float("inf")] * len(firsts)
    # Cold: a fresh project builds each variant in turn (its caches start empty; later
    # variants reuse the regions and skeletons earlier ones compiled, so only the first build,
    # and a variant compiled alone, are cold).
    for _ in range(3):
        fresh = Project.load(root)
        for i, (recipient, decisions) in enumerate(firsts.values()):
            gc.collect()
            started = time.perf_counter()
            fresh.variant(layout, decisions, recipient.locale)
            builds[i] = min(builds[i], time.perf_counter() - started)
        for i, key in enumerate(firsts):  # and each variant compiled alone, sharing nothing
            gc.collect()
            started = time.perf_counter()
            compile_variant(
                key,
                registry=project.registry,
                prepared=project._prepared,
                envs=project._envs,
                settings=project.settings,
            )
            alone[i] = min(alone[i], time.perf_counter() - started)
    warm = _warm_cache_first_build(project, layout, firsts)
    # Merge builds: a variant in pieces compiled whole (what a long send pays once per variant).
    wholes = [float("inf")] * len(firsts)
    for _ in range(3):
        fresh = Project.load(root)
        for i, (recipient, decisions) in enumerate(firsts.values()):
            pieces = fresh.variant(layout, decisions, recipient.locale)
            gc.collect()
            started = time.perf_counter()
            merge_variant(pieces)
            wholes[i] = min(wholes[i], time.perf_counter() - started)
    return [
        (
            "cold build",
            f"{builds[0] * 1e3:.1f} ms",
            "(first variant of a fresh project; target ≤ 10 ms: "
            f"{'met' if builds[0] <= 0.010 else 'not met'})",
        ),
        ("  alone", f"{statistics.median(alone) * 1e3:.1f} ms median", "(sharing nothing)"),
        (
            "  new variant",
            f"{statistics.median(builds) * 1e3:.1f} ms median",
            "(in a loaded project, reusing pieces compiled for earlier variants)",
        ),
        (
            "  code cache warm",
            f"{warm * 1e3:.1f} ms",
            "(first variant of a fresh project whose [render] code_cache holds its code)",
        ),
        (
            "merge build",
            f"{statistics.median(wholes) * 1e3:.1f} ms median",
            f"(once per variant after {project.settings.render.merge_after:,} renders in a "
            "send; here before the turns)",
        ),
    ]


def _warm_cache_first_build(
    project: Project, layout: str, firsts: Mapping[Any, tuple[Any, Any]]
) -> float:
    """The first variant's build in a fresh project that finds its code in the code cache, as
    a send script's next run does: the project copied with ``[render] code_cache`` set, every
    variant built once to fill it, then the best of three fresh loads."""
    recipient, decisions = next(iter(firsts.values()))
    with tempfile.TemporaryDirectory(prefix="personalize-bench-") as folder:
        copy = Path(folder)
        # What the project reads, as its settings name it (the starter kit is the repository
        # root, among much else).
        paths, rfm = project.settings.project, project.segments.rfm
        for name in (paths.templates, paths.modules):
            shutil.copytree(project.root / name, copy / name)
        files = [project.settings.file, paths.segments, paths.personas]
        for name in [*files, *([rfm.source] if rfm is not None else [])]:
            if (project.root / name).exists():
                shutil.copy(project.root / name, copy / name)
        settings = (copy / "personalize.toml").read_text(encoding="utf-8")
        (copy / "personalize.toml").write_text(
            settings.replace("[render]\n", '[render]\ncode_cache = "code-cache"\n', 1),
            encoding="utf-8",
        )
        filling = Project.load(copy)
        assert filling.settings.render.code_cache == "code-cache", "no [render] table to set"
        for each, chosen in firsts.values():
            filling.variant(layout, chosen, each.locale)
        best = float("inf")
        for _ in range(3):
            fresh = Project.load(copy)
            gc.collect()
            started = time.perf_counter()
            fresh.variant(layout, decisions, recipient.locale)
            best = min(best, time.perf_counter() - started)
    return best
