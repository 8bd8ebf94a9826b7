"""Transactions → the per-customer (frequency, recency, T, monetary value) summary (SPEC §6).

The models count purchase **days**: several orders of one customer on one day are one
purchase. frequency = distinct purchase days − 1; recency = days from the first to the last
purchase day; T = days from the first purchase day to ``end``; both divided by
``time_unit_days``. The monetary value is the mean net value of the repeat purchase days
(every day after the first); a refund counts on the latest purchase day on or before it.
Without an amount column (SPEC §1: neither amount nor quantity × unit price) the monetary
value is NaN for everyone: the purchase model needs only the days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from retainkit import defaults
from retainkit.reductions import distinct

_SPREAD = np.int64(1 << 32)  # customer code × spread + (day number + offset): one sortable key
_OFFSET = np.int64(1 << 31)  # day numbers are signed (before 1970 < 0); the key's day part is not


@dataclass(frozen=True)
class Summary:
    """One row per customer with a purchase up to ``end_day`` (day numbers).

    ``frame`` columns: ``customer_id``, ``frequency``, ``recency``, ``T`` (in time units),
    ``monetary_value`` (NaN when frequency is 0), ``first_purchase_day``.
    ``unplaced_refunds``: refunds dated before the customer's first purchase (left out).
    ``has_amounts``: False when the orders had no ``amount`` column (monetary value all NaN).
    """

    frame: pd.DataFrame
    end_day: int
    time_unit_days: float
    unplaced_refunds: int
    has_amounts: bool = True


def _key(customer: np.ndarray, day: np.ndarray) -> np.ndarray:
    """One int64 per (customer code, day number), sorting by customer then day."""
    return customer * _SPREAD + (day + _OFFSET)


def _unkey(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(customer code, day number) back from :func:`_key`."""
    return keys // _SPREAD, keys % _SPREAD - _OFFSET


def _day_sums(keys: np.ndarray, amount: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct keys and the sum of ``amount`` over each, added in row order: one
    sort, instead of a binary search per order line for its key.

    >>> [v.tolist() for v in _day_sums(np.array([5, 1, 5]), np.array([1.0, 2.0, 3.0]))]
    [[1, 5], [2.0, 4.0]]
    """
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    if len(ordered) == 0:
        return ordered, np.zeros(0)
    first = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    which = np.empty(len(keys), dtype=np.int64)
    which[order] = np.cumsum(first) - 1  # each line's key among the distinct ones
    return ordered[first], np.bincount(which, weights=amount, minlength=int(first.sum()))


def summarise(orders: pd.DataFrame, *, end_day: int, time_unit_days: float = defaults.TIME_UNIT_DAYS) -> Summary:
    """The summary of every customer with a purchase day on or before ``end_day``.

    >>> days = ["2024-01-01", "2024-01-01", "2024-01-15", "2024-01-08"]
    >>> frame = pd.DataFrame({
    ...     "customer_id": pd.Categorical(["a", "a", "a", "b"]),
    ...     "order_date": pd.to_datetime(days).astype("datetime64[s]"),
    ...     "amount": [10.0, 5.0, 30.0, 20.0], "is_refund": [False] * 4})
    >>> s = summarise(frame, end_day=19744, time_unit_days=7)  # 2024-01-22
    >>> s.frame[["customer_id", "frequency", "recency", "T", "monetary_value"]].values.tolist()
    [['a', 1, 2.0, 3.0, 30.0], ['b', 0, 0.0, 2.0, nan]]
    """
    customer = orders["customer_id"].cat.codes.to_numpy().astype(np.int64)
    day = orders["order_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    refund = orders["is_refund"].to_numpy()
    has_amounts = "amount" in orders
    amount = orders["amount"].to_numpy() if has_amounts else np.zeros(len(day))
    upto = day <= end_day
    buys = ~refund & upto

    keys, value = _day_sums(_key(customer[buys], day[buys]), amount[buys])  # purchase days by customer, day
    owner, when = _unkey(keys)
    refunds = refund & upto
    at = np.searchsorted(keys, _key(customer[refunds], day[refunds]), side="right") - 1
    placed = (at >= 0) & (owner[np.maximum(at, 0)] == customer[refunds])
    value += np.bincount(at[placed], weights=amount[refunds][placed], minlength=len(keys))

    starts = np.flatnonzero(np.concatenate(([True], owner[1:] != owner[:-1]))) if len(keys) else np.zeros(0, int)
    days_per_customer = np.diff(np.append(starts, len(keys)))
    first_day = when[starts]
    last_day = when[np.append(starts[1:], len(keys)) - 1] if len(keys) else np.zeros(0, int)
    frequency = days_per_customer - 1
    repeat_value = np.add.reduceat(value, starts) - value[starts] if len(keys) else np.zeros(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where((frequency > 0) & has_amounts, repeat_value / np.maximum(frequency, 1), np.nan)
    names = orders["customer_id"].cat.categories.to_numpy(dtype=object)
    frame = pd.DataFrame(
        {
            "customer_id": names[owner[starts]] if len(keys) else np.zeros(0, dtype=object),
            "frequency": frequency,
            "recency": (last_day - first_day) / time_unit_days,
            "T": (end_day - first_day) / time_unit_days,
            "monetary_value": monetary,
            "first_purchase_day": first_day,
        }
    )
    return Summary(frame, end_day, time_unit_days, int((~placed).sum()), has_amounts)


def purchase_days_between(orders: pd.DataFrame, customer_ids: pd.Series, *, after_day: int, end_day: int) -> np.ndarray:
    """Distinct purchase days in ``(after_day, end_day]`` of each customer of ``customer_ids``."""
    customer = orders["customer_id"].cat.codes.to_numpy().astype(np.int64)
    day = orders["order_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    window = ~orders["is_refund"].to_numpy() & (day > after_day) & (day <= end_day)
    keys, _ = distinct(_key(customer[window], day[window]))
    counts = np.bincount(_unkey(keys)[0], minlength=len(orders["customer_id"].cat.categories))
    codes = orders["customer_id"].cat.categories.get_indexer(customer_ids)
    return counts[codes]


def purchase_days_by_week(orders: pd.DataFrame, customer_ids: pd.Series, *, after_day: int,
                          end_day: int) -> np.ndarray:
    """Distinct purchase days in ``(after_day, end_day]`` of the customers of ``customer_ids``,
    all together, per week of that window (days 1–7 after ``after_day`` are week 0)."""
    customer = orders["customer_id"].cat.codes.to_numpy().astype(np.int64)
    day = orders["order_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    codes = orders["customer_id"].cat.categories.get_indexer(customer_ids)
    member = np.zeros(len(orders["customer_id"].cat.categories), dtype=bool)
    member[codes[codes >= 0]] = True
    window = ~orders["is_refund"].to_numpy() & (day > after_day) & (day <= end_day) & member[customer]
    keys, _ = distinct(_key(customer[window], day[window]))
    weeks = -(-(end_day - after_day) // 7)
    return np.bincount((_unkey(keys)[1] - after_day - 1) // 7, minlength=weeks)
