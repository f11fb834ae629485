"""Lint: every problem of a project in one run, as located findings with stable codes."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Final

from .assemble import assemble, head_for, locator, region_marks
from .errors import PersonalizeError
from .lintcodes import CODES, Code, Finding, Severity, from_error
from .lintcontent import content_findings, object_fields, optional_fields
from .lintload import Loaded, Problem, Stage, load_tolerantly
from .lintrules import classify_personas, membership_findings, targeting_findings
from .mjml import compile_assembled
from .prepare import Piece, Prepared
from .registry import Layout
from .scope import exact_now

__all__ = ["CODES", "Code", "Finding", "LintReport", "Severity", "lint_project"]

# Load errors that a specific code covers, by the stage that raised them (else L001).
_CODES: Final[Mapping[Stage, tuple[tuple[str, re.Pattern[str]], ...]]] = {
    "segments": (
        ("L103", re.compile(r"^unknown segment ")),
        ("L104", re.compile(r" is listed twice$| is in two exclusive groups")),
    ),
    "registry": (
        ("L101", re.compile(r"^slot .* is not used by any layout$")),
        ("L102", re.compile(r"^slot .* appears twice$")),
        ("L103", re.compile(r"^unknown segment ")),
        ("L105", re.compile(r"^required slot .* has no fallback module")),
        ("L204", re.compile(r"^active window ends before it starts$")),
    ),
    "prepare": (
        ("L301", re.compile(r"^unknown name '[^']*'$")),
        ("L403", re.compile(r" is a script URL$")),
        ("L404", re.compile(r"^<script> elements ")),
        ("L405", re.compile(r"^event-handler attribute ")),
    ),
    "experiments": (
        ("L501", re.compile(r" has one variant ")),
        ("L503", re.compile(r"^the holdout of experiment .* would leave required slot ")),
    ),
}
_DEFAULT_CODE: Final[Mapping[Stage, str]] = {"experiments": "L502"}
_DEFAULT_FILE: Final[Mapping[Stage, str]] = {
    "settings": "personalize.toml",
    "segments": "segments.yaml",
    "registry": "templates/",
    "prepare": "templates/",
    "experiments": "modules/",
    "personas": "personas.jsonl",
}


@dataclass(frozen=True)
class LintReport:
    """The findings of one lint run, by file, line and code.

    Attributes:
        root: The project folder.
        now: The moment date windows were checked at.
        findings: Every finding, sorted by file, line and code.
    """

    root: Path
    now: datetime | None
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        """The findings of severity ``"error"``."""
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        """The findings of severity ``"warning"``."""
        return tuple(f for f in self.findings if f.severity == "warning")

    @property
    def exit_code(self) -> int:
        """1 when there is an error, else 0 (warnings alone pass)."""
        return 1 if self.errors else 0

    def __str__(self) -> str:
        lines = [str(f) for f in self.findings]
        lines.append(f"{len(self.errors)} errors, {len(self.warnings)} warnings")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data, for JSON."""
        return {
            "now": self.now.isoformat() if self.now else None,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "findings": [f.to_dict() for f in self.findings],
        }


def lint_project(path: str | os.PathLike[str] = ".", *, now: datetime | None = None) -> LintReport:
    """Check a project and report every problem found, without stopping at the first.

    Files are loaded one by one: a file that does not load is a finding (L001, or the more
    specific code that covers its error), and the checks across files run on what loaded.
    See docs/lint.md for each code, with an example and its fix.

    Args:
        path: The project folder.
        now: The moment for date windows and metrics (default: the project's pinned ``now``,
            else the current time); a naive one is read in the project time zone.

    Returns:
        The findings; ``report.exit_code`` is 1 when any is an error.
    """
    root = Path(path)
    loaded, problems = load_tolerantly(root)
    own: list[Finding] = []
    moment = None
    if loaded is not None:
        moment = _moment(loaded, now)
        own = _checks(loaded, moment)
    # A load error that one of lint's own checks reports as well is listed once, with the
    # check's message (the load reports only the first problem of each file).
    covered = {(f.code, f.file, f.line) for f in own}
    loads = [
        f
        for f in map(_from_problem, problems)
        if (f.code, f.file, f.line) not in covered
        and not (loaded is not None and _is_consequence(f, loaded))
    ]
    unique = {(f.code, f.file, f.line, f.message): f for f in [*loads, *own]}
    findings = sorted(unique.values(), key=lambda f: f.sort_key)
    return LintReport(root=root.resolve(), now=moment, findings=tuple(findings))


def _moment(loaded: Loaded, now: datetime | None) -> datetime:
    if now is None:
        return loaded.settings.project.now or datetime.now(UTC)
    aware = now if now.tzinfo else now.replace(tzinfo=loaded.schema.tz)
    exact_now(aware, loaded.schema.tz)  # out of range: a RuleError naming `now`, not a file
    return aware


def _checks(loaded: Loaded, now: datetime) -> list[Finding]:
    registry = loaded.registry
    classified, failed = classify_personas(loaded, now=now)
    return [
        *failed,
        *content_findings(
            registry.layouts,
            registry.modules,
            envs=loaded.envs,
            names=loaded.names,
            segments=loaded.segment_names,
            settings=loaded.settings,
            optional=optional_fields(loaded.settings, loaded.schema.fields),
            objects=object_fields(loaded.settings, loaded.schema.fields),
        ),
        *targeting_findings(loaded, classified, now=now),
        *membership_findings(loaded, classified),
        *_mjml_findings(loaded),
    ]


def _mjml_findings(loaded: Loaded) -> list[Finding]:
    """What the MJML compiler refuses (a stray ``</tr>`` in an ``mj-table``, an attribute
    named ``1href``), which the markup checks let through: each layout compiled alone, then
    each module in the first layout (by name) that has its slot and compiles alone."""
    prepared = loaded.prepared
    if prepared is None:
        return []
    compiles = partial(_compiles, loaded, prepared)
    found: list[Finding] = []
    layouts = loaded.registry.layouts
    clean: list[Layout] = []
    for name, piece in sorted(prepared.layouts.items()):
        problem = compiles(layouts[name], piece, None, where=layouts[name].file)
        found.extend([problem] if problem else [])
        clean.extend([] if problem else [layouts[name]])
    for module_id, piece in sorted(prepared.modules.items()):
        slot = loaded.registry.modules[module_id].slot
        layout = next((x for x in clean if slot in {s.name for s in x.slots}), None)
        if layout is not None:
            where = f"{piece.file} in slot '{slot}' of {layout.file}"
            problem = compiles(layout, prepared.layouts[layout.name], (slot, piece), where=where)
            found.extend([problem] if problem else [])
    return found


def _compiles(
    loaded: Loaded,
    prepared: Prepared,
    layout: Layout,
    piece: Piece,
    module: tuple[str, Piece] | None,
    *,
    where: str,
) -> Finding | None:
    """A finding at the line MJML stopped at when ``layout`` (with ``module`` in its slot)
    does not compile, else None."""
    markers = prepared.markers
    subject, preheader = prepared.heads[layout.name]
    pieces = [piece, *([module[1]] if module else [])]
    source = assemble(
        piece.protected.text,
        {module[0]: module[1].protected.text} if module else {},
        locale=loaded.settings.project.locale,
        head=[
            *head_for(layout, markers.expr(subject.id), markers.expr(preheader.id)),
            *(h for p in pieces for h in p.head),
        ],
        css=[c for p in pieces for c in p.css],
        fences=[module[0]] if module else [],
        markers=markers,
    )
    region = (0, 0)
    if module:
        begin, end = region_marks(markers, 0)
        start = source.find(begin) + len(begin)
        region = (start, source.find(end, start))
    owner = module[1] if module else piece
    placed = locator(
        source, (piece.protected.text, piece.raw), {0: owner.raw} if module else {}, markers
    )

    def locate(offset: int) -> tuple[str, int | None]:
        if module and not region[0] <= offset <= region[1]:
            # The layout compiles alone: the module breaks it, wherever MJML stopped.
            return owner.raw.origin(1)
        return placed(offset)

    try:
        compile_assembled(source, loaded.settings.render, where=where, locate=locate)
    except PersonalizeError as err:
        file, line = err.file, err.line
        if file is None:  # no position given: the module's first line, or the layout's
            file, line = owner.raw.origin(1)
        return Finding(file, line, "L001", err.message, err.hint)
    return None


def _from_problem(problem: Problem) -> Finding:
    """A load error as a finding: the specific code that covers it, else L001."""
    err, stage = problem.error, problem.stage
    code = next(
        (c for c, pattern in _CODES.get(stage, ()) if pattern.search(err.message)),
        _DEFAULT_CODE.get(stage, "L001"),
    )
    # Personas are read only when needed, so a bad one does not stop Project.load.
    return from_error(code, err, _DEFAULT_FILE[stage], blocking=stage != "personas")


_UNKNOWN_SLOT: Final = re.compile(r"slot '([^']*)' is not used by any layout")
_ONE_VARIANT: Final = re.compile(r"experiment '([^']*)' has one variant ")


def _is_consequence(finding: Finding, loaded: Loaded) -> bool:
    """Whether a finding only repeats another: a module's slot is a layout's that failed, or
    an experiment has one variant because the others' modules did not load."""
    if finding.code == "L501":
        experiment = _ONE_VARIANT.search(finding.message)
        return experiment is not None and experiment[1] in loaded.lost_experiments
    found = _UNKNOWN_SLOT.search(finding.message) if finding.code == "L101" else None
    return found is not None and (loaded.lost_slots is None or found[1] in loaded.lost_slots)
