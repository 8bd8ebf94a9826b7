"""Sums of floats that do not depend on their order: exact, then rounded once.

A sum over customers is split over shards by the Spark engine and added in another order
than the local engine adds it; floating-point addition is not associative, so the last
digit could differ. Here each part's sum is *exact* (a :class:`~fractions.Fraction`: every
float is an integer times a power of two), parts add exactly, and the total is rounded to
the nearest float once (:func:`to_float`) — the same float for any split and any order, and
the correctly rounded sum (what :func:`math.fsum` gives).

>>> import math
>>> import numpy as np
>>> values = np.array([0.1, 0.2, 0.3, 1e16, -1e16])
>>> to_float(exact_sum(values)) == to_float(exact_sum(values[:2]) + exact_sum(values[2:][::-1]))
True
>>> to_float(exact_sum(values)) == math.fsum(values)
True
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TypeVar

import numpy as np

Amount = TypeVar("Amount", float, np.ndarray)

_HALF = 26  # a 53-bit mantissa as two halves, whose sums stay exact in float64
_CHUNK = 1 << 25  # values per bincount: a sum of halves stays below 2^53


def cents(amount: Amount) -> Amount:
    """Money to the cent, a zero without a sign: amounts that cancel add up, in binary floats,
    to a speck either side of 0 (0.3 − 0.1 − 0.2 = −2.8e−17), which would round to −0.0 and
    print as ``-0.00``.

    >>> float(cents(0.3 - 0.1 - 0.2)), cents(np.array([-0.004, 1.005, -2.5])).tolist()
    (0.0, [0.0, 1.0, -2.5])
    """
    return np.round(amount, 2) + 0.0


def exact_sum(values: np.ndarray) -> Fraction:
    """The exact sum of finite ``values`` (NaN and infinities are not summed: callers test
    for them first). Vectorised: one ``frexp`` and one ``bincount`` per exponent group."""
    v = np.asarray(values, dtype=np.float64)
    v = v[(v != 0) & np.isfinite(v)]
    if len(v) == 0:
        return Fraction(0)
    mantissa, exponent = np.frexp(v)
    whole = (mantissa * float(1 << 53)).astype(np.int64)  # exact: 53 bits
    power = exponent.astype(np.int64) - 53
    low_power = int(power.min())
    groups = power - low_power
    total = 0
    for start in range(0, len(whole), _CHUNK):
        part, group = whole[start:start + _CHUNK], groups[start:start + _CHUNK]
        high = np.bincount(group, weights=(part >> _HALF).astype(np.float64))
        low = np.bincount(group, weights=(part & ((1 << _HALF) - 1)).astype(np.float64))
        for shift in np.flatnonzero((high != 0) | (low != 0)):
            total += ((int(high[shift]) << _HALF) + int(low[shift])) << int(shift)
    return Fraction(total) * Fraction(2) ** low_power


def to_float(total: Fraction) -> float:
    """The float nearest to ``total`` (``0.0``, never ``-0.0``)."""
    return float(total) + 0.0


def as_text(total: Fraction) -> str:
    """``total`` as text that :func:`from_text` reads back exactly (a shard's partial in JSON).

    >>> from_text(as_text(Fraction(3, 8)))
    Fraction(3, 8)
    """
    return f"{total.numerator}/{total.denominator}"


def from_text(text: str) -> Fraction:
    return Fraction(text)



class GroupSums:
    """Exact sums of floats per integer group, additive: entries (``group``, ``power``,
    ``high``, ``low``), group g's sum being Σ (high · 2²⁶ + low) · 2^power over its entries
    (int64 halves of each float's 53-bit integer mantissa, added per group and exponent).
    Two shards' sums add by :meth:`add` (concatenate, add per group and exponent again);
    :meth:`totals` rounds each group's exact sum to a float once — the same float for any
    split of the values, and the correctly rounded one (what :func:`math.fsum` gives).

    >>> values, groups = np.array([0.1, 0.2, 0.3, 1e16, -1e16]), np.array([0, 0, 1, 1, 1])
    >>> whole = GroupSums.of(values, groups)
    >>> split = GroupSums.add([GroupSums.of(values[3:], groups[3:]), GroupSums.of(values[:3], groups[:3])])
    >>> whole.totals(2).tolist() == split.totals(2).tolist() == [math.fsum([0.1, 0.2]), 0.3]
    True
    """

    __slots__ = ("group", "high", "low", "power")

    def __init__(self, group: np.ndarray, power: np.ndarray, high: np.ndarray, low: np.ndarray) -> None:
        self.group, self.power, self.high, self.low = group, power, high, low

    @classmethod
    def of(cls, values: np.ndarray, groups: np.ndarray) -> GroupSums:
        """The sums of finite ``values`` per ``groups`` (int64 labels, any range)."""
        v = np.asarray(values, dtype=np.float64)
        keep = (v != 0) & np.isfinite(v)
        mantissa, exponent = np.frexp(v[keep])
        whole = (mantissa * float(1 << 53)).astype(np.int64)  # exact: 53 bits
        found = cls(np.asarray(groups, dtype=np.int64)[keep], exponent.astype(np.int64) - 53, whole >> _HALF,
                    whole & ((1 << _HALF) - 1))
        return found._counted() or found._reduced()

    def _counted(self) -> GroupSums | None:
        """:meth:`_reduced` of single values by ``bincount`` over (group, power) bins, when
        there are not many more bins than values (else ``None``): float sums of halves are
        exact in chunks of :data:`_CHUNK` values (below 2⁵³)."""
        if len(self.group) == 0:
            return None
        low_group, low_power = int(self.group.min()), int(self.power.min())
        spread = int(self.power.max()) - low_power + 1
        bins = (int(self.group.max()) - low_group + 1) * spread
        if bins > 2 * len(self.group) + (1 << 16):
            return None
        key = (self.group - low_group) * spread + (self.power - low_power)
        high, low = np.zeros(bins, dtype=np.int64), np.zeros(bins, dtype=np.int64)
        for start in range(0, len(key), _CHUNK):
            part = slice(start, start + _CHUNK)
            high += np.bincount(key[part], weights=self.high[part].astype(np.float64), minlength=bins).astype(np.int64)
            low += np.bincount(key[part], weights=self.low[part].astype(np.float64), minlength=bins).astype(np.int64)
        at = np.flatnonzero((high != 0) | (low != 0))
        return GroupSums(at // spread + low_group, at % spread + low_power, high[at], low[at])

    @classmethod
    def add(cls, parts: list[GroupSums]) -> GroupSums:
        """The sums of every part, per group."""
        joined = [np.concatenate([getattr(p, name) for p in parts] or [np.zeros(0, dtype=np.int64)])
                  for name in ("group", "power", "high", "low")]
        return cls(*joined)._reduced()

    def _reduced(self) -> GroupSums:
        """One entry per (group, power): int64 sums (|high| < 2²⁷ per value: exact below 2³⁶ values)."""
        order = np.lexsort((self.power, self.group))
        group, power = self.group[order], self.power[order]
        starts = np.flatnonzero(np.concatenate(([True], (group[1:] != group[:-1]) | (power[1:] != power[:-1]))))
        if len(order) == 0:
            return GroupSums(group, power, self.high[order], self.low[order])
        return GroupSums(group[starts], power[starts], np.add.reduceat(self.high[order], starts),
                         np.add.reduceat(self.low[order], starts))

    def totals(self, size: int) -> np.ndarray:
        """Per group 0 … ``size`` − 1, its sum rounded to the nearest float (0.0 without values)."""
        return self.at(np.arange(size, dtype=np.int64))

    def at(self, groups: np.ndarray) -> np.ndarray:
        """The rounded sums of ``groups`` (sorted, distinct labels), 0.0 for a group without values."""
        out = np.zeros(len(groups), dtype=np.float64)
        labels, totals, low_power = self._integer_totals()
        where = np.searchsorted(groups, labels)
        found = (where < len(groups)) & (groups[np.minimum(where, len(groups) - 1)] == labels)
        out[where[found]] = [_rounded(int(t), low_power) for t in totals[found]]
        return out

    def exact(self) -> dict[int, Fraction]:
        """Each group's exact sum, for the groups with entries (a group without is 0)."""
        labels, totals, low_power = self._integer_totals()
        scale = Fraction(2) ** low_power
        return {int(g): Fraction(int(t)) * scale for g, t in zip(labels, totals, strict=True)}

    def _integer_totals(self) -> tuple[np.ndarray, np.ndarray, int]:
        """The groups with entries (ascending), each one's sum as a Python integer (object
        array: entries added per group without rounding) and the power of 2 they count in."""
        if len(self.group) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object), 0
        order = np.argsort(self.group, kind="stable")
        group, power = self.group[order], self.power[order]
        low_power = int(power.min())
        whole = (self.high[order].astype(object) << _HALF) + self.low[order].astype(object)
        whole = whole << (power - low_power).astype(object)
        starts = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
        return group[starts], np.add.reduceat(whole, starts), low_power

    def as_lists(self) -> list[list[int]]:
        """JSON-ready (integers only: exact)."""
        return [self.group.tolist(), self.power.tolist(), self.high.tolist(), self.low.tolist()]

    @classmethod
    def from_lists(cls, lists: list[list[int]]) -> GroupSums:
        return cls(*(np.array(values, dtype=np.int64) for values in lists))


def _rounded(total: int, power: int) -> float:
    """``total`` · 2^power rounded to the nearest float: the integer rounded (Python rounds
    to nearest, ties to even), then scaled exactly — unless the result is near the ends of
    the float range (subnormal or beyond), where the fraction is rounded instead.

    >>> _rounded((1 << 60) + 1, -60), _rounded(3, -1075) == float(Fraction(3, 2 ** 1075))
    (1.0, True)
    """
    bits = abs(total).bit_length()
    if bits < 1000 and power + bits > -1000:
        return math.ldexp(float(total), power) + 0.0
    return to_float(Fraction(total) * Fraction(2) ** power)


def exact_sums_by(values: np.ndarray, groups: np.ndarray) -> dict[int, Fraction]:
    """The exact sum of the finite ``values`` of each group (``groups``: an integer per
    value): what :func:`exact_sum` gives for each group's values, for all the groups at once
    (:class:`GroupSums`); a group whose values are all zero or not finite may be left out.

    >>> exact_sums_by(np.array([0.5, 0.25, 1e16, 3.0, -1e16, np.nan]), np.array([2, 2, 0, 0, 0, 1]))
    {0: Fraction(3, 1), 2: Fraction(3, 4)}
    """
    return GroupSums.of(values, groups).exact()
