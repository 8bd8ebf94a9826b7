"""``predict`` on Spark: the fits on the driver, the customers in the shards (SPEC §6, issue 13).

The orders stay sharded by customer (:class:`retainkit.spark.engine.SparkOrders`); in each
shard the local summaries run unchanged on the shard's orders
(:func:`retainkit.models.shard.summarise_shard`). Three passes over the shards, each a
``mapInArrow`` that returns one JSON text per shard, added on the driver:

1. the parts the fits read (:func:`retainkit.models.shard.parts_of`): the distinct
   (x, t_x, T) rows with their counts — of the customers predicted for and of the
   scoreboard's calibration customers — and the distinct (x, m̄) of repeat buyers, counted;
   a few thousand rows, where the customers are millions;
2. with a scoreboard, its sums over each shard's customers
   (:func:`retainkit.models.scoreboard.board_sums`), once the models are fitted on the rows;
3. the totals' sums over each shard's customers
   (:func:`retainkit.models.per_customer.customer_sums`), once the chosen model and
   Gamma-Gamma are fitted — the same fits, on the same rows, as the local engine's.

The driver code is the local engine's (:func:`retainkit.models.predict.predict_shards`);
the fitted models and the predictions per distinct row go to the shards with the tasks.
The per-customer table (:class:`SparkPredictions`) is a Spark DataFrame made in the shards
(:func:`retainkit.models.per_customer.customer_predictions`): Spark writes it (``--output``
a Parquet folder), and only the rows a table or a file shows come to the driver.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cached_property, reduce
from typing import Any

import numpy as np
import pyarrow as pa

from retainkit.models.per_customer import Fitted, customer_predictions, customer_sums
from retainkit.models.predict import Prediction, PredictOptions, predict_shards
from retainkit.models.scoreboard import Board, board_sums
from retainkit.models.shard import Plan, Shard, add_parts, add_sums, decode, encode, parts_of, summarise_shard
from retainkit.models.summary import summarise
from retainkit.spark.held import HeldRows
from retainkit.spark.shards import _whole, orders_of
from retainkit.spark.tables import SparkTable

INTEGERS = ("frequency", "actual_purchases")  # every other column but customer_id is a float


def predict_spark(orders: Any, *, start_day: int, end_day: int, holdout_day: int | None,
                  options: PredictOptions) -> Prediction:
    """``predict`` on orders held by Spark: the local engine's JSON, the customers in Spark."""
    return predict_shards(SparkShards(orders), start_day=start_day, end_day=end_day, holdout_day=holdout_day,
                          options=options)


def shard_summaries(has_amount: bool, plan: Plan) -> Callable[[Iterator[pa.RecordBatch]], Shard | None]:
    """A function of a shard's stage-1 rows: its summaries (None for an empty shard), the
    amount column as the local orders have it (absent without amounts)."""

    def summaries(batches: Iterator[pa.RecordBatch]) -> Shard | None:
        table = _whole(batches)
        if table is None:
            return None
        orders = orders_of(table)
        if not has_amount:
            orders = orders.drop(columns="amount", errors="ignore")
        elif "amount" not in orders:
            orders.insert(2, "amount", np.zeros(len(orders)))
        return summarise_shard(orders, plan)

    return summaries


def _payload(text: str) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({"payload": [text]}, schema=pa.schema([("payload", pa.string())]))


class SparkShards:
    """The shards of :class:`~retainkit.models.predict.Shards` on Spark: each pass is one
    ``mapInArrow`` over the sharded orders, one JSON text per shard back."""

    def __init__(self, orders: Any) -> None:
        self.orders = orders

    def _each(self, plan: Plan, work: Callable[[Shard], Any]) -> list[Any]:
        from retainkit.spark.engine import _run
        from retainkit.spark.tables import schema

        summaries = shard_summaries(self.orders.has_amount, plan)

        def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            shard = summaries(batches)
            if shard is not None:
                yield _payload(encode(work(shard)))

        rows = _run(lambda: self.orders.events.mapInArrow(run, schema(["payload"])).collect())
        return [decode(r["payload"]) for r in rows]

    def _empty(self, plan: Plan) -> Shard:
        """The summaries of no customers: what an input without orders adds up to."""
        orders = _no_orders()
        return summarise_shard(orders if self.orders.has_amount else orders.drop(columns="amount"), plan)

    def parts(self, plan: Plan) -> dict[str, Any]:
        return add_parts(self._each(plan, parts_of) or [parts_of(self._empty(plan))])

    def board_sums(self, plan: Plan, board: Board) -> dict[str, Any]:
        found = self._each(plan, lambda shard: board_sums(shard, board))
        return reduce(add_sums, found) if found else board_sums(self._empty(plan), board)

    def predictions(self, plan: Plan, fitted: Fitted) -> tuple[dict[str, Any], Any]:
        found = self._each(plan, lambda shard: customer_sums(customer_predictions(shard, fitted), fitted))
        if not found:
            found = [customer_sums(customer_predictions(self._empty(plan), fitted), fitted)]
        return reduce(add_sums, found), SparkPredictions(self.orders, plan, fitted)


def prediction_columns(fitted: Fitted, plan: Plan) -> list[str]:
    """The columns of the customer table (those of :func:`customer_predictions`, made on no customers)."""
    empty = summarise(_no_orders(), end_day=plan.end_day, time_unit_days=plan.time_unit_days)
    actual = np.zeros(0, dtype=np.int64) if plan.holdout_day is not None else None
    table = customer_predictions(Shard(empty, actual), fitted).table
    return list(table.columns)


def _no_orders() -> Any:
    import pandas as pd

    return pd.DataFrame({"customer_id": pd.Categorical([]), "order_date": np.zeros(0, "datetime64[s]"),
                         "amount": np.zeros(0), "is_refund": np.zeros(0, bool)})


class SparkPredictions(HeldRows):
    """The ``predict`` customer table held by Spark: made in the shards when Spark writes it
    or rows are asked for; ordered by ``order``, the first ``top``. :meth:`head` and
    :meth:`to_pandas` bring rows to the driver in the local table's types and order;
    :meth:`write_parquet` has Spark write them."""

    def __init__(self, orders: Any, plan: Plan, fitted: Fitted, *, order: tuple[tuple[str, bool], ...] = (),
                 top: int | None = None) -> None:
        self.orders, self.plan, self.fitted, self.top = orders, plan, fitted, top
        self.order = order or (("customer_id", True),)

    @cached_property
    def columns(self) -> list[str]:
        return prediction_columns(self.fitted, self.plan)

    def _schema(self) -> pa.Schema:
        return pa.schema([(c, pa.string() if c == "customer_id" else pa.int64() if c in INTEGERS else pa.float64())
                          for c in self.columns])

    def _rows(self) -> Any:
        from pyspark.sql.pandas.types import from_arrow_schema

        summaries = shard_summaries(self.orders.has_amount, self.plan)
        fitted, arrow = self.fitted, self._schema()

        def table(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            shard = summaries(batches)
            if shard is not None:
                found = customer_predictions(shard, fitted).table
                found["customer_id"] = found["customer_id"].astype(str)
                yield pa.RecordBatch.from_pandas(found, schema=arrow, preserve_index=False)

        return self.orders.events.mapInArrow(table, from_arrow_schema(arrow))

    def select(self, *, sort: str | None = None, descending: bool = True, top: int | None = None,
               **filters: Any) -> SparkPredictions:
        """:func:`retainkit.customers.select_customers` on Spark's rows; ``filters`` are all
        None (the prediction table has none of their columns:
        :func:`retainkit.customers.check_filters`)."""
        order = ((sort, not descending), ("customer_id", True)) if sort is not None else self.order
        return SparkPredictions(self.orders, self.plan, self.fitted, order=order,
                                top=top if top is not None else self.top)

    def _count(self) -> int:
        customers = int(self.fitted.rows.customers)
        return customers if self.top is None else min(self.top, customers)

    def _local(self, rows: Any) -> Any:
        from retainkit.spark.engine import _run, _to_arrow

        table = _run(lambda: _to_arrow(rows))
        frame = table.to_pandas()
        frame["customer_id"] = frame["customer_id"].astype(object)
        return frame.astype({c: "float64" for c in frame.columns if c != "customer_id" and c not in INTEGERS})


def priced_at_risk_spark(table: Any, orders: Any, period: Any) -> PricedAtRisk:
    """``at-risk --by value`` on Spark: the at-risk table held by Spark (``table``, a
    :class:`retainkit.spark.tables.SparkTable`) joined in Spark with the predictions of the
    fits of :func:`retainkit.pipeline.pricing_fit` on the shards' parts — the local fits —
    most value if alive first, ties by id; the same errors as locally."""
    from pyspark.sql import functions as sf

    from retainkit import defaults
    from retainkit.pipeline import pricing_fit, pricing_notes

    plan = Plan(period.end_day, defaults.TIME_UNIT_DAYS)
    fitted = pricing_fit(lambda: SparkShards(orders).parts(plan), has_amounts=orders.has_amount)
    prices = SparkPredictions(orders, plan, fitted)._rows().select(
        "customer_id", "p_alive", "value_if_alive", sf.col("clv").alias("expected_value"))
    notes = [*pricing_notes(fitted), *table.attrs.get("notes", [])]
    return PricedAtRisk(table, prices, attrs={"data_quality": table.attrs["data_quality"], "notes": notes})


class PricedAtRisk(SparkTable):
    """The at-risk table held by Spark with ``p_alive``, ``value_if_alive`` and
    ``expected_value`` joined from the predictions held by Spark (``prices``)."""

    def __init__(self, table: Any, prices: Any, *, attrs: dict[str, Any], where: tuple[Any, ...] = (),
                 order: tuple[tuple[str, bool], ...] = (), top: int | None = None) -> None:
        super().__init__(table.frame, table.cuts, has_amount=table.has_amount, attrs=attrs, at_risk=True,
                         where=where, order=order or (("value_if_alive", False), ("customer_id", True)), top=top)
        self.table, self.prices = table, prices

    @property
    def columns(self) -> list[str]:
        from retainkit.pipeline import AT_RISK_COLUMNS, AT_RISK_VALUE_COLUMNS

        return [*AT_RISK_COLUMNS, *AT_RISK_VALUE_COLUMNS]

    def _rows(self) -> Any:
        base = self.table.at_risk_view(where=self.where)  # the filters test the at-risk columns: before the join
        return base._rows().join(self.prices, on="customer_id", how="left").select(*self.columns)

    def select(self, **chosen: Any) -> PricedAtRisk:
        found = super().select(**chosen)
        return PricedAtRisk(self.table, self.prices, attrs=self.attrs, where=found.where, order=found.order,
                            top=found.top)
