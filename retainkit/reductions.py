"""The passes over all orders: per-customer and per-customer-per-window reductions.

This is the only module that walks the canonical orders frame row by row (vectorised);
everything downstream — the KPIs of :mod:`retainkit.metrics` — reads the compact
per-customer frame it returns. Each reduction is one ``bincount`` or ``ufunc.at`` over
integer customer codes: no sort, no Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from retainkit.periods import Period, event_days

_NONE_LOW = np.iinfo(np.int64).max  # "no day" for a minimum
_NONE_HIGH = np.iinfo(np.int64).min  # "no day" for a maximum
ANNUAL_DAYS = 365


@dataclass(frozen=True)
class CustomerWindows:
    """One row per customer code in ``frame``; what the KPIs of SPEC §3 need, as of ``period.end``.

    Columns of ``frame`` (days are day numbers, NaN when there is none):

    - ``orders_in_period``, ``orders_to_date`` (orders up to ``to``)
    - ``revenue_in_period`` — net: orders and refunds dated in the period
    - ``first_order_day`` (ever, up to ``to``), ``first_order_referred``
    - ``first_in_period_day``, ``last_in_period_day``, ``last_before_period_day``
    - ``active_base``, ``active_current`` — an order in the base / current churn window
    - ``revenue_365``, ``active_365`` — net revenue and an order in ``(to − 365, to]``
    - ``last_order_day``, ``revenue_to_date`` (net, up to ``to``), ``last_refund_day``
    - ``referred_customers`` — other customers whose orders name this one as referrer
    """

    frame: pd.DataFrame
    period: Period
    has_amount: bool
    has_referrals: bool


def customer_windows(orders: pd.DataFrame, period: Period) -> CustomerWindows:
    """Reduce the canonical orders frame to one row per customer for ``period``."""
    customer = orders["customer_id"].cat.codes.to_numpy().astype(np.int64)
    n = len(orders["customer_id"].cat.categories)
    day = event_days(orders)
    refund = orders["is_refund"].to_numpy()
    has_amount = "amount" in orders
    amount = orders["amount"].to_numpy() if has_amount else np.zeros(len(day))

    up_to_end = day <= period.end_day
    is_order = ~refund & up_to_end
    in_period = up_to_end & (day >= period.start_day)
    window = period.churn_window_days
    in_current = is_order & (day > period.end_day - window)
    in_base = is_order & (day > period.end_day - 2 * window) & (day <= period.end_day - window)
    in_year = up_to_end & (day > period.end_day - ANNUAL_DAYS)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(customer[mask], minlength=n)

    def total(mask: np.ndarray) -> np.ndarray:
        sums = np.bincount(customer[mask], weights=amount[mask], minlength=n)
        return sums if has_amount else np.full(n, np.nan)

    def lowest(mask: np.ndarray) -> np.ndarray:
        out = np.full(n, _NONE_LOW, dtype=np.int64)
        np.minimum.at(out, customer[mask], day[mask])
        return np.where(out == _NONE_LOW, np.nan, out)

    def highest(mask: np.ndarray) -> np.ndarray:
        out = np.full(n, _NONE_HIGH, dtype=np.int64)
        np.maximum.at(out, customer[mask], day[mask])
        return np.where(out == _NONE_HIGH, np.nan, out)

    period_orders = is_order & in_period
    first_order_day = lowest(is_order)
    frame = pd.DataFrame(
        {
            "orders_in_period": count(period_orders),
            "orders_to_date": count(is_order),
            "revenue_in_period": total(in_period),
            "first_order_day": first_order_day,
            "first_order_referred": _first_order_referred(orders, customer, day, is_order, first_order_day, n),
            "first_in_period_day": lowest(period_orders),
            "last_in_period_day": highest(period_orders),
            "last_before_period_day": highest(is_order & (day < period.start_day)),
            "active_base": count(in_base) > 0,
            "active_current": count(in_current) > 0,
            "revenue_365": total(in_year),
            "active_365": count(in_year & is_order) > 0,
            "last_order_day": highest(is_order),
            "revenue_to_date": total(up_to_end),
            "last_refund_day": highest(refund & up_to_end),
            "referred_customers": _referred_customers(orders, customer, is_order, n),
        },
        index=orders["customer_id"].cat.categories,
    )
    return CustomerWindows(frame, period, has_amount, "referred_by" in orders)


def _first_order_referred(
    orders: pd.DataFrame,
    customer: np.ndarray,
    day: np.ndarray,
    is_order: np.ndarray,
    first_order_day: np.ndarray,
    n: int,
) -> np.ndarray:
    """Whether an order on the customer's first order day names a referrer."""
    if "referred_by" not in orders:
        return np.zeros(n, dtype=bool)
    referred = orders["referred_by"].cat.codes.to_numpy() >= 0
    first = np.nan_to_num(first_order_day, nan=-1).astype(np.int64)
    on_first_day = is_order & referred & (day == first[customer])
    return np.bincount(customer[on_first_day], minlength=n) > 0


def _referred_customers(orders: pd.DataFrame, customer: np.ndarray, is_order: np.ndarray, n: int) -> np.ndarray:
    """How many other customers name each customer as ``referred_by`` (on orders up to ``to``)."""
    if "referred_by" not in orders:
        return np.zeros(n, dtype=np.int64)
    referrer_codes = orders["referred_by"].cat.codes.to_numpy()
    as_customer = orders["customer_id"].cat.categories.get_indexer(orders["referred_by"].cat.categories)
    as_customer = np.append(as_customer, -1)  # code −1 (no referrer) looks up the last entry
    referrer = as_customer[referrer_codes]
    named = is_order & (referrer >= 0) & (referrer != customer)
    pairs = np.unique(referrer[named].astype(np.int64) * n + customer[named])
    return np.bincount(pairs // n, minlength=n)
