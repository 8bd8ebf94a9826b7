"""Implausible order dates (SPEC §1): an error naming the rows, unless ``--allow-dates``.

A date is implausible before 1970-01-01, after 2100-12-31, or — when the data has at least
5 other distinct order dates — when it stands alone more than 365 days after (or before)
every other one: almost always a typo'd year (``2204`` for ``2024``). One such date would
otherwise move ``to`` by two centuries and every window with it.

The work is one pass over the rows and a count per day between the two bounds (at most
47,846 days), so it costs the same on any export.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np

from retainkit.errors import RetainkitError
from retainkit.periods import day_number, from_day_number

FIRST_PLAUSIBLE = date(1970, 1, 1)
LAST_PLAUSIBLE = date(2100, 12, 31)
LONE_GAP_DAYS = 365
MIN_OTHER_DATES = 5
SHOWN_ROWS = 3


def check_plausible_dates(days: np.ndarray, checked: np.ndarray, locate: Callable[[int], str]) -> None:
    """Raise for implausible dates among ``days`` (day numbers per row) where ``checked``,
    naming rows. The bounds are tested on the extremes first, and the lone dates on the
    distinct days: no row numbers are gathered unless a date fails."""
    if not checked.any():
        return
    low, high = day_number(FIRST_PLAUSIBLE), day_number(LAST_PLAUSIBLE)
    first = int(days.min(where=checked, initial=np.iinfo(np.int64).max))
    last = int(days.max(where=checked, initial=np.iinfo(np.int64).min))
    if first < low or last > high:
        _fail(days, checked & ((days < low) | (days > high)), locate,
              f"before {FIRST_PLAUSIBLE} or after {LAST_PLAUSIBLE}")
    present = np.bincount(np.where(checked, days, first) - first) > 0
    lone = lone_dates(np.flatnonzero(present) + first)
    if len(lone):
        _fail(days, checked & np.isin(days, lone), locate,
              f"more than {LONE_GAP_DAYS} days away from every other order date (a typo'd year?)")


def lone_dates(distinct: np.ndarray) -> np.ndarray:
    """Dates at either end that stand more than a year from every other, while at least
    :data:`MIN_OTHER_DATES` others remain (``distinct`` sorted, unique).

    >>> days = np.array([0, 1, 2, 3, 4, 5, 900])
    >>> lone_dates(days).tolist(), lone_dates(days[:-1]).tolist(), lone_dates(np.array([0, 1, 2, 3, 900])).tolist()
    ([900], [], [])
    """
    first, last = 0, len(distinct)
    found: list[int] = []
    while last - first > MIN_OTHER_DATES:
        if distinct[last - 1] - distinct[last - 2] > LONE_GAP_DAYS:
            last -= 1
            found.append(int(distinct[last]))
        elif distinct[first + 1] - distinct[first] > LONE_GAP_DAYS:
            found.append(int(distinct[first]))
            first += 1
        else:
            break
    return np.array(sorted(found), dtype=np.int64)


def _fail(days: np.ndarray, bad: np.ndarray, locate: Callable[[int], str], why: str) -> None:
    where = np.flatnonzero(bad)
    shown = "; ".join(f"{from_day_number(int(days[i]))} ({locate(int(i))})" for i in where[:SHOWN_ROWS])
    more = f" and {len(where) - SHOWN_ROWS:,} more rows" if len(where) > SHOWN_ROWS else ""
    raise RetainkitError(f"column order_date: implausible dates {why}: {shown}{more}",
                         "fix the export, or pass --allow-dates to use them as they are")
