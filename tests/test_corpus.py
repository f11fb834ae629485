"""Real-world MJML (corpus/mjml) through the compile stage and through projects, tokens intact."""

from __future__ import annotations

import html
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from personalize import Project
from personalize.compile import compile_document
from personalize.config import Settings
from personalize.errors import RenderError
from personalize.templating import make_environments
from personalize.testing import canonical_html

# A verbatim copy of real-world MJML (MIT licensed; sources in corpus/mjml/README.md).
CORPUS = Path(__file__).resolve().parent / "corpus" / "mjml"

# Partials are compiled through the templates that include them.
PARTIAL = re.compile(r"(^|/)(_[^/]+|partials/.*|FimsAccessExport/footer)\.mjml$")
# MRML (mjml-python) has no <mj-html-attributes>; it refuses the document however it is fed.
UNSUPPORTED = {
    "felix-fixtures/mj-html-attributes.mjml": "MRML does not implement <mj-html-attributes>",
}
# Elements whose content is text or HTML, where a recipient's name could appear.
CONTENT = re.compile(
    r"<(mj-text|mj-button|mj-navbar-link|mj-social-element|mj-accordion-title|"
    r"mj-accordion-text|mj-table|mj-raw)\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*(?<!/)>"
)
VALUE = "Zoë & Co <3"

TOP_LEVEL = sorted(
    p.relative_to(CORPUS).as_posix()
    for p in CORPUS.rglob("*.mjml")
    if not PARTIAL.search(p.relative_to(CORPUS).as_posix())
)
SETTINGS = Settings(root=CORPUS)
ENVS = make_environments(SETTINGS.limits)


def test_the_corpus_is_there() -> None:
    # A missing corpus must fail loudly, never skip: these are the compile acceptance files.
    assert len(TOP_LEVEL) >= 200, f"MJML corpus not found at {CORPUS}"


def _opening(tag: str) -> re.Pattern[str]:
    return re.compile(rf"<{tag}\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*(?<!/)>")


# Where to add a text block holding the token when no element holds text: the first column,
# section, hero or body that is not self-closing, with whatever wrapping MJML needs there.
CONTAINERS = (
    (_opening("mj-column"), "<mj-text>{{ first_name }}</mj-text>"),
    (_opening("mj-hero"), "<mj-text>{{ first_name }}</mj-text>"),
    (_opening("mj-section"), "<mj-column><mj-text>{{ first_name }}</mj-text></mj-column>"),
    (
        _opening("mj-body"),
        "<mj-section><mj-column><mj-text>{{ first_name }}</mj-text></mj-column></mj-section>",
    ),
)


def _inject(text: str) -> tuple[str, bool]:
    """Put ``{{ first_name }}`` at the start of the first body element holding content.

    Files without one (image, divider, section fixtures) get an ``mj-text`` holding the token
    at the top of their first container, so the token still crosses MJML and the inliner.
    """
    body = text.find("<mj-body")
    if body < 0:
        return text, False
    found = CONTENT.search(text, body)
    if found is not None:
        return text[: found.end()] + "{{ first_name }}" + text[found.end() :], True
    for pattern, block in CONTAINERS:
        container = pattern.search(text, body)
        if container is not None:
            return text[: container.end()] + block + text[container.end() :], True
    return text, False


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_corpus_template_compiles_and_the_token_survives(name: str) -> None:
    text, injected = _inject((CORPUS / name).read_text(encoding="utf-8"))
    if name in UNSUPPORTED:
        with pytest.raises(RenderError, match="MJML could not compile"):
            compile_document(text, file=name, root=CORPUS, envs=ENVS, settings=SETTINGS)
        return
    html, plain = compile_document(text, file=name, root=CORPUS, envs=ENVS, settings=SETTINGS)
    context = dict(ENVS.html.globals)
    context.update(first_name=VALUE, title="Title", _budget=[10**6], _warnings=[], _locale="en_US")
    out = html.render(context)
    assert not re.search(r"zq\d+qz|\{\{|\{%", out)
    if injected:
        assert "Zoë &amp; Co &lt;3" in out
        if "mj-raw" not in text[: text.find("{{ first_name }}")].rsplit("<", 1)[-1]:
            assert VALUE in plain.render(context)


def test_every_document_with_a_body_gets_a_token() -> None:
    for name in TOP_LEVEL:
        text = (CORPUS / name).read_text(encoding="utf-8")
        if _opening("mj-body").search(text):
            assert _inject(text)[1], name


# --- Through a project: each sampled file as a layout, and its body as a module -------------

PROJECT_SETTINGS = """
[recipient.fields]
first_name = {type = "str", default = "there"}
nick = {type = "str", default = "nick"}
img = {type = "url", default = "https://img.example/a.png"}
bg = {type = "url", default = "https://img.example/bg.png"}
color = {type = "str", default = "#00ff00"}
title = {type = "str", default = "Title"}
links = "links"

[recipient.types.links]
shop = {type = "url", default = "https://shop.example/"}
"""
RECORDS = [
    {
        "id": "r1",
        "first_name": VALUE,
        "nick": 'O\'Brien "Q"',
        "img": "https://img.example/a.png?x=1&y=2",
        "bg": "https://img.example/bg.jpg?a=1&b=2",
        "color": "#FFFFFF",
        "links": {"shop": "https://shop.example/?a=1&b=2"},
    },
    {"id": "r2", "links": {}},
]
DEFAULTS = {
    "first_name": "there",
    "nick": "nick",
    "img": "https://img.example/a.png",
    "bg": "https://img.example/bg.png",
    "shop": "https://shop.example/",
}
FRONT = '---\nsubject: "Hi {{ first_name }}"\npreheader: "Pre {{ nick }}"\n---\n'
# Attribute tokens on the first element of each kind in the body (MJML attribute, value).
ATTRIBUTES = (
    ("mj-button", (("href", "{{ links.shop }}"),)),
    ("mj-image", (("src", "{{ img }}"), ("alt", "{{ nick }}"))),
    ("mj-section", (("background-url", "{{ bg }}"),)),
    # pagopa's style.css has `.text div { color: … !important }` for most of its mj-texts.
    ("mj-text", (("color", "{{ color }}"),)),
)
INCLUDE = re.compile(r'(<mj-include\b[^>]*?\bpath\s*=\s*")([^"]*)(")')
# Every 12th top-level file, the two whose head is self-closing, and the real-world templates.
SAMPLE = sorted(
    {name for i, name in enumerate(TOP_LEVEL) if i % 12 == 0}
    | {"mrml-fixtures/mj-breakpoint-default.mjml", "mrml-fixtures/mj-breakpoint-options.mjml"}
    | {"mrml-templates/amario.mjml", "pagopa-io/Default_Message/index.mjml"}
    | {"felix-fixtures/mj-include-body.mjml"}
)
# Documents without a body a layout could hold a slot in (or that MRML refuses).
NO_BODY = {"felix-fixtures/mj-attributes-for-mj-body.mjml", *UNSUPPORTED}


def _with_attributes(text: str) -> tuple[str, list[str]]:
    """``text`` with the attribute tokens of ``ATTRIBUTES`` set and a link in a condition at
    the start of the first ``mj-text``, and what it added."""
    done = []
    body = text.find("<mj-body")
    for tag, pairs in ATTRIBUTES:
        found = re.compile(rf"<{tag}\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*?)(/?)>").search(text, body)
        if found is None:
            continue
        attrs = found.group(1)
        for name, value in pairs:
            attrs = re.sub(rf"\s{name}\s*=\s*(\"[^\"]*\"|'[^']*')", "", attrs)
            attrs = f' {name}="{value}"{attrs}'
            done.append(f"{tag} {name}")
        text = text[: found.start()] + f"<{tag}{attrs}{found.group(2)}>" + text[found.end() :]
    found = _opening("mj-text").search(text, body)
    if found is not None:
        link = (
            "{% if first_name == 'there' %}<a href=\"{{ links.shop }}\">{{ nick }}</a>"
            '{% else %}<a href="{{ links.shop }}"><b>{{ first_name }}</b></a>{% endif %} '
        )
        text = text[: found.end()] + link + text[found.end() :]
        done.append("a href")
    return text, done


def _copy_includes(text: str, original: Path, target: Path, root: Path) -> str:
    """``text`` (written at ``target``) with its includes copied under ``root/src`` and their
    paths rewritten to there."""

    def copy(match: re.Match[str]) -> str:
        source = (original.parent / match.group(2)).resolve()
        copied = root / "src" / source.relative_to(CORPUS)
        copied.parent.mkdir(parents=True, exist_ok=True)
        copied.write_bytes(source.read_bytes())
        return match.group(1) + os.path.relpath(copied, target.parent) + match.group(3)

    return INCLUDE.sub(copy, text)


def _corpus_project(root: Path, name: str, as_module: bool) -> tuple[Project, list[str]]:
    original = CORPUS / name
    text, done = _inject(original.read_text(encoding="utf-8"))
    text, attributes = _with_attributes(text)
    layout = root / "templates" / "doc.mjml"
    layout.parent.mkdir(parents=True)
    (root / "personalize.toml").write_text(PROJECT_SETTINGS, encoding="utf-8")
    opened = re.compile(r"<mj-body\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*?(/?)>").search(text)
    assert opened is not None, "no body"
    assert not opened.group(1), "no body to hold a slot"
    if as_module:
        module = root / "modules" / "hero" / "default.mjml"
        module.parent.mkdir(parents=True)
        closed = text.rindex("</mj-body>")
        body = _copy_includes(text[opened.end() : closed], original, module, root)
        module.write_text(f"---\ndescription: x\n---\n{body}", encoding="utf-8")
        text = text[: opened.end()] + '<slot name="hero"/>' + text[closed:]
    else:
        text = text[: opened.end()] + '<slot name="extra" optional/>' + text[opened.end() :]
    layout.write_text(FRONT + _copy_includes(text, original, layout, root), encoding="utf-8")
    return Project.load(root), (["text"] if done else []) + attributes


class _Attributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: set[tuple[str, str, str | None]] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found |= {(tag, name, value) for name, value in attrs}


def _attributes(html: str) -> set[tuple[str, str, str | None]]:
    parser = _Attributes()
    parser.feed(html)
    parser.close()
    return parser.found


@pytest.mark.parametrize("as_module", [False, True], ids=["layout", "module"])
@pytest.mark.parametrize("name", [n for n in SAMPLE if n not in NO_BODY])
def test_corpus_template_renders_through_a_project_as_on_the_reference_path(
    tmp_path: Path, name: str, as_module: bool
) -> None:
    project, done = _corpus_project(tmp_path, name, as_module)
    for record in RECORDS:
        fast = project.render("doc", record)
        reference = project.render_reference("doc", record)
        assert fast.subject == reference.subject
        assert fast.text == reference.text
        assert canonical_html(fast.html) == canonical_html(reference.html)
        assert not re.search(r"zq\d+qz|\{\{|\{%", fast.html + fast.text)
        found = _attributes(fast.html)
        values: dict[str, Any] = {**DEFAULTS, **record}
        if "text" in done:
            body = fast.html.split("<body", 1)[1]
            assert html.escape(values["first_name"], quote=False) in body
        shop = values["links"].get("shop", DEFAULTS["shop"])
        if "mj-button href" in done or "a href" in done:
            assert ("a", "href", shop) in found
        if "mj-image src" in done:
            assert ("img", "src", values["img"]) in found
            assert ("img", "alt", values["nick"]) in found
        if "mj-section background-url" in done:
            assert ("table", "background", values["bg"]) in found


@pytest.mark.parametrize(
    "name", ["mrml-fixtures/mj-breakpoint-default.mjml", "mrml-fixtures/mj-breakpoint-options.mjml"]
)
def test_a_layout_with_a_self_closing_head_gets_the_subject_as_its_title(
    tmp_path: Path, name: str
) -> None:
    project, _ = _corpus_project(tmp_path, name, as_module=False)
    email = project.render("doc", RECORDS[0])
    assert "<title>Hi Zoë &amp; Co &lt;3</title>" in email.html
