"""Trend and cohorts (SPEC §4) on Spark: the shards' additive parts, added by Spark.

Each shard (every row of its customers) runs the local reductions unchanged
(:func:`retainkit.activity.period_parts`, :func:`retainkit.activity.cohort_parts`) and
hands its part over as integer rows ``(part, slot, power, high, low)``: a count of
``part`` in ``slot`` (a period, a cohort, a cell) in ``high``; an exact revenue sum as
its :class:`~retainkit.exact.GroupSums` entries (Σ (high · 2²⁶ + low) · 2^power). Spark
adds them per (part, slot, power) — integer sums, exact in any order — so the driver
receives one row per period or cell and exponent, whatever the number of shards, and
nothing per customer. There the sums become one part, and the local functions run as
they do locally: :func:`~retainkit.activity.combine_periods` then
:func:`~retainkit.cohorts.trend_from_activity`; :func:`~retainkit.activity.combine_cohorts`
then :func:`~retainkit.cohorts.cohort_from_activity`. The period comes from the whole
input (:meth:`retainkit.spark.engine.SparkOrders.resolve_period`), so every shard counts
the same calendar periods and the notes are the local ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from retainkit.activity import (
    PERIOD_COUNTS,
    CohortParts,
    PeriodParts,
    bounds,
    cohort_parts,
    combine_cohorts,
    combine_periods,
    period_parts,
)
from retainkit.exact import GroupSums
from retainkit.periods import Period
from retainkit.spark.shards import _whole, shard_orders

#: One shard's part as rows: what is counted or summed, where, and the integer halves.
PARTS_SCHEMA = pa.schema([("part", pa.string()), ("slot", pa.int64()), ("power", pa.int64()),
                          ("high", pa.int64()), ("low", pa.int64())])
_EMPTY = np.zeros(0, dtype=np.int64)


def as_rows(counts: dict[str, tuple[np.ndarray, np.ndarray]], sums: dict[str, GroupSums | None]) -> pa.RecordBatch:
    """A part as rows of :data:`PARTS_SCHEMA`: ``counts`` name → (slots, counts); ``sums``
    name → exact sums per slot."""
    columns: dict[str, list[np.ndarray]] = {"part": [], "slot": [], "power": [], "high": [], "low": []}

    def add(name: str, slot: np.ndarray, power: np.ndarray, high: np.ndarray, low: np.ndarray) -> None:
        columns["part"].append(np.full(len(slot), name, dtype=object))
        for column, values in (("slot", slot), ("power", power), ("high", high), ("low", low)):
            columns[column].append(np.asarray(values, dtype=np.int64))

    for name, (slot, count) in counts.items():
        add(name, slot, np.zeros(len(slot), dtype=np.int64), count, np.zeros(len(slot), dtype=np.int64))
    for name, found in sums.items():
        if found is not None:
            add(name, found.group, found.power, found.high, found.low)
    arrays = [pa.array(np.concatenate(columns[f.name]) if columns[f.name] else [], type=f.type) for f in PARTS_SCHEMA]
    return pa.RecordBatch.from_arrays(arrays, schema=PARTS_SCHEMA)


class Added:
    """The parts of every shard added (Spark's sums per part, slot and power), by name."""

    def __init__(self, table: pa.Table) -> None:
        columns = {name: table.column(name).to_numpy(zero_copy_only=False) for name in PARTS_SCHEMA.names}
        self._by_part = {name: np.flatnonzero(columns["part"] == name) for name in np.unique(columns["part"])}
        self._columns = {k: v.astype(np.int64) for k, v in columns.items() if k != "part"}

    def _of(self, name: str, column: str) -> np.ndarray:
        rows = self._by_part.get(name)
        return _EMPTY if rows is None else self._columns[column][rows]

    def counts(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(slots, added counts), slots sorted."""
        slot, count = self._of(name, "slot"), self._of(name, "high")
        order = np.argsort(slot, kind="stable")
        return slot[order], count[order]

    def dense(self, name: str, size: int) -> np.ndarray:
        """Added counts per slot 0 … ``size`` − 1."""
        out = np.zeros(size, dtype=np.int64)
        slot, count = self.counts(name)
        out[slot] = count
        return out

    def sums(self, name: str) -> GroupSums:
        return GroupSums(*(self._of(name, column) for column in ("slot", "power", "high", "low")))


def added_parts(orders: Any, part: Callable[[pd.DataFrame], pa.RecordBatch]) -> Added:
    """``part`` of every shard's canonical orders, added by Spark (one aggregation)."""
    from pyspark.sql import functions as sf

    from retainkit.spark.engine import _run, _spark_schema, _to_arrow

    has_amount = orders.has_amount

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        table = _whole(batches)
        if table is not None:
            yield part(shard_orders(table, has_amount=has_amount, has_referrals=False))

    rows = orders.events.mapInArrow(run, _spark_schema(PARTS_SCHEMA))
    added = rows.groupBy("part", "slot", "power").agg(sf.sum("high").alias("high"), sf.sum("low").alias("low"))
    return Added(_run(lambda: _to_arrow(added.select(*PARTS_SCHEMA.names))))


def period_part_rows(parts: PeriodParts) -> pa.RecordBatch:
    """A shard's :class:`PeriodParts` as rows (the periods with a count only)."""
    counts = {}
    for name in PERIOD_COUNTS:
        slot = np.flatnonzero(parts.counts[name])
        counts[name] = (slot, parts.counts[name][slot])
    return as_rows(counts, {"revenue": parts.revenue})


def cohort_part_rows(parts: CohortParts) -> pa.RecordBatch:
    """A shard's :class:`CohortParts` as rows: per cell with an event its customers and
    orders — zeros kept, so a cell of refunds alone is there too and both counts cover the
    same cells — the periods with an order, cohort sizes."""
    counts = {"active": (parts.active, np.ones(len(parts.active), dtype=np.int64)),
              "size": (parts.cohort, parts.size),
              "customers": (parts.cell, parts.customers), "orders": (parts.cell, parts.orders)}
    return as_rows(counts, {"revenue": parts.revenue})


def spark_trend(orders: Any, period: Period, every: str) -> pd.DataFrame:
    """:func:`retainkit.cohorts.trend_table` of the orders Spark holds."""
    from retainkit.cohorts import trend_from_activity, trend_period

    counted = trend_period(period, every)
    first, last = bounds(counted, every)
    size = last - first + 1
    added = added_parts(orders, lambda frame: period_part_rows(period_parts(frame, counted, every)))
    whole = PeriodParts({name: added.dense(name, size) for name in PERIOD_COUNTS},
                        added.sums("revenue") if orders.has_amount else None)
    return trend_from_activity(combine_periods([whole], counted, every, has_amount=orders.has_amount), period, every)


def spark_cohorts(orders: Any, period: Period, every: str, metric: str) -> pd.DataFrame:
    """:func:`retainkit.cohorts.cohort_table` of the orders Spark holds."""
    from retainkit.cohorts import cohort_from_activity

    added = added_parts(orders, lambda frame: cohort_part_rows(cohort_parts(frame, period, every)))
    cell, customers = added.counts("customers")  # the same cells as the orders', sorted alike
    cohort, size = added.counts("size")
    whole = CohortParts(active=added.counts("active")[0], cohort=cohort, size=size, cell=cell,
                        customers=customers, orders=added.counts("orders")[1],
                        revenue=added.sums("revenue") if orders.has_amount else None)
    activity = combine_cohorts([whole], period, every, has_amount=orders.has_amount)
    return cohort_from_activity(activity, period, every, metric)
