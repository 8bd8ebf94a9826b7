"""The periodic report's content: the last complete period against the one before and the
same period a year earlier, alerts, cohorts, customers at risk and VIPs (SPEC §4, §5, §7).

Pure: frames in, one JSON-ready dict out. Rendering lives in :mod:`retainkit.render_report`.
Nothing reads the clock: the report is dated by its period, so the same input gives the
same report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from retainkit.calendar import index_of, period_end, period_label, period_start
from retainkit.cohorts import cohort_table, cohort_wide, trend_table
from retainkit.customers import CustomerOptions, at_risk_customers, customer_table
from retainkit.errors import RetainkitError
from retainkit.metrics import KpiOptions, kpis_from_windows
from retainkit.periods import Period, resolve_period
from retainkit.reductions import customer_windows

SCHEMA_VERSION = 1
PERIODS_PER_YEAR = {"week": 52, "month": 12}
SERIES_LENGTH = 13  # periods in each small chart
COHORTS_SHOWN = 12
LIST_LENGTH = 10

#: Headline KPIs of the report: key, label, kind.
HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("customers", "Customers", "count"),
    ("orders", "Orders", "count"),
    ("revenue", "Revenue (net)", "money"),
    ("average_order_value", "Average order value", "money"),
    ("new_customers", "New customers", "count"),
    ("repeat_customer_rate", "Repeat customer rate", "rate"),
    ("retention_rate", "Retention vs period before", "rate"),
    ("churn_rate", "Churn vs period before", "rate"),
)


@dataclass(frozen=True)
class ReportOptions:
    every: str = "week"
    churn_alert: float = 0.07
    customers: CustomerOptions = field(default_factory=CustomerOptions)


def last_complete_period(period: Period, every: str) -> int:
    """The last calendar period that ends on or before ``to``."""
    index = index_of(period.end, every)
    return index if period_end(index, every) == period.end else index - 1


def build_report(
    orders: pd.DataFrame, quality: dict[str, Any], options: ReportOptions, *, end: Any = None
) -> dict[str, Any]:
    """Everything the report shows, as plain data; ``end`` is ``--to`` (default: the last order)."""
    every = options.every
    if every not in PERIODS_PER_YEAR:
        raise RetainkitError(f"--every {every!r}: reports are weekly or monthly", "use --every week or month")
    whole = resolve_period(orders, end=end)
    current = last_complete_period(whole, every)
    if period_end(current, every) < whole.start:
        raise RetainkitError(
            f"no complete {every} between {whole.start} and {whole.end}", "give a later --to or a shorter --every"
        )
    year = PERIODS_PER_YEAR[every]
    first = current - max(year, SERIES_LENGTH - 1)
    as_of = period_end(current, every)
    trend = trend_table(orders, Period(period_start(first, every), as_of), every)
    rows = {period_label(first + i, every): row for i, row in enumerate(trend.to_dict("records"))}
    this, before = rows[period_label(current, every)], rows[period_label(current - 1, every)]
    had_orders = period_end(current - year, every) >= whole.start
    year_before = rows[period_label(current - year, every)] if had_orders else None

    kpi_period = resolve_period(orders, end=as_of)
    windows = customer_windows(orders, kpi_period)
    kpis = kpis_from_windows(windows, KpiOptions(churn_alert=options.churn_alert))
    table = customer_table(windows, options.customers)
    vips = table[table["is_vip"].fillna(False).astype(bool)]
    return {
        "schema_version": SCHEMA_VERSION,
        "every": every,
        "as_of": as_of.isoformat(),
        "period": _period_info(current, every),
        "previous": _period_info(current - 1, every),
        "year_before": _period_info(current - year, every) if year_before else None,
        "headline": [_headline(key, label, kind, this, before, year_before) for key, label, kind in HEADLINE],
        "series": _series(trend.tail(SERIES_LENGTH)),
        "annual": {k: kpis[k] for k in ("customers_start", "customers_lost", "churn_rate", "annual_churn_rate",
                                        "customer_lifetime_value", "repeat_customer_rate")},
        "alerts": _alerts(kpis, this, before, options.churn_alert),
        "cohorts": _cohorts(orders, whole.start, as_of),
        "at_risk": _top(at_risk_customers(table), ("customer_id", "revenue_365", "why", "rfm_segment")),
        "at_risk_count": int(table["at_risk"].sum()),
        "at_risk_revenue_365": round(float(table.loc[table["at_risk"], "revenue_365"].sum()), 2),
        "vips": _top(vips.sort_values(["revenue_365", "customer_id"], ascending=[False, True]),
                     ("customer_id", "revenue_365", "orders", "recency_days", "level_name")),
        "vip_count": len(vips),
        "data_quality": quality,
    }


def _period_info(index: int, every: str) -> dict[str, str]:
    return {"label": period_label(index, every), "start": period_start(index, every).isoformat(),
            "end": period_end(index, every).isoformat()}


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _change(value: float | None, other: float | None, kind: str) -> float | None:
    if value is None or other is None:
        return None
    if kind == "rate":
        return value - other
    return None if other == 0 else value / other - 1


def _headline(key: str, label: str, kind: str, this: dict, before: dict, year_before: dict | None) -> dict[str, Any]:
    value, previous = _number(this[key]), _number(before[key])
    last_year = _number(year_before[key]) if year_before else None
    return {
        "key": key, "label": label, "kind": kind, "value": value, "previous": previous, "year_before": last_year,
        "change_previous": _change(value, previous, kind), "change_year_before": _change(value, last_year, kind),
    }


def _series(trend: pd.DataFrame) -> dict[str, list]:
    series: dict[str, list] = {"period": trend["period"].tolist()}
    for key, _, _ in HEADLINE:
        series[key] = [_number(v) for v in trend[key]]
    return series


def _alerts(kpis: dict[str, Any], this: dict, before: dict, churn_alert: float) -> list[dict[str, str]]:
    alerts = []
    annual = kpis["annual_churn_rate"]
    if annual is not None and not math.isnan(annual) and annual > churn_alert:
        alerts.append({"key": "churn", "message": f"Annual churn rate {annual:.1%} is above the "
                                                  f"{churn_alert:.1%} limit."})
    now, then = _number(this["repeat_customer_rate"]), _number(before["repeat_customer_rate"])
    if now is not None and then is not None and now < then:
        alerts.append({"key": "repeat_rate_falling", "message": f"Repeat customer rate fell from {then:.1%} "
                                                                f"to {now:.1%}."})
    return alerts


def _cohorts(orders: pd.DataFrame, first_order: Any, as_of: Any) -> dict[str, Any]:
    last = index_of(as_of, "month")
    start = max(period_start(last - COHORTS_SHOWN + 1, "month"), first_order)
    wide = cohort_wide(cohort_table(orders, Period(start, as_of), "month", "customers"))
    wide = wide[wide["cohort_size"] > 0]
    ks = [c for c in wide.columns if c not in ("cohort", "cohort_size")]
    return {
        "every": "month",
        "columns": ks,
        "rows": [{"cohort": r["cohort"], "size": int(r["cohort_size"]),
                  "values": [_number(r[k]) for k in ks]} for r in wide.to_dict("records")],
    }


def _top(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = []
    for record in frame.head(LIST_LENGTH)[list(columns)].to_dict("records"):
        rows.append({k: (v.item() if isinstance(v, np.generic) else str(v) if k == "level_name" else v)
                     for k, v in record.items()})
    return rows
