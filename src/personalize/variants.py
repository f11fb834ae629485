"""The variant cache: compiled variants by key, and popular ones recompiled whole."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from .cache import LRUCache
from .compile import CompiledVariant, VariantKey, merge_variant
from .errors import PersonalizeError

__all__ = ["Variants"]


class Variants:
    """Compiled variants, the least recently used out first.

    A variant is built in pieces (a skeleton and module regions shared with other variants),
    which is quick; once it has rendered ``merge_after`` times (0: never) it is compiled
    whole, which takes 15–25 ms once and makes each later render faster (``merge_variant``).
    """

    def __init__(
        self, size: int, merge_after: int, build: Callable[[VariantKey], CompiledVariant]
    ) -> None:
        self._cache: LRUCache[VariantKey, CompiledVariant] = LRUCache(size)
        self._merge_after = merge_after
        self._build = build
        self._uses: dict[VariantKey, int] = {}  # renders of each variant still in pieces
        self.merged = 0

    def get(self, key: VariantKey) -> CompiledVariant:
        """The variant for ``key``, built on a miss.

        Raises:
            PersonalizeError: the build failed (see ``compile_variant``).
        """
        return self._cache.get(key, lambda: self._build(key))

    def for_render(self, key: VariantKey) -> CompiledVariant:
        """``get``, counting a render of a variant still in pieces (and compiling it whole at
        ``merge_after`` renders)."""
        variant = self.get(key)
        if variant.output is None or self._merge_after == 0:
            return variant
        uses = self._uses.get(key, 0) + 1
        if uses < self._merge_after:
            if len(self._uses) >= 4 * self._cache.maxsize:  # forget variants long evicted
                self._uses.clear()
            self._uses[key] = uses
            return variant
        self._uses.pop(key, None)
        try:
            merged = merge_variant(variant)
            self.merged += 1
        except PersonalizeError:  # it keeps rendering in pieces, as before; never try again
            merged = replace(variant, output=None)
        self._cache.put(key, merged)
        return merged

    def info(self) -> dict[str, int]:
        """Size, hits and misses, and how many variants were compiled whole (merged)."""
        cache = self._cache
        merged = self.merged
        return {"size": len(cache), "hits": cache.hits, "misses": cache.misses, "merged": merged}
