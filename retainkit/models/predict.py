"""Per-customer predictions, CLV and the holdout check of the models (SPEC §6).

CLV over a horizon: Σ over months m (30.4375 days) of expected purchases in month m ×
expected order value × margin, discounted by (1 + rate/12)^−m (an annual rate compounded
monthly); the last month is cut at the horizon.

Without amounts (no amount column, nor quantity × unit price) only the purchase model
runs: P(alive) and expected purchases are computed, expected order value and CLV are null,
and :data:`NO_AMOUNTS` says why in ``Prediction.notes``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from retainkit import defaults
from retainkit.errors import RetainkitError
from retainkit.models.bgnbd import BgNbdParams, expected_purchases, fit_bgnbd, probability_alive
from retainkit.models.gammagamma import GammaGammaParams, expected_order_value, fit_gamma_gamma
from retainkit.models.summary import Summary, purchase_days_between, summarise

DAYS_PER_MONTH = 30.4375
FREQUENCY_GROUPS = 7  # holdout comparison: 0, 1, …, 6 and "7+" repeat purchases
NO_AMOUNTS = ("expected_order_value and clv are null: the export has no amount column (nor quantity × unit price), "
              "so the spend model (Gamma-Gamma) cannot be fit; p_alive and expected_purchases need only the order "
              "dates — name the amount column with --amount (or --quantity and --price) to get spend and CLV")


MIN_HORIZON_DAYS = 1.0
MAX_HORIZON_DAYS = 36_525.0  # 100 years, 1,200 months; the command line's bound too (cli_options.RANGES)


@dataclass(frozen=True)
class PredictOptions:
    horizon_days: float = defaults.HORIZON_DAYS
    time_unit_days: float = defaults.TIME_UNIT_DAYS
    discount_rate: float = defaults.DISCOUNT_RATE
    margin: float = 1.0
    penalizer: float = defaults.PENALIZER


@dataclass(frozen=True)
class Prediction:
    bgnbd: BgNbdParams
    gamma_gamma: GammaGammaParams | None
    customers: pd.DataFrame
    totals: dict[str, Any]
    holdout: dict[str, Any] | None = None
    notes: tuple[str, ...] = ()  # why a column or total is null, and what to do


def clv(bg: BgNbdParams, value: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
        options: PredictOptions) -> np.ndarray:
    """Discounted value over the horizon: Σ_m ΔE[X]_m · value · margin / (1 + rate/12)^m."""
    months = max(1, math.ceil(options.horizon_days / DAYS_PER_MONTH - 1e-9))
    total = np.zeros(len(x))
    previous = np.zeros(len(x))
    monthly = math.log1p(options.discount_rate / 12)  # (1 + rate/12)^−m as exp(−m·ln(1 + rate/12)): no overflow
    for month in range(1, months + 1):  # a dozen steps (1,200 at most), each vectorised over all customers
        t = min(month * DAYS_PER_MONTH, options.horizon_days) / options.time_unit_days
        cumulative = expected_purchases(bg, t, x, t_x, T)
        total += (cumulative - previous) * math.exp(-month * monthly)
        previous = cumulative
    return total * value * options.margin


def check_options(options: PredictOptions) -> None:
    """Raise :class:`RetainkitError` unless every option is a finite number in its range:
    the horizon from :data:`MIN_HORIZON_DAYS` to :data:`MAX_HORIZON_DAYS` (CLV sums its
    months one by one), the time unit positive, the discount rate ≥ 0, the margin 0 to 1,
    the penalizer ≥ 0."""
    rules = (("--horizon", options.horizon_days, MIN_HORIZON_DAYS, MAX_HORIZON_DAYS, " days (100 years)"),
             ("--time-unit", options.time_unit_days, 0.0, math.inf, " days"),
             ("--discount-rate", options.discount_rate, 0.0, math.inf, ""),
             ("--margin", options.margin, 0.0, 1.0, ""),
             ("--penalizer", options.penalizer, 0.0, math.inf, ""))
    for flag, value, low, high, unit in rules:
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise RetainkitError(f"{flag} {value} is not a finite number")
        if not low <= value <= high or (flag == "--time-unit" and value <= 0):
            span = f"from {low:g} to {high:,g}{unit}" if math.isfinite(high) else f"above {low:g}{unit}"
            raise RetainkitError(f"{flag} {value:g} is out of range: {span}")


def predict(summary: Summary, options: PredictOptions) -> Prediction:
    """Fit BG/NBD on ``summary`` — and Gamma-Gamma when it has amounts — and predict every
    customer over the horizon (SPEC §6). Without amounts, spend and CLV are NaN, the spend
    totals None, and ``notes`` says why; a model fitted at a boundary (no interior maximum)
    says so there too. Raises :class:`RetainkitError` for options out of range
    (:func:`check_options`)."""
    check_options(options)
    return _predict(summary, options)


def _predict(summary: Summary, options: PredictOptions) -> Prediction:
    """:func:`predict` without checking the options (the holdout's window is not a --horizon)."""
    f = summary.frame
    x, t_x, T = f["frequency"].to_numpy(float), f["recency"].to_numpy(float), f["T"].to_numpy(float)
    bg = fit_bgnbd(x, t_x, T, penalizer=options.penalizer)
    horizon = options.horizon_days / options.time_unit_days
    # Customers with the same (x, t_x, T) share every BG/NBD prediction: compute each once.
    rows, back = np.unique(np.column_stack((x, t_x, T)), axis=0, return_inverse=True)
    ux, ut, uT = rows.T
    back = back.ravel()
    purchases = expected_purchases(bg, horizon, ux, ut, uT)[back]
    gg, value = _spend(summary, x, options)
    table = f[["customer_id", "frequency", "recency", "T", "monetary_value"]].copy()
    table["p_alive"] = probability_alive(bg, ux, ut, uT)[back]
    table["expected_purchases"] = purchases
    table["expected_order_value"] = value
    table["clv"] = clv(bg, np.ones(len(ux)), ux, ut, uT, options)[back] * value
    totals = {
        "customers": len(table),
        "horizon_days": options.horizon_days,
        "expected_purchases": float(purchases.sum()),
        "expected_revenue": float(np.nansum(purchases * value)) if gg else None,
        "clv": float(np.nansum(table["clv"])) if gg else None,
        "expected_alive": float(table["p_alive"].sum()),
    }
    notes = tuple(note for note in (bg.note, gg.note if gg else "") if note)
    return Prediction(bg, gg, table, totals, notes=notes if summary.has_amounts else (*notes, NO_AMOUNTS))


def _spend(summary: Summary, x: np.ndarray, options: PredictOptions) -> tuple[GammaGammaParams | None, np.ndarray]:
    """The Gamma-Gamma fit and each customer's expected order value E[M | p, q, γ, m̄, x];
    (None, NaN for all) when the orders had no amounts."""
    money = summary.frame["monetary_value"].to_numpy(float)
    if not summary.has_amounts or not np.isfinite(money).any():
        return None, np.full(len(x), np.nan)
    gg = fit_gamma_gamma(x, money, penalizer=options.penalizer)
    return gg, expected_order_value(gg, x, money)


def predict_with_holdout(orders: pd.DataFrame, *, holdout_day: int, end_day: int,
                         options: PredictOptions) -> Prediction:
    """Fit on purchases before ``holdout_day``; compare predicted and actual repeat purchases
    from ``holdout_day`` to ``end_day`` — in total, per frequency group, and per customer."""
    check_options(options)
    summary = summarise(orders, end_day=holdout_day - 1, time_unit_days=options.time_unit_days)
    window_days = end_day - holdout_day + 1
    result = _predict(summary, PredictOptions(window_days, options.time_unit_days, options.discount_rate,
                                              options.margin, options.penalizer))
    table = result.customers
    actual = purchase_days_between(orders, table["customer_id"], after_day=holdout_day - 1, end_day=end_day)
    table["actual_purchases"] = actual
    predicted = table["expected_purchases"].to_numpy()
    groups = np.minimum(table["frequency"].to_numpy(), FREQUENCY_GROUPS)
    by_group = [
        {"frequency": f"{g}+" if g == FREQUENCY_GROUPS else str(g), "customers": int((groups == g).sum()),
         "predicted_mean": float(predicted[groups == g].mean()), "actual_mean": float(actual[groups == g].mean())}
        for g in range(FREQUENCY_GROUPS + 1) if (groups == g).any()
    ]
    correlation = float(np.corrcoef(predicted, actual)[0, 1]) if len(actual) > 1 and actual.std() > 0 else None
    holdout = {
        "calibration_end_day": holdout_day - 1,
        "holdout_days": window_days,
        "predicted_total": float(predicted.sum()),
        "actual_total": int(actual.sum()),
        "mean_absolute_error": float(np.mean(np.abs(predicted - actual))),
        "correlation": correlation,
        "by_frequency": by_group,
    }
    return Prediction(result.bgnbd, result.gamma_gamma, table, result.totals, holdout, result.notes)
