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

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from retainkit.errors import RetainkitError
from retainkit.exact import exact_sum, to_float
from retainkit.models.catalogue import MODELS
from retainkit.models.shard import (
    FREQUENCY_GROUPS,
    Plan,
    Shard,
    columns,
    groups_of,
    parts_of,
    row_index,
    rows,
    summarise_shard,
    sums_by,
)
from retainkit.models.transaction import Rows, expected_purchases_rows, fit_rows
from retainkit.periods import from_day_number

NAIVE = "naive"
NAIVE_LABEL = "naive guess (each customer keeps their past rate)"
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


def window_units(holdout_day: int, end_day: int, time_unit_days: float) -> np.ndarray:
    """The end of each week of the holdout (the last one cut at ``end_day``), in time units."""
    days = end_day - holdout_day + 1
    return np.minimum(np.arange(1, -(-days // 7) + 1) * 7.0, days) / time_unit_days


@dataclass(frozen=True)
class Board:
    """The scoreboard's fits, on the driver: the calibration customers' distinct rows and a
    line per prediction — the naive guess first, then each model fitted — with its
    prediction per row over the whole holdout (``per_row``) and the predicted cumulative
    total at the end of each week (``cumulative``)."""

    rows: Rows
    lines: list[dict[str, Any]]
    failed: dict[str, str]
    holdout_day: int
    end_day: int


def fit_board(rows: Rows, *, holdout_day: int, end_day: int, time_unit_days: float, penalizer: float = 0.0,
              names: tuple[str, ...] = tuple(MODELS)) -> Board:
    """Fit each of ``names`` on the calibration ``rows``; each line's predictions per row.
    A model that cannot be fitted is left off, with the reason in ``failed``; raises
    :class:`RetainkitError` when none can be."""
    units = window_units(holdout_day, end_day, time_unit_days)
    weekly = np.array([np.dot(rows.weight, naive_expected(rows.x, rows.T, t)) for t in units])
    lines = [{"model": NAIVE, "label": NAIVE_LABEL, "per_row": naive_expected(rows.x, rows.T, units[-1]),
              "cumulative": weekly, "extra": {}}]
    failed = {}
    for name in names:
        try:
            fit = fit_rows(MODELS[name], rows, penalizer=penalizer)
        except RetainkitError as error:
            failed[name] = error.args[0] if error.args else str(error)
            continue
        model = fit.model
        # Σ weight · E[X | alive] · P(alive) = Σ over the (x, T) pairs of E[X | alive] · Σ weight · P(alive)
        x, T, back = rows.pairs
        alive = model.probability_alive(fit.params, rows.x, rows.t_x, rows.T)
        alive_per_pair = np.bincount(back, weights=rows.weight * alive, minlength=len(x))
        weekly = np.array([np.dot(alive_per_pair, model.expected_purchases_if_alive(fit.params, t, x, T))
                           for t in units])
        lines.append({"model": model.name, "label": model.label, "cumulative": weekly,
                      "per_row": expected_purchases_rows(model, fit.params, units[-1], rows, alive),
                      "extra": {"log_likelihood": fit.log_likelihood, "held_at_limit": bool(fit.note)}})
    if len(lines) == 1 and names:
        raise RetainkitError(f"no purchase model could be fitted before the holdout: {next(iter(failed.values()))}",
                             "use an earlier --holdout or a longer period")
    return Board(rows, lines, failed, holdout_day, end_day)


def board_sums(shard: Shard, board: Board) -> dict[str, Any]:
    """A shard's part of the scoreboard (its calibration customers): counts and purchase
    days (in all, per frequency group, per week) and, per line, exact sums of the
    predictions, absolute errors and squared errors, and of the predictions per group."""
    assert shard.board is not None and shard.board_actual is not None and shard.board_weekly is not None
    index = row_index(board.rows, shard.board)
    actual = shard.board_actual
    groups = groups_of(columns(shard.board)[0])
    lines = []
    for line in board.lines:
        predicted = line["per_row"][index]
        error = predicted - actual
        lines.append({"predicted": exact_sum(predicted), "absolute": exact_sum(np.abs(error)),
                      "squared": exact_sum(error**2), "groups": sums_by(predicted, groups)})
    return {"customers": len(index), "actual": int(actual.sum()), "weekly": shard.board_weekly.astype(np.int64),
            "group_customers": np.bincount(groups, minlength=FREQUENCY_GROUPS + 1).astype(np.int64),
            "group_actual": np.bincount(groups, weights=actual, minlength=FREQUENCY_GROUPS + 1).astype(np.int64),
            "lines": lines}


def board_result(board: Board, sums: dict[str, Any]) -> dict[str, Any]:
    """The scoreboard from the fits and every shard's sums, added (:func:`score_lines`): the
    best model (lowest RMSE) and the verdict."""
    n, counts = sums["customers"], sums["group_customers"]
    scores = score_lines(board, sums)
    best = min(scores[1:], key=lambda s: s["rmse"])
    present = [g for g in range(FREQUENCY_GROUPS + 1) if counts[g] > 0]
    return {"calibration_end": from_day_number(board.holdout_day - 1).isoformat(),
            "holdout_days": board.end_day - board.holdout_day + 1,
            "customers": n, "actual_total": sums["actual"],
            "actual_cumulative": [int(v) for v in np.cumsum(sums["weekly"])],
            "actual_by_frequency": [float(Fraction(int(sums["group_actual"][g]), int(counts[g]))) for g in present],
            "scores": scores, "best": best["model"], "beats_naive": best["rmse"] < scores[0]["rmse"],
            "failed": board.failed, "verdict": verdict(best, scores)}


def score_lines(board: Board, sums: dict[str, Any]) -> list[dict[str, Any]]:
    """Per line of ``board``: the predicted total, the mean absolute error and the RMSE per
    customer (exact sums, divided and rounded once), the tracking error (the mean gap of the
    cumulative curves, week by week) and the mean prediction per frequency group."""
    n, counts = sums["customers"], sums["group_customers"]
    present = [g for g in range(FREQUENCY_GROUPS + 1) if counts[g] > 0]
    actual_cumulative = np.cumsum(sums["weekly"])
    scores = []
    for line, part in zip(board.lines, sums["lines"], strict=True):
        groups = [{"frequency": _group(g), "predicted_mean": to_float(part["groups"].get(str(g), Fraction(0))
                                                                        / int(counts[g]))} for g in present]
        cumulative = line["cumulative"]
        scores.append({"model": line["model"], "label": line["label"], "predicted_total": to_float(part["predicted"]),
                       "mean_absolute_error": to_float(part["absolute"] / n),
                       "rmse": math.sqrt(to_float(part["squared"] / n)),
                       "tracking_error": float(np.abs(cumulative - actual_cumulative).mean()),
                       "cumulative": [float(v) for v in cumulative], "by_frequency": groups} | line["extra"])
    return scores


def _group(g: int) -> str:
    return f"{g}+" if g == FREQUENCY_GROUPS else str(g)


def score_models(orders: pd.DataFrame, *, holdout_day: int, end_day: int, time_unit_days: float,
                 penalizer: float = 0.0, names: tuple[str, ...] = tuple(MODELS)) -> dict[str, Any]:
    """Fit each of ``names`` on the purchases before ``holdout_day``, score it and the naive
    guess on ``holdout_day`` to ``end_day``; the best model and the verdict in words — the
    orders taken as one shard (:mod:`retainkit.models.shard`).

    A model that cannot be fitted on the calibration period is left off the board, with
    the reason in ``failed``. Raises :class:`RetainkitError` when none can be.
    """
    shard = summarise_shard(orders, Plan(end_day, time_unit_days, board_day=holdout_day))
    board = fit_board(rows(parts_of(shard)["board"]), holdout_day=holdout_day, end_day=end_day,
                      time_unit_days=time_unit_days, penalizer=penalizer, names=names)
    return board_result(board, board_sums(shard, board))


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
