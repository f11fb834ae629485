"""Snapshot tests of rendered emails: canonical HTML, snapshot text, diffs, folder checks.

The library side of ``personalize.pytest_plugin`` and ``personalize snapshot``; it imports
neither pytest nor syrupy.
"""

from __future__ import annotations

from .canonical import canonical_html as canonical_html
from .folder import SUFFIX as SUFFIX
from .folder import SnapshotFile as SnapshotFile
from .folder import SnapshotReport as SnapshotReport
from .folder import check_snapshots as check_snapshots
from .folder import snapshot_path as snapshot_path
from .snapshot import EMPTY as EMPTY
from .snapshot import Scrubber as Scrubber
from .snapshot import SnapshotChange as SnapshotChange
from .snapshot import compare_snapshots as compare_snapshots
from .snapshot import diff_summary as diff_summary
from .snapshot import snapshot_text as snapshot_text

__all__ = [
    "EMPTY",
    "SUFFIX",
    "Scrubber",
    "SnapshotChange",
    "SnapshotFile",
    "SnapshotReport",
    "canonical_html",
    "check_snapshots",
    "compare_snapshots",
    "diff_summary",
    "snapshot_path",
    "snapshot_text",
]
