"""The ``personalize`` command line (a leaf: nothing in the library imports it)."""

from __future__ import annotations

from . import explain, render  # noqa: F401 - importing a command module registers it
from .app import cli, main

__all__ = ["cli", "main"]
