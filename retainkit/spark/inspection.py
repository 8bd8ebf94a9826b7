"""``retainkit inspect --engine spark``: how Spark reads an export — the local report, from
Spark's read (:func:`retainkit.inspection.inspect_export` is the local one).

The files and their rows are counted by Spark (one aggregation); the sample values come
from the first :data:`~retainkit.inspection.SAMPLE_ROWS` rows of the inputs in order (the
only rows that reach the driver), shown by the local code; the date range and the
data-quality record are those of the normalised orders, as for every other command.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from retainkit.config import ReadOptions
from retainkit.errors import RetainkitError
from retainkit.inspection import SAMPLE_ROWS, InspectReport, date_range, samples
from retainkit.spark.engine import _run, _to_arrow, normalise_input
from retainkit.spark.read import FILE, ROW, read_input
from retainkit.spark.session import SparkOptions, get_session


def inspect_spark(source: Sequence[str] | Any, options: ReadOptions, spark_options: SparkOptions | None
                  ) -> InspectReport:
    """The ``inspect`` report of ``source`` read by Spark; a normalisation problem is kept in
    ``problem`` (as locally), so the mapping and the samples are still shown."""
    spark_options = spark_options or SparkOptions()
    found = read_input(get_session(spark_options), source, options)
    counts = dict(_run(lambda: found.frame.groupBy(FILE).count().collect()))
    head = _run(lambda: _to_arrow(found.frame.orderBy(FILE, ROW).limit(SAMPLE_ROWS).drop(FILE, ROW)))
    head = as_read_locally(head)
    report = InspectReport(
        sources=[{"file": name, "format": found.kind, "rows": int(counts.get(i, 0))}
                 for i, name in enumerate(found.files)],
        mapping=dict(found.mapping.fields),
        ignored=list(found.mapping.ignored),
        samples={},
    )
    try:
        data = normalise_input(found, options, spark_options)
    except RetainkitError as err:
        report.problem = str(err)
        report.samples = samples(head, {})
        return report
    report.samples = samples(head, data.quality.decimal_marks)
    report.quality = data.quality.as_dict()
    report.date_range = date_range(data.order_days, data.refund_days)
    data.release()
    return report


def as_read_locally(table: pa.Table) -> pa.Table:
    """Spark's columns in the types the local reader gives them: the session runs in UTC, so a
    timestamp Spark read from a zone-less column comes back as a UTC instant; without its
    zone it is the wall-clock time the file holds.

    >>> stamps = pa.array([0], pa.timestamp("us", tz="UTC"))
    >>> as_read_locally(pa.table({"order_date": stamps})).schema.field("order_date").type
    TimestampType(timestamp[us])
    """
    columns = [pc.cast(c, pa.timestamp(c.type.unit)) if pa.types.is_timestamp(c.type) and c.type.tz else c
               for c in table.columns]
    return pa.table(columns, names=table.column_names)
