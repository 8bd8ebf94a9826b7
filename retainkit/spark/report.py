"""The periodic report (SPEC §4, §5, §7) on Spark: the local report built from Spark's pieces.

:func:`retainkit.report.report_from` builds the report from a
:class:`~retainkit.report.ReportSource`; here each piece comes from the orders Spark holds,
sharded by customer, and nothing per customer reaches the driver but the rows the report
lists (at most :data:`~retainkit.report.LIST_LENGTH` of each):

- the period: :meth:`~retainkit.spark.engine.SparkOrders.resolve_period`, from the whole input;
- trend and cohorts: the shards' counts and exact sums (:mod:`retainkit.spark.periods`);
- KPIs, "act on this" counts and the at-risk revenue (exact), the lists of customers at
  risk and VIPs: the customer table held by Spark (:mod:`retainkit.spark.tables`); the
  customers who became at risk in the report's period: counted in each shard by the local
  rule, the counts added;
- "who will buy again" (HTML and Markdown only): the customers of the local section's
  sample found by a distributed sort of the distinct ids, only their orders (about
  :data:`~retainkit.report_buyers.SAMPLE` customers') brought to the driver, and the local
  fit run on them (:mod:`retainkit.spark.buyers`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from retainkit.metrics import KpiOptions
from retainkit.periods import Period
from retainkit.report import LIST_LENGTH, ReportOptions, ReportSource, became_at_risk, customer_section
from retainkit.spark.buyers import spark_buy_again

#: Each shard's count of the customers who became at risk.
COUNT = pa.schema([("customers", pa.int64())])


def spark_source(orders: Any) -> ReportSource:
    """What the report reads, from the orders Spark holds (:class:`retainkit.spark.engine.SparkOrders`)."""
    return ReportSource(
        period=lambda **kwargs: orders.resolve_period(**kwargs),
        trend=lambda period, every: orders.trend(period, every),
        cohorts=lambda period, every, metric: orders.cohorts(period, every, metric),
        customers=lambda period, options, days: customers(orders, period, options, days),
        buy_again=lambda start, end: functools.partial(spark_buy_again, orders, start_day=start, end_day=end),
    )


def customers(orders: Any, period: Period, options: ReportOptions, period_days: int) -> dict[str, Any]:
    """The KPIs and the customer lists of :func:`retainkit.report.customer_section`: the
    first rows of each list come to the driver, the counts are added in Spark."""
    from retainkit.spark.tables import spark_kpis

    kpis, table = spark_kpis(orders, period, KpiOptions(churn_alert=options.churn_alert), options.customers)
    risky = table.at_risk_view()
    section = customer_section(
        kpis, table.actions(), at_risk=risky.head(LIST_LENGTH),
        vips=table.select(vip=True, sort="revenue_365").head(LIST_LENGTH),
        lapsed_vips=risky.select(vip=True).head(1),
        became_at_risk=spark_became_at_risk(risky, options.customers.inactive_days, period_days))
    table.frame.unpersist()  # every list is on the driver: the table Spark held is done with
    return section


def spark_became_at_risk(risky: Any, inactive_days: int, period_days: int) -> int:
    """:func:`retainkit.report.became_at_risk` in each shard of the customers at risk, added."""
    from retainkit.spark.engine import _run, _spark_schema
    from retainkit.spark.shards import _whole

    def count(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        table = _whole(batches)
        if table is not None:
            found = became_at_risk(table.select(["recency_days", "days_overdue"]).to_pandas(), inactive_days,
                                    period_days)
            yield pa.RecordBatch.from_pydict({"customers": [found]}, schema=COUNT)

    rows = _run(lambda: risky._rows().mapInArrow(count, _spark_schema(COUNT)).collect())
    return sum(int(r["customers"]) for r in rows)
