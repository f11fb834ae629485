"""Experiments: variant modules grouped by name, checked, and deterministic arm assignment."""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .errors import RecipientError, short_repr
from .frontmatter import HOLDOUT

__all__ = [
    "HOLDOUT",
    "ArmMemo",
    "Assignment",
    "Experiment",
    "Variant",
    "bucket",
]

T = TypeVar("T")
RecipientId = str | int | float  # a record's number id becomes text: 42 is hashed as "42"
_BITS = 53  # a float holds 53 bits exactly, so the bucket as a fraction loses nothing
_SCALE = 2.0**-_BITS
_FIRST_8 = struct.Struct(">Q").unpack_from


def bucket(experiment: str, recipient: RecipientId) -> float:
    """The recipient's place in ``[0, 1)`` for an experiment: the same everywhere, always.

    The first 53 bits of ``sha256("<experiment>:<recipient id>")`` (UTF-8), as a fraction. The
    experiment name is the salt: another experiment splits the same audience independently.
    Nothing depends on the process, machine or ``PYTHONHASHSEED``, so a data warehouse can
    recompute it. A number id is hashed as its text, as records' ids are (42 as ``"42"``).

    Raises:
        RecipientError: the id is neither text nor a number.
    """
    return _place(_salt(experiment), recipient) * _SCALE


def _salt(experiment: str) -> Any:
    return hashlib.sha256(f"{experiment}:".encode("utf-8", "surrogatepass"))


def _place(salt: Any, recipient: RecipientId) -> int:
    """The bucket as a whole number in ``[0, 2**53)``: the salted hash's first 53 bits."""
    text = recipient if isinstance(recipient, str) else _id_text(recipient)
    digest = salt.copy()  # the salt is hashed once per experiment, not once per recipient
    digest.update(text.encode("utf-8", "surrogatepass"))
    return int(_FIRST_8(digest.digest())[0] >> (64 - _BITS))


def _id_text(recipient: object) -> str:
    if isinstance(recipient, int | float) and not isinstance(recipient, bool):
        try:  # as records' ids: str(), which refuses an int of more than 4,300 digits
            return str(recipient)
        except ValueError:
            pass
    raise RecipientError(
        f"expected text or a number, got {short_repr(recipient)}",
        path="id",
        hint="pass the recipient's id as its record holds it, e.g. 'r-17' or 42",
    )


@dataclass(frozen=True)
class Variant:
    """One arm of an experiment: its name, relative weight and modules (one per locale set)."""

    name: str
    weight: float
    modules: tuple[str, ...]


@dataclass(frozen=True)
class Assignment:
    """A recipient's arm in one experiment: a variant name or ``"holdout"``, and the bucket."""

    experiment: str
    variant: str
    bucket: float

    @property
    def held_out(self) -> bool:
        """Whether the recipient is in the holdout (gets the slot's next choice)."""
        return self.variant == HOLDOUT

    def __str__(self) -> str:
        arm = HOLDOUT if self.held_out else f"variant {self.variant}"
        return f"experiment {self.experiment}: {arm}"


@dataclass(frozen=True)
class Experiment:
    """Modules of one slot that share an ``experiment`` name, and how recipients split.

    ``[0, holdout)`` of the buckets is the holdout; the rest is cut in proportion to the
    variants' weights, in variant-name order. Changing a weight, the holdout or the set of
    variants moves recipients between arms; renaming the experiment reshuffles everyone.
    """

    name: str
    slot: str
    holdout: float
    variants: tuple[Variant, ...]
    file: str
    line: int | None = None
    _bounds: tuple[tuple[int, str], ...] = field(init=False, repr=False, compare=False)
    _salt: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        total = sum(v.weight for v in self.variants)
        cuts: list[tuple[float, str]] = [(self.holdout, HOLDOUT)] if self.holdout else []
        start, running = self.holdout, 0.0
        for variant in self.variants:
            running += variant.weight
            cuts.append((start + (1.0 - start) * running / total, variant.name))
        # As whole numbers: place * 2**-53 < cut exactly when place < ceil(cut * 2**53).
        bounds = [(math.ceil(cut * 2**_BITS), name) for cut, name in cuts]
        bounds[-1] = (2**_BITS, bounds[-1][1])  # float sums may fall short of 1: close the range
        object.__setattr__(self, "_bounds", tuple(bounds))
        object.__setattr__(self, "_salt", _salt(self.name))

    def __reduce__(self) -> tuple[Any, ...]:
        # The salted hash object does not pickle; a copy builds its own.
        fields = (self.name, self.slot, self.holdout, self.variants, self.file, self.line)
        return Experiment, fields

    @property
    def shares(self) -> dict[str, float]:
        """Each arm's expected share of recipients: ``{"holdout": 0.1, "a": 0.45, "b": 0.45}``."""
        total = sum(v.weight for v in self.variants)
        out = {HOLDOUT: self.holdout} if self.holdout else {}
        out.update({v.name: (1 - self.holdout) * v.weight / total for v in self.variants})
        return out

    def variant_of(self, recipient: RecipientId) -> str:
        """The recipient's arm: a variant name, or ``"holdout"`` (a number id as in ``bucket``)."""
        return self._arm(_place(self._salt, recipient))

    def assign(self, recipient: RecipientId) -> Assignment:
        """The recipient's arm with its bucket; stable across runs, processes and machines.

        Raises:
            RecipientError: the id is neither text nor a number (see ``bucket``).
        """
        place = _place(self._salt, recipient)
        return Assignment(self.name, self._arm(place), place * _SCALE)

    def _arm(self, place: int) -> str:
        for bound, name in self._bounds:
            if place < bound:
                return name
        raise AssertionError("unreachable: the last bound is 2**53")  # pragma: no cover


class ArmMemo(Generic[T]):
    """Values memoized by the arms a decision looked up, walked in the order it asked them.

    A decision that reached experiments depends on the recipient only through their arms, and
    asks for them one at a time: which experiment comes next can depend on the arm before (a
    holdout falls through to a later experiment). So the memo is a small tree: each branch
    names an experiment and forks on its arm; a leaf is the value. A lookup costs one hash per
    experiment on the path.
    """

    __slots__ = ("_experiments", "_root")

    def __init__(self, experiments: Mapping[str, Experiment]) -> None:
        self._experiments = experiments
        self._root: _Branch[T] | _Leaf[T] | None = None

    def get(self, recipient: str) -> T | None:
        """The value memoized for this recipient's arms, or ``None`` when not seen yet."""
        node = self._root
        while isinstance(node, _Branch):
            node = node.arms.get(node.experiment.variant_of(recipient))
        return None if node is None else node.value

    def put(self, asked: Sequence[Assignment], value: T) -> None:
        """Remember ``value`` for the arms ``asked``, in the order the decision asked them."""
        if not asked:
            self._root = _Leaf(value)
            return
        if self._root is None:
            self._root = _Branch(self._experiments[asked[0].experiment])
        node = self._root
        for index, arm in enumerate(asked):
            if not isinstance(node, _Branch) or node.experiment.name != arm.experiment:
                return  # same inputs always ask alike, so never; if so, just do not memoize
            if index == len(asked) - 1:
                node.arms[arm.variant] = _Leaf(value)
                return
            child = node.arms.get(arm.variant)
            if child is None:
                following = self._experiments[asked[index + 1].experiment]
                child = node.arms[arm.variant] = _Branch(following)
            node = child


@dataclass
class _Branch(Generic[T]):
    experiment: Experiment
    arms: dict[str, _Branch[T] | _Leaf[T]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Leaf(Generic[T]):
    value: T
