"""The variant cache: bounded, least recently used out first, and safe to fork."""

from __future__ import annotations

import os
import threading

import pytest

from personalize.cache import LRUCache


def test_the_cache_is_bounded() -> None:
    cache: LRUCache[str, str] = LRUCache(2)
    built: list[str] = []

    def build(name: str):  # type: ignore[no-untyped-def]
        def make():  # type: ignore[no-untyped-def]
            built.append(name)
            return name

        return make

    for key in ("a", "b", "a", "c", "b"):
        cache.get(key, build(key))  # type: ignore[arg-type]
    assert built == ["a", "b", "c", "b"]
    assert len(cache) == 2


def test_put_replaces_a_value_as_most_recent_and_stays_bounded() -> None:
    cache: LRUCache[str, str] = LRUCache(2)
    cache.get("a", lambda: "a1")
    cache.get("b", lambda: "b1")
    cache.put("a", "a2")  # now the most recent: "b" goes first
    assert cache.get("a", lambda: "never") == "a2"
    cache.put("c", "c1")
    assert len(cache) == 2
    assert cache.get("b", lambda: "b2") == "b2"  # evicted, built again
    assert cache.get("c", lambda: "never") == "c1"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork exists on POSIX only")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded")  # Python 3.12+ warns
def test_a_forked_child_can_use_a_cache_whose_lock_another_thread_held() -> None:
    # render_many(workers>1) forks: a worker started while another thread of the caller held
    # the lock waited on it forever (a child has only the forking thread, none to release it).
    cache: LRUCache[str, str] = LRUCache(2)
    cache.get("a", lambda: "a1")
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with cache._lock:
            held.set()
            release.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait()
    try:
        pid = os.fork()
        if pid == 0:  # the child: exit 0 only if the cache answers
            done = threading.Event()
            threading.Thread(
                target=lambda: (cache.get("a", lambda: "never"), done.set()), daemon=True
            ).start()
            os._exit(0 if done.wait(10) else 1)
        _, status = os.waitpid(pid, 0)
    finally:
        release.set()
        holder.join()
    assert os.waitstatus_to_exitcode(status) == 0
