"""personalize: render personalized marketing emails from segments, modules and layouts."""

from __future__ import annotations

from .errors import ConfigError as ConfigError
from .errors import DecisionError as DecisionError
from .errors import PersonalizeError as PersonalizeError
from .errors import RecipientError as RecipientError
from .errors import RegistryError as RegistryError
from .errors import RenderError as RenderError
from .errors import RuleError as RuleError

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DecisionError",
    "PersonalizeError",
    "RecipientError",
    "RegistryError",
    "RenderError",
    "RuleError",
    "__version__",
]
