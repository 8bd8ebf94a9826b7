"""The analysis period and the churn windows (SPEC §2).

Days are counted as integers since 1970-01-01 (``day numbers``) inside retainkit; the
period turns them back into dates for output.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np
import pandas as pd

from retainkit.errors import RetainkitError
from retainkit.values import Note

EPOCH = date(1970, 1, 1)
DEFAULT_CHURN_WINDOW_DAYS = 365
#: Shorter churn windows tried, longest first, when the data is too short for 365 days (SPEC §2).
FALLBACK_CHURN_WINDOWS = (180, 90, 30)
YEAR_DAYS = 365


def day_number(value: date) -> int:
    """Days since 1970-01-01. ``day_number(date(1970, 1, 2)) == 1``."""
    return (value - EPOCH).days


def from_day_number(day: int) -> date:
    return EPOCH + timedelta(days=int(day))


@dataclass(frozen=True)
class Period:
    """``[start, end]`` inclusive, and the churn window ``L`` anchored at ``end``.

    Current window: ``(end − L, end]``; base window: ``(end − 2L, end − L]``.
    ``data_start`` is the first order date of the data (any customer): a window *is covered*
    when it starts on or after it (SPEC §2). ``None`` (a period built by hand) covers all.
    ``notes`` are the sentences that explain the period's choices and its nulls.
    """

    start: date
    end: date
    churn_window_days: int = DEFAULT_CHURN_WINDOW_DAYS
    data_start: date | None = None
    notes: tuple[str, ...] = ()

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

    @property
    def year_window(self) -> tuple[date, date]:
        """First and last date of ``(end − 365, end]`` (annual revenue per customer, VIPs)."""
        return self.end - timedelta(days=YEAR_DAYS - 1), self.end

    def covers(self, first_day: date) -> bool:
        """Whether the data reaches back to ``first_day`` (SPEC §2, coverage).

        >>> p = Period(date(2024, 1, 1), date(2024, 12, 31), data_start=date(2024, 1, 1))
        >>> p.covers(date(2024, 1, 1)), p.covers(date(2023, 12, 31))
        (True, False)
        """
        return self.data_start is None or self.data_start <= first_day

    @property
    def base_covered(self) -> bool:
        return self.covers(self.base_window[0])

    @property
    def current_covered(self) -> bool:
        return self.covers(self.current_window[0])

    @property
    def year_covered(self) -> bool:
        return self.covers(self.year_window[0])

    def as_dict(self) -> dict[str, object]:
        current, base = self.current_window, self.base_window
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "days": self.length_days,
            "churn_window_days": self.churn_window_days,
            "current_window": {"from": current[0].isoformat(), "to": current[1].isoformat()},
            "base_window": {"from": base[0].isoformat(), "to": base[1].isoformat()},
            "data_start": self.data_start.isoformat() if self.data_start else None,
            "notes": list(self.notes),
        }


def resolve_period(
    orders: pd.DataFrame,
    *,
    start: date | None = None,
    end: date | None = None,
    churn_window_days: int | None = None,
) -> Period:
    """The period asked for, defaulting to the first and last order date (SPEC §2).

    Refunds do not extend the default period. The churn window is ``churn_window_days``
    when given, else the period's length when ``start`` is given, else the default of
    :func:`default_churn_window`. ``notes`` say why a window was chosen and which KPI
    windows the data does not cover.
    """
    order_days = _order_days(orders)
    if order_days.size == 0:
        raise RetainkitError("no orders with a customer id and a date", "run `retainkit inspect` on the file")
    first = from_day_number(int(order_days.min()))
    last = from_day_number(int(order_days.max()))
    period_start = start or first
    period_end = end or last
    if start is None and period_end < first:
        raise RetainkitError(f"--to {period_end} is before the first order ({first})",
                             f"pick a date from {first} to {last}")
    notes: list[str] = []
    if churn_window_days is None:
        if start:
            churn_window_days = (period_end - period_start).days + 1
        else:
            churn_window_days, why = default_churn_window(first, period_end)
            notes += [why] if why else []
    period = Period(period_start, period_end, churn_window_days, first)
    return replace(period, notes=(*notes, *coverage_notes(period)))


def default_churn_window(data_start: date, end: date) -> tuple[int, str | None]:
    """365 days when the data covers two 365-day windows ending at ``end``; else the longest
    of 180, 90 and 30 days whose base window it covers; else 365 (SPEC §2). The note says why.

    >>> default_churn_window(date(2023, 2, 14), date(2024, 12, 31))[0]
    180
    >>> default_churn_window(date(2024, 12, 1), date(2024, 12, 31))[0]
    365
    """
    def covered(window: int) -> bool:
        return data_start <= end - timedelta(days=2 * window - 1)

    if covered(DEFAULT_CHURN_WINDOW_DAYS):
        return DEFAULT_CHURN_WINDOW_DAYS, None
    for window in FALLBACK_CHURN_WINDOWS:
        if covered(window):
            return window, Note("churn window %(window)s days: the data starts %(start)s, too late for two "
                                "%(longest)s-day windows ending %(end)s", window=window, start=data_start,
                                longest=DEFAULT_CHURN_WINDOW_DAYS, end=end)
    return DEFAULT_CHURN_WINDOW_DAYS, Note(
        "churn window %(window)s days: the data starts %(start)s, too late for two %(window)s-day windows ending "
        "%(end)s, or even for two %(shortest)s-day windows", window=DEFAULT_CHURN_WINDOW_DAYS, start=data_start,
        end=end, shortest=FALLBACK_CHURN_WINDOWS[-1])


def coverage_notes(period: Period) -> list[str]:
    """One sentence per KPI window the data does not reach, with what to do (SPEC §2): the
    longest ``--churn-window`` the data covers (when there is one) and the earliest ``--to``
    that covers the window as it is."""
    start = period.data_start or ""
    notes: list[str] = []
    if not period.base_covered:
        base = period.base_window
        notes.append(_with_remedy(Note(
            "churn, retention, lifespan and CLV are null: their base window %(first)s..%(last)s starts before the "
            "data (%(start)s)", first=base[0], last=base[1], start=start), period, windows=2))
    if not period.current_covered:
        current = period.current_window
        notes.append(_with_remedy(Note(
            "customers_end is null: the current window %(first)s..%(last)s starts before the data (%(start)s)",
            first=current[0], last=current[1], start=start), period, windows=1))
    if not period.year_covered:
        year = period.year_window
        assert period.data_start is not None  # a period without a data start covers every window
        notes.append(Note("annual revenue per customer and CLV are null: the last 365 days %(first)s..%(last)s start "
                          "before the data (%(start)s); give a --to on or after %(to)s", first=year[0], last=year[1],
                          start=start, to=period.data_start + timedelta(days=YEAR_DAYS - 1)))
    return notes


def _with_remedy(what: str, period: Period, *, windows: int) -> str:
    """``what`` and what to do about ``windows`` churn windows ending at ``to`` that start
    before the data: a churn window short enough to fit, if any day does, or a later ``--to``.

    >>> p = Period(date(2024, 1, 1), date(2024, 1, 4), 30, data_start=date(2024, 1, 1))
    >>> _with_remedy("x", p, windows=2)
    'x; give --churn-window 2 or less, or a --to on or after 2024-02-29'
    >>> _with_remedy("x", replace(p, end=date(2024, 1, 1)), windows=2)
    'x; give a --to on or after 2024-02-29'
    """
    assert period.data_start is not None  # a period without a data start covers every window
    longest = ((period.end - period.data_start).days + 1) // windows
    to = period.data_start + timedelta(days=windows * period.churn_window_days - 1)
    if longest < 1:
        return Note("%(what)s; give a --to on or after %(to)s", what=what, to=to)
    return Note("%(what)s; give --churn-window %(days)s or less, or a --to on or after %(to)s", what=what,
                days=longest, to=to)


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
