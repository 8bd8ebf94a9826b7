"""``at-risk --products`` on Spark: product lapses, computed in the shards, held by Spark.

A lapse is a (customer, product) pair, so every rule of it is a rule about one customer:
each shard runs the local :func:`retainkit.customers.product_lapses` on its own customers —
their product lines (kept by stage 1), and the recency, revenue over 365 days and at-risk
flag of :func:`retainkit.customers.customer_base` on the shard's per-customer rows (none of
which depends on other customers). Spark holds the rows; only their global order is set
here, the local one: most revenue over 365 days first, then customer id, longest lapse
first, product.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pyarrow as pa

from retainkit.customers import CustomerOptions, customer_base, product_lapses
from retainkit.errors import RetainkitError
from retainkit.kernel import shard_rows
from retainkit.periods import Period
from retainkit.reductions import CustomerWindows
from retainkit.spark.held import HeldRows
from retainkit.spark.shards import product_lines_of, shard_orders

#: The columns of a lapse, in the local frame's order, and their Arrow types.
LAPSE_TYPES: dict[str, pa.DataType] = {
    "customer_id": pa.string(), "product": pa.string(), "purchase_days": pa.int64(), "first_purchase": pa.date32(),
    "last_purchase": pa.date32(), "days_since": pa.int64(), "usual_gap_days": pa.float64(),
    "revenue_365": pa.float64(), "customer_at_risk": pa.bool_(),
}
#: The local order (:func:`retainkit.customers.product_lapses`); ``product`` settles the ties
#: a stable sort settles there (pairs come in customer, then product order).
ORDER = (("revenue_365", False), ("customer_id", True), ("days_since", False), ("product", True))


def lapse_shard(period: Period, options: CustomerOptions, *, has_amount: bool, has_referrals: bool) -> Any:
    """The ``mapInArrow`` function: one shard's product lapses."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        tables = [pa.Table.from_batches([b]) for b in batches if b.num_rows]
        if not tables:
            return
        table = pa.concat_tables(tables)
        orders = shard_orders(table, has_amount=has_amount, has_referrals=has_referrals)
        lines = product_lines_of(table, orders["customer_id"].cat.categories)
        windows = CustomerWindows(shard_rows(orders, period).windows, period, has_amount, has_referrals)
        base = customer_base(windows, options)
        yield _batch(product_lapses(lines, base, period.end_day, options))

    return run


def _batch(frame: pd.DataFrame) -> pa.RecordBatch:
    arrays = []
    for column, kind in LAPSE_TYPES.items():
        values = frame[column]
        array = pa.array(values.astype(object) if isinstance(values.dtype, pd.CategoricalDtype) else values,
                         from_pandas=True)
        arrays.append(array if array.type == kind else array.cast(kind))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(list(LAPSE_TYPES.items())))


def spark_lapses(orders: Any, period: Period, options: CustomerOptions | None) -> SparkLapses:
    """The product lapses of every customer of ``orders`` (:class:`retainkit.spark.engine.SparkOrders`
    read with product lines), held by Spark."""
    from pyspark.sql.pandas.types import from_arrow_schema

    from retainkit.spark.tables import _attrs as quality_attrs

    if not orders.has_products:
        raise RetainkitError("--products needs a product column (product_id, sku, StockCode …)",
                             "name it with --product COLUMN")
    shard = lapse_shard(period, options or CustomerOptions(), has_amount=orders.has_amount,
                        has_referrals=orders.has_referrals)
    rows = orders.events.mapInArrow(shard, from_arrow_schema(pa.schema(list(LAPSE_TYPES.items())))).persist()
    return SparkLapses(rows, attrs=quality_attrs(orders))


class SparkLapses(HeldRows):
    """Product lapses held by Spark, in the interface of
    :class:`retainkit.spark.tables.SparkTable`: ``select`` (sort, top), ``head``,
    ``to_pandas`` (rows to the driver in the local types and order), ``write_parquet``."""

    def __init__(self, frame: Any, *, attrs: dict[str, Any], order: tuple[tuple[str, bool], ...] = ORDER,
                 top: int | None = None) -> None:
        self.frame, self.attrs, self.order, self.top = frame, attrs, order, top

    @property
    def columns(self) -> list[str]:
        return list(LAPSE_TYPES)

    def _rows(self) -> Any:
        return self.frame

    def select(self, *, sort: str | None = None, descending: bool = True, top: int | None = None,
               **filters: Any) -> SparkLapses:
        """:func:`retainkit.customers.select_customers` on the lapses: ``sort`` (then customer
        id, the rest in the default order) and ``top``; the customer filters do not apply."""
        if any(v is not None for v in filters.values()):
            raise RetainkitError("product lapses are not filtered by segment, level, VIP or risk",
                                 "drop those filters")
        order = ((sort, not descending), ("customer_id", True), *ORDER) if sort is not None else self.order
        return SparkLapses(self.frame, attrs=self.attrs, order=order, top=top if top is not None else self.top)

    def _local(self, rows: Any) -> pd.DataFrame:
        from retainkit.spark.engine import _run, _to_arrow

        frame = _run(lambda: _to_arrow(rows)).to_pandas(date_as_object=False)
        for column in ("first_purchase", "last_purchase"):
            frame[column] = frame[column].astype("datetime64[s]")
        frame.attrs = copy.deepcopy(self.attrs)
        return frame.reset_index(drop=True)
