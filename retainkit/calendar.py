"""Calendar periods: ISO weeks (starting Monday), months, quarters, years (SPEC §4).

A period is an integer index, so that "the previous period" is ``index − 1`` and a
bucket of day numbers is one vectorised expression.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from retainkit.errors import RetainkitError
from retainkit.periods import Period, day_number, from_day_number
from retainkit.values import Note, joined

EVERY = ("week", "month", "quarter", "year")
_MONDAY_OFFSET = 3  # 1970-01-01 was a Thursday: day + 3 counts from Monday 1969-12-29


def check_every(every: str) -> str:
    if every not in EVERY:
        raise RetainkitError(f"--every {every!r} is not a period", f"use one of {', '.join(EVERY)}")
    return every


def period_index(days: np.ndarray, every: str) -> np.ndarray:
    """The calendar period of each day number.

    >>> period_index(np.array([day_number(date(2024, 12, 29)), day_number(date(2024, 12, 30))]), "week").tolist()
    [2869, 2870]
    >>> period_index(np.array([day_number(date(2024, 3, 31)), day_number(date(2024, 4, 1))]), "quarter").tolist()
    [216, 217]
    """
    days = np.asarray(days, dtype=np.int64)
    if every == "week":
        return (days + _MONDAY_OFFSET) // 7
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    if every == "month":
        return months
    if every == "quarter":
        return months // 3
    return months // 12


def period_start(index: int, every: str) -> date:
    """First day of period ``index``."""
    if every == "week":
        return from_day_number(index * 7 - _MONDAY_OFFSET)
    months = {"month": 1, "quarter": 3, "year": 12}[every] * int(index)
    return date(1970 + months // 12, months % 12 + 1, 1)


def period_end(index: int, every: str) -> date:
    """Last day of period ``index`` (the calendar's last day for a period that ends with it)."""
    try:
        return period_start(index + 1, every) - timedelta(days=1)
    except (ValueError, OverflowError):  # the period after it would start in year 10000
        return date.max


def period_label(index: int, every: str) -> str:
    """``2025-W01``, ``2024-03``, ``2024-Q1`` or ``2024``.

    >>> period_label(period_index(np.array([day_number(date(2024, 12, 30))]), "week")[0], "week")
    '2025-W01'
    """
    start = period_start(index, every)
    if every == "week":
        year, week, _ = start.isocalendar()
        return f"{year:04d}-W{week:02d}"
    if every == "month":
        return f"{start.year:04d}-{start.month:02d}"
    if every == "quarter":
        return f"{start.year:04d}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year:04d}"


def index_of(value: date, every: str) -> int:
    return int(period_index(np.array([day_number(value)]), every)[0])


def partial_reason(index: int, every: str, period: Period, *, cut_by_from: bool = True) -> Note | None:
    """Why calendar period ``index`` is *partial* for ``period`` (SPEC §4), or ``None`` if whole.

    Partial: ``to`` falls inside it before its last day; the data starts after its first day
    (the data's first period, or a period wholly before the data: SPEC §2, coverage); with
    ``cut_by_from`` (trend rows count orders from ``--from`` only), ``--from`` is after its
    first day.

    >>> p = Period(date(2024, 1, 10), date(2024, 3, 9), data_start=date(2024, 1, 10))
    >>> partial_reason(index_of(date(2024, 3, 9), "month"), "month", p)
    'the analysis ends 2024-03-09, inside it (9 of 31 days)'
    >>> partial_reason(index_of(date(2024, 1, 10), "month"), "month", p)
    'the data starts 2024-01-10, inside it'
    >>> partial_reason(index_of(date(2024, 2, 1), "month"), "month", p) is None
    True
    """
    first, last = period_start(index, every), period_end(index, every)
    reasons = []
    if period.data_start is not None and first < period.data_start:
        if period.data_start > last:
            reasons.append(Note("the data starts %(start)s, after it ends", start=period.data_start))
        else:
            reasons.append(Note("the data starts %(start)s, inside it", start=period.data_start))
    elif cut_by_from and first < period.start:
        reasons.append(Note("--from %(start)s is inside it", start=period.start))
    if first <= period.end < last:
        reasons.append(Note("the analysis ends %(end)s, inside it (%(days)s of %(length)s days)", end=period.end,
                            days=(period.end - first).days + 1, length=(last - first).days + 1))
    return (reasons[0] if len(reasons) == 1 else joined(reasons)) if reasons else None
