"""Looking into one render: why each slot got its module, and the slow reference render."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .compile import VariantKey, compile_reference
from .decide import Explanation
from .errors import PersonalizeError
from .render import RenderedEmail, render_reference

if TYPE_CHECKING:
    from .project import Project, Record

__all__ = ["explanation", "reference_email"]


def explanation(
    project: Project, layout: str, recipient: Record, *, now: datetime | None
) -> Explanation:
    """``Project.explain``: every candidate of each slot, and the condition that failed."""
    r, membership, moment = project._inputs(recipient, now, trace=True)
    decisions = project._decide(layout, r, membership, moment, explain=True)
    return Explanation(
        layout=layout,
        recipient=r.id,
        now=moment,
        locale=r.locale,
        segments=tuple(n for n in project.segments.segments if n in membership.segments),
        metrics=membership.metrics,
        decisions=decisions,
        segment_trace=membership.trace,
        groups=membership.groups,
        scores=project.segments.score_terms(
            r.data, membership.metrics, now=moment, tz=project.schema.tz, recipient=r.id
        ),
    )


def reference_email(
    project: Project, layout: str, recipient: Record, *, now: datetime | None
) -> RenderedEmail:
    """``Project.render_reference``: Jinja, MJML and the inliner per recipient."""
    r, membership, moment = project._inputs(recipient, now, trace=False)
    decisions = project._decide(layout, r, membership, moment, explain=False)
    try:
        variant = project.variant(layout, decisions, r.locale)
    except PersonalizeError as exc:  # as in Project._chosen: say who needed the variant
        raise exc.with_context(recipient=r.id) from None
    key = VariantKey(layout, decisions.modules, r.locale)
    template = compile_reference(
        key, registry=project.registry, prepared=project._prepared, envs=project._envs
    )
    return render_reference(
        template,
        variant,
        recipient=r,
        membership=membership,
        decisions=decisions.as_dict(),
        now=moment,
        limits=project.settings.limits,
        clip_bytes=project.settings.render.clip_bytes,
        render=project.settings.render,
        message=project.settings.message,
        experiments=decisions.experiments,
    )
