"""Experiments: stable hash assignment, load-time checks, decisions, memo, render, explain."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personalize import Project
from personalize.cli import main
from personalize.decide import HELD_OUT, OTHER_VARIANT, WON, RecipientScope, decide
from personalize.errors import ConfigError, RecipientError, short_repr
from personalize.experiments import ArmMemo, Assignment, Experiment, Variant, bucket
from personalize.testing import canonical_html
from projects import ANN, make_project, module

ROOT = Path(__file__).resolve().parents[1]
KIT_EXPERIMENT = "hero-story-nov"


@cache
def kit() -> Project:
    return Project.load(ROOT)


def hero(front: str, text: str) -> str:
    body = f"<mj-section><mj-column><mj-text>{text} {{{{ first_name }}}}</mj-text></mj-column>"
    return module(front, body + "</mj-section>")


FALLBACK = hero("description: everyone", "Hello")
# Gold recipients: experiment gold-copy (a:b = 1:3, 20% held out) in English and German; the
# holdout falls through to buyer-copy (a:b = 1:1, 50% held out) when they bought, else the
# fallback.
MODULES = {
    "hero/default": FALLBACK,
    "hero/gold-a": hero(
        "segments: [gold]\npriority: 50\nexperiment: {name: gold-copy, variant: a, holdout: 0.2}",
        "Gold A",
    ),
    "hero/gold-a-de": hero(
        "segments: [gold]\npriority: 50\nlocales: [de]\nexperiment: {name: gold-copy, variant: a}",
        "Gold A auf Deutsch",
    ),
    "hero/gold-b": hero(
        "segments: [gold]\npriority: 50\nsubject: 'B for {{ first_name }}'\n"
        "experiment: {name: gold-copy, variant: b, weight: 3}",
        "Gold B",
    ),
    "hero/gold-b-de": hero(
        "segments: [gold]\npriority: 50\nlocales: [de]\n"
        "experiment:\n  name: gold-copy\n  variant: b\n  weight: 3",
        "Gold B auf Deutsch",
    ),
    "hero/buyer-a": hero(
        "segments: [buyer]\npriority: 30\nexperiment: {name: buyer-copy, variant: a, holdout: 0.5}",
        "Buyer A",
    ),
    "hero/buyer-b": hero(
        "segments: [buyer]\npriority: 30\nexperiment: {name: buyer-copy, variant: b}", "Buyer B"
    ),
}
ORDER = {"orders": [{"at": "2026-11-20T10:00:00+01:00", "total": "10.00"}]}


@pytest.fixture(scope="module")
def promo(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return Project.load(make_project(tmp_path_factory.mktemp("promo"), modules=MODULES))


def record(rid: str, **fields: Any) -> dict[str, Any]:
    return {**ANN, "id": rid, **fields}


def ids_in(experiment: Experiment, variant: str, count: int = 1, prefix: str = "r") -> list[str]:
    """The first ``count`` ids ``prefix0``, ``prefix1``, … that land in ``variant``."""
    found = (f"{prefix}{i}" for i in range(100_000))
    return list(islice((rid for rid in found if experiment.variant_of(rid) == variant), count))


# -- assignment -------------------------------------------------------------------------------


def test_bucket_is_the_documented_sha256_fraction() -> None:
    digest = hashlib.sha256(b"hero-story-nov:silver-sam").digest()
    expected = (int.from_bytes(digest[:8], "big") >> 11) / 2**53
    assert bucket("hero-story-nov", "silver-sam") == expected == 0.7341696895784531
    assert bucket("hero-story-nov", "gold-greta") == 0.09607630678661894


@given(st.text(max_size=40), st.text(max_size=40))
def test_bucket_is_a_stable_fraction(name: str, recipient: str) -> None:
    place = bucket(name, recipient)
    assert 0.0 <= place < 1.0
    assert bucket(name, recipient) == place


def test_a_number_id_is_hashed_as_its_text_as_records_ids_are() -> None:
    split = kit().experiments[KIT_EXPERIMENT]
    for number, text in ((42, "42"), (-7, "-7"), (10**30, "1" + "0" * 30), (42.0, "42.0")):
        assert bucket(KIT_EXPERIMENT, number) == bucket(KIT_EXPERIMENT, text)
        assert split.assign(number) == split.assign(text)
        assert split.variant_of(number) == split.variant_of(text)
    # The project hashes a record's number id the same way: as the text it becomes.
    persona = dict(kit().personas["silver-sam"].data)
    for number in (42, 43, 44, 45):
        arm = kit().decide("weekly", {**persona, "id": number}).experiments[KIT_EXPERIMENT]
        assert arm == split.variant_of(number)


@pytest.mark.parametrize(
    ("recipient", "shown"),
    [(True, "True"), (None, "None"), (b"r-1", "b'r-1'"), (10**5000, "<int too large to show>")],
    ids=["bool", "none", "bytes", "huge-int"],
)
def test_an_id_that_is_neither_text_nor_a_number_is_a_recipient_error(
    recipient: Any, shown: str
) -> None:
    expected = (
        f"id: expected text or a number, got {shown} — pass the recipient's id as its record "
        "holds it, e.g. 'r-17' or 42"
    )
    for call in (
        lambda: bucket(KIT_EXPERIMENT, recipient),
        lambda: kit().experiments[KIT_EXPERIMENT].assign(recipient),
        lambda: kit().experiments[KIT_EXPERIMENT].variant_of(recipient),
    ):
        with pytest.raises(RecipientError) as caught:
            call()
        assert str(caught.value) == expected


SPLITS = [
    pytest.param(0.0, {"a": 1, "b": 1}, id="even"),
    pytest.param(0.1, {"a": 1, "b": 1}, id="even-holdout-10"),
    pytest.param(0.0, {"a": 3, "b": 1, "c": 1}, id="3-1-1"),
    pytest.param(0.25, {"control": 2.5, "x": 0.5}, id="uneven-holdout-25"),
]


@pytest.mark.parametrize(("holdout", "weights"), SPLITS)
def test_split_over_100_000_ids_is_within_one_percent(
    holdout: float, weights: dict[str, float]
) -> None:
    variants = tuple(Variant(name, weight, (f"hero/{name}",)) for name, weight in weights.items())
    experiment = Experiment("split-test", "hero", holdout, variants, "modules/hero/a.mjml")
    counts = Counter(experiment.variant_of(f"user-{i}") for i in range(100_000))
    shares = experiment.shares
    assert set(counts) == set(shares)
    assert sum(shares.values()) == pytest.approx(1.0)
    for arm, share in shares.items():
        assert abs(counts[arm] / 100_000 - share) <= 0.01, arm


def test_assignment_agrees_with_the_bucket_and_pickles() -> None:
    variants = (Variant("a", 1, ()), Variant("b", 2, ()))
    experiment = Experiment("agree", "hero", 0.1, variants, "f")
    for i in range(2000):
        arm = experiment.assign(f"id-{i}")
        expected = "holdout" if arm.bucket < 0.1 else "a" if arm.bucket < 0.4 else "b"
        assert arm.variant == expected == experiment.variant_of(f"id-{i}")
    copy = pickle.loads(pickle.dumps(experiment))
    assert copy == experiment
    assert copy.variant_of("id-7") == experiment.variant_of("id-7")


def test_assignment_is_the_same_in_processes_with_other_hash_seeds() -> None:
    code = (
        "import json, sys\n"
        "from personalize import Project\n"
        "from personalize.experiments import bucket\n"
        "p = Project.load(sys.argv[1])\n"
        "arms = {n: p.decide('weekly', r).experiments for n, r in p.personas.items()}\n"
        "split = p.experiments['hero-story-nov']\n"
        "ids = [split.variant_of(f'u{i}') for i in range(2000)]\n"
        "print(json.dumps([arms, ids, bucket('x', 'ann'), hash('ann')]))\n"
    )
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", code, str(ROOT)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        outputs.append(json.loads(done.stdout))
    (arms1, ids1, place1, hash1), (arms2, ids2, place2, hash2) = outputs
    assert hash1 != hash2  # the seeds really differ: Python's hash() would not be stable
    assert arms1 == arms2
    assert ids1 == ids2
    assert place1 == place2 == bucket("x", "ann")
    split = kit().experiments[KIT_EXPERIMENT]
    assert ids1 == [split.variant_of(f"u{i}") for i in range(2000)]
    assert arms1 == {n: kit().decide("weekly", r).experiments for n, r in kit().personas.items()}


# -- load-time checks ----------------------------------------------------------------------


def _a(extra: str = "", tag: str = "{name: e, variant: a}") -> str:
    return hero(f"segments: [gold]\npriority: 5\n{extra}experiment: {tag}", "A")


def _b(extra: str = "", tag: str = "{name: e, variant: b}") -> str:
    return hero(f"segments: [gold]\npriority: 5\n{extra}experiment: {tag}", "B")


LOAD_ERRORS = [
    (
        "not a mapping",
        {"hero/a": _a(tag="e")},
        "modules/hero/a.mjml line 4: experiment: experiment must be a mapping such as "
        "{name: hero-copy, variant: b}, got 'e'",
    ),
    (
        "unknown key",
        {"hero/a": _a(tag="{name: e, variant: a, wieght: 2}")},
        "modules/hero/a.mjml line 4: experiment.wieght: unknown experiment key 'wieght' — "
        "did you mean 'weight'?",
    ),
    (
        "no variant",
        {"hero/a": _a(tag="{name: e}")},
        "modules/hero/a.mjml line 4: experiment: experiment needs a variant — write "
        "experiment: {name: hero-copy, variant: b}; modules with the same name are the "
        "variants of one experiment",
    ),
    (
        "bad name",
        {"hero/a": _a(tag="{name: 'Hero Copy', variant: a}")},
        "modules/hero/a.mjml line 4: experiment.name: experiment name must be lowercase "
        "letters, digits, '-' or '_' (at most 64), got 'Hero Copy' — e.g. hero-copy-nov",
    ),
    (
        "name with a trailing newline",
        {"hero/a": _a(tag='{name: "e\\n", variant: a}')},
        "modules/hero/a.mjml line 4: experiment.name: experiment name must be lowercase "
        "letters, digits, '-' or '_' (at most 64), got 'e\\n' — e.g. hero-copy-nov",
    ),
    (
        "variant holdout with a trailing newline",
        {"hero/a": _a(tag='{name: e, variant: "holdout\\n"}')},
        "modules/hero/a.mjml line 4: experiment.variant: experiment variant must be lowercase "
        "letters, digits, '-' or '_' (at most 64), got 'holdout\\n' — e.g. hero-copy-nov",
    ),
    (
        "variant named holdout",
        {"hero/a": _a(tag="{name: e, variant: holdout}")},
        "modules/hero/a.mjml line 4: experiment.variant: 'holdout' is not a variant name: it "
        "marks recipients held out of the experiment — name the variant e.g. 'b', and set the "
        "share held out with 'holdout: 0.1'",
    ),
    (
        "zero weight",
        {"hero/a": _a(tag="{name: e, variant: a, weight: 0}")},
        "modules/hero/a.mjml line 4: experiment.weight: weight must be a positive number, "
        "got 0 — weights are relative: 1 and 1 split evenly, 3 and 1 give 75% and 25%",
    ),
    (
        "weight not a number",
        {"hero/a": _a(tag="{name: e, variant: a, weight: heavy}")},
        "modules/hero/a.mjml line 4: experiment.weight: weight must be a number, got 'heavy'",
    ),
    (
        "weight beyond any float",
        {"hero/a": _a(tag="{name: e, variant: a, weight: 1" + "0" * 400 + "}")},
        "modules/hero/a.mjml line 4: experiment.weight: weight must be a number, got "
        + short_repr(10**400),
    ),
    (
        "weights too large to add up",
        {
            "hero/a": _a(tag="{name: e, variant: a, weight: 1.0e+308}"),
            "hero/b": _b(tag="{name: e, variant: b, weight: 1.0e+308}"),
        },
        "modules/hero/b.mjml line 4: experiment.weight: the weights of experiment 'e' add up "
        "to more than a number can hold (variant 'b' has weight 1e+308) — weights are "
        "relative: 1 and 1 split evenly, 3 and 1 give 75% and 25%",
    ),
    (
        "holdout of 1",
        {"hero/a": _a(tag="{name: e, variant: a, holdout: 1}")},
        "modules/hero/a.mjml line 4: experiment.holdout: holdout must be a share from 0 up "
        "to (not including) 1, got 1 — write 0.1 to hold out 10% of the recipients",
    ),
    (
        "one variant, no holdout",
        {"hero/a": _a()},
        "modules/hero/a.mjml line 4: experiment.variant: experiment 'e' has one variant ('a') "
        "and no holdout, so everyone gets it — add another module with the same experiment "
        "name and another variant, or hold some recipients out: holdout: 0.1",
    ),
    (
        "two slots",
        {"hero/a": _a(), "extra/b": _b()},
        "modules/hero/a.mjml line 4: experiment.name: experiment 'e' is in slot 'extra' "
        "(extra/b) and in slot 'hero' — an experiment tests one slot; give this module "
        "another experiment name",
    ),
    (
        "different priority",
        {"hero/a": _a(), "hero/b": _b().replace("priority: 5", "priority: 6")},
        "modules/hero/a.mjml line 4: experiment.name: variants of experiment 'e' target "
        "different recipients: priority is 5 here but 6 in hero/b — give every variant the "
        "same priority, segments, exclude, when and active (only locales may differ), so that "
        "every arm sees the same audience",
    ),
    (
        "different when",
        {"hero/a": _a(), "hero/b": _b("when: {tier: Gold}\n")},
        "modules/hero/b.mjml line 5: experiment.name: variants of experiment 'e' target "
        "different recipients: when is tier = Gold here but none in hero/a — give every "
        "variant the same priority, segments, exclude, when and active (only locales may "
        "differ), so that every arm sees the same audience",
    ),
    (
        "holdouts disagree",
        {
            "hero/a": _a(tag="{name: e, variant: a, holdout: 0.1}"),
            "hero/b": _b(tag="{name: e, variant: b, holdout: 0.2}"),
        },
        "modules/hero/b.mjml line 4: experiment.holdout: experiment 'e' holds out 0.2 here "
        "but 0.1 in hero/a — state the holdout once, or the same value in every variant",
    ),
    (
        "weights of one variant disagree",
        {
            "hero/a": _a(),
            "hero/b": _b("locales: [en]\n"),
            "hero/b-de": _b("locales: [de]\n", "{name: e, variant: b, weight: 2}"),
            "hero/a-de": _a("locales: [de]\n"),
        },
        "modules/hero/b-de.mjml line 5: experiment.weight: variant 'b' of experiment 'e' has "
        "weight 2 here but 1 in hero/b — the modules of one variant (one per locale) need the "
        "same weight",
    ),
    (
        "a variant without the German version",
        {"hero/a": _a(), "hero/a-de": _a("locales: [de]\n"), "hero/b": _b()},
        "modules/hero/b.mjml line 4: experiment.variant: variant 'b' of experiment 'e' has "
        "modules for locales all, but variant 'a' has all, [de] — give every variant the same "
        "locale versions (a module with e.g. locales: [de] per variant), so that no arm falls "
        "back to another language",
    ),
    (
        "a variant module shadowed",
        {"hero/a": _a(), "hero/a2": _a(), "hero/b": _b()},
        "modules/hero/a2.mjml line 4: experiment.variant: hero/a2 is never chosen: hero/a is "
        "variant 'a' of experiment 'e' for the same recipients — give each module of a "
        "variant its own locales, e.g. locales: [de]",
    ),
    (
        "holdout with no fallback left",
        {
            "hero/default": hero("experiment: {name: e, variant: a, holdout: 0.1}", "A"),
            "hero/default-b": hero("experiment: {name: e, variant: b}", "B"),
        },
        "modules/hero/default.mjml line 2: experiment.holdout: the holdout of experiment 'e' would "
        "leave required slot 'hero' empty: the slot has no fallback module outside the "
        "experiment — add a module without targeting in modules/hero/ for the holdout, or "
        "remove the holdout",
    ),
    (
        "holdouts that pass on to each other",
        {
            "hero/default": hero("experiment: {name: e, variant: a, holdout: 0.1}", "A"),
            "hero/default-b": hero("experiment: {name: e, variant: b}", "B"),
            "hero/other": hero("experiment: {name: f, variant: a, holdout: 0.5}", "F"),
        },
        "modules/hero/default.mjml line 2: experiment.holdout: the holdout of experiment 'e' would "
        "leave required slot 'hero' empty: the slot's other fallback modules are in experiment "
        "f, which holds recipients out too — add a module without targeting in modules/hero/ "
        "for the holdouts, or remove a holdout",
    ),
]


@pytest.mark.parametrize(
    ("modules", "expected"), [c[1:] for c in LOAD_ERRORS], ids=[c[0] for c in LOAD_ERRORS]
)
def test_load_errors(tmp_path: Path, modules: dict[str, str], expected: str) -> None:
    root = make_project(tmp_path, modules={"hero/default": FALLBACK, **modules})
    with pytest.raises(ConfigError) as caught:
        Project.load(root)
    assert str(caught.value) == expected


def test_a_holdouts_other_fallback_may_be_limited_to_locales_or_a_window(tmp_path: Path) -> None:
    # As for any required slot's fallback: which locales it serves (L205) and whether its
    # window is open when sending (L206) are lint's to check, at --now.
    modules = {
        "hero/default": hero("experiment: {name: e, variant: a, holdout: 0.5}", "A"),
        "hero/default-b": hero("experiment: {name: e, variant: b}", "B"),
        "hero/german": hero("locales: [de]", "Deutsch"),
        "hero/winter": hero("active: {from: 2027-01-01}", "Winter"),
    }
    project = Project.load(make_project(tmp_path, modules=modules))
    assert project.experiments["e"].holdout == 0.5


def test_an_experiment_loads_with_its_variants_and_shares(promo: Project) -> None:
    gold = promo.experiments["gold-copy"]
    assert gold.slot == "hero"
    assert gold.variants == (
        Variant("a", 1.0, ("hero/gold-a-de", "hero/gold-a")),
        Variant("b", 3.0, ("hero/gold-b-de", "hero/gold-b")),
    )
    assert gold.shares == {"holdout": 0.2, "a": 0.2, "b": 0.6000000000000001}
    assert (gold.file, gold.line) == ("modules/hero/gold-a.mjml", 4)
    assert list(promo.experiments) == ["buyer-copy", "gold-copy"]


def test_variants_sort_together_in_decision_order(tmp_path: Path) -> None:
    modules = {
        "hero/default": FALLBACK,
        "hero/x-a": _a(tag="{name: e, variant: a}"),
        "hero/x-aa": hero("segments: [gold]\npriority: 5", "Unrelated"),
        "hero/x-b": _b(tag="{name: e, variant: b}"),
        "hero/x-b-de": _b("locales: [de]\n"),
        "hero/x-a-de": _a("locales: [de]\n"),
    }
    project = Project.load(make_project(tmp_path, modules=modules))
    order = [m.id for m in project.registry.by_slot["hero"]]
    # By experiment name 'e' before 'hero/x-aa'; locale versions first within the group.
    assert order == [
        "hero/x-a-de",
        "hero/x-b-de",
        "hero/x-a",
        "hero/x-b",
        "hero/x-aa",
        "hero/default",
    ]
    heroes = {
        project.decide("news", record(f"r{i}", tier="Gold")).as_dict()["hero"] for i in range(40)
    }
    assert heroes == {"hero/x-a", "hero/x-b"}


# -- decisions -----------------------------------------------------------------------------


def test_each_arm_gets_its_variant_and_the_holdout_the_next_choice(promo: Project) -> None:
    gold = promo.experiments["gold-copy"]
    (in_a,), (in_b,), (out,) = (ids_in(gold, arm) for arm in ("a", "b", "holdout"))
    heroes = {rid: promo.render("news", record(rid, tier="Gold")) for rid in (in_a, in_b, out)}
    assert {rid: e.decisions["hero"] for rid, e in heroes.items()} == {
        in_a: "hero/gold-a",
        in_b: "hero/gold-b",
        out: "hero/default",
    }
    assert {rid: dict(e.experiments) for rid, e in heroes.items()} == {
        in_a: {"gold-copy": "a"},
        in_b: {"gold-copy": "b"},
        out: {"gold-copy": "holdout"},
    }
    assert heroes[in_b].subject == "B for Ann"
    assert heroes[in_a].subject == "Hello Ann"
    # Not gold: never reaches the experiment, so no assignment is recorded.
    plain = promo.render("news", record(in_b))
    assert (plain.decisions["hero"], dict(plain.experiments)) == ("hero/default", {})


def test_a_holdout_can_fall_through_to_another_experiment(promo: Project) -> None:
    gold, buyer = promo.experiments["gold-copy"], promo.experiments["buyer-copy"]
    out = next(rid for rid in ids_in(gold, "holdout", 200) if buyer.variant_of(rid) == "b")
    email = promo.render("news", record(out, tier="Gold", **ORDER))
    assert email.decisions["hero"] == "hero/buyer-b"
    assert dict(email.experiments) == {"gold-copy": "holdout", "buyer-copy": "b"}
    decisions = promo.decide("news", record(out, tier="Gold", **ORDER))
    assert [a.experiment for a in decisions.arms] == ["gold-copy", "buyer-copy"]
    assert decisions.items[0].experiments == (
        Assignment("gold-copy", "holdout", bucket("gold-copy", out)),
        Assignment("buyer-copy", "b", bucket("buyer-copy", out)),
    )


def test_decide_without_experiments_groups_them_itself(promo: Project) -> None:
    rid = ids_in(promo.experiments["gold-copy"], "b")[0]
    r = promo.recipient(record(rid, tier="Gold"))
    membership = promo.classify(r)
    scope = RecipientScope(
        r.data, membership, segments=promo.segments.segments, now=promo.now(), tz=promo.schema.tz
    )
    decisions = decide(
        promo.registry.layout("news"),
        promo.registry,
        membership=membership,
        scope=scope,
        locale=r.locale,
        recipient=r.id,
    )
    assert decisions == promo.decide("news", r)
    assert decisions.as_dict()["hero"] == "hero/gold-b"


def test_memoized_decisions_equal_fresh_ones_for_every_recipient(promo: Project) -> None:
    kinds: list[dict[str, Any]] = [
        {},
        {"tier": "Gold"},
        {"tier": "Gold", "locale": "de_DE"},
        {"tier": "Gold", **ORDER},
        ORDER,
    ]
    seen: set[tuple[str | None, str]] = set()
    for i in range(1500):
        data = record(f"m{i}", **kinds[i % len(kinds)])
        email = promo.render("news", data)
        fresh = promo.decide("news", data)
        assert dict(email.decisions) == fresh.as_dict()
        assert dict(email.experiments) == fresh.experiments
        seen.add((email.decisions["hero"], ",".join(sorted(email.experiments.values()))))
    # Every path through both experiments was walked, holdouts and locales included.
    assert seen == {
        ("hero/default", ""),
        ("hero/default", "holdout"),
        ("hero/default", "holdout,holdout"),
        ("hero/gold-a", "a"),
        ("hero/gold-b", "b"),
        ("hero/gold-a-de", "a"),
        ("hero/gold-b-de", "b"),
        ("hero/buyer-a", "a"),
        ("hero/buyer-b", "b"),
        ("hero/buyer-a", "a,holdout"),
        ("hero/buyer-b", "b,holdout"),
    }


def test_arm_memo_walks_the_path_the_decision_asked() -> None:
    gold = Experiment("g", "hero", 0.5, (Variant("a", 1, ("hero/a",)),), "f")
    other = Experiment("o", "hero", 0.0, (Variant("a", 1, ()), Variant("b", 1, ())), "f")
    memo: ArmMemo[str] = ArmMemo({"g": gold, "o": other})
    rid = ids_in(gold, "holdout")[0]
    assert memo.get(rid) is None
    memo.put((gold.assign(rid), other.assign(rid)), "deep")
    memo.put((gold.assign(ids_in(gold, "a")[0]),), "shallow")
    assert memo.get(rid) == "deep"
    assert memo.get(ids_in(gold, "a", 5)[-1]) == "shallow"
    unseen = next(
        r for r in ids_in(gold, "holdout", 50) if other.variant_of(r) != other.variant_of(rid)
    )
    assert memo.get(unseen) is None


# -- render, compile, explain ------------------------------------------------------------------


def test_variants_times_locales_compile_separately(promo: Project) -> None:
    gold = promo.experiments["gold-copy"]
    a_ids, b_ids = ids_in(gold, "a", 2), ids_in(gold, "b", 2)
    emails = {
        (arm, locale): promo.render("news", record(rid, tier="Gold", locale=locale))
        for arm, rid in (("a", a_ids[0]), ("b", b_ids[0]))
        for locale in ("en_US", "de_DE")
    }
    heroes = {key: e.decisions["hero"] for key, e in emails.items()}
    assert heroes == {
        ("a", "en_US"): "hero/gold-a",
        ("a", "de_DE"): "hero/gold-a-de",
        ("b", "en_US"): "hero/gold-b",
        ("b", "de_DE"): "hero/gold-b-de",
    }
    assert len({e.html for e in emails.values()}) == 4
    assert "Gold B auf Deutsch Ann" in emails[("b", "de_DE")].text
    assert 'lang="de-DE"' in emails[("b", "de_DE")].html
    assert 'lang="en-US"' in emails[("b", "en_US")].html
    before = promo.cache_info["size"]
    promo.render("news", record(b_ids[1], tier="Gold", locale="de_DE"))  # same variant again
    assert promo.cache_info["size"] == before


@pytest.mark.parametrize(
    ("arm", "locale"), [(a, loc) for a in ("a", "b", "holdout") for loc in ("en_US", "de_DE")]
)
def test_fast_path_equals_reference_path(promo: Project, arm: str, locale: str) -> None:
    rid = ids_in(promo.experiments["gold-copy"], arm)[0]
    data = record(rid, tier="Gold", locale=locale)
    fast, reference = promo.render("news", data), promo.render_reference("news", data)
    assert dict(fast.decisions) == dict(reference.decisions)
    assert dict(fast.experiments) == dict(reference.experiments)
    assert (fast.subject, fast.text) == (reference.subject, reference.text)
    assert canonical_html(fast.html) == canonical_html(reference.html)


def test_explain_names_the_arm_and_the_other_variants(promo: Project) -> None:
    gold = promo.experiments["gold-copy"]
    rid, out = ids_in(gold, "b")[0], ids_in(gold, "holdout")[0]
    explained = promo.explain("news", record(rid, tier="Gold"))
    outcomes = {c.module: c.outcome for c in explained.decisions.items[0].candidates}
    assert (outcomes["hero/gold-a"], outcomes["hero/gold-b"]) == (OTHER_VARIANT, WON)
    text = str(explained)
    assert "hero: hero/gold-b [experiment gold-copy: variant b] — priority 50" in text
    assert (
        f"  ✗ hero/gold-a [priority 50] other variant: experiment gold-copy put the recipient "
        f"in variant b (bucket {bucket('gold-copy', rid):.3f})"
    ) in text
    held = promo.explain("news", record(out, tier="Gold"))
    hero = held.decisions.items[0]
    assert [(c.module, c.outcome) for c in hero.candidates] == [
        ("hero/gold-a-de", "wrong locale"),
        ("hero/gold-b-de", "wrong locale"),
        ("hero/gold-a", HELD_OUT),
        ("hero/gold-b", HELD_OUT),
        ("hero/buyer-a", "not in a targeted segment"),
        ("hero/buyer-b", "not in a targeted segment"),
        ("hero/default", WON),
    ]
    assert "hero: hero/default [experiment gold-copy: holdout] — fallback" in str(held)
    place = bucket("gold-copy", out)
    assert hero.candidates[2].detail == (
        f"recipient is in the holdout of experiment gold-copy (bucket {place:.3f})"
    )


# -- the starter kit ---------------------------------------------------------------------------


KIT_ARMS = {"gold-greta": "a", "sparse-sol": "a", "silver-sam": "b", "bronze-ben": "b"}


def test_kit_personas_land_in_each_arm() -> None:
    p = kit()
    arms = {n: dict(p.render("weekly", r).experiments) for n, r in p.personas.items()}
    assert {n: a for n, a in arms.items() if a} == {
        n: {KIT_EXPERIMENT: arm} for n, arm in KIT_ARMS.items()
    }
    assert p.experiments[KIT_EXPERIMENT].shares == {"a": 0.5, "b": 0.5}


def test_kit_variants_compile_to_different_html() -> None:
    p = kit()
    split = p.experiments[KIT_EXPERIMENT]
    lines = (ROOT / "personas.jsonl").read_text(encoding="utf-8").splitlines()
    data = next(r for r in map(json.loads, lines) if r.get("id") == "bronze-ben")
    a, b = (p.render("weekly", {**data, "id": ids_in(split, arm)[0]}) for arm in ("a", "b"))
    assert (a.decisions["hero"], b.decisions["hero"]) == ("hero/default", "hero/default-b")
    assert a.html != b.html
    assert "is your winter kit complete?" in b.text
    assert "is your winter kit complete?" not in a.text
    assert a.subject == b.subject  # the hero copy is tested, not the subject line


def test_kit_explain_shows_the_assignment() -> None:
    p = kit()
    text = str(p.explain("weekly", p.personas["silver-sam"]))
    assert "hero: hero/default-b [experiment hero-story-nov: variant b] — fallback" in text
    assert (
        "  ✗ hero/default [priority 0] other variant: experiment hero-story-nov put the "
        "recipient in variant b (bucket 0.734)"
    ) in text
    vera = p.explain("weekly", p.personas["vip-vera"])
    assert vera.decisions.items[0].experiments == ()
    assert "hero: hero/vip-early-access — priority 100" in str(vera)


def test_cli_explain_shows_the_assignment(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--project", str(ROOT), "explain", "weekly", "-r", "bronze-ben"])
    out = capsys.readouterr().out
    assert "hero → hero/default-b [experiment hero-story-nov: variant b]  (fallback)" in out
    main(["--project", str(ROOT), "explain", "weekly", "-r", "bronze-ben", "--format", "json"])
    hero = json.loads(capsys.readouterr().out)["slots"][0]
    assert hero["experiments"] == [
        {
            "experiment": KIT_EXPERIMENT,
            "variant": "b",
            "bucket": bucket(KIT_EXPERIMENT, "bronze-ben"),
        }
    ]


def test_render_many_with_workers_keeps_the_experiments() -> None:
    p = kit()
    names = list(KIT_ARMS)
    outcomes = list(
        p.render_many("weekly", [p.personas[n] for n in names], workers=2, chunk_size=1)
    )
    got: dict[str, Mapping[str, str]] = {
        n: o.email.experiments for n, o in zip(names, outcomes, strict=True) if o.email
    }
    assert got == {n: {KIT_EXPERIMENT: arm} for n, arm in KIT_ARMS.items()}
