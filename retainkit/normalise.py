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

Every row of the input lands in exactly one bucket of :class:`DataQuality`, so ``rows``
always adds up.

Speed: string ids become integer codes once, on two threads beside the dates and amounts;
the text columns are then released, and every reduction is a ``bincount``, ``reduceat``
or ``ufunc.at`` over integer arrays.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from retainkit.amounts import read_numbers
from retainkit.column_runs import run_starts
from retainkit.config import ReadOptions
from retainkit.date_checks import check_plausible_dates
from retainkit.duplicates import duplicate_groups, mark_duplicates
from retainkit.errors import RetainkitError
from retainkit.ids import encode_ids
from retainkit.load import RawExport
from retainkit.parsing import NO_TIME, SECONDS_PER_DAY, DateOptions, local_seconds
from retainkit.quality import DataQuality, Normalised
from retainkit.reductions import group_extreme


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

    @cached_property
    def day(self) -> np.ndarray:
        """Local day number per row, once ``seconds`` are final (after filling from the order)."""
        return self.seconds // SECONDS_PER_DAY


def normalise(raw: RawExport, options: ReadOptions, *, product_lines: bool = False) -> Normalised:
    """Turn a :class:`RawExport` into the canonical orders frame (SPEC §1)."""
    n = raw.table.num_rows
    quality = DataQuality(rows=n, duplicates_dropped=options.dedupe, notes=list(raw.notes))
    has_order_id = "order_id" in raw.table.column_names
    read_values: dict[str, np.ndarray] = {}
    found: dict[str, Any] = {}
    raw, columns = _columns_handed_out(raw)
    with ThreadPoolExecutor(max_workers=2) as pool:  # ids, dates and amounts side by side
        ids = encode_ids(columns, pool)
        dates = DateOptions(options.dayfirst, options.date_format, options.tz)
        seconds = pool.submit(local_seconds, columns.pop("order_date"), dates, raw.locate, found=found)
        amounts = pool.submit(_line_amounts, pa.table(columns), options, raw, quality, read_values)
        del columns  # each job now holds the only reference to its columns
        customer = ids.customer.result()
        orders = ids.order.result() if ids.order else (np.arange(n, dtype=np.int64), np.zeros(n, dtype=bool), {}, 0, 0)
        referrers = ids.referrer.result() if ids.referrer else None
        products = ids.product.result() if ids.product else None
        lines = _Lines(customer=customer[0], order=orders[0], seconds=seconds.result(), amount=amounts.result(),
                       refund_id=orders[1], referrer=referrers[0] if referrers else None,
                       product=products[0] if products else None, read_values=read_values)
    customer_names = customer[1]
    quality.count_id_changes({"customer_id": customer, "order_id": orders if has_order_id else None,
                              "referred_by": referrers, "product": products})
    if found.get("markers"):
        quality.missing_markers["order_date"] = found["markers"]
    quality.naive_local_rows = found.get("naive_local_rows", 0)
    if quality.naive_local_rows:
        quality.notes.append(f"{quality.naive_local_rows:,} date stamps without a time-zone offset, among stamps "
                             f"with one, were read as local time in {options.tz} (SPEC §1)")
    if has_order_id:
        quality.empty_order_id_rows = orders[4]
        _fill_from_order(lines, raw, customer_names, quality)
    raw = _read_columns_released(raw)
    table = raw.table
    with ThreadPoolExecutor(max_workers=1) as beside:  # the date check runs beside the duplicate search
        checked = None if options.allow_dates else beside.submit(
            check_plausible_dates, lines.day, (lines.seconds != NO_TIME) & (lines.customer >= 0), raw.locate)
        group, per_group = duplicate_groups(lines.order if has_order_id else None, lines.customer,
                                            quality.empty_order_id_rows)
        repeats = mark_duplicates(_duplicate_fields(lines), group, lines.amount, raw.sources, drop=options.dedupe,
                                  per_group=per_group)
        if checked is not None:
            checked.result()
    keep = repeats.keep
    for name in ("duplicate_rows", "duplicate_amount", "overlap_rows", "overlap_amount", "overlap_files"):
        setattr(quality, name, getattr(repeats, name))
    frame, is_line = _events(lines, keep, table, options, raw, quality, customer_names, referrers)
    products_frame = _product_lines(lines, is_line, customer_names, products) if product_lines and products else None
    return Normalised(frame, quality, products_frame)


def _columns_handed_out(raw: RawExport) -> tuple[RawExport, dict[str, pa.ChunkedArray]]:
    """The columns the first steps read (ids, dates, amounts), taken out of ``raw``, and
    ``raw`` without them: handed to the jobs that read them, each column is freed as soon
    as its job is done, and the next job's arrays reuse its memory (at 30M lines the text
    and numbers read are 1.5 GB). ``raw`` keeps what later steps read: the order id (to
    name an order in an error) and a refund column. The caller hands its export over."""
    later = [name for name in ("order_id", "refund_amount") if name in raw.table.column_names]
    columns = {name: raw.table.column(name) for name in raw.table.column_names if name != "refund_amount"}
    return replace(raw, table=raw.table.select(later)), columns


def _read_columns_released(raw: RawExport) -> RawExport:
    """``raw`` without the columns whose values now live in the integer arrays (ids, dates,
    amounts: at 30M lines, 2 GB of text) — only a refund column is still to be read. The
    caller hands its export over (:func:`retainkit.pipeline.read_orders`), so the text is
    freed before the duplicate search, where memory peaks."""
    kept = [name for name in ("refund_amount",) if name in raw.table.column_names]
    return replace(raw, table=raw.table.select(kept))


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
    if name in ("amount", "unit_price") and read.currency:
        quality.currency = read.currency
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
    customer = lines.customer.astype(np.int32, copy=False)
    low = group_extreme(lines.order[has_customer], customer[has_customer], size, np.iinfo(np.int32).max,
                        highest=False)
    high = group_extreme(lines.order, customer, size, -1, highest=True)
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
        earliest = group_extreme(lines.order[dated], lines.seconds[dated], size, np.iinfo(np.int64).max,
                                 highest=False)
        from_order = earliest[lines.order]
        from_order = np.where(from_order == np.iinfo(np.int64).max, NO_TIME, from_order)
        quality.date_filled_rows = int(((lines.seconds == NO_TIME) & (from_order != NO_TIME)).sum())
        lines.seconds = np.where(dated, lines.seconds, from_order)


def _lines_already_agree(lines: _Lines) -> bool:
    """Fast path: every line has a date, and the lines of an order sit together (codes never
    decrease) with one customer each (or none on every line: a guest order) — nothing to
    fill or report."""
    order, customer = lines.order, lines.customer
    if len(order) < 2 or (lines.seconds == NO_TIME).any():
        return False
    same_order = order[1:] == order[:-1]
    if not (same_order | (order[1:] > order[:-1])).all():
        return False
    return not (same_order & (customer[1:] != customer[:-1])).any()


# ---------------------------------------------------------------- duplicates


def _duplicate_fields(lines: _Lines) -> dict[str, np.ndarray]:
    fields: dict[str, np.ndarray] = {"customer": lines.customer, "seconds": lines.seconds}
    numeric = lines.read_values or ({"amount": lines.amount} if lines.amount is not None else {})
    fields.update(numeric)
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
    if empty_amount.any():  # else no copy of the column (240 MB at 30M lines)
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

    day = lines.day
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
    """Per order (in code order): its customer, earliest day, summed amount and referrer."""
    whole = _whole_order_runs(lines.order, is_line)
    if whole is not None:  # exports: no row needs picking out first
        return _orders_from_runs(whole, lines, is_line, day, amount, picked=False)
    codes = lines.order[is_line]
    if len(codes) > 1 and bool((codes[1:] >= codes[:-1]).all()):
        return _orders_from_runs(run_starts(codes), lines, is_line, day, amount, picked=True)
    size = int(codes.max()) + 1 if len(codes) else 0
    present = np.bincount(codes, minlength=size) > 0
    first_day = group_extreme(codes, day[is_line], size, np.iinfo(np.int64).max, highest=False)
    customer = np.full(size, -1, dtype=np.int32)
    customer[codes] = lines.customer[is_line]
    total = np.bincount(codes, weights=amount[is_line], minlength=size)
    referrer = np.full(size, -1, dtype=np.int32)
    if lines.referrer is not None:
        referrer = group_extreme(codes, lines.referrer[is_line].astype(np.int32), size, -1, highest=True)
    return {
        "customer": customer[present],
        "day": first_day[present],
        "amount": total[present],
        "referrer": referrer[present],
    }


def _whole_order_runs(order: np.ndarray, is_line: np.ndarray) -> np.ndarray | None:
    """Where each order's rows start (:func:`run_starts`), when every order's rows sit
    together (codes never decrease) and are all order lines or all not (refunds have order
    ids of their own); else None."""
    if len(order) < 2 or not bool((order[1:] >= order[:-1]).all()):
        return None
    starts = run_starts(order)
    if bool((np.not_equal(is_line[1:], is_line[:-1]) & ~starts[1:]).any()):
        return None
    return starts


def _orders_from_runs(run_starts: np.ndarray, lines: _Lines, is_line: np.ndarray, day: np.ndarray,
                      amount: np.ndarray, *, picked: bool) -> dict:
    """:func:`_orders_from_lines` when each order's rows sit together (as in exports), over
    the runs that ``run_starts`` marks — of the order lines (``picked``), or of all rows,
    keeping the runs that are order lines — instead of scattered writes and their checks.
    Earliest day and referrer by ``reduceat``; amounts by ``bincount``, which adds in row
    order as the scattered path does (``add.reduceat`` adds pairwise: other last digits,
    and the same lines must give the same cents on every path and every engine). An
    order's customer is the same on all its lines by then."""
    def rows_of(values: np.ndarray) -> np.ndarray:
        return values[is_line] if picked else values

    starts = np.flatnonzero(run_starts)
    kept = slice(None) if picked else is_line[starts]
    run = np.cumsum(run_starts, dtype=np.int64)
    run -= 1
    referrer = np.full(len(starts), -1, dtype=np.int32)
    if lines.referrer is not None:
        referrer = np.maximum.reduceat(rows_of(lines.referrer).astype(np.int32, copy=False), starts)
    first_rows = np.flatnonzero(is_line)[starts] if picked else starts
    return {
        "customer": lines.customer[first_rows][kept],
        "day": np.minimum.reduceat(rows_of(day), starts)[kept],
        "amount": np.bincount(run, weights=rows_of(amount), minlength=len(starts))[kept],
        "referrer": referrer[kept],
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


def _product_lines(lines: _Lines, is_line: np.ndarray, customer_names: pd.Index,
                   products: tuple[np.ndarray, pd.Index]) -> pd.DataFrame:
    """Per order line naming a product: customer, product and the order's date — its earliest
    line's (SPEC §1), so that one order is one purchase day for product lapses (§5)."""
    assert lines.product is not None  # only called with a product column
    named, codes = is_line & (lines.product >= 0), lines.order[is_line]
    order_day = group_extreme(codes, lines.day[is_line], int(codes.max(initial=-1)) + 1, np.iinfo(np.int64).max,
                              highest=False)
    day = order_day[lines.order[named]]
    return pd.DataFrame({"customer_id": _categorical(lines.customer[named], customer_names),
                         "product": _categorical(lines.product[named], products[1]),
                         "order_date": (day * SECONDS_PER_DAY).astype("datetime64[s]")})


def _categorical(codes: np.ndarray, names: pd.Index) -> pd.Categorical:
    """Codes into distinct ``names`` (distinct by construction: they come out of a hash).
    pandas would hash every name again to check that (~0.5 s for 800k customers)."""
    fastpath = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    if fastpath is None:
        return pd.Categorical.from_codes(codes, categories=names, validate=False)
    return pd.Categorical.from_codes(codes, dtype=fastpath(names, False), validate=False)


def _frame(parts: list[dict], has_amount: bool, customer_names: pd.Index, referrers) -> pd.DataFrame:
    customer = np.concatenate([p["customer"] for p in parts]).astype(np.int32)
    day = np.concatenate([p["day"] for p in parts])
    columns: dict[str, object] = {
        "customer_id": _categorical(customer, customer_names),
        "order_date": (day * SECONDS_PER_DAY).astype("datetime64[s]"),
    }
    if has_amount:
        columns["amount"] = np.concatenate([p["amount"] for p in parts]).astype(np.float64)
    columns["is_refund"] = np.concatenate([np.zeros(len(parts[0]["day"]), dtype=bool)] +
                                          [np.ones(len(p["day"]), dtype=bool) for p in parts[1:]])
    if referrers is not None:
        codes = np.concatenate([p["referrer"] for p in parts]).astype(np.int32)
        columns["referred_by"] = _categorical(codes, referrers[1])
    return pd.DataFrame(columns, copy=False)  # the arrays are this frame's alone: no second copy
