"""personalize: render personalized marketing emails from segments, modules and layouts."""

from __future__ import annotations

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
from .profile import Recipient as Recipient
from .project import Outcome as Outcome
from .project import Project as Project
from .render import RenderedEmail as RenderedEmail
from .segments import Membership as Membership

__version__ = "0.1.0"

__all__ = [
    "Candidate",
    "ConfigError",
    "Decision",
    "DecisionError",
    "Decisions",
    "Explanation",
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
