"""Per-customer predictions, CLV, intervals, the scoreboard and the holdout check (SPEC §6).

Times: the models work in time units of ``time_unit_days`` (weeks by default); every
column of the customer table is in days, whatever the unit: ``purchase_span_days`` (first
to last purchase day: the models' recency t_x, which is not the customer table's
``recency_days``, days since the last order) and ``age_days`` (first purchase day to the
end of the period: the models' T).

CLV over a horizon: Σ over months m (30.4375 days) of expected purchases in month m ×
expected order value × margin, discounted by (1 + rate/12)^−m (an annual rate compounded
monthly); the last month is cut at the horizon.

Without amounts (no amount column, nor quantity × unit price) only the purchase model
runs: P(alive) and expected purchases are computed, expected order value and CLV are null,
and :data:`NO_AMOUNTS` says why in ``Prediction.notes``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from retainkit import defaults
from retainkit.errors import RetainkitError
from retainkit.models import intervals
from retainkit.models.alive import alive_grid
from retainkit.models.catalogue import AUTO, CHOICES, MODELS
from retainkit.models.gammagamma import GammaGammaParams, expected_order_value, fit_gamma_gamma
from retainkit.models.scoreboard import default_holdout_day, score_models
from retainkit.models.summary import Summary, purchase_days_between, summarise
from retainkit.models.transaction import Fit, Rows, expected_purchases_rows, fit_model

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
    model: str = defaults.MODEL  # a name of catalogue.MODELS, or "auto"
    interval: float = defaults.INTERVAL  # the level of every interval; 0: none
    more_horizons_days: tuple[float, ...] = ()  # further horizons: expected_purchases_<N>d, clv_<N>d columns


@dataclass(frozen=True)
class Prediction:
    model: Fit
    gamma_gamma: GammaGammaParams | None
    customers: pd.DataFrame
    totals: dict[str, Any]
    holdout: dict[str, Any] | None = None
    notes: tuple[str, ...] = ()  # why a column or total is null, and what to do
    scoreboard: dict[str, Any] | None = None
    intervals: dict[str, Any] | None = None  # level, method, each parameter's interval
    alive_grid: dict[str, Any] | None = None  # P(alive) over frequency × purchase span, for charts


def clv_per_value(fit: Fit, params: np.ndarray, rows: Rows, options: PredictOptions) -> np.ndarray:
    """Discounted purchases over the horizon per unit of order value and margin, per row:
    Σ_m ΔE[X]_m / (1 + rate/12)^m = P(alive) · Σ_m ΔE[X | alive]_m / (1 + rate/12)^m."""
    months = max(1, math.ceil(options.horizon_days / DAYS_PER_MONTH - 1e-9))
    x, T, back = rows.pairs  # E[X | alive] depends on (x, T) alone: P(alive) multiplies the sum once
    total = np.zeros(len(x))
    previous = np.zeros(len(x))
    monthly = math.log1p(options.discount_rate / 12)  # (1 + rate/12)^−m as exp(−m·ln(1 + rate/12)): no overflow
    for month in range(1, months + 1):  # a dozen steps (1,200 at most), each vectorised over the (x, T) pairs
        t = min(month * DAYS_PER_MONTH, options.horizon_days) / options.time_unit_days
        cumulative = fit.model.expected_purchases_if_alive(params, t, x, T)
        total += (cumulative - previous) * math.exp(-month * monthly)
        previous = cumulative
    return total[back] * fit.model.probability_alive(params, rows.x, rows.t_x, rows.T)


def clv(fit: Fit, value: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
        options: PredictOptions) -> np.ndarray:
    """Discounted value over the horizon: Σ_m ΔE[X]_m · value · margin / (1 + rate/12)^m."""
    rows = Rows.of(x, t_x, T)
    return clv_per_value(fit, fit.params, rows, options)[rows.back] * value * options.margin


def check_options(options: PredictOptions) -> None:
    """Raise :class:`RetainkitError` unless every option is a finite number in its range:
    the horizon from :data:`MIN_HORIZON_DAYS` to :data:`MAX_HORIZON_DAYS` (CLV sums its
    months one by one), the time unit positive, the discount rate ≥ 0, the margin 0 to 1,
    the penalizer ≥ 0, the interval level from 0 to 0.999; and a model of the catalogue."""
    rules: tuple[tuple[str, float, float, float, str], ...] = (
             ("--horizon", options.horizon_days, MIN_HORIZON_DAYS, MAX_HORIZON_DAYS, " days (100 years)"),
             ("--time-unit", options.time_unit_days, 0.0, math.inf, " days"),
             ("--discount-rate", options.discount_rate, 0.0, math.inf, ""),
             ("--margin", options.margin, 0.0, 1.0, ""),
             ("--penalizer", options.penalizer, 0.0, math.inf, ""),
             ("--interval", options.interval, 0.0, 0.999, ""))
    rules += tuple(("--horizons", h, MIN_HORIZON_DAYS, MAX_HORIZON_DAYS, " days (100 years)")
                   for h in options.more_horizons_days)
    for flag, value, low, high, unit in rules:
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise RetainkitError(f"{flag} {value} is not a finite number")
        if not low <= value <= high or (flag == "--time-unit" and value <= 0):
            span = f"from {low:g} to {high:,g}{unit}" if math.isfinite(high) else f"above {low:g}{unit}"
            raise RetainkitError(f"{flag} {value:g} is out of range: {span}")
    if options.model not in CHOICES:
        raise RetainkitError(f"--model {options.model} is not a model", f"choose one of {', '.join(CHOICES)}")


def predict(summary: Summary, options: PredictOptions) -> Prediction:
    """Fit the purchase model ``options.model`` on ``summary`` — and Gamma-Gamma when it has
    amounts — and predict every customer over the horizon, with intervals at
    ``options.interval`` (SPEC §6). Without amounts, spend and CLV are NaN, the spend
    totals None, and ``notes`` says why; a model fitted at a boundary (no interior
    maximum) says so there too, and gets no intervals. ``auto`` needs the orders for a
    holdout: :func:`predict_orders`; here it means BG/NBD. Raises :class:`RetainkitError`
    for options out of range (:func:`check_options`)."""
    check_options(options)
    return _predict(summary, options)


def _predict(summary: Summary, options: PredictOptions) -> Prediction:
    """:func:`predict` without checking the options (the holdout's window is not a --horizon)."""
    f = summary.frame
    x, t_x, T = f["frequency"].to_numpy(float), f["recency"].to_numpy(float), f["T"].to_numpy(float)
    name = options.model if options.model in MODELS else "bgnbd"
    fit = fit_model(MODELS[name], x, t_x, T, penalizer=options.penalizer)
    rows = Rows.of(x, t_x, T)  # customers with the same (x, t_x, T) share every prediction: each computed once
    horizon = options.horizon_days / options.time_unit_days
    alive = fit.model.probability_alive(fit.params, rows.x, rows.t_x, rows.T)
    purchases = expected_purchases_rows(fit.model, fit.params, horizon, rows, alive)
    per_value = clv_per_value(fit, fit.params, rows, options)
    gg, value = _spend(summary, x, options)
    days = options.time_unit_days
    table = pd.DataFrame({"customer_id": f["customer_id"], "frequency": f["frequency"],
                          "purchase_span_days": f["recency"] * days, "age_days": f["T"] * days,
                          "monetary_value": f["monetary_value"], "p_alive": alive[rows.back],
                          "expected_purchases": purchases[rows.back], "expected_order_value": value})
    table["clv"] = per_value[rows.back] * value * options.margin
    with np.errstate(divide="ignore", invalid="ignore"):
        table["value_if_alive"] = np.where(table["p_alive"] > 0, table["clv"] / table["p_alive"], np.nan)
    totals: dict[str, Any] = {
        "customers": len(table),
        "horizon_days": options.horizon_days,
        "expected_purchases": float(table["expected_purchases"].sum()),
        "expected_revenue": float(np.nansum(table["expected_purchases"] * value)) if gg else None,
        "clv": float(np.nansum(table["clv"])) if gg else None,
        "expected_alive": float(table["p_alive"].sum()),
    }
    if options.more_horizons_days:
        totals["horizons"] = _more_horizons(fit, rows, table, value * options.margin, options)
    notes = tuple(note for note in (fit.note, gg.note if gg else "") if note)
    bands = None
    if fit.covariance is not None and options.interval > 0:
        spend = _SpendFit(gg, x, f["monetary_value"].to_numpy(float), options.margin) if gg else None
        bands = _intervals(fit, rows, table, totals, value * options.margin, options, spend)
    return Prediction(fit, gg, table, totals, notes=notes if summary.has_amounts else (*notes, NO_AMOUNTS),
                      intervals=bands, alive_grid=alive_grid(fit, x, T, options.time_unit_days))


def _more_horizons(fit: Fit, rows: Rows, table: pd.DataFrame, worth: np.ndarray,
                   options: PredictOptions) -> list[dict[str, Any]]:
    """``expected_purchases_<N>d`` and ``clv_<N>d`` columns for each further horizon of N
    days, and their totals (CLV null without amounts)."""
    totals = []
    for days in options.more_horizons_days:
        at = replace(options, horizon_days=days)
        purchases = expected_purchases_rows(fit.model, fit.params, days / options.time_unit_days, rows)
        name = f"{days:g}d"
        table[f"expected_purchases_{name}"] = purchases[rows.back]
        table[f"clv_{name}"] = clv_per_value(fit, fit.params, rows, at)[rows.back] * worth
        known = np.isfinite(worth).any()
        totals.append({"horizon_days": days, "expected_purchases": float(table[f"expected_purchases_{name}"].sum()),
                       "clv": float(np.nansum(table[f"clv_{name}"])) if known else None})
    return totals


def _remembered(prediction: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """``prediction`` with its values kept per log-parameter vector: the totals' intervals
    differentiate the per-customer predictions at the same points as their own intervals,
    so each is computed once (Σ weight · g has the gradient Σ weight · ∇g)."""
    values: dict[bytes, np.ndarray] = {}

    def remembered(theta: np.ndarray) -> np.ndarray:
        key = np.asarray(theta, dtype=np.float64).tobytes()
        if key not in values:
            values[key] = prediction(theta)
        return values[key]

    return remembered


def _intervals(fit: Fit, rows: Rows, table: pd.DataFrame, totals: dict[str, Any], worth: np.ndarray,
               options: PredictOptions, spend: _SpendFit | None = None) -> dict[str, Any]:
    """Add ``*_low``/``*_high`` columns and totals at ``options.interval`` from the parameters'
    uncertainty (:func:`retainkit.models.intervals.delta`): the purchase model's, and for
    CLV also Gamma-Gamma's when ``spend`` has its covariance, the two fits taken as
    independent (:func:`retainkit.models.intervals.product`); the parameters' own intervals."""
    theta, cov, level, model = np.log(fit.params), fit.covariance, options.interval, fit.model
    horizon = options.horizon_days / options.time_unit_days

    @_remembered
    def purchases(t: np.ndarray) -> np.ndarray:
        return expected_purchases_rows(model, np.exp(t), horizon, rows)

    def alive(t: np.ndarray) -> np.ndarray:
        return model.probability_alive(np.exp(t), rows.x, rows.t_x, rows.T)

    @_remembered
    def clv_unit(t: np.ndarray) -> np.ndarray:
        return clv_per_value(fit, np.exp(t), rows, options)

    assert cov is not None
    for column, prediction, kind in (("expected_purchases", purchases, "positive"), ("p_alive", alive, "probability")):
        low, high = intervals.delta(prediction, theta, cov, level=level, kind=kind)
        table[f"{column}_low"], table[f"{column}_high"] = low[rows.back], high[rows.back]
    low, high = intervals.delta(lambda t: np.atleast_1d(np.dot(rows.weight, purchases(t))), theta, cov, level=level)
    totals["expected_purchases_low"], totals["expected_purchases_high"] = float(low[0]), float(high[0])
    centre, variance = intervals.spread(clv_unit, theta, cov)
    per_customer = (centre[rows.back], variance[rows.back])
    known = np.isfinite(worth)
    counts = np.bincount(rows.back[known], weights=worth[known], minlength=len(rows.x))
    total = intervals.spread(lambda t: np.atleast_1d(np.dot(counts, clv_unit(t))), theta, cov)
    bands = {"level": level, "method": "delta", "parameters": _bounds(fit.params, cov, model.parameters, level),
             "spend_parameters": None}
    if spend is not None and spend.params.covariance is not None:
        phi, phi_cov = np.log(spend.params.params), spend.params.covariance
        unit = per_customer[0]  # ln of the discounted purchases per unit of value, per customer
        margin = options.margin
        per_customer = _combined(per_customer, intervals.spread(spend.value, phi, phi_cov))
        total = _combined(total, intervals.spread(
            lambda f: np.atleast_1d(np.nansum(np.exp(unit) * spend.value(f)) * margin), phi, phi_cov))
        bands["spend_parameters"] = _bounds(spend.params.params, phi_cov, ("p", "q", "gamma"), level)
    else:
        per_customer = (per_customer[0] + np.log(np.where(worth > 0, worth, np.nan)), per_customer[1])
    low, high = intervals.bounds(*per_customer, level=level)
    table["clv_low"], table["clv_high"] = _zero_where(low, worth), _zero_where(high, worth)
    if known.any():
        low, high = intervals.bounds(*total, level=level)
        totals["clv_low"], totals["clv_high"] = float(low[0]), float(high[0])
    return bands


@dataclass(frozen=True)
class _SpendFit:
    """Gamma-Gamma's fit and each customer's expected order value as a function of its
    log-parameters φ = (ln p, ln q, ln γ), times the margin."""

    params: GammaGammaParams
    x: np.ndarray
    mean_value: np.ndarray
    margin: float

    def value(self, phi: np.ndarray) -> np.ndarray:
        p, q, g = np.exp(phi)
        return expected_order_value(GammaGammaParams(p, q, g), self.x, self.mean_value) * self.margin


def _combined(first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray]
              ) -> tuple[np.ndarray, np.ndarray]:
    """ln(g·h) and its variance from ln g's and ln h's, the fits independent."""
    return first[0] + second[0], first[1] + second[1]


def _zero_where(bound: np.ndarray, worth: np.ndarray) -> np.ndarray:
    """A CLV bound: 0 where the value per purchase is 0 (a margin of 0), NaN where it is unknown."""
    return np.where(worth == 0, 0.0, bound)


def _bounds(params: np.ndarray, cov: np.ndarray, names: tuple[str, ...], level: float) -> dict[str, list[float]]:
    low, high = intervals.parameter_intervals(params, cov, level=level)
    return {name: [float(lo), float(hi)] for name, lo, hi in zip(names, low, high, strict=True)}


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
    result = _predict(summary, replace(options, horizon_days=window_days))
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
    return replace(result, holdout=holdout)


def predict_orders(orders: pd.DataFrame, *, start_day: int, end_day: int, holdout_day: int | None,
                   options: PredictOptions) -> Prediction:
    """The whole of ``predict``: the scoreboard on ``holdout_day`` (or, without one, on the
    last quarter of the period when it is long enough and the models fit before it), the
    model chosen — ``auto``: the scoreboard's best — and its predictions: fitted before
    ``holdout_day`` and checked against it when one is given, else fitted on all the data.

    ``notes`` says which model ``auto`` chose and why, and plainly when no model beats the
    naive guess. Without a scoreboard ``auto`` falls back to BG/NBD, and says so.
    """
    check_options(options)
    day = holdout_day if holdout_day is not None else default_holdout_day(start_day, end_day)
    board, notes = None, []
    if day is not None:
        try:
            board = score_models(orders, holdout_day=day, end_day=end_day, time_unit_days=options.time_unit_days,
                                 penalizer=options.penalizer)
        except RetainkitError as error:  # a default holdout is tried quietly; one asked for says why it failed
            if holdout_day is not None or options.model == AUTO:
                notes.append(f"no scoreboard: {error.args[0]}")
    chosen = options.model
    if chosen == AUTO:
        chosen = board["best"] if board else "bgnbd"
        notes.append(f"--model auto chose {MODELS[chosen].label}: " + (board["verdict"] if board else
                     "there is no holdout to compare the models on (the period is too short), so BG/NBD"))
    elif board and not board["beats_naive"]:
        notes.append(board["verdict"])
    chosen_options = replace(options, model=chosen)
    if holdout_day is not None:
        result = predict_with_holdout(orders, holdout_day=holdout_day, end_day=end_day, options=chosen_options)
    else:
        result = _predict(summarise(orders, end_day=end_day, time_unit_days=options.time_unit_days), chosen_options)
    return replace(result, scoreboard=board, notes=(*result.notes, *notes))
