"""Where a row of a Spark input is, named as the local engine names it (SPEC §7: the file,
the line or row, the column and the value at fault).

Spark numbers rows with ``_row`` (increasing through each input, not consecutive: each
partition starts its own range), so a row's place in its file is the number of rows of the
same file before it — one count, run only when there is an error to report. A CSV row is
named by its line (the header is line 1; a quoted value spanning lines is not counted
apart here), a Parquet row or a Spark DataFrame's by its number.

In a shard the rows are the shard's, not the file's: :func:`marker` stands for a row in an
error message, and the driver replaces it by the row's place (:func:`placed`).
"""

from __future__ import annotations

import re
from typing import Any

from retainkit.spark.read import FILE, ROW, SparkInput

_MARKER = re.compile(r"\[row (\d+):(-?\d+)\]")


def marker(file: int, row: int) -> str:
    """A row of input ``file`` with ``_row`` = ``row``, to be named on the driver.

    >>> marker(0, 17)
    '[row 0:17]'
    """
    return f"[row {file}:{row}]"


def order_of(message: str) -> tuple[int, int]:
    """The (input, ``_row``) of the first marker in ``message``: errors of several shards are
    reported first-row first, as the local engine finds them; a message without one last.

    >>> order_of("[row 1:5], column amount: …"), order_of("no row")
    ((1, 5), (9223372036854775807, 0))
    """
    found = _MARKER.search(message)
    return (int(found.group(1)), int(found.group(2))) if found else (2**63 - 1, 0)


def row_place(found: SparkInput, file: int, row: int) -> str:
    """``orders.csv, line 3`` / ``lake/part-1.parquet, row 2`` for a row of ``found``."""
    from pyspark.sql import functions as sf

    before = found.frame.where((sf.col(FILE) == file) & (sf.col(ROW) < row)).count()
    name = found.files[file] if 0 <= file < len(found.files) else "a row of the input"
    return f"{name}, line {before + 2}" if found.kind == "csv" else f"{name}, row {before + 1}"


def value_place(found: SparkInput, field: str, value: Any) -> str:
    """Where the first row whose ``field`` reads ``value`` is (file order, then row order)."""
    from pyspark.sql import functions as sf

    try:
        first = (found.frame.where(sf.col(field).cast("string") == str(value)).orderBy(FILE, ROW)
                 .select(FILE, ROW).first())
        return row_place(found, int(first[0]), int(first[1])) if first is not None else "a row of the input"
    except Exception:  # naming the place is a courtesy: the error itself is reported anyway
        return "a row of the input"


def placed(message: str, found: SparkInput) -> str:
    """``message`` with each :func:`marker` replaced by the row's place."""
    try:
        return _MARKER.sub(lambda m: row_place(found, int(m.group(1)), int(m.group(2))), message)
    except Exception:  # as above: the message stays, the place is left general
        return _MARKER.sub("a row of the input", message)
