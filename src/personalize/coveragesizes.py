"""The sizes of the emails a coverage run rendered: a fixed-size histogram and its summary."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

__all__ = ["SizeHistogram", "SizeStats"]


@dataclass(frozen=True)
class SizeStats:
    """The distribution of rendered HTML sizes, in UTF-8 bytes (0 everywhere when none).

    Quantiles are exact below 2,048 bytes and rounded down by at most 0.1 % above; ``min``
    and ``max`` are exact.
    """

    count: int
    min: int
    p50: int
    p90: int
    p99: int
    max: int
    over_clip: int
    clip_bytes: int


class SizeHistogram:
    """Counts of sizes in buckets of 0.1 % width: a fixed footprint for any number of emails."""

    _BITS = 11  # significant bits kept: buckets are 1/1024 of their size wide

    def __init__(self) -> None:
        self._buckets: Counter[int] = Counter()
        self.count = self.over = self.low = self.high = 0

    def add(self, size: int, *, clip: int) -> None:
        """Count one email of ``size`` bytes (over the clipping budget ``clip`` or not)."""
        shift = max(size.bit_length() - self._BITS, 0)
        self._buckets[(size >> shift) << shift] += 1
        self.low = size if self.count == 0 else min(self.low, size)
        self.high = max(self.high, size)
        self.count += 1
        self.over += size > clip

    def quantile(self, q: float) -> int:
        """The nearest-rank ``q`` quantile (0 < q ≤ 1), within the bucket resolution."""
        if not self.count:
            return 0
        rank = max(math.ceil(q * self.count), 1)
        seen = 0
        for size in sorted(self._buckets):
            seen += self._buckets[size]
            if seen >= rank:
                return min(max(size, self.low), self.high)
        return self.high

    def stats(self, *, clip: int) -> SizeStats:
        """The summary: count, min, p50, p90, p99, max and how many exceed ``clip``."""
        p50, p90, p99 = (self.quantile(q) for q in (0.5, 0.9, 0.99))
        return SizeStats(self.count, self.low, p50, p90, p99, self.high, self.over, clip)
