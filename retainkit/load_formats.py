"""What an input is, from its first bytes (SPEC §1): read by content, never by name alone.

A ``.csv`` that holds Parquet, gzip or Excel bytes is read as what it is; a format
retainkit cannot read (Apple Numbers, a zip archive, a PDF, bzip2 …) is named as such in
the error, never reported as text that is "not UTF-8".
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from retainkit.errors import RetainkitError
from retainkit.schema import ColumnMapping, resolve_mapping

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old .xls, and password-protected .xlsx
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
#: Bytes that text in any 8-bit encoding hardly holds (not tab, newlines, form feed, DOS end of file).
_CONTROL_BYTES = (*(b for b in range(32) if b not in (9, 10, 12, 13, 26)), 127)
#: How many bytes :func:`identify` wants to see.
HEAD_BYTES = 1 << 16

#: Binary formats retainkit does not read: magic → (what it is, what to do).
_NAMED: tuple[tuple[bytes, str, str], ...] = (
    (b"BZh", "bzip2-compressed data", "decompress it, or compress the CSV with gzip (.csv.gz)"),
    (b"\xfd7zXZ\x00", "xz-compressed data", "decompress it, or compress the CSV with gzip (.csv.gz)"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data", "decompress it, or compress the CSV with gzip (.csv.gz)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract it and give the files inside"),
    (b"Rar!\x1a\x07", "a RAR archive", "extract it and give the files inside"),
    (b"%PDF", "a PDF document", "export the orders as CSV or Excel (.xlsx) instead"),
    (b"SQLite format 3\x00", "an SQLite database", "export the orders table as CSV or Parquet"),
    (b"ARROW1", "an Arrow IPC / Feather file", "write it as Parquet"),
    (b"ORC", "an ORC file", "write it as Parquet"),
    (b"Obj\x01", "an Avro file", "write it as Parquet or CSV"),
)


@dataclass(frozen=True)
class Format:
    """How to read an input: ``kind`` is ``csv``, ``parquet`` or ``excel``; ``gzip`` says the
    bytes must be decompressed first; ``encoding`` is set when a byte-order mark names it."""

    kind: str
    gzip: bool = False
    encoding: str | None = None


def identify(name: str, head: bytes, opener: BinaryIO | None = None) -> Format:
    """The format of input ``name`` from its first bytes ``head`` (see :data:`HEAD_BYTES`).

    ``opener`` is the whole input, seekable, used only to look inside a zip archive.
    Raises :class:`RetainkitError` naming any format retainkit cannot read.

    >>> identify("x.csv", b"PAR1...."), identify("x.csv", b"customer,date\\n")
    (Format(kind='parquet', gzip=False, encoding=None), Format(kind='csv', gzip=False, encoding=None))
    """
    if head.startswith(PARQUET_MAGIC):
        return Format("parquet")
    if head.startswith(GZIP_MAGIC):
        return Format("csv", gzip=True)
    if head.startswith(OLE2_MAGIC):
        return Format("excel")
    if head.startswith(ZIP_MAGICS):
        return _zip_format(name, opener)
    if head.startswith(UTF16_BOMS):
        return Format("csv", encoding="utf-16")
    for magic, what, hint in _NAMED:
        if head.startswith(magic):
            raise unreadable(name, what, hint)
    _check_text(name, head)
    return Format("csv")


def unreadable(name: str, what: str, hint: str) -> RetainkitError:
    """The one-line error for an input in a format retainkit does not read."""
    return RetainkitError(f"{name}: cannot read {what}", hint)


def _zip_format(name: str, opener: BinaryIO | None) -> Format:
    """An Excel or OpenDocument workbook is a zip; so are Apple Numbers files and archives."""
    try:
        members = zipfile.ZipFile(opener).namelist() if opener is not None else []
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        raise unreadable(name, "a damaged zip file (an .xlsx is a zip)", "export it again") from None
    if any(m.startswith("xl/") for m in members):
        return Format("excel")
    if "content.xml" in members and "mimetype" in members:
        return Format("excel")  # OpenDocument (.ods), which the Excel reader reads too
    if any(m.startswith("Index/") for m in members):
        raise unreadable(name, "an Apple Numbers file",
                         "in Numbers, File › Export To › CSV… (or Excel…), then give that file")
    shown = ", ".join(members[:3]) + (" …" if len(members) > 3 else "")
    raise unreadable(name, f"a zip archive (holding {shown or 'nothing'})", "unzip it and give the files inside")


_FEW_CONTROL_BYTES = 8


def _check_text(name: str, head: bytes) -> None:
    """Text is read as CSV; an HTML page or an XML spreadsheet (saved as .xls by some
    systems) and binary data are named instead."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1024].lower()
    if start.startswith((b"<!doctype html", b"<html", b"<table")) or b"<html" in start[:200]:
        raise unreadable(name, "an HTML page (some systems save a web table under an .xls name)",
                         "open it in Excel and save it as .xlsx or CSV")
    if start.startswith(b"<?xml") and (b"spreadsheet" in start or b"<workbook" in start):
        raise unreadable(name, "an XML Spreadsheet 2003 file", "open it in Excel and save it as .xlsx or CSV")
    sample = head[:8192]
    controls = sum(sample.count(bytes([b])) for b in _CONTROL_BYTES)
    # More than 1 % control bytes, and a few at least: one stray ESC in a ten-line CSV is a
    # value to name by its row (the reader does), not a sign of binary data.
    if b"\x00" in sample or controls > max(len(sample) // 100, _FEW_CONTROL_BYTES):
        raise unreadable(name, "binary data (not CSV text, Parquet or Excel)",
                         "export the orders as CSV, Excel (.xlsx) or Parquet")


# ---------------------------------------------------------------- headers, for every format

#: Each field in words, for messages.
FIELD_NOUNS = {"customer_id": "customer id", "order_date": "order date", "order_id": "order id", "amount": "amount",
               "quantity": "quantity", "unit_price": "unit price", "product": "product", "referred_by": "referrer",
               "refund_amount": "refund amount"}
#: Headers an error message lists before "… and N more headers"; characters shown of each.
SHOWN_HEADERS, SHOWN_HEADER_CHARS = 12, 40


def map_columns(headers: Sequence[str], overrides: Mapping[str, str | None] | None, source: str) -> ColumnMapping:
    """:func:`~retainkit.schema.resolve_mapping`, with an error that lists at most
    :data:`SHOWN_HEADERS` headers (an export may have 100,000 of them), and an error for a
    field whose header names two columns (which one is meant cannot be told)."""
    try:
        mapping = resolve_mapping(headers, overrides, source=source)
    except RetainkitError as err:
        full, short = ", ".join(headers), readable_headers(headers)
        if full and full != short:
            err = RetainkitError(err.message.replace(full, short), err.hint.replace(full, short))
        raise err from None
    for field, header in mapping.fields.items():
        if sum(1 for h in headers if h == header) > 1:
            raise RetainkitError(f"{source}: two columns named {shorten(header)!r}, so which is the "
                                 f"{FIELD_NOUNS.get(field, field)} cannot be told", "rename one of them in the export")
    return mapping


def readable_headers(headers: Sequence[str]) -> str:
    """Headers for a message: the first few, each cut to a readable length.

    >>> readable_headers([f"h{i}" for i in range(100_000)])[-38:]
    'h9, h10, h11 … and 99,988 more headers'
    """
    shown = ", ".join(shorten(h, SHOWN_HEADER_CHARS) for h in headers[:SHOWN_HEADERS])
    more = len(headers) - SHOWN_HEADERS
    return f"{shown} … and {more:,} more header{'s' if more > 1 else ''}" if more > 0 else shown


def shorten(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis.

    >>> shorten("x" * 100, 10)
    'xxxxxxxxx…'
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"
