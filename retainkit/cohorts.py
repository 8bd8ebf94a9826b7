"""Over time: KPIs per calendar period and the cohort matrix (SPEC §4).

Pure functions of the period reductions in :mod:`retainkit.reductions`; a period with no
order is a row of zeros and nulls, never a missing row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from retainkit.activity import CohortActivity, PeriodActivity, cohort_activity, cohort_rows, period_activity
from retainkit.calendar import index_of, partial_reason, period_end, period_label, period_start
from retainkit.exact import cents
from retainkit.periods import Period
from retainkit.values import Note, joined, noop

#: Trend KPIs, and whether their change is a difference (rates) or a relative change.
TREND_KPIS: dict[str, str] = {
    "customers": "relative",
    "orders": "relative",
    "revenue": "relative",
    "average_order_value": "relative",
    "purchase_frequency": "relative",
    "new_customers": "relative",
    "repeat_customers": "relative",
    "repeat_customer_rate": "difference",
    "retention_rate": "difference",
    "churn_rate": "difference",
}
METRICS = ("customers", "revenue", "orders")


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator != 0, numerator / np.where(denominator != 0, denominator, 1) + 0.0, np.nan)


def trend_table(orders: pd.DataFrame, period: Period, every: str) -> pd.DataFrame:
    """One row per calendar period of ``period``: the §3 volume KPIs, retention and churn
    against the previous period (S = active in it, lost = of those, not active in this one),
    and each KPI's change from the previous row (SPEC §4).

    Changes: for counts and money, value / previous − 1; for rates, value − previous
    (a difference of fractions). NaN where either side is undefined or the previous is 0.
    ``partial`` marks a period cut by ``to``/``--from`` or one the data starts after the first
    day of; changes, retention and churn (and S, lost) against the previous period are null
    when either period is partial (SPEC §4, §2 coverage). ``frame.attrs["notes"]`` says why.
    """
    return trend_from_activity(period_activity(orders, trend_period(period, every), every), period, every)


def trend_period(period: Period, every: str) -> Period:
    """The period a trend's activity is counted over: ``period``, starting one calendar period
    earlier when its first period is whole and the one before is whole and covered (SPEC §4:
    the change against the previous period for every KPI — the first row's included; its
    retention is against that period already).

    >>> from datetime import date
    >>> p = Period(date(2024, 2, 1), date(2024, 3, 31), data_start=date(2024, 1, 1))
    >>> trend_period(p, "month").start, trend_period(p, "week").start
    (datetime.date(2024, 1, 1), datetime.date(2024, 2, 1))
    """
    first = index_of(period.start, every)
    if partial_reason(first, every, period) is not None or _before_first(first, every, period) is not None:
        return period
    return replace(period, start=period_start(first - 1, every))


def trend_from_activity(a: PeriodActivity, period: Period, every: str) -> pd.DataFrame:
    """The trend of ``period`` from its activity; ``a`` may hold one period more at the front
    (:func:`trend_period`), which gives the first row its previous values and is not shown."""
    lead = a.first < index_of(period.start, every)
    if lead:
        period = replace(period, start=period_start(a.first, every))
    active = np.flatnonzero((a.orders > 0) | (a.customers > 0) | (np.nan_to_num(a.revenue) != 0)) + a.first
    indices = cohort_rows(active, a.last, a.first) if len(active) else np.arange(a.first, a.last + 1)
    a = _rows_of(a, indices - a.first)
    starts = [period_start(int(i), every) for i in indices]
    ends = [period_end(int(i), every) for i in indices]
    partial = [partial_reason(int(i), every, period) for i in indices]
    against = _comparison_blockers(int(indices[0]), every, period, partial)
    follows = np.concatenate(([True], np.diff(indices) == 1))  # the row before is the period before
    comparable = np.array([why is None for why in against]) & follows
    revenue = cents(a.revenue)
    lost = a.previous_customers - a.retained
    frame = pd.DataFrame(
        {
            "period": [period_label(int(i), every) for i in indices],
            "start": pd.to_datetime(starts).astype("datetime64[s]"),
            "end": pd.to_datetime(ends).astype("datetime64[s]"),
            "complete": [s >= period.start and e <= period.end for s, e in zip(starts, ends, strict=True)],
            "partial": [why is not None for why in partial],
            "customers": a.customers,
            "orders": a.orders,
            "revenue": revenue,
            "average_order_value": _ratio(revenue, a.orders),
            "purchase_frequency": _ratio(a.orders, a.customers),
            "new_customers": a.new_customers,
            "repeat_customers": a.repeat_customers,
            "repeat_customer_rate": _ratio(a.repeat_customers, a.customers),
            "customers_start": _nullable_count(a.previous_customers, comparable),
            "customers_lost": _nullable_count(lost, comparable),
            "retention_rate": np.where(comparable, _ratio(a.retained, a.previous_customers), np.nan),
            "churn_rate": np.where(comparable, _ratio(lost, a.previous_customers), np.nan),
        }
    )
    for name, kind in TREND_KPIS.items():
        frame[f"{name}_change"] = np.where(comparable, _change(frame[name].to_numpy(dtype=np.float64), kind), np.nan)
    if lead and indices[0] == a.first:  # the period before the first: its values served as previous
        frame, partial, against = frame.iloc[1:].reset_index(drop=True), partial[1:], against[1:]
    frame.attrs["notes"] = _trend_notes(frame["period"].tolist(), partial, against)
    return frame


def _rows_of(a: PeriodActivity, rows: np.ndarray) -> PeriodActivity:
    """``a`` on the given rows only (periods kept by :func:`cohort_rows`)."""
    if len(rows) == len(a.orders):
        return a
    pick = {name: getattr(a, name)[rows] for name in ("customers", "orders", "revenue", "new_customers",
                                                      "repeat_customers", "previous_customers", "retained")}
    return replace(a, **pick)


def _change(values: np.ndarray, kind: str) -> np.ndarray:
    """Each value against the one before: ``v − prev`` for rates, ``v / prev − 1`` otherwise."""
    previous = np.concatenate(([np.nan], values[:-1]))
    return values - previous if kind == "difference" else _ratio(values, previous) - 1


def _nullable_count(values: np.ndarray, keep: np.ndarray) -> pd.Series:
    """Integer counts, null (``<NA>``) where ``keep`` is false."""
    return pd.Series(values, dtype="Int64").mask(~keep)


def _comparison_blockers(first: int, every: str, period: Period, partial: Sequence[str | None]) -> list[str | None]:
    """Per row, why it cannot be compared with the period before (SPEC §4), or ``None``.

    Blocked when the row is partial, or the period before is partial or starts before the
    data (for the first row, the period before lies in the history before ``from``).
    """
    before_first = _before_first(first, every, period)
    blockers: list[str | None] = []
    for i, why in enumerate(partial):
        previous = before_first if i == 0 else partial[i - 1]
        if why is not None:
            blockers.append(Note("partial"))
        elif previous is not None:
            blockers.append(Note("%(period)s: %(why)s", period=period_label(first + i - 1, every), why=previous))
        else:
            blockers.append(None)
    return blockers


def _before_first(first: int, every: str, period: Period) -> str | None:
    """Why the calendar period before ``first`` (history before ``from``) is no previous
    period to compare with, or ``None``."""
    try:
        return partial_reason(first - 1, every, period, cut_by_from=False)
    except (ValueError, OverflowError):  # the period before year 1
        return Note("the calendar starts after it")


def _trend_notes(labels: list[str], partial: Sequence[str | None], against: Sequence[str | None]) -> list[str]:
    """Footnotes of a trend: its partial periods, and the rows with null comparisons."""
    notes = partial_notes(labels, partial)
    blocked = [Note("%(period)s (%(why)s)", period=label, why=why)
               for label, why in zip(labels, against, strict=True) if why is not None]
    if blocked:
        notes.append(Note("no change, retention or churn against the period before (null) for %(periods)s — a "
                          "comparison needs two whole periods the data covers", periods=joined(blocked)))
    return notes


#: The line of :func:`partial_notes`, by what is partial and whether there are several.
PARTIAL_NOTES = {
    ("partial period", False): noop("* partial period: %(periods)s — %(why)s"),
    ("partial period", True): noop("* partial periods: %(periods)s — %(why)s"),
    ("partial cohort", False): noop("* partial cohort: %(periods)s — %(why)s"),
    ("partial cohort", True): noop("* partial cohorts: %(periods)s — %(why)s"),
}


def partial_notes(labels: list[str], reasons: Sequence[str | None], what: str = "partial period") -> list[str]:
    """``* partial period: 2024-12 — the analysis ends 2024-12-09, inside it (9 of 31 days)``,
    one line per reason (periods wholly before the data share one line)."""
    grouped: dict[str, list[str]] = {}
    for label, why in zip(labels, reasons, strict=True):
        if why is not None:
            grouped.setdefault(why, []).append(label)
    lines: list[str] = []
    for why, group in grouped.items():
        names = joined(group, ", ") if len(group) <= 3 else Note(
            "%(first)s … %(last)s (%(n)s periods)", first=group[0], last=group[-1], n=len(group))
        lines.append(Note(PARTIAL_NOTES[what, len(group) > 1], periods=names, why=why))
    return lines


def cohort_table(orders: pd.DataFrame, period: Period, every: str, metric: str = "customers") -> pd.DataFrame:
    """The cohort matrix in long form: one row per (cohort, k) (SPEC §4).

    ``value``: customers → share of the cohort active in period cohort + k (k = 0 is 1);
    revenue → net revenue in period k / in period 0; orders → orders in k / in 0.
    ``count`` is the underlying number. Cells after ``to`` are NaN (empty), not 0.
    ``partial``: the cell's period contains ``to`` and is not over, or the cohort's own first
    period is partial (the data starts inside it). ``frame.attrs`` holds ``notes`` and
    ``partial_period`` (the label of the incomplete period containing ``to``, or ``None``).
    """
    return cohort_from_activity(cohort_activity(orders, period, every), period, every, metric)


def cohort_from_activity(c: CohortActivity, period: Period, every: str, metric: str) -> pd.DataFrame:
    counts = {"customers": c.customers, "revenue": cents(c.revenue), "orders": c.orders}[metric]
    base = c.size.astype(np.float64) if metric == "customers" else counts[:, 0]
    values = _ratio(counts, base[:, None])
    values[np.isnan(counts)] = np.nan
    rows, ks = np.indices(counts.shape)
    cell_period = (c.cohorts[rows] + ks).ravel()  # absolute period index of each cell
    periods, at = np.unique(cell_period, return_inverse=True)  # labels once per period, not per cell
    period_labels = np.array([_label_within_calendar(int(p), every) for p in periods], dtype=object)
    flagged = _partial_periods(periods, c.last, period, every)
    labels = [period_label(int(p), every) for p in c.cohorts]
    reasons = [partial_reason(int(p), every, period, cut_by_from=False) for p in c.cohorts]
    row_flag = np.array([why is not None for why in reasons], dtype=bool)
    frame = pd.DataFrame(
        {
            "cohort": np.array(labels, dtype=object)[rows.ravel()],
            "cohort_size": c.size[rows.ravel()],
            "k": ks.ravel(),
            "period": period_labels[at],
            "count": counts.ravel(),
            "value": values.ravel(),
            "partial": (flagged[at] | row_flag[rows.ravel()]) & (cell_period <= c.last),
        }
    )
    last_reason = partial_reason(c.last, every, period, cut_by_from=False)
    cut = period_label(c.last, every) if last_reason and period.end < period_end(c.last, every) else None
    frame.attrs["partial_period"] = cut
    frame.attrs["notes"] = _cohort_notes(labels, reasons, c.size, cut, last_reason)
    return frame


def _partial_periods(periods: np.ndarray, last: int, period: Period, every: str) -> np.ndarray:
    """Which of ``periods`` (sorted) are partial (SPEC §4): only the period holding ``to``
    and those up to the data's first can be, so only those are asked."""
    start = index_of(period.data_start or period.start, every)
    candidates = np.flatnonzero((periods == last) | (periods <= start))
    flagged = np.zeros(len(periods), dtype=bool)
    for i in candidates:
        flagged[i] = partial_reason(int(periods[i]), every, period, cut_by_from=False) is not None
    return flagged


def _label_within_calendar(index: int, every: str) -> str | None:
    """The period's label; None for a period after year 9999 (an empty cell after ``to``)."""
    try:
        return period_label(index, every)
    except (ValueError, OverflowError):
        return None


def _cohort_notes(
    labels: list[str], reasons: Sequence[str | None], size: np.ndarray, cut: str | None, cut_reason: str | None
) -> list[str]:
    """Footnotes of a cohort matrix: the period cut by ``to``, and cohorts the data starts inside."""
    notes: list[str] = []
    if cut is not None:
        notes += [Note("%(note)s; every cohort's cell in it counts only those days, so it is not a fall in retention",
                       note=line) for line in partial_notes([cut], [cut_reason])]
    starts = [why if (label != cut and size[i] > 0) else None for i, (label, why) in enumerate(zip(labels, reasons,
                                                                                              strict=True))]
    notes += [Note("%(note)s; the cohort holds only the new customers seen from then", note=line)
              for line in partial_notes(labels, starts, "partial cohort")]
    return notes


def cohort_wide(long: pd.DataFrame) -> pd.DataFrame:
    """One row per cohort, one column per k (``0``, ``1``, …) holding ``value``; then ``partial``
    (the cohort's first period is partial: every cell is) and ``partial_k`` (the k of its cell
    in the incomplete period containing ``to``, null when there is none). Notes carried over.
    """
    wide = long.pivot(index=["cohort", "cohort_size"], columns="k", values="value")
    wide.columns = [str(k) for k in wide.columns]
    wide = wide.reset_index()
    first_cells = long[long["k"] == 0].set_index("cohort")["partial"]
    wide["partial"] = wide["cohort"].map(first_cells).astype(bool)
    cut = long.attrs.get("partial_period")
    cut_k = long[long["period"] == cut].set_index("cohort")["k"] if cut else pd.Series(dtype=np.int64)
    wide["partial_k"] = wide["cohort"].map(cut_k).astype("Int64")
    wide.attrs = {**long.attrs, "notes": list(long.attrs.get("notes", [])), "partial_period": cut}
    return wide


def value_columns(wide: pd.DataFrame) -> list[str]:
    """The k columns of :func:`cohort_wide` (``"0"``, ``"1"``, …)."""
    return [c for c in wide.columns if c.isdigit()]
