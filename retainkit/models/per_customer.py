"""``predict``'s per-customer table and the sums over it, for any shard of customers
(SPEC §6; the local engine is one shard, docs/scale.md).

The models are fitted on the driver (:class:`Fitted`), and everything a customer's
prediction needs from them is a value per distinct (x, t_x, T) row — P(alive), expected
purchases, discounted purchases per unit of value, their intervals — made once there.
A shard looks each of its customers up among the rows (:func:`retainkit.models.shard.row_index`)
and adds what depends on the customer alone: the Gamma-Gamma expected order value
E[M | p, q, γ, m̄, x], CLV = discounted purchases per unit × value × margin, the CLV
interval with the spend fit's uncertainty (:func:`retainkit.models.intervals.spread`, element
by element), and with a holdout the actual purchases. :func:`customer_sums` gives the
totals' parts: counts and exact sums (:mod:`retainkit.exact`), which add over shards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from retainkit.exact import exact_sum
from retainkit.models import intervals
from retainkit.models.gammagamma import GammaGammaParams, expected_order_value
from retainkit.models.shard import Shard, columns, groups_of, row_index, sums_by
from retainkit.models.transaction import Fit, Rows

if TYPE_CHECKING:
    from retainkit.models.predict import PredictOptions


@dataclass(frozen=True)
class Fitted:
    """The fitted models and their predictions per distinct row: what the shards need.

    ``horizons``: (days, expected purchases, discounted purchases per unit) per further
    horizon; ``bands``: the per-row intervals (``expected_purchases_low`` …, and
    ``clv_centre``, ``clv_variance``: ln of the discounted purchases per unit and its
    variance), None without intervals; ``spend_points``: where the spend total's interval
    evaluates its sum over customers (:func:`retainkit.models.intervals.points`), None
    unless the spend fit has a covariance."""

    options: PredictOptions
    fit: Fit
    gg: GammaGammaParams | None
    rows: Rows
    alive: np.ndarray
    purchases: np.ndarray
    per_value: np.ndarray
    has_amounts: bool
    horizons: tuple[tuple[float, np.ndarray, np.ndarray], ...] = ()
    bands: dict[str, np.ndarray] | None = None
    spend_points: tuple[np.ndarray, ...] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SpendFit:
    """Gamma-Gamma's fit and each customer's expected order value as a function of its
    log-parameters φ = (ln p, ln q, ln γ), times the margin."""

    params: GammaGammaParams
    x: np.ndarray
    mean_value: np.ndarray
    margin: float

    def value(self, phi: np.ndarray) -> np.ndarray:
        p, q, g = np.exp(phi)
        return expected_order_value(GammaGammaParams(p, q, g), self.x, self.mean_value) * self.margin


def combined(first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray]
             ) -> tuple[np.ndarray, np.ndarray]:
    """ln(g·h) and its variance from ln g's and ln h's, the fits independent."""
    return first[0] + second[0], first[1] + second[1]


def zero_where(bound: np.ndarray, worth: np.ndarray) -> np.ndarray:
    """A CLV bound: 0 where the value per purchase is 0 (a margin of 0), NaN where it is unknown."""
    return np.where(worth == 0, 0.0, bound)


@dataclass(frozen=True)
class CustomerPredictions:
    """A shard's customer table and what its sums need besides: each customer's row,
    value per purchase × margin (``worth``) and spend fit."""

    table: pd.DataFrame
    index: np.ndarray
    worth: np.ndarray
    spend: SpendFit | None


def customer_predictions(shard: Shard, fitted: Fitted) -> CustomerPredictions:
    """The ``predict`` table of the shard's customers (SPEC §6): the per-row predictions
    looked up, value and CLV per customer (CLV = discounted purchases per unit × E[M] ×
    margin), the further horizons, the intervals, and ``actual_purchases`` with a holdout."""
    summary, options, gg = shard.fit, fitted.options, fitted.gg
    f = summary.frame
    x = columns(summary)[0]
    index = row_index(fitted.rows, summary)
    money = f["monetary_value"].to_numpy(float)
    value = expected_order_value(gg, x, money) if gg else np.full(len(x), np.nan)
    days = options.time_unit_days
    table = pd.DataFrame({"customer_id": f["customer_id"], "frequency": f["frequency"],
                          # whole days (dates), back from time units without the float's last bit
                          "purchase_span_days": np.rint(f["recency"] * days), "age_days": np.rint(f["T"] * days),
                          "monetary_value": f["monetary_value"], "p_alive": fitted.alive[index],
                          "expected_purchases": fitted.purchases[index], "expected_order_value": value})
    table["clv"] = fitted.per_value[index] * value * options.margin
    with np.errstate(divide="ignore", invalid="ignore"):
        table["value_if_alive"] = np.where(table["p_alive"] > 0, table["clv"] / table["p_alive"], np.nan)
    worth = value * options.margin
    for horizon, purchases, per_value in fitted.horizons:
        name = f"{horizon:g}d"
        table[f"expected_purchases_{name}"] = purchases[index]
        table[f"clv_{name}"] = per_value[index] * worth
    spend = SpendFit(gg, x, money, options.margin) if gg else None
    if fitted.bands is not None:
        bands = fitted.bands
        for column in ("expected_purchases", "p_alive"):
            table[f"{column}_low"] = bands[f"{column}_low"][index]
            table[f"{column}_high"] = bands[f"{column}_high"][index]
        per_customer = (bands["clv_centre"][index], bands["clv_variance"][index])
        if spend is not None and spend.params.covariance is not None:
            per_customer = combined(per_customer, intervals.spread(spend.value, np.log(spend.params.params),
                                                                   spend.params.covariance))
        else:
            per_customer = (per_customer[0] + np.log(np.where(worth > 0, worth, np.nan)), per_customer[1])
        low, high = intervals.bounds(*per_customer, level=options.interval)
        table["clv_low"], table["clv_high"] = zero_where(low, worth), zero_where(high, worth)
    if shard.actual is not None:
        table["actual_purchases"] = shard.actual
    return CustomerPredictions(table, index, worth, spend)


def customer_sums(found: CustomerPredictions, fitted: Fitted) -> dict[str, Any]:
    """The totals' parts over the shard's customers: how many; exact sums of expected
    purchases, expected revenue (expected purchases × E[M]), CLV and P(alive), and of
    each further horizon's; with intervals, the exact sum of value × margin per row and
    of e^(ln discounted purchases per unit) × value × margin at each of
    :attr:`Fitted.spend_points`; with a holdout, the check's sums."""
    table, index, worth = found.table, found.index, found.worth
    purchases = table["expected_purchases"].to_numpy(float)
    value = table["expected_order_value"].to_numpy(float)
    sums: dict[str, Any] = {
        "customers": len(table), "expected_purchases": exact_sum(purchases),
        "expected_revenue": exact_sum(purchases * value), "clv": exact_sum(table["clv"].to_numpy(float)),
        "expected_alive": exact_sum(table["p_alive"].to_numpy(float)),
        "horizons": [[exact_sum(table[f"expected_purchases_{h:g}d"].to_numpy(float)),
                      exact_sum(table[f"clv_{h:g}d"].to_numpy(float))] for h, _, _ in fitted.horizons],
        "known": int(np.isfinite(worth).sum()),
    }
    if fitted.bands is not None:
        known = np.isfinite(worth)
        sums["worth_by_row"] = sums_by(worth[known], index[known])
        if fitted.spend_points is not None and found.spend is not None:
            unit = np.exp(fitted.bands["clv_centre"][index])
            sums["spend_at"] = [exact_sum(unit * found.spend.value(phi)) for phi in fitted.spend_points]
    if "actual_purchases" in table:
        actual = table["actual_purchases"].to_numpy(np.int64)
        groups = groups_of(table["frequency"].to_numpy())
        sums["holdout"] = {
            "predicted": exact_sum(purchases), "actual": int(actual.sum()),
            "absolute": exact_sum(np.abs(purchases - actual)), "pp": exact_sum(purchases * purchases),
            "pa": exact_sum(purchases * actual), "aa": int((actual * actual).sum()),
            "group_customers": np.bincount(groups, minlength=8).astype(np.int64),
            "group_actual": np.bincount(groups, weights=actual, minlength=8).astype(np.int64),
            "group_predicted": sums_by(purchases, groups)}
    return sums


def correlation(n: int, h: dict[str, Any]) -> float | None:
    """Pearson's r of predicted (p) and actual (a) purchases per customer from exact sums:
    (nΣpa − ΣpΣa) / √((nΣp² − (Σp)²)(nΣa² − (Σa)²)), the products p·p and p·a rounded per
    customer; None for fewer than two customers or actual purchases all alike, NaN for
    predictions all alike.

    >>> from fractions import Fraction as F  # p = 1, 2, 3 and a = 1, 1, 2: 3 / √12
    >>> correlation(3, {"predicted": F(6), "pp": F(14), "pa": F(9), "actual": 4, "aa": 6})
    0.8660254037844387
    """
    spread_a = n * h["aa"] - h["actual"] ** 2
    if n < 2 or spread_a <= 0:
        return None
    spread_p = n * h["pp"] - h["predicted"] ** 2
    if spread_p <= 0:
        return math.nan
    r = float(n * h["pa"] - h["predicted"] * h["actual"]) / math.sqrt(float(spread_p)) / math.sqrt(float(spread_a))
    return min(1.0, max(-1.0, r))
