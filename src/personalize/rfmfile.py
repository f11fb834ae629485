"""The cut points file ``personalize calibrate`` writes: its text, read-back check and write."""

from __future__ import annotations

import os
import secrets
import stat
from datetime import datetime
from pathlib import Path, PurePosixPath

from .errors import ConfigError
from .rfm import HEADER, CutPoints, Number, Rfm, format_number, parse_cut_points
from .yamlfile import load_yaml

__all__ = ["check_writable", "cut_points_text", "read_back", "write_cut_points"]


def cut_points_text(cuts: CutPoints, *, source: str, now: datetime, records: int, used: int) -> str:
    """The cut points file: a header saying where the cut points come from, then the points.

    Args:
        cuts: The cut points.
        source: The audience's name (its control characters are escaped in the header).
        now: The moment the metrics were computed at.
        records: The records read.
        used: The records counted.
    """
    lines = [
        HEADER,
        f"# Audience: {_one_line(source)}",
        f"# As of {now.isoformat()}: {records:,} records, {used:,} with "
        "recency, frequency and monetary values.",
        "# Quintiles as statistics.quantiles(values, n=5); a score counts the cut points "
        "below a value",
        "# (recency scores 5 - count, frequency and monetary 1 + count).",
    ]
    for name, values in cuts.as_dict().items():
        lines.append(f"{name}: [{', '.join(format_number(v) for v in values)}]")
    return "\n".join(lines) + "\n"


def read_back(text: str, source: str) -> dict[str, tuple[Number, ...]]:
    """The cut points in ``text`` as the project will read them after a reload.

    Raises:
        ConfigError: they do not (a bug), naming the audience: the file is not written.
    """
    try:
        doc = load_yaml(text, file="<generated>")
        return parse_cut_points(doc.data, doc=doc).as_dict()
    except ConfigError as err:
        problem = ": ".join(part for part in (err.path, err.message) if part)
        raise ConfigError(
            f"the cut points calibrated from this audience do not read back as written "
            f"({problem}); nothing was written",
            file=source,
            hint="this is a bug in personalize: please report it",
        ) from None


def check_writable(rfm: Rfm) -> tuple[Path, str]:
    """Check that calibrate has a cut points file to write, in a folder that exists.

    Cheap: call it before streaming an audience, so a run that cannot write stops at once.

    Returns:
        The file on disk, and its name relative to the project.

    Raises:
        ConfigError: the cut points are written inline, or the file's folder is missing.
    """
    if rfm.target is None or rfm.source is None:
        raise ConfigError(
            "the cut points are written inline, so calibrate cannot write them",
            file=rfm.file,
            line=rfm.line,
            path="rfm.cut_points",
            hint="write cut_points: rfm.yaml to let 'personalize calibrate' keep them there",
        )
    if not rfm.target.parent.is_dir():
        raise ConfigError(
            f"cannot write the cut points: the folder "
            f"{PurePosixPath(rfm.source).parent.as_posix()!r} does not exist",
            file=rfm.file,
            line=rfm.line,
            path="rfm.cut_points",
            hint="create it, or name a file next to the segments file",
        )
    return rfm.target, rfm.source


def write_cut_points(rfm: Rfm, text: str) -> str:
    """Write ``text`` to the cut points file whole, replacing the old one; its name.

    Raises:
        ConfigError: as ``check_writable``, or the file cannot be written.
    """
    target, source = check_writable(rfm)
    # Write then rename: a crash never leaves a half-written file behind. The new file
    # gets the old one's permissions, or a new file's (0o666 less the umask): others
    # (a sending service under its own user) must still be able to read it.
    temporary = target.parent / f".rfm-{secrets.token_hex(8)}.tmp"
    created = False
    try:
        old = stat.S_IMODE(target.stat().st_mode) if target.exists() else None
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        handle = os.open(temporary, flags, 0o666)  # the umask applies, as to any new file
        created = True
        with os.fdopen(handle, "wb") as out:
            out.write(text.encode("utf-8"))
        if old is not None:
            os.chmod(temporary, old)
        os.replace(temporary, target)
    except OSError as exc:
        if created and temporary.exists():
            temporary.unlink()
        # The reason without the temporary file's name, which the user never sees.
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"cannot write the cut points: {reason}",
            file=source,
            hint="check the folder's permissions and free space",
        ) from None
    return source


def _one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped, for a comment line."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
