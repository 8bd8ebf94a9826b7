"""Over time: KPIs per calendar period and the cohort matrix (SPEC §4).

Pure functions of the period reductions in :mod:`retainkit.reductions`; a period with no
order is a row of zeros and nulls, never a missing row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retainkit.calendar import period_end, period_label, period_start
from retainkit.periods import Period
from retainkit.reductions import CohortActivity, PeriodActivity, cohort_activity, period_activity

#: Trend KPIs, and whether their change is a difference (rates) or a relative change.
TREND_KPIS: dict[str, str] = {
    "customers": "relative",
    "orders": "relative",
    "revenue": "relative",
    "average_order_value": "relative",
    "purchase_frequency": "relative",
    "new_customers": "relative",
    "repeat_customers": "relative",
    "repeat_customer_rate": "difference",
    "retention_rate": "difference",
    "churn_rate": "difference",
}
METRICS = ("customers", "revenue", "orders")


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator != 0, numerator / np.where(denominator != 0, denominator, 1), np.nan)


def trend_table(orders: pd.DataFrame, period: Period, every: str) -> pd.DataFrame:
    """One row per calendar period of ``period``: the §3 volume KPIs, retention and churn
    against the previous period (S = active in it, lost = of those, not active in this one),
    and each KPI's change from the previous row.

    Changes: for counts and money, value / previous − 1; for rates, value − previous
    (a difference of fractions). NaN where either side is undefined or the previous is 0.
    """
    return trend_from_activity(period_activity(orders, period, every), period, every)


def trend_from_activity(a: PeriodActivity, period: Period, every: str) -> pd.DataFrame:
    indices = range(a.first, a.last + 1)
    starts = [period_start(i, every) for i in indices]
    ends = [period_end(i, every) for i in indices]
    revenue = np.round(a.revenue, 2)
    lost = a.previous_customers - a.retained
    frame = pd.DataFrame(
        {
            "period": [period_label(i, every) for i in indices],
            "start": pd.to_datetime(starts).astype("datetime64[s]"),
            "end": pd.to_datetime(ends).astype("datetime64[s]"),
            "complete": [s >= period.start and e <= period.end for s, e in zip(starts, ends, strict=True)],
            "customers": a.customers,
            "orders": a.orders,
            "revenue": revenue,
            "average_order_value": _ratio(revenue, a.orders),
            "purchase_frequency": _ratio(a.orders, a.customers),
            "new_customers": a.new_customers,
            "repeat_customers": a.repeat_customers,
            "repeat_customer_rate": _ratio(a.repeat_customers, a.customers),
            "customers_start": a.previous_customers,
            "customers_lost": lost,
            "retention_rate": _ratio(a.retained, a.previous_customers),
            "churn_rate": _ratio(lost, a.previous_customers),
        }
    )
    for name, kind in TREND_KPIS.items():
        values = frame[name].to_numpy(dtype=np.float64)
        previous = np.concatenate(([np.nan], values[:-1]))
        frame[f"{name}_change"] = values - previous if kind == "difference" else _ratio(values, previous) - 1
    return frame


def cohort_table(orders: pd.DataFrame, period: Period, every: str, metric: str = "customers") -> pd.DataFrame:
    """The cohort matrix in long form: one row per (cohort, k).

    ``value``: customers → share of the cohort active in period cohort + k (k = 0 is 1);
    revenue → net revenue in period k / in period 0; orders → orders in k / in 0.
    ``count`` is the underlying number. Cells after ``to`` are NaN (empty), not 0.
    """
    return cohort_from_activity(cohort_activity(orders, period, every), every, metric)


def cohort_from_activity(c: CohortActivity, every: str, metric: str) -> pd.DataFrame:
    counts = {"customers": c.customers, "revenue": np.round(c.revenue, 2), "orders": c.orders}[metric]
    base = c.size.astype(np.float64) if metric == "customers" else counts[:, 0]
    values = _ratio(counts, base[:, None])
    values[np.isnan(counts)] = np.nan
    rows, ks = np.indices(counts.shape)
    labels = [period_label(c.first + i, every) for i in range(counts.shape[0])]
    return pd.DataFrame(
        {
            "cohort": np.array(labels, dtype=object)[rows.ravel()],
            "cohort_size": c.size[rows.ravel()],
            "k": ks.ravel(),
            "period": [period_label(c.first + r + k, every) for r, k in zip(rows.ravel(), ks.ravel(), strict=True)],
            "count": counts.ravel(),
            "value": values.ravel(),
        }
    )


def cohort_wide(long: pd.DataFrame) -> pd.DataFrame:
    """One row per cohort, one column per k (``0``, ``1``, …) holding ``value``."""
    wide = long.pivot(index=["cohort", "cohort_size"], columns="k", values="value")
    wide.columns = [str(k) for k in wide.columns]
    return wide.reset_index()
