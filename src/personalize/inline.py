"""The CSS inliner adapter (the only user of css_inline and premailer); it never fetches."""

from __future__ import annotations

import logging
import re
from typing import Any, Literal, get_args

import css_inline

from .errors import ConfigError, RenderError, did_you_mean, short_repr

__all__ = ["Engine", "inline_css"]

Engine = Literal["css-inline", "premailer"]

# Built once and shared: the Rust inliner is immutable after construction and its Python
# class is neither `unsendable` nor mutated by `inline()`, so concurrent calls are safe.
# With load_remote_stylesheets=False it reads neither URLs nor local files.
_CSS_INLINER = css_inline.CSSInliner(
    keep_style_tags=True,
    keep_link_tags=True,
    load_remote_stylesheets=False,
)
_BASIC_ATTRIBUTES = ("align", "valign", "bgcolor", "width", "height")
_DOCTYPE = re.compile(r"\s*<!doctype\b", re.IGNORECASE)


def inline_css(html: str, *, engine: Engine = "css-inline") -> str:
    """Copy the rules of the document's ``<style>`` blocks into ``style`` attributes.

    The ``<style>`` and ``<link>`` elements stay in place, so media queries keep working in
    clients that support them. No stylesheet is ever fetched, remote or local.

    Args:
        html: A whole HTML document (MJML output) with its tokens protected as markers.
        engine: ``"css-inline"`` (fast, the default) or ``"premailer"`` (needs the
            ``premailer`` extra).

    Returns:
        The document with inline styles; blank input is returned unchanged.

    Raises:
        ConfigError: The engine is unknown, or premailer is not installed.
        RenderError: The inliner failed on this document.
    """
    engines = get_args(Engine)
    if engine not in engines:
        raise ConfigError(
            f"unknown inliner {short_repr(engine)}",
            hint=did_you_mean(engine, engines) or 'use inliner = "css-inline" or "premailer"',
        )
    if not html.strip():
        return html
    if engine == "premailer":
        return _premailer(html)
    try:
        return str(_CSS_INLINER.inline(html))
    except ValueError as exc:
        raise _failed(exc) from None


def _premailer(html: str) -> str:
    try:
        from lxml import etree  # type: ignore[import-untyped,unused-ignore]
        from premailer import Premailer
    except ImportError:
        raise ConfigError(
            "inliner 'premailer' is not installed",
            hint="pip install 'personalize[premailer]' or set inliner = \"css-inline\"",
        ) from None
    inliner: Any = Premailer(
        base_url=None,
        disable_link_rewrites=True,
        keep_style_tags=True,
        remove_classes=False,
        strip_important=False,
        allow_network=False,
        allow_loading_external_files=False,
        cssutils_logging_level=logging.CRITICAL,
        # Copying styles into width/height/align/… attributes overwrites attributes MJML set
        # and duplicates protected tokens; css-inline does not do it either.
        disable_basic_attributes=_BASIC_ATTRIBUTES,
    )
    try:
        # Premailer's own parse silently drops everything nested deeper than ~255 levels
        # or past a 10 MB text node; huge_tree lifts both limits.
        root = etree.fromstring(html, etree.HTMLParser(huge_tree=True))
        if root is None:
            return html
        tree = inliner.transform(root)
        # lxml would invent an HTML 4 doctype when the document had none.
        node = tree if _DOCTYPE.match(html) else tree.getroot()
        return str(etree.tostring(node, method="html", encoding="unicode"))
    except Exception as exc:
        raise _failed(exc) from None


def _failed(exc: Exception) -> RenderError:
    reason = str(exc) or type(exc).__name__
    return RenderError(
        f"CSS inlining failed: {reason}",
        hint="check the <style> blocks of the layout and modules for invalid CSS",
    )
