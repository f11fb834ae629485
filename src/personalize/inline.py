"""The CSS inliner adapter (the only user of css_inline and premailer); it never fetches."""

from __future__ import annotations

import functools
import logging
import re
import warnings
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

        premailer_class = _premailer_class()
    except ImportError:
        raise ConfigError(
            "inliner 'premailer' is not installed",
            hint="pip install 'personalize[premailer]' or set inliner = \"css-inline\"",
        ) from None
    inliner: Any = premailer_class(
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
        # premailer warns on stderr about the document (an unknown data-premailer value);
        # a library prints nothing there. catch_warnings swaps the process-wide filter list,
        # which is fine as render_many runs workers as processes, not threads.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="premailer")
            tree = inliner.transform(root)
        # lxml would invent an HTML 4 doctype when the document had none.
        node = tree if _DOCTYPE.match(html) else tree.getroot()
        return str(etree.tostring(node, method="html", encoding="unicode"))
    except Exception as exc:
        raise _failed(exc) from None


@functools.cache
def _premailer_class() -> Any:
    """Premailer, reading its ``<style>`` blocks with a parser that fetches nothing."""
    from premailer import Premailer

    # The override below is what keeps premailer off the network; a premailer that no
    # longer parses through it must not run at all.
    if not callable(getattr(Premailer, "_parse_css_string", None)):
        raise ConfigError(
            "inliner 'premailer': this premailer version parses CSS where personalize"
            " cannot stop it from loading @import URLs",
            hint="pip install 'premailer==3.10.*' or set inliner = \"css-inline\"",
        )

    class NoFetchPremailer(Premailer):  # type: ignore[misc]
        def _parse_css_string(self, css_body: str, validate: bool = True) -> Any:
            return _parse_sheet(css_body, validate)

    return NoFetchPremailer


@functools.lru_cache(maxsize=128)
def _parse_sheet(css: str, validate: bool) -> Any:
    """One ``<style>`` block parsed by cssutils, its ``@import`` rules left unloaded.

    premailer's own parse (``cssutils.parseString``) loads every ``@import`` (MJML writes one
    per ``<mj-font>``, and any URL or ``file://`` path a template names) through urllib,
    with no timeout. The rules stay in the kept ``<style>`` text for the email client.
    Cached like premailer's parse: the same head CSS recurs in every variant, and premailer
    only reads the sheet.
    """
    import cssutils  # type: ignore[import-untyped,unused-ignore]

    return cssutils.CSSParser(fetcher=_fetch_nothing).parseString(css, validate=validate)


def _fetch_nothing(url: str) -> None:
    """A cssutils fetcher: every URL reads as unavailable, and nothing is opened."""


def _failed(exc: Exception) -> RenderError:
    reason = str(exc) or type(exc).__name__
    return RenderError(
        f"CSS inlining failed: {reason}",
        hint="check the <style> blocks of the layout and modules for invalid CSS",
    )
