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
from retainkit.load import RawExport, load_export
from retainkit.normalise import Normalised, normalise

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


def inspect_export(paths: Sequence[str], options: ReadOptions) -> InspectReport:
    """Mapping, samples, date range and data quality of an export; a normalisation problem
    is kept in ``problem`` rather than raised, so the mapping is still shown."""
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
        report.samples = _samples(raw, {})  # a column that could not be read is shown as it is
        return report
    report.samples = _samples(raw, data.quality.decimal_marks)
    report.quality = data.quality.as_dict()
    report.date_range = _date_range(data)
    return report


def _samples(raw: RawExport, decimal_marks: Mapping[str, str]) -> dict[str, list[str]]:
    """A few distinct values per column; a numeric field read from text shows the number
    each was read as (``250.000 ₫ → 250000``), with the decimal mark normalise decided for
    the whole column (SPEC §1)."""
    head = raw.table.slice(0, SAMPLE_ROWS)
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


def _date_range(data: Normalised) -> dict[str, str | None]:
    orders = data.orders
    dates = orders.loc[~orders["is_refund"], "order_date"]
    refunds = orders.loc[orders["is_refund"], "order_date"]
    def iso(series, how):
        return None if series.empty else getattr(series, how)().date().isoformat()
    return {
        "first_order": iso(dates, "min"),
        "last_order": iso(dates, "max"),
        "first_refund": iso(refunds, "min"),
        "last_refund": iso(refunds, "max"),
    }
