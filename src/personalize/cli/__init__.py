"""The ``personalize`` command line (a leaf: nothing in the library imports it)."""

from __future__ import annotations

from . import calibrate, coverage, explain, lint, matrix, render, snapshot  # noqa: F401 - registers commands
from .app import cli, main

__all__ = ["cli", "main"]
