"""Per-customer rows held by Spark: the one interface of the tables that stay in Spark
(the customer table, at-risk, product lapses, predictions — issue 13: no process holds
every customer).

A table is its rows in Spark (``_rows``: chosen, not yet ordered), an order (``order``:
(column, ascending) pairs, nulls last as pandas sorts them) and a count (``top``). Only
:meth:`HeldRows.head` and :meth:`HeldRows.to_pandas` bring rows to the driver, converted
to the local table's types by the table's ``_local``; :meth:`HeldRows.write_parquet` has
Spark write them.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any

import pandas as pd


class HeldRows:
    """Rows held by Spark. A subclass gives ``_rows()``, ``_local(rows)``, ``order`` and
    ``top``, and ``_key(column)`` where a column sorts other than by its value."""

    order: tuple[tuple[str, bool], ...]
    top: int | None

    def _rows(self) -> Any:  # pragma: no cover - every table gives its own
        raise NotImplementedError

    def _local(self, rows: Any) -> pd.DataFrame:  # pragma: no cover - every table gives its own
        raise NotImplementedError

    def _key(self, column: str) -> Any:
        """What ``column`` sorts by: its value."""
        from pyspark.sql import functions as sf

        return sf.col(column)

    def _ordered(self) -> Any:
        """The rows in ``order`` (nulls last either way), the first ``top`` of them."""
        keys = [self._key(c).asc_nulls_last() if up else self._key(c).desc_nulls_last() for c, up in self.order]
        rows = self._rows().orderBy(*keys)
        return rows.limit(self.top) if self.top is not None else rows

    def _chosen(self) -> Any:
        """The rows written or counted: ordered only where ``top`` picks the first ones."""
        return self._ordered() if self.top is not None else self._rows()

    def _count(self) -> int:
        """How many rows are chosen: counted by Spark (a table that knows it says so)."""
        from retainkit.spark.engine import _run

        return int(_run(lambda: self._chosen().count()))

    @cached_property
    def size(self) -> int:
        return self._count()

    def __len__(self) -> int:
        return self.size

    def head(self, n: int) -> pd.DataFrame:
        """The first ``n`` rows, on the driver."""
        return self._local(self._ordered().limit(n))

    def to_pandas(self) -> pd.DataFrame:
        """Every chosen row, on the driver (for the formats the driver writes: JSON, CSV …)."""
        return self._local(self._ordered())

    def write_parquet(self, path: str) -> None:
        """Spark writes the chosen rows as a Parquet folder at ``path`` (anything Spark
        writes to: a local folder, ``s3a://``, ``abfss://``, ``gs://``, ``hdfs://``)."""
        from retainkit.spark.engine import _run

        rows = self._chosen()
        _run(lambda: rows.write.mode("overwrite").parquet(spark_path(path)))


def spark_path(path: str) -> str:
    """``path`` as Spark reads it: ``s3a:/bucket/x`` (a URI through :class:`pathlib.Path`,
    which folds ``//``) as ``s3a://bucket/x``; ``file:/x`` and plain paths as they are.

    >>> spark_path("s3a:/bucket/out"), spark_path("file:/tmp/out"), spark_path("/tmp/out")
    ('s3a://bucket/out', 'file:/tmp/out', '/tmp/out')
    """
    found = re.match(r"^([A-Za-z][A-Za-z0-9+.-]+):/(?!/)", path)
    if found and found.group(1).lower() != "file":
        return f"{found.group(1)}://{path[found.end():]}"
    return path
