"""``retainkit inspect`` as a library call: how an export was read — its mapping, a few
values per column (numbers as read, SPEC §1), its date range and data-quality record."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from retainkit.amounts import read_numbers
from retainkit.config import ReadOptions
from retainkit.errors import RetainkitError
from retainkit.kernel import combine_quality
from retainkit.load import load_export
from retainkit.normalise import Normalised, normalise
from retainkit.periods import event_days, from_day_number

SAMPLE_ROWS = 10_000
SAMPLE_VALUES = 5


@dataclass
class InspectReport:
    """What ``retainkit inspect`` shows."""

    sources: list[dict[str, Any]]
    mapping: dict[str, str]
    ignored: list[str]
    samples: dict[str, list[str]]
    date_range: dict[str, str | None] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None


def inspect_export(paths: Sequence[str], options: ReadOptions, *, engine: str = "local", spark: Any = None
                   ) -> InspectReport:
    """Mapping, samples, date range and data quality of an export; a normalisation problem
    is kept in ``problem`` rather than raised, so the mapping is still shown. With
    ``engine="spark"`` Spark reads it (:func:`retainkit.spark.inspection.inspect_spark`)."""
    if engine == "spark":
        from retainkit.spark.inspection import inspect_spark

        return inspect_spark(paths, options, spark)
    raw = load_export(paths, options)
    report = InspectReport(
        sources=[{"file": s.name, "format": s.kind, "rows": s.rows} for s in raw.sources],
        mapping=dict(raw.mapping.fields),
        ignored=list(raw.mapping.ignored),
        samples={},
    )
    try:
        data = normalise(raw, options)
    except RetainkitError as err:
        report.problem = str(err)
        report.samples = samples(raw.table, {})  # a column that could not be read is shown as it is
        return report
    report.samples = samples(raw.table, data.quality.decimal_marks)
    report.quality = combine_quality([data.quality]).as_dict()  # amounts to the cent, as every command has them
    report.date_range = date_range(*_days(data))
    return report


def samples(table: pa.Table, decimal_marks: Mapping[str, str]) -> dict[str, list[str]]:
    """A few distinct values per column of the first :data:`SAMPLE_ROWS` rows of ``table``
    (the inputs' rows in order); a numeric field read from text shows the number each was
    read as (``250.000 ₫ → 250000``), with the decimal mark normalise decided for the whole
    column (SPEC §1)."""
    head = table.slice(0, SAMPLE_ROWS)
    out = {}
    for name in head.column_names:
        values = pc.unique(head.column(name).drop_null()).slice(0, SAMPLE_VALUES)
        texts = [str(v) for v in values.to_pylist()]
        if name in decimal_marks:
            texts = _with_numbers_read(name, values, texts, decimal_marks[name])
        out[name] = texts
    return out


def _with_numbers_read(name: str, values: pa.Array, texts: list[str], decimal: str) -> list[str]:
    try:
        read = read_numbers(pa.chunked_array([values]), field=name, decimal=decimal, locate=str)
    except RetainkitError:
        return texts
    return [f"{text} → {'(empty)' if math.isnan(number) else format(number, '.15g')}"
            for text, number in zip(texts, read.values.tolist(), strict=True)]


def _days(data: Normalised) -> tuple[list[int], list[int]]:
    """The first and last day number of the orders, and of the refunds ([] for none)."""
    day, refund = event_days(data.orders), data.orders["is_refund"].to_numpy(dtype=bool)
    return ([int(day[~refund].min()), int(day[~refund].max())] if (~refund).any() else [],
            [int(day[refund].min()), int(day[refund].max())] if refund.any() else [])


def date_range(order_days: Sequence[int], refund_days: Sequence[int]) -> dict[str, str | None]:
    """``date_range`` of the report from the first and last day numbers ([] for none).

    >>> date_range([19737, 19800], [])
    {'first_order': '2024-01-15', 'last_order': '2024-03-18', 'first_refund': None, 'last_refund': None}
    """
    def iso(days: Sequence[int], at: int) -> str | None:
        return from_day_number(int(days[at])).isoformat() if len(days) else None

    return {"first_order": iso(order_days, 0), "last_order": iso(order_days, -1),
            "first_refund": iso(refund_days, 0), "last_refund": iso(refund_days, -1)}
