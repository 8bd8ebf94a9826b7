"""The Spark engine: the kernel on many shards of customers (issue: beyond one machine).

1. *Read* (:mod:`retainkit.spark.read`) and make the decisions that take the whole input
   (:mod:`retainkit.spark.decide`: the decimal mark, day/month order, integer ids).
2. *Rules that cross customers*, as Spark aggregations (:mod:`retainkit.spark.keys`): each
   row's shard key is its cleaned customer id, or its order's for a line without one; an
   order id shared by two customers is an error.
3. *Shard by customer*: a hash of the key; in each shard :func:`retainkit.normalise.normalise`
   runs unchanged (stage 1, :func:`retainkit.spark.shards.normalise_shard`). The shards' data-quality
   records add up on the driver (:func:`retainkit.kernel.combine_quality`); the period comes
   from the smallest and largest order day, by the local rule (:func:`resolve_period`).
4. *Per-customer rows* in each shard (stage 2, :func:`retainkit.kernel.shard_rows`), combined
   by :func:`retainkit.kernel.combine_rows` — from there on metrics and customers run as locally.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from retainkit.config import ReadOptions
from retainkit.date_checks import check_plausible_dates
from retainkit.errors import RetainkitError
from retainkit.kernel import ShardRows, combine_quality, combine_rows
from retainkit.normalise import DataQuality
from retainkit.periods import Period, resolve_period
from retainkit.reductions import CustomerWindows
from retainkit.spark.decide import decide
from retainkit.spark.keys import with_shard_keys
from retainkit.spark.read import SparkInput, read_input
from retainkit.spark.session import SparkOptions, first_line, get_session
from retainkit.spark.shards import (
    EVENTS_SCHEMA,
    KEY,
    READ,
    ROWS_SCHEMA,
    WINDOW_TYPES,
    ShardJob,
    normalise_shard,
    reduce_shard,
)
from retainkit.spark.where import order_of, placed


class SparkOrders:
    """Normalised orders held by Spark, sharded by customer: what the local
    :class:`~retainkit.normalise.Normalised` is to the local engine. ``quality`` is the
    whole input's data-quality record; the rows never come to the driver."""

    def __init__(self, events: Any, quality: DataQuality, *, has_referrals: bool, has_products: bool = False) -> None:
        from pyspark.sql import functions as sf

        self.events = events
        self.quality = quality
        self.has_amount = quality.has_amount
        order = sf.col("kind") == "event"
        refund = sf.col("is_refund")
        order_day, refund_day = sf.when(~refund, sf.col("day")), sf.when(refund, sf.col("day"))
        row = _run(lambda: events.where(order).agg(sf.min(order_day), sf.max(order_day), sf.collect_set("day"),
                                                   sf.min(refund_day), sf.max(refund_day)).first())
        self.order_days = [d for d in (row[0], row[1]) if d is not None]
        self.refund_days = [d for d in (row[3], row[4]) if d is not None]  # the first and last refund's
        self.days = np.array(sorted(row[2] or []), dtype=np.int64)  # distinct days of every event
        self.has_referrals = has_referrals  # a referral column, even an empty one (as locally)
        self.has_products = has_products  # each line's product kept in the shards (read with product lines)

    def resolve_period(self, *, start: date | None = None, end: date | None = None,
                       churn_window_days: int | None = None) -> Period:
        """:func:`resolve_period` on the first and last order day (all it reads of the orders)."""
        days = np.array(self.order_days, dtype=np.int64)
        bounds = pd.DataFrame({"order_date": (days * 86_400).astype("datetime64[s]"),
                               "is_refund": np.zeros(len(days), dtype=bool)})
        return resolve_period(bounds, start=start, end=end, churn_window_days=churn_window_days)

    def release(self) -> None:
        """Free the sharded orders Spark holds (a notebook that reads many exports)."""
        self.events.unpersist()

    def orders_after(self, period: Period) -> int:
        """Orders dated after ``to`` (SPEC §2), counted by Spark."""
        return int(_run(lambda: self.events.where(f"kind = 'event' AND NOT is_refund AND day > {period.end_day}")
                        .count()))

    def customer_rows(self, period: Period) -> CustomerWindows:
        """Per-customer rows of every shard, combined (the rows come to the driver)."""
        rows = self.events.mapInArrow(
            reduce_shard(period, has_amount=self.has_amount, has_referrals=self.has_referrals),
            _spark_schema(ROWS_SCHEMA))
        table = _run(lambda: _to_arrow(rows))
        kinds = table.column("kind").to_numpy(zero_copy_only=False)
        windows = table.filter(pa_mask(kinds == "window")).to_pandas()
        frame = windows[list(WINDOW_TYPES)].set_axis(pd.Index(windows["customer_id"].to_numpy(dtype=object)))
        frame = frame.astype({c: _dtype(t) for c, t in WINDOW_TYPES.items()})
        pairs = table.filter(pa_mask(kinds == "referral")).select(["referrer", "customer_id"]).to_pandas()
        pairs = pairs.astype(object)
        return combine_rows([ShardRows(frame, pairs)], period, has_amount=self.has_amount,
                            has_referrals=self.has_referrals)


    def kpis(self, period: Period, options: Any, customer_options: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """The KPIs and the "act on this" summary (:func:`retainkit.spark.tables.spark_kpis`)."""
        from retainkit.spark.tables import spark_kpis

        metrics, table = spark_kpis(self, period, options, customer_options)
        actions = table.actions()
        table.frame.unpersist()  # only the summary was wanted: the customer rows Spark held are done with
        return metrics, actions

    def trend(self, period: Period, every: str) -> pd.DataFrame:
        """KPIs per calendar period (:func:`retainkit.spark.periods.spark_trend`)."""
        from retainkit.spark.periods import spark_trend

        return spark_trend(self, period, every)

    def cohorts(self, period: Period, every: str, metric: str) -> pd.DataFrame:
        """The cohort matrix in long form (:func:`retainkit.spark.periods.spark_cohorts`)."""
        from retainkit.spark.periods import spark_cohorts

        return spark_cohorts(self, period, every, metric)

    def product_lapses(self, period: Period, options: Any) -> Any:
        """Product lapses held by Spark (:func:`retainkit.spark.lapses.spark_lapses`)."""
        from retainkit.spark.lapses import spark_lapses

        return spark_lapses(self, period, options)

    def customer_table(self, period: Period, options: Any, *, at_risk: bool = False) -> Any:
        """The customer table held by Spark (:class:`retainkit.spark.tables.SparkTable`);
        with ``at_risk``, the customers at risk by value at risk."""
        from retainkit.spark.tables import customer_table

        return customer_table(self, period, options, at_risk=at_risk)


def read_orders_spark(source: Sequence[str] | Any, options: ReadOptions, spark_options: SparkOptions | None = None,
                      *, product_lines: bool = False) -> SparkOrders:
    """Read and normalise on Spark: ``source`` is paths Spark reads or a Spark DataFrame;
    ``product_lines`` keeps each line's product in the shards (product lapses)."""
    spark_options = spark_options or SparkOptions()
    return normalise_input(read_input(get_session(spark_options), source, options), options, spark_options,
                           product_lines=product_lines)


def normalise_input(found: SparkInput, options: ReadOptions, spark_options: SparkOptions, *,
                    product_lines: bool = False) -> SparkOrders:
    """Normalise what Spark read (:func:`read_orders_spark` once the input is read; ``inspect``
    shows the input itself as well)."""
    from pyspark.sql import functions as sf

    spark = found.frame.sparkSession
    frame, decided, marks = decide(found, options)
    # A token of this read in every plan: Spark never answers it from a cached earlier read of
    # the same paths (files change between two reads in one session, a notebook's).
    frame = frame.withColumn(READ, sf.lit(uuid.uuid4().hex))
    keyed, per_order = with_shard_keys(frame, has_order_id="order_id" in found.mapping.fields)
    shards = spark_options.shards or int(spark.conf.get("spark.sql.shuffle.partitions"))
    has_products = product_lines and "product" in found.mapping.fields
    job = ShardJob(found.files, found.kind, found.mapping, decided, product_lines=has_products)
    events = keyed.repartition(shards, KEY).mapInArrow(normalise_shard(job), _spark_schema(EVENTS_SCHEMA))
    events = events.persist()
    notes = _run(lambda: events.where("kind IN ('quality', 'error')").select("kind", "payload").collect())
    if per_order is not None:
        per_order.unpersist()  # the rows are sharded and held: the per-order keys are done with
    errors = [json.loads(r["payload"]) for r in notes if r["kind"] == "error"]
    if errors:  # the first input's first: as the local engine, which reads the inputs in order
        events.unpersist()
        first = min(errors, key=lambda e: order_of(e["message"]))
        raise RetainkitError(placed(first["message"], found), first["hint"])
    quality = combine_quality([DataQuality(**json.loads(r["payload"])) for r in notes])
    quality.decimal_marks = dict(marks)
    quality.duplicates_dropped = options.dedupe
    orders = SparkOrders(events, quality, has_referrals="referred_by" in found.mapping.fields,
                         has_products=has_products)
    if not options.allow_dates:  # implausible order dates (SPEC §1), on the distinct days of the whole input
        try:
            check_plausible_dates(orders.days, np.zeros(len(orders.days), dtype=np.int64), lambda _: "Spark input")
        except RetainkitError:
            events.unpersist()  # a notebook's session lives on: nothing stays cached for an input refused
            raise
    return orders


def _spark_schema(schema: Any) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


def _to_arrow(frame: Any) -> Any:
    import pyarrow as pa

    if hasattr(frame, "toArrow"):
        return frame.toArrow()
    return pa.Table.from_pandas(frame.toPandas(), preserve_index=False)  # pragma: no cover - Spark 3.5


def pa_mask(values: np.ndarray) -> Any:
    import pyarrow as pa

    return pa.array(values.astype(bool))


def _dtype(kind: Any) -> str:
    import pyarrow as pa

    return "int64" if kind == pa.int64() else "bool" if kind == pa.bool_() else "float64"


def _run(action: Any) -> Any:
    """A Spark action; a failure of Spark (a file it cannot read, a lost cluster) is one line."""
    try:
        return action()
    except RetainkitError:
        raise
    except Exception as err:
        text = first_line(err)
        raise RetainkitError(f"Spark failed: {text}", "check the input paths and the cluster") from None
