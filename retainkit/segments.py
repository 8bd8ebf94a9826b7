"""The customer base by RFM segment and by loyalty level (SPEC §5, ``retainkit segments``).

The summary is made of additive parts (:func:`segment_parts`): per group, customers and
orders counted, revenue summed exactly (:mod:`retainkit.exact`), days since the last order
counted per value (the median comes from those counts). Parts of any split of the
customers add up to the whole's, so a shard of customers (the Spark engine's) computes
its parts and the driver only adds them (:func:`add_segment_parts`).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from retainkit.customers import LEVEL_NAMES, SEGMENTS
from retainkit.exact import exact_sum, to_float

#: The groups of the summary: (group, the table's column, the names in their order).
GROUPS = (("rfm_segment", "rfm_segment", list(SEGMENTS)),
          ("loyalty_level", "level_name", [LEVEL_NAMES[i] for i in range(5, -2, -1)]))


def segment_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per RFM segment and per loyalty level: customers, their share, revenue share,
    median recency and average order value (revenue / orders of the group)."""
    return summary_from_parts(segment_parts(table))


def segment_parts(table: pd.DataFrame) -> dict[str, Any]:
    """What the summary adds up over some customers, per group and name: ``customers``,
    ``orders``, ``revenue`` (exact) and ``priced`` (customers with a revenue), and
    ``recency`` (customers per day count)."""
    revenue = table["revenue"].to_numpy(dtype=np.float64)
    parts: dict[str, Any] = {"revenue": exact_sum(revenue), "priced": int((~np.isnan(revenue)).sum()),
                             "customers": len(table), "groups": {}}
    for group, column, _ in GROUPS:
        names = table[column].astype(object).to_numpy()
        for name in pd.unique(names):
            mine = names == name
            days, counts = np.unique(table["recency_days"].to_numpy()[mine], return_counts=True)
            parts["groups"][f"{group}/{name}"] = {
                "customers": int(mine.sum()), "orders": int(table["orders"].to_numpy()[mine].sum()),
                "revenue": exact_sum(revenue[mine]), "priced": int((~np.isnan(revenue[mine])).sum()),
                "recency": {int(d): int(c) for d, c in zip(days, counts, strict=True)},
            }
    return parts


def add_segment_parts(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The parts of several shards added."""
    out: dict[str, Any] = {"revenue": Fraction(0), "priced": 0, "customers": 0, "groups": {}}
    for part in parts:
        for key in ("revenue", "priced", "customers"):
            out[key] += part[key]
        for name, mine in part["groups"].items():
            into = out["groups"].setdefault(name, {"customers": 0, "orders": 0, "revenue": Fraction(0), "priced": 0,
                                                   "recency": {}})
            for key in ("customers", "orders", "revenue", "priced"):
                into[key] += mine[key]
            for day, count in mine["recency"].items():
                into["recency"][day] = into["recency"].get(day, 0) + count
    return out


def _median(counts: dict[int, int]) -> float:
    """The median of the values ``counts`` counts (NaN for none), as :meth:`pandas.Series.median`.

    >>> _median({1: 2, 5: 1, 9: 1})
    3.0
    """
    if not counts:
        return np.nan
    values = sorted(counts)
    ends = np.cumsum([counts[v] for v in values])
    n = int(ends[-1])
    low, high = (values[int(np.searchsorted(ends, p, side="right"))] for p in ((n - 1) // 2, n // 2))
    return float(np.mean([low, high]))


def summary_from_parts(parts: dict[str, Any]) -> pd.DataFrame:
    """The segments table from the added :func:`segment_parts` of every customer."""
    total_customers = parts["customers"]
    total_revenue = to_float(parts["revenue"]) if parts["priced"] else np.nan
    rows = []
    for group, _, names in GROUPS:
        for name in names:
            mine = parts["groups"].get(f"{group}/{name}")
            if mine is None:
                rows.append({"group": group, "name": name, "customers": 0, "revenue": np.nan, "orders": 0,
                             "median_recency_days": np.nan})
                continue
            rows.append({"group": group, "name": name, "customers": mine["customers"],
                         "revenue": to_float(mine["revenue"]) if mine["priced"] else np.nan,
                         "orders": mine["orders"], "median_recency_days": _median(mine["recency"])})
    out = pd.DataFrame(rows)
    out["customers"] = out["customers"].astype(np.int64)
    out["share_of_customers"] = out["customers"] / total_customers if total_customers else np.nan
    out["revenue_share"] = out["revenue"] / total_revenue if total_revenue else np.nan
    out["average_order_value"] = out["revenue"] / out["orders"].where(out["orders"] > 0)
    return out[["group", "name", "customers", "share_of_customers", "revenue_share", "median_recency_days",
                "average_order_value"]]
