"""Assembly: the per-variant head, and cutting and scoping compiled output at region fences."""

from __future__ import annotations

import pytest

from personalize.assemble import (
    assemble,
    region_marks,
    scope_regions,
    split_regions,
    strip_fences,
)
from personalize.protect import Markers

M = Markers()
B0, E0 = region_marks(M, 0)
B1, E1 = region_marks(M, 1)
OUTPUT = f"<head/>{B0}<p>hero</p>{E0}<hr/>{B1}<p>offer</p>{E1}<footer/>"


def test_output_is_cut_into_a_skeleton_with_a_hole_per_region() -> None:
    split = split_regions(OUTPUT, M, {0: "{{ _slot_0 }}", 1: "{{ _slot_1 }}"})
    assert split is not None
    assert split.skeleton == "<head/>{{ _slot_0 }}<hr/>{{ _slot_1 }}<footer/>"
    assert split.regions == ((0, "<p>hero</p>"), (1, "<p>offer</p>"))


def test_a_missing_or_repeated_fence_leaves_the_output_whole() -> None:
    assert split_regions(OUTPUT.replace(E1, ""), M, {0: "h0", 1: "h1"}) is None
    assert split_regions(OUTPUT + B0, M, {0: "h0", 1: "h1"}) is None


def test_modules_that_set_names_become_with_blocks_and_other_fences_go() -> None:
    assert scope_regions(OUTPUT, M, {1}) == (
        "<head/><p>hero</p><hr/>{% with %}<p>offer</p>{% endwith %}<footer/>"
    )
    assert scope_regions(OUTPUT, M, set()) == strip_fences(OUTPUT, M)


@pytest.mark.parametrize("head", ["<mj-head />", "<mj-head/>", '<mj-head mj-class="a" />'])
def test_a_self_closing_head_is_opened_for_the_variants_head(head: str) -> None:
    # MJML accepts <mj-head />; what goes after it would sit straight in <mjml>.
    layout = f"<mjml>{head}<mj-body/></mjml>"
    out = assemble(layout, {}, locale="en_US", head=["<mj-title>T</mj-title>"], css=["a{}"])
    attrs = head.removeprefix("<mj-head").removesuffix("/>").rstrip()
    assert out == (
        f'<mjml lang="en-US"><mj-head{attrs}><mj-title>T</mj-title><mj-style>a{{}}</mj-style>'
        "</mj-head><mj-body/></mjml>"
    )


def test_a_self_closing_head_stays_as_it_is_when_nothing_goes_in() -> None:
    layout = "<mjml><mj-head /><mj-body/></mjml>"
    assert assemble(layout, {}, locale="en_US", head=[], css=[]) == (
        '<mjml lang="en-US"><mj-head /><mj-body/></mjml>'
    )


@pytest.mark.parametrize(
    ("locale", "direction"),
    [
        ("ar_EG", ' dir="rtl"'),
        ("he_IL", ' dir="rtl"'),
        ("iw_IL", ' dir="rtl"'),  # Babel's alias of he_IL
        ("pa_PK", ' dir="rtl"'),  # Punjabi in Pakistan is written in Arabic script
        ("pa_Arab_PK", ' dir="rtl"'),
        ("uz_AF", ' dir="rtl"'),
        ("ks", ' dir="rtl"'),
        ("ckb", ' dir="rtl"'),
        ("sd_Deva_IN", ""),  # Sindhi in Devanagari runs left to right
        ("pa_IN", ""),
        ("de_DE", ""),
        ("xx_YY", ""),  # unknown to Babel: rendering refuses it with a located error
    ],
)
def test_the_direction_is_babels_for_the_locale(locale: str, direction: str) -> None:
    out = assemble("<mjml><mj-body/></mjml>", {}, locale=locale, head=(), css=())
    assert out.startswith(f'<mjml lang="{locale.replace("_", "-")}"{direction}>')


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (
            "<!-- <mj-head/> --><mj-head><mj-attributes/></mj-head>",
            "<!-- <mj-head/> --><mj-head><mj-title>T</mj-title><mj-attributes/></mj-head>",
        ),
        (
            "<!-- <mj-head> --><mj-head />",
            "<!-- <mj-head> --><mj-head><mj-title>T</mj-title></mj-head>",
        ),
        (
            "<!--\n<mj-head>\n-->",
            "<mj-head><mj-title>T</mj-title></mj-head><!--\n<mj-head>\n-->",
        ),
    ],
    ids=["before-head", "before-self-closing", "no-head"],
)
def test_a_head_in_a_comment_gets_nothing(head: str, expected: str) -> None:
    layout = f"<mjml>{head}<mj-body/></mjml>"
    out = assemble(layout, {}, locale="en_US", head=["<mj-title>T</mj-title>"], css=[])
    assert out == f'<mjml lang="en-US">{expected}<mj-body/></mjml>'


def test_a_root_in_a_comment_gets_no_language() -> None:
    layout = "<!-- <mjml> --><mjml><mj-body/></mjml>"
    out = assemble(layout, {}, locale="ar_EG", head=["<mj-title>T</mj-title>"], css=[])
    assert out == (
        '<!-- <mjml> --><mjml lang="ar-EG" dir="rtl"><mj-head><mj-title>T</mj-title></mj-head>'
        "<mj-body/></mjml>"
    )
