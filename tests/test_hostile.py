"""Hostile recipient data through the full pipeline: escaped, never markup, never a template."""

from __future__ import annotations

import copy
import email
import email.policy
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personalize import PersonalizeError, Project, RecipientError
from projects import ANN, SETTINGS, make_project, module

ROOT = Path(__file__).resolve().parents[1]
PROJECT = Project.load(ROOT)
RAW = {
    json.loads(line)["id"]: json.loads(line)
    for line in (ROOT / "personas.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
}
# Rich personas: between them every module with free text gets rendered.
BASES = ["vip-vera", "cart-carla", "german-dora", "hostile-hugo", "lapsed-lena", "new-nina"]

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg/onload=alert(1)>",
    "</td></tr></table><h1>owned</h1>",
    "{{ 7*7 }}",
    "{% for x in range(9) %}x{% endfor %}",
    "<!--",
    "-->",
    "]]><![CDATA[",
    "javascript:alert(1)",
    "Tom & Jerry <3",
    "&amp;lt;",
    "a\r\nBcc: eve@example.com",
    "\u202eevil\u202c",
    "\x00\x07\x7f",
    "zq1qz",
    "<!--zq2qz-->",
]
TEXT = st.one_of(st.sampled_from(PAYLOADS), st.text(max_size=40))


def _text_paths(record: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Paths of the free-text (``str``) fields present in ``record``, nested ones too."""
    fields = PROJECT.schema.fields
    types = PROJECT.schema.types
    out: list[tuple[Any, ...]] = []

    def walk(value: Any, specs: Any, path: tuple[Any, ...]) -> None:
        for name, spec in specs.items():
            if name in ("id", "locale", "timezone", "currency") or spec.choices:
                continue
            item = value.get(name) if isinstance(value, dict) else None
            if item is None:
                continue
            kind = spec.type.removeprefix("list[").removesuffix("]")
            if spec.type == "str" and isinstance(item, str):
                out.append((*path, name))
            elif kind in types and isinstance(item, list):
                for index, element in enumerate(item):
                    walk(element, types[kind], (*path, name, index))
            elif kind in types and isinstance(item, dict):
                walk(item, types[kind], (*path, name))

    walk(record, fields, ())
    return out


def _put(record: dict[str, Any], path: tuple[Any, ...], value: str) -> None:
    target: Any = record
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


class _Shape(HTMLParser):
    """Every start tag with its attribute names, and the values of URL attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, tuple[str, ...]]] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(sorted(name for name, _ in attrs))))
        self.urls += [v or "" for n, v in attrs if n in ("href", "src", "background", "action")]


def _shape(html: str) -> _Shape:
    shape = _Shape()
    shape.feed(html)
    shape.close()
    return shape


@pytest.mark.parametrize("layout", PROJECT.layouts)
@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_arbitrary_text_in_every_field_renders_or_fails_cleanly_and_never_adds_markup(
    layout: str, data: st.DataObject
) -> None:
    base = RAW[data.draw(st.sampled_from(BASES), label="persona")]
    hostile, benign = copy.deepcopy(base), copy.deepcopy(base)
    for path in _text_paths(base):
        value = data.draw(TEXT, label=".".join(map(str, path)))
        _put(hostile, path, value)
        # The benign twin keeps blankness, so it takes the same branches and decisions.
        _put(benign, path, "x" if value.strip() else value)
    try:
        email_ = PROJECT.render(layout, hostile)
    except PersonalizeError:
        return  # e.g. a noncharacter or lone surrogate in data: a clean, located error
    twin = PROJECT.render(layout, benign)
    if twin.decisions != email_.decisions:
        return  # a text field took part in a decision; the shapes are not comparable
    assert _shape(email_.html).tags == _shape(twin.html).tags
    for url in _shape(email_.html).urls:
        assert not re.match(r"\s*(javascript|vbscript|data):", url, re.I), url
    assert "\r" not in email_.subject
    assert "\n" not in email_.subject


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>",
        "vbscript:msgbox",
        " javascript:x",
        "//evil.example/x",
    ],
)
def test_unsafe_urls_in_url_fields_are_refused_before_rendering(url: str) -> None:
    record = copy.deepcopy(RAW["vip-vera"])
    record["links"]["shop"] = url
    with pytest.raises(RecipientError) as caught:
        PROJECT.render("weekly", record)
    assert str(caught.value).startswith("recipient vip-vera: links.shop: expected an http(s)")


def test_jinja_in_data_is_printed_literally() -> None:
    record = {**RAW["bronze-ben"], "first_name": "{{ 7*7 }}"}
    out = PROJECT.render("weekly", record)
    assert "{{ 7*7 }}" in out.text
    assert "{{ 7*7 }}" in out.subject
    assert "49" not in out.subject


def test_ampersands_and_angles_are_escaped_in_html_and_literal_elsewhere() -> None:
    record = {**RAW["bronze-ben"], "first_name": "Tom & Jerry <3"}
    out = PROJECT.render("weekly", record)
    assert "Tom &amp; Jerry &lt;3" in out.html
    assert "Tom & Jerry <3" in out.text
    assert out.subject.startswith("Hi Tom & Jerry <3")


@pytest.mark.parametrize(
    "name", ["Eve\r\nBcc: x@example.com", "A\u2028B", "A\x00B\x07C\x7f", "\u202eevil"]
)
def test_control_characters_never_reach_a_header(name: str) -> None:
    record = {**RAW["bronze-ben"], "first_name": name}
    out = PROJECT.render("weekly", record)
    raw = out.to_message(sender="Shop <shop@example.com>", to_name=name).as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", head)
    assert head.count(b"\r\nSubject:") + head.startswith(b"Subject:") == 1
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Bcc"] is None


def test_huge_values_are_refused_naming_the_field() -> None:
    record = {**RAW["bronze-ben"], "first_name": "a" * 1_000_000}
    with pytest.raises(RecipientError) as caught:
        PROJECT.render("weekly", record)
    assert str(caught.value).startswith(
        "recipient bronze-ben: first_name: longer than the limit of 10000 characters"
    )
    many = {**RAW["bronze-ben"], "orders": [{"at": "2026-01-01T00:00:00Z"}] * 100_000}
    with pytest.raises(RecipientError, match=r"orders: longer than the limit of 1000 items"):
        PROJECT.render("weekly", many)


# --- links whose host the template writes: data may add a path, never change the host -------

LINKS = """
<mj-section><mj-column>
  <mj-navbar base-url="https://shop.example">
    <mj-navbar-link href="{{ nav }}">Deals</mj-navbar-link>
  </mj-navbar>
  <mj-button href="https://{{ region }}.shop.example/">Region</mj-button>
  <mj-text><a href="https://shop.example{{ path }}">Path</a></mj-text>
  <mj-text><a href="/{{ rel }}">Here</a></mj-text>
  <mj-image src="https://shop.example/a.png"
    srcset="https://shop.example/a.png 1x, {{ image }} 2x"/>
  <mj-button href="{{ either or links.shop | url }}">Shop</mj-button>
</mj-column></mj-section>
"""
BENIGN = {
    "nav": "/deals",
    "region": "eu",
    "path": "/p/1",
    "rel": "deals",
    "image": "https://shop.example/b.png",
    "either": "https://shop.example/x",
}
FIELDS = "".join(f'{name} = "str"\n' for name in BENIGN)


@pytest.fixture(scope="module")
def links_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("links")
    settings = SETTINGS.replace('nickname = "str"\n', FIELDS)
    make_project(root, settings=settings, modules={"hero/default": module("description: x", LINKS)})
    return Project.load(root)


@pytest.mark.parametrize(
    ("field", "value", "line", "message"),
    [
        (
            "nav",
            "@evil.example/login",
            6,
            "expected a path, query or fragment (starting with /, ? or #) after the link's host, "
            "got '@evil.example/login' — the template writes the host and the value would change "
            'it: start the value with /, or end the host with / in the template (base-url="https:'
            '//shop.example/")',
        ),
        (
            "region",
            "evil.example/",
            8,
            "expected letters, digits, dots or hyphens inside the link's host, got "
            "'evil.example/' — a value there only names part of the host, such as 'eu' in "
            "https://{{ region }}.shop.example/; to let data choose the whole link, print it "
            'alone: href="{{ link | url }}"',
        ),
        (
            "rel",
            "/evil.example/login",
            10,
            "expected a path that does not start with / or \\ after the link's first /, got "
            "'/evil.example/login' — '//' would make the rest of the value the link's host; "
            "remove the leading slashes",
        ),
        (
            "image",
            "data:image/svg+xml,x",
            12,
            "URL scheme 'data' is not allowed, got 'data:image/svg+xml,x' — only http, https and "
            "mailto links may come from data",
        ),
        (
            "either",
            "javascript:alert(1)",
            13,
            "URL scheme 'javascript' is not allowed, got 'javascript:alert(1)' — only http, "
            "https and mailto links may come from data",
        ),
    ],
    ids=["navbar-base-url", "region", "after-slash", "srcset", "or-url"],
)
def test_data_that_would_send_a_link_elsewhere_is_refused_naming_module_line_and_field(
    links_project: Project, field: str, value: str, line: int, message: str
) -> None:
    with pytest.raises(RecipientError) as caught:
        links_project.render("news", {**ANN, **BENIGN, field: value})
    assert str(caught.value) == (
        f"modules/hero/default.mjml line {line} (recipient ann): {field}: {message}"
    )


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.srcsets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value or "" for name, value in attrs if tag == "a" and name == "href"]
        self.srcsets += [value or "" for name, value in attrs if name == "srcset"]


def _host(url: str) -> str | None:
    """The host a browser reads in an http(s) ``url`` (WHATWG), None for one on the page's."""
    url = re.sub(r"[\t\n\r]", "", url.strip("".join(map(chr, range(0x21))))).replace("\\", "/")
    special = re.match(r"(?i)https?:/*", url)
    authority = url[special.end() :] if special else url[2:] if url.startswith("//") else None
    if authority is None:
        return None
    host = re.split(r"[/?#]", authority, maxsplit=1)[0].rpartition("@")[2]
    return unquote(re.sub(r":[0-9]*$", "", host)).lower()


# Text that tries to reach another host from wherever it lands in a link, and text of the
# shapes that pass there (a path, a host label, a URL), to vary.
TRICKY = st.text(st.sampled_from("/\\@:.?#%\t &;x2fevil1-"), max_size=14)
HOSTILE = st.one_of(
    TRICKY,
    TRICKY.map(lambda text: f"/{text}"),
    st.from_regex(r"[a-z0-9.-]{0,12}", fullmatch=True),
    TRICKY.map(lambda text: f"https://i.example/{text}"),
    st.text(max_size=20),
    st.sampled_from(["@evil.example/x", ".evil.example/x", "//evil.example", "\\evil.example"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(sorted(BENIGN)), value=HOSTILE)
def test_no_data_moves_a_link_off_the_host_the_template_writes(
    links_project: Project, field: str, value: str
) -> None:
    try:
        out = links_project.render("news", {**ANN, **BENIGN, field: value})
    except PersonalizeError:
        return
    links = _Links()
    links.feed(out.html)
    links.close()
    nav, region, path, rel, shop, *_ = links.hrefs
    assert _host(nav) == _host(path) == "shop.example", (nav, path)
    assert (_host(region) or "").endswith(".shop.example"), region
    assert _host(rel) is None, rel
    assert re.match(r"(?i)https?://", shop), shop
    (srcset,) = links.srcsets
    later = srcset.split(" 1x, ", 1)[1]
    assert re.fullmatch(r"(?i)(https?://|mailto:)[^ \t\n\f\r]* 2x", later), srcset
