"""What ``predict`` reads of a shard of customers — the local engine being one shard of all
of them — and how the shards' parts add up (SPEC §6; docs/scale.md).

A shard holds every order of its customers, so the summaries (:func:`summarise`) and the
holdout's purchase days run on it unchanged (:func:`summarise_shard`). What the fits read
of the customers is additive (:func:`parts_of`): the distinct (x, t_x, T) rows and how
many customers share each — of the customers predicted for and of the scoreboard's
calibration customers — and the distinct (x, m̄) of the repeat buyers, counted likewise;
put together on the driver (:func:`add_parts`, then :meth:`Rows.added`), they are the rows
of all the customers. Once the models are fitted, each shard looks its customers up among
the rows (:func:`row_index`) and sends back sums over them that add exactly:
integers, exact sums of floats (:mod:`retainkit.exact`) and exact sums per row or group
(:func:`retainkit.exact.exact_sums_by`); :func:`add_sums` adds them, :func:`encode` and
:func:`decode` carry them as one JSON text per shard.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from retainkit.exact import as_text, exact_sums_by, from_text
from retainkit.models.summary import Summary, purchase_days_between, purchase_days_by_week, summarise
from retainkit.models.transaction import Rows, distinct_rows, merge_counted

FREQUENCY_GROUPS = 7  # 0, 1, …, 6 and "7+" repeat purchases


@dataclass(frozen=True)
class Plan:
    """What the shards summarise: orders up to ``end_day``; with ``holdout_day`` the
    predictions are fitted before it and checked from it on; ``board_day`` is the
    scoreboard's holdout (None: no scoreboard)."""

    end_day: int
    time_unit_days: float
    holdout_day: int | None = None
    board_day: int | None = None

    @property
    def fit_end_day(self) -> int:
        return self.end_day if self.holdout_day is None else self.holdout_day - 1


@dataclass(frozen=True)
class Shard:
    """A shard's summaries: of the customers predicted for (``fit``) and their purchase days
    from the holdout on (``actual``, with a holdout); of the scoreboard's calibration
    customers (``board``), theirs (``board_actual``) and all of theirs per week
    (``board_weekly``)."""

    fit: Summary
    actual: np.ndarray | None = None
    board: Summary | None = None
    board_actual: np.ndarray | None = None
    board_weekly: np.ndarray | None = None


def summarise_shard(orders: pd.DataFrame, plan: Plan) -> Shard:
    """The summaries of :class:`Shard` on the orders of some customers (every order of each)."""
    unit = plan.time_unit_days
    fit = summarise(orders, end_day=plan.fit_end_day, time_unit_days=unit)
    actual = None
    if plan.holdout_day is not None:
        actual = purchase_days_between(orders, fit.frame["customer_id"], after_day=plan.fit_end_day,
                                       end_day=plan.end_day)
    if plan.board_day is None:
        return Shard(fit, actual)
    after = plan.board_day - 1
    board, board_actual = fit, actual
    if plan.board_day != plan.holdout_day:
        board = summarise(orders, end_day=after, time_unit_days=unit)
        board_actual = purchase_days_between(orders, board.frame["customer_id"], after_day=after,
                                             end_day=plan.end_day)
    weekly = purchase_days_by_week(orders, board.frame["customer_id"], after_day=after, end_day=plan.end_day)
    return Shard(fit, actual, board, board_actual, weekly)


def columns(summary: Summary) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each customer's (x, t_x, T), in time units."""
    f = summary.frame
    return f["frequency"].to_numpy(float), f["recency"].to_numpy(float), f["T"].to_numpy(float)


def _counted(*values: np.ndarray) -> dict[str, np.ndarray]:
    found, _, counts = distinct_rows(*values)
    return {"columns": np.array(found, dtype=np.float64), "weight": counts.astype(np.float64)}


def parts_of(shard: Shard) -> dict[str, Any]:
    """What the fits read of a shard: its distinct (x, t_x, T) rows with their counts (and
    the scoreboard's calibration rows), the distinct (x, m̄) of repeat buyers with a finite
    m̄ with their counts, and how many repeat buyers have none."""
    x, _, _ = found = columns(shard.fit)
    money = shard.fit.frame["monetary_value"].to_numpy(float)
    known = (x > 0) & np.isfinite(money)
    parts = {"rows": _counted(*found), "spend": _counted(x[known], money[known]),
             "spend_unknown": int(((x > 0) & ~known).sum()), "has_amounts": shard.fit.has_amounts}
    if shard.board is not None:
        parts["board"] = _counted(*columns(shard.board))
    return parts


def add_parts(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The shards' parts put together (rows one after another: :func:`rows` makes them distinct)."""
    added: dict[str, Any] = {"spend_unknown": sum(p["spend_unknown"] for p in parts),
                             "has_amounts": all(p["has_amounts"] for p in parts)}
    for key in ("rows", "spend", "board"):
        if parts and key in parts[0]:
            added[key] = {"columns": np.concatenate([p[key]["columns"] for p in parts], axis=1),
                          "weight": np.concatenate([p[key]["weight"] for p in parts])}
    return added


def rows(counted: dict[str, np.ndarray]) -> Rows:
    """The distinct (x, t_x, T) rows of counted parts, as :meth:`Rows.of` on all their customers."""
    x, t_x, T = counted["columns"]
    return Rows.added(x, t_x, T, counted["weight"])


def spend_rows(counted: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (x, m̄) of counted parts and how many customers share each."""
    (x, money), weight = merge_counted(*counted["columns"], weight=counted["weight"])
    return x, money, weight


def row_index(found: Rows, summary: Summary) -> np.ndarray:
    """Each customer's row among the distinct rows ``found`` (all the shards'): a look-up of
    (x, t_x, T), vectorised."""
    x, t_x, T = columns(summary)
    index = pd.MultiIndex.from_arrays([found.x, found.t_x, found.T]).get_indexer(
        pd.MultiIndex.from_arrays([x, t_x, T]))
    if (index < 0).any():  # pragma: no cover - the rows are made of these customers
        raise AssertionError("a customer's (x, t_x, T) is not among the fitted rows")
    return np.asarray(index, dtype=np.int64)


def groups_of(x: np.ndarray) -> np.ndarray:
    """Frequency groups: 0, 1, …, 6 and 7 for "7+" repeat purchases."""
    return np.minimum(x, FREQUENCY_GROUPS).astype(np.int64)


def keyed(sums: dict[int, Fraction]) -> dict[str, Fraction]:
    """Exact sums per row or group with text keys (as JSON carries them)."""
    return {str(k): v for k, v in sums.items()}


def sums_by(values: np.ndarray, groups: np.ndarray) -> dict[str, Fraction]:
    """:func:`retainkit.exact.exact_sums_by` with text keys."""
    return keyed(exact_sums_by(values, groups))


def add_sums(first: Any, second: Any) -> Any:
    """Two shards' sums added: integers, exact sums (fractions) and integer arrays add; dicts
    add key by key (a key one shard lacks is the other's); lists add item by item."""
    if isinstance(first, dict):
        return {k: add_sums(first[k], second[k]) if k in first and k in second else first.get(k, second.get(k))
                for k in first | second}
    if isinstance(first, list):
        return [add_sums(a, b) for a, b in zip(first, second, strict=True)]
    if isinstance(first, bool):
        return first and second
    return first + second


def encode(value: Any) -> str:
    """Parts or sums as one JSON text: fractions exactly (``"n/d"``), arrays with their type."""
    return json.dumps(_plain(value))


def decode(text: str) -> Any:
    """:func:`encode` read back."""
    return _typed(json.loads(text))


def _plain(value: Any) -> Any:
    if isinstance(value, Fraction):
        return {"~q": as_text(value)}
    if isinstance(value, np.ndarray):
        return {"~a": value.tolist(), "~t": str(value.dtype), "~s": list(value.shape)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _typed(value: Any) -> Any:
    if isinstance(value, dict):
        if "~q" in value:
            return from_text(value["~q"])
        if "~a" in value:
            return np.array(value["~a"], dtype=value["~t"]).reshape(value["~s"])
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return value
