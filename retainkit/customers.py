"""Per-customer table as of ``to``: RFM, VIPs, who is at risk, the loyalty ladder (SPEC §5).

Pure functions of the per-customer reduction (:func:`customer_windows`): no pass over
the orders happens here. Thresholds compare integers where the SPEC's rule is a ratio
(1.5 × the usual gap, ⌈top · n⌉, ⌊5 · p⌋), so boundaries never depend on rounding.

>>> import pandas as pd
>>> from datetime import date
>>> from retainkit.periods import Period
>>> from retainkit.reductions import customer_windows
>>> orders = pd.DataFrame({
...     "customer_id": pd.Categorical(["a", "a", "b"]),
...     "order_date": pd.to_datetime(["2024-01-01", "2024-03-01", "2024-06-01"]).astype("datetime64[s]"),
...     "amount": [10.0, 30.0, 20.0],
...     "is_refund": [False, False, False],
... })
>>> table = customer_table(customer_windows(orders, Period(date(2024, 1, 1), date(2024, 6, 30))))
>>> table[["customer_id", "orders", "recency_days", "level_name"]].values.tolist()
[['a', 2, 121, 'repeat'], ['b', 1, 29, 'first-time']]
>>> table["avg_days_between_orders"].tolist()
[60.0, nan]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from retainkit import defaults
from retainkit.errors import RetainkitError
from retainkit.exact import cents
from retainkit.ranks import (
    RankCuts,
    order_statistics,
    rfm_positions,
    scores_from_cuts,
    vip_cut,
    vip_from_cut,
)
from retainkit.reductions import ANNUAL_DAYS, CustomerWindows

#: The (R, F) grid of SPEC §5: every one of the 25 cells names a segment.
SEGMENT_GRID: dict[int, tuple[str, str, str, str, str]] = {
    # R score: segment for F = 1, 2, 3, 4, 5
    5: ("New", "Potential loyalist", "Potential loyalist", "Champions", "Champions"),
    4: ("Promising", "Potential loyalist", "Potential loyalist", "Loyal", "Loyal"),
    3: ("About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"),
    2: ("Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them"),
    1: ("Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them"),
}
SEGMENTS = tuple(dict.fromkeys(name for row in SEGMENT_GRID.values() for name in row))

#: The loyalty ladder of seed 003, levels −1…5.
LEVEL_NAMES: dict[int, str] = {
    5: "advocate",
    4: "loyal",
    3: "regular",
    2: "repeat",
    1: "first-time",
    0: "lapsed",
    -1: "detractor",
}

#: The columns of the customer table, in order (stable names for CSV/JSON exports).
COLUMNS = (
    "customer_id", "first_order", "last_order", "orders", "revenue", "average_order_value",
    "recency_days", "tenure_days", "purchase_days", "avg_days_between_orders", "expected_next_order", "days_overdue",
    "revenue_365", "r_score", "f_score", "m_score", "rfm_segment", "is_vip", "at_risk", "level", "level_name",
)


@dataclass(frozen=True)
class CustomerOptions:
    """Thresholds of SPEC §5: inactivity and loss in days, the VIP share."""

    inactive_days: int = defaults.INACTIVE_DAYS
    lost_days: int = defaults.LOST_DAYS
    vip_top: float = defaults.VIP_TOP


#: The columns that rank a customer among all of them (:mod:`retainkit.ranks`).
RANKED = ("r_score", "f_score", "m_score", "rfm_segment", "is_vip")
#: The columns of one customer alone: what a shard computes before the global cuts are known.
BASE_COLUMNS = tuple(c for c in COLUMNS if c not in RANKED)


def customer_table(windows: CustomerWindows, options: CustomerOptions | None = None, *,
                   listed_only: bool = False) -> pd.DataFrame:
    """One row per customer with an order up to ``to``; the columns of :data:`COLUMNS`. With
    ``listed_only``, only the customers at risk or VIP (the report's lists), ranked among all."""
    opts = options or CustomerOptions()
    base = customer_base(windows, opts)
    cuts = rank_cuts(base, opts.vip_top, has_amount=windows.has_amount)
    if listed_only:
        vip = vip_from_cut(base["_revenue_365"].to_numpy(), base["customer_id"].to_numpy(dtype=object), cuts.vip)
        base = base[base["at_risk"].to_numpy() | vip]
    table = with_ranks(base, cuts, has_amount=windows.has_amount)
    return table.sort_values("customer_id", kind="stable", ignore_index=True)


def customer_base(windows: CustomerWindows, options: CustomerOptions | None = None) -> pd.DataFrame:
    """The columns of :data:`BASE_COLUMNS`, each customer by their own rows (any shard of them)."""
    f, s = customer_standing(windows, options)
    end, orders, first, last, days = windows.period.end_day, s["orders"], s["first"], s["last"], s["days"]
    revenue = cents(f["revenue_to_date"].to_numpy())  # sums of cents, to the cent
    repeat = days >= 2  # a rhythm needs two purchase days (SPEC §5)
    gap = np.where(repeat, s["tenure"] / np.maximum(days - 1, 1), np.nan)
    expected = np.where(repeat, last + np.floor(np.nan_to_num(gap) + 0.5), np.nan)
    level = s["level"]
    return pd.DataFrame(
        {
            "customer_id": f.index.to_numpy(dtype=object),
            "first_order": _dates(first),
            "last_order": _dates(last),
            "orders": orders,
            "revenue": revenue,
            "average_order_value": revenue / orders,
            "recency_days": s["recency"],
            "tenure_days": s["tenure"],
            "purchase_days": days,
            "avg_days_between_orders": gap,
            "expected_next_order": _dates(expected),
            "days_overdue": np.maximum(end - expected, 0.0),  # whole days, NaN without a rhythm
            "revenue_365": cents(f["revenue_365"].to_numpy()),
            "at_risk": s["at_risk"],
            "level": level,
            "level_name": pd.Categorical.from_codes(level + 1, categories=[LEVEL_NAMES[i] for i in range(-1, 6)]),
            "_revenue_365": f["revenue_365"].to_numpy(),  # unrounded: the VIP rank's value
        }
    )


def customer_standing(windows: CustomerWindows, options: CustomerOptions | None = None
                      ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The rows of the customers with an order up to ``to`` and, in their order, where each
    stands (SPEC §5): ``orders``, ``first`` and ``last`` order day, purchase ``days``,
    ``recency`` and ``tenure`` in days, ``at_risk`` (:func:`at_risk_flags`) and ``level``
    (:func:`loyalty_levels`)."""
    opts = options or CustomerOptions()
    f = windows.frame[windows.frame["orders_to_date"] > 0]
    orders = f["orders_to_date"].to_numpy().astype(np.int64)
    first = f["first_order_day"].to_numpy().astype(np.int64)
    last = f["last_order_day"].to_numpy().astype(np.int64)
    days = f["purchase_days_to_date"].to_numpy().astype(np.int64)
    recency, tenure = windows.period.end_day - last, last - first
    at_risk = at_risk_flags(days, recency, tenure, opts)
    lost = recency >= opts.lost_days
    last_refund = f["last_refund_day"].to_numpy()
    ended_in_refund = ~np.isnan(last_refund) & (np.nan_to_num(last_refund, nan=-1) >= last)
    level = loyalty_levels(orders=orders, tenure_days=tenure, at_risk=at_risk, lost=lost,
                           ended_in_refund=ended_in_refund, referred_customers=f["referred_customers"].to_numpy())
    return f, {"orders": orders, "first": first, "last": last, "days": days, "recency": recency, "tenure": tenure,
               "at_risk": at_risk, "level": level}


def rank_cuts(base: pd.DataFrame, vip_top: float, *, has_amount: bool) -> RankCuts:
    """The cuts of every global rank, from a base table holding every customer."""
    recency, orders = base["recency_days"].to_numpy(), base["orders"].to_numpy()
    n = len(base)
    monetary: list[Any] = []
    if has_amount:
        monetary = order_statistics(base["revenue"].to_numpy(), rfm_positions(n, higher_is_better=True))
    return RankCuts(
        tuple(order_statistics(recency, rfm_positions(n, higher_is_better=False))),
        tuple(order_statistics(orders, rfm_positions(n, higher_is_better=True))),
        tuple(monetary),
        vip_cut(base["_revenue_365"].to_numpy(), base["customer_id"].to_numpy(dtype=object), vip_top),
        n,
    )


def with_ranks(base: pd.DataFrame, cuts: RankCuts, *, has_amount: bool) -> pd.DataFrame:
    """The customer table (:data:`COLUMNS`) of some customers, ranked by cuts over all of them."""
    r_score = scores_from_cuts(base["recency_days"].to_numpy(), cuts.recency, higher_is_better=False)
    f_score = scores_from_cuts(base["orders"].to_numpy(), cuts.frequency, higher_is_better=True)
    table = base.assign(
        r_score=r_score,
        f_score=f_score,
        m_score=scores_from_cuts(base["revenue"].to_numpy(), cuts.monetary, higher_is_better=True),
        rfm_segment=rfm_segments(r_score, f_score),
        is_vip=vip_from_cut(base["_revenue_365"].to_numpy(), base["customer_id"].to_numpy(dtype=object), cuts.vip),
    )[list(COLUMNS)]
    if not has_amount:  # no amounts: money, M and VIP are unknown, not 0 / false
        table[["revenue", "average_order_value", "revenue_365"]] = np.nan
        table["m_score"] = pd.array([pd.NA] * len(table), dtype="Int64")
        table["is_vip"] = pd.array([pd.NA] * len(table), dtype="boolean")
    return table


def rfm_scores(values: np.ndarray, *, higher_is_better: bool) -> np.ndarray:
    """1 + ⌊5·p⌋ capped at 5, p = (customers with a strictly worse value) / n (SPEC §5).

    Equal values always get equal scores; 5 is the top 20 %. Computed in integers.

    >>> rfm_scores(np.array([1, 1, 1, 2, 5]), higher_is_better=True).tolist()
    [1, 1, 1, 4, 5]
    >>> rfm_scores(np.array([0, 10, 10, 400]), higher_is_better=False).tolist()  # recency: lower is better
    [4, 2, 2, 1]
    """
    cuts = order_statistics(values, rfm_positions(len(values), higher_is_better=higher_is_better))
    return scores_from_cuts(values, cuts, higher_is_better=higher_is_better)


def rfm_segments(r_score: np.ndarray, f_score: np.ndarray) -> pd.Categorical:
    """The segment of each (R, F) cell of :data:`SEGMENT_GRID`."""
    names = np.array([[SEGMENT_GRID[r][f - 1] for f in range(1, 6)] for r in range(1, 6)], dtype=object)
    return pd.Categorical(names[r_score - 1, f_score - 1], categories=SEGMENTS)


def vip_flags(revenue_365: np.ndarray, ids: np.ndarray, vip_top: float) -> np.ndarray:
    """The ⌈vip_top · n⌉ customers with the most revenue over the last 365 days, among the n
    with positive revenue there (seed 002). Ties at the cut go to the lower customer id.

    ⌈vip_top · n⌉ is exact: ``vip_top`` is read as the decimal it was written as, so 5 % of
    20 customers is 1, not 2.

    >>> vip_flags(np.array([50.0, 0.0, 300.0, 20.0]), np.array(["a", "b", "c", "d"]), 0.05).tolist()
    [False, False, True, False]
    """
    return vip_from_cut(revenue_365, ids, vip_cut(revenue_365, ids, vip_top))


def at_risk_flags(
    purchase_days: np.ndarray, recency: np.ndarray, tenure: np.ndarray, options: CustomerOptions
) -> np.ndarray:
    """At risk (seed 002, SPEC §5): ≥ 2 purchase days, recency ≥ inactive_days and ≥ 1.5 ×
    the usual gap, and not yet lost (recency < lost_days). 1.5 × tenure / (days − 1) is
    compared as 2 · recency · (days − 1) ≥ 3 · tenure, in integers.

    >>> at_risk_flags(np.array([2, 2, 3, 1]), np.array([91, 90, 400, 90]), np.array([60, 60, 10, 0]),
    ...               CustomerOptions()).tolist()
    [True, True, False, False]
    """
    repeat = purchase_days >= 2
    overdue = 2 * recency * np.maximum(purchase_days - 1, 1) >= 3 * tenure
    return repeat & (recency >= options.inactive_days) & overdue & (recency < options.lost_days)


def loyalty_levels(
    *,
    orders: np.ndarray,
    tenure_days: np.ndarray,
    at_risk: np.ndarray,
    lost: np.ndarray,
    ended_in_refund: np.ndarray,
    referred_customers: np.ndarray,
) -> np.ndarray:
    """The ladder of seed 003 (SPEC §5), first rule that matches:

    5 advocate (not lost, referred someone) · −1 detractor (lost, last event a refund) ·
    0 lapsed (lost) · 4 loyal (≥ 3 orders, tenure ≥ 365, not at risk) · 3 regular (≥ 3 orders,
    not at risk) · 2 repeat (≥ 2 orders) · 1 first-time.
    """
    rules = [
        ~lost & (referred_customers > 0),
        lost & ended_in_refund,
        lost,
        (orders >= 3) & (tenure_days >= ANNUAL_DAYS) & ~at_risk,
        (orders >= 3) & ~at_risk,
        orders >= 2,
    ]
    return np.select(rules, [5, -1, 0, 4, 3, 2], default=1).astype(np.int64)


def at_risk_customers(table: pd.DataFrame) -> pd.DataFrame:
    """Customers at risk, most revenue over the last 365 days (value at risk) first, with why."""
    return explain_risk(at_risk_rows(table))


def at_risk_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of the customers at risk, most revenue over the last 365 days first, then id."""
    risky = table[table["at_risk"]]
    return risky.sort_values(["revenue_365", "customer_id"], ascending=[False, True], kind="stable", ignore_index=True)


def explain_risk(risky: pd.DataFrame) -> pd.DataFrame:
    """At-risk rows with ``why``: the days since their last order against their usual gap."""
    return risky.assign(why=[f"{int(r)} days since the last order; usually every {g:.0f} days"
                             for r, g in zip(risky["recency_days"], risky["avg_days_between_orders"], strict=True)])


def product_lapses(
    product_lines: pd.DataFrame, table: pd.DataFrame, end_day: int, options: CustomerOptions | None = None
) -> pd.DataFrame:
    """(customer, product) pairs bought on ≥ 2 separate days whose last purchase is
    ≥ inactive_days before ``to``, for customers not yet lost (SPEC §5, seed 002: "has not
    bought their usual product in two months"). Most revenue over the last 365 days first."""
    opts = options or CustomerOptions()
    day = product_lines["order_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    customer = product_lines["customer_id"].cat.codes.to_numpy().astype(np.int64)
    product = product_lines["product"].cat.codes.to_numpy().astype(np.int64)
    n_products = max(len(product_lines["product"].cat.categories), 1)
    upto = day <= end_day
    bought = pd.DataFrame({"pair": customer[upto] * n_products + product[upto], "day": day[upto]}).drop_duplicates()
    per_pair = bought.groupby("pair")["day"].agg(["size", "min", "max"])
    lapsed = per_pair[(per_pair["size"] >= 2) & (end_day - per_pair["max"] >= opts.inactive_days)]
    names = product_lines["customer_id"].cat.categories.to_numpy(dtype=object)
    products = product_lines["product"].cat.categories.to_numpy(dtype=object)
    pairs = lapsed.index.to_numpy()
    out = pd.DataFrame(
        {
            "customer_id": names[pairs // n_products],
            "product": products[pairs % n_products],
            "purchase_days": lapsed["size"].to_numpy(),
            "first_purchase": _dates(lapsed["min"].to_numpy()),
            "last_purchase": _dates(lapsed["max"].to_numpy()),
            "days_since": end_day - lapsed["max"].to_numpy(),
            "usual_gap_days": (lapsed["max"] - lapsed["min"]).to_numpy() / (lapsed["size"].to_numpy() - 1),
        }
    )
    customers = table.set_index("customer_id")[["recency_days", "revenue_365", "at_risk"]]
    out = out.join(customers, on="customer_id")
    out = out[out["recency_days"] < opts.lost_days].drop(columns="recency_days")
    out = out.rename(columns={"at_risk": "customer_at_risk"})
    return out.sort_values(["revenue_365", "customer_id", "days_since"], ascending=[False, True, False],
                           kind="stable", ignore_index=True)


def select_customers(
    table: pd.DataFrame,
    *,
    segment: str | None = None,
    level: int | None = None,
    vip: bool | None = None,
    at_risk: bool | None = None,
    sort: str | None = None,
    descending: bool = True,
    top: int | None = None,
) -> pd.DataFrame:
    """Rows of the customer table that pass the filters, ordered by ``sort``, first ``top``
    (a table held by Spark chooses them there). A filter on a column the table has not
    (product lapses, predictions) is one error line."""
    check_filters(list(table.columns), segment=segment, level=level, vip=vip, at_risk=at_risk)
    if not isinstance(table, pd.DataFrame):
        return table.select(segment=segment, level=level, vip=vip, at_risk=at_risk, sort=sort,  # type: ignore[no-any-return]
                            descending=descending, top=top)
    keep = np.ones(len(table), dtype=bool)
    if segment is not None:
        keep &= (table["rfm_segment"].astype(str).str.casefold() == segment.casefold()).to_numpy()
    if level is not None:
        keep &= (table["level"] == level).to_numpy()
    if vip is not None:
        keep &= (table["is_vip"] == vip).fillna(False).to_numpy(dtype=bool)
    if at_risk is not None:
        keep &= (table["at_risk"] == at_risk).to_numpy()
    out = table[keep]
    if sort is not None:
        out = out.sort_values([sort, "customer_id"], ascending=[not descending, True], kind="stable",
                              na_position="last")
    return out.head(top).reset_index(drop=True) if top is not None else out.reset_index(drop=True)


#: The column each filter of :func:`select_customers` reads.
FILTER_COLUMNS = {"segment": "rfm_segment", "level": "level", "vip": "is_vip", "at_risk": "at_risk"}


def check_filters(columns: list[str], **filters: object) -> None:
    """Refuse a filter (not None) on a column not among ``columns``."""
    for name, value in filters.items():
        if value is not None and FILTER_COLUMNS[name] not in columns:
            raise RetainkitError(f"this table has no {FILTER_COLUMNS[name]} column to filter by {name}",
                                 "filter the customer table, or drop the filter")


def _dates(days: np.ndarray) -> pd.Series:
    """Day numbers (NaN = none) as ``datetime64[s]`` dates (NaT = none)."""
    values = np.asarray(days, dtype=np.float64)
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[s]")
    ok = ~np.isnan(values)
    out[ok] = (values[ok].astype(np.int64) * 86_400).astype("datetime64[s]")
    return pd.Series(out)

