"""render_many's batches: the collector paused per batch, and failed outcomes that keep no batch."""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import timedelta
from itertools import islice
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personalize import ConfigError, PersonalizeError, Project, RenderedEmail, parallel
from personalize.errors import RenderError
from personalize.parallel import gc_paused
from projects import ANN, HERO, SEGMENTS, SETTINGS, make_project, module
from test_projectsnapshot import HINT

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def collector() -> Iterator[None]:
    """Whatever a test does to the collector, the next test finds it on."""
    yield
    gc.enable()


def test_gc_paused_turns_the_collector_off_and_back_on(collector: None) -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_gc_paused_restores_the_collector_when_the_block_raises(collector: None) -> None:
    with pytest.raises(KeyboardInterrupt), gc_paused():
        raise KeyboardInterrupt
    assert gc.isenabled()


def test_gc_paused_leaves_a_collector_that_was_off_off(collector: None) -> None:
    gc.disable()
    with gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_render_many_pauses_per_batch_and_never_across_a_yield(
    collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = Project.load(ROOT)
    states: list[bool] = []
    render_batch = parallel.render_batch

    def spy(*args: object, **kwargs: object) -> object:
        states.append(gc.isenabled())
        return render_batch(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(parallel, "BATCH", 4)
    monkeypatch.setattr(parallel, "render_batch", spy)
    records = [dict(p.data) for p in project.personas.values()][:10]
    seen = []
    for outcome in project.render_many("weekly", records):
        seen.append(gc.isenabled())  # the caller's code runs with the collector on
        assert outcome.ok
    assert states == [False, False, False]  # 4 + 4 + 2 records
    assert seen == [True] * 10
    assert gc.isenabled()


def test_render_many_leaves_no_cyclic_garbage(collector: None) -> None:
    # The pause is safe because rendering makes no reference cycles: with the collector off,
    # nothing of a batch would be freed until it runs again. Good and failing records alike,
    # the first time (variants compile) and again.
    project = Project.load(ROOT)
    personas = [dict(p.data) for p in project.personas.values()]
    records: list[object] = [*personas, {"id": "bad-email", "email": "x"}]
    records += [{"id": "bad-points", "points": "lots"}, "not a mapping"]
    records += [{**personas[0], "locale": "xx_XX"}]
    gc.collect()
    gc.disable()
    for _ in range(2):
        for layout in ("weekly", "welcome", "cart-reminder"):
            outcomes = list(project.render_many(layout, records))  # type: ignore[arg-type]
            assert sum(not o.ok for o in outcomes) == 4
            del outcomes
    assert project.cache_info["misses"] > 0  # variants compiled while the collector was off
    assert gc.collect() == 0


def test_a_kept_failed_outcome_keeps_no_email_of_its_batch_alive() -> None:
    # A traceback's frames hold their callers' locals: the whole batch, emails included. A
    # caller keeping the failures of a long send for a report must not keep every batch.
    project = Project.load(ROOT)
    personas = [{**p.data, "id": f"kept-{p.id}"} for p in project.personas.values()]
    records: list[object] = [*personas, "not a mapping", {"id": "bad-email", "email": "x"}]
    records += [{**personas[0], "locale": "xx_XX"}]  # passes validation, fails rendering
    failed = [o for o in project.render_many("weekly", records) if not o.ok]  # type: ignore[arg-type]
    gc.collect()
    alive = [o for o in gc.get_objects() if type(o) is RenderedEmail]
    assert [e.recipient for e in alive if e.recipient.startswith("kept-")] == []
    assert [str(o.error) for o in failed] == [
        "expected a JSON object (mapping of fields), got str",
        "recipient bad-email: email: expected an email address such as 'ann@example.com', "
        "got 'x' (and 1 more problem) — an address has a user, an '@' and a domain, as in "
        "'user@example.com'",
        "recipient kept-vip-vera: locale: unknown locale 'xx_XX' — use a locale Babel knows, "
        "such as 'en_US' or 'de_DE'",
    ]
    assert all(o.error is not None and o.error.__traceback__ is None for o in failed)


def test_a_rendered_outcome_is_the_one_its_constructor_builds() -> None:
    project = Project.load(ROOT)
    email = project.render("weekly", next(iter(project.personas.values())))
    built = parallel._rendered(3, "r3", email)
    assert built == parallel.Outcome(3, "r3", email=email)
    assert vars(built) == vars(parallel.Outcome(3, "r3", email=email))
    assert built.ok


ROOT = Path(__file__).resolve().parents[1]


class Row:
    """A record type that does not pickle, as a database driver's row."""

    def __reduce__(self) -> str:
        raise TypeError("cannot pickle 'Row' object")


def test_a_record_that_does_not_pickle_gets_its_outcome_with_workers() -> None:
    project = Project.load(ROOT)
    personas = list(project.personas.values())
    records = [personas[0], Row(), personas[2]]
    serial = [(o.index, o.recipient, str(o.error)) for o in project.render_many("weekly", records)]
    spread = [
        (o.index, o.recipient, str(o.error))
        for o in project.render_many("weekly", records, workers=2, chunk_size=1)
    ]
    assert spread == serial
    assert serial[1][2].startswith("expected a JSON object")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"chunk_size": 0, "workers": 2},
            "chunk_size: expected a whole number of at least 1, got 0 — the default is 256",
        ),
        (
            {"workers": -1},
            "workers: expected a whole number of at least 1, got -1 — 1 renders in this process",
        ),
        (
            {"workers": 2.0},
            "workers: expected a whole number of at least 1, got 2.0 — 1 renders in this process",
        ),
    ],
    ids=["chunk-size-0", "negative-workers", "float-workers"],
)
def test_options_that_would_render_nothing_are_refused_at_the_call(
    options: dict[str, object], message: str
) -> None:
    project = Project.load(ROOT)
    with pytest.raises(ConfigError) as caught:
        project.render_many("weekly", [], **options)  # type: ignore[arg-type]
    assert str(caught.value) == message


# -- workers: the same outcome as without them, and a run that stops cleanly ----------------

FORK = multiprocessing.get_start_method() == "fork"
only_forked = pytest.mark.skipif(not FORK, reason="workers inherit the caller's state by fork")

FIELDS = """\
prefs = {type = "map", default = {}}
tags = "list[str]"
points = "int"
home = "address"

[recipient.types.address]
city = "str"
zip = "str"
"""
SHOWS = module(
    "description: fallback",
    "<mj-text>prefs {{ prefs | length }}:{% for k in prefs | sort %} {{ k }}="
    "{{ 'null' if prefs[k] is none else prefs[k] }}{% endfor %} "
    "tags {{ tags | join(',') if tags else '-' }} points {{ points | default('-') }} "
    "city {{ home.city if home else '-' }}</mj-text>",
)


def shows_fields(root: Path) -> Path:
    """A small project whose email shows a map, a list, a number and a nested object."""
    settings = SETTINGS.replace('links = "links"\n', 'links = "links"\n' + FIELDS)
    return make_project(root, settings=settings, modules={"hero/default": SHOWS})


def facts(outcomes: Iterable[parallel.Outcome]) -> list[tuple[object, ...]]:
    """What a caller can see of each outcome, types of the email's mappings included."""
    seen: list[tuple[object, ...]] = []
    for o in outcomes:
        if o.email is not None:
            kinds = type(o.email.decisions), type(o.email.experiments)
            seen.append((o.index, o.recipient, kinds, vars(o.email)))
        else:
            assert o.error is not None
            seen.append((o.index, o.recipient, type(o.error), str(o.error), o.error.to_dict()))
    return seen


def both_ways(project: Project, layout: str, records: list[Any]) -> tuple[list[Any], list[Any]]:
    """The outcomes' facts without workers, and with two workers taking two records a part."""
    serial = facts(project.render_many(layout, records))
    spread = facts(project.render_many(layout, records, workers=2, chunk_size=2))
    return serial, spread


@pytest.fixture(scope="module")
def showing(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return Project.load(shows_fields(tmp_path_factory.mktemp("showing")))


def test_map_values_that_are_null_reach_the_template_with_workers(showing: Project) -> None:
    records: list[Any] = [{**ANN, "prefs": {"size": None, "color": "red"}}, {**ANN, "id": "bo"}]
    records.append(showing.recipient({**ANN, "id": "cy", "prefs": {"vip": None}}))
    serial, spread = both_ways(showing, "news", records)
    assert spread == serial
    texts = [o[3]["text"].split("prefs ")[1].rstrip() for o in serial]
    assert texts == [
        "2: color=red size=null tags - points - city -",
        "0: tags - points - city -",
        "1: vip=null tags - points - city -",
    ]


def test_errors_quote_tuples_and_nulls_as_given_with_workers(showing: Project) -> None:
    records = [{**ANN, "points": (1, 2)}, {**ANN, "id": "bo", "first_name": {"a": None}}]
    serial, spread = both_ways(showing, "news", records)
    assert spread == serial
    assert [o[3] for o in serial] == [
        "recipient ann: points: expected a whole number, got (1, 2)",
        "recipient bo: first_name: expected text, got {'a': None}",
    ]


def test_a_cyclic_or_deep_record_gets_its_outcome_with_workers(showing: Project) -> None:
    cyclic: dict[str, Any] = {**ANN, "id": "cyclic"}
    cyclic["meta"] = {"record": cyclic}  # unknown keys are ignored, whatever they hold
    deep: dict[str, Any] = {**ANN, "id": "deep"}
    nested = deep
    for _ in range(5_000):
        nested["child"] = nested = {}
    records = [ANN, cyclic, ANN, deep, ANN]
    serial, spread = both_ways(showing, "news", records)
    assert spread == serial
    assert [o[1] for o in serial] == ["ann", "cyclic", "ann", "deep", "ann"]
    assert all(len(o) == 4 for o in serial)  # all rendered


def test_emails_keep_read_only_decisions_with_workers() -> None:
    project = Project.load(ROOT)
    personas = list(project.personas.values())[:4]
    for outcome in project.render_many("weekly", personas, workers=2, chunk_size=1):
        assert outcome.email is not None
        assert type(outcome.email.decisions) is MappingProxyType
        assert type(outcome.email.experiments) is MappingProxyType


values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
keys = st.sampled_from(["prefs", "tags", "points", "home", "first_name", "email", "links", "x"])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=st.lists(st.dictionaries(keys, values, max_size=3), min_size=1, max_size=5),
    validated=st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_any_record_gets_the_same_outcome_with_workers(
    showing: Project, changes: list[dict[str, Any]], validated: list[bool]
) -> None:
    records: list[Any] = []
    for n, (change, as_recipient) in enumerate(zip(changes, validated, strict=False)):
        record = {**ANN, "id": f"r{n}", **change}
        try:  # a validated Recipient goes to the workers as it is, read-only mappings and all
            records.append(showing.recipient(record) if as_recipient else record)
        except PersonalizeError:
            records.append(record)
    serial, spread = both_ways(showing, "news", records)
    assert spread == serial


class DiesInWorker:
    """A value that ends the process that unpickles it (a worker), as the OOM killer would."""

    def __reduce__(self) -> tuple[Any, ...]:
        return os._exit, (70,)


def test_a_worker_that_dies_names_the_first_record_without_an_outcome(showing: Project) -> None:
    records: list[dict[str, Any]] = [{**ANN, "id": f"r{n}"} for n in range(6)]
    records[4]["note"] = DiesInWorker()
    outcomes = showing.render_many("news", records, workers=2, chunk_size=2)
    assert [(o.index, o.ok) for o in islice(outcomes, 4)] == [(n, True) for n in range(4)]
    with pytest.raises(RenderError) as caught:
        next(outcomes)
    assert str(caught.value) == (
        "a worker process ended abruptly (killed, or out of memory?): the records from index 4 "
        "on have no outcome — every record before index 4 has its outcome; render the rest "
        "again, e.g. with fewer workers or a smaller chunk_size"
    )


def refuse() -> None:
    raise ValueError("cannot be rebuilt here")


class FailsInWorker:
    """A value that pickles, but raises where it is unpickled (in a worker)."""

    def __reduce__(self) -> tuple[Any, ...]:
        return refuse, ()


def test_a_record_a_worker_cannot_unpickle_gets_its_outcome(showing: Project) -> None:
    records = [ANN, {**ANN, "id": "bo", "note": FailsInWorker()}, {**ANN, "id": "cy"}]
    serial, spread = both_ways(showing, "news", records)
    assert spread == serial
    assert [o[1] for o in serial if len(o) == 4] == ["ann", "bo", "cy"]


class NeedsTwoError(Exception):
    """A bug's exception that pickles but cannot be rebuilt from its args."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a}/{b}")


@only_forked
def test_a_bug_raises_in_the_caller_with_workers_as_without(
    showing: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    render_chosen = Project._render_chosen

    def buggy(self: Project, chosen: Any, variant: Any, r: Any, *args: Any) -> RenderedEmail:
        if r.id == "r3":
            raise NeedsTwoError("x", "y")
        return render_chosen(self, chosen, variant, r, *args)

    monkeypatch.setattr(Project, "_render_chosen", buggy)  # forked workers have it too
    records = [{**ANN, "id": f"r{n}"} for n in range(6)]
    for options in ({}, {"workers": 2, "chunk_size": 2}):
        with pytest.raises(NeedsTwoError, match=r"^x/y$"):
            list(showing.render_many("news", records, **options))  # type: ignore[arg-type]


@only_forked
def test_forked_workers_render_the_project_as_loaded_not_as_on_disk(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    project = Project.load(root)
    (root / "modules/hero/default.mjml").write_text(HERO.replace("Hi", "Edited"))
    serial, spread = both_ways(project, "news", [ANN, {**ANN, "id": "bo", "first_name": None}, ANN])
    assert spread == serial
    assert [o[3]["text"].splitlines()[0] for o in serial] == ["Hi Ann", "Hi there", "Hi Ann"]


CALIBRATED = """\
metrics:
  orders_365d: {count: orders, within: 365d}
  spend_365d: {sum: orders.total, within: 365d}
  days_since_order: {days_since: orders.at}
rfm: {recency: days_since_order, frequency: orders_365d, monetary: spend_365d, cut_points: rfm.yaml}
"""
CUTS = "recency: [10, 20, 30, 40]\nfrequency: [1, 2, 3, 4]\nmonetary: [10, 20, 30, 40]\n"


@only_forked
def test_forked_workers_score_with_the_cut_points_loaded_as_without(tmp_path: Path) -> None:
    hero = module("description: fallback", "<mj-text>RFM {{ rfm }}</mj-text>")
    extra = {"rfm.yaml": CUTS}
    root = make_project(tmp_path, segments=CALIBRATED, modules={"hero/default": hero}, extra=extra)
    project = Project.load(root)
    now = project.now()
    audience = [
        {**ANN, "id": f"a{n}", "orders": [{"at": str(now - timedelta(days=n)), "total": n * 100}]}
        for n in range(1, 30)
    ]
    (root / "audience.jsonl").write_text("".join(json.dumps(r) + "\n" for r in audience))
    record = audience[4]
    before = project.render("news", record).text
    project.calibrate("audience.jsonl")  # rewrites rfm.yaml; the project keeps its cut points
    assert (before, Project.load(root).render("news", record).text) == ("RFM 515\n", "RFM 511\n")
    serial, spread = both_ways(project, "news", [record, record, record])
    assert spread == serial
    assert all(o[3]["text"] == before for o in serial)


def test_spawned_workers_report_a_changed_project_to_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path)
    project = Project.load(root)
    (root / "segments.yaml").write_text(SEGMENTS + "  silver: {when: {tier: Silver}}\n")
    monkeypatch.setattr(parallel, "start_context", lambda: multiprocessing.get_context("spawn"))
    with pytest.raises(ConfigError) as caught:
        list(project.render_many("news", [ANN, ANN], workers=2, chunk_size=1))
    assert str(caught.value) == (
        "project files changed since the Project was loaded: segments.yaml (changed)" + HINT
    )


CTRL_C = """
import itertools, os, signal, sys, threading
from personalize import Project

signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal

def ctrl_c():
    os.killpg(os.getpgid(0), signal.SIGINT)  # what Ctrl-C does: the whole process group

if __name__ == "__main__":
    project = Project.load(sys.argv[1])
    personas = [dict(p.data) for p in project.personas.values()]
    # Interrupt while the caller handles an outcome, or (after a delay) wherever it is.
    for trial, when in enumerate([1, 120, 0.2, 0.5]):
        records = ({**personas[n % 14], "id": f"r{n}"} for n in itertools.count())
        timer = threading.Timer(when, ctrl_c) if isinstance(when, float) else None
        try:
            for n, _ in enumerate(project.render_many("weekly", records, workers=2, chunk_size=40)):
                if n == 0 and timer:
                    timer.start()  # once the workers are forked: never fork with a thread
                elif n == when:
                    ctrl_c()
        except KeyboardInterrupt:
            print("interrupted", trial, flush=True)
        if timer:
            timer.join()
"""


def test_ctrl_c_stops_a_run_with_workers_promptly_and_quietly(tmp_path: Path) -> None:
    # Ctrl-C reaches the workers too: one interrupted while sending a result used to leave the
    # caller waiting forever. Now workers ignore it and the caller stops the pool.
    (tmp_path / "ctrl_c.py").write_text(CTRL_C)
    run = subprocess.Popen(
        [sys.executable, str(tmp_path / "ctrl_c.py"), str(ROOT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert (out, err, run.returncode) == ("".join(f"interrupted {t}\n" for t in range(4)), "", 0)


def test_a_worker_killed_while_idle_names_the_first_record_without_an_outcome(
    showing: Project,
) -> None:
    records = [{**ANN, "id": f"r{n}"} for n in range(6)]
    outcomes = showing.render_many("news", records, workers=2, chunk_size=1)
    assert [(o.index, o.ok) for o in islice(outcomes, 2)] == [(0, True), (1, True)]
    os.kill(multiprocessing.active_children()[0].pid, signal.SIGKILL)
    time.sleep(0.5)  # the pool notices, and refuses the next parts
    with pytest.raises(RenderError) as caught:
        next(outcomes)
    assert str(caught.value).startswith(
        "a worker process ended abruptly (killed, or out of memory?): the records from index 2 on "
        "have no outcome — every record before index 2 has its outcome;"
    )


UNGUARDED = """
import multiprocessing, sys
from personalize import PersonalizeError, Project

multiprocessing.set_start_method("spawn")
project = Project.load(sys.argv[1])
try:
    for outcome in project.render_many("weekly", list(project.personas.values()), workers=2):
        pass
except PersonalizeError as exc:
    print(exc, flush=True)
"""


def test_an_unguarded_script_with_spawned_workers_is_told_to_guard_its_work(
    tmp_path: Path,
) -> None:
    # Each spawned worker imports the script again and dies starting workers of its own;
    # "killed, or out of memory?" sent users looking for the wrong cause.
    (tmp_path / "unguarded.py").write_text(UNGUARDED)
    run = subprocess.run(
        [sys.executable, str(tmp_path / "unguarded.py"), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.stdout == (
        "no worker process started: each one ended while importing the main script again, as "
        "the 'spawn' start method does — the script starts its work when imported — put the "
        'script\'s work under `if __name__ == "__main__":`, or pass workers=1\n'
    )
