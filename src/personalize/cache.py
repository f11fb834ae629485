"""A bounded, thread-safe LRU cache for compiled variants and fragments."""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["LRUCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
_MISSING = object()
_CACHES: weakref.WeakSet[LRUCache[Any, Any]] = weakref.WeakSet()


def _unlock_after_fork() -> None:
    # A forked child has only the forking thread: a lock another thread held at the fork stays
    # held forever, and the child's first cache lookup (a render_many worker's) waits on it.
    # The child's caches are its own copies, consistent between operations, so fresh locks do.
    for cache in list(_CACHES):
        cache._lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows, which cannot fork
    os.register_at_fork(after_in_child=_unlock_after_fork)


class LRUCache(Generic[K, V]):
    """Least-recently-used cache; a miss builds outside the lock, so builds never block hits."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        _CACHES.add(self)

    def get(self, key: K, build: Callable[[], V]) -> V:
        """The cached value for ``key``, or ``build()``'s, which is then kept."""
        with self._lock:
            found = self._items.get(key, _MISSING)  # one lookup on a hit, then one to reorder
            if found is not _MISSING:
                self._items.move_to_end(key)
                self.hits += 1
                return found  # type: ignore[return-value]
            self.misses += 1
        built = build()
        self.put(key, built)
        return built

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` for ``key`` (e.g. a better build of the same thing), as most recent."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
