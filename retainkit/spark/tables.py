"""Per-customer results that stay in Spark: the KPIs, the customer table, customers at risk.

Nothing here holds all customers in one process. The per-customer rows of the kernel
(:func:`retainkit.kernel.shard_rows`) stay sharded in Spark; each shard adds up what the
KPIs and the "act on this" summary need (:func:`retainkit.metrics.kpi_parts`,
:func:`retainkit.actions.action_parts`: counts and exact sums, added on the driver); the
global ranks — RFM scores, the VIP cut, the top 20 % — are cut values found from counts of
customers per distinct value (:mod:`retainkit.spark.ranks`), then applied in each shard by
the local functions (:func:`retainkit.customers.with_ranks`). The customer table itself is
a Spark DataFrame (:class:`SparkTable`): written by Spark (``--output`` a Parquet folder
anywhere Spark writes), and only the rows a table or a file shows come to the driver.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pyarrow as pa

from retainkit.actions import action_parts, actions_from_parts
from retainkit.customers import (
    BASE_COLUMNS,
    COLUMNS,
    LEVEL_NAMES,
    SEGMENTS,
    CustomerOptions,
    at_risk_customers,
    customer_base,
    with_ranks,
)
from retainkit.exact import as_text, from_text
from retainkit.metrics import KpiOptions, KpiTotals, add_parts, kpi_parts, kpis_from_totals
from retainkit.periods import Period
from retainkit.ranks import RankCuts, VipCut, rfm_positions, vip_count
from retainkit.reductions import CustomerWindows
from retainkit.spark.held import HeldRows
from retainkit.spark.ranks import Distribution, distributions
from retainkit.spark.shards import WINDOW_TYPES, _whole

#: The Arrow type of every column of the customer tables in Spark.
TYPES: dict[str, pa.DataType] = {
    "customer_id": pa.string(), "first_order": pa.date32(), "last_order": pa.date32(), "orders": pa.int64(),
    "revenue": pa.float64(), "average_order_value": pa.float64(), "recency_days": pa.int64(),
    "tenure_days": pa.int64(), "purchase_days": pa.int64(), "avg_days_between_orders": pa.float64(),
    "expected_next_order": pa.date32(), "days_overdue": pa.float64(), "revenue_365": pa.float64(),
    "r_score": pa.int64(), "f_score": pa.int64(), "m_score": pa.int64(), "rfm_segment": pa.string(),
    "is_vip": pa.bool_(), "at_risk": pa.bool_(), "level": pa.int64(), "level_name": pa.string(),
    "why": pa.string(), "_revenue_365": pa.float64(), "payload": pa.string(),
    # product lapses (at-risk --products)
    "product": pa.string(), "first_purchase": pa.date32(), "last_purchase": pa.date32(), "days_since": pa.int64(),
    "usual_gap_days": pa.float64(), "customer_at_risk": pa.bool_(),
}
#: Text columns that are categories locally: sorted in their categories' order, not by name.
CATEGORIES = {"rfm_segment": list(SEGMENTS), "level_name": [LEVEL_NAMES[i] for i in range(-1, 6)]}
BASE = (*BASE_COLUMNS, "_revenue_365")
DATES = ("first_order", "last_order", "expected_next_order")


def schema(columns: tuple[str, ...] | list[str]) -> Any:
    """The Spark schema of ``columns``."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(pa.schema([(c, TYPES[c]) for c in columns]))


def batch(frame: pd.DataFrame, columns: tuple[str, ...] | list[str]) -> pa.RecordBatch:
    """``frame``'s ``columns`` as Arrow: NaN and NaT as nulls, dates as dates, names as text."""
    arrays = []
    for column in columns:
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(object)
        array = pa.array(values, from_pandas=True)
        if isinstance(array, pa.ChunkedArray):  # a column pandas holds in Arrow chunks (text)
            array = array.combine_chunks()
        arrays.append(array if array.type == TYPES[column] else array.cast(TYPES[column]))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema([(c, TYPES[c]) for c in columns]))


def local_frame(table: pa.Table, *, has_amount: bool) -> pd.DataFrame:
    """Rows that came to the driver, in the types the local engine's table has."""
    frame = table.to_pandas(date_as_object=False)
    for column in frame.columns:
        kind = table.schema.field(column).type
        if pa.types.is_date(kind):
            frame[column] = frame[column].astype("datetime64[s]")
        elif column in CATEGORIES:
            frame[column] = pd.Categorical(frame[column].astype(object), categories=CATEGORIES[column])
    if not has_amount:
        if "m_score" in frame:
            frame["m_score"] = pd.array([pd.NA] * len(frame), dtype="Int64")
        if "is_vip" in frame:
            frame["is_vip"] = pd.array([pd.NA] * len(frame), dtype="boolean")
    return frame


def _windows(table: pa.Table) -> pd.DataFrame:
    """A shard's per-customer rows as the kernel's frame (customer ids as the index)."""
    frame = table.select(list(WINDOW_TYPES)).to_pandas()
    frame.index = pd.Index(table.column("customer_id").to_pylist(), dtype=object)
    return frame


def _payload(parts: dict[str, Any]) -> pa.RecordBatch:
    text = {k: as_text(v) if not isinstance(v, int) else v for k, v in parts.items()}
    return pa.RecordBatch.from_pydict({"payload": [json.dumps(text)]}, schema=pa.schema([("payload", pa.string())]))


def _added(frame: Any) -> dict[str, Any]:
    """The shards' payloads, added (an empty input: no parts)."""
    from retainkit.spark.engine import _run

    rows = _run(lambda: frame.collect())
    parts = [{k: v if isinstance(v, int) else from_text(v) for k, v in json.loads(r["payload"]).items()} for r in rows]
    return add_parts(parts) if parts else {}


def windows_of(orders: Any, period: Period) -> Any:
    """The kernel's per-customer rows, one Spark row per customer, referral counts joined in
    from every shard's pairs; held by Spark for the passes that follow."""
    from pyspark.sql import functions as sf

    from retainkit.spark.engine import _spark_schema
    from retainkit.spark.shards import ROWS_SCHEMA, reduce_shard

    rows = orders.events.mapInArrow(
        reduce_shard(period, has_amount=orders.has_amount, has_referrals=orders.has_referrals),
        _spark_schema(ROWS_SCHEMA)).persist()
    windows = rows.where("kind = 'window'").drop("kind", "referrer")
    if orders.has_referrals:  # distinct customers naming each one, over every shard
        named = (rows.where("kind = 'referral'").select("referrer", "customer_id").distinct().groupBy("referrer")
                 .agg(sf.count(sf.lit(1)).alias("_named")))
        windows = (windows.drop("referred_customers").join(named, windows["customer_id"] == named["referrer"], "left")
                   .withColumn("referred_customers", sf.coalesce(sf.col("_named"), sf.lit(0)).cast("long"))
                   .drop("referrer", "_named"))
    return windows.persist()


def spark_kpis(orders: Any, period: Period, options: KpiOptions, customer_options: CustomerOptions | None
               ) -> tuple[dict[str, Any], SparkTable]:
    """The KPIs, from Spark's shards (aggregates only reach the driver), and the customer
    table they were found with (its "act on this": :meth:`SparkTable.actions`)."""
    from retainkit.spark.engine import _run

    windows = windows_of(orders, period)
    in_c = _run(lambda: Distribution(windows.where("orders_in_period > 0"), "revenue_in_period"))
    count = (in_c.n + 4) // 5
    top = float(_run(lambda: in_c.at([in_c.n - count]))[0]) if count and orders.has_amount else None
    has_amount = orders.has_amount

    def parts(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        table = _whole(batches)
        if table is not None:
            yield _payload(kpi_parts(_windows(table), period, top=top, has_amount=has_amount))

    added = _added(windows.mapInArrow(parts, schema(["payload"])))
    if not added:
        added = kpi_parts(pd.DataFrame({c: pd.Series([], dtype=_dtype(t)) for c, t in WINDOW_TYPES.items()}), period,
                          top=None, has_amount=has_amount)
    shape = CustomerWindows(pd.DataFrame(), period, has_amount, orders.has_referrals)
    metrics = kpis_from_totals(KpiTotals.of(added, shape, top=top), options)
    table = customer_table(orders, period, customer_options, windows=windows)
    windows.unpersist()
    return metrics, table


def _dtype(kind: pa.DataType) -> str:
    return "int64" if kind == pa.int64() else "bool" if kind == pa.bool_() else "float64"


def customer_table(orders: Any, period: Period, options: CustomerOptions | None, *, windows: Any = None,
                   at_risk: bool = False) -> SparkTable:
    """The customer table of SPEC §5 in Spark (:class:`SparkTable`); with ``at_risk``, the
    customers at risk, by value at risk (:func:`retainkit.customers.at_risk_customers`)."""
    opts = options or CustomerOptions()
    windows = windows if windows is not None else windows_of(orders, period)
    has_amount, has_referrals = orders.has_amount, orders.has_referrals

    def base(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        table = _whole(batches)
        if table is not None:
            yield batch(customer_base(CustomerWindows(_windows(table), period, has_amount, has_referrals), opts), BASE)

    held = windows.mapInArrow(base, schema(BASE)).persist()
    cuts = rank_cuts(held, opts.vip_top, has_amount=has_amount)
    return SparkTable(held, cuts, has_amount=has_amount, attrs=_attrs(orders), at_risk=at_risk)


def rank_cuts(base: Any, vip_top: float, *, has_amount: bool) -> RankCuts:
    """:func:`retainkit.customers.rank_cuts`, from counts per distinct value in Spark (one
    job for the four ranks when their distinct values are few enough)."""
    from pyspark.sql import functions as sf

    from retainkit.spark.engine import _run

    columns = {"recency": sf.col("recency_days"), "frequency": sf.col("orders")}
    if has_amount:
        columns |= {"monetary": sf.col("revenue"), "vip": sf.when(sf.col("_revenue_365") > 0, sf.col("_revenue_365"))}

    def find() -> RankCuts:
        found = distributions(base, columns)
        n = found["recency"].n
        monetary = found["monetary"].at(rfm_positions(n, higher_is_better=True)) if has_amount else []
        return RankCuts(tuple(found["recency"].at(rfm_positions(n, higher_is_better=False))),
                        tuple(found["frequency"].at(rfm_positions(n, higher_is_better=True))), tuple(monetary),
                        vip_cut(base, found["vip"], vip_top) if has_amount else VipCut(0), n)

    return _run(find)  # type: ignore[no-any-return]


def vip_cut(base: Any, revenue: Distribution, vip_top: float) -> VipCut:
    """:func:`retainkit.ranks.vip_cut` in Spark: the cut value from counts per revenue over
    the last 365 days (``revenue``: of those with a positive one), and of the customers tied
    at it, the id of the last one the count leaves room for."""
    from pyspark.sql import functions as sf

    count = vip_count(revenue.n, vip_top)
    if count <= 0 or count >= revenue.n:
        return VipCut(count, everyone=count > 0)
    value = revenue.at([revenue.n - count])[0]
    room = count - revenue.above(value)
    if room <= 0:
        return VipCut(count, value)
    tied = Distribution(base.where(sf.col("_revenue_365") == value), "customer_id")
    return VipCut(count, value, str(tied.at([room - 1])[0]), room=room)


def _attrs(orders: Any) -> dict[str, Any]:
    """What :func:`retainkit.pipeline.with_quality` attaches to a local table."""
    from retainkit.duplicates import overlap_sentence

    quality = orders.quality.as_dict()
    overlap = overlap_sentence(quality)
    return {"data_quality": quality, **({"notes": [overlap]} if overlap else {})}


class SparkTable(HeldRows):
    """A customer table held by Spark: ``frame`` (the base columns), the global cuts, the
    rows chosen (filters), their order and how many (``top``). :meth:`head` and
    :meth:`to_pandas` bring rows to the driver, in the local table's types and order;
    :meth:`write_parquet` has Spark write them."""

    def __init__(self, frame: Any, cuts: RankCuts, *, has_amount: bool, attrs: dict[str, Any],
                 at_risk: bool = False, where: tuple[Any, ...] = (), order: tuple[tuple[str, bool], ...] = (),
                 top: int | None = None) -> None:
        self.frame, self.cuts, self.has_amount, self.attrs = frame, cuts, has_amount, attrs
        self.at_risk, self.where, self.top = at_risk, where, top
        self.order = order or ((("revenue_365", False), ("customer_id", True)) if at_risk else (("customer_id", True),))

    @property
    def columns(self) -> list[str]:
        from retainkit.pipeline import AT_RISK_COLUMNS

        return list(AT_RISK_COLUMNS if self.at_risk else COLUMNS)

    def _rows(self) -> Any:
        """The ranked rows in Spark, filtered (not yet ordered)."""
        cuts, has_amount, at_risk, columns = self.cuts, self.has_amount, self.at_risk, self.columns

        def ranked(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            table = _whole(batches)
            if table is not None:
                base = table.to_pandas(date_as_object=False).astype(dict.fromkeys(DATES, "datetime64[s]"))
                rows = with_ranks(base, cuts, has_amount=has_amount)
                yield batch(at_risk_customers(rows) if at_risk else rows, columns)

        rows = self.frame.mapInArrow(ranked, schema(columns))
        for condition in self.where:
            rows = rows.where(condition)
        return rows

    def _key(self, column: str) -> Any:
        """A category column sorts by its place in the local category order."""
        from pyspark.sql import functions as sf

        if column not in CATEGORIES:
            return sf.col(column)
        return sf.array_position(sf.array(*[sf.lit(c) for c in CATEGORIES[column]]), sf.col(column))

    def select(self, *, segment: str | None = None, level: int | None = None, vip: bool | None = None,
               at_risk: bool | None = None, sort: str | None = None, descending: bool = True,
               top: int | None = None) -> SparkTable:
        """:func:`retainkit.customers.select_customers` on Spark's rows."""
        from pyspark.sql import functions as sf

        where = list(self.where)
        if segment is not None:
            name = next((s for s in SEGMENTS if s.casefold() == segment.casefold()), segment)
            where.append(sf.col("rfm_segment") == name)
        for column, value in (("level", level), ("is_vip", vip), ("at_risk", at_risk)):
            if value is not None:
                where.append(sf.col(column) == value)
        order = ((sort, not descending), ("customer_id", True)) if sort is not None else self.order
        return SparkTable(self.frame, self.cuts, has_amount=self.has_amount, attrs=self.attrs, at_risk=self.at_risk,
                          where=tuple(where), order=order, top=top if top is not None else self.top)

    def at_risk_view(self, *, where: tuple[Any, ...] = ()) -> SparkTable:
        """The customers at risk of the same rows (:func:`retainkit.customers.at_risk_customers`
        in each shard), in the at-risk order, with ``where`` on their columns."""
        return SparkTable(self.frame, self.cuts, has_amount=self.has_amount, attrs=self.attrs, at_risk=True,
                          where=where)

    def _count(self) -> int:
        if not (self.where or self.at_risk or self.top is not None):
            return self.cuts.customers  # every customer: counted with the ranks
        return super()._count()

    def _local(self, rows: Any) -> pd.DataFrame:
        from retainkit.spark.engine import _run, _to_arrow

        frame = local_frame(_run(lambda: _to_arrow(rows)), has_amount=self.has_amount)
        frame.attrs = copy.deepcopy(self.attrs)
        return frame

    def segments(self) -> pd.DataFrame:
        """The segments summary (:func:`retainkit.segments.segment_summary`) from the shards'
        parts, added on the driver."""
        from retainkit.segments import add_segment_parts, segment_parts, summary_from_parts
        from retainkit.spark.engine import _run

        cuts, has_amount = self.cuts, self.has_amount

        def parts(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            table = _whole(batches)
            if table is not None:
                part = segment_parts(with_ranks(table.to_pandas(date_as_object=False), cuts, has_amount=has_amount))
                part["revenue"] = as_text(part["revenue"])
                for mine in part["groups"].values():
                    mine["revenue"] = as_text(mine["revenue"])
                yield pa.RecordBatch.from_pydict({"payload": [json.dumps(part)]}, schema=pa.schema([("payload",
                                                                                                     pa.string())]))

        def read(text: str) -> dict[str, Any]:
            part = json.loads(text)
            part["revenue"] = from_text(part["revenue"])
            for mine in part["groups"].values():
                mine["revenue"] = from_text(mine["revenue"])
                mine["recency"] = {int(k): v for k, v in mine["recency"].items()}
            return part

        rows = _run(lambda: self.frame.mapInArrow(parts, schema(["payload"])).collect())
        return summary_from_parts(add_segment_parts([read(r["payload"]) for r in rows]))

    def actions(self) -> dict[str, Any]:
        """The "act on this" summary of ``kpis`` (:func:`retainkit.actions.act_on_this`)."""
        cuts, has_amount = self.cuts, self.has_amount

        def parts(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            table = _whole(batches)
            if table is not None:
                base = table.to_pandas(date_as_object=False)
                yield _payload(action_parts(with_ranks(base, cuts, has_amount=has_amount)))

        added = _added(self.frame.mapInArrow(parts, schema(["payload"])))
        if not added:
            empty = pd.DataFrame({"at_risk": [], "is_vip": [], "revenue_365": [], "level": []})
            added = action_parts(empty.astype({"at_risk": bool, "is_vip": bool, "revenue_365": float, "level": int}))
        return actions_from_parts(added)
