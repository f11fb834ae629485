"""Compiled templates, skeleton + regions, and render errors located at their token."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

from jinja2.exceptions import (
    SecurityError,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.runtime import Context as Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from personalize.errors import PersonalizeError, RenderError

from .environment import Fragment, NoValueError, escape_output, print_html, print_text


class Origin(Protocol):
    """Where a template line came from (a protected token, see ``protect.Token``)."""

    @property
    def file(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def expression(self) -> str: ...


@dataclass(frozen=True)
class CompiledTemplate:
    """A compiled Jinja template plus the origin of each of its lines."""

    template: Any
    filename: str
    origins: Mapping[int, Origin] = field(default_factory=dict)
    fallback: tuple[str, int] | None = None
    source: str = field(default="", repr=False)

    @classmethod
    def build(
        cls,
        env: ImmutableSandboxedEnvironment,
        source: str,
        *,
        filename: str,
        origins: Mapping[int, Origin] | None = None,
        fallback: tuple[str, int] | None = None,
    ) -> CompiledTemplate:
        """Compile ``source``; ``filename`` identifies its frames in tracebacks."""
        try:
            code = env.compile(source, name=filename, filename=filename)
        except TemplateSyntaxError as exc:
            origin = (origins or {}).get(exc.lineno or 0)
            raise RenderError(
                f"compiled template is invalid: {exc.message}",
                file=origin.file if origin else (fallback or (None, None))[0],
                line=origin.line if origin else (fallback or (None, None))[1],
                hint="this is a bug in personalize's compiler; please report it with the module",
            ) from None
        # A plain copy of the globals, not make_globals' ChainMap: each render's Context makes
        # a set of the template's globals, and iterating a ChainMap costs ~1.5 µs a context.
        # The environments' globals never change after make_environments.
        template = env.template_class.from_code(env, code, dict(env.globals))
        # The generated code prints each value of an HTML template with `escape(…)`, a name
        # it imports into its own namespace: ours gives the same text, faster.
        namespace = template.root_render_func.__globals__
        namespace["escape"] = escape_output
        namespace["_print_html"] = print_html  # see environment._Printer
        namespace["_print_text"] = print_text
        return cls(template, filename, origins or {}, fallback, source)

    def render(self, context: Mapping[str, Any]) -> str:
        """Render with ``context``; any failure becomes a located ``PersonalizeError``."""
        return self.render_in(self.new_context(context))

    def new_context(self, context: Mapping[str, Any]) -> Context:
        """A Jinja context over ``context``, which other templates of the same environment
        may render into in turn (see ``fresh``)."""
        # shared=True: no per-render copy of the context; it already holds the globals.
        shared: Context = self.template.new_context(context, shared=True)
        return shared

    def render_in(self, context: Context) -> str:
        """Render into an existing Jinja context (shared by a skeleton and its regions)."""
        try:
            return "".join(self.template.root_render_func(context))
        except PersonalizeError as exc:
            origin = self._origin(exc.__traceback__)
            raise self._located(exc, origin) from None
        except NoValueError as exc:
            origin = self._origin(exc.__traceback__)
            expr = origin.expression if origin else ""
            raise self._error(
                origin,
                f"{origin.text if origin else 'a value'} has no value for this recipient",
                f"declare a default for the field, or write {{{{ {expr or 'x'} | default('…') }}}}",
                path=_root(expr),
            ) from None
        except UndefinedError as exc:
            origin = self._origin(exc.__traceback__)
            raise self._error(
                origin,
                f"{origin.text + ': ' if origin else ''}{exc.message}",
                "declare the field in personalize.toml or give a default with |default('…')",
                path=_root(origin.expression if origin else ""),
            ) from None
        except SecurityError as exc:
            origin = self._origin(exc.__traceback__)
            raise self._error(origin, f"unsafe or too costly: {exc}", None) from None
        except RecursionError as exc:
            origin = self._origin(exc.__traceback__)
            raise self._error(origin, "recursion went too deep", "check recursive macros") from None
        except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
            origin = self._origin(exc.__traceback__)
            where = f"{origin.text} failed: " if origin else ""
            raise self._error(origin, f"{where}{type(exc).__name__}: {exc}", None) from None

    def _origin(self, tb: TracebackType | None) -> Origin | None:
        line = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                line = self.template.get_corresponding_lineno(tb.tb_lineno)
            tb = tb.tb_next
        return self.origins.get(line) if line is not None else None

    def _where(self, origin: Origin | None) -> tuple[str | None, int | None]:
        if origin is not None:
            return origin.file, origin.line
        return self.fallback if self.fallback else (None, None)

    def _error(
        self, origin: Origin | None, message: str, hint: str | None, *, path: str | None = None
    ) -> RenderError:
        file, line = self._where(origin)
        return RenderError(message, file=file, line=line, hint=hint, path=path)

    def _located(self, exc: PersonalizeError, origin: Origin | None) -> PersonalizeError:
        file, line = self._where(origin)
        return exc.with_context(
            file=file, line=line, path=_root(origin.expression) if origin else None
        )


@dataclass(frozen=True)
class Composite:
    """A layout skeleton and the module regions that fill its holes, compiled separately.

    Regions are shared by every variant whose compiled output repeats them byte for byte, so
    a new combination of modules compiles only what is new.
    """

    skeleton: CompiledTemplate
    regions: tuple[tuple[str, CompiledTemplate], ...]  # (hole variable, region template)

    def render(self, context: Mapping[str, Any]) -> str:
        """Render every region, then the skeleton with the regions in its holes."""
        return self.render_in(self.skeleton.new_context(context))

    def render_in(self, shared: Context) -> str:
        """Render into an existing Jinja context of the skeleton's environment."""
        for name, region in self.regions:
            shared.vars[name] = Fragment(region.render_in(shared))
        return self.skeleton.render_in(shared)

    @property
    def source(self) -> str:
        """The whole template's source, as if compiled in one piece."""
        text = self.skeleton.source
        for name, region in self.regions:
            text = text.replace("{#\n#}{{ " + name + " }}", region.source, 1)
        return text


def fresh(context: Context) -> Context:
    """``context`` without what the last render set in it, ready for the next template.

    A Jinja context costs ~1.5 µs to build; the templates of one email that share an
    environment (subject, preheader, text part) take turns in one, each starting as in a new
    one: the names a template sets (``{% set %}``, a composite's holes) are gone.
    """
    context.vars.clear()
    context.exported_vars.clear()
    return context


def _root(expression: str) -> str | None:
    """The field path an expression reads: ``links.shop | url`` → ``links.shop``."""
    match = re.match(r"\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)", expression or "")
    return match.group(1) if match else None
