"""Excel workbooks (``.xlsx``, ``.xlsm``, ``.xls``, ``.ods``) → the same Arrow columns CSV gives.

Read with python-calamine (the Rust ``calamine`` reader pandas uses as an engine): the
first visible sheet, or the one named by ``--sheet``. The header is the first row that
names a customer and a date column (title rows above it, as some point-of-sale exports
write, are skipped); blank rows at the end are not data. Cells become what the CSV reader
would give the rest of the pipeline:

- ids (:data:`TEXT_FIELDS`) are text; a whole-number cell ``17850.0`` is ``"17850"``;
- dates are timestamps (or dates, when no cell has a time); a column that mixes date cells
  with text keeps its text and renders date cells as ISO dates for the date parser;
- amounts are float64 when every cell is a number; otherwise text, with number cells
  written without a decimal mark (``10.5`` → ``105e-1``) so that they never count as
  evidence of the column's decimal mark, which text cells settle (SPEC §1).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa

from retainkit.config import ReadOptions
from retainkit.errors import RetainkitError
from retainkit.load_formats import map_columns
from retainkit.schema import ColumnMapping

#: Fields whose values are identifiers: always read as text so ``00042`` stays ``00042``.
TEXT_FIELDS = ("customer_id", "order_id", "product", "referred_by")
#: Fields read as numbers (SPEC §1 amounts).
NUMBER_FIELDS = ("amount", "quantity", "unit_price", "refund_amount")
#: Rows searched for the header (title rows may stand above it).
HEADER_SEARCH_ROWS = 10


@dataclass(frozen=True)
class Sheet:
    """Where the rows came from: the sheet's name and the spreadsheet row of the first one."""

    name: str
    first_row: int


def read_excel(name: str, source: str | bytes, options: ReadOptions) -> tuple[pa.Table, ColumnMapping, Sheet]:
    """Read one workbook (a path, or its bytes) into raw columns named by their headers."""
    workbook = _open(name, source)
    sheet = _choose_sheet(workbook, name, options.sheet)
    try:
        rows = sheet.to_python(skip_empty_area=True)
    except Exception as exc:  # calamine raises its own types for damaged sheets
        raise RetainkitError(f"{name}, sheet {sheet.name}: cannot read ({_first_line(exc)})",
                             "open it in Excel and save it again") from None
    where = f"{name}, sheet {sheet.name}"
    header_index, mapping = _find_header(rows, options, where)
    data = _without_blank_tail(rows[header_index + 1 :])
    positions = _positions(rows[header_index])
    columns = {
        header: _column(field, _cells(data, positions[header]), options) for field, header in mapping.fields.items()
    }
    first_row = sheet.start[0] + header_index + 2  # rows count from 1; the header is above
    return pa.table(columns), mapping, Sheet(sheet.name, first_row)


def _open(name: str, source: str | bytes) -> Any:
    from python_calamine import CalamineWorkbook

    try:
        if isinstance(source, bytes):
            return CalamineWorkbook.from_filelike(io.BytesIO(source))
        return CalamineWorkbook.from_path(source)
    except OSError as exc:
        raise RetainkitError(f"{name}: cannot read ({exc.strerror or _first_line(exc)})") from None
    except Exception as exc:  # CalamineError, PasswordError, ZipError, XmlError …
        text = _first_line(exc)
        if "password" in text.lower() or "encrypt" in text.lower():
            raise RetainkitError(f"{name}: cannot read a password-protected workbook",
                                 "save it without a password, or export CSV") from None
        raise RetainkitError(f"{name}: cannot read this workbook ({text})",
                             "open it in Excel and save it as .xlsx, or export CSV") from None


def _choose_sheet(workbook: Any, name: str, wanted: str | int | None) -> Any:
    names = list(workbook.sheet_names)
    if not names:
        raise RetainkitError(f"{name}: the workbook has no sheets", "export some orders first")
    if wanted is None:
        from python_calamine import SheetTypeEnum, SheetVisibleEnum

        visible = [m.name for m in workbook.sheets_metadata
                   if m.visible == SheetVisibleEnum.Visible and m.typ == SheetTypeEnum.WorkSheet]
        return workbook.get_sheet_by_name((visible or names)[0])
    wanted = str(wanted)  # a sheet named 2024 may come from the config file as a number
    chosen = wanted if wanted in names else next(
        (n for n in names if n.strip().casefold() == wanted.strip().casefold()), None)
    if chosen is None:
        raise RetainkitError(f"{name}: no sheet {wanted!r}", f"its sheets: {', '.join(names)}")
    return workbook.get_sheet_by_name(chosen)


def _find_header(rows: list[list[Any]], options: ReadOptions, where: str) -> tuple[int, ColumnMapping]:
    """The first row (of the first few) whose headers name the required fields."""
    first_error: RetainkitError | None = None
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if _is_blank(row):
            continue
        try:
            return index, map_columns(_headers(row), options.columns, source=where)
        except RetainkitError as err:
            first_error = first_error or err
    if first_error is None:
        raise RetainkitError(f"{where}: the sheet is empty", "export some orders first, or name the sheet with --sheet")
    raise first_error


def _headers(row: Sequence[Any]) -> list[str]:
    return [(_text(cell) or "").strip() for cell in row]


def _positions(row: Sequence[Any]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, header in enumerate(_headers(row)):
        positions.setdefault(header, index)
    return positions


def _is_blank(row: Sequence[Any]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in row)


def _without_blank_tail(rows: list[list[Any]]) -> list[list[Any]]:
    end = len(rows)
    while end and _is_blank(rows[end - 1]):
        end -= 1
    return rows[:end]


def _cells(rows: list[list[Any]], index: int) -> list[Any]:
    """Column ``index`` of ``rows`` (calamine's are all as wide as the sheet); empty is None."""
    return [None if (value := row[index]) == "" else value for row in rows]


# ---------------------------------------------------------------- cells → Arrow


def _column(field: str, cells: list[Any], options: ReadOptions) -> pa.Array:
    if field in TEXT_FIELDS:
        if set(map(type, cells)) <= {str, type(None)}:
            return pa.array(cells, pa.string())
        return pa.array([_text(c) for c in cells], pa.string())
    if field == "order_date":
        return _dates(cells, options.date_format)
    return _numbers(cells)


def _numbers(cells: list[Any]) -> pa.Array:
    """float64 when every cell is a number; else text, number cells without a decimal mark."""
    if set(map(type, cells)) <= {float, int, type(None)}:
        return pa.array(cells, pa.float64())
    return pa.array([plain_number(c) if isinstance(c, float) else _text(c) for c in cells], pa.string())


def _dates(cells: list[Any], date_format: str | None) -> pa.Array:
    """Timestamps from date cells; whole numbers as integers (``20240131``); text otherwise."""
    types = set(map(type, cells)) - {type(None)}
    if types and types <= {dt.date, dt.datetime}:
        if dt.datetime in types:
            return pa.array([_as_datetime(c) for c in cells], pa.timestamp("us"))
        return pa.array(cells, pa.date32())
    if types == {float} and all(c is None or c.is_integer() for c in cells):
        return pa.array([None if c is None else int(c) for c in cells], pa.int64())
    return pa.array([_date_text(c, date_format) for c in cells], pa.string())


def _as_datetime(value: dt.date | None) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time())


def _date_text(value: Any, date_format: str | None) -> str | None:
    """A date cell in a column that also holds text: in ``--date-format`` when given, else ISO."""
    if isinstance(value, dt.date) and date_format:
        return value.strftime(date_format)
    return _text(value)


def _text(value: Any) -> str | None:
    """A cell as the text a CSV export would hold (whole numbers without ``.0``).

    >>> _text(17850.0), _text(2.5), _text(dt.datetime(2024, 1, 2, 9, 5)), _text(None), _text(True)
    ('17850', '2.5', '2024-01-02 09:05:00', None, 'TRUE')
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def plain_number(value: float) -> str:
    """A number cell as text with no decimal mark: an integer mantissa and an exponent.

    >>> plain_number(10.5), plain_number(1250.0), plain_number(-0.125), plain_number(1e20)
    ('105e-1', '1250', '-125e-3', '100000000000000000000')
    """
    if value.is_integer():
        return str(int(value))
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    mantissa = "".join(map(str, digits)).lstrip("0") or "0"
    return f"{'-' if sign else ''}{mantissa}e{exponent}"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
