"""Lint codes and findings: the stable ids, their severity, and one located finding."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Literal

from .errors import PersonalizeError

__all__ = ["CODES", "Code", "Finding", "Severity", "from_error"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Code:
    """What a lint code stands for: its severity and a one-line summary."""

    severity: Severity
    summary: str


def _codes(**entries: tuple[Severity, str]) -> Mapping[str, Code]:
    return MappingProxyType({k: Code(*v) for k, v in entries.items()})


# The ids are stable: tools and CI configurations refer to them. Documented in docs/lint.md.
CODES: Final[Mapping[str, Code]] = _codes(
    L001=("error", "a file cannot be parsed or loaded"),
    L101=("error", "unknown slot: a module's slot is in no layout"),
    L102=("error", "duplicate slot name in a layout"),
    L103=("error", "unknown segment"),
    L104=("error", "duplicate segment"),
    L105=("error", "required slot without a fallback module"),
    L201=("warning", "unreachable module: a higher-priority module covers its audience"),
    L202=("warning", "ambiguous: equal priority and overlapping audiences"),
    L203=("warning", "date window already expired"),
    L204=("warning", "date window never active"),
    L205=("warning", "locale gap: a required slot has no module for everyone in a locale"),
    L206=("error", "a required slot has no module for everyone active at now"),
    L207=("warning", "a subject or preheader test that an earlier slot's module can override"),
    L301=("error", "template reads a name the recipient schema does not declare"),
    L302=("warning", "optional field printed without a default or an {% if %}"),
    L303=("warning", "two segments of an exclusive group both match a persona"),
    L401=("error", "template uses |safe"),
    L402=("error", "template turns autoescaping off"),
    L403=("error", "script or data URL in a link"),
    L404=("error", "<script> in a template"),
    L405=("error", "event-handler attribute (on*=) in a template"),
    L406=("warning", "image without alt text"),
    L407=("error", "layout without an unsubscribe link"),
    L501=("error", "experiment with one variant and no holdout"),
    L502=("error", "variants of an experiment disagree"),
    L503=("error", "experiment holdout leaves a required slot without a fallback"),
)


@dataclass(frozen=True)
class Finding:
    """One problem: a stable code, where it is, what was expected, and how to fix it.

    ``blocking`` marks a problem that stops ``Project.load``: it is an error whatever its
    code's usual severity (an inverted date window, L204, is one; a window in 2620 is not).
    """

    file: str
    line: int | None
    code: str
    message: str
    hint: str | None = None
    blocking: bool = False

    @property
    def severity(self) -> Severity:
        """``"error"`` or ``"warning"``: the code's, or ``"error"`` when blocking."""
        return "error" if self.blocking else CODES[self.code].severity

    @property
    def sort_key(self) -> tuple[str, int, str, str]:
        """Findings are listed by file, line, code and message."""
        return (self.file, self.line or 0, self.code, self.message)

    @property
    def location(self) -> str:
        """``modules/hero/x.mjml:4`` (or the file alone when no line applies)."""
        return f"{self.file}:{self.line}" if self.line else self.file

    def __str__(self) -> str:
        text = f"{self.location}: {self.code} {self.severity}: {self.message}"
        return f"{text} — {self.hint}" if self.hint else text

    def to_dict(self) -> dict[str, Any]:
        """The finding as plain data, for JSON."""
        return {
            "code": self.code,
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "message": self.message,
            "hint": self.hint,
        }


def from_error(code: str, err: PersonalizeError, file: str, *, blocking: bool) -> Finding:
    """An error as a finding of ``code``; ``file`` when the error names none."""
    who = f"recipient {err.recipient}" if err.recipient is not None else None
    message = ": ".join(part for part in (who, err.path, err.message) if part)
    return Finding(err.file or file, err.line, code, message, err.hint, blocking)
