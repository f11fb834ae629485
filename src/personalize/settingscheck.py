"""Load-time checks of the settings that need Babel or the project's folders."""

from __future__ import annotations

import errno
import os

from .config import Settings, setting_error
from .errors import ConfigError, PersonalizeError
from .filters.locales import check_locale, currencies
from .templating import CodeCache

__all__ = ["check_project_settings", "open_code_cache", "project_setting_problems"]

# What each folder holds, for the hint of a folder that is set but missing.
_FOLDERS = {"templates": "the layouts (*.mjml)", "modules": "the modules (*.mjml, in subfolders)"}


def check_project_settings(settings: Settings) -> None:
    """Refuse settings that every render, or the load itself, would trip over.

    Raises:
        ConfigError: the first of `project_setting_problems`.
    """
    problems = project_setting_problems(settings)
    if problems:
        raise problems[0]


def project_setting_problems(settings: Settings) -> list[ConfigError]:
    """What is wrong with the settings beyond what the settings file itself shows.

    A ``locale`` or ``currency`` that Babel does not know would fail the render of every
    recipient without their own, blamed on the recipient; a ``templates`` or ``modules``
    folder that is set but missing, and a ``[render] code_cache`` folder that cannot be
    written, are reported at their setting. Each names the file and line.
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
    cache = _code_cache_problem(settings)
    if cache is not None:
        problems.append(cache)
    return problems


def _code_cache_problem(settings: Settings) -> ConfigError | None:
    """Why ``[render] code_cache`` cannot be created or written, judged without creating it
    (lint reports it too, and writes nothing)."""
    folder = settings.render.code_cache
    if folder is None:
        return None
    path = settings.path(folder)
    while not path.exists() and path != path.parent:
        path = path.parent
    if not path.is_dir():
        return _code_cache_error(settings, folder, os.strerror(errno.ENOTDIR))
    if not os.access(path, os.W_OK | os.X_OK):
        return _code_cache_error(settings, folder, os.strerror(errno.EACCES))
    return None


def _code_cache_error(settings: Settings, folder: str, reason: str) -> ConfigError:
    return setting_error(
        settings,
        ("render", "code_cache"),
        f"cannot write compiled templates to {folder!r}: {reason}",
        "name a folder this process may create and write to, or remove the setting",
    )


def open_code_cache(settings: Settings) -> CodeCache | None:
    """The ``[render] code_cache`` folder (relative to the project), created if missing.

    Raises:
        ConfigError: the folder cannot be created or written to.
    """
    folder = settings.render.code_cache
    if folder is None:
        return None
    path = settings.path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".personalize-write-check"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise _code_cache_error(settings, folder, exc.strerror or str(exc)) from None
    return CodeCache(path)
