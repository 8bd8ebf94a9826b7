'''"Act on this", the short summary of ``kpis`` (SPEC §5, §7): customers at risk and the
revenue they brought over the last 365 days, the VIPs and their share of that revenue, and
how many customers stand on each rung of the loyalty ladder.

Counts and exact sums (:mod:`retainkit.exact`) over the customers, so that the parts of any
split of them add up to the whole's: the local engine adds one part, Spark one per shard.
``kpis`` counts them from :func:`action_columns`, which has the customer table's values of
the four columns the summary reads, without what naming and ranking every customer costs
(ids as text, dates, R/F/M scores, sorting by id: 0.25 s at 0.8M customers).
'''

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from retainkit.customers import LEVEL_NAMES, CustomerOptions, customer_standing
from retainkit.exact import cents, exact_sum, to_float
from retainkit.ranks import vip_cut, vip_from_cut
from retainkit.reductions import CustomerWindows


def act_on_this(table: pd.DataFrame) -> dict[str, object]:
    """The summary over the customers of ``table`` (the customer table, or :func:`action_columns`)."""
    return actions_from_parts(action_parts(table))


def action_columns(windows: CustomerWindows, options: CustomerOptions | None = None) -> pd.DataFrame:
    """The columns of the customer table the summary reads, ``at_risk``, ``is_vip`` (False
    where unknown), ``revenue_365`` (NaN without amounts) and ``level``, for every customer
    with an order up to ``to``, in no particular order.

    The VIPs' ties at the cut are taken in the order of the rows (:func:`~retainkit.ranks.vip_from_cut` without ids):
    the same count and revenue as the customer table's VIPs, which take them by id."""
    opts = options or CustomerOptions()
    f, standing = customer_standing(windows, opts)
    revenue_365 = f["revenue_365"].to_numpy()
    if windows.has_amount:
        vip = vip_from_cut(revenue_365, None, vip_cut(revenue_365, None, opts.vip_top))
        rounded = cents(revenue_365)
    else:
        vip, rounded = np.zeros(len(f), dtype=bool), np.full(len(f), np.nan)
    return pd.DataFrame({"at_risk": standing["at_risk"], "is_vip": vip, "revenue_365": rounded,
                         "level": standing["level"]})


def action_parts(table: pd.DataFrame) -> dict[str, Any]:
    """What :func:`act_on_this` adds up over some customers: counts and exact sums, so that
    the parts of any split of the customers add up to the whole's (:mod:`retainkit.exact`)."""
    risky = table["at_risk"].to_numpy(dtype=bool)
    vip = table["is_vip"].fillna(False).to_numpy(dtype=bool)
    revenue = table["revenue_365"].to_numpy(dtype=np.float64)
    level = table["level"].to_numpy()
    return {
        "at_risk": int(risky.sum()), "vip": int(vip.sum()), "known": int((~np.isnan(revenue)).sum()),
        "at_risk_revenue": exact_sum(revenue[risky]), "vip_revenue": exact_sum(revenue[vip]),
        "revenue": exact_sum(revenue), **{f"level {i}": int((level == i).sum()) for i in LEVEL_NAMES},
    }


def actions_from_parts(parts: dict[str, Any]) -> dict[str, object]:
    """:func:`act_on_this` from the added :func:`action_parts` of every customer."""
    known = parts["known"] > 0  # False without an amount column
    revenue_365 = to_float(parts["revenue"])
    return {
        "at_risk_customers": parts["at_risk"],
        "at_risk_revenue_365": float(cents(to_float(parts["at_risk_revenue"]))) if known else None,
        "vip_customers": parts["vip"] if known else None,
        "vip_revenue_share_365": to_float(parts["vip_revenue"]) / revenue_365 if revenue_365 else None,
        "customers_per_level": {LEVEL_NAMES[level]: parts[f"level {level}"] for level in range(5, -2, -1)},
    }
