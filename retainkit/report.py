"""The periodic report's content: the last complete period against the one before and the
same period a year earlier, alerts, cohorts, customers at risk and VIPs (SPEC §4, §5, §7),
and who will buy again (SPEC §6: :mod:`retainkit.report_buyers`, HTML and Markdown only).

Pure: frames in, one JSON-ready dict out. Rendering lives in :mod:`retainkit.render_report`.
Nothing reads the clock: the report is dated by its period, so the same input gives the
same report.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from retainkit import defaults, values
from retainkit.actions import act_on_this, action_columns
from retainkit.calendar import index_of, partial_reason, period_end, period_label, period_start
from retainkit.cohorts import cohort_table, cohort_wide, trend_table, value_columns
from retainkit.customers import CustomerOptions, at_risk_rows, customer_table, explain_risk
from retainkit.errors import RetainkitError
from retainkit.kernel import customer_rows
from retainkit.metrics import KpiOptions, kpis_from_windows
from retainkit.periods import Period, day_number, resolve_period
from retainkit.report_buyers import buy_again
from retainkit.values import Note

if TYPE_CHECKING:
    from retainkit.report_worker import ModelWorker

PERIODS_PER_YEAR = {"week": 52, "month": 12}
SERIES_LENGTH = 13  # periods in each small chart
COHORTS_SHOWN = 12
ANNUAL_KEYS = ("customers_start", "customers_lost", "churn_rate", "annual_churn_rate", "customer_lifetime_value",
               "repeat_customer_rate")
LIST_LENGTH = 10

#: KPIs of the report (the JSON's ``headline``): key, label, kind.
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
#: Period-over-period alerts: the KPI and the direction that is bad news (-1: a fall).
WATCHED = (("customers", -1), ("orders", -1), ("revenue", -1), ("repeat_customer_rate", -1))
MIN_HISTORY = 6  # changes between whole periods needed before "normal variation" means anything
NO_ORDERS = Note("no orders in it")
#: Annual churn the articles give for businesses with contracts (said beside the churn alert).
CONTRACT_CHURN = (0.05, 0.07)


@dataclass(frozen=True)
class ReportOptions:
    every: str = "week"
    churn_alert: float = defaults.CHURN_ALERT
    churn_window_days: int | None = None  # None: the default of SPEC §2
    customers: CustomerOptions = field(default_factory=CustomerOptions)
    #: A fall from the period before that raises an alert (a fraction of counts and money;
    #: points for rates: 0.05 is 5 pp); None: a fall beyond the range of the last periods.
    change_alert: float | None = None


def last_complete_period(period: Period, every: str) -> int:
    """The last calendar period that ends on or before ``to``."""
    index = index_of(period.end, every)
    return index if period_end(index, every) == period.end else index - 1


@dataclass(frozen=True)
class ReportSource:
    """What the report reads of the orders, from either engine (this process:
    :func:`local_source`; Spark: :func:`retainkit.spark.report.spark_source`).

    ``period(end=…, churn_window_days=…)``: the period of SPEC §2 over the whole data;
    ``trend(period, every)`` and ``cohorts(period, every, metric)``: the tables of SPEC §4;
    ``customers(period, options, period_days)``: the KPIs (SPEC §3) and the customer lists
    (:func:`customer_section`); ``buy_again(start_day, end_day)``: starts the model section
    and returns the function that gives it (it may be computed meanwhile in another process:
    :mod:`retainkit.report_worker`)."""

    period: Callable[..., Period]
    trend: Callable[[Period, str], pd.DataFrame]
    cohorts: Callable[[Period, str, str], pd.DataFrame]
    customers: Callable[[Period, ReportOptions, int], dict[str, Any]]
    buy_again: Callable[[int, int], Callable[[], dict[str, Any]]]


def local_source(orders: pd.DataFrame, *, worker: ModelWorker | None = None) -> ReportSource:
    """The report's reads of the canonical orders frame, in this process (the model section
    in ``worker``'s, when given)."""

    def customers(period: Period, options: ReportOptions, period_days: int) -> dict[str, Any]:
        windows = customer_rows(orders, period)
        table = customer_table(windows, options.customers, listed_only=True)
        risky = at_risk_rows(table)
        vips = table[table["is_vip"].fillna(False).astype(bool)]
        return customer_section(
            kpis_from_windows(windows, KpiOptions(churn_alert=options.churn_alert)),
            act_on_this(action_columns(windows, options.customers)), at_risk=explain_risk(risky.head(LIST_LENGTH)),
            vips=vips.sort_values(["revenue_365", "customer_id"], ascending=[False, True]),
            lapsed_vips=risky[risky["is_vip"].fillna(False).astype(bool)],
            became_at_risk=became_at_risk(risky, options.customers.inactive_days, period_days))

    def buyers(start_day: int, end_day: int) -> Callable[[], dict[str, Any]]:
        pending = worker.section(orders, start_day=start_day, end_day=end_day) if worker else None
        return pending or functools.partial(buy_again, orders, start_day=start_day, end_day=end_day)

    return ReportSource(
        period=lambda **kwargs: resolve_period(orders, **kwargs),
        trend=lambda period, every: trend_table(orders, period, every),
        cohorts=lambda period, every, metric: cohort_table(orders, period, every, metric),
        customers=customers,
        buy_again=buyers,
    )


def customer_section(kpis: dict[str, Any], actions: dict[str, Any], *, at_risk: pd.DataFrame, vips: pd.DataFrame,
                     lapsed_vips: pd.DataFrame, became_at_risk: int) -> dict[str, Any]:
    """The report's KPIs and customer lists: ``at_risk``, ``vips`` and ``lapsed_vips`` (VIPs
    at risk) are rows in their order (most revenue over 365 days first, then id), at least
    the first :data:`LIST_LENGTH`; the counts and the at-risk revenue are those of "act on
    this" (:func:`retainkit.actions.act_on_this`: an exact sum, SPEC §5)."""
    return {
        "kpis": kpis,
        "at_risk": _top(at_risk, ("customer_id", "revenue_365", "why", "rfm_segment"),
                        ("recency_days", "avg_days_between_orders")),
        "at_risk_count": int(actions["at_risk_customers"]),
        "at_risk_revenue_365": actions["at_risk_revenue_365"] or 0.0,
        "vips": _top(vips, ("customer_id", "revenue_365", "orders", "recency_days", "level_name")),
        "vip_count": int(actions["vip_customers"] or 0),
        "_became_at_risk": became_at_risk,
        "_lapsed_vip": _top(lapsed_vips, ("customer_id", "revenue_365", "recency_days"))[:1],
    }


def build_report(
    orders: pd.DataFrame, quality: dict[str, Any], options: ReportOptions, *, end: Any = None
) -> dict[str, Any]:
    """Everything the report shows, as plain data; ``end`` is ``--to`` (default: the last order).

    A comparison (previous period, a year ago) is null, with its ``reason``, when either
    period is partial or starts before the data (SPEC §2 coverage, §4 partial periods).
    """
    return report_from(local_source(orders), quality, options, end=end)


def report_from(source: ReportSource, quality: dict[str, Any], options: ReportOptions, *, end: Any = None
                ) -> dict[str, Any]:
    """:func:`build_report` from what ``source`` reads of the orders (either engine)."""
    every = options.every
    if every not in PERIODS_PER_YEAR:
        raise RetainkitError(f"--every {every!r}: reports are weekly or monthly", "use --every week or month")
    whole = source.period(end=end)
    current = last_complete_period(whole, every)
    if period_end(current, every) < whole.start:
        raise RetainkitError(
            f"no complete {every} between {whole.start} and {whole.end}", "give a later --to or a shorter --every"
        )
    year = PERIODS_PER_YEAR[every]
    first = current - max(year, SERIES_LENGTH)  # one more than the charts: 13 periods before this one
    as_of = period_end(current, every)
    buyers = source.buy_again(day_number(whole.start), day_number(as_of))
    trend = source.trend(Period(period_start(first, every), as_of, data_start=whole.data_start), every)
    rows = {str(row["period"]): row for row in trend.to_dict("records")}
    this = rows[period_label(current, every)] | {"index": current}
    previous = _comparison(current - 1, this, rows, every, whole)
    year_before = _comparison(current - year, this, rows, every, whole)

    kpi_period = source.period(end=as_of, churn_window_days=options.churn_window_days)
    period_days = (period_end(current, every) - period_start(current, every)).days + 1
    lists = source.customers(kpi_period, options, period_days)
    kpis = lists.pop("kpis")
    headline = [_headline(key, label, kind, this, previous, year_before) for key, label, kind in HEADLINE]
    cohorts = _cohorts(source, whole, as_of)
    normal = {key: _normal_range(trend.tail(SERIES_LENGTH + 1), key, kind) for key, _, kind in HEADLINE}
    return {
        "schema_version": values.SCHEMA_VERSION,
        "every": every,
        "as_of": as_of.isoformat(),
        "period": _period_info(current, every) | {"partial": bool(this["partial"])},
        "previous": previous.info,
        "year_before": year_before.info,
        "headline": headline,
        "series": _series(trend.tail(SERIES_LENGTH)),
        "annual": _annual(kpis, kpi_period),
        "alerts": _alerts(kpis, headline, normal, options.churn_alert, kpi_period.churn_window_days)
        + _change_alerts(headline, normal, options.change_alert),
        "cohorts": cohorts,
        **{key: lists[key] for key in ("at_risk", "at_risk_count", "at_risk_revenue_365", "vips", "vip_count")},
        "notes": _notes(previous, year_before, kpi_period, cohorts),
        "data_quality": quality,
        # For the HTML and Markdown only (``_`` keys are not part of the JSON document):
        "_normal": normal,
        "_became_at_risk": lists["_became_at_risk"],
        "_buy_again": buyers(),
        "_lapsed_vip": lists["_lapsed_vip"],
    }


@dataclass(frozen=True)
class Comparison:
    """A period the report compares with: its trend row (``None`` when not comparable) and
    ``info`` for the document (label, dates, ``comparable``, ``reason``)."""

    row: dict[str, Any] | None
    info: dict[str, Any]


def _comparison(index: int, this: dict[str, Any], rows: dict[str, dict], every: str, whole: Period) -> Comparison:
    """Period ``index`` as a comparison for the report's period (SPEC §4): not comparable
    when the report's period is partial, or ``index`` is partial or not covered by the data."""
    label = period_label(index, every)
    row = rows.get(label)  # absent: a period without orders left out of a mostly empty span
    reason = None
    if this["partial"]:
        reason = Note("%(period)s is partial: %(why)s", period=this["period"],
                      why=partial_reason(this["index"], every, whole, cut_by_from=False))
    elif row is None:
        reason = partial_reason(index, every, whole, cut_by_from=False) or NO_ORDERS
    elif row["partial"]:
        reason = partial_reason(index, every, whole, cut_by_from=False)
    partial = bool(row["partial"]) if row is not None else reason != NO_ORDERS
    info = _period_info(index, every) | {"partial": partial, "comparable": reason is None, "reason": reason}
    return Comparison(row if reason is None else None, info)


def _period_info(index: int, every: str) -> dict[str, Any]:
    return {"label": period_label(index, every), "start": period_start(index, every).isoformat(),
            "end": period_end(index, every).isoformat()}


def _number(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _change(value: float | None, other: float | None, kind: str) -> float | None:
    """``value − other`` for rates, ``value / other − 1`` otherwise; null when either is."""
    if value is None or other is None:
        return None
    if kind == "rate":
        return value - other
    return None if other == 0 else value / other - 1


def _headline(key: str, label: str, kind: str, this: dict, previous: Comparison, year_before: Comparison
              ) -> dict[str, Any]:
    """One KPI of the report's period against the comparisons that are comparable (else null)."""
    value = _number(this[key])
    before = _number(previous.row[key]) if previous.row else None
    last_year = _number(year_before.row[key]) if year_before.row else None
    return {
        "key": key, "label": label, "kind": kind, "value": value, "previous": before, "year_before": last_year,
        "change_previous": _change(value, before, kind), "change_year_before": _change(value, last_year, kind),
    }


def _series(trend: pd.DataFrame) -> dict[str, list]:
    """The last periods of each headline KPI, and which of them are partial (drawn as gaps)."""
    series: dict[str, list] = {"period": trend["period"].tolist(), "partial": [bool(p) for p in trend["partial"]]}
    for key, _, _ in HEADLINE:
        series[key] = [_number(v) for v in trend[key]]
    return series


def _annual(kpis: dict[str, Any], period: Period) -> dict[str, Any]:
    """The churn KPIs over the churn windows ending at the report's date (null where the
    data does not cover them, SPEC §2), with the windows they use."""
    base = period.base_window
    return {k: kpis[k] for k in ANNUAL_KEYS} | {
        "churn_window_days": period.churn_window_days,
        "base_window": {"from": base[0].isoformat(), "to": base[1].isoformat()},
        "notes": list(period.notes),
    }


def _normal_range(trend: pd.DataFrame, key: str, kind: str) -> dict[str, Any] | None:
    """The range of the period-over-period changes of ``key`` between the whole periods
    before the last one (null with fewer than :data:`MIN_HISTORY` of them)."""
    values = [None if p else _number(v) for v, p in zip(trend[key], trend["partial"], strict=True)][:-1]
    changes = [c for a, b in itertools.pairwise(values) if (c := _change(b, a, kind)) is not None]
    if len(changes) < MIN_HISTORY:
        return None
    return {"low": min(changes), "high": max(changes), "changes": len(changes), "periods": len(values)}


def _alerts(kpis: dict[str, Any], headline: list[dict[str, Any]], normal: dict[str, Any], churn_alert: float,
            window: int) -> list[dict[str, Any]]:
    """The churn alert, stating its rule and threshold: annual churn over the user's limit
    (never from a null churn), with the churn of businesses with contracts beside it."""
    annual = _number(kpis["annual_churn_rate"])
    if annual is None or annual <= churn_alert:
        return []
    low, high = CONTRACT_CHURN
    return [{"key": "churn", "message": (
        f"Annual churn rate {annual:.1%} is above the {churn_alert:.1%} limit. Rule: customers of the "
        f"{window}-day base window lost in the next, as a yearly rate, above churn_alert. {low:.0%}–{high:.0%} "
        "a year is the figure for businesses with contracts; set churn_alert in retainkit.toml to what is "
        "normal for this shop."),
        "_facts": {"value": annual, "limit": churn_alert, "window": window}}]


def _change_alerts(headline: list[dict[str, Any]], normal: dict[str, Any], change_alert: float | None
                   ) -> list[dict[str, Any]]:
    """A KPI that moved the bad way from the period before (never against a period the report
    cannot compare with): by more than ``change_alert`` when the user set one, else beyond
    the range of its changes over the last periods. Each alert states its rule."""
    alerts: list[dict[str, Any]] = []
    items = {item["key"]: item for item in headline}
    for key, bad in WATCHED:
        item, band = items[key], normal[key]
        change = item["change_previous"]
        if change is None or change * bad <= 0:
            continue
        facts = {"label": item["label"], "kind": item["kind"], "value": item["value"], "previous": item["previous"],
                 "change": change}
        moved = f"{item['label']} {'fell' if change < 0 else 'rose'} {_spoken(abs(change), item['kind'])[1:]} to " \
                f"{_plain(item['value'], item['kind'])}"
        if change_alert is not None:
            if abs(change) <= change_alert:
                continue
            facts |= {"limit": change_alert}
            message = (f"{moved}, more than the change_alert limit of {_spoken(change_alert, item['kind'])[1:]} "
                       "set in retainkit.toml.")
        else:
            if band is None or band["low"] <= change <= band["high"]:
                continue
            facts |= band
            message = (f"{moved}, outside its normal range of {_spoken(band['low'], item['kind'])} to "
                       f"{_spoken(band['high'], item['kind'])} from one period to the next over the last "
                       f"{band['periods']} periods.")
        alerts.append({"key": f"{key}_{'falling' if bad < 0 else 'rising'}", "message": message, "_facts": facts})
    return alerts


def _spoken(change: float, kind: str) -> str:
    return f"{change * 100:+.1f} pp" if kind == "rate" else f"{change:+.1%}"


def _plain(value: float | None, kind: str) -> str:
    if value is None:
        return "—"
    return f"{value:.1%}" if kind == "rate" else f"{value:,.2f}" if kind == "money" else f"{value:,.0f}"


def became_at_risk(risky: pd.DataFrame, inactive_days: int, period_days: int) -> int:
    """At-risk customers who crossed the line during the report's period (overdue, or past
    ``inactive_days`` without an order, for less than the period's length)."""
    since = np.minimum(risky["recency_days"].to_numpy(dtype=float) - inactive_days,
                       risky["days_overdue"].fillna(np.inf).to_numpy(dtype=float))
    return int((since < period_days).sum())


def _notes(previous: Comparison, year_before: Comparison, kpi_period: Period, cohorts: dict[str, Any]) -> list[str]:
    """Why a comparison or KPI is null, and which cohort cells are partial."""
    notes = [Note("vs %(period)s: — (%(why)s)", period=c.info["label"], why=c.info["reason"])
             for c in (previous, year_before) if c.info["reason"]]
    return notes + list(kpi_period.notes) + list(cohorts["notes"])


def _cohorts(source: ReportSource, whole: Period, as_of: Any) -> dict[str, Any]:
    """The last monthly cohorts up to ``as_of``; a cell in a partial month flagged (SPEC §4)."""
    last = index_of(as_of, "month")
    start = max(period_start(last - COHORTS_SHOWN + 1, "month"), whole.start)
    wide = cohort_wide(source.cohorts(Period(start, as_of, data_start=whole.data_start), "month", "customers"))
    notes, cut = wide.attrs["notes"], wide.attrs["partial_period"]
    wide = wide[wide["cohort_size"] > 0]
    ks = value_columns(wide)
    return {
        "every": "month",
        "columns": ks,
        "partial_period": cut,
        "rows": [{"cohort": r["cohort"], "size": int(r["cohort_size"]), "values": [_number(r[k]) for k in ks],
                  "partial": [_cell_partial(r, k) for k in ks]}
                 for r in wide.to_dict("records")],
        "notes": notes,
    }


def _cell_partial(row: dict[str, Any], k: str) -> bool:
    """Whether a non-empty cell of a wide cohort row is partial (its cohort, or its period)."""
    if _number(row[k]) is None:
        return False
    return bool(row["partial"]) or (not pd.isna(row["partial_k"]) and int(k) == row["partial_k"])


def _top(frame: pd.DataFrame, columns: tuple[str, ...], private: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The first rows; ``private`` columns as ``_`` keys (for the HTML and Markdown only)."""
    rows = []
    for record in frame.head(LIST_LENGTH)[list(columns + private)].to_dict("records"):
        rows.append({("_" if k in private else "") + k: (
            v.item() if isinstance(v, np.generic) else str(v) if k == "level_name" else v) for k, v in record.items()})
    return rows
