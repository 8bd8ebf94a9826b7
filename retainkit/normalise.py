"""Raw rows → the canonical orders frame and a data-quality record (SPEC §1).

The canonical orders frame has one row per **order** or **refund** ("events"):

===============  ==========================================================
``customer_id``  categorical (customer ids as text, stripped)
``order_date``   ``datetime64[s]``, the local calendar date (midnight)
``amount``       float, net of nothing; refunds are negative (absent when
                 the export has no amount or quantity × price)
``is_refund``    bool
``referred_by``  categorical, who referred the customer (only with a
                 referral column)
===============  ==========================================================

Every row of the input lands in exactly one bucket of :class:`DataQuality`: an order
line, a refund row, a row without a customer, a row without a date, a dropped
duplicate, or a row repeated from an earlier file (overlap), so ``rows`` always adds up.

Speed: string ids become integer codes once (customer ids and order ids in two threads),
after which every reduction is a ``bincount`` or ``ufunc.at`` over integer arrays.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from retainkit.amounts import read_numbers
from retainkit.config import ReadOptions
from retainkit.errors import RetainkitError
from retainkit.load import RawExport, Source
from retainkit.parsing import MISSING_MARKERS, NO_TIME, SECONDS_PER_DAY, DateOptions, local_seconds

_REFUND_ID = re.compile(r"^[Cc]\d")
_INTEGER_ID = re.compile(r"^-?\d+(?:\.0+)?$")


@dataclass
class DataQuality:
    """What normalisation counted, dropped or changed. Amounts are summed as read."""

    rows: int = 0
    orders: int = 0
    order_lines: int = 0
    refund_rows: int = 0
    refund_amount: float = 0.0
    refunds_from_column: int = 0
    missing_customer_rows: int = 0
    missing_customer_amount: float = 0.0
    missing_date_rows: int = 0
    missing_date_amount: float = 0.0
    customer_filled_rows: int = 0
    date_filled_rows: int = 0
    empty_amount_rows: int = 0
    duplicate_rows: int = 0
    duplicate_amount: float = 0.0
    duplicates_dropped: bool = False
    overlap_rows: int = 0
    overlap_amount: float = 0.0
    overlap_files: list[dict[str, object]] = field(default_factory=list)
    empty_order_id_rows: int = 0
    missing_markers: dict[str, dict[str, int]] = field(default_factory=dict)
    has_amount: bool = True
    decimal_marks: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Normalised:
    """The canonical orders frame and what it took to get there.

    ``product_lines`` (when asked for and the export names products): one row per order
    line with ``customer_id``, ``product`` and ``order_date`` — what product lapses need.
    """

    orders: pd.DataFrame
    quality: DataQuality
    product_lines: pd.DataFrame | None = None


@dataclass
class _Lines:
    """Per-row integer arrays, the working form of the export."""

    customer: np.ndarray  # int32 code, -1 = none
    order: np.ndarray  # int64 code (row number when the export has no order id)
    seconds: np.ndarray  # int64 local seconds, NO_TIME = none
    amount: np.ndarray | None  # float64, NaN = empty
    refund_id: np.ndarray  # bool, order id in the refund convention (C123)
    referrer: np.ndarray | None  # int32 code, -1 = none
    product: np.ndarray | None  # int32 code, -1 = none
    read_values: dict[str, np.ndarray] = field(default_factory=dict)  # numbers as read, for duplicates


def normalise(raw: RawExport, options: ReadOptions, *, product_lines: bool = False) -> Normalised:
    """Turn a :class:`RawExport` into the canonical orders frame (SPEC §1)."""
    table = raw.table
    quality = DataQuality(rows=table.num_rows, duplicates_dropped=options.dedupe)
    customers, orders, referrers, products = _encode_ids(table)
    customer_codes, customer_names, markers = customers
    if markers:
        quality.missing_markers["customer_id"] = markers
    date_markers = _text_markers(table.column("order_date"))
    if date_markers:
        quality.missing_markers["order_date"] = date_markers
    read_values: dict[str, np.ndarray] = {}
    lines = _Lines(
        customer=customer_codes,
        order=orders[0],
        seconds=local_seconds(
            table.column("order_date"),
            DateOptions(options.dayfirst, options.date_format, options.tz),
            raw.locate,
        ),
        amount=_line_amounts(table, options, raw, quality, read_values),
        refund_id=orders[1],
        referrer=referrers[0] if referrers else None,
        product=products[0] if products else None,
        read_values=read_values,
    )
    has_order_id = "order_id" in table.column_names
    if has_order_id:
        quality.empty_order_id_rows = orders[2]
        _fill_from_order(lines, raw, customer_names, quality)
    keep = _mark_duplicates(lines, quality, raw.sources, drop=options.dedupe, by_order=has_order_id)
    frame, is_line = _events(lines, keep, table, options, raw, quality, customer_names, referrers)
    products_frame = _product_lines(lines, is_line, customer_names, products) if product_lines and products else None
    return Normalised(frame, quality, products_frame)


# ---------------------------------------------------------------- ids


def _encode_ids(table: pa.Table):
    """Integer codes for customer, order, referrer and product ids (two threads)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        customer = pool.submit(_encode_text_ids, table.column("customer_id"))
        order = (
            pool.submit(_encode_order_ids, table.column("order_id"))
            if "order_id" in table.column_names
            else None
        )
        referrer = (
            pool.submit(_encode_text_ids, table.column("referred_by"))
            if "referred_by" in table.column_names
            else None
        )
        product = (
            pool.submit(_encode_text_ids, table.column("product")) if "product" in table.column_names else None
        )
        customers = customer.result()
        n = table.num_rows
        orders = order.result() if order else (np.arange(n, dtype=np.int64), np.zeros(n, dtype=bool), 0)
        return customers, orders, referrer.result() if referrer else None, product.result() if product else None


def _encode_text_ids(column: pa.ChunkedArray) -> tuple[np.ndarray, pd.Index, dict[str, int]]:
    """Codes (int32, -1 for empty), the distinct cleaned ids they point to, and the rows per
    missing-value marker (``NA``, ``NULL`` … are no id, SPEC §1).

    Ids are stripped; empty text is no id; integer-valued floats (``17850.0``, as some
    tools write integer ids) lose their ``.0`` when every id in the column is an integer,
    so ``17850`` from one file and ``17850.0`` from another are one customer.
    Exports keep a customer's lines together, so only the first value of each run of
    equal values is hashed.
    """
    codes, dictionary = _encode_runs(column)
    names = pd.Series(dictionary.to_pandas(), dtype=object)
    if not (pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)):
        names = _numeric_ids(dictionary)
    cleaned = names.astype("string").str.strip()
    nonempty = cleaned[cleaned.notna() & (cleaned != "")]
    if len(nonempty) and nonempty.str.fullmatch(_INTEGER_ID).all() and nonempty.str.contains(".", regex=False).any():
        cleaned = cleaned.str.replace(r"\.0+$", "", regex=True)  # 17850.0 (a CSV) is 17850 (a Parquet file)
    marker = cleaned.isin(MISSING_MARKERS).to_numpy(dtype=bool)
    markers = _marker_rows(cleaned, marker, codes)
    cleaned = cleaned.mask((cleaned == "") | marker)
    remap, uniques = pd.factorize(cleaned)  # merge ids that differed only by spaces
    lookup = np.append(remap.astype(np.int32), np.int32(-1))
    return lookup[codes], pd.Index(uniques.astype(object), dtype=object), markers


def _text_markers(column: pa.ChunkedArray) -> dict[str, int]:
    """Rows per missing-value spelling in a text column (SPEC §1); {} for typed columns."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return {}
    trimmed = pc.utf8_trim_whitespace(column)
    found = pc.filter(trimmed, pc.is_in(trimmed, pa.array(MISSING_MARKERS)))
    return {str(row["values"]): int(row["counts"]) for row in pc.value_counts(found).to_pylist()}


def _marker_rows(distinct: pd.Series, marker: np.ndarray, codes: np.ndarray) -> dict[str, int]:
    """Rows per missing-value spelling (``NA``, ``NULL`` …) among the distinct values (SPEC §1)."""
    if not marker.any():
        return {}
    rows = np.bincount(codes, minlength=len(distinct) + 1)
    counts: dict[str, int] = {}
    for index in np.flatnonzero(marker):
        spelling = str(distinct.iloc[index])
        counts[spelling] = counts.get(spelling, 0) + int(rows[index])
    return counts


def _numeric_ids(dictionary: pa.Array) -> pd.Series:
    values = dictionary
    if pa.types.is_floating(values.type):
        as_float = values.to_numpy(zero_copy_only=False)
        if np.all(np.isnan(as_float) | (as_float == np.round(as_float))):
            values = pc.cast(values, pa.int64(), safe=False)
    return pd.Series(pc.cast(values, pa.string()).to_pandas(), dtype=object)


def _encode_runs(column: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Dictionary-encode ``column``; codes index the dictionary, ``len(dictionary)`` = null."""
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    n = len(array)
    if n == 0:
        return np.zeros(0, dtype=np.int64), pa.array([], type=array.type)
    differs = pc.not_equal(array.slice(1), array.slice(0, n - 1))
    null_changes = pc.xor(pc.is_null(array.slice(1)), pc.is_null(array.slice(0, n - 1)))
    differs = pc.fill_null(pc.or_kleene(differs, null_changes), False)
    starts = np.flatnonzero(np.concatenate(([True], differs.to_numpy(zero_copy_only=False))))
    clustered = len(starts) < n // 2
    values = array.take(pa.array(starts)) if clustered else array
    encoded = pc.dictionary_encode(values)
    dictionary = encoded.dictionary
    codes = encoded.indices.fill_null(len(dictionary)).to_numpy(zero_copy_only=False).astype(np.int64)
    if clustered:
        codes = np.repeat(codes, np.diff(np.append(starts, n)))
    return codes, dictionary


def _encode_order_ids(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, int]:
    """Order codes per row, whether each row's id is a refund id (``C`` + digit), and how
    many rows had no order id (empty, or a missing-value marker: each its own order).

    Sorted ids (either direction, the usual export order) need no hash: each run of equal
    values is one order. Otherwise ids are dictionary-encoded. Like customer ids, ids are
    trimmed on their distinct values (ids equal once trimmed are one order); a row without
    an id is an order of its own.
    """
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = pc.cast(array, pa.string())
    n = len(array)
    if n > 1 and array.null_count == 0 and _is_sorted(array):
        differs = pc.not_equal(array.slice(1), array.slice(0, n - 1)).to_numpy(zero_copy_only=False)
        codes = np.concatenate(([0], np.cumsum(differs, dtype=np.int64)))
        distinct_ids = array.take(pa.array(np.flatnonzero(np.concatenate(([True], differs)))))
    else:
        encoded = pc.dictionary_encode(array)
        distinct_ids = encoded.dictionary
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    trimmed = pc.utf8_trim_whitespace(distinct_ids)
    is_marker = pc.is_in(trimmed, pa.array(MISSING_MARKERS))
    if pc.any(is_marker).as_py():  # NA, NULL …: no order id (SPEC §1)
        trimmed = pc.if_else(is_marker, pa.scalar("", pa.string()), trimmed)
    if not pc.all(pc.equal(trimmed, distinct_ids)).as_py():
        remap, uniques = pd.factorize(pd.Series(trimmed.to_pandas(), dtype=object).replace("", None))
        codes = np.where(codes >= 0, np.append(remap, -1)[codes], -1)
        trimmed = pa.array(uniques, type=pa.string())
    missing = codes < 0
    empty_rows = int(missing.sum())
    if missing.any():
        codes[missing] = len(trimmed) + np.arange(int(missing.sum()))
        trimmed = pa.concat_arrays([trimmed, pa.nulls(int(missing.sum()), pa.string())])
    is_refund_id = pc.fill_null(pc.match_substring_regex(trimmed, _REFUND_ID.pattern), False)
    return codes, is_refund_id.to_numpy(zero_copy_only=False)[codes], empty_rows


def _is_sorted(array: pa.Array) -> bool:
    n = len(array)
    head, tail = array.slice(0, n - 1), array.slice(1)
    return bool(pc.all(pc.less_equal(head, tail)).as_py()) or bool(pc.all(pc.greater_equal(head, tail)).as_py())


# ---------------------------------------------------------------- amounts


def _line_amounts(
    table: pa.Table, options: ReadOptions, raw: RawExport, quality: DataQuality, read_values: dict[str, np.ndarray]
) -> np.ndarray | None:
    """Line amount: the amount column, else quantity × unit price; None when neither exists."""
    names = table.column_names
    if "amount" in names:
        return _numbers(table, "amount", options, raw, quality)
    if "quantity" in names and "unit_price" in names:
        quantity = _numbers(table, "quantity", options, raw, quality)
        price = _numbers(table, "unit_price", options, raw, quality)
        read_values["quantity"], read_values["unit_price"] = quantity, price
        return quantity * price
    quality.has_amount = False
    quality.notes.append("no amount column (nor quantity × unit price): revenue KPIs are null")
    return None


def _numbers(table: pa.Table, name: str, options: ReadOptions, raw: RawExport, quality: DataQuality) -> np.ndarray:
    """Read one numeric column (SPEC §1, amounts); the decimal mark decided is recorded."""
    read = read_numbers(table.column(name), field=name, decimal=options.decimal, locate=raw.locate)
    if read.decimal is not None:
        quality.decimal_marks[name] = read.decimal
    return read.values


# ---------------------------------------------------------------- order-level fields


def _fill_from_order(lines: _Lines, raw: RawExport, customer_names: pd.Index, quality: DataQuality) -> None:
    """Give every line its order's customer and date (some exports write them once per order).

    Filled rows are counted. An order id whose lines name two different customers is a
    data error.
    """
    if _lines_already_agree(lines):
        return
    size = int(lines.order.max()) + 1 if len(lines.order) else 0
    has_customer = lines.customer >= 0
    low = np.full(size, np.iinfo(np.int32).max, dtype=np.int32)
    high = np.full(size, -1, dtype=np.int32)
    np.minimum.at(low, lines.order[has_customer], lines.customer[has_customer])
    np.maximum.at(high, lines.order, lines.customer)
    clash = (high >= 0) & (low != high) & (low != np.iinfo(np.int32).max)
    if clash.any():
        order = int(np.flatnonzero(clash)[0])
        rows = np.flatnonzero(lines.order == order)
        first = rows[lines.customer[rows] == low[order]][0]
        second = rows[lines.customer[rows] == high[order]][0]
        order_id = raw.table.column("order_id")[int(second)].as_py()
        raise RetainkitError(
            f"{raw.locate(int(second))}, column order_id: order {order_id!r} belongs to customer "
            f"{customer_names[high[order]]!r} here and to {customer_names[low[order]]!r} at "
            f"{raw.locate(int(first))} ({int(clash.sum())} order ids are shared like this)",
            "fix the export, or leave out the order id column (--order) so that each row is an order",
        )
    filled = high[lines.order]
    quality.customer_filled_rows = int(((lines.customer < 0) & (filled >= 0)).sum())
    lines.customer = filled
    if (lines.seconds == NO_TIME).any():
        dated = lines.seconds != NO_TIME
        earliest = np.full(size, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(earliest, lines.order[dated], lines.seconds[dated])
        from_order = earliest[lines.order]
        from_order = np.where(from_order == np.iinfo(np.int64).max, NO_TIME, from_order)
        quality.date_filled_rows = int(((lines.seconds == NO_TIME) & (from_order != NO_TIME)).sum())
        lines.seconds = np.where(dated, lines.seconds, from_order)


def _lines_already_agree(lines: _Lines) -> bool:
    """Fast path: every line has a customer and a date, and the lines of an order sit
    together (codes never decrease) with one customer each — nothing to fill or report."""
    order, customer = lines.order, lines.customer
    if len(order) < 2 or (customer < 0).any() or (lines.seconds == NO_TIME).any():
        return False
    same_order = order[1:] == order[:-1]
    if not (same_order | (order[1:] > order[:-1])).all():
        return False
    return not (same_order & (customer[1:] != customer[:-1])).any()


# ---------------------------------------------------------------- duplicates


def _mark_duplicates(
    lines: _Lines, quality: DataQuality, sources: tuple[Source, ...], *, drop: bool, by_order: bool
) -> np.ndarray:
    """Rows to keep. Counts exact duplicates (every field read equal); drops them if asked.
    A row repeating one of an earlier input file is overlap: always dropped, counted apart.

    Rows are keyed by (order code, 32-bit hash of the other fields); duplicates share an
    order, so the key is nearly sorted already and a stable argsort is close to linear.
    Without order ids the customer code leads the key instead.
    Equal keys are candidates, confirmed on the exact values (a hash never decides).
    """
    n = len(lines.order)
    keep = np.ones(n, dtype=bool)
    if n < 2:
        return keep
    fields = _duplicate_fields(lines)
    hashed = _row_hash(fields.values(), n)
    group = lines.order if by_order else lines.customer
    hashed >>= np.uint64(32)
    key = group.astype(np.uint64)
    key <<= np.uint64(32)
    key |= hashed
    del hashed
    order = np.argsort(key, kind="stable")
    key = key[order]
    same = key[1:] == key[:-1]
    del key
    if not same.any():
        return keep
    candidates = np.unique(np.concatenate((order[1:][same], order[:-1][same])))
    exact = pd.DataFrame({"group": group[candidates], **{k: v[candidates] for k, v in fields.items()}})
    overlap = _overlap(exact, candidates, sources, lines, quality)
    repeats = candidates[~overlap][exact[~overlap].duplicated(keep="first").to_numpy()]
    quality.duplicate_rows = len(repeats)
    if lines.amount is not None:
        quality.duplicate_amount = float(np.nansum(lines.amount[repeats]))
    keep[candidates[overlap]] = False
    if drop:
        keep[repeats] = False
    return keep


def _overlap(exact: pd.DataFrame, rows: np.ndarray, sources: tuple[Source, ...], lines: _Lines,
             quality: DataQuality) -> np.ndarray:
    """Rows (of the candidates ``rows``, in row order) that repeat a row of an *earlier* input
    file, identical in every field read (SPEC §1, overlapping exports): always counted once.

    Records the rows, their amount and the (file, earlier file) pairs in ``quality``.
    """
    if len(sources) < 2:
        return np.zeros(len(rows), dtype=bool)
    starts = np.array([s.first_row for s in sources])
    file = np.searchsorted(starts, rows, side="right") - 1
    columns = list(exact.columns)
    first_file = pd.Series(file).groupby([exact[c].to_numpy() for c in columns], dropna=False).transform("min")
    first_file_np = first_file.to_numpy()
    overlap = file > first_file_np
    if not overlap.any():
        return overlap
    quality.overlap_rows = int(overlap.sum())
    if lines.amount is not None:
        quality.overlap_amount = float(np.nansum(lines.amount[rows[overlap]]))
    pairs = pd.DataFrame({"later": file[overlap], "earlier": first_file_np[overlap]}).value_counts(sort=False)
    quality.overlap_files = [
        {"file": sources[later].name, "earlier_file": sources[earlier].name, "rows": int(count)}
        for (later, earlier), count in sorted(pairs.items())
    ]
    return overlap


def _row_hash(columns, n: int) -> np.ndarray:
    """A 64-bit mix of each row's values, computed in place (no 10M-row temporaries)."""
    hashed = np.zeros(n, dtype=np.uint64)
    scratch = np.empty(n, dtype=np.uint64)
    for i, values in enumerate(columns):
        if values.dtype.itemsize == 8:
            scratch[...] = values.view(np.uint64)
        else:
            scratch[...] = values
        scratch *= np.uint64(0x9E3779B97F4A7C15 + 2 * i)
        hashed ^= scratch
        np.left_shift(hashed, np.uint64(13), out=scratch)
        hashed >>= np.uint64(51)
        hashed |= scratch
    return hashed


def _duplicate_fields(lines: _Lines) -> dict[str, np.ndarray]:
    fields: dict[str, np.ndarray] = {"customer": lines.customer, "seconds": lines.seconds}
    numeric = lines.read_values or ({"amount": lines.amount} if lines.amount is not None else {})
    for name, values in numeric.items():
        fields[name] = values + 0.0  # -0.0 -> 0.0, so equal numbers hash alike
    for name in ("referrer", "product"):
        values = getattr(lines, name)
        if values is not None:
            fields[name] = values
    return fields


# ---------------------------------------------------------------- events


def _events(
    lines: _Lines,
    keep: np.ndarray,
    table: pa.Table,
    options: ReadOptions,
    raw: RawExport,
    quality: DataQuality,
    customer_names: pd.Index,
    referrers: tuple[np.ndarray, pd.Index] | None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per order (lines summed, earliest date) and per refund row; and which rows
    were order lines."""
    amount = lines.amount if lines.amount is not None else np.zeros(len(lines.order))
    empty_amount = np.isnan(amount)
    amount = np.where(empty_amount, 0.0, amount)
    no_customer = keep & (lines.customer < 0)
    no_date = keep & ~no_customer & (lines.seconds == NO_TIME)
    valid = keep & ~no_customer & ~no_date
    refund = valid & ((amount < 0) | lines.refund_id)
    is_line = valid & ~refund

    quality.missing_customer_rows = int(no_customer.sum())
    quality.missing_customer_amount = float(amount[no_customer].sum())
    quality.missing_date_rows = int(no_date.sum())
    quality.missing_date_amount = float(amount[no_date].sum())
    if lines.amount is not None:
        quality.empty_amount_rows = int((empty_amount & valid).sum())
    flipped = refund & (amount > 0)
    if flipped.any():
        quality.notes.append(f"{int(flipped.sum())} refund rows (order id C…) had a positive amount; read as negative")
    refund_amounts = -np.abs(amount[refund])
    quality.refund_rows = int(refund.sum())
    quality.refund_amount = float(refund_amounts.sum())
    quality.order_lines = int(is_line.sum())

    day = (lines.seconds // SECONDS_PER_DAY).astype(np.int64)
    orders = _orders_from_lines(lines, is_line, day, amount)
    quality.orders = len(orders["customer"])
    refunds = {
        "customer": lines.customer[refund],
        "day": day[refund],
        "amount": refund_amounts,
        "referrer": np.full(int(refund.sum()), -1, dtype=np.int32),
    }
    column_refunds = _refund_column(table, options, raw, quality, lines, valid, day)
    if column_refunds is not None:
        quality.refunds_from_column = len(column_refunds["customer"])
        quality.refund_rows += quality.refunds_from_column
        quality.refund_amount += float(column_refunds["amount"].sum())
    parts = [orders, refunds] + ([column_refunds] if column_refunds is not None else [])
    return _frame(parts, quality.has_amount, customer_names, referrers), is_line


def _orders_from_lines(lines: _Lines, is_line: np.ndarray, day: np.ndarray, amount: np.ndarray) -> dict:
    codes = lines.order[is_line]
    size = int(codes.max()) + 1 if len(codes) else 0
    present = np.bincount(codes, minlength=size) > 0
    first_day = np.full(size, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_day, codes, day[is_line])
    customer = np.full(size, -1, dtype=np.int32)
    customer[codes] = lines.customer[is_line]
    total = np.bincount(codes, weights=amount[is_line], minlength=size)
    referrer = np.full(size, -1, dtype=np.int32)
    if lines.referrer is not None:
        np.maximum.at(referrer, codes, lines.referrer[is_line].astype(np.int32))
    return {
        "customer": customer[present],
        "day": first_day[present],
        "amount": total[present],
        "referrer": referrer[present],
    }


def _refund_column(
    table: pa.Table, options: ReadOptions, raw: RawExport, quality: DataQuality, lines: _Lines, valid: np.ndarray,
    day: np.ndarray,
) -> dict | None:
    """Refunds given as a column of refunded amounts (Shopify): a refund on the order's date."""
    if "refund_amount" not in table.column_names:
        return None
    refunded = _numbers(table, "refund_amount", options, raw, quality)
    has = valid & (np.nan_to_num(refunded) > 0)
    return {
        "customer": lines.customer[has],
        "day": day[has],
        "amount": -refunded[has],
        "referrer": np.full(int(has.sum()), -1, dtype=np.int32),
    }


def _product_lines(
    lines: _Lines, is_line: np.ndarray, customer_names: pd.Index, products: tuple[np.ndarray, pd.Index]
) -> pd.DataFrame:
    named = is_line & (lines.product >= 0)
    day = lines.seconds[named] // SECONDS_PER_DAY
    return pd.DataFrame(
        {
            "customer_id": pd.Categorical.from_codes(lines.customer[named], categories=customer_names, validate=False),
            "product": pd.Categorical.from_codes(lines.product[named], categories=products[1], validate=False),
            "order_date": (day * SECONDS_PER_DAY).astype("datetime64[s]"),
        }
    )


def _frame(parts: list[dict], has_amount: bool, customer_names: pd.Index, referrers) -> pd.DataFrame:
    customer = np.concatenate([p["customer"] for p in parts]).astype(np.int32)
    day = np.concatenate([p["day"] for p in parts])
    columns: dict[str, object] = {
        "customer_id": pd.Categorical.from_codes(customer, categories=customer_names, validate=False),
        "order_date": (day * SECONDS_PER_DAY).astype("datetime64[s]"),
    }
    if has_amount:
        columns["amount"] = np.concatenate([p["amount"] for p in parts]).astype(np.float64)
    columns["is_refund"] = np.concatenate([np.zeros(len(parts[0]["day"]), dtype=bool)] +
                                          [np.ones(len(p["day"]), dtype=bool) for p in parts[1:]])
    if referrers is not None:
        codes = np.concatenate([p["referrer"] for p in parts]).astype(np.int32)
        columns["referred_by"] = pd.Categorical.from_codes(codes, categories=referrers[1], validate=False)
    return pd.DataFrame(columns)
