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
from retainkit.kernel import shard_rows
from retainkit.periods import Period
from retainkit.reductions import CustomerWindows
from retainkit.spark.held import HeldRows
from retainkit.spark.shards import _whole, product_lines_of, shard_orders

#: The columns of a lapse, in the local frame's order (their Arrow types:
#: :data:`retainkit.spark.tables.TYPES`).
LAPSE_COLUMNS = ("customer_id", "product", "purchase_days", "first_purchase", "last_purchase", "days_since",
                 "usual_gap_days", "revenue_365", "customer_at_risk")
#: The local order (:func:`retainkit.customers.product_lapses`); ``product`` settles the ties
#: a stable sort settles there (pairs come in customer, then product order).
ORDER = (("revenue_365", False), ("customer_id", True), ("days_since", False), ("product", True))


def lapse_shard(period: Period, options: CustomerOptions, *, has_amount: bool) -> Any:
    """The ``mapInArrow`` function: one shard's product lapses (referrals play no part in
    them: the shard's rows are made without referral pairs)."""
    from retainkit.spark.tables import batch

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        table = _whole(batches)
        if table is None:
            return
        orders = shard_orders(table, has_amount=has_amount, has_referrals=False)
        lines = product_lines_of(table, orders["customer_id"].cat.categories)
        windows = CustomerWindows(shard_rows(orders, period).windows, period, has_amount, False)
        base = customer_base(windows, options)
        yield batch(product_lapses(lines, base, period.end_day, options), LAPSE_COLUMNS)

    return run


def spark_lapses(orders: Any, period: Period, options: CustomerOptions | None) -> SparkLapses:
    """The product lapses of every customer of ``orders`` (:class:`retainkit.spark.engine.SparkOrders`
    read with product lines: ``orders.has_products``), held by Spark."""
    from retainkit.spark.tables import _attrs as quality_attrs
    from retainkit.spark.tables import schema

    shard = lapse_shard(period, options or CustomerOptions(), has_amount=orders.has_amount)
    rows = orders.events.mapInArrow(shard, schema(LAPSE_COLUMNS)).persist()
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
        return list(LAPSE_COLUMNS)

    def _rows(self) -> Any:
        return self.frame

    def select(self, *, sort: str | None = None, descending: bool = True, top: int | None = None,
               **filters: Any) -> SparkLapses:
        """:func:`retainkit.customers.select_customers` on the lapses: ``sort`` (then customer
        id, the rest in the default order) and ``top``; ``filters`` are all None (the
        lapses have none of their columns: :func:`retainkit.customers.check_filters`)."""
        order = ((sort, not descending), ("customer_id", True), *ORDER) if sort is not None else self.order
        return SparkLapses(self.frame, attrs=self.attrs, order=order, top=top if top is not None else self.top)

    def _local(self, rows: Any) -> pd.DataFrame:
        from retainkit.spark.engine import _run, _to_arrow
        from retainkit.spark.tables import local_frame

        frame = local_frame(_run(lambda: _to_arrow(rows)), has_amount=True)
        frame.attrs = copy.deepcopy(self.attrs)
        return frame
