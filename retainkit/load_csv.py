"""CSV and TSV text (a file, gzip-compressed or not, or bytes from stdin) → raw Arrow columns.

Only the columns that map to a canonical field are read, with pyarrow. Headers are
matched with their padding trimmed (``"  CUSTOMER ID "``), but read by their exact text.
A quoted value may hold a newline. A row with the wrong number of fields is an error
naming its line; so is a byte that is not UTF-8. Errors name the *physical* line of a
row (a value spanning lines or a blank line moves the rows below it down), found only
when an error needs it.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import re
import typing
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from retainkit.config import ReadOptions
from retainkit.errors import RetainkitError
from retainkit.load_blocks import BlockPlan, ByteRange, plan_file
from retainkit.load_excel import NUMBER_FIELDS, TEXT_FIELDS
from retainkit.load_formats import HEAD_BYTES, map_columns, shorten
from retainkit.schema import ColumnMapping

#: Arrow reads this many bytes at a time, in parallel.
BLOCK_SIZE = 1 << 24
_DELIMITERS = (",", ";", "\t", "|")
_READ_ERRORS = (OSError, EOFError, zlib.error)
#: Bytes either side of a block end whose newlines, inside quotes, make Arrow track quotes (a margin).
_END_WINDOW = 1 << 16
_LINE_END = re.compile(rb"\r\n|\r|\n")
#: Excel's delimiter hint, a first line ``sep=;`` (some exports write it so Excel splits right).
_SEP_LINE = re.compile(r'"?sep=([,;\t|])"?[ \t]*\r?\n')


@dataclass(frozen=True)
class CsvInput:
    """One CSV input: ``source`` is a path or the whole content; ``gzip`` when compressed."""

    name: str
    source: str | bytes
    gzip: bool = False
    encoding: str | None = None  # as given, or named by a byte-order mark
    sep_line: bool = False  # the first line is Excel's delimiter hint, ``sep=;``

    def arrow_stream(self) -> pa.NativeFile:
        """The input for Arrow's reader, decompressed."""
        if isinstance(self.source, bytes):
            return pa.BufferReader(self.source)
        return pa.input_stream(self.source, compression="gzip" if self.gzip else None)

    def arrow_range(self, start: int, end: int | None) -> pa.NativeFile:
        """Bytes ``[start, end)`` of an uncompressed input, for one of two readers side by side."""
        if isinstance(self.source, bytes):
            return pa.BufferReader(pa.py_buffer(self.source)[start:end])
        return pa.PythonFile(ByteRange(self.source, start, end), mode="r")

    def binary(self) -> BinaryIO:
        """The input for Python, decompressed."""
        if isinstance(self.source, bytes):
            return io.BytesIO(self.source)
        return typing.cast(BinaryIO, gzip.open(self.source, "rb") if self.gzip else open(self.source, "rb"))

    def text(self) -> io.TextIOWrapper:
        """The input as text, for the csv module (error paths only)."""
        return io.TextIOWrapper(self.binary(), encoding=self.encoding or "utf-8-sig", errors="replace", newline="")


def read_csv(csv_input: CsvInput, options: ReadOptions,
             notes: list[str] | None = None) -> tuple[pa.Table, ColumnMapping, LineNumbers]:
    """Read the mapped columns of one CSV input; columns keep their (trimmed) header names.

    Rows that repeat the header (exports pasted together) are dropped, and ``notes`` gets
    a sentence saying how many and where the first was.
    """
    name = csv_input.name
    _check_encoding(name, csv_input.encoding)
    head = _head(csv_input)
    if not head.strip():
        raise RetainkitError(f"{name}: file is empty, no orders to read", "export some orders first")
    text = _decode(head, name, csv_input.encoding)
    hint = _SEP_LINE.match(text)
    if hint:
        csv_input = replace(csv_input, sep_line=True)
        delimiter, text = hint.group(1), text[hint.end():]
    else:
        delimiter = _sniff_delimiter(name, text)
    try:
        raw_headers = _header_row(text, delimiter)
    except csv.Error as err:  # a header field over the csv module's limit (128 KiB)
        raise RetainkitError(f"{name}: cannot read the header ({err})", "is it a CSV file?") from None
    headers = [h.strip() for h in raw_headers]
    mapping = map_columns(headers, options.columns, source=name)
    raw_of: dict[str, str] = {}
    for raw, trimmed in zip(raw_headers, headers, strict=True):
        raw_of.setdefault(trimmed, raw)
    include = [raw_of[h] for h in mapping.columns]
    text_fields = [*TEXT_FIELDS, *NUMBER_FIELDS]
    if options.date_format or options.dayfirst is not None:
        text_fields.append("order_date")
    types = {raw_of[mapping.fields[f]]: pa.string() for f in text_fields if f in mapping.fields}
    try:
        table = _arrow_csv(csv_input, delimiter, include, types, raw_headers)
    except _ConversionError:
        # A column arrow could not type (a date column with a stray value): read it all as
        # text; the date parser names the row.
        table = _arrow_csv(csv_input, delimiter, include, dict.fromkeys(include, pa.string()), raw_headers)
    if any(pa.types.is_binary(kind) for kind in table.schema.types):  # Arrow found bytes that are not UTF-8
        raise _not_utf8(csv_input)
    lines = LineNumbers(csv_input, delimiter, table.num_rows)
    repeated = _repeated_headers(table, include)
    if repeated.size:
        table = table.filter(pa.array(np.isin(np.arange(table.num_rows), repeated, invert=True)))
        lines.dropped = tuple(int(i) for i in repeated)
        first = lines.line_of_read_row(int(repeated[0]))
        many = f"{repeated.size:,} rows repeating the header" if repeated.size > 1 else "a row repeating the header"
        (notes if notes is not None else []).append(
            f"{name}: {many} inside the data dropped (exports pasted together?), the first on line {first}")
    return table.rename_columns(mapping.columns), mapping, lines


def _repeated_headers(table: pa.Table, headers: list[str]) -> np.ndarray:
    """Rows whose every value read is its column's header. Only text columns can hold one
    (a typed date column cannot), so a typed or header-free first column costs nothing more."""
    if table.num_rows == 0 or not all(pa.types.is_string(t) for t in table.schema.types):
        return np.empty(0, dtype=np.int64)
    same = None
    for column, header in zip(table.columns, headers, strict=True):
        equal = pc.fill_null(pc.equal(column, header), False)
        same = equal if same is None else pc.and_(same, equal)
        if not pc.any(same).as_py():
            return np.empty(0, dtype=np.int64)
    assert same is not None
    return np.flatnonzero(same.to_numpy())


class _ConversionError(Exception):
    """Arrow inferred a type that a later value does not fit."""


def _arrow_csv(csv_input: CsvInput, delimiter: str, include: list[str], types: dict[str, pa.DataType],
               headers: list[str]) -> pa.Table:
    """The ``include`` columns. A large file is read in two halves at once by Arrow's streaming
    reader (:func:`retainkit.load_blocks.split_point`), which, unlike ``read_csv``, does not hold
    the whole text (30M lines: 2.7–3.2 s against 4.4–5.2 s, peak 2.5 against 4.8 GiB).
    ``read_csv`` reads the rest, and files whose second half does not fit the first's types."""
    name = csv_input.name
    plan = _block_plan(csv_input, delimiter)
    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=plan.track_quotes)

    def options(column_types: dict[str, pa.DataType], skip_rows: int, column_names: list[str] | None = None
                ) -> dict[str, Any]:
        return {"read_options": pacsv.ReadOptions(encoding=csv_input.encoding or "utf8", block_size=BLOCK_SIZE,
                                                  skip_rows=skip_rows, column_names=column_names),
                "parse_options": parse,
                # Only an empty cell is null here: NA, NULL, NaN … are decided and counted by
                # normalise (SPEC §1), not swallowed by the reader.
                "convert_options": pacsv.ConvertOptions(include_columns=include, column_types=column_types,
                                                        null_values=[""], strings_can_be_null=True,
                                                        quoted_strings_can_be_null=True)}

    def reader(stream: pa.NativeFile, column_types: dict[str, pa.DataType], *, skip_rows: int = 0,
               column_names: list[str] | None = None) -> pacsv.CSVStreamingReader:
        return pacsv.open_csv(stream, **options(column_types, skip_rows, column_names))

    try:
        if plan.split is not None and len(set(headers)) == len(headers):
            with contextlib.suppress(_ConversionError):
                return _read_halves(csv_input, plan.split, reader, types, headers)
        return pacsv.read_csv(csv_input.arrow_stream(), **options(types, int(csv_input.sep_line)))
    except pa.ArrowInvalid as exc:
        text = _first_line(exc)
        if "UTF8" in text or "utf-8" in text.lower():
            raise _not_utf8(csv_input) from None
        if "conversion error" in text:
            raise _ConversionError(text) from None
        if "Empty CSV" in text:
            raise RetainkitError(f"{name}: file is empty, no orders to read", "export some orders first") from None
        if "Expected" in text and "columns" in text:
            raise _ragged_row(csv_input, delimiter) from None
        raise RetainkitError(f"{name}: cannot read CSV ({text})", "check the delimiter and quoting") from None
    except UnicodeDecodeError:
        raise RetainkitError(f"{name}: cannot decode as {csv_input.encoding}", "check --encoding") from None
    except _READ_ERRORS as exc:
        raise RetainkitError(f"{name}: cannot read ({_os_reason(exc)})",
                             "check that the file is still there and readable") from None


# ---------------------------------------------------------------- quoted newlines


def _read_halves(csv_input: CsvInput, split: int, reader: Callable[..., pacsv.CSVStreamingReader],
                 types: dict[str, pa.DataType], headers: list[str]) -> pa.Table:
    """The rows before byte ``split`` and from it, read at once (Arrow's readers let go of
    the GIL); the second half, which has no header, is read with the first half's columns
    and the types Arrow gave them (:class:`_ConversionError` when they do not fit)."""
    streams = [csv_input.arrow_range(0, split), csv_input.arrow_range(split, None)]
    try:
        first = reader(streams[0], types, skip_rows=int(csv_input.sep_line))
        found = dict(zip(first.schema.names, first.schema.types, strict=True))
        with ThreadPoolExecutor(max_workers=1) as pool:
            second = pool.submit(lambda: reader(streams[1], found, column_names=headers).read_all())
            return pa.concat_tables([first.read_all(), second.result()])
    except pa.ArrowInvalid as exc:
        if "conversion error" in str(exc):
            raise _ConversionError(_first_line(exc)) from None
        raise
    finally:
        for stream in streams:
            stream.close()


def _block_plan(csv_input: CsvInput, delimiter: str = ",") -> BlockPlan:
    """How Arrow reads the input (:mod:`retainkit.load_blocks`): quotes tracked only where a
    block end falls on a quoted newline (tracking costs about 40% of reading time), two
    readers where that is safe. Gzip input and text Arrow transcodes (its blocks are of
    UTF-8, not of the file's bytes) are not scanned: one reader, quotes tracked."""
    if csv_input.gzip or codecs.lookup(csv_input.encoding or "utf-8").name != "utf-8":
        return BlockPlan(track_quotes=True)
    return plan_file(csv_input.source, BLOCK_SIZE, delimiter, _END_WINDOW)


# ---------------------------------------------------------------- header and delimiter


def _head(csv_input: CsvInput) -> bytes:
    """The input's first :data:`HEAD_BYTES`, or more: the header, however long, is read
    whole (up to :data:`BLOCK_SIZE`, the most Arrow reads at once)."""
    size = HEAD_BYTES
    while True:
        head = _read_head(csv_input, size)
        if len(head) < size or _holds_the_header(head):
            return head
        if size >= BLOCK_SIZE:
            raise RetainkitError(f"{csv_input.name}: the header is longer than {BLOCK_SIZE:,} bytes",
                                 "is it a CSV file? check its delimiter and quotes")
        size = min(size * 8, max(BLOCK_SIZE, HEAD_BYTES))


def _read_head(csv_input: CsvInput, size: int) -> bytes:
    if isinstance(csv_input.source, bytes) and not csv_input.gzip:
        return csv_input.source[:size]
    try:
        with csv_input.binary() as handle:
            return handle.read(size)
    except _READ_ERRORS as exc:
        raise RetainkitError(f"{csv_input.name}: cannot read ({_os_reason(exc)})") from None


def _holds_the_header(head: bytes) -> bool:
    """Whether ``head`` ends two lines (a ``sep=`` line and the header), quotes balanced; a
    line ends in ``\\n``, ``\\r\\n`` or a bare ``\\r`` (classic Mac exports)."""
    ends, quotes, start = 0, 0, 0
    for line_end in _LINE_END.finditer(head):
        quotes += head.count(b'"', start, line_end.start())
        start = line_end.end()
        ends += quotes % 2 == 0
        if ends == 2:
            return True
    return False


def _check_encoding(name: str, encoding: str | None) -> None:
    if encoding is None:
        return
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise RetainkitError(f"{name}: unknown encoding {encoding!r}", "e.g. --encoding cp1252") from None


def _decode(head: bytes, name: str, encoding: str | None) -> str:
    if encoding and encoding.replace("-", "").lower().startswith("utf16"):
        head = head[: len(head) // 2 * 2]
    try:
        return head.decode(encoding or "utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as err:
        if err.start >= len(head) - 4:
            return head[: err.start].decode(encoding or "utf-8").lstrip("\ufeff")  # cut by the read size
        if encoding is None:
            line = head[: err.start].count(b"\n") + 1
            raise RetainkitError(
                f"{name}: not UTF-8 text (line {line}: byte 0x{head[err.start]:02X}) (read as UTF-8)",
                "give the file's encoding, e.g. --encoding cp1252 or --encoding latin-1",
            ) from None
        raise RetainkitError(f"{name}: cannot decode as {encoding}", "check --encoding") from None


def _sniff_delimiter(name: str, text: str) -> str:
    """The delimiter that splits the header into the most fields with well-formed quotes:
    ``"Customer, ID";"Order, Date"`` is two fields split by ``;``, not four by ``,``."""
    if name.lower().endswith((".tsv", ".tsv.gz")):
        return "\t"
    best, most = ",", 1
    for delimiter in _DELIMITERS:
        try:
            fields = len(_header_row(text, delimiter, strict=True))
        except csv.Error:
            continue
        if fields > most:
            best, most = delimiter, fields
    return best


def _header_row(text: str, delimiter: str, *, strict: bool = False) -> list[str]:
    """The header fields exactly as Arrow names the columns (quotes removed, spaces kept)."""
    return next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=strict), [])


# ---------------------------------------------------------------- lines, for errors


@dataclass
class LineNumbers:
    """The physical line of each data row, worked out only when an error asks for one."""

    csv_input: CsvInput
    delimiter: str
    rows: int
    dropped: tuple[int, ...] = ()  # rows read but dropped (repeated headers), in order
    _one_line_each: bool | None = field(default=None, repr=False)

    def __call__(self, row: int) -> int:
        """Line of data row ``row`` (0-based, among the rows kept); the header is line 1."""
        for dropped in self.dropped:
            row += dropped <= row
        return self.line_of_read_row(row)

    def line_of_read_row(self, row: int) -> int:
        """Line of row ``row`` of the rows Arrow read (dropped ones included)."""
        above = 1 + int(self.csv_input.sep_line)  # the header, and the ``sep=`` line
        if self._one_line_each is None:
            self._one_line_each = self._count_newlines() - above + 1 in (self.rows, self.rows + 1)
        if self._one_line_each:
            return row + above + 1
        for index, (line, _) in enumerate(_records(self.csv_input, self.delimiter)):
            if index == row + 1:
                return line
        return row + above + 1

    def _count_newlines(self) -> int:
        count = 0
        try:
            with self.csv_input.binary() as handle:
                while chunk := handle.read(BLOCK_SIZE):
                    count += chunk.count(b"\n")
        except _READ_ERRORS:
            return -1
        return count


def _records(csv_input: CsvInput, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(first line, fields) of each record, header included; blank lines skipped as Arrow does.
    Stops early at what the csv module cannot read (a NUL byte, a field over 128 KiB)."""
    with csv_input.text() as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        line = 1
        try:
            for index, record in enumerate(reader):
                if record and not (index == 0 and csv_input.sep_line):
                    yield line, record
                line = reader.line_num + 1
        except csv.Error:
            return


def _ragged_row(csv_input: CsvInput, delimiter: str) -> RetainkitError:
    name = csv_input.name
    expected = None
    for line, record in _records(csv_input, delimiter):
        if expected is None:
            expected = len(record)
        elif len(record) != expected:
            shown = delimiter.join(record)
            shown = shown if len(shown) <= 60 else shown[:57] + "…"
            return RetainkitError(
                f"{name}, line {line}: {len(record)} fields where the header has {expected} ({shown!r})",
                "check that line's delimiters and quotes (a value with the delimiter needs quotes)",
            )
    return RetainkitError(f"{name}: rows with a different number of fields than the header",
                          "check the delimiter and quoting")


def _not_utf8(csv_input: CsvInput) -> RetainkitError:
    where = ""
    try:
        with csv_input.binary() as handle:
            for line_no, line in enumerate(handle, start=1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as err:
                    where = f" (line {line_no}: byte 0x{line[err.start]:02X})"
                    break
    except _READ_ERRORS:
        pass
    return RetainkitError(
        f"{csv_input.name}: not UTF-8 text{where} (read as UTF-8)",
        "give the file's encoding, e.g. --encoding cp1252 or --encoding latin-1",
    )


def _os_reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or _first_line(exc)


def _first_line(exc: BaseException) -> str:
    return shorten((str(exc).strip().splitlines() or [type(exc).__name__])[0], 200)
