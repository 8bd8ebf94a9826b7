"""Over-time reductions (SPEC §4) as additive parts of customer shards.

A *shard* is the canonical orders of some customers, every row of each (as in
:mod:`retainkit.kernel`). Everything the trend and the cohort matrix count is per customer
and then added over customers, so each shard gives a *part* and parts add:

- :func:`period_parts` → :class:`PeriodParts`: per calendar period (index − ``first``),
  customers active, orders, new customers (first order ever in it), repeat customers
  (≥ 2 orders in it), customers active in the period before (history included) and those
  of them active again — counts — and net revenue as exact sums
  (:class:`retainkit.exact.GroupSums`).
- :func:`cohort_parts` → :class:`CohortParts`: the periods with an order (whose union
  sizes the matrix, :func:`cohort_rows`), customers per cohort (the period of their first
  order), and per cell (cohort, k) the customers active, orders and exact net revenue.

:func:`combine_periods` and :func:`combine_cohorts` add parts into :class:`PeriodActivity`
and :class:`CohortActivity`, revenue rounded to a float once per cell: the same numbers
from one shard or from any split of the customers. The local engine is one shard
(:func:`period_activity`, :func:`cohort_activity`); the Spark engine is many
(:mod:`retainkit.spark.periods`).

>>> from datetime import date
>>> from retainkit.periods import Period
>>> orders = pd.DataFrame({
...     "customer_id": pd.Categorical(["a", "b", "a"]),
...     "order_date": pd.to_datetime(["2024-01-05", "2024-01-20", "2024-02-03"]).astype("datetime64[s]"),
...     "amount": [0.1, 0.2, 0.3], "is_refund": [False] * 3})
>>> period = Period(date(2024, 1, 1), date(2024, 2, 29))
>>> shards = [orders.iloc[[0, 2]], orders.iloc[[1]]]
>>> split = combine_periods([period_parts(s, period, "month") for s in shards], period, "month", has_amount=True)
>>> whole = period_activity(orders, period, "month")
>>> whole.customers.tolist(), whole.retained.tolist(), whole.revenue.tolist() == split.revenue.tolist()
([2, 1], [0, 1], True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from retainkit.calendar import index_of, period_index
from retainkit.exact import GroupSums
from retainkit.periods import Period
from retainkit.reductions import _events, contains, distinct

#: The counts of :class:`PeriodActivity` (arrays indexed by period − first).
PERIOD_COUNTS = ("customers", "orders", "new_customers", "repeat_customers", "previous_customers", "retained")
_NEVER = np.iinfo(np.int64).max


def bounds(period: Period, every: str) -> tuple[int, int]:
    """The indices of the calendar periods holding ``from`` and ``to``."""
    return index_of(period.start, every), index_of(period.end, every)


@dataclass(frozen=True)
class PeriodActivity:
    """Per calendar period ``first``…``last`` (arrays indexed by period − first).

    ``customers``, ``orders``, ``revenue`` (net), ``new_customers`` (first order ever in
    the period), ``repeat_customers`` (≥ 2 orders in it), ``previous_customers`` (active in
    the period before, history included) and ``retained`` (of those, active again).
    """

    first: int
    last: int
    customers: np.ndarray
    orders: np.ndarray
    revenue: np.ndarray
    new_customers: np.ndarray
    repeat_customers: np.ndarray
    previous_customers: np.ndarray
    retained: np.ndarray
    has_amount: bool


@dataclass(frozen=True)
class PeriodParts:
    """One shard's part of :class:`PeriodActivity`: ``counts`` (each of :data:`PERIOD_COUNTS`,
    indexed by period − first) and ``revenue``, exact sums per period − first (``None``
    without amounts)."""

    counts: dict[str, np.ndarray]
    revenue: GroupSums | None


@dataclass(frozen=True)
class _Shard:
    """A shard's events (:func:`retainkit.reductions._events`) against the calendar periods
    of ``period``: ``first``…``last`` their indices, ``n`` customer codes (at least 1, a
    factor of the pair keys), ``is_order`` the orders up to ``to``."""

    customer: np.ndarray
    day: np.ndarray
    amount: np.ndarray | None
    n: int
    first: int
    last: int
    is_order: np.ndarray


def _shard(orders: pd.DataFrame, period: Period, every: str) -> _Shard:
    e = _events(orders)
    first, last = bounds(period, every)
    return _Shard(e.customer, e.day, e.amount if e.has_amount else None, max(e.n, 1), first, last,
                  ~e.refund & (e.day <= period.end_day))


def period_parts(orders: pd.DataFrame, period: Period, every: str) -> PeriodParts:
    """One pass over a shard's orders, bucketed by calendar period (SPEC §4)."""
    s = _shard(orders, period, every)
    customer, day, n, first, is_order = s.customer, s.day, s.n, s.first, s.is_order
    size = s.last - first + 1
    slot = period_index(day, every) - first  # < 0: history before the first period
    in_range = (day <= period.end_day) & (day >= period.start_day)
    period_orders = is_order & in_range
    # (slot, customer) pairs: of orders in the period (its own counts) and of all orders
    # up to ``to`` (who was active in the period before, history included).
    pairs_in, counts_in = distinct(slot[period_orders] * n + customer[period_orders])
    pairs_all, _ = distinct(slot[is_order] * n + customer[is_order])
    slot_in, slot_all = np.floor_divide(pairs_in, n), np.floor_divide(pairs_all, n)

    def per_slot(slots: np.ndarray) -> np.ndarray:
        return np.bincount(slots[(slots >= 0) & (slots < size)], minlength=size).astype(np.int64)

    first_day = np.full(n, _NEVER)
    np.minimum.at(first_day, customer[is_order], day[is_order])
    new = (first_day >= period.start_day) & (first_day <= period.end_day)
    active_before = contains(pairs_all, pairs_in - n)  # (customer, slot − 1) among all orders
    counts = {
        "customers": per_slot(slot_in),
        "orders": per_slot(slot[period_orders]),
        "new_customers": per_slot(period_index(first_day[new], every) - first),
        "repeat_customers": per_slot(slot_in[counts_in >= 2]),
        "previous_customers": per_slot(slot_all + 1),
        "retained": per_slot(slot_in[active_before]),
    }
    return PeriodParts(counts, None if s.amount is None else GroupSums.of(s.amount[in_range], slot[in_range]))


def combine_periods(parts: Sequence[PeriodParts], period: Period, every: str, *, has_amount: bool
                    ) -> PeriodActivity:
    """The shards' parts added: counts added, revenue per period the exact sum rounded once."""
    first, last = bounds(period, every)
    size = last - first + 1
    counts = {name: np.zeros(size, dtype=np.int64) for name in PERIOD_COUNTS}
    for part in parts:
        for name in PERIOD_COUNTS:
            counts[name] += part.counts[name]
    sums = [p.revenue for p in parts if p.revenue is not None]
    revenue = GroupSums.add(sums).totals(size) if has_amount else np.full(size, np.nan)
    return PeriodActivity(first=first, last=last, revenue=revenue, has_amount=has_amount, **counts)


def period_activity(orders: pd.DataFrame, period: Period, every: str) -> PeriodActivity:
    """The local engine: every customer in one shard."""
    return combine_periods([period_parts(orders, period, every)], period, every, has_amount="amount" in orders)


@dataclass(frozen=True)
class CohortActivity:
    """Cohort × periods-since matrices (rows: cohort periods, ``cohorts`` their indices;
    columns: k = 0 … ``last`` − the first row).

    ``size`` customers per cohort; ``customers`` active, ``orders`` and net ``revenue`` of
    the cohort's customers in period cohort + k. Cells after ``to`` hold NaN. The rows are
    every period from the first with orders to ``to`` — or, when periods without any order
    would be most of them (a stray date years away, kept with ``--allow-dates``), only the
    periods with orders: sized by the data, never by the calendar span alone (SPEC §4).
    """

    cohorts: np.ndarray
    last: int
    size: np.ndarray
    customers: np.ndarray
    orders: np.ndarray
    revenue: np.ndarray
    has_amount: bool


@dataclass(frozen=True)
class CohortParts:
    """One shard's part of :class:`CohortActivity`. ``active``: the periods from ``from`` on
    with an order (sorted); ``cohort``, ``size``: its customers per cohort period; ``cell``:
    the cells (cohort − first) · (last − first + 1) + k with an event (sorted), and per cell
    ``customers`` active and ``orders``; ``revenue``: exact sums per cell (``None`` without
    amounts)."""

    active: np.ndarray
    cohort: np.ndarray
    size: np.ndarray
    cell: np.ndarray
    customers: np.ndarray
    orders: np.ndarray
    revenue: GroupSums | None


#: Rows for periods without orders are kept while they are at most this many times those
#: with orders, or while there are at most :data:`ALWAYS_WHOLE` periods in all.
EMPTY_ROWS_PER_ACTIVE = 10
ALWAYS_WHOLE = 1000


def cohort_rows(active: np.ndarray, last: int, first: int | None = None) -> np.ndarray:
    """Row periods of a cohort matrix or trend: every period from ``first`` (default: the
    first active one) to ``last``, unless those without orders would outnumber the active
    ones tenfold (then: the active ones only).

    >>> cohort_rows(np.array([3, 5]), 6).tolist(), cohort_rows(np.array([3, 5000]), 5000).tolist()
    ([3, 4, 5, 6], [3, 5000])
    """
    if len(active) == 0:
        return active
    start = int(active[0]) if first is None else first
    span = last - start + 1
    if span <= max(ALWAYS_WHOLE, EMPTY_ROWS_PER_ACTIVE * len(active)):
        return np.arange(start, last + 1, dtype=np.int64)
    return active


def cohort_parts(orders: pd.DataFrame, period: Period, every: str) -> CohortParts:
    """A customer's cohort is the period of their first order (SPEC §4); one pass over a
    shard's orders."""
    s = _shard(orders, period, every)
    customer, day, n, first, last, is_order = s.customer, s.day, s.n, s.first, s.last, s.is_order
    width = last - first + 1
    upto = day <= period.end_day
    absolute = period_index(day, every)

    cohort_of = np.full(n, _NEVER)
    np.minimum.at(cohort_of, customer[is_order], absolute[is_order])
    in_cohort = (cohort_of >= first) & (cohort_of <= last)
    start = np.where(in_cohort, cohort_of, first)[customer]
    k = absolute - start
    mine = upto & in_cohort[customer] & (k >= 0)
    key = (start - first) * width + k
    cell, at = _numbered(key[mine], key[mine & is_order])  # the cells with an event, numbered in the shard
    ordered = mine & is_order
    pairs = distinct(at * n + customer[ordered])[0]
    cohort, size = distinct(cohort_of[in_cohort])
    return CohortParts(
        active=distinct(absolute[is_order & (absolute >= first)])[0],
        cohort=cohort,
        size=size.astype(np.int64),
        cell=cell,
        customers=np.bincount(pairs // n, minlength=len(cell)).astype(np.int64),
        orders=np.bincount(at, minlength=len(cell)).astype(np.int64),
        revenue=None if s.amount is None else GroupSums.of(s.amount[mine], key[mine]),
    )


def _numbered(keys: np.ndarray, some: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``keys`` (sorted), and the place among them of each of ``some`` (keys
    too): by a table of every key when they span few more values than there are keys (a
    cumulative count, no sort), else by sorting.

    >>> [a.tolist() for a in _numbered(np.array([7, 3, 7, 5]), np.array([5, 7]))]
    [[3, 5, 7], [1, 2]]
    """
    if len(keys) and int(keys.max()) < 2 * len(keys) + (1 << 16):
        present = np.zeros(int(keys.max()) + 1, dtype=bool)
        present[keys] = True
        return np.flatnonzero(present), (np.cumsum(present) - 1)[some]
    distinct_keys = distinct(keys)[0]
    return distinct_keys, np.searchsorted(distinct_keys, some)


def combine_cohorts(parts: Sequence[CohortParts], period: Period, every: str, *, has_amount: bool
                    ) -> CohortActivity:
    """The shards' parts added into the matrices: rows from the union of the periods with an
    order (:func:`cohort_rows`), counts added per cell, revenue per cell the exact sum
    rounded once; cells after ``to`` NaN."""
    first, last = bounds(period, every)
    span = last - first + 1

    def joined(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts] or [np.zeros(0, dtype=np.int64)]).astype(np.int64)

    cohorts = cohort_rows(np.unique(joined("active")), last)
    rows, width = len(cohorts), (last - int(cohorts[0]) + 1) if len(cohorts) else 0
    keys, inverse = np.unique(joined("cell"), return_inverse=True)
    # a cell's cohort has an order, so it is one of the rows; k ≤ last − cohort < width
    flat = np.searchsorted(cohorts, first + keys // span) * width + keys % span

    def matrix(values: np.ndarray) -> np.ndarray:
        out = np.zeros(rows * width, dtype=np.float64)
        out[flat] = values
        return out.reshape(rows, width)

    customers_m = matrix(np.bincount(inverse, weights=joined("customers"), minlength=len(keys)))
    orders_m = matrix(np.bincount(inverse, weights=joined("orders"), minlength=len(keys)))
    sums = [p.revenue for p in parts if p.revenue is not None]
    revenue_m = matrix(GroupSums.add(sums).at(keys)) if has_amount else np.full((rows, width), np.nan)
    after_to = cohorts[:, None] + np.arange(width)[None, :] > last
    for m in (customers_m, orders_m, revenue_m):
        m[after_to] = np.nan
    size = np.zeros(rows, dtype=np.int64)
    np.add.at(size, np.searchsorted(cohorts, joined("cohort")), joined("size"))
    return CohortActivity(cohorts, last, size, customers_m, orders_m, revenue_m, has_amount)


def cohort_activity(orders: pd.DataFrame, period: Period, every: str) -> CohortActivity:
    """The local engine: every customer in one shard."""
    return combine_cohorts([cohort_parts(orders, period, every)], period, every, has_amount="amount" in orders)
