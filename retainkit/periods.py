"""The analysis period and the churn windows (SPEC §2).

Days are counted as integers since 1970-01-01 (``day numbers``) inside retainkit; the
period turns them back into dates for output.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from retainkit.errors import RetainkitError

EPOCH = date(1970, 1, 1)
DEFAULT_CHURN_WINDOW_DAYS = 365


def day_number(value: date) -> int:
    """Days since 1970-01-01. ``day_number(date(1970, 1, 2)) == 1``."""
    return (value - EPOCH).days


def from_day_number(day: int) -> date:
    return EPOCH + timedelta(days=int(day))


@dataclass(frozen=True)
class Period:
    """``[start, end]`` inclusive, and the churn window ``L`` anchored at ``end``.

    Current window: ``(end − L, end]``; base window: ``(end − 2L, end − L]``.
    """

    start: date
    end: date
    churn_window_days: int = DEFAULT_CHURN_WINDOW_DAYS

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise RetainkitError(f"--from {self.start} is after --to {self.end}", "swap them")
        if self.churn_window_days < 1:
            raise RetainkitError(f"--churn-window {self.churn_window_days} must be at least 1 day")

    @property
    def start_day(self) -> int:
        return day_number(self.start)

    @property
    def end_day(self) -> int:
        return day_number(self.end)

    @property
    def length_days(self) -> int:
        return self.end_day - self.start_day + 1

    @property
    def current_window(self) -> tuple[date, date]:
        """First and last date of ``(end − L, end]``."""
        return self.end - timedelta(days=self.churn_window_days - 1), self.end

    @property
    def base_window(self) -> tuple[date, date]:
        """First and last date of ``(end − 2L, end − L]``."""
        last = self.end - timedelta(days=self.churn_window_days)
        return last - timedelta(days=self.churn_window_days - 1), last

    def as_dict(self) -> dict[str, object]:
        current, base = self.current_window, self.base_window
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "days": self.length_days,
            "churn_window_days": self.churn_window_days,
            "current_window": {"from": current[0].isoformat(), "to": current[1].isoformat()},
            "base_window": {"from": base[0].isoformat(), "to": base[1].isoformat()},
        }


def resolve_period(
    orders: pd.DataFrame,
    *,
    start: date | None = None,
    end: date | None = None,
    churn_window_days: int | None = None,
) -> Period:
    """The period asked for, defaulting to the first and last order date (SPEC §2).

    Refunds do not extend the default period. The churn window defaults to the period's
    length when ``start`` is given, else 365 days.
    """
    order_days = _order_days(orders)
    if order_days.size == 0:
        raise RetainkitError("no orders with a customer id and a date", "run `retainkit inspect` on the file")
    first = from_day_number(int(order_days.min()))
    last = from_day_number(int(order_days.max()))
    period_start = start or first
    period_end = end or last
    if churn_window_days is None:
        churn_window_days = (period_end - period_start).days + 1 if start else DEFAULT_CHURN_WINDOW_DAYS
    return Period(period_start, period_end, churn_window_days)


def _order_days(orders: pd.DataFrame) -> np.ndarray:
    stamps = orders["order_date"].to_numpy(dtype="datetime64[D]")
    return stamps[~orders["is_refund"].to_numpy()].astype(np.int64)


def event_days(orders: pd.DataFrame) -> np.ndarray:
    """Day numbers of every event of the canonical orders frame."""
    return orders["order_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)


def orders_after(orders: pd.DataFrame, period: Period) -> int:
    """Orders dated after ``period.end``: ignored everywhere (SPEC §2), counted for the report."""
    stamps = orders["order_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    return int(((stamps > period.end_day) & ~orders["is_refund"].to_numpy()).sum())
