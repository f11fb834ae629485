"""Lint: every problem of a project in one run, as located findings with stable codes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .lintcodes import CODES, Code, Finding, Severity
from .lintcontent import content_findings, optional_fields
from .lintload import Loaded, load_tolerantly
from .lintrules import (
    classify_personas,
    from_problem,
    is_consequence,
    membership_findings,
    targeting_findings,
)

__all__ = ["CODES", "Code", "Finding", "LintReport", "Severity", "lint_project"]


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
        for f in map(from_problem, problems)
        if (f.code, f.file, f.line) not in covered
        and not (loaded is not None and is_consequence(f, loaded))
    ]
    unique = {(f.code, f.file, f.line, f.message): f for f in [*loads, *own]}
    findings = sorted(unique.values(), key=lambda f: f.sort_key)
    return LintReport(root=root.resolve(), now=moment, findings=tuple(findings))


def _moment(loaded: Loaded, now: datetime | None) -> datetime:
    if now is None:
        return loaded.settings.project.now or datetime.now(UTC)
    return now if now.tzinfo else now.replace(tzinfo=loaded.schema.tz)


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
        ),
        *targeting_findings(loaded, classified, now=now),
        *membership_findings(loaded, classified),
    ]
