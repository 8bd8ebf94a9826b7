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

from fractions import Fraction

import numpy as np

_HALF = 26  # a 53-bit mantissa as two halves, whose sums stay exact in float64
_CHUNK = 1 << 25  # values per bincount: a sum of halves stays below 2^53


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



def exact_sums_by(values: np.ndarray, groups: np.ndarray) -> dict[int, Fraction]:
    """The exact sum of the finite ``values`` of each group (``groups``: a non-negative
    integer per value), for the groups that have one: what :func:`exact_sum` gives for each
    group's values, with one ``frexp`` and two ``bincount`` per chunk for all the groups.

    >>> exact_sums_by(np.array([0.5, 0.25, 1e16, 3.0, -1e16, np.nan]), np.array([2, 2, 0, 0, 0, 1]))
    {0: Fraction(3, 1), 2: Fraction(3, 4)}
    """
    v = np.asarray(values, dtype=np.float64)
    g = np.asarray(groups, dtype=np.int64)
    keep = (v != 0) & np.isfinite(v)
    v, g = v[keep], g[keep]
    if len(v) == 0:
        return {}
    mantissa, exponent = np.frexp(v)
    whole = (mantissa * float(1 << 53)).astype(np.int64)
    power = exponent.astype(np.int64) - 53
    low_power = int(power.min())
    span = int(power.max()) - low_power + 1
    cells, which = np.unique(g * span + (power - low_power), return_inverse=True)
    high = np.zeros(len(cells), dtype=np.int64)
    low = np.zeros(len(cells), dtype=np.int64)
    for start in range(0, len(whole), _CHUNK):  # each chunk's sums stay below 2^53: exact in float64
        part, cell = whole[start:start + _CHUNK], which[start:start + _CHUNK]
        high += np.bincount(cell, weights=(part >> _HALF).astype(np.float64), minlength=len(cells)).astype(np.int64)
        low += np.bincount(cell, weights=(part & ((1 << _HALF) - 1)).astype(np.float64),
                           minlength=len(cells)).astype(np.int64)
    totals: dict[int, int] = {}
    for code, h, lo in zip(cells.tolist(), high.tolist(), low.tolist(), strict=True):  # groups × exponents
        group, shift = divmod(code, span)
        totals[group] = totals.get(group, 0) + (((h << _HALF) + lo) << shift)
    scale = Fraction(2) ** low_power
    return {group: Fraction(total) * scale for group, total in sorted(totals.items())}
