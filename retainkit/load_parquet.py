"""Parquet → the raw Arrow columns of the mapped fields, in types the rest of retainkit reads.

Parquet carries its own types, and an export may carry any: dictionary-encoded columns
are decoded, binary columns that hold UTF-8 text become text, large strings become
strings. A column whose type cannot be what its field needs (a struct or a list where an
id is expected, true/false where an amount is, bytes that are not UTF-8 text) is one
error line naming the file, the column and what was expected — never a crash later on.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.parquet as pq

from retainkit.config import ReadOptions
from retainkit.errors import RetainkitError
from retainkit.load_excel import NUMBER_FIELDS, TEXT_FIELDS
from retainkit.load_formats import FIELD_NOUNS, map_columns, shorten
from retainkit.schema import OPTION_FOR_FIELD, ColumnMapping

_Check = Callable[[pa.DataType], bool]

#: What each kind of field accepts, and how the error names what was expected.
_IDS: tuple[_Check, str] = (
    lambda t: (pa.types.is_string(t) or pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
               or pa.types.is_decimal(t) or pa.types.is_date(t) or pa.types.is_timestamp(t) or pa.types.is_null(t)),
    "ids (text or whole numbers)",
)
_DATES: tuple[_Check, str] = (
    lambda t: (pa.types.is_date(t) or pa.types.is_timestamp(t) or pa.types.is_string(t) or pa.types.is_integer(t)
               or pa.types.is_null(t)),
    "order dates (dates, timestamps, or text such as 2024-01-31)",
)
_NUMBERS: tuple[_Check, str] = (
    lambda t: (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_string(t)
               or pa.types.is_null(t)),
    "numbers",
)


def read_parquet(name: str, source: str | pa.BufferReader, options: ReadOptions) -> tuple[pa.Table, ColumnMapping]:
    """Read the mapped columns of one Parquet input, each in a type its field reads."""
    try:
        # ParquetFile.read skips the dataset layer: about twice as fast as read_table.
        parquet = pq.ParquetFile(source)
        mapping = map_columns(parquet.schema_arrow.names, options.columns, source=name)
        encoded = _dictionary_headers(parquet.schema_arrow, mapping)
        if encoded:
            parquet = pq.ParquetFile(source, read_dictionary=encoded)
        table = parquet.read(columns=mapping.columns)
    except RetainkitError:
        raise
    except (FileNotFoundError, PermissionError) as exc:
        raise RetainkitError(f"{name}: cannot read ({exc.strerror or exc})",
                             "check that the file is still there and readable") from None
    except (pa.ArrowException, OSError) as exc:
        raise RetainkitError(f"{name}: corrupt Parquet file ({_first_line(exc)})", "export it again") from None
    headers = {header: field for field, header in reversed(mapping.fields.items())}
    columns = [readable(name, field, header, table.column(header)) for header, field in headers.items()]
    return pa.table(dict(zip(headers, columns, strict=True))), mapping


def _dictionary_headers(schema: pa.Schema, mapping: ColumnMapping) -> list[str]:
    """Headers of the id fields that hold text (or text dictionaries): read dictionary-encoded,
    as Parquet stores them, one dictionary per row group."""
    def text(kind: pa.DataType) -> bool:
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        return pa.types.is_string(kind) or pa.types.is_large_string(kind)

    return [header for field, header in mapping.fields.items()
            if field in _CODED_FIELDS and text(schema.field(header).type)]


#: Ids read as Parquet stores them, dictionary-encoded per row group: their codes then come
#: from each row group's distinct ids (:mod:`retainkit.ids`) and no column of every row's
#: text is built (10M lines, reading and coding: 4.6 s of CPU against 7.1 s). Order ids are
#: not: most are whole numbers, read as integers without a hash (6.0 s with them).
_CODED_FIELDS = ("customer_id", "referred_by", "product")
#: The type they are handed over in.
CODED_TEXT = pa.dictionary(pa.int32(), pa.string())


def readable(name: str, field: str, header: str, column: pa.ChunkedArray) -> pa.ChunkedArray:
    """``column`` in a type ``field`` reads, or a :class:`RetainkitError` saying what was
    expected. Text ids stay dictionary-encoded (:data:`CODED_TEXT`)."""
    if column.null_count == len(column):  # no value at all: typed as the CSV reader types an empty column
        empty = pa.string() if field in TEXT_FIELDS else pa.float64() if field in NUMBER_FIELDS else pa.null()
        return pa.chunked_array([pa.nulls(len(column), empty)])
    if pa.types.is_dictionary(column.type):
        values = column.type.value_type
        if field in TEXT_FIELDS and (pa.types.is_string(values) or pa.types.is_large_string(values)):
            return column if column.type == CODED_TEXT else column.cast(CODED_TEXT)
        column = column.cast(values)
    kind = column.type
    if pa.types.is_large_string(kind) or getattr(pa.types, "is_string_view", lambda _: False)(kind):
        column = column.cast(pa.string())
    elif pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        column = _utf8(name, field, header, column)
    accepts, expected = _IDS if field in TEXT_FIELDS else _NUMBERS if field in NUMBER_FIELDS else _DATES
    if not accepts(column.type):
        option = OPTION_FOR_FIELD.get(field, "--" + field)
        raise RetainkitError(f"{name}, column {shorten(header)}: {_what(column.type)} where {expected} are expected",
                             f"name the {FIELD_NOUNS.get(field, field)} column with {option} COLUMN,"
                             " or export it as text")
    return column


def _utf8(name: str, field: str, header: str, column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Bytes as text when they are UTF-8; else an error naming the first row that is not."""
    try:
        return column.cast(pa.string())
    except pa.ArrowInvalid:
        pass
    offset = 0
    for chunk in column.chunks:
        low, high = 0, len(chunk)  # the first bad value is in chunk[low:high]
        if _is_text(chunk):
            offset += len(chunk)
            continue
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if _is_text(chunk.slice(low, middle - low)) else (low, middle)
        value = chunk[low].as_py() or b""
        shown = value[:12].hex(" ").upper() + (" …" if len(value) > 12 else "")
        raise RetainkitError(
            f"{name}, row {offset + low + 1}, column {shorten(header)}: bytes that are not UTF-8 text ({shown})"
            f" where {FIELD_NOUNS.get(field, field)}s as text are expected",
            "export that column as text (UTF-8)")
    return column.cast(pa.string())


def _is_text(values: pa.Array) -> bool:
    try:
        values.cast(pa.string())
    except pa.ArrowInvalid:
        return False
    return True


def _what(kind: pa.DataType) -> str:
    """A column type in words, for an error line."""
    names: list[tuple[Callable[[pa.DataType], bool], str]] = [
        (pa.types.is_struct, "nested records"), (pa.types.is_map, "maps"),
        (lambda t: pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t), "lists"),
        (pa.types.is_boolean, "true/false values"), (pa.types.is_floating, "numbers with decimals"),
        (pa.types.is_decimal, "decimal numbers"), (pa.types.is_time, "times of day"),
        (pa.types.is_duration, "durations"), (pa.types.is_temporal, "dates or times"),
        (pa.types.is_union, "values of mixed types"),
    ]
    words = next((w for test, w in names if test(kind)), "values")
    return f"{words} ({shorten(str(kind), 50)})"


def _first_line(exc: BaseException) -> str:
    return shorten((str(exc).strip().splitlines() or [type(exc).__name__])[0], 200)
