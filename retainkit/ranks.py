"""Global ranks as cut points: RFM scores, the VIP cut, the top 20 % (SPEC §3, §5).

A rank over all customers is decided by a few *order statistics* — the value at a given
position of the sorted column — and then applied to each customer alone, by comparing with
those values. The local engine finds them with :func:`numpy.partition`
(:func:`order_statistics`); the Spark engine from counts of customers per distinct value
(:mod:`retainkit.spark.ranks`). Either way the same cuts apply through the same functions
here, with the tie rules of SPEC §5: equal values get equal scores, VIP ties at the cut go to
the lower customer id.

RFM: a score is ``1 + ⌊5·p⌋`` capped at 5 with ``p`` = (customers with a strictly worse
value) / n. With ``m_s = ⌈(s − 1)·n / 5⌉``, a customer scores at least ``s`` when at least
``m_s`` customers are strictly worse, that is when their value beats the ``m_s``-th worst.

>>> import numpy as np
>>> values = np.array([1, 1, 1, 2, 5])
>>> cuts = order_statistics(values, rfm_positions(len(values), higher_is_better=True))
>>> scores_from_cuts(values, cuts, higher_is_better=True).tolist()
[1, 1, 1, 4, 5]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np


def rfm_positions(n: int, *, higher_is_better: bool) -> list[int]:
    """Positions (0-based, ascending order) of the cut values of scores 2…5 among ``n``."""
    if n == 0:
        return []
    worse = [((s - 1) * n + 4) // 5 for s in range(2, 6)]  # m_s, integers: ⌈(s − 1)·n / 5⌉
    return [m - 1 for m in worse] if higher_is_better else [n - m for m in worse]


def order_statistics(values: np.ndarray, positions: Sequence[int]) -> list[Any]:
    """The values at ``positions`` of ``values`` sorted ascending (local: one partition)."""
    if not len(positions):
        return []
    part = np.partition(np.asarray(values), list(positions))
    return [part[p].item() for p in positions]


def scores_from_cuts(values: np.ndarray, cuts: Sequence[Any], *, higher_is_better: bool) -> np.ndarray:
    """1 + the number of cuts a value beats (strictly: equal values, equal scores)."""
    score = np.ones(len(values), dtype=np.int64)
    for cut in cuts:
        score += (values > cut) if higher_is_better else (values < cut)
    return score


@dataclass(frozen=True)
class VipCut:
    """Who is a VIP (SPEC §5): ``count`` = ⌈top · n⌉ of the ``n`` customers with positive
    revenue over the last 365 days; those above ``value`` are, and of those equal to it the
    ones with an id up to ``last_tied_id`` (None: none of them), ``room`` of them. ``everyone``: every customer
    with positive revenue is (the count reaches n)."""

    count: int
    value: float = 0.0
    last_tied_id: str | None = None
    everyone: bool = False
    room: int = 0  # how many of those equal to ``value`` are VIPs


def vip_count(positive: int, vip_top: float) -> int:
    """⌈vip_top · n⌉, exactly: ``vip_top`` read as the decimal it was written as."""
    return int(-(-Fraction(str(vip_top)) * positive // 1))


def vip_cut(revenue_365: np.ndarray, ids: np.ndarray | None, vip_top: float) -> VipCut:
    """The VIP cut of one process holding every customer; without ``ids`` the ties at the cut
    are left unbroken (only ``room``: how many of them are VIPs; see :func:`vip_from_cut`)."""
    revenue = np.nan_to_num(revenue_365)
    positive = revenue[revenue > 0]
    count = vip_count(len(positive), vip_top)
    if count <= 0 or count >= len(positive):
        return VipCut(count, everyone=count > 0)
    value = order_statistics(positive, [len(positive) - count])[0]
    room = count - int((positive > value).sum())
    if ids is None:
        return VipCut(count, value, room=room)
    tied = np.sort(ids[revenue == value].astype(str))
    return VipCut(count, value, str(tied[room - 1]) if room > 0 else None, room=room)


def vip_from_cut(revenue_365: np.ndarray, ids: np.ndarray | None, cut: VipCut) -> np.ndarray:
    """VIP flags of some customers, by a cut found over all of them. Without ``ids`` (a cut
    of every customer, found without them), the ties at the cut are taken in the order of
    the rows instead of by id: the same number of VIPs and, the tied having one revenue, the
    same revenue. That is for counts and sums over the VIPs, never to name them."""
    revenue = np.nan_to_num(revenue_365)
    if cut.count <= 0:
        return np.zeros(len(revenue), dtype=bool)
    if cut.everyone:
        return revenue > 0
    flags = revenue > cut.value
    if ids is None:
        flags[np.flatnonzero(revenue == cut.value)[:cut.room]] = True
    elif cut.last_tied_id is not None:
        flags |= (revenue == cut.value) & (ids.astype(str) <= cut.last_tied_id)
    return flags


@dataclass(frozen=True)
class RankCuts:
    """Every global rank of the customer table, as cut values: R (recency, lower is
    better), F (orders) and M (revenue; empty without amounts), and the VIP cut; over how
    many ``customers``."""

    recency: tuple[Any, ...]
    frequency: tuple[Any, ...]
    monetary: tuple[Any, ...]
    vip: VipCut
    customers: int = 0
