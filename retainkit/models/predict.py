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

Where the work runs (docs/scale.md): customers are in shards, every order of a customer in
its shard (:class:`Shards`; the local engine is :class:`OneShard`, Spark's are in
:mod:`retainkit.spark.predict`). The fits read the shards' distinct rows with their counts,
added (:mod:`retainkit.models.shard`), and run here with every prediction per distinct row
(:func:`fit_state`); each shard predicts its customers from them and sends back counts and
exact sums (:mod:`retainkit.models.per_customer`), from which :func:`finish` makes the totals,
their intervals and the holdout check — the same floats however the customers are split.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, Protocol

import numpy as np
import pandas as pd

from retainkit import defaults
from retainkit.errors import RetainkitError
from retainkit.exact import to_float
from retainkit.models import intervals
from retainkit.models.alive import alive_grid
from retainkit.models.catalogue import AUTO, CHOICES, MODELS
from retainkit.models.gammagamma import GammaGammaParams, fit_gamma_gamma_rows
from retainkit.models.per_customer import Fitted, combined, correlation, customer_predictions, customer_sums
from retainkit.models.scoreboard import Board, board_result, board_sums, default_holdout_day, fit_board
from retainkit.models.shard import (
    FREQUENCY_GROUPS,
    Plan,
    Shard,
    add_parts,
    parts_of,
    rows,
    spend_rows,
    summarise_shard,
)
from retainkit.models.summary import Summary
from retainkit.models.transaction import Fit, Rows, expected_purchases_rows, fit_rows
from retainkit.periods import from_day_number

DAYS_PER_MONTH = 30.4375
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
    customers: pd.DataFrame | Any  # a table held by Spark on that engine (retainkit.spark.predict)
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
    shard = Shard(summary)
    fitted = fit_state(add_parts([parts_of(shard)]), options)
    found = customer_predictions(shard, fitted)
    return finish(fitted, customer_sums(found, fitted), found.table)


def fit_state(parts: dict[str, Any], options: PredictOptions) -> Fitted:
    """On the driver: the purchase model and Gamma-Gamma fitted on the shards' parts, added
    (:func:`retainkit.models.shard.add_parts`), and every prediction per distinct row."""
    found = rows(parts["rows"])
    name = options.model if options.model in MODELS else "bgnbd"
    fit = fit_rows(MODELS[name], found, penalizer=options.penalizer)
    horizon = options.horizon_days / options.time_unit_days
    alive = fit.model.probability_alive(fit.params, found.x, found.t_x, found.T)
    purchases = expected_purchases_rows(fit.model, fit.params, horizon, found, alive)
    per_value = clv_per_value(fit, fit.params, found, options)
    x, money, weight = spend_rows(parts["spend"])
    gg = fit_gamma_gamma_rows(x, money, weight, penalizer=options.penalizer,
                              unknown=parts["spend_unknown"]) if parts["has_amounts"] and len(x) else None
    horizons = tuple((days, expected_purchases_rows(fit.model, fit.params, days / options.time_unit_days, found),
                      clv_per_value(fit, fit.params, found, replace(options, horizon_days=days)))
                     for days in options.more_horizons_days)
    bands = points = None
    if fit.covariance is not None and options.interval > 0:
        bands = _row_bands(fit, found, options)
        if gg is not None and gg.covariance is not None:
            points = tuple(intervals.points(np.log(gg.params)))
    return Fitted(options, fit, gg, found, alive, purchases, per_value, bool(parts["has_amounts"]), horizons, bands,
                  points)


def finish(fitted: Fitted, sums: dict[str, Any], table: Any, plan: Plan | None = None) -> Prediction:
    """On the driver: the totals (and their intervals), the holdout check and the notes
    from the fits and the shards' sums, added; ``table`` is the customers' (pandas, or held
    by Spark)."""
    options, gg, fit = fitted.options, fitted.gg, fitted.fit
    totals: dict[str, Any] = {
        "customers": sums["customers"],
        "horizon_days": options.horizon_days,
        "expected_purchases": to_float(sums["expected_purchases"]),
        "expected_revenue": to_float(sums["expected_revenue"]) if gg else None,
        "clv": to_float(sums["clv"]) if gg else None,
        "expected_alive": to_float(sums["expected_alive"]),
    }
    if options.more_horizons_days:
        totals["horizons"] = [{"horizon_days": days, "expected_purchases": to_float(purchases),
                               "clv": to_float(value) if sums["known"] else None}
                              for days, (purchases, value) in zip(options.more_horizons_days, sums["horizons"],
                                                                  strict=True)]
    notes = tuple(note for note in (fit.note, gg.note if gg else "") if note)
    bands = _total_bands(fitted, sums, totals) if fitted.bands is not None else None
    holdout = _holdout(sums, plan) if "holdout" in sums and plan is not None else None
    found = fitted.rows
    return Prediction(fit, gg, table, totals, holdout, notes=notes if fitted.has_amounts else (*notes, NO_AMOUNTS),
                      intervals=bands, alive_grid=alive_grid(fit, found.x, found.T, options.time_unit_days,
                                                             found.weight))


def _remembered(prediction: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """``prediction`` with its values kept per log-parameter vector: the intervals
    differentiate it at the same points more than once (Σ weight · g has the gradient
    Σ weight · ∇g)."""
    values: dict[bytes, np.ndarray] = {}

    def remembered(theta: np.ndarray) -> np.ndarray:
        key = np.asarray(theta, dtype=np.float64).tobytes()
        if key not in values:
            values[key] = prediction(theta)
        return values[key]

    return remembered


def _predictors(fit: Fit, rows: Rows, options: PredictOptions) -> tuple[Callable[[np.ndarray], np.ndarray], ...]:
    """Expected purchases, P(alive) and discounted purchases per unit of value per row, as
    functions of the log-parameters."""
    model, horizon = fit.model, options.horizon_days / options.time_unit_days
    return (_remembered(lambda t: expected_purchases_rows(model, np.exp(t), horizon, rows)),
            lambda t: model.probability_alive(np.exp(t), rows.x, rows.t_x, rows.T),
            _remembered(lambda t: clv_per_value(fit, np.exp(t), rows, options)))


def _row_bands(fit: Fit, rows: Rows, options: PredictOptions) -> dict[str, np.ndarray]:
    """Per row, the intervals at ``options.interval`` from the purchase model's uncertainty
    (:func:`retainkit.models.intervals.delta`): of expected purchases (ln scale) and
    P(alive) (logit), and ln of the discounted purchases per unit with its variance — CLV's,
    which each customer combines with the spend fit's."""
    theta, cov = np.log(fit.params), fit.covariance
    assert cov is not None
    purchases, alive, clv_unit = _predictors(fit, rows, options)
    bands = {}
    for column, prediction, kind in (("expected_purchases", purchases, "positive"), ("p_alive", alive, "probability")):
        bands[f"{column}_low"], bands[f"{column}_high"] = intervals.delta(prediction, theta, cov,
                                                                          level=options.interval, kind=kind)
    bands["clv_centre"], bands["clv_variance"] = intervals.spread(clv_unit, theta, cov)
    return bands


def _total_bands(fitted: Fitted, sums: dict[str, Any], totals: dict[str, Any]) -> dict[str, Any]:
    """The totals' intervals — Σ weight · expected purchases per row; CLV as Σ over rows of
    the discounted purchases per unit × the exact sum of value × margin of the row's
    customers, and with the spend fit's covariance also over φ, the sum over customers at
    each point of :func:`retainkit.models.intervals.points` coming from the shards, the two
    fits independent (:func:`retainkit.models.intervals.product`) — and the parameters' own."""
    fit, rows, options, gg = fitted.fit, fitted.rows, fitted.options, fitted.gg
    theta, cov, level = np.log(fit.params), fit.covariance, options.interval
    assert cov is not None
    purchases, _, clv_unit = _predictors(fit, rows, options)
    low, high = intervals.delta(lambda t: np.atleast_1d(np.dot(rows.weight, purchases(t))), theta, cov, level=level)
    totals["expected_purchases_low"], totals["expected_purchases_high"] = float(low[0]), float(high[0])
    worth = np.zeros(len(rows.x))
    by_row = sums["worth_by_row"]
    worth[np.array([int(k) for k in by_row], dtype=np.int64)] = [to_float(v) for v in by_row.values()]  # per row
    total = intervals.spread(lambda t: np.atleast_1d(np.dot(worth, clv_unit(t))), theta, cov)
    bands = {"level": level, "method": "delta", "parameters": _bounds(fit.params, cov, fit.model.parameters, level),
             "spend_parameters": None}
    if gg is not None and gg.covariance is not None and fitted.spend_points is not None:
        at = {p.tobytes(): to_float(v) for p, v in zip(fitted.spend_points, sums["spend_at"], strict=True)}
        margin = options.margin
        total = combined(total, intervals.spread(lambda f: np.atleast_1d(at[np.asarray(f).tobytes()] * margin),
                                                 np.log(gg.params), gg.covariance))
        bands["spend_parameters"] = _bounds(gg.params, gg.covariance, ("p", "q", "gamma"), level)
    if sums["known"]:
        low, high = intervals.bounds(*total, level=level)
        totals["clv_low"], totals["clv_high"] = float(low[0]), float(high[0])
    return bands


def _bounds(params: np.ndarray, cov: np.ndarray, names: tuple[str, ...], level: float) -> dict[str, list[float]]:
    low, high = intervals.parameter_intervals(params, cov, level=level)
    return {name: [float(lo), float(hi)] for name, lo, hi in zip(names, low, high, strict=True)}


def _holdout(sums: dict[str, Any], plan: Plan) -> dict[str, Any]:
    """Predicted against actual repeat purchases in the holdout — in total, per frequency
    group and per customer (mean absolute error, correlation) — from exact sums."""
    h, n = sums["holdout"], sums["customers"]
    counts = h["group_customers"]
    by_group = [{"frequency": f"{g}+" if g == FREQUENCY_GROUPS else str(g), "customers": int(counts[g]),
                 "predicted_mean": to_float(h["group_predicted"].get(str(g), Fraction(0)) / int(counts[g])),
                 "actual_mean": float(Fraction(int(h["group_actual"][g]), int(counts[g])))}
                for g in range(FREQUENCY_GROUPS + 1) if counts[g] > 0]
    assert plan.holdout_day is not None
    return {"calibration_end": from_day_number(plan.holdout_day - 1).isoformat(),
            "holdout_days": plan.end_day - plan.holdout_day + 1,
            "predicted_total": to_float(h["predicted"]), "actual_total": h["actual"],
            "mean_absolute_error": to_float(h["absolute"] / n), "correlation": correlation(n, h),
            "by_frequency": by_group}


class Shards(Protocol):
    """Customers in shards, each with every order of its customers: what ``predict`` asks
    of them (:class:`OneShard` locally; :mod:`retainkit.spark.predict` on Spark)."""

    def parts(self, plan: Plan) -> dict[str, Any]:
        """The shards' parts (:func:`retainkit.models.shard.parts_of`), added."""

    def board_sums(self, plan: Plan, board: Board) -> dict[str, Any]:
        """The shards' scoreboard sums (:func:`retainkit.models.scoreboard.board_sums`), added."""

    def predictions(self, plan: Plan, fitted: Fitted) -> tuple[dict[str, Any], Any]:
        """The shards' sums (:func:`retainkit.models.per_customer.customer_sums`), added, and
        the customer table (pandas, or held by Spark)."""


class OneShard:
    """Every customer in one shard: the local engine."""

    def __init__(self, orders: pd.DataFrame) -> None:
        self.orders = orders
        self.summaries: dict[Plan, Shard] = {}

    def shard(self, plan: Plan) -> Shard:
        if plan not in self.summaries:
            self.summaries[plan] = summarise_shard(self.orders, plan)
        return self.summaries[plan]

    def parts(self, plan: Plan) -> dict[str, Any]:
        return add_parts([parts_of(self.shard(plan))])

    def board_sums(self, plan: Plan, board: Board) -> dict[str, Any]:
        return board_sums(self.shard(plan), board)

    def predictions(self, plan: Plan, fitted: Fitted) -> tuple[dict[str, Any], Any]:
        found = customer_predictions(self.shard(plan), fitted)
        return customer_sums(found, fitted), found.table


def predict_with_holdout(orders: pd.DataFrame, *, holdout_day: int, end_day: int,
                         options: PredictOptions) -> Prediction:
    """Fit on purchases before ``holdout_day``; compare predicted and actual repeat purchases
    from ``holdout_day`` to ``end_day`` — in total, per frequency group, and per customer."""
    check_options(options)
    shards, plan = OneShard(orders), Plan(end_day, options.time_unit_days, holdout_day)
    fitted = fit_state(shards.parts(plan), replace(options, horizon_days=end_day - holdout_day + 1))
    return finish(fitted, *shards.predictions(plan, fitted), plan)


def predict_orders(orders: pd.DataFrame, *, start_day: int, end_day: int, holdout_day: int | None,
                   options: PredictOptions) -> Prediction:
    """:func:`predict_shards` with every order in one process (the local engine)."""
    return predict_shards(OneShard(orders), start_day=start_day, end_day=end_day, holdout_day=holdout_day,
                          options=options)


def predict_shards(shards: Shards, *, start_day: int, end_day: int, holdout_day: int | None,
                   options: PredictOptions) -> Prediction:
    """The whole of ``predict``: the scoreboard on ``holdout_day`` (or, without one, on the
    last quarter of the period when it is long enough and the models fit before it), the
    model chosen — ``auto``: the scoreboard's best — and its predictions: fitted before
    ``holdout_day`` and checked against it when one is given, else fitted on all the data.
    The fits run here, on the shards' parts added; the per-customer work in the shards.

    ``notes`` says which model ``auto`` chose and why, and plainly when no model beats the
    naive guess. Without a scoreboard ``auto`` falls back to BG/NBD, and says so.
    """
    check_options(options)
    day = holdout_day if holdout_day is not None else default_holdout_day(start_day, end_day)
    plan = Plan(end_day, options.time_unit_days, holdout_day, day)
    parts = shards.parts(plan)
    board, notes = None, []
    if day is not None:
        try:
            fits = fit_board(rows(parts["board"]), holdout_day=day, end_day=end_day,
                             time_unit_days=options.time_unit_days, penalizer=options.penalizer)
            board = board_result(fits, shards.board_sums(plan, fits))
        except RetainkitError as error:  # a default holdout is tried quietly; one asked for says why it failed
            if holdout_day is not None or options.model == AUTO:
                notes.append(f"no scoreboard: {error.args[0]}")
    chosen = options.model
    if chosen == AUTO:
        chosen = board["best"] if board else "bgnbd"
        why = ("no scoreboard to compare the models on (above), so BG/NBD" if day is not None else
               "there is no holdout to compare the models on (the period is too short), so BG/NBD")
        notes.append(f"--model auto chose {MODELS[chosen].label}: " + (board["verdict"] if board else why))
    elif board and not board["beats_naive"]:
        notes.append(board["verdict"])
    chosen_options = replace(options, model=chosen)
    if holdout_day is not None:  # predicted over the holdout: a window, not a --horizon
        chosen_options = replace(chosen_options, horizon_days=end_day - holdout_day + 1)
    fitted = fit_state(parts, chosen_options)
    result = finish(fitted, *shards.predictions(plan, fitted), plan)
    return replace(result, scoreboard=board, notes=(*result.notes, *notes))
