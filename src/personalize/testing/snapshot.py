"""The snapshot text of one rendered email, and what differs between two of them."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from personalize.errors import ConfigError, short_repr
from personalize.render import RenderedEmail

from .canonical import canonical_html

__all__ = [
    "EMPTY",
    "Scrubber",
    "SnapshotChange",
    "compare_snapshots",
    "diff_summary",
    "parse_header",
    "snapshot_text",
]


# -- snapshot text ---------------------------------------------------------------------------

EMPTY = "(empty)"  # an optional slot that got no module
# The snapshot format, written in each file's header. Bump it when the same email would give
# another text, so that a check says "rewrite once" instead of showing every file's diff.
# 1 (no `format:` line): canonical HTML with one line per tag and unescaped text; 2: one line
# per block tag or run of inline content, whitespace next to inline tags and entities kept.
FORMAT = "2"
_ABSENT = "(none)"
_MESSAGE_ID = "<snapshot@personalize.invalid>"
_BODY_HEADERS = frozenset({"mime-version", "content-type", "content-transfer-encoding"})
_SECTIONS = ("decisions", "experiments", "subject", "preheader", "warnings", "headers", "text")
_HTML_MARK = "\n## html\n"
_HINT = "write PATTERN=REPLACEMENT with a Python regular expression, e.g. (?<=[?&]t=)\\w+=TOKEN"


@dataclass(frozen=True)
class Scrubber:
    """A regular expression and its replacement, applied to the whole snapshot text.

    Use one for values that change between runs or environments, such as tracking tokens:
    ``Scrubber(r"(?<=[?&]t=)\\w+", "TOKEN")``. ``replacement`` may use group references
    (``\\1``, ``\\g<name>``) as in :func:`re.sub`.

    Raises:
        ConfigError: the pattern or the replacement is not valid (a group it refers to does not
            exist), or the pattern is empty.
    """

    pattern: re.Pattern[str] | str
    replacement: str = "[scrubbed]"
    _compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        spec = self.pattern if isinstance(self.pattern, str) else self.pattern.pattern
        what = f"scrubber {short_repr(spec)} → {short_repr(self.replacement)}"
        if not spec:
            raise ConfigError("a scrubber needs a non-empty pattern", hint=_HINT)
        try:
            compiled = re.compile(spec) if isinstance(self.pattern, str) else self.pattern
        except re.error as exc:
            raise ConfigError(f"{what}: {exc}", hint=_HINT) from None
        try:
            compiled.sub(self.replacement, "")  # checks the replacement's group references
        except (re.error, IndexError) as exc:  # IndexError: an unknown \g<name>
            groups = [f"\\{n}" for n in range(1, compiled.groups + 1)]
            groups += [f"\\g<{name}>" for name in compiled.groupindex]
            refer = (
                f"the replacement may refer to {', '.join(groups)}"
                if groups
                else "the pattern has no groups"
            )
            raise ConfigError(
                f"{what}: {exc}", hint=f"{refer}; write \\\\ for a literal backslash"
            ) from None
        object.__setattr__(self, "_compiled", compiled)

    @classmethod
    def parse(cls, spec: str) -> Scrubber:
        """``PATTERN=REPLACEMENT`` → a Scrubber, split at the *last* ``=``.

        Patterns often hold ``=`` (query strings), replacements rarely do: ``t=\\w+=t=X`` is
        ambiguous, so write ``(?<=[?&]t=)\\w+=X`` or ``([?&]t=)\\w+=\\1X`` (anchored, so that
        ``charset=UTF-8`` stays as it is).

        Raises:
            ConfigError: no ``=``, an empty or invalid pattern, or an invalid replacement.
        """
        pattern, sep, replacement = spec.rpartition("=")
        if not sep:
            raise ConfigError(
                f"expected PATTERN=REPLACEMENT, got {short_repr(spec)}",
                hint="e.g. (?<=[?&]t=)\\w+=TOKEN replaces every tracking token t=… by TOKEN",
            )
        return cls(pattern, replacement)

    def apply(self, text: str) -> str:
        """``text`` with every match replaced."""
        return self._compiled.sub(self.replacement, text)


def _headers(email: RenderedEmail) -> list[str]:
    # The Message-ID is random and the boundary lives in Content-Type: pin one, leave out the
    # other. Date comes from the render's `now`, which tests pin.
    message = email.to_message(message_id=_MESSAGE_ID)
    lines = []
    for name, value in message.items():
        if name.lower() in _BODY_HEADERS:
            continue
        if name.lower() == "date" and email.now is None:
            value = "(clock not pinned)"
        lines.append(f"{name}: {value}")
    return lines


def snapshot_text(
    email: RenderedEmail, *, scrubbers: Iterable[Scrubber] = (), headers: bool = False
) -> str:
    """The readable, deterministic text of one email, for snapshot files and their diffs.

    A header block (layout, recipient, locale, now, and the snapshot ``format``), then
    sections: ``## decisions`` (slot → module), ``## experiments`` (when the email has any),
    ``## subject``, ``## preheader``, ``## warnings``, ``## headers`` (with ``headers=True``:
    the message headers, Message-ID pinned), ``## text`` and ``## html``
    (:func:`canonical_html`). Line endings are ``\\n``; then each scrubber runs over the whole
    text, in order.

    Raises:
        RenderError: ``headers=True`` but the email has no sender or recipient address.
    """
    now = email.now.isoformat() if email.now else _ABSENT
    blocks = [
        f"layout: {email.layout}\nrecipient: {email.recipient}\nlocale: {email.locale}\n"
        f"now: {now}\nformat: {FORMAT}",
        _block("decisions", [f"{s}: {m or EMPTY}" for s, m in email.decisions.items()]),
    ]
    if email.experiments:
        blocks.append(_block("experiments", [f"{n}: {v}" for n, v in email.experiments.items()]))
    blocks += [
        _block("subject", [email.subject]),
        _block("preheader", [email.preheader]),
        _block("warnings", list(email.warnings)),
    ]
    if headers:
        blocks.append(_block("headers", _headers(email)))
    blocks += [
        _block("text", [email.text.strip("\n")]),
        _block("html", [canonical_html(email.html)]),
    ]
    text = "\n\n".join(blocks) + "\n"
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for scrubber in scrubbers:
        text = scrubber.apply(text)
    return text


def _block(name: str, lines: list[str]) -> str:
    body = "\n".join(lines).strip("\n")
    return f"## {name}\n{body or _ABSENT}"


# -- snapshot diffs --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Parsed:
    header: dict[str, str]
    sections: dict[str, str]

    def pairs(self, name: str) -> dict[str, str]:
        body = self.sections.get(name, "")
        pairs = (line.partition(": ") for line in body.split("\n") if line != _ABSENT)
        return {key: value for key, sep, value in pairs if sep}


def parse_header(text: str) -> dict[str, str]:
    """The header block of a snapshot text (``layout``, ``recipient``, …); ``{}`` if none."""
    parsed = _parse(text)
    return parsed.header if parsed else {}


def _parse(text: str) -> _Parsed | None:
    """The header and sections of a snapshot text; ``None`` if it is not one."""
    # The text part is the only free-form section, so html is found from the end.
    head, mark, html = text.rpartition(_HTML_MARK)
    if not mark:
        return None
    header: dict[str, str] = {}
    sections = {"html": html.rstrip("\n")}
    current: str | None = None
    lines: list[str] = []
    for line in head.split("\n"):
        name = line[3:] if line.startswith("## ") else None
        later = _SECTIONS[_SECTIONS.index(current) + 1 :] if current else _SECTIONS
        if name in later:
            if current:
                sections[current] = "\n".join(lines).strip("\n")
            current, lines = name, []
        elif current:
            lines.append(line)
        elif ": " in line:
            key, _, value = line.partition(": ")
            header[key] = value
    if current:
        sections[current] = "\n".join(lines).strip("\n")
    return _Parsed(header, sections)


@dataclass(frozen=True)
class SnapshotChange:
    """What differs between two snapshot texts.

    Attributes:
        slots: Slots whose module changed, in layout order.
        experiments: Experiments whose assigned variant changed.
        parts: Other parts that changed: header fields (``now``, ``locale``, …) and sections
            (``subject``, ``preheader``, ``warnings``, ``headers``, ``text``, ``html``). Just
            ``("format",)`` when the texts are in different snapshot formats (written by
            different versions of personalize): nothing else is compared then.
    """

    slots: tuple[str, ...] = ()
    experiments: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether anything differs."""
        return bool(self.slots or self.experiments or self.parts)

    @property
    def decisions_changed(self) -> bool:
        """Whether a slot got another module or an experiment another variant."""
        return bool(self.slots or self.experiments)


def _changed_keys(old: Mapping[str, str], new: Mapping[str, str]) -> tuple[str, ...]:
    keys = [*new, *(k for k in old if k not in new)]
    return tuple(k for k in keys if old.get(k) != new.get(k))


def compare_snapshots(old: str, new: str) -> SnapshotChange:
    """Which decisions and parts differ between two snapshot texts (old first).

    Texts that differ in a way the sections do not show (or that are not snapshot texts)
    give ``parts=("snapshot",)``, texts in different snapshot formats ``parts=("format",)``:
    ``changed`` is true exactly when ``old != new``.
    """
    if old == new:
        return SnapshotChange()
    a, b = _parse(old), _parse(new)
    if a is None or b is None:
        return _WHOLE
    if _format(a) != _format(b):
        return _FORMAT_CHANGE
    names = ("subject", "preheader", "warnings", "headers", "text", "html")
    change = SnapshotChange(
        slots=_changed_keys(a.pairs("decisions"), b.pairs("decisions")),
        experiments=_changed_keys(a.pairs("experiments"), b.pairs("experiments")),
        parts=(
            *_changed_keys(a.header, b.header),
            *(n for n in names if a.sections.get(n) != b.sections.get(n)),
        ),
    )
    return change if change.changed else _WHOLE


_WHOLE = SnapshotChange(parts=("snapshot",))
_FORMAT_CHANGE = SnapshotChange(parts=("format",))


def _format(parsed: _Parsed) -> str:
    return parsed.header.get("format", "1")  # format 1 had no format line


def _unified(name: str, old: str, new: str) -> list[str]:
    # split, not splitlines: the files' lines are what a reviewer compares.
    diff = difflib.unified_diff(
        old.split("\n"), new.split("\n"), f"{name} (snapshot)", f"{name} (rendered)", n=2
    )
    return [line.rstrip("\n") for line in diff]


def diff_summary(old: str, new: str) -> str:
    """What a reviewer needs first: changed decisions, then subject, text and HTML diffs.

    ``hero: hero/vip → hero/default`` lines for slots whose module changed (and experiments
    whose variant changed), ``subject: old → new`` and the same for the preheader and header
    fields, then unified diffs of the warnings, headers, text part and canonical HTML. ``""``
    exactly when the texts are equal; a unified diff of the whole texts when the sections do
    not show the difference (or either is not a snapshot text); one line saying so when the
    snapshot was written in another format (by another version of personalize).
    """
    change = compare_snapshots(old, new)
    if not change.changed:
        return ""
    a, b = _parse(old), _parse(new)
    if a is None or b is None or change == _WHOLE:
        return "\n".join(_unified("snapshot", old, new))
    if change == _FORMAT_CHANGE:
        return (
            f"snapshot format {_format(a)} → {_format(b)}: written by another version of "
            "personalize — rewrite it once (pytest --snapshot-update, or personalize snapshot "
            "--update) and review that diff"
        )
    lines: list[str] = []
    for section, keys in (("decisions", change.slots), ("experiments", change.experiments)):
        was, now = a.pairs(section), b.pairs(section)
        prefix = "experiment " if section == "experiments" else ""
        for key in keys:
            lines.append(f"{prefix}{key}: {was.get(key, _ABSENT)} → {now.get(key, _ABSENT)}")
    for key in change.parts:
        if key in a.header or key in b.header:
            lines.append(f"{key}: {a.header.get(key, _ABSENT)} → {b.header.get(key, _ABSENT)}")
        elif key in ("subject", "preheader"):
            lines.append(f"{key}: {a.sections.get(key, _ABSENT)} → {b.sections.get(key, _ABSENT)}")
        else:
            lines += _unified(key, a.sections.get(key, ""), b.sections.get(key, ""))
    # A section present in one text and empty-or-absent in the other diffs to nothing.
    return "\n".join(lines or _unified("snapshot", old, new))
