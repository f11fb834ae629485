"""render_many's batches: the collector paused per batch, and failed outcomes that keep no batch."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from personalize import ConfigError, Project, RenderedEmail, parallel
from personalize.parallel import gc_paused

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
        "got 'x' (and 1 more problem)",
        "recipient kept-vip-vera: unknown locale 'xx_XX' — use a locale Babel knows, such as "
        "'en_US' or 'de_DE'",
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
