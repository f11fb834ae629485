"""The ``personalize`` command line (a leaf: nothing in the library imports it)."""

from __future__ import annotations

import sys

# The console script imports this module before main() can catch anything, and the imports
# take about a second: Ctrl-C in it ends as in main() (130, "interrupted"), not as a traceback.
try:
    from . import calibrate, coverage, explain, lint, matrix, render, snapshot  # noqa: F401 - registers commands
    from .app import cli, main
except KeyboardInterrupt:
    sys.stderr.write("interrupted\n")
    raise SystemExit(130) from None

__all__ = ["cli", "main"]
