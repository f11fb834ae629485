"""Assembly fix-ups around region fences: cutting compiled output, and scoping its modules."""

from __future__ import annotations

from personalize.assemble import region_marks, scope_regions, split_regions, strip_fences
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
