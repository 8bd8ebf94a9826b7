"""The headline KPIs of SPEC §3, as pure functions.

Each KPI is a function of the per-customer reduction (:func:`customer_windows`, one pass
over the orders) and the KPI options; :func:`compute_kpis` runs them all on one reduction.
Notation: ``C`` = customers with ≥1 order in the period, ``O`` = orders in it, ``R`` =
net revenue in it (orders minus refunds dated in it). A ratio whose denominator is 0 is
NaN (null in JSON, ``—`` in tables), never 0.

>>> import pandas as pd
>>> from datetime import date
>>> orders = pd.DataFrame({
...     "customer_id": pd.Categorical(["a", "a", "b"]),
...     "order_date": pd.to_datetime(["2024-01-01", "2024-01-11", "2024-01-05"]).astype("datetime64[s]"),
...     "amount": [10.0, 30.0, 20.0],
...     "is_refund": [False, False, False],
... })
>>> k = compute_kpis(orders, Period(date(2024, 1, 1), date(2024, 1, 31)))
>>> k["customers"], k["orders"], k["revenue"], k["repeat_customer_rate"], k["avg_days_between_orders"]
(2, 3, 60.0, 0.5, 10.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from retainkit import defaults
from retainkit.exact import cents, exact_sum, to_float
from retainkit.kernel import customer_rows
from retainkit.periods import Period
from retainkit.ranks import order_statistics
from retainkit.reductions import ANNUAL_DAYS, CustomerWindows

NAN = math.nan
Value = int | float | bool | None


@dataclass(frozen=True)
class KpiOptions:
    """Options of the KPIs: the churn alert threshold (annual) and the gross margin."""

    churn_alert: float = defaults.CHURN_ALERT
    margin: float | None = None


Metric = Callable[["KpiTotals", KpiOptions], Any]
#: Every KPI of SPEC §3, in output order.
METRICS: dict[str, Metric] = {}


@dataclass(frozen=True)
class KpiSpec:
    """What the views need to know of a KPI: its label, its kind (``count``, ``money``,
    ``rate``, ``days``, ``years``, ``number``, ``alert``), its group in the table, the SPEC
    section defining it, and the bounds its value keeps (None: open)."""

    key: str
    label: str
    kind: str
    group: str
    low: float | None = None
    high: float | None = None
    spec: str = "§3"


#: The registry the table, Markdown, trend and report views and the property tests derive from.
KPIS: dict[str, KpiSpec] = {}


def _metric(
    label: str, kind: str, group: str, bounds: tuple[float | None, float | None]
) -> Callable[[Metric], Metric]:
    """Register a KPI function with what its views need (a new KPI touches this module only)."""

    def register(fn: Metric) -> Metric:
        METRICS[fn.__name__] = fn
        KPIS[fn.__name__] = KpiSpec(fn.__name__, label, kind, group, *bounds)
        return fn

    return register


def kpi_views() -> dict[str, tuple[tuple[str, str, str], ...]]:
    """Group → (key, label, kind) of each KPI, as the table and Markdown views show them."""
    return {group: tuple((s.key, s.label, s.kind) for s in specs) for group, specs in kpi_groups().items()}


def kpi_groups() -> dict[str, tuple[KpiSpec, ...]]:
    """The KPIs by group, in registry order (the kpis table and Markdown)."""
    groups: dict[str, list[KpiSpec]] = {}
    for spec in KPIS.values():
        groups.setdefault(spec.group, []).append(spec)
    return {name: tuple(specs) for name, specs in groups.items()}


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``; NaN when the denominator is 0 or either is NaN.

    >>> ratio(1, 4), ratio(3, 0)
    (0.25, nan)
    """
    if denominator == 0 or math.isnan(denominator) or math.isnan(numerator):
        return NAN
    return numerator / denominator + 0.0  # 0 of a negative total is 0, not −0


def compute_kpis(orders: pd.DataFrame, period: Period, options: KpiOptions | None = None) -> dict[str, Value]:
    """Every KPI of SPEC §3 for ``period``, from one reduction of ``orders``."""
    return kpis_from_windows(customer_rows(orders, period), options)


def kpis_from_windows(windows: CustomerWindows, options: KpiOptions | None = None) -> dict[str, Value]:
    """Every KPI of SPEC §3 from an existing per-customer reduction (one shard: every customer)."""
    cut = top_cut(windows.frame, windows.has_amount)
    parts = kpi_parts(windows.frame, windows.period, top=cut, has_amount=windows.has_amount)
    return kpis_from_totals(KpiTotals.of(parts, windows, top=cut), options)


def kpis_from_totals(totals: KpiTotals, options: KpiOptions | None = None) -> dict[str, Value]:
    """Every KPI of SPEC §3 from the totals over every customer."""
    opts = options or KpiOptions()
    return {name: fn(totals, opts) for name, fn in METRICS.items()}


@dataclass(frozen=True)
class KpiTotals:
    """What the KPIs read of the customers: counts, and sums rounded once from exact sums
    (:mod:`retainkit.exact`), so any split of the customers into shards gives the same
    floats. ``top_revenue``: revenue of the ⌈0.2·|C|⌉ customers of C with the most."""

    period: Period
    has_amount: bool
    has_referrals: bool
    customers: int
    orders: int
    revenue: float
    new: int
    repeat: int
    returning: int
    returning_revenue: float
    gap_days: float
    gaps: float
    top: int
    top_revenue: float
    start: int
    end: int
    lost: int
    revenue_365: float
    active_365: int
    referred_new: int

    @classmethod
    def of(cls, parts: dict[str, Any], windows: Any, *, top: float | None) -> KpiTotals:
        """The totals from the added :func:`kpi_parts` of every customer; ``windows`` gives
        the period and whether there are amounts and referrals; ``top``: :func:`top_cut`."""
        money = {k: to_float(parts[k]) if windows.has_amount else NAN for k in ("revenue", "returning_revenue",
                                                                                  "revenue_365")}
        count = (parts["customers"] + 4) // 5  # ⌈0.2·|C|⌉ in integers
        top_revenue = NAN  # those above the cut, and as many at it as the count leaves room for
        if top is not None and windows.has_amount:
            top_revenue = to_float(parts["above"] + (count - parts["above_count"]) * Fraction(top))
        fields = {k: parts[k] for k in ("customers", "orders", "new", "repeat", "returning", "start", "end", "lost",
                                        "active_365", "referred_new")}
        return cls(windows.period, windows.has_amount, windows.has_referrals, revenue=money["revenue"],
                   returning_revenue=money["returning_revenue"], gap_days=to_float(parts["gap_days"]),
                   gaps=float(parts["gaps"]), top=count, top_revenue=top_revenue, revenue_365=money["revenue_365"],
                   **fields)


def top_cut(frame: pd.DataFrame, has_amount: bool) -> float | None:
    """The revenue in the period of the ⌈0.2·|C|⌉-th best customer of C (None: no such customer
    or no amounts); :func:`kpi_parts` adds up the revenue of those above it."""
    revenue = frame["revenue_in_period"].to_numpy()[frame["orders_in_period"].to_numpy() > 0]
    count = (len(revenue) + 4) // 5
    if not has_amount or count == 0:
        return None
    return float(order_statistics(revenue, [len(revenue) - count])[0])


def kpi_parts(frame: pd.DataFrame, period: Period, *, top: float | None, has_amount: bool) -> dict[str, Any]:
    """What the KPIs add up over some customers (one shard's, or all): counts, and exact sums
    of money and days; ``top``: the cut of :func:`top_cut` over every customer."""
    ordered = frame["orders_in_period"].to_numpy()
    in_c = ordered > 0
    to_date = frame["orders_to_date"].to_numpy()
    first = frame["first_order_day"].to_numpy()
    revenue = frame["revenue_in_period"].to_numpy() if has_amount else np.zeros(len(frame))
    returning = in_c & (to_date >= 2)
    new = in_c & (first >= period.start_day)
    base, current = frame["active_base"].to_numpy(), frame["active_current"].to_numpy()
    # Gaps between purchase days whose later day is in the period: per customer they add up to
    # (last purchase day in the period − the last one before it, or the first in the period).
    before_day = frame["last_before_period_day"].to_numpy()[in_c]
    before = ~np.isnan(before_day)
    anchor = np.where(before, before_day, frame["first_in_period_day"].to_numpy()[in_c])
    above = in_c & (revenue > top) if top is not None else np.zeros(len(frame), dtype=bool)
    revenue_365 = frame["revenue_365"].to_numpy() if has_amount else np.zeros(len(frame))
    return {
        "customers": int(in_c.sum()), "orders": int(ordered.sum()), "revenue": exact_sum(revenue),
        "new": int(new.sum()), "repeat": int((ordered >= 2).sum()), "returning": int(returning.sum()),
        "returning_revenue": exact_sum(revenue[returning]),
        "gap_days": exact_sum(frame["last_in_period_day"].to_numpy()[in_c] - anchor),
        "gaps": int(frame["purchase_days_in_period"].to_numpy()[in_c].sum()) - int((~before).sum()),
        "above": exact_sum(revenue[above]), "above_count": int(above.sum()),
        "start": int(base.sum()), "end": int(current.sum()), "lost": int((base & ~current).sum()),
        "revenue_365": exact_sum(revenue_365), "active_365": int(frame["active_365"].to_numpy().sum()),
        "referred_new": int((new & frame["first_order_referred"].to_numpy()).sum()),
    }


def add_parts(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The parts of several shards added (counts and exact sums alike)."""
    return {key: sum((p[key] for p in parts[1:]), parts[0][key]) for key in parts[0]}


# ---------------------------------------------------------------- volume


@_metric("Customers", "count", "Volume", (0, None))
def customers(w: KpiTotals, _: KpiOptions) -> int:
    """|C|: customers with at least one order in the period."""
    return w.customers


@_metric("Orders", "count", "Volume", (0, None))
def orders(w: KpiTotals, _: KpiOptions) -> int:
    """|O|: orders in the period (refunds are not orders)."""
    return w.orders


@_metric("Revenue (net)", "money", "Volume", (None, None))
def revenue(w: KpiTotals, _: KpiOptions) -> float:
    """R: net revenue in the period = orders − refunds dated in it, to the cent. NaN without amounts."""
    return float(cents(w.revenue)) if w.has_amount else NAN


@_metric("Average order value", "money", "Volume", (None, None))
def average_order_value(w: KpiTotals, o: KpiOptions) -> float:
    """R / |O|. NaN when there is no order."""
    return ratio(revenue(w, o), orders(w, o))


@_metric("Purchase frequency (orders per customer)", "number", "Volume", (None, None))
def purchase_frequency(w: KpiTotals, o: KpiOptions) -> float:
    """|O| / |C| (seed 001, KPI #4). NaN when there is no customer."""
    return ratio(orders(w, o), customers(w, o))


@_metric("New customers", "count", "Volume", (0, None))
def new_customers(w: KpiTotals, _: KpiOptions) -> int:
    """Customers in C whose first order ever is in the period (history before it counts)."""
    return w.new


# ---------------------------------------------------------------- repeat


@_metric("Repeat customers (≥2 orders in period)", "count", "Repeat", (0, None))
def repeat_customers(w: KpiTotals, _: KpiOptions) -> int:
    """Customers with ≥ 2 orders inside the period."""
    return w.repeat


@_metric("Repeat customer rate", "rate", "Repeat", (0.0, 1.0))
def repeat_customer_rate(w: KpiTotals, o: KpiOptions) -> float:
    """repeat_customers / |C| (seed 001, KPI #1). NaN when C is empty."""
    return ratio(repeat_customers(w, o), customers(w, o))


@_metric("Returning customers (≥2 orders to date)", "count", "Repeat", (0, None))
def returning_customers(w: KpiTotals, _: KpiOptions) -> int:
    """Customers in C with ≥ 2 orders up to ``to``, the earlier one possibly before the period."""
    return w.returning


@_metric("Returning customer rate", "rate", "Repeat", (0.0, 1.0))
def returning_customer_rate(w: KpiTotals, o: KpiOptions) -> float:
    """returning_customers / |C| (Shopify's returning customer rate). NaN when C is empty."""
    return ratio(returning_customers(w, o), customers(w, o))


@_metric("Revenue share of returning customers", "rate", "Repeat", (None, None))
def returning_revenue_share(w: KpiTotals, o: KpiOptions) -> float:
    """Net revenue in the period of returning customers / R (seed 003). NaN when R = 0."""
    if not w.has_amount:
        return NAN
    return ratio(float(cents(w.returning_revenue)), revenue(w, o))  # cents over cents: no 1.0000000000000002


@_metric("Average days between orders", "days", "Repeat", (0.0, None))
def avg_days_between_orders(w: KpiTotals, _: KpiOptions) -> float:
    """Mean gap in days between consecutive **purchase days** of a customer (orders on one
    calendar day are one purchase), over gaps whose later day is in the period (SPEC §3,
    seed 002). NaN when there is no such gap.

    No sort is needed: per customer, those gaps add up to (last purchase day in the period −
    the last one before it, or the first one in the period when there is none), and their
    count is the purchase days in the period, minus one when none precedes the period.
    """
    return ratio(w.gap_days, w.gaps)


@_metric("Revenue share of top 20% customers", "rate", "Repeat", (None, None))
def top_20pct_revenue_share(w: KpiTotals, o: KpiOptions) -> float:
    """Revenue of the ⌈0.2·|C|⌉ customers of C with the most revenue in the period / R
    (seed 002, VIP). ⌈0.2·|C|⌉ is computed in integers: (|C| + 4) div 5. NaN when R = 0."""
    if not w.has_amount or w.top == 0:
        return NAN
    return ratio(float(cents(w.top_revenue)), revenue(w, o))


# ---------------------------------------------------------------- churn and retention


@_metric("Customers in base window", "count", "Churn and retention", (0, None))
def customers_start(w: KpiTotals, _: KpiOptions) -> int | float:
    """S: customers with ≥ 1 order in the base window (to − 2L, to − L] (seed 001, KPI #2).
    NaN when the data does not reach back to the base window's first day (SPEC §2)."""
    return w.start if w.period.base_covered else NAN


@_metric("Customers in current window", "count", "Churn and retention", (0, None))
def customers_end(w: KpiTotals, _: KpiOptions) -> int | float:
    """E: customers with ≥ 1 order in the current window (to − L, to]. NaN when not covered."""
    return w.end if w.period.current_covered else NAN


@_metric("Customers lost", "count", "Churn and retention", (0, None))
def customers_lost(w: KpiTotals, _: KpiOptions) -> int | float:
    """Customers in S with no order in the current window. NaN when the base window is not covered."""
    if not w.period.base_covered:
        return NAN
    return w.lost


@_metric("Retention rate", "rate", "Churn and retention", (0.0, 1.0))
def retention_rate(w: KpiTotals, o: KpiOptions) -> float:
    """(|S| − customers_lost) / |S|. NaN when S is empty."""
    start = customers_start(w, o)
    return ratio(start - customers_lost(w, o), start)


@_metric("Churn rate", "rate", "Churn and retention", (0.0, 1.0))
def churn_rate(w: KpiTotals, o: KpiOptions) -> float:
    """customers_lost / |S| (seed 001, KPI #2). NaN when S is empty."""
    return ratio(customers_lost(w, o), customers_start(w, o))


@_metric("Net churn rate (S−E)/S", "rate", "Churn and retention", (None, 1.0))
def churn_rate_net(w: KpiTotals, o: KpiOptions) -> float:
    """(|S| − |E|) / |S|, the article's literal formula; negative when the base grows."""
    start = customers_start(w, o)
    return ratio(start - customers_end(w, o), start)


@_metric("Annual churn rate", "rate", "Churn and retention", (0.0, 1.0))
def annual_churn_rate(w: KpiTotals, o: KpiOptions) -> float:
    """1 − (1 − churn_rate)^(365 / L), the churn rate over a year. NaN with churn_rate."""
    churn = churn_rate(w, o)
    if math.isnan(churn):
        return NAN
    return 1.0 - (1.0 - churn) ** (ANNUAL_DAYS / w.period.churn_window_days)


@_metric("Churn alert", "alert", "Churn and retention", (None, None))
def churn_alert(w: KpiTotals, o: KpiOptions) -> bool | None:
    """annual_churn_rate > the alert threshold (default 0.07); None when churn is undefined."""
    annual = annual_churn_rate(w, o)
    return None if math.isnan(annual) else bool(annual > o.churn_alert)


# ---------------------------------------------------------------- value


@_metric("Annual revenue per customer", "money", "Value", (None, None))
def annual_revenue_per_customer(w: KpiTotals, _: KpiOptions) -> float:
    """Net revenue in (to − 365, to] / customers with an order in it (seed 001, KPI #3).
    NaN without amounts, or when the data does not reach back 365 days (SPEC §2)."""
    if not w.has_amount or not w.period.year_covered:
        return NAN
    return ratio(w.revenue_365, float(w.active_365))


@_metric("Average lifespan (years)", "years", "Value", (0.0, None))
def avg_lifespan_years(w: KpiTotals, o: KpiOptions) -> float:
    """1 / annual_churn_rate. NaN when the annual churn rate is 0 or undefined."""
    annual = annual_churn_rate(w, o)
    return NAN if math.isnan(annual) or annual == 0 else 1.0 / annual


@_metric("Customer lifetime value", "money", "Value", (None, None))
def customer_lifetime_value(w: KpiTotals, o: KpiOptions) -> float:
    """annual_revenue_per_customer × avg_lifespan_years (× margin when given) (seed 001, KPI #3)."""
    value = annual_revenue_per_customer(w, o) * avg_lifespan_years(w, o)
    return value * o.margin if o.margin is not None else value


@_metric("Referral rate", "rate", "Value", (0.0, 1.0))
def referral_rate(w: KpiTotals, o: KpiOptions) -> float:
    """New customers whose first order names a referrer / new_customers (seed 003).
    NaN without a referral column or without new customers."""
    if not w.has_referrals:
        return NAN
    return ratio(w.referred_new, w.new)
