"""render_many's worker processes: each loads the project once and renders chunks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .errors import PersonalizeError
from .profile import Recipient
from .render import RenderedEmail

if TYPE_CHECKING:
    from .project import Project, Record

__all__ = ["Outcome"]


@dataclass(frozen=True)
class Outcome:
    """One record's result in ``render_many``: an email or an error, never both."""

    index: int
    recipient: str | None
    email: RenderedEmail | None = None
    error: PersonalizeError | None = None

    @property
    def ok(self) -> bool:
        """Whether the record rendered."""
        return self.email is not None


def plain(value: Any) -> Any:
    """A Recipient (or any nested read-only mapping) as plain dicts and lists."""
    if isinstance(value, Recipient):  # leave defaulted fields out: the worker defaults them again
        return {
            k: plain(v) for k, v in value.data.items() if v is not None and k not in value.defaulted
        }
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    return value


def record_id(record: Mapping[str, Any]) -> str | None:
    value = record.get("id") if isinstance(record, Mapping) else None
    return str(value) if value is not None else None


_WORKER: Project | None = None


def init_worker(root: str) -> None:
    """Load the project once in a worker process."""
    from .project import Project

    global _WORKER  # one project per worker process, loaded once
    _WORKER = Project.load(root)


def render_chunk(job: tuple[str, list[tuple[int, Record]], datetime]) -> list[Outcome]:
    layout, items, now = job
    assert _WORKER is not None
    outcomes = [_WORKER._outcome(layout, index, record, now) for index, record in items]
    # Emails share read-only decision mappings, which do not pickle; send plain dicts back.
    return [
        replace(
            o,
            email=replace(
                o.email,
                decisions=dict(o.email.decisions),
                experiments=dict(o.email.experiments),
            ),
        )
        if o.email
        else o
        for o in outcomes
    ]
