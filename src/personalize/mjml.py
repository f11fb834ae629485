"""The MJML adapter: MJML → HTML compilation (the only user of mjml)."""

from __future__ import annotations

import re
from collections.abc import Callable

import mjml

from .config import RenderSettings
from .errors import RenderError, short_repr
from .markupcheck import DEPTH_HINT, SIZE_HINT, markup_depth, source_size
from .markupsyntax import escape_attribute_values

__all__ = ["compile_assembled", "compile_mjml"]


def compile_assembled(
    source: str,
    render: RenderSettings,
    *,
    where: str = "",
    locate: Callable[[int], tuple[str, int | None]] | None = None,
) -> str:
    """``compile_mjml`` of a variant's assembled MJML under the project's ``[render]`` settings:
    the same options and limits for a variant, the reference path and lint."""
    # A layout with its modules: up to four times what one file may hold.
    return compile_mjml(
        source,
        web_fonts=render.web_fonts,
        max_depth=render.max_depth,
        max_bytes=render.max_source_bytes * 4,
        where=where,
        locate=locate,
    )


def compile_mjml(
    source: str,
    *,
    web_fonts: bool = False,
    max_depth: int = 200,
    max_bytes: int = 1_000_000,
    where: str = "",
    locate: Callable[[int], tuple[str, int | None]] | None = None,
) -> str:
    """Compile MJML to HTML with MRML, after checking size and nesting depth.

    MRML crashes the whole process on very deep nesting, so the limits are checked first.
    The MJML must have its includes resolved already: MRML is given no include loader and
    never reads files.

    Args:
        source: A whole MJML document.
        web_fonts: Let MRML add its default web-font links (Google Fonts for Ubuntu, …).
            Fonts declared with ``mj-font`` are linked either way.
        max_depth: The deepest element nesting allowed.
        max_bytes: The largest source allowed, in UTF-8 bytes.
        where: What is being compiled, for messages (e.g. ``"layout 'weekly'"``).
        locate: The file and line of an offset in ``source``, to place a compiler error that
            gives a position.

    Returns:
        The HTML document.

    Raises:
        RenderError: The source is too large or too deep, or MJML cannot compile it.
    """
    subject = f"markup of {where}" if where else "markup"
    size = source_size(source, max_bytes)
    if size > max_bytes:
        raise RenderError(
            f"{subject} is {size:,} bytes, the limit is {max_bytes:,}", hint=SIZE_HINT
        )
    depth = markup_depth(source)
    if depth > max_depth:
        raise RenderError(
            f"{subject} nests {depth} levels deep, the limit is {max_depth}", hint=DEPTH_HINT
        )
    try:
        html = mjml.mjml2html(escape_attribute_values(source), fonts=None if web_fonts else {})
        return str(html)
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except BaseException as exc:
        # A Rust panic arrives as pyo3's PanicException, which derives from BaseException.
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        reason, offset = _placed(str(exc) or type(exc).__name__, source)
        file, line = locate(offset) if locate and offset is not None else (None, None)
        stopped = "MJML stopped here, so the mistake is on this line or above it; " if line else ""
        raise RenderError(
            f"MJML could not compile {where or 'the markup'}: {reason}",
            file=file,
            line=line,
            hint=f"{stopped}check that every mj- tag is closed, that the HTML inside <mj-table> "
            "balances and that attribute names are valid; 'personalize lint' compiles each "
            "module on its own and names the one to fix",
        ) from None


# MRML gives the UTF-8 byte span of what it stopped at: "… at position 3325:3336".
_POSITION = re.compile(r" at position (\d+):(\d+)$")


def _placed(reason: str, source: str) -> tuple[str, int | None]:
    """The compiler's reason with its byte span replaced by the text there, and that text's
    offset in ``source`` (None when the reason gives no position)."""
    found = _POSITION.search(reason)
    if found is None:
        return reason, None
    data = source.encode("utf-8", "surrogatepass")
    start, end = (
        len(data[: int(n)].decode("utf-8", "ignore")) for n in (found.group(1), found.group(2))
    )
    shown = short_repr(source[start:end] or source[start : start + 20])
    return f"{reason[: found.start()]} at {shown}", start
