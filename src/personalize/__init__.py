"""personalize: render personalized marketing emails from segments, modules and layouts."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .calibration import Calibration as Calibration
    from .decide import Candidate as Candidate
    from .decide import Decision as Decision
    from .decide import Decisions as Decisions
    from .decide import Explanation as Explanation
    from .errors import ConfigError as ConfigError
    from .errors import DecisionError as DecisionError
    from .errors import PersonalizeError as PersonalizeError
    from .errors import RecipientError as RecipientError
    from .errors import RegistryError as RegistryError
    from .errors import RenderError as RenderError
    from .errors import RuleError as RuleError
    from .experiments import Assignment as Assignment
    from .lint import Finding as Finding
    from .lint import LintReport as LintReport
    from .project import Outcome as Outcome
    from .project import Project as Project
    from .recipient import Recipient as Recipient
    from .render import RenderedEmail as RenderedEmail
    from .segmentgroups import GroupResolution as GroupResolution
    from .segments import Membership as Membership

__version__ = "0.1.0"

# Names load on first use, so that importing a submodule (pytest loads personalize.pytest_plugin
# in every run) does not import the whole library.
_HOMES = {
    "Assignment": "experiments",
    "Calibration": "calibration",
    "Candidate": "decide",
    "ConfigError": "errors",
    "Decision": "decide",
    "DecisionError": "errors",
    "Decisions": "decide",
    "Explanation": "decide",
    "Finding": "lint",
    "GroupResolution": "segmentgroups",
    "LintReport": "lint",
    "Membership": "segments",
    "Outcome": "project",
    "PersonalizeError": "errors",
    "Project": "project",
    "Recipient": "recipient",
    "RecipientError": "errors",
    "RegistryError": "errors",
    "RenderError": "errors",
    "RenderedEmail": "render",
    "RuleError": "errors",
}

__all__ = [
    "Assignment",
    "Calibration",
    "Candidate",
    "ConfigError",
    "Decision",
    "DecisionError",
    "Decisions",
    "Explanation",
    "Finding",
    "GroupResolution",
    "LintReport",
    "Membership",
    "Outcome",
    "PersonalizeError",
    "Project",
    "Recipient",
    "RecipientError",
    "RegistryError",
    "RenderError",
    "RenderedEmail",
    "RuleError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    try:
        home = _HOMES[name]
    except KeyError:
        raise AttributeError(f"module 'personalize' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
