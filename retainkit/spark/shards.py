"""What runs inside one shard (a Spark partition holding every row of its customers).

Both stages hand the whole partition to the local code at once — Spark passes a
partition over in Arrow batches of 10,000 rows, and a customer's rows may straddle two:

1. :func:`normalise_shard`: the rows, in input order, through :func:`retainkit.normalise.normalise`
   — out come the canonical orders (one row per order or refund), every customer id of the
   shard (a customer with no valid order still has a row, as locally) and the shard's
   data-quality record; an error of the input becomes an ``error`` row, raised on the driver.
2. :func:`reduce_shard`: those orders through :func:`retainkit.kernel.shard_rows` — out come
   the per-customer rows and the referral pairs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from retainkit.config import ReadOptions
from retainkit.errors import RetainkitError
from retainkit.kernel import shard_rows
from retainkit.load import RawExport, Source
from retainkit.load_parquet import readable
from retainkit.normalise import normalise
from retainkit.periods import Period
from retainkit.schema import ColumnMapping
from retainkit.spark.where import marker

FILE, ROW, KEY, READ = "_file", "_row", "_key", "_read"
SECONDS_PER_DAY = 86_400
#: The rows stage 1 returns: ``kind`` is event, customer, product (a line's product, with
#: ``at-risk --products``), quality or error.
EVENTS_SCHEMA = pa.schema([
    ("kind", pa.string()), ("customer_id", pa.string()), ("day", pa.int64()), ("amount", pa.float64()),
    ("is_refund", pa.bool_()), ("referred_by", pa.string()), ("product", pa.string()), ("payload", pa.string()),
])
#: The per-customer columns stage 2 returns, in the types :func:`customer_windows` gives them.
WINDOW_TYPES: dict[str, pa.DataType] = {
    "orders_in_period": pa.int64(), "orders_to_date": pa.int64(), "purchase_days_in_period": pa.int64(),
    "purchase_days_to_date": pa.int64(), "revenue_in_period": pa.float64(), "first_order_day": pa.float64(),
    "first_order_referred": pa.bool_(), "first_in_period_day": pa.float64(), "last_in_period_day": pa.float64(),
    "last_before_period_day": pa.float64(), "active_base": pa.bool_(), "active_current": pa.bool_(),
    "revenue_365": pa.float64(), "active_365": pa.bool_(), "last_order_day": pa.float64(),
    "revenue_to_date": pa.float64(), "last_refund_day": pa.float64(), "referred_customers": pa.int64(),
}
ROWS_SCHEMA = pa.schema([("kind", pa.string()), ("customer_id", pa.string()), ("referrer", pa.string()),
                         *WINDOW_TYPES.items()])


@dataclass(frozen=True)
class ShardExport(RawExport):
    """A shard's rows as a :class:`RawExport`; a row is named by a marker of its input and
    its ``_row`` (row numbers inside a shard are not the input's), which the driver turns
    into the file and line (:func:`retainkit.spark.where.placed`)."""

    files: tuple[int, ...] = ()
    rows: tuple[int, ...] = ()

    def locate(self, row: int) -> str:
        if 0 <= row < len(self.rows):
            return marker(self.files[row], self.rows[row])
        return "a row of the input"


@dataclass(frozen=True)
class ShardJob:
    """What stage 1 needs besides the rows: the input names by ``_file``, their kind, the
    header mapping and the read options (with the decisions made for the whole input)."""

    files: tuple[str, ...]
    kind: str
    mapping: ColumnMapping
    options: ReadOptions
    product_lines: bool = False  # keep each line's product (product lapses)


def _whole(batches: Iterable[pa.RecordBatch]) -> pa.Table | None:
    tables = [pa.Table.from_batches([b]) for b in batches if b.num_rows]
    return pa.concat_tables(tables) if tables else None


def normalise_shard(job: ShardJob) -> Any:
    """The stage-1 function for ``mapInArrow``."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        table = _whole(batches)
        if table is None:
            return
        try:
            yield from _normalised_rows(table, job)
        except RetainkitError as err:
            yield _batch({"kind": ["error"], "payload": [json.dumps({"message": err.message, "hint": err.hint})]},
                         EVENTS_SCHEMA)

    return run


def _normalised_rows(table: pa.Table, job: ShardJob) -> Iterator[pa.RecordBatch]:
    table = table.sort_by([(FILE, "ascending"), (ROW, "ascending")])
    files = table.column(FILE).to_numpy(zero_copy_only=False).astype(np.int64)
    per_file = np.bincount(files, minlength=len(job.files))
    starts = np.concatenate(([0], np.cumsum(per_file)[:-1]))
    kind = job.kind if job.kind in ("csv", "excel") else "parquet"
    sources = tuple(Source(name, kind, int(s), int(n)) for name, s, n in zip(job.files, starts, per_file, strict=True))
    fields = [n for n in table.column_names if n not in (FILE, ROW, KEY, READ)]
    columns = {f: readable(job.files[0], f, job.mapping.fields.get(f, f), _plain(table.column(f))) for f in fields}
    ids = table.column(ROW).to_numpy(zero_copy_only=False).astype(np.int64)
    raw = ShardExport(pa.table(columns), sources, job.mapping, files=tuple(files.tolist()), rows=tuple(ids.tolist()))
    data = normalise(raw, replace(job.options, allow_dates=True), product_lines=job.product_lines)
    orders = data.orders
    names = orders["customer_id"].cat.categories.astype(str)
    events = {
        "kind": np.full(len(orders), "event", dtype=object),
        "customer_id": orders["customer_id"].astype(object).to_numpy(),
        "day": orders["order_date"].to_numpy(dtype="datetime64[D]").astype(np.int64),
        "amount": orders["amount"].to_numpy() if "amount" in orders else None,
        "is_refund": orders["is_refund"].to_numpy(),
        "referred_by": orders["referred_by"].astype(object).to_numpy() if "referred_by" in orders else None,
    }
    yield _batch(events, EVENTS_SCHEMA)
    yield _batch({"kind": ["customer"] * len(names), "customer_id": list(names)}, EVENTS_SCHEMA)
    lines = data.product_lines
    if lines is not None and len(lines):
        yield _batch({"kind": np.full(len(lines), "product", dtype=object),
                      "customer_id": lines["customer_id"].astype(object).to_numpy(),
                      "day": lines["order_date"].to_numpy(dtype="datetime64[D]").astype(np.int64),
                      "product": lines["product"].astype(object).to_numpy()}, EVENTS_SCHEMA)
    yield _batch({"kind": ["quality"], "payload": [json.dumps(asdict(data.quality))]}, EVENTS_SCHEMA)


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Large strings as strings (Spark may send either)."""
    if pa.types.is_large_string(column.type):
        return pc.cast(column, pa.string())
    return column


def _batch(columns: dict[str, Any], schema: pa.Schema) -> pa.RecordBatch:
    """A record batch of ``schema`` from the columns given (the others null)."""
    n = max((len(v) for v in columns.values() if v is not None), default=0)
    arrays = []
    for field in schema:
        values = columns.get(field.name)
        if values is None:
            arrays.append(pa.nulls(n, field.type))
        else:
            arrays.append(pa.array(values, type=field.type, from_pandas=True)
                          if field.type == pa.string() else pa.array(np.asarray(values), type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def orders_of(table: pa.Table) -> pd.DataFrame:
    """The canonical orders frame of a shard from its stage-1 rows (customers without an
    order keep their place among the categories, as locally)."""
    kinds = table.column("kind").to_numpy(zero_copy_only=False)
    names = pd.Index(table.column("customer_id").filter(pa.array(kinds == "customer")).to_pylist(), dtype=object)
    events = table.filter(pa.array(kinds == "event"))
    codes = names.get_indexer(events.column("customer_id").to_pylist())
    day = events.column("day").to_numpy(zero_copy_only=False).astype(np.int64)
    frame: dict[str, Any] = {
        "customer_id": pd.Categorical.from_codes(codes, categories=names),
        "order_date": (day * SECONDS_PER_DAY).astype("datetime64[s]"),
    }
    amount = events.column("amount")
    if amount.null_count < len(amount) or len(amount) == 0:
        frame["amount"] = amount.to_numpy(zero_copy_only=False).astype(np.float64)
    frame["is_refund"] = events.column("is_refund").to_numpy(zero_copy_only=False).astype(bool)
    referrers = events.column("referred_by")
    if referrers.null_count < len(referrers):
        frame["referred_by"] = pd.Categorical(referrers.to_pylist())
    return pd.DataFrame(frame)


def product_lines_of(table: pa.Table, names: pd.Index) -> pd.DataFrame:
    """A shard's product lines (``kind`` product), as :func:`retainkit.normalise.normalise`
    gives them: customer ids in the shard's categories, products as categories in id order."""
    kinds = table.column("kind").to_numpy(zero_copy_only=False)
    lines = table.filter(pa.array(kinds == "product"))
    day = lines.column("day").to_numpy(zero_copy_only=False).astype(np.int64)
    products = lines.column("product").to_pylist()
    return pd.DataFrame({
        "customer_id": pd.Categorical.from_codes(names.get_indexer(lines.column("customer_id").to_pylist()),
                                                 categories=names),
        "product": pd.Categorical(products, categories=sorted(set(products))),
        "order_date": (day * SECONDS_PER_DAY).astype("datetime64[s]"),
    })


def shard_orders(table: pa.Table, *, has_amount: bool, has_referrals: bool) -> pd.DataFrame:
    """:func:`orders_of`, with the columns of the whole input: an amount column (zeros for
    a shard whose amounts are all empty) only when the input has one, a referral column
    when it has one."""
    orders = orders_of(table)
    if not has_amount:
        orders = orders.drop(columns="amount", errors="ignore")
    elif "amount" not in orders:
        orders.insert(2, "amount", np.zeros(len(orders)))
    if has_referrals and "referred_by" not in orders:
        orders["referred_by"] = pd.Categorical([None] * len(orders))
    return orders


def reduce_shard(period: Period, *, has_amount: bool, has_referrals: bool) -> Any:
    """The stage-2 function for ``mapInArrow``: per-customer rows and referral pairs."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        table = _whole(batches)
        if table is None:
            return
        rows = shard_rows(shard_orders(table, has_amount=has_amount, has_referrals=has_referrals), period)
        windows = rows.windows
        yield _batch({"kind": ["window"] * len(windows), "customer_id": list(windows.index.astype(str)),
                      **{c: windows[c].to_numpy() for c in WINDOW_TYPES}}, ROWS_SCHEMA)
        pairs = rows.referrals
        if len(pairs):
            yield _batch({"kind": ["referral"] * len(pairs), "customer_id": list(pairs["customer_id"]),
                          "referrer": list(pairs["referrer"])}, ROWS_SCHEMA)

    return run
