"""The scoreboard: every transaction model and a naive guess, fitted on the calibration
period and scored on the holdout that follows (SPEC §6).

The naive guess: each customer keeps buying at their calibration rate, x / T repeat
purchases per time unit (none for a customer first seen on the last day). Each model's
expected purchases E[X(T, T+t) | x, t_x, T] and the guess are set against the distinct
purchase days each customer actually made in the holdout:

* total: Σ predicted against Σ actual;
* per customer: mean absolute error and root mean squared error;
* tracking: cumulative repeat purchases of all calibration customers week by week, and
  the mean absolute gap between the predicted and the actual curve;
* per frequency group (0, 1, …, 6, 7+ repeat purchases in calibration): mean predicted
  against mean actual.

The best model is the one with the lowest RMSE per customer: an expectation is the
prediction that minimises squared error, so RMSE is the error the models aim at (MAE
favours predicting the median, often 0). A model that does not beat the naive guess on
it is no better than extrapolating each customer's past, and the verdict says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from retainkit.errors import RetainkitError
from retainkit.models.catalogue import MODELS
from retainkit.models.summary import purchase_days_between, purchase_days_by_week, summarise
from retainkit.models.transaction import Fit, Rows, expected_purchases_rows, fit_model

NAIVE = "naive"
NAIVE_LABEL = "naive guess (each customer keeps their past rate)"
FREQUENCY_GROUPS = 7  # 0, 1, …, 6 and "7+" repeat purchases
MIN_DAYS = 28  # a default holdout needs a period of at least four weeks…
DEFAULT_SHARE = 0.25  # …and is its last quarter


def naive_expected(x: np.ndarray, T: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    """x / T · t: the calibration rate carried on; 0 where T = 0.

    >>> naive_expected(np.array([2.0, 0.0, 3.0]), np.array([10.0, 4.0, 0.0]), 5.0).tolist()
    [1.0, 0.0, 0.0]
    """
    x, T = np.asarray(x, dtype=np.float64), np.asarray(T, dtype=np.float64)
    return np.where(T > 0, x / np.where(T > 0, T, 1.0), 0.0) * t


def default_holdout_day(start_day: int, end_day: int) -> int | None:
    """The first day of the period's last quarter, or None for a period under :data:`MIN_DAYS`."""
    days = end_day - start_day + 1
    if days < MIN_DAYS:
        return None
    return end_day - int(days * DEFAULT_SHARE) + 1


@dataclass(frozen=True)
class Holdout:
    """What the holdout holds: the calibration customers, their actual purchases and the window."""

    rows: Rows  # distinct calibration (x, t_x, T)
    actual: np.ndarray  # per customer
    weekly_actual: np.ndarray  # all customers, per week of the window
    window_units: np.ndarray  # the end of each week of the window (the last one cut), in time units
    groups: np.ndarray  # per customer: min(x, FREQUENCY_GROUPS)


def _holdout(orders: pd.DataFrame, *, holdout_day: int, end_day: int, time_unit_days: float) -> Holdout:
    summary = summarise(orders, end_day=holdout_day - 1, time_unit_days=time_unit_days)
    f = summary.frame
    x = f["frequency"].to_numpy(float)
    rows = Rows.of(x, f["recency"].to_numpy(float), f["T"].to_numpy(float))
    actual = purchase_days_between(orders, f["customer_id"], after_day=holdout_day - 1, end_day=end_day)
    weekly = purchase_days_by_week(orders, f["customer_id"], after_day=holdout_day - 1, end_day=end_day)
    days = end_day - holdout_day + 1
    ends = np.minimum(np.arange(1, len(weekly) + 1) * 7.0, days) / time_unit_days
    return Holdout(rows, actual, weekly, ends, np.minimum(x, FREQUENCY_GROUPS).astype(int))


def _score(name: str, label: str, per_row: np.ndarray, cumulative: np.ndarray, h: Holdout) -> dict[str, Any]:
    """One line of the scoreboard from the predictions per distinct row (whole window) and
    the predicted cumulative total at the end of each week."""
    predicted = per_row[h.rows.back]
    error = predicted - h.actual
    actual_cumulative = np.cumsum(h.weekly_actual)
    groups = [{"frequency": f"{g}+" if g == FREQUENCY_GROUPS else str(g),
               "predicted_mean": float(predicted[h.groups == g].mean())}
              for g in range(FREQUENCY_GROUPS + 1) if (h.groups == g).any()]
    return {"model": name, "label": label, "predicted_total": float(predicted.sum()),
            "mean_absolute_error": float(np.abs(error).mean()), "rmse": float(np.sqrt(np.mean(error**2))),
            "tracking_error": float(np.abs(cumulative - actual_cumulative).mean()),
            "cumulative": [float(v) for v in cumulative], "by_frequency": groups}


def _model_score(fit: Fit, h: Holdout) -> dict[str, Any]:
    model, rows = fit.model, h.rows
    # Σ weight · E[X | alive] · P(alive) = Σ over the (x, T) pairs of E[X | alive] · Σ weight · P(alive)
    x, T, back = rows.pairs
    alive = model.probability_alive(fit.params, rows.x, rows.t_x, rows.T)
    alive_per_pair = np.bincount(back, weights=rows.weight * alive, minlength=len(x))
    weekly = np.array([np.dot(alive_per_pair, model.expected_purchases_if_alive(fit.params, t, x, T))
                       for t in h.window_units])
    per_row = expected_purchases_rows(model, fit.params, h.window_units[-1], rows, alive)
    return _score(model.name, model.label, per_row, weekly, h)


def _naive_score(h: Holdout) -> dict[str, Any]:
    rows = h.rows
    weekly = np.array([np.dot(rows.weight, naive_expected(rows.x, rows.T, t)) for t in h.window_units])
    return _score(NAIVE, NAIVE_LABEL, naive_expected(rows.x, rows.T, h.window_units[-1]), weekly, h)


def score_models(orders: pd.DataFrame, *, holdout_day: int, end_day: int, time_unit_days: float,
                 penalizer: float = 0.0, names: tuple[str, ...] = tuple(MODELS)) -> dict[str, Any]:
    """Fit each of ``names`` on the purchases before ``holdout_day``, score it and the naive
    guess on ``holdout_day`` to ``end_day``; the best model and the verdict in words.

    A model that cannot be fitted on the calibration period is left off the board, with
    the reason in ``failed``. Raises :class:`RetainkitError` when none can be.
    """
    h = _holdout(orders, holdout_day=holdout_day, end_day=end_day, time_unit_days=time_unit_days)
    scores, failed = [_naive_score(h)], {}
    for name in names:
        try:
            fit = fit_model(MODELS[name], h.rows.x[h.rows.back], h.rows.t_x[h.rows.back], h.rows.T[h.rows.back],
                            penalizer=penalizer)
        except RetainkitError as error:
            failed[name] = error.args[0] if error.args else str(error)
            continue
        scores.append(_model_score(fit, h) | {"log_likelihood": fit.log_likelihood, "held_at_limit": bool(fit.note)})
    if len(scores) == 1:
        raise RetainkitError(f"no purchase model could be fitted before the holdout: {next(iter(failed.values()))}",
                             "use an earlier --holdout or a longer period")
    best = min(scores[1:], key=lambda s: s["rmse"])
    return {"calibration_end_day": holdout_day - 1, "holdout_days": end_day - holdout_day + 1,
            "customers": h.rows.customers, "actual_total": int(h.actual.sum()),
            "actual_cumulative": [int(v) for v in np.cumsum(h.weekly_actual)],
            "actual_by_frequency": [float(h.actual[h.groups == g].mean())
                                    for g in range(FREQUENCY_GROUPS + 1) if (h.groups == g).any()],
            "scores": scores, "best": best["model"], "beats_naive": best["rmse"] < scores[0]["rmse"],
            "failed": failed, "verdict": verdict(best, scores)}


def verdict(best: dict[str, Any], scores: list[dict[str, Any]]) -> str:
    """Which model predicted the holdout best and by how much, or that none beat the naive guess."""
    naive = scores[0]
    others = ", ".join(f"{s['label']} {s['rmse']:.3f}" for s in scores[1:] if s is not best)
    versus = f"; {others}" if others else ""
    if best["rmse"] >= naive["rmse"]:
        return (f"no purchase model beats the naive guess on the holdout (each customer keeps buying at their past "
                f"rate): RMSE per customer {naive['rmse']:.3f} for the guess, {best['rmse']:.3f} for the best model, "
                f"{best['label']}{versus} — do not rely on the model's predictions for this data")
    gain = 1 - best["rmse"] / naive["rmse"]
    return (f"{best['label']} predicts the holdout best: RMSE per customer {best['rmse']:.3f} against "
            f"{naive['rmse']:.3f} for the naive guess ({gain:.0%} lower){versus}; predicted "
            f"{best['predicted_total']:,.0f} repeat purchases")
