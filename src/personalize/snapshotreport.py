"""The report section of a failed email snapshot test: what changed, its file, how to accept it."""

# The pytest plugin calls this with plain values, so that it needs neither pytest nor syrupy.

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from pathlib import Path

from .testing import diff_summary

__all__ = ["relative", "section", "update_command"]

DEFAULT_DIRNAME = "__snapshots__"  # syrupy's --snapshot-dirname


def update_command(
    node: str,
    *,
    inifile: str | None = None,
    overrides: Sequence[str] = (),
    dirname: str = DEFAULT_DIRNAME,
    scrubs: Sequence[str] = (),
    headers: bool = False,
) -> str:
    """The shell command that writes the snapshot of test ``node`` as this run would.

    It repeats the options that change what is written where: ``-c``, ``-o``,
    ``--snapshot-dirname``, ``--email-scrub`` and ``--email-headers``.
    """
    words = ["pytest", "--snapshot-update", *(["-c", inifile] if inifile else [])]
    words += [word for override in overrides for word in ("-o", override)]
    words += [f"--snapshot-dirname={dirname}"] if dirname != DEFAULT_DIRNAME else []
    words += [f"--email-scrub={spec}" for spec in scrubs]
    words += ["--email-headers"] if headers else []
    return shlex.join([*words, node])


def section(
    name: str, file: str, command: str, *, old: object, new: object, message: str, diffs: bool
) -> tuple[str, str]:
    """The title and text of the section for snapshot ``name``, stored as ``old`` in ``file``.

    Args:
        name: The snapshot's name, e.g. ``test_email[vip-vera-weekly]``.
        file: Its file, as the user reaches it.
        command: The command that writes it (:func:`update_command`).
        old: The stored snapshot text (None: there is no file yet).
        new: The rendered email's snapshot text.
        message: The assertion message pytest shows.
        diffs: Whether the user wants diffs (not ``--snapshot-diff-mode=disabled``).
    """
    title = f"email snapshot {name}"
    if old is None:
        return title, f"snapshot file: {file} (not written yet)\nwrite it: {command}"
    lines = [f"snapshot file: {file}", f"accept the change: {command}"]
    # The assertion message shows the summary, unless pytest cut it short (it does not with
    # -vv or on CI) or has none (--assert=plain).
    cut = "Full output truncated" in message or "[+ received]" not in message
    if old and cut and diffs:
        summary = diff_summary(str(old), str(new))
        return f"{title}: what changed", "\n".join([summary, "", *lines])
    return title, "\n".join(lines)


def relative(path: str | Path, start: Path) -> str:
    """``path`` from ``start``, where pytest was started, as pytest prints node ids."""
    try:
        return os.path.relpath(path, start)
    except ValueError:  # another drive on Windows
        return str(path)
