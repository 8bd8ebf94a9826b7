"""Exact order statistics of a Spark column: counts of rows per distinct value, not
``percentile_approx`` (issue: beyond one machine, global ranks).

A :class:`Distribution` counts the rows of each distinct value in Spark. When there are at
most :data:`HISTOGRAM_ROWS` distinct values — days since the last order, numbers of orders,
revenues in cents of most shops — those counts come to the driver and every position is
read from them. With more, the distinct values are split at boundaries drawn from a
sample of them, the counts per range come to the driver, and the search goes on inside the
range that holds the position: still exact, the sample only decides where to split.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

#: The most (value, count) pairs brought to the driver at once.
HISTOGRAM_ROWS = 100_000
#: Ranges a column is split into when it has more distinct values than that.
SPLITS = 1024
_COUNT = "_count"
_RANGE = "_range"


class Distribution:
    """How many rows of ``frame`` hold each distinct value of ``column`` (nulls left out)."""

    def __init__(self, frame: Any, column: str, *, known: tuple[list[Any], np.ndarray] | None = None) -> None:
        from pyspark.sql import functions as sf

        self.column = column
        self.values: list[Any] | None
        self.counts = (frame.where(sf.col(column).isNotNull()).groupBy(column)
                       .agg(sf.count(sf.lit(1)).alias(_COUNT)))
        if known is not None:  # counted already, with others (:func:`distributions`)
            self.values, self.cumulative = known
            self.n = int(self.cumulative[-1]) if len(self.cumulative) else 0
            return
        self.values, self.cumulative, self.n = _local(self.counts, column)
        if self.values is None:
            self.n = int(self.counts.agg(sf.sum(_COUNT)).first()[0] or 0)

    def at(self, positions: Sequence[int]) -> list[Any]:
        """The values at ``positions`` (0-based) of the column sorted ascending."""
        if self.values is not None:
            return [_read(self.values, self.cumulative, p) for p in positions]
        return _search(self.counts, self.column, list(positions))

    def above(self, value: Any) -> int:
        """Rows whose value is greater than ``value``."""
        from pyspark.sql import functions as sf

        if self.values is not None:
            below = int(np.searchsorted(np.array(self.values, dtype=object), value, side="right"))
            return self.n - (int(self.cumulative[below - 1]) if below else 0)
        return int(self.counts.where(sf.col(self.column) > value).agg(sf.sum(_COUNT)).first()[0] or 0)


def distributions(frame: Any, columns: dict[str, Any]) -> dict[str, Distribution]:
    """A :class:`Distribution` of each of ``columns`` (name → a numeric Spark column of
    ``frame``; null: left out), counted in one Spark job when the distinct values of all of
    them are few enough to bring over; values come back as floats (exact below 2^53)."""
    from pyspark.sql import functions as sf

    pairs = sf.array(*[sf.struct(sf.lit(name).alias("k"), column.cast("double").alias("v"))
                       for name, column in columns.items()])
    counts = (frame.select(sf.explode(pairs).alias("p")).where(sf.col("p.v").isNotNull())
              .groupBy(sf.col("p.k").alias("k"), sf.col("p.v").alias("v")).agg(sf.count(sf.lit(1)).alias(_COUNT)))
    rows = counts.limit(HISTOGRAM_ROWS + 1).collect()
    out = {}
    for name, column in columns.items():
        single = frame.select(column.cast("double").alias(name))
        if len(rows) > HISTOGRAM_ROWS:
            out[name] = Distribution(single, name)
            continue
        mine = sorted((r["v"], int(r[_COUNT])) for r in rows if r["k"] == name)
        known = ([v for v, _ in mine], np.cumsum([c for _, c in mine], dtype=np.int64))
        out[name] = Distribution(single, name, known=known)
    return out


def _local(counts: Any, column: str) -> tuple[list[Any] | None, np.ndarray, int]:
    """The sorted values and cumulative counts, when few enough to bring over."""
    rows = counts.limit(HISTOGRAM_ROWS + 1).collect()
    if len(rows) > HISTOGRAM_ROWS:
        return None, np.zeros(0, dtype=np.int64), 0
    pairs = sorted((r[column], int(r[_COUNT])) for r in rows)
    cumulative = np.cumsum([c for _, c in pairs], dtype=np.int64)
    return [v for v, _ in pairs], cumulative, int(cumulative[-1]) if len(pairs) else 0


def _read(values: list[Any], cumulative: np.ndarray, position: int) -> Any:
    return values[int(np.searchsorted(cumulative, position, side="right"))]


def _search(counts: Any, column: str, positions: list[int]) -> list[Any]:
    """Positions among many distinct values: split into ranges, recurse into each range
    that holds a position (each round brings over at most :data:`SPLITS` counts)."""
    from pyspark.sql import functions as sf
    from pyspark.sql.functions import pandas_udf

    values, cumulative, _ = _local(counts, column)
    if values is not None:
        return [_read(values, cumulative, p) for p in positions]
    size = counts.count()
    sample = counts.select(column).sample(fraction=min(1.0, 8 * SPLITS / size), seed=13).collect()
    bounds = np.array(sorted({r[0] for r in sample}), dtype=object)
    bounds = bounds[:: max(1, len(bounds) // SPLITS)][1:]  # the first range starts at the lowest value

    def where(column_values: pd.Series) -> pd.Series:
        return pd.Series(np.searchsorted(bounds, column_values.to_numpy(dtype=object), side="right"))

    ranged = counts.withColumn(_RANGE, pandas_udf(where, "long")(sf.col(column)))  # type: ignore[call-overload]
    per_range = sorted((int(r[_RANGE]), int(r["n"])) for r in
                       ranged.groupBy(_RANGE).agg(sf.sum(_COUNT).alias("n")).collect())
    ends = np.cumsum([n for _, n in per_range])
    out: dict[int, Any] = {}
    wanted: dict[int, list[int]] = {}
    for position in positions:
        index = int(np.searchsorted(ends, position, side="right"))
        wanted.setdefault(index, []).append(position)
    for index, inside in wanted.items():
        start = int(ends[index - 1]) if index else 0
        part = ranged.where(sf.col(_RANGE) == per_range[index][0]).drop(_RANGE)
        for position, value in zip(inside, _search(part, column, [p - start for p in inside]), strict=True):
            out[position] = value
    return [out[p] for p in positions]
