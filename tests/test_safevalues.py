"""Tests for personalize.safevalues: URLs, CSS values, and URLs inside a CSS url(…)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from personalize.errors import RecipientError
from personalize.filters import validate_url
from personalize.safevalues import check_url_part, checked_url, css_url, validate_css_value

INVISIBLE_HINT = "remove bidi controls and zero-width characters such as U+202E and U+200B"
CSS_HINT = "only colors, lengths and plain keywords may come from data"


@pytest.mark.parametrize(
    ("url", "got"),
    [
        ("https://example.com/\u202egpj.exe", "'https://example.com/\\u202egpj.exe'"),
        ("https://exa\u200bmple.com/", "'https://exa\\u200bmple.com/'"),
        ("https://example.com/\u2066x\u2069", "'https://example.com/\\u2066x\\u2069'"),
        ("https://example.com/\u200fa", "'https://example.com/\\u200fa'"),
        ("\ufeffhttps://example.com/", "'\\ufeffhttps://example.com/'"),
        ("https://exam\u00adple.com/", "'https://exam\\xadple.com/'"),
        ("mailto:ann\u200d@example.com", "'mailto:ann\\u200d@example.com'"),
    ],
    ids=["rlo", "zero-width-space", "isolates", "rlm", "bom", "soft-hyphen", "zwj-mailto"],
)
def test_a_url_with_invisible_formatting_characters_is_refused(url: str, got: str) -> None:
    # They make a link read differently from where it goes: '…/\u202egpj.exe' shows '…exe.jpg'.
    for check in (checked_url.__wrapped__, validate_url):
        with pytest.raises(RecipientError) as caught:
            check(url)

        assert str(caught.value) == (
            f"expected a URL without invisible formatting characters, got {got} — {INVISIBLE_HINT}"
        )


@pytest.mark.parametrize(
    "url", ["https://exämple.com/straße", "https://例え.jp/パス", "mailto:jörg@example.com"]
)
def test_other_non_ascii_urls_still_pass(url: str) -> None:
    assert checked_url(url) == url


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1e-07, "0.0000001"),
        (-2.5e-10, "-0.00000000025"),
        (1e16, "10000000000000000"),
        (1.5e300, "15" + "0" * 299),
        (Decimal("1E+2"), "100"),
        (Decimal("0E-7"), "0.0000000"),
    ],
    ids=["tiny-float", "negative", "big-float", "huge-float", "decimal", "zero"],
)
def test_numbers_that_str_writes_with_an_exponent_are_written_out(
    value: float | Decimal, expected: str
) -> None:
    assert validate_css_value(value) == expected


@pytest.mark.parametrize(
    ("value", "got"),
    [(Decimal("1E+401"), "'1E+401'"), (Decimal("-1E-401"), "'-1E-401'")],
    ids=["huge", "tiny"],
)
def test_decimals_beyond_floats_range_are_refused(value: Decimal, got: str) -> None:
    # Written out they would be arbitrarily long: Decimal('1E+999999999') is a gigabyte.
    with pytest.raises(RecipientError) as caught:
        validate_css_value(value)

    assert str(caught.value) == f"unsafe CSS value, got {got} — {CSS_HINT}"


def test_an_int_too_long_for_any_length_is_refused_not_a_crash() -> None:
    with pytest.raises(RecipientError) as caught:
        validate_css_value(10**5000)
    assert str(caught.value) == (
        "unsafe CSS value, got <int too large to show> — check the recipient's data"
    )


# --- css_url: a value inside a CSS url(…) -------------------------------------------------

# What could end url('…'), url("…") or url(…), or escape from it.
BREAKS_OUT = re.compile(r"['\"()\\\x00-\x20\x7f-\x9f]|\s")


@pytest.mark.parametrize(
    ("value", "start", "expected"),
    [
        ("https://img.example/a.png?x=1&y=2", True, "https://img.example/a.png?x=1&y=2"),
        (" https://img.example/p(1)'.png ", True, "https://img.example/p%281%29%27.png"),
        ('https://img.example/a\\b"c', True, "https://img.example/a%5Cb%22c"),
        ("tiers/gold", False, "tiers/gold"),
        ("a b\t\n\u00a0'\")(", False, "a%20b%09%0A%C2%A0%27%22%29%28"),
        (1234, False, "1234"),
        (Decimal("1.50"), False, "1.50"),
    ],
    ids=["plain", "parentheses", "backslash-quote", "path", "whitespace", "int", "decimal"],
)
def test_a_css_url_value_is_percent_encoded(value: object, start: bool, expected: str) -> None:
    assert css_url(value, start=start) == expected
    assert css_url(value, start) == expected  # as the compiled templates' _css_url filter calls it


@pytest.mark.parametrize(
    ("value", "start", "message"),
    [
        (
            "mailto:ann@example.com",
            True,
            "expected an http(s) URL inside url(…), got 'mailto:ann@example.com' — only http "
            "and https addresses may come from data in a CSS url(…)",
        ),
        (
            "data:image/png;base64,AAAA",
            True,
            "URL scheme 'data' is not allowed, got 'data:image/png;base64,AAAA' — "
            "only http, https and mailto links may come from data",
        ),
        (42, True, "expected a URL as text, got 42 — put the URL in the data as text"),
        (None, False, "expected a URL as text, got None — put the URL in the data as text"),
        (True, False, "expected a URL as text, got True — put the URL in the data as text"),
    ],
    ids=["mailto", "data", "number-at-start", "none", "bool"],
)
def test_a_css_url_value_that_cannot_be_one_is_refused(
    value: object, start: bool, message: str
) -> None:
    with pytest.raises(RecipientError) as caught:
        css_url(value, start=start)
    assert str(caught.value) == message


@given(st.text(), st.booleans())
def test_nothing_in_a_css_url_value_can_end_it(text: str, start: bool) -> None:
    for value in (text, f"https://img.example/{text}"):
        try:
            encoded = css_url(value, start=start)
        except RecipientError:
            assert start  # only the start of an address is checked
            continue
        assert not BREAKS_OUT.search(encoded)
        assert not start or encoded.lower().startswith(("http://", "https://"))


# --- check_url_part: a value that continues a link the template began -------------------------


@pytest.mark.parametrize(
    ("at", "value", "message"),
    [
        (
            "host",
            "evil.example/",
            "expected letters, digits, dots or hyphens inside the link's host, got "
            "'evil.example/' — a value there only names part of the host, such as 'eu' in "
            "https://{{ region }}.shop.example/; to let data choose the whole link, print it "
            'alone: href="{{ link | url }}"',
        ),
        (
            "label",
            "evil.example",
            "expected letters, digits or hyphens in a label of the link's host, got "
            "'evil.example' — a value right after a '.' or '-' of the host names one label, such "
            "as 'de' in https://shop.{{ tld }}/; to let data choose the whole link, print it "
            'alone: href="{{ link | url }}"',
        ),
        (
            "host-name",
            "",
            "expected a host name of letters, digits, dots or hyphens for the link's host, got "
            "'' — the template writes the rest of the link after this value, as in "
            "https://{{ host }}/; to let data choose the whole link, print it alone: "
            'href="{{ link | url }}"',
        ),
        (
            "after-host",
            "\t@evil.example",
            "expected a path, query or fragment (starting with /, ? or #) after the link's "
            "host, got '\\t@evil.example' — the template writes the host and the value would "
            "change it: start the value with /, or end the host with / in the template "
            '(base-url="https://shop.example/")',
        ),
        (
            "after-slash",
            Markup("&#x2f;evil.example"),
            "expected a path that does not start with / or \\ after the link's first /, got "
            "Markup('&#x2f;evil.example') — '//' would make the rest of the value the link's "
            "host; remove the leading slashes",
        ),
        (
            "after-value",
            "x\\y/z",
            "expected a path, query or fragment to continue the link, got 'x\\\\y/z' — a value "
            "right after another value may not start with // or \\, nor hold @, : or \\ before "
            "its first /, ? or #: they would change the link's host",
        ),
        (
            "list",
            "a\tb",
            "expected a URL without spaces in a list of URLs (srcset=, ping=), got 'a\\tb' — a "
            "space would begin another URL of the list; percent-encode spaces as %20",
        ),
        (
            "descriptor",
            "2x,",
            "expected a srcset descriptor such as 2x or 300w, got '2x,' — a space or a comma "
            "would begin another image of the srcset",
        ),
    ],
    ids=[
        "host",
        "label",
        "host-name",
        "after-host",
        "after-slash",
        "after-value",
        "list",
        "descriptor",
    ],
)
def test_a_link_part_that_would_change_the_host_is_refused(
    at: str, value: object, message: str
) -> None:
    with pytest.raises(RecipientError) as caught:
        check_url_part(value, at)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("at", "value"),
    [
        ("host", "eu-1.cdn"),
        ("label", "de"),
        ("label", ""),
        ("host-name", "shop.example"),
        ("after-host", "?q=@x"),
        ("after-host", "#top"),
        ("after-slash", "a//b"),
        ("after-value", "/x?next=https://y.example/"),
        ("after-value", "deals#a:b"),
        ("list", "w_100,h_200/a.png"),
        ("descriptor", "1.5x"),
        ("after-host after-slash", ""),
        ("after-slash", None),
        ("after-value", 1234),
    ],
)
def test_a_link_part_that_keeps_the_host_passes(at: str, value: object) -> None:
    check_url_part(value, at)


def test_a_css_url_part_is_checked_before_it_is_percent_encoded() -> None:
    assert css_url("a b/c", start=False, at="after-slash") == "a%20b/c"
    with pytest.raises(RecipientError) as caught:
        css_url("/evil.example", False, at="after-slash")
    assert str(caught.value).startswith(
        "expected a path that does not start with / or \\ after the link's first /, got "
        "'/evil.example' — "
    )
    # CSS reads a Markup as the escaped text it prints: its references are not decoded.
    assert css_url(Markup("&#47;x"), False, at="after-slash") == "&#47;x"
