"""personalize: render personalized marketing emails from segments, modules and layouts."""

from __future__ import annotations

import importlib
import importlib.util
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


if not TYPE_CHECKING:  # type checkers see the imports above, and flag unknown names

    def __getattr__(name: str) -> Any:
        home = _HOMES.get(name)
        if home is not None:
            value = getattr(importlib.import_module(f".{home}", __name__), name)
            globals()[name] = value
            return value
        # A submodule (personalize.lint, personalize.errors…), as a plain import used to give.
        if (
            name.isidentifier()
            and not name.startswith("__")
            and importlib.util.find_spec(f"{__name__}.{name}") is not None
        ):
            return importlib.import_module(f".{name}", __name__)
        raise AttributeError(f"module 'personalize' has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted([*globals(), *_HOMES])
