"""Files → one raw Arrow table of canonical columns (SPEC §1).

Reads CSV, TSV, ``.csv.gz``, Parquet and Excel workbooks (``.xlsx``, ``.xlsm``, ``.xls``,
``.ods``): a file or a folder of files, several at once, and ``-`` for standard input.
Named pipes, process substitution (``<(zcat orders.csv.gz)``, a ``/dev/fd/N``) and
``/dev/stdin`` are read like ``-``. What a file is comes from its first bytes, not its
name (:mod:`retainkit.load_formats`): a ``.csv`` holding Parquet, gzip or Excel bytes is
read as what it is, and stdin may carry any of them. In a folder, only files whose suffix
names an export are read; the others, and broken links, are listed in the notes. Only
the columns that map to a canonical field are read. No value is interpreted here beyond
what the file format itself says: dates, amounts and ids are parsed in
:mod:`retainkit.normalise`.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from retainkit.config import ReadOptions
from retainkit.errors import RetainkitError
from retainkit.load_csv import CsvInput, read_csv
from retainkit.load_excel import NUMBER_FIELDS, TEXT_FIELDS, plain_number, read_excel
from retainkit.load_formats import HEAD_BYTES, PARQUET_MAGIC, Format, identify, shorten, unreadable
from retainkit.load_parquet import read_parquet
from retainkit.schema import ColumnMapping

__all__ = ["NUMBER_FIELDS", "STDIN", "TEXT_FIELDS", "RawExport", "Source", "expand_paths", "load_export"]

STDIN = "-"
#: Exports in a folder, by suffix (a ``.txt`` is read when named, not found in a folder:
#: there it is usually a README).
DATA_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".parquet", ".pq",
                 ".xlsx", ".xlsm", ".xls", ".ods", ".numbers")
#: Files listed by name in a note about what a folder held besides exports.
_NOTED_FILES = 8
_EMPTY = "file is empty, no orders to read"
_PARQUET_SUFFIXES = (".parquet", ".pq")
_EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")


@dataclass(frozen=True)
class Source:
    """One input file and where its rows sit in the combined table.

    ``kind`` is ``csv``, ``parquet`` or ``excel``; for Excel, ``sheet`` is the sheet read
    and ``first_line`` the spreadsheet row of the first data row; for CSV, ``lines`` gives
    the physical line of a row (a quoted value may span lines).
    """

    name: str
    kind: str
    first_row: int = 0
    rows: int = 0
    sheet: str | None = None
    first_line: int = 2
    lines: Callable[[int], int] | None = field(default=None, compare=False, repr=False)

    def locate(self, row: int) -> str:
        """Where combined-table row ``row`` is in this file, as a person would look for it.

        >>> Source("orders.xlsx", "excel", 10, 5, sheet="Orders", first_line=2).locate(15)
        'orders.xlsx, sheet Orders, row 7'
        """
        local = row - self.first_row
        if self.kind == "excel":
            return f"{self.name}, sheet {self.sheet}, row {local + self.first_line}"
        if self.kind == "csv":
            line = self.lines(local) if self.lines else local + self.first_line  # line 1 is the header
            return f"{self.name}, line {line}"
        return f"{self.name}, row {local + 1}"


@dataclass(frozen=True)
class RawExport:
    """Rows of every input, columns renamed to canonical fields, not yet interpreted."""

    table: pa.Table
    sources: tuple[Source, ...]
    mapping: ColumnMapping
    notes: tuple[str, ...] = ()  # what reading passed over: files in folders, repeated headers

    def locate(self, row: int) -> str:
        """File and line/row of combined-table row ``row`` (for error messages)."""
        for source in self.sources:
            if source.first_row <= row < source.first_row + source.rows:
                return source.locate(row)
        return f"row {row + 1}"


@dataclass(frozen=True)
class _Read:
    """One input read: its raw columns (canonical names) and how to name its rows."""

    table: pa.Table
    mapping: ColumnMapping
    kind: str
    sheet: str | None = None
    first_line: int = 2
    lines: Callable[[int], int] | None = None
    notes: tuple[str, ...] = ()


def load_export(paths: Sequence[str], options: ReadOptions, *, stdin: BinaryIO | None = None) -> RawExport:
    """Read every file of ``paths`` (files, folders, ``-``) into one :class:`RawExport`."""
    files = expand_paths(paths)
    notes = [note for path in paths if os.path.isdir(path) for note in _folder_notes(path)]
    tables: list[pa.Table] = []
    sources: list[Source] = []
    mapping: ColumnMapping | None = None
    offset = 0
    for name in files:
        read = _read_one(name, options, stdin)
        mapping = mapping or read.mapping
        rows = read.table.num_rows
        sources.append(Source(name, read.kind, offset, rows, read.sheet, read.first_line, read.lines))
        offset += rows
        tables.append(read.table)
        notes += read.notes
    if offset == 0:
        shown = shorten(", ".join(files), 200)
        raise RetainkitError(f"{shown}: no data rows (only a header)", "export some orders first")
    assert mapping is not None
    combined = _concat(tables, options.date_format)
    # The CSV reader's block buffers are free now; hand them back so that the numpy work
    # that follows does not stack on top of them (about 0.3 GiB less peak at 10M lines).
    pa.default_memory_pool().release_unused()
    return RawExport(combined, tuple(sources), mapping, tuple(notes))


def expand_paths(paths: Sequence[str]) -> list[str]:
    """Each input by name; folders become the data files inside them, sorted."""
    if not paths:
        raise RetainkitError("no input file given", "pass one or more files, a folder, or - for stdin")
    files: list[str] = []
    for raw in paths:
        path = Path(raw)
        if raw == STDIN or path.is_file() or _is_stream(raw):
            files.append(raw)
        elif path.is_dir() and path.suffix.lower() == ".numbers":  # a Numbers document is a folder
            raise unreadable(raw, "an Apple Numbers file", "in Numbers, File › Export To › CSV… (or Excel…)")
        elif path.is_dir():
            inside = _folder(raw, path)[0]
            if not inside:
                raise RetainkitError(f"{raw}: folder holds no data files", f"expected {', '.join(DATA_SUFFIXES)} files")
            files.extend(inside)
        elif path.is_symlink():
            raise RetainkitError(f"{raw}: a symbolic link to {shorten(os.readlink(raw), 200)}, which does not exist")
        else:
            raise RetainkitError(f"{raw}: no such file or folder")
    return files


def _is_stream(name: str) -> bool:
    """A named pipe, ``/dev/fd/N`` of process substitution, ``/dev/stdin``, ``/dev/null``:
    read whole, like ``-``."""
    try:
        mode = os.stat(name).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


def _folder(raw: str, folder: Path) -> tuple[list[str], list[str], list[str]]:
    """The exports in ``folder`` (sorted, sub-folders included), the other files, and the
    broken links."""
    exports: list[str] = []
    others: list[str] = []
    broken: list[str] = []
    try:
        for path in sorted(folder.rglob("*"), key=export_order):
            name = path.name.lower()
            if any(part.lower().endswith(".numbers") for part in path.relative_to(folder).parts[:-1]):
                continue  # inside a Numbers document (itself an export, named in its error)
            if path.is_symlink() and not path.exists():
                broken.append(str(path.relative_to(folder)))
            elif name.endswith(".numbers") or (path.is_file() and name.endswith(DATA_SUFFIXES)
                                               and not name.startswith((".", "_", "~$"))):
                exports.append(str(path))  # not hidden files, nor Excel's lock files (~$orders.xlsx)
            elif not path.is_dir():
                others.append(str(path.relative_to(folder)))
    except OSError as exc:
        raise RetainkitError(f"{raw}: cannot list the folder ({exc.strerror or exc})") from None
    return exports, others, broken


def export_order(path: Path) -> tuple[tuple[str, ...], str, str]:
    """A folder's order: by sub-folder, then by name up to its first dot, so that an export
    comes before its copy (``orders.csv``, then ``orders (1).csv``: plain name order puts the
    space first) and the copy's rows are the ones counted as overlap (SPEC §1)."""
    return path.parent.parts, path.name.split(".", 1)[0], path.name


def _folder_notes(raw: str) -> list[str]:
    """What a folder held besides its exports, for the data-quality notes."""
    _, others, broken = _folder(raw, Path(raw))
    notes = []
    if others:
        notes.append(f"{raw}: {_count(len(others), 'file')} not read (not an export by its suffix): {_listed(others)}")
    if broken:
        notes.append(f"{raw}: {_count(len(broken), 'broken link')} skipped (the file linked to is missing): "
                     f"{_listed(broken)}")
    return notes


def _count(number: int, what: str) -> str:
    return f"{number:,} {what}{'s' if number != 1 else ''}"


def _listed(names: list[str]) -> str:
    shown = ", ".join(shorten(n, 60) for n in names[:_NOTED_FILES])
    return shown + (f" … and {len(names) - _NOTED_FILES:,} more" if len(names) > _NOTED_FILES else "")


# ---------------------------------------------------------------- one input, by its content


def _read_one(name: str, options: ReadOptions, stdin: BinaryIO | None) -> _Read:
    """Read one input as what its bytes say it is."""
    if name == STDIN:
        return _read_bytes(name, (stdin or sys.stdin.buffer).read(), options)
    if _is_stream(name):
        try:
            with open(name, "rb") as stream:
                return _read_bytes(name, stream.read(), options)
        except OSError as exc:
            raise RetainkitError(f"{name}: cannot read ({exc.strerror or exc})") from None
    try:
        with open(name, "rb") as handle:
            head = handle.read(HEAD_BYTES)
            fmt = identify(name, head, handle)
    except OSError as exc:
        raise RetainkitError(f"{name}: cannot read ({exc.strerror or exc})",
                             "check that the file is still there and readable") from None
    if not head.strip():
        raise RetainkitError(f"{name}: {_EMPTY}", "export some orders first")
    _check_suffix(name, fmt, head)
    if fmt.kind == "parquet":
        return _read_parquet(name, name, options)
    if fmt.kind == "excel":
        return _read_excel(name, name, options)
    if fmt.gzip and _gunzipped_head(name).startswith(PARQUET_MAGIC):
        return _read_bytes(name, _gunzip(name, Path(name).read_bytes()), options)
    return _read_csv(CsvInput(name, name, fmt.gzip, options.encoding or fmt.encoding), options)


def _read_bytes(name: str, data: bytes, options: ReadOptions) -> _Read:
    """Input held in memory (stdin, or a decompressed file): any format, by its bytes."""
    if not data.strip():
        raise RetainkitError(f"{name}: {_EMPTY}", "export some orders first")
    fmt = identify(name, data[:HEAD_BYTES], io.BytesIO(data))
    if fmt.gzip:
        return _read_bytes(name, _gunzip(name, data), options)
    if fmt.kind == "parquet":
        return _read_parquet(name, pa.BufferReader(data), options)
    if fmt.kind == "excel":
        return _read_excel(name, data, options)
    return _read_csv(CsvInput(name, data, encoding=options.encoding or fmt.encoding), options)


def _check_suffix(name: str, fmt: Format, head: bytes) -> None:
    """Text under a binary format's name is named, not read as what the name says."""
    if fmt.kind != "csv" or fmt.gzip:
        return
    lower = name.lower()
    if lower.endswith(_PARQUET_SUFFIXES):
        looks = "CSV text" if all(32 <= b < 127 or b in b"\t\r\n" for b in head[:4]) else "something else"
        raise RetainkitError(f"{name}: not a Parquet file (it starts like {looks})",
                             "rename a CSV file to .csv, or export Parquet again")
    if lower.endswith(_EXCEL_SUFFIXES):
        raise RetainkitError(f"{name}: not an Excel workbook (it holds text, like CSV)",
                             "rename it to .csv, or open it in Excel and save it as .xlsx")


def _gunzipped_head(name: str) -> bytes:
    try:
        with gzip.open(name, "rb") as handle:
            return handle.read(len(PARQUET_MAGIC))
    except (OSError, EOFError, zlib.error):
        return b""  # the CSV reader names the damage


def _gunzip(name: str, data: bytes) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise RetainkitError(f"{name}: damaged gzip data ({_first_line(exc)})", "compress or export it again") from None


# ---------------------------------------------------------------- the readers


def _read_csv(csv_input: CsvInput, options: ReadOptions) -> _Read:
    notes: list[str] = []
    table, mapping, lines = read_csv(csv_input, options, notes)
    return _Read(_canonical(table, mapping), mapping, "csv", lines=lines, notes=tuple(notes))


def _read_excel(name: str, source: str | bytes, options: ReadOptions) -> _Read:
    table, mapping, sheet = read_excel(name, source, options)
    return _Read(_canonical(table, mapping), mapping, "excel", sheet.name, sheet.first_row)


def _read_parquet(name: str, source: str | pa.BufferReader, options: ReadOptions) -> _Read:
    table, mapping = read_parquet(name, source, options)
    return _Read(_canonical(table, mapping), mapping, "parquet", first_line=1)


# ---------------------------------------------------------------- combining


def _canonical(table: pa.Table, mapping: ColumnMapping) -> pa.Table:
    """Rename raw headers to canonical fields (a header may feed only one field)."""
    columns = {name: table.column(header) for name, header in mapping.fields.items()}
    return pa.table(columns)


def _concat(tables: list[pa.Table], date_format: str | None = None) -> pa.Table:
    """One table from several inputs; a column whose type differs between them is unified
    (dates that meet text become text in ``date_format`` when given, else ISO)."""
    if len(tables) == 1:
        return tables[0]
    names = list(dict.fromkeys(n for t in tables for n in t.schema.names))
    targets = {n: _common_type([t.schema.field(n).type for t in tables if n in t.schema.names]) for n in names}
    aligned = []
    for table in tables:
        columns = {}
        for n in names:
            target = targets[n]
            col = table.column(n) if n in table.schema.names else pa.nulls(table.num_rows, target)
            columns[n] = col if col.type == target else _cast(col, target, n, date_format)
        aligned.append(pa.table(columns))
    return pa.concat_tables(aligned)


def _common_type(types: list[pa.DataType]) -> pa.DataType:
    """The type every input's column can become: itself, a timestamp for dates and naive
    timestamps, else text."""
    if len(set(types)) == 1:
        return types[0]
    if all(pa.types.is_date(t) or (pa.types.is_timestamp(t) and t.tz is None) for t in types):
        return pa.timestamp("us")
    return pa.string()


def _cast(column: pa.ChunkedArray, target: pa.DataType, name: str, date_format: str | None) -> pa.ChunkedArray:
    """``column`` as ``target``; an amount read as a float becomes text without a decimal
    mark, so it is no evidence against the mark the text inputs settle (SPEC §1)."""
    if name in NUMBER_FIELDS and pa.types.is_floating(column.type) and pa.types.is_string(target):
        return pa.chunked_array([pa.array([None if v is None else plain_number(v) for v in column.to_pylist()],
                                          pa.string())])
    if date_format and pa.types.is_string(target) and pa.types.is_temporal(column.type):
        return pc.strftime(column.cast(pa.timestamp("s")), format=date_format)
    return column.cast(target)


def _first_line(exc: BaseException) -> str:
    return shorten((str(exc).strip().splitlines() or [type(exc).__name__])[0], 200)
