"""Raw values → local calendar days: the date parsers of SPEC §1 (amounts: :mod:`retainkit.amounts`).

Every parser works on the distinct values of a column (exports repeat dates and prices a
lot) and reports the first value it cannot read by its row, through ``locate``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from retainkit.errors import RetainkitError

Locate = Callable[[int], str]
SECONDS_PER_DAY = 86_400
#: Database and spreadsheet markers of a missing value in an id or date column (SPEC §1).
MISSING_MARKERS = ("NULL", "null", "NA", "N/A", "nan", "None")
NO_TIME = np.iinfo(np.int64).min

#: An offset: ``Z``, ``+07:00``, ``+0700``, or after a time also ``+07`` (PostgreSQL writes it so).
_ISO = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?"
                  r"|\s*(?:Z|[+-]\d{2}:?\d{2}))?$")
_AWARE = re.compile(r"(?:Z|\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*[+-]\d{2}(?::?\d{2})?|[+-]\d{2}:?\d{2})$")
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})(?:[ T](\d{1,2}:\d{2}(?::\d{2})?)\s*([AaPp][Mm])?)?$")
_YMD8 = re.compile(r"^\d{8}$")


@dataclass(frozen=True)
class DateOptions:
    dayfirst: bool | None = None
    date_format: str | None = None
    tz: str = "UTC"


def local_seconds(
    column: pa.ChunkedArray, options: DateOptions, locate: Locate, *, found: dict[str, Any] | None = None
) -> np.ndarray:
    """Seconds since 1970-01-01 in local time (``tz``), ``NO_TIME`` where the value is empty.

    Time-zone-aware stamps are converted to ``options.tz``; naive ones are already local.
    Integers are read as ``YYYYMMDD``. Text follows ISO 8601, ``YYYYMMDD``, or day/month
    order given by ``dayfirst`` / ``date_format``; an ambiguous column, or two-digit years,
    are an error (SPEC §1: never guessed). In a column mixing stamps with and without an
    offset, those without are local time in ``tz``; ``found["naive_local_rows"]`` counts them,
    and ``found["markers"]`` the rows per missing-value spelling (``NA``, ``NULL`` …).
    """
    kind = column.type
    if pa.types.is_null(kind):  # an empty column: no row has a date
        return np.full(len(column), NO_TIME, dtype=np.int64)
    if pa.types.is_timestamp(kind):
        return _timestamp_seconds(column, options.tz)
    if pa.types.is_date(kind):
        days = pc.cast(column, pa.date32()).cast(pa.int32())
        return _with_missing(days.to_numpy(zero_copy_only=False), SECONDS_PER_DAY)
    if pa.types.is_integer(kind):
        column = pc.cast(column, pa.string())
    elif not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise RetainkitError(f"column order_date: cannot read dates of type {kind}", "use --date COLUMN")
    return _text_seconds(column, options, locate, found if found is not None else {})


def _with_missing(values: np.ndarray, scale: int) -> np.ndarray:
    if values.dtype.kind == "f":  # nulls came through as NaN
        out = np.full(values.shape, NO_TIME, dtype=np.int64)
        ok = ~np.isnan(values)
        out[ok] = values[ok].astype(np.int64) * scale
        return out
    return values.astype(np.int64) * scale


def _timestamp_seconds(column: pa.ChunkedArray, tz: str) -> np.ndarray:
    if column.type.tz is not None:
        try:
            column = pc.local_timestamp(column.cast(pa.timestamp(column.type.unit, tz=tz)))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowKeyError):
            raise RetainkitError(f"unknown time zone {tz!r}", "e.g. --tz Asia/Ho_Chi_Minh") from None
    seconds = pc.cast(column, pa.timestamp("s"), safe=False).cast(pa.int64())
    return (seconds.fill_null(NO_TIME) if seconds.null_count else seconds).to_numpy()


def _text_seconds(column: pa.ChunkedArray, options: DateOptions, locate: Locate, found: dict[str, Any]) -> np.ndarray:
    codes, uniques = pd.factorize(pd.Series(column.to_pandas(), copy=False).str.strip())
    if len(uniques) == 0:  # every date empty: rows without a date, counted by normalise
        return np.full(len(codes), NO_TIME, dtype=np.int64)
    marker = pd.Series(uniques).isin(MISSING_MARKERS).to_numpy(dtype=bool)
    if marker.any():  # NA, NULL …: no date, each spelling counted (SPEC §1)
        rows = np.bincount(codes[codes >= 0], minlength=len(uniques))
        found["markers"] = {str(uniques[i]): int(rows[i]) for i in np.flatnonzero(marker)}
    uniques = np.where(marker, "", uniques)

    def where(value: str) -> str:  # the file and line of a distinct value's first row
        return locate(int(np.flatnonzero(codes == int(np.flatnonzero(uniques == value)[0]))[0]))

    parsed = _parse_unique_dates(pd.Series(uniques, dtype=object), options, where)
    bad = parsed.isna() & pd.Series(uniques).notna().to_numpy() & (pd.Series(uniques) != "").to_numpy()
    if bad.any():
        value = uniques[int(np.flatnonzero(bad.to_numpy())[0])]
        row = int(np.flatnonzero(codes == np.flatnonzero(bad.to_numpy())[0])[0])
        hint = (f"--date-format {options.date_format} does not fit it; check the format" if options.date_format
                else "use --date-format, e.g. --date-format '%d %b %Y'")
        raise RetainkitError(f"{locate(row)}, column order_date: cannot read date {value!r}", hint)
    naive = _naive_among_aware(pd.Series(uniques, dtype=object))
    if naive.any():
        found["naive_local_rows"] = int(np.bincount(codes[codes >= 0], minlength=len(uniques))[naive].sum())
    seconds = _naive_seconds(parsed, options.tz)
    out = np.where(codes >= 0, seconds[np.maximum(codes, 0)], NO_TIME)
    return out.astype(np.int64)


def _naive_seconds(parsed: pd.Series, tz: str) -> np.ndarray:
    values = parsed
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        try:
            values = values.dt.tz_convert(tz).dt.tz_localize(None)
        except Exception:
            raise RetainkitError(f"unknown time zone {tz!r}", "e.g. --tz Asia/Ho_Chi_Minh") from None
    seconds = values.to_numpy(dtype="datetime64[s]").astype(np.int64)
    seconds[values.isna().to_numpy()] = NO_TIME
    return seconds


def _parse_unique_dates(values: pd.Series, options: DateOptions, where: Callable[[str], str]) -> pd.Series:
    """Parse distinct date strings; NaT where a value does not fit the chosen format.

    ISO 8601 values are read as ISO whatever the others are (SPEC §1: ISO always — a workbook's
    date cells beside dates typed as text); the others by the form most of them follow,
    ``YYYYMMDD`` or day/month. ``where`` names a value's first row in an error."""
    text = values.dropna()
    text = text[text != ""]
    if options.date_format:
        try:
            return pd.to_datetime(values, format=options.date_format, errors="coerce", utc=_any_aware(text))
        except ValueError as err:  # a directive strptime does not know, e.g. %Q
            raise RetainkitError(f"--date-format {options.date_format!r} is not a date format ({err})",
                                 "use strftime directives, e.g. --date-format '%d/%m/%Y'") from None
    if text.empty:
        return pd.to_datetime(values, errors="coerce")
    iso = values.str.match(_ISO, na=False).to_numpy(dtype=bool)
    parsed = _parse_iso(values.where(iso), options.tz) if iso.any() else pd.Series(
        pd.NaT, index=values.index, dtype="datetime64[ns]")
    rest = text[~iso[text.index.to_numpy()]]  # values' index is its positions
    # Of the others, the form most follow wins; values that follow neither stay NaT and the
    # caller names the first one by its row.
    ymd8, dmy = int(rest.str.fullmatch(_YMD8).sum()), int(rest.str.match(_DMY).sum())
    if ymd8 == dmy == 0:
        return parsed
    others = values.where(~iso)
    if ymd8 >= dmy:
        return parsed.where(iso, pd.to_datetime(others, format="%Y%m%d", errors="coerce"))
    return parsed.where(iso, _parse_day_month(others, rest[rest.str.match(_DMY)], options.dayfirst, where))


def _any_aware(text: pd.Series) -> bool:
    return bool(text.str.contains(_AWARE).any())


def _naive_among_aware(values: pd.Series) -> np.ndarray:
    """Distinct stamps without an offset, in a column where others carry one."""
    text = values.astype("string")
    aware = text.str.contains(_AWARE, na=False).to_numpy(dtype=bool)
    if not aware.any():
        return np.zeros(len(values), dtype=bool)
    naive = text.str.match(_ISO, na=False).to_numpy(dtype=bool) & ~aware
    return naive


def _parse_iso(values: pd.Series, tz: str) -> pd.Series:
    """ISO 8601 stamps as local times in ``tz``: stamps with an offset converted to it, those
    without taken as already local (SPEC §1)."""
    aware = values.str.contains(_AWARE, na=False)
    if not aware.any():
        return pd.to_datetime(values, format="ISO8601", errors="coerce")
    instants = pd.to_datetime(values.where(aware), format="ISO8601", errors="coerce", utc=True)
    try:
        local = instants.dt.tz_convert(tz).dt.tz_localize(None)
    except Exception:
        raise RetainkitError(f"unknown time zone {tz!r}", "e.g. --tz Asia/Ho_Chi_Minh") from None
    naive = pd.to_datetime(values.where(~aware), format="ISO8601", errors="coerce")
    return local.where(aware.to_numpy(dtype=bool), naive)


def _parse_day_month(values: pd.Series, text: pd.Series, dayfirst: bool | None, where: Callable[[str], str]
                     ) -> pd.Series:
    parts = text.str.extract(_DMY)
    two_digits = parts[2].str.len() == 2
    if two_digits.any():  # 15/01/24: 2024? 1924? never guessed (SPEC §1)
        sample = text[two_digits.to_numpy()].iloc[0]
        raise RetainkitError(f"{where(sample)}, column order_date: two-digit years such as {sample!r} are never "
                             "guessed", "give --date-format, e.g. --date-format '%d/%m/%y' (%y reads 24 as 2024)")
    if dayfirst is None:
        dayfirst = _day_comes_first(parts[0].astype(int), parts[1].astype(int), text, where)
    clean = values.str.replace(r"^(\d{1,2})[/.-](\d{1,2})[/.-]", r"\1/\2/", regex=True)
    clean = clean.str.replace("T", " ", regex=False)
    date_fmt = ("%d/%m/" if dayfirst else "%m/%d/") + ("%Y" if parts[2].str.len().max() == 4 else "%y")
    out: pd.Series | None = None
    for time_fmt in ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p"):
        parsed = pd.to_datetime(clean, format=date_fmt + time_fmt, errors="coerce")
        out = parsed if out is None else out.combine_first(parsed)
    return out


def _day_comes_first(first: pd.Series, second: pd.Series, text: pd.Series, where: Callable[[str], str]) -> bool:
    """Day/month order proven by the data: a first part over 12 is a day, and so on."""
    day_first, month_first = (first > 12).to_numpy(), (second > 12).to_numpy()
    if day_first.any() and month_first.any():
        days, months = text[day_first].iloc[0], text[month_first].iloc[0]
        raise RetainkitError(f"column order_date: dates mix day-first and month-first order: {days!r} "
                             f"({where(days)}) but {months!r} ({where(months)})",
                             "fix the export or give --date-format")
    if not (day_first.any() or month_first.any()):
        sample = text.iloc[0]
        raise RetainkitError(f"{where(sample)}, column order_date: ambiguous dates such as {sample!r} (day/month or "
                             "month/day?)", "say --dayfirst or --monthfirst, or give --date-format")
    return bool(day_first.any())
