"""Lint checks of template content: undeclared names, unsafe constructs, images, unsubscribe."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from .config import FieldSpec, Settings
from .errors import did_you_mean
from .includes import Source
from .lintcodes import Finding
from .protect import TOKEN
from .registry import Layout, Module
from .templating import GLOBAL_NAMES, Environments, TemplateScan, scan_template

__all__ = ["content_findings", "object_fields", "optional_fields"]

# Tags outside comments and CDATA; quoted attribute values may hold ">".
_TAG = re.compile(
    r"""<(?:!--.*?-->|!\[CDATA\[.*?\]\]>"""
    r"""|(?P<close>/)?(?P<name>[A-Za-z][\w:.-]*)(?P<attrs>(?:[^>"']|"[^"]*"|'[^']*')*)>)""",
    re.S,
)
_ATTR = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
_RAW_TEXT = frozenset({"script", "style", "mj-style", "textarea", "xmp"})
_URL_ATTRS = frozenset({"href", "src", "action", "formaction", "background", "poster"})
_SCRIPT_SCHEMES = ("javascript:", "vbscript:")
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")
_IMAGES = frozenset({"img", "mj-image"})


@dataclass(frozen=True)
class _Tag:
    name: str
    line: int  # of the scanned text
    attrs: Mapping[str, str]  # lower-cased names; values as written, Jinja tokens included
    default: bool  # inside <mj-attributes>: attribute defaults, not an element


def content_findings(
    layouts: Mapping[str, Layout],
    modules: Mapping[str, Module],
    *,
    envs: Environments,
    names: frozenset[str],
    segments: frozenset[str],
    settings: Settings,
    optional: frozenset[str],
    objects: Mapping[str, frozenset[str]] | None = None,
) -> Iterator[Finding]:
    """Findings L301, L302 and L401–L407 for every layout and module body, subject, preheader.

    Args:
        layouts: The layouts that loaded.
        modules: The modules that loaded.
        envs: The template environments.
        names: Every name a template may read besides Jinja's globals.
        segments: The segment names (for the hint when a template reads one as a name).
        settings: The settings (``[message] unsubscribe`` names the unsubscribe field).
        optional: Field paths that are optional and have no default.
        objects: The keys of each field path of a declared object type (``object_fields``),
            for the names a dotted path reads.
    """
    unsubscribe = settings.message.unsubscribe
    check = _TemplateCheck(
        envs, names | {"_subject", "_preheader"}, segments, optional, objects or {}
    )
    owners: list[Layout | Module] = [*layouts.values(), *modules.values()]
    for owner in owners:
        body = owner.body
        tags = list(_tags(body.text))
        yield from _markup(tags, body)
        if isinstance(owner, Layout):
            yield from _unsubscribe(owner, tags, unsubscribe)
        yield from check(body.text, body.origin, html=True)
        for key in ("subject", "preheader"):
            text, line = getattr(owner, key), getattr(owner, f"{key}_line")
            if text is not None and line is not None:
                yield from check(text, _fixed(owner.file, line), html=False)


def _fixed(file: str, line: int) -> Callable[[int], tuple[str, int]]:
    # A front-matter string is one YAML value: all its lines map to the key's line.
    return lambda _line: (file, line)


def optional_fields(settings: Settings, fields: Mapping[str, FieldSpec]) -> frozenset[str]:
    """Dotted paths of fields that are neither required nor defaulted (``None`` when absent).

    Nested objects count through their path (``address.city``); items of lists do not, since
    a template cannot print them by path.
    """
    types = settings.recipient.types
    found: set[str] = set()

    def walk(prefix: str, specs: Mapping[str, FieldSpec], seen: frozenset[str]) -> None:
        for name, spec in specs.items():
            path = f"{prefix}{name}"
            if not spec.required and not spec.has_default:
                found.add(path)
            kind = spec.type.strip()
            if kind in types and kind not in seen:
                walk(f"{path}.", types[kind], seen | {kind})

    walk("", fields, frozenset())
    return frozenset(found)


def object_fields(settings: Settings, fields: Mapping[str, FieldSpec]) -> dict[str, frozenset[str]]:
    """The keys of every field path whose type is a declared object type (``links`` → shop,
    cart, …); lists and maps, whose keys are data, are left out."""
    types = settings.recipient.types
    found: dict[str, frozenset[str]] = {}

    def walk(prefix: str, specs: Mapping[str, FieldSpec], seen: frozenset[str]) -> None:
        for name, spec in specs.items():
            kind = spec.type.strip()
            if kind in types and kind not in seen:
                found[f"{prefix}{name}"] = frozenset(types[kind])
                walk(f"{prefix}{name}.", types[kind], seen | {kind})

    walk("", fields, frozenset())
    return found


class _TemplateCheck:
    """L301, L302, L401 and L402 for one template text."""

    def __init__(
        self,
        envs: Environments,
        names: frozenset[str],
        segments: frozenset[str],
        optional: frozenset[str],
        objects: Mapping[str, frozenset[str]],
    ) -> None:
        self.envs, self.names, self.segments, self.optional = envs, names, segments, optional
        self.objects = objects

    def __call__(
        self, text: str, origin: Callable[[int], tuple[str, int]], *, html: bool
    ) -> Iterator[Finding]:
        scan = scan_template(self.envs.html if html else self.envs.text, text, names=self.names)
        if scan is None:
            return  # a syntax error: the load reports it (L001)
        yield from self._unknown(scan, origin)
        yield from self._printed(scan, origin)
        for line in scan.safe:
            yield Finding(
                *origin(line),
                "L401",
                "|safe prints its value as raw markup, unescaped",
                "remove |safe; values are HTML-escaped for a reason, and recipient data must "
                "never become markup",
            )
        for line in scan.autoescape_off:
            yield Finding(
                *origin(line),
                "L402",
                "{% autoescape false %} prints every value inside it unescaped",
                "remove the autoescape block; escaping keeps recipient data from becoming markup",
            )

    def _unknown(
        self, scan: TemplateScan, origin: Callable[[int], tuple[str, int]]
    ) -> Iterator[Finding]:
        known = self.names | GLOBAL_NAMES
        for name, line in scan.unknown:
            if name in self.segments:
                hint = f"test segment membership with {{% if '{name}' in segments %}}"
            else:
                hint = did_you_mean(name, known) or (
                    "declare it under [recipient.fields] in personalize.toml, or write "
                    f"{{{{ {name} | default('…') }}}}"
                )
            yield Finding(
                *origin(line),
                "L301",
                f"unknown name {name!r}: not a field, metric, score or template global",
                hint,
            )

    def _printed(
        self, scan: TemplateScan, origin: Callable[[int], tuple[str, int]]
    ) -> Iterator[Finding]:
        for printed in scan.printed:
            parts = printed.path.split(".")
            if missing := self._missing_key(parts):
                parent, key = missing
                keys = self.objects[parent]
                yield Finding(
                    *origin(printed.line),
                    "L301",
                    f"unknown name {printed.path!r}: field {parent!r} has no key {key!r}",
                    did_you_mean(key, keys) or f"the keys of {parent!r}: {', '.join(sorted(keys))}",
                )
                continue
            prefixes = [".".join(parts[: i + 1]) for i in range(len(parts))]
            optional = [prefix for prefix in prefixes if prefix in self.optional]
            # Each level on its own: {% if address %} guards address, not address.city, and
            # {% if address.city %} fails, not just comes out false, without an address.
            for prefix in optional:
                if prefix not in printed.guards:
                    yield Finding(
                        *origin(printed.line),
                        "L302",
                        f"{{{{ {printed.path} }}}} prints optional field {prefix!r}, which has "
                        "no default: it fails for recipients without it",
                        f"declare a default for {prefix!r} in personalize.toml, write "
                        f"{{{{ {printed.path} | default('…') }}}}, or wrap it in "
                        f"{{% if {' and '.join(optional)} %}}…{{% endif %}}",
                    )
                    break  # one finding per print: the first level left unguarded

    def _missing_key(self, parts: list[str]) -> tuple[str, str] | None:
        """The object field and the key a dotted path reads that the field does not have."""
        for index in range(1, len(parts)):
            parent = ".".join(parts[:index])
            keys = self.objects.get(parent)
            if keys is None:
                return None
            if parts[index] not in keys:
                return parent, parts[index]
        return None


def _markup(tags: list[_Tag], body: Source) -> Iterator[Finding]:
    """L403–L406: script and data links, scripts, event handlers, images without alt."""
    for tag in tags:
        file, line = body.origin(tag.line)
        if tag.name == "script":
            yield Finding(
                file,
                line,
                "L404",
                "<script> element: email clients never run scripts, and some filter the email",
                "remove the element",
            )
        for name, value in tag.attrs.items():
            if len(name) > 2 and name.startswith("on"):
                yield Finding(
                    file,
                    line,
                    "L405",
                    f"event-handler attribute {name}= on <{tag.name}>",
                    "remove the attribute: email clients never run scripts",
                )
            scheme = _script_scheme(name, value)
            if scheme:
                yield Finding(
                    file,
                    line,
                    "L403",
                    f"{name}= on <{tag.name}> is a {scheme} URL, expected an http(s), mailto "
                    "or tel link",
                    "use an http:, https:, mailto: or tel: URL",
                )
        if tag.name in _IMAGES and "alt" not in tag.attrs and not tag.default:
            yield Finding(
                file,
                line,
                "L406",
                f"<{tag.name}> has no alt text",
                'add alt="…" describing the image (alt="" for a purely decorative one): many '
                "clients block images by default",
            )


def _script_scheme(name: str, value: str) -> str | None:
    if not _is_url_attr(name):
        return None
    for url in _url_starts(value):
        if url.startswith(_SCRIPT_SCHEMES):
            return url.split(":")[0] + ":"
        if name == "href" and url.startswith("data:"):
            return "data:"
    return None


def _url_starts(value: str) -> Iterator[str]:
    """Each way the rendered URL may start: the text with every Jinja token left out, and the
    text after each token (an ``{% else %}`` branch, or what follows a value printed empty).

    Browsers drop whitespace and control characters inside the scheme, and decode entities.
    """
    runs = TOKEN.split(value) if "{" in value else [value]
    for index in range(len(runs)):
        if index == 0 or runs[index]:
            yield _CONTROL.sub("", html.unescape("".join(runs[index:]))).lower()


def _is_url_attr(name: str) -> bool:
    return name in _URL_ATTRS or name.endswith(("-url", "-src", "-href", ":href"))


def _unsubscribe(layout: Layout, tags: list[_Tag], field: str | None) -> Iterator[Finding]:
    """L407: some link of the layout must be an unsubscribe link."""
    needle = re.compile(r"unsubscribe" + (rf"|\b{re.escape(field)}\b" if field else ""), re.I)
    if any(needle.search(tag.attrs.get("href", "")) for tag in tags):
        return
    body = next((t for t in tags if t.name == "mj-body"), None)
    file, line = layout.body.origin(body.line if body else 1)
    shown = f"{{{{ {field} | url }}}}" if field else "https://…/unsubscribe"
    yield Finding(
        file,
        line,
        "L407",
        "layout has no unsubscribe link: expected an href containing 'unsubscribe'"
        + (f" or the [message] unsubscribe field {field!r}" if field else ""),
        f'add a footer link such as <a href="{shown}">Unsubscribe</a>; recipients and the '
        "law expect one in every marketing email",
    )


def _tags(text: str) -> Iterator[_Tag]:
    """Start tags of ``text`` (Jinja tokens skipped), with their attributes as written."""
    scanned = TOKEN.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text) if "{" in text else text
    position, default = 0, False
    while (match := _TAG.search(scanned, position)) is not None:
        position = match.end()
        name = match.group("name")
        if name is None:
            continue
        name = name.lower()
        if match.group("close"):
            default = default and name != "mj-attributes"
            continue
        offset = match.start("attrs")
        attrs: dict[str, str] = {}
        for attr in _ATTR.finditer(match.group("attrs")):
            group = next((g for g in (2, 3, 4) if attr.group(g) is not None), None)
            start, end = attr.span(group) if group else (0, 0)
            attrs.setdefault(attr.group(1).lower(), text[offset + start : offset + end])
        yield _Tag(name, scanned.count("\n", 0, match.start()) + 1, attrs, default)
        if match.group("attrs").rstrip().endswith("/"):
            continue
        default = default or name == "mj-attributes"
        if name in _RAW_TEXT:
            closing = re.compile(rf"</{re.escape(name)}\s*>", re.I).search(scanned, position)
            position = closing.start() if closing else len(scanned)
