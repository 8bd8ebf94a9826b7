"""The report's "who will buy again" section on Spark (SPEC §6, §7): the local section, fitted
on the same sample of customers (:mod:`retainkit.report_buyers`) by the same code.

1. *How many customers*: the distinct ids of the shards' ``customer`` rows — every cleaned
   id of the input, those without a valid order too: the local orders' categories — counted
   by Spark; ``step`` = ⌈customers / SAMPLE⌉ (:func:`~retainkit.report_buyers.step_of`) on
   the driver.
2. *Which*: the ids whose rank among the sorted ids is a multiple of ``step``
   (:func:`every_step`). A distributed sort (Spark's ``orderBy``: range partitions, each
   sorted), then the ids of each sorted partition counted — one row per partition to the
   driver — so an id's rank is the ids of the partitions before its own plus its place in
   it. Spark compares strings by their UTF-8 bytes, which orders valid text by code point:
   as Python sorts it, and as the local engine numbers its categories
   (:func:`retainkit.ids._in_id_order`). About SAMPLE ids come to the driver, never all.
3. *Their orders*: the sharded orders joined with those ids (a broadcast join) come to the
   driver as the canonical orders frame of the sample (:func:`sample_frame`), and
   :func:`~retainkit.report_buyers.buy_again_on_sample` fits on it, as locally.

``step`` is a number the driver puts in the plan: nothing of the section's size is read by
the executors (separate Python processes).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from retainkit import defaults
from retainkit.report_buyers import buy_again_on_sample, step_of
from retainkit.spark.shards import SECONDS_PER_DAY

ID, MID, PART, COUNT = "customer_id", "_mid", "_part", "count"
#: ``monotonically_increasing_id`` is the partition's index << 33 | the row's place in it.
PLACE_BITS = 33


def spark_buy_again(orders: Any, *, start_day: int, end_day: int,
                    time_unit_days: float = defaults.TIME_UNIT_DAYS) -> dict[str, Any]:
    """:func:`~retainkit.report_buyers.buy_again` of the orders Spark holds
    (:class:`~retainkit.spark.engine.SparkOrders`): the same section, on the same customers."""
    return buy_again_on_sample(lambda: sample_orders(orders), start_day=start_day, end_day=end_day,
                               time_unit_days=time_unit_days)


def sample_orders(orders: Any) -> tuple[pd.DataFrame, int]:
    """The sample's orders on the driver and ``step``: the customers whose rank among the
    sorted distinct ids is a multiple of ``step`` = ⌈customers / SAMPLE⌉ (:func:`step_of`)."""
    from pyspark.sql import functions as sf

    from retainkit.spark.engine import _run, _to_arrow

    ids = orders.events.where(sf.col("kind") == "customer").select(ID).distinct().persist()  # counted, then sorted
    chosen = ids
    try:
        step = step_of(int(_run(ids.count)))
        chosen = ids if step == 1 else every_step(ids, step)
        names = [row[ID] for row in _run(chosen.collect)]
        rows = (orders.events.where(sf.col("kind") == "event").join(sf.broadcast(chosen), ID)
                .select(ID, "day", "amount", "is_refund"))
        table = _run(lambda: _to_arrow(rows))
    finally:
        chosen.unpersist()
        ids.unpersist()
    return sample_frame(table, names, has_amount=orders.has_amount, step=step), step


def every_step(ids: Any, step: int) -> Any:
    """The ids (one column, distinct) whose rank in sorted order is a multiple of ``step``,
    held by Spark (persisted: the ranks are read from one sort; unpersist when done)."""
    from pyspark.sql import functions as sf

    from retainkit.spark.engine import _run

    ranked = ids.orderBy(ID).withColumn(MID, sf.monotonically_increasing_id()).persist()
    part = sf.shiftright(sf.col(MID), PLACE_BITS)
    counts = sorted((int(r[PART]), int(r[COUNT])) for r in
                    _run(lambda: ranked.groupBy(part.alias(PART)).count().collect()))
    starts = np.concatenate(([0], np.cumsum([n for _, n in counts], dtype=np.int64)[:-1]))
    before = sf.create_map(*[sf.lit(int(value)).cast("long") for (index, _), first in zip(counts, starts, strict=True)
                             for value in (index, first)])  # partition → the ids in the partitions before it
    rank = before[part] + sf.col(MID).bitwiseAND((1 << PLACE_BITS) - 1)
    chosen = ranked.where(rank % step == 0).select(ID).persist()
    _run(chosen.count)  # held before the ranks they were read from are let go
    ranked.unpersist()
    return chosen


def sample_frame(table: pa.Table, names: list[str], *, has_amount: bool, step: int) -> pd.DataFrame:
    """The canonical orders frame of the sample's orders (``table``: customer_id, day,
    amount, is_refund), as :func:`~retainkit.report_buyers.sample_of` gives it locally: the
    sample's ids (``names``) as categories in sorted order — with ``step`` > 1 only those
    with an order or refund — an amount column only when the input has one; rows by
    customer, day, refund last (the order of the shards' rows is not the input's)."""
    table = table.sort_by([(ID, "ascending"), ("day", "ascending"), ("is_refund", "ascending"),
                           ("amount", "ascending")])
    categories = pd.Index(sorted(names), dtype=object)
    day = table.column("day").to_numpy(zero_copy_only=False).astype(np.int64)
    codes = categories.get_indexer(table.column(ID).to_pylist())
    frame: dict[str, Any] = {
        "customer_id": pd.Categorical.from_codes(codes, categories=categories),
        "order_date": (day * SECONDS_PER_DAY).astype("datetime64[s]"),
    }
    if has_amount:
        frame["amount"] = table.column("amount").to_numpy(zero_copy_only=False).astype(np.float64)
    frame["is_refund"] = table.column("is_refund").to_numpy(zero_copy_only=False).astype(bool)
    orders = pd.DataFrame(frame)
    if step > 1:
        orders = orders.assign(customer_id=orders["customer_id"].cat.remove_unused_categories())
    return orders
