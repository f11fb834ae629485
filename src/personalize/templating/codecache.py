"""An on-disk cache of compiled template code, shared by the processes that use one project."""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
from functools import cache
from pathlib import Path
from types import CodeType
from typing import Any

import jinja2

__all__ = ["CodeCache", "Compiled"]

# Bump when what an entry holds changes shape.
_FORMAT = b"personalize-code-cache 1"

Compiled = tuple[CodeType, frozenset[str], bool]
"""A template's code, the names it sets in its context, and whether its holes stand open."""


class CodeCache:
    """Compiled template code in a folder, one file per (environment, file name, source).

    Parsing and generating a template's code is most of a variant's build; a process that
    finds the code here skips both. An entry's key covers everything the code depends on:
    the template's text and file name, the environment's options, filters and tests, and the
    exact Python, Jinja and personalize code that made it, so an entry is never
    used by code that would compile the template differently. Entries are written whole
    (to a temporary file, then renamed), so processes may share the folder; an entry that
    cannot be read is compiled again and rewritten, and one that cannot be written is left
    out: the cache only ever saves time.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def key(self, env: Any, source: str, filename: str) -> str:
        """The entry name for ``source`` compiled in ``env`` under ``filename``."""
        digest = hashlib.sha256(_environment_print(env))
        digest.update(filename.encode("utf-8", "surrogatepass") + b"\0")
        digest.update(source.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def load(self, key: str) -> Compiled | None:
        """The entry for ``key``, or None if there is none or it cannot be read."""
        try:
            data = (self.folder / key[:2] / key).read_bytes()
        except OSError:
            return None
        if not data.startswith(_FORMAT):
            return None
        try:  # a torn or foreign file: marshal refuses it, or it holds something else
            value = marshal.loads(data[len(_FORMAT) :])
        except (EOFError, ValueError, TypeError):
            return None
        if (
            isinstance(value, tuple)
            and len(value) == 3
            and isinstance(value[0], CodeType)
            and isinstance(value[1], frozenset)
            and isinstance(value[2], bool)
        ):
            return value[0], value[1], value[2]
        return None

    def store(self, key: str, value: Compiled) -> None:
        """Write the entry for ``key``; a folder that refuses it leaves the cache as it was."""
        folder = self.folder / key[:2]
        data = _FORMAT + marshal.dumps(value)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                os.replace(temporary, folder / key)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError:
            pass


def _environment_print(env: Any) -> bytes:
    """What, besides a template's text, decides the code Jinja generates for it in ``env``."""
    options = (
        type(env).__module__,
        type(env).__qualname__,
        env.code_generator_class.__qualname__,
        bool(env.autoescape),
        getattr(env.finalize, "__qualname__", repr(env.finalize)),
        env.optimized,
        env.keep_trailing_newline,
        sorted(env.filters),
        sorted(env.tests),
    )
    return _code_print() + repr(options).encode()


@cache
def _code_print() -> bytes:
    """The Python, Jinja and personalize code in use, as one digest."""
    digest = hashlib.sha256(_FORMAT)
    for part in (sys.version, sys.implementation.cache_tag, jinja2.__version__):
        digest.update(f"{part}\0".encode())
    # The package's own source, not its version number: an edited checkout compiles
    # differently under the same version.
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.digest()
