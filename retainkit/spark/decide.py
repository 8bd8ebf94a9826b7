"""Decisions the local engine makes from a whole column, made once for the whole input (SPEC §1).

A shard sees some customers' rows only, so what a column's values decide together is decided
here, by the local code on the column's distinct values, and handed to every shard:

- the decimal mark of each amount read from text (:func:`retainkit.amounts.read_numbers`);
- day/month order of dates written ``03/04/2024`` (:func:`retainkit.parsing.local_seconds`);
- whether ids written ``17850.0`` are the integer ``17850`` (every id of the column is an
  integer): then the ``.0`` is removed here, before sharding.

Errors the decisions find (a column whose values settle the mark both ways, ambiguous
dates, two-digit years) are the local engine's, raised here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pyarrow as pa

from retainkit.amounts import read_numbers
from retainkit.config import ReadOptions
from retainkit.errors import RetainkitError
from retainkit.load_excel import NUMBER_FIELDS
from retainkit.parsing import MISSING_MARKERS, DateOptions, local_seconds
from retainkit.spark.keys import TRIM
from retainkit.spark.read import SparkInput
from retainkit.spark.where import value_place

ID_FIELDS = ("customer_id", "referred_by", "product")
_INTEGER = r"^-?[0-9]+(\.0+)?$"
_DOTTED_INTEGER = r"^-?[0-9]+\.0+$"


def decide(found: SparkInput, options: ReadOptions) -> tuple[Any, ReadOptions, dict[str, str]]:
    """The frame with integer ids made plain, the read options with the decisions in them,
    and the decimal mark decided per amount column (what ``data_quality.decimal_marks`` says)."""
    frame = _integer_ids(found.frame, [f for f in ID_FIELDS if f in found.frame.columns])
    texts = _distinct_texts(frame, _undecided_fields(frame, options))
    marks = _decimal_marks(texts, options, found)
    decided = options
    if options.decimal is None and marks:
        if len(set(marks.values())) > 1:
            raise RetainkitError(f"amount columns use different decimal marks ({marks}) and --engine spark needs one",
                                 "say which with --decimal . or --decimal ,")
        decided = replace(decided, decimal=next(iter(marks.values())))
    return frame, replace(decided, dayfirst=_dayfirst(texts.get("order_date"), options, found)), marks


def _text_type(frame: Any, field: str) -> bool:
    from pyspark.sql.types import StringType

    return isinstance(frame.schema[field].dataType, StringType)


def _integer_ids(frame: Any, fields: list[str]) -> Any:
    """Ids ``17850.0`` become ``17850`` when every id of the column is an integer (SPEC §1);
    ids of a float column become whole numbers when every one is. One pass for all columns."""
    from pyspark.sql import functions as sf
    from pyspark.sql.types import DoubleType, FloatType, StringType

    checks, kinds = [], {}
    for field in fields:
        kind = frame.schema[field].dataType
        column = sf.col(field)
        if isinstance(kind, DoubleType | FloatType):
            kinds[field] = "float"
            checks.append(sf.max(column.isNotNull() & ~sf.isnan(column) & (column != sf.floor(column))))
            checks.append(sf.lit(False))
        elif isinstance(kind, StringType):
            kinds[field] = "text"
            trimmed = sf.regexp_replace(column, TRIM, "")
            given = column.isNotNull() & (trimmed != "") & ~trimmed.isin(*MISSING_MARKERS)
            checks.append(sf.max(given & ~trimmed.rlike(_INTEGER)))
            checks.append(sf.max(given & trimmed.rlike(_DOTTED_INTEGER)))
    if not checks:
        return frame
    found = frame.agg(*checks).first()
    for index, field in enumerate(kinds):
        other, dotted = bool(found[2 * index]), bool(found[2 * index + 1])
        if kinds[field] == "float" and not other:
            frame = frame.withColumn(field, sf.col(field).cast("long"))
        elif dotted and not other:
            frame = frame.withColumn(field, sf.regexp_replace(sf.col(field), r"\.0+(\s*)$", "$1"))
        elif dotted:
            raise RetainkitError(f"column {field}: ids such as 17850.0 among ids that are not numbers: --engine "
                                 "spark cannot keep them apart as the local engine does",
                                 "run with --engine local, or fix the ids")
    return frame


def _undecided_fields(frame: Any, options: ReadOptions) -> list[str]:
    """Text columns whose values decide something together: amounts, and dates unless their
    order is given."""
    fields = [f for f in NUMBER_FIELDS if f in frame.columns and _text_type(frame, f)]
    if options.dayfirst is None and not options.date_format and _text_type(frame, "order_date"):
        fields.append("order_date")
    return fields


def _distinct_texts(frame: Any, fields: list[str]) -> dict[str, pa.ChunkedArray]:
    """The distinct values of each of ``fields``, in one Spark job (they come to the driver:
    amounts and dates repeat, so there are far fewer than rows)."""
    from pyspark.sql import functions as sf

    if not fields:
        return {}
    row = frame.agg(*[sf.collect_set(f) for f in fields]).first()
    return {f: pa.chunked_array([pa.array(sorted(row[i] or []), pa.string())]) for i, f in enumerate(fields)}


def _locator(found: SparkInput, field: str, values: pa.ChunkedArray) -> Callable[[int], str]:
    """Names the first row holding the ``i``-th of a column's distinct ``values``."""
    return lambda i: value_place(found, field, values[i].as_py())


def _decimal_marks(texts: dict[str, pa.ChunkedArray], options: ReadOptions, found: SparkInput) -> dict[str, str]:
    """The decimal mark of each amount column read from text, decided on its distinct values."""
    marks = {}
    for field, values in texts.items():
        if field in NUMBER_FIELDS:
            read = read_numbers(values, field=field, decimal=options.decimal, locate=_locator(found, field, values))
            if read.decimal is not None:
                marks[field] = read.decimal
    return marks


def _dayfirst(texts: pa.ChunkedArray | None, options: ReadOptions, found: SparkInput) -> bool | None:
    """Day/month order of text dates, as the whole column settles it (None: not needed)."""
    if texts is None:
        return options.dayfirst
    locate = _locator(found, "order_date", texts)
    settled = local_seconds(texts, DateOptions(None, None, options.tz), locate)
    try:
        day_first = local_seconds(texts, DateOptions(True, None, options.tz), locate)
    except RetainkitError:
        return False
    return bool((settled == day_first).all())
