"""Per-recipient rendering: subject, preheader, HTML and text from a compiled variant."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from types import MappingProxyType
from typing import Any

from .compile import CompiledVariant
from .config import LimitSettings, MessageSettings, RenderSettings
from .errors import PersonalizeError, RenderError
from .filters import check_locale
from .inline import inline_css
from .message import build_message, clean_header_text
from .mjml import compile_assembled
from .profile import Recipient
from .segments import Membership
from .templating import CompiledTemplate, Context, fresh
from .text import html_to_text, normalize_text

__all__ = ["RenderedEmail", "render_email", "render_reference"]

_MAPPINGS = (dict, MappingProxyType)
# A str's storage is its header plus its characters (and more for a few legacy strings, which
# only makes the bound below larger): never less than this many bytes of header.
_STR_HEADER = sys.getsizeof("")
_PEP_393 = sys.implementation.name == "cpython"
_UNSUBSCRIBE = ("unsubscribe", "abmelden", "désinscri", "darse de baja", "afmelden")


@dataclass(frozen=True)
class RenderedEmail:
    """One recipient's email, ready to send.

    Attributes:
        layout: The layout name (``weekly``).
        recipient: The recipient id.
        subject: One line, control characters removed.
        preheader: The inbox preview text ("" when the layout has none).
        html: The CSS-inlined, responsive HTML.
        text: The plain-text part.
        decisions: Slot → module id (``None`` for an empty optional slot).
        warnings: Things worth a look, e.g. size over Gmail's clipping limit, fields that fell
            back to their defaults.
        locale: The locale the email was rendered in.
        now: The moment the email was rendered for.
        address: The recipient's ``email`` field, when the schema has one.
        unsubscribe: The recipient's unsubscribe URL (the field ``[message] unsubscribe`` names).
        sender: ``[message] sender``, the default From of ``to_message``.
        reply_to: ``[message] reply_to``, the default Reply-To of ``to_message``.
        experiments: Experiment → the recipient's variant, or ``"holdout"``, for each
            experiment whose arm decided one of the slots (empty when none did).
    """

    layout: str
    recipient: str
    subject: str
    preheader: str
    html: str
    text: str
    decisions: Mapping[str, str | None]
    warnings: tuple[str, ...] = ()
    locale: str = "en_US"
    now: datetime | None = None
    address: str | None = None
    unsubscribe: str | None = None
    sender: str | None = None
    reply_to: str | None = None
    experiments: Mapping[str, str] = field(default_factory=dict)

    def to_message(
        self,
        *,
        sender: str | Address | None = None,
        to: str | Address | None = None,
        to_name: str | None = None,
        reply_to: str | Address | None = None,
        headers: Mapping[str, str] | None = None,
        list_unsubscribe: str | Sequence[str] | None = None,
        date: datetime | None = None,
        message_id: str | None = None,
    ) -> EmailMessage:
        """A ``multipart/alternative`` message (text, then HTML) ready for SMTP or an ESP.

        ``sender`` and ``reply_to`` default to ``[message] sender``/``reply_to``, ``to`` to the
        recipient's ``email`` field, ``list_unsubscribe`` to the URL in the field named by
        ``[message] unsubscribe``, and ``date`` to the render's ``now``.
        Headers are built from ``email.headerregistry.Address``; control characters never reach
        a header; ``List-Unsubscribe`` stays on one line with ``List-Unsubscribe-Post``.
        """
        target = to if to is not None else self.address
        sender = sender if sender is not None else self.sender
        if sender is None:
            raise RenderError(
                "no sender address",
                recipient=self.recipient,
                hint='pass sender="Shop <shop@example.com>" or set [message] sender',
            )
        if target is None:
            raise RenderError(
                "no recipient address",
                recipient=self.recipient,
                hint="pass to=… or declare an 'email' field in [recipient.fields]",
            )
        return build_message(
            subject=self.subject,
            html=self.html,
            text=self.text,
            sender=sender,
            to=target,
            to_name=to_name,
            reply_to=reply_to if reply_to is not None else self.reply_to,
            headers=headers,
            list_unsubscribe=list_unsubscribe if list_unsubscribe is not None else self.unsubscribe,
            date=date or self.now,
            message_id=message_id,
            recipient=self.recipient,
        )


def context_for(
    recipient: Recipient,
    membership: Membership,
    *,
    now: datetime,
    limits: LimitSettings,
    warnings: list[str],
    globals: Mapping[str, Any],
) -> dict[str, Any]:
    """The Jinja context of one recipient: fields, metrics, segments and formatting settings.

    One dict serves every template of the email (rendered with ``shared=True``), so it carries
    the environment's globals too.
    """
    check_locale(recipient.locale)  # a valid pattern Babel may not know
    context = dict(globals)
    context.update(_plain(recipient.data))
    context.update(_plain(membership.metrics))
    # The effective values (project defaults filled in), not the raw, possibly empty fields.
    context["locale"] = recipient.locale
    context["timezone"] = recipient.timezone
    context["currency"] = recipient.currency
    context["segments"] = membership.segments
    context["now"] = now
    context["_locale"] = recipient.locale
    context["_tz"] = recipient.tz
    context["_currency"] = recipient.currency
    context["_now"] = now
    context["_warnings"] = warnings
    context["_budget"] = [limits.max_loop_iterations]
    return context


def _plain(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    # dict.update reads a mapping proxy key by key, but copies a dict at once: for the ~40
    # fields and metrics of an email, copying the proxy's dict first halves the cost.
    return mapping.copy() if type(mapping) is MappingProxyType else mapping


def _subject(
    context: dict[str, Any], subject: CompiledTemplate, preheader: CompiledTemplate | None
) -> tuple[str, str, Context]:
    """Subject and preheader, and the Jinja context they rendered in, emptied for the next
    template of their (text) environment."""
    shared = subject.new_context(context)
    text = clean_header_text(subject.render_in(shared))
    pre = clean_header_text(preheader.render_in(fresh(shared))) if preheader else ""
    context["_subject"], context["_preheader"] = text, pre
    return text, pre, fresh(shared)


def utf8_bound(text: str) -> int:
    """An upper bound of ``len(text.encode("utf-8"))``, in constant time."""
    if text.isascii():
        return len(text)
    # CPython (PEP 393) stores a str at 1, 2 or 4 bytes per character, by its highest one, and
    # getsizeof counts that storage plus a header: at 1 (≤ U+00FF) a character takes at most 2
    # UTF-8 bytes, at 2 (≤ U+FFFF) at most 3. Anything unclear counts 4 bytes a character.
    # Encoding a 26,000-character email to find out took ~27 µs.
    if _PEP_393 and text:
        stored = (sys.getsizeof(text) - _STR_HEADER) / len(text)
        if stored < 2:
            return len(text) * 2
        if stored < 3:
            return len(text) * 3
    return len(text) * 4


def _size_warning(html: str, clip_bytes: int) -> str | None:
    # Only encode when the answer is in doubt.
    if utf8_bound(html) <= clip_bytes:
        return None
    size = len(html) if html.isascii() else len(html.encode("utf-8"))
    if size <= clip_bytes:
        return None
    cut = html.encode("utf-8")[:clip_bytes].decode("utf-8", "ignore").lower()
    rest = html[len(cut) :].lower()
    past = any(word in rest for word in _UNSUBSCRIBE) and not any(w in cut for w in _UNSUBSCRIBE)
    return (
        f"HTML is {size / 1000:.1f} KB, over Gmail's clipping limit of {clip_bytes / 1000:.0f} KB"
        + ("; the unsubscribe link falls past the clip point" if past else "")
    )


def _finish(
    *,
    layout: str,
    recipient: Recipient,
    decisions: Mapping[str, str | None],
    subject: str,
    preheader: str,
    html: str,
    text: str,
    warnings: list[str],
    names: frozenset[str] | None,
    clip_bytes: int,
    max_output: int,
    now: datetime,
    message: MessageSettings,
    experiments: Mapping[str, str] | None,
) -> RenderedEmail:
    if len(html) > max_output:
        raise RenderError(
            f"rendered HTML has {len(html):,} characters, over the limit of {max_output:,}",
            recipient=recipient.id,
            hint="check loops over recipient data; raise [limits] max_output_bytes if intended",
        )
    for name in sorted(recipient.defaulted if names is None else recipient.defaulted & names):
        value = recipient.data.get(name)
        shown = repr(list(value)) if isinstance(value, tuple) else repr(value)
        warnings.append(f"{name} fell back to its default {shown}")
    size = _size_warning(html, clip_bytes)
    if size:
        warnings.append(size)
    address = recipient.data.get("email")
    return _email(
        layout=layout,
        recipient=recipient.id,
        subject=subject,
        preheader=preheader,
        html=html,
        text=text,
        decisions=decisions,
        warnings=tuple(dict.fromkeys(warnings)),
        locale=recipient.locale,
        now=now,
        address=address if isinstance(address, str) else None,
        unsubscribe=_field(recipient.data, message.unsubscribe) if message.unsubscribe else None,
        sender=message.sender,
        reply_to=message.reply_to,
        experiments={} if experiments is None else experiments,
    )


def _email(**fields: Any) -> RenderedEmail:
    """``RenderedEmail(**fields)``, given every field, ~1.5 µs faster.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``; here the
    instance's ``__dict__`` takes them at once (``tests/test_render.py`` checks that every
    field is there, as ``__init__`` would have set it).
    """
    email: RenderedEmail = object.__new__(RenderedEmail)
    email.__dict__.update(fields)
    return email


def _field(data: Mapping[str, Any], path: str) -> str | None:
    value: Any = data
    for part in path.split("."):
        # Validated data is dicts and mapping proxies: check those before the (slow) ABC.
        is_mapping = type(value) in _MAPPINGS or isinstance(value, Mapping)
        value = value.get(part) if is_mapping else None
    return value if isinstance(value, str) else None


def render_email(
    variant: CompiledVariant,
    *,
    recipient: Recipient,
    membership: Membership,
    decisions: Mapping[str, str | None],
    now: datetime,
    limits: LimitSettings,
    clip_bytes: int,
    message: MessageSettings | None = None,
    experiments: Mapping[str, str] | None = None,
) -> RenderedEmail:
    """Render a compiled variant for one recipient (the fast path: only Jinja runs).

    Raises:
        PersonalizeError: located at the module file and line of the failing token, with the
            recipient id and field path.
    """

    def parts(context: dict[str, Any], text_context: Context) -> tuple[str, str]:
        html = variant.html.render(context)
        return html, normalize_text(variant.text.render_in(text_context))

    return _render(
        variant,
        parts,
        recipient=recipient,
        membership=membership,
        decisions=decisions,
        now=now,
        limits=limits,
        clip_bytes=clip_bytes,
        message=message,
        experiments=experiments,
        names=variant.names,
    )


def render_reference(
    mjml_template: CompiledTemplate,
    variant: CompiledVariant,
    *,
    recipient: Recipient,
    membership: Membership,
    decisions: Mapping[str, str | None],
    now: datetime,
    limits: LimitSettings,
    clip_bytes: int,
    render: RenderSettings,
    message: MessageSettings | None = None,
    experiments: Mapping[str, str] | None = None,
) -> RenderedEmail:
    """The reference path a user would write: Jinja, then MJML, then inlining, per recipient.

    Slow by design; tests use it to prove the compiled path gives the same email. ``render``
    (the project's ``[render]``) sets the MJML compiler's options and the inliner, as on the
    compiled path.
    """

    def parts(context: dict[str, Any], _: Context) -> tuple[str, str]:
        mjml = mjml_template.render(context)
        html = compile_assembled(mjml, render)  # as compile_variant does
        html = inline_css(html, engine=render.inliner)
        return html, normalize_text(html_to_text(html))

    return _render(
        variant,
        parts,
        recipient=recipient,
        membership=membership,
        decisions=decisions,
        now=now,
        limits=limits,
        clip_bytes=clip_bytes,
        message=message,
        experiments=experiments,
        names=None,
    )


def _render(
    variant: CompiledVariant,
    parts: Callable[[dict[str, Any], Context], tuple[str, str]],
    *,
    recipient: Recipient,
    membership: Membership,
    decisions: Mapping[str, str | None],
    now: datetime,
    limits: LimitSettings,
    clip_bytes: int,
    message: MessageSettings | None,
    experiments: Mapping[str, str] | None,
    names: frozenset[str] | None,
) -> RenderedEmail:
    """Context, subject and preheader, then ``parts`` (HTML and text), then the checks."""
    warnings: list[str] = []
    try:
        context = context_for(
            recipient,
            membership,
            now=now,
            limits=limits,
            warnings=warnings,
            globals=variant.globals,
        )
        subject, preheader, text_context = _subject(context, variant.subject, variant.preheader)
        html, text = parts(context, text_context)
    except PersonalizeError as exc:
        raise exc.with_context(recipient=recipient.id) from None
    return _finish(
        layout=variant.key.layout,
        recipient=recipient,
        decisions=decisions,
        subject=subject,
        preheader=preheader,
        html=html,
        text=text,
        warnings=warnings,
        names=names,
        clip_bytes=clip_bytes,
        max_output=limits.max_output_bytes,
        now=now,
        message=message or MessageSettings(),
        experiments=experiments,
    )
