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

