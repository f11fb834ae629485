"""Jinja templating: the sandbox, load-time checks, compiled templates (jinja2's one home)."""

from __future__ import annotations

from .checks import Printed as Printed
from .checks import TemplateInfo as TemplateInfo
from .checks import TemplateScan as TemplateScan
from .checks import check_template as check_template
from .checks import scan_template as scan_template
from .checks import url_filtered as url_filtered
from .codecache import CodeCache as CodeCache
from .compiled import CompiledTemplate as CompiledTemplate
from .compiled import Composite as Composite
from .compiled import Context as Context
from .compiled import Origin as Origin
from .compiled import fresh as fresh
from .environment import GLOBAL_NAMES as GLOBAL_NAMES
from .environment import Environments as Environments
from .environment import hole_name as hole_name
from .environment import make_environments as make_environments

__all__ = [
    "GLOBAL_NAMES",
    "CodeCache",
    "CompiledTemplate",
    "Composite",
    "Context",
    "Environments",
    "Origin",
    "Printed",
    "TemplateInfo",
    "TemplateScan",
    "check_template",
    "fresh",
    "hole_name",
    "make_environments",
    "scan_template",
    "url_filtered",
]
