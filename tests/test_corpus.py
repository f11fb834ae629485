"""Real-world MJML (../shared/corpus/mjml) through personalize's compile stage, token intact."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from personalize.compile import compile_document
from personalize.config import Settings
from personalize.errors import RenderError
from personalize.templating import make_environments

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
