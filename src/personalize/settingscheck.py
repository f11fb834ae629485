"""Load-time checks of the ``[project]`` settings that need Babel or the project's folders."""

from __future__ import annotations

from .config import Settings, setting_error
from .errors import ConfigError, PersonalizeError
from .filters.locales import check_locale, currencies

__all__ = ["check_project_settings", "project_setting_problems"]

# What each folder holds, for the hint of a folder that is set but missing.
_FOLDERS = {"templates": "the layouts (*.mjml)", "modules": "the modules (*.mjml, in subfolders)"}


def check_project_settings(settings: Settings) -> None:
    """Refuse ``[project]`` settings that every render, or the load itself, would trip over.

    Raises:
        ConfigError: the first of `project_setting_problems`.
    """
    problems = project_setting_problems(settings)
    if problems:
        raise problems[0]


def project_setting_problems(settings: Settings) -> list[ConfigError]:
    """What is wrong with ``[project]`` beyond what the settings file itself shows.

    A ``locale`` or ``currency`` that Babel does not know would fail the render of every
    recipient without their own, blamed on the recipient; a ``templates`` or ``modules``
    folder that is set but missing is reported at its setting. Each names the file and line.
    """
    project = settings.project
    problems: list[ConfigError] = []
    try:
        check_locale(project.locale)
    except PersonalizeError as err:
        problems.append(setting_error(settings, ("project", "locale"), err.message, err.hint))
    if project.currency not in currencies():
        problems.append(
            setting_error(
                settings,
                ("project", "currency"),
                f"unknown currency {project.currency!r}",
                "use an ISO 4217 code that Babel knows, such as 'EUR' or 'USD'",
            )
        )
    for key, holds in _FOLDERS.items():
        # Unset, the default folders may be missing: registry says what a project needs.
        folder: str = getattr(project, key)
        path = settings.path(folder)
        if key in project.model_fields_set and not path.is_dir():
            what = f"{folder!r} is not a folder" if path.exists() else f"no {folder}/ folder"
            problems.append(
                setting_error(
                    settings,
                    ("project", key),
                    what,
                    f"create it, or set {key} to the folder that holds {holds}",
                )
            )
    return problems
