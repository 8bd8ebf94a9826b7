"""Fast paths give the same results as the straightforward ones (issue 12).

The readers and normalisation take shortcuts that pay off only on some row orders (ids in
runs, sorted order ids, an order's lines together). The same export written shuffled, in
date order (as shops export) and grouped by customer must give the same KPIs and the same
data-quality record: each version is written to a file (CSV and Parquet) and read end to
end through :func:`retainkit.pipeline.read_orders` and :func:`retainkit.pipeline.kpi_report`.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from retainkit import activity, reductions
from retainkit.periods import resolve_period
from retainkit.pipeline import kpi_report, read_orders

START = datetime(2023, 1, 2, 9, 0, 0)
#: Customers as shops spell them: e-mails and CU numbers, one with spaces around it (the
#: same customer once trimmed), one decomposed (NFD: the same customer as its NFC form).
CUSTOMERS = ("CU00000001", "CU00000002", " CU00000002", "ann@example.com", "bo@example.com",
             "Nguy\u1ec5n", "Nguye\u0302\u0303n", None)

#: One order: customer (None: a guest), day, seconds into the day, referrer, its 1–5 lines
#: (quantity, unit price in cents, product), a refund one time in five (0 = refunded; days
#: later), and whether its first line is written twice (an exact duplicate).
ORDERS = st.lists(
    st.tuples(st.sampled_from(CUSTOMERS), st.integers(0, 300), st.integers(0, 86_399),
              st.sampled_from([None, None, None, "CU00000001", "ann@example.com"]),
              st.lists(st.tuples(st.integers(1, 4), st.integers(0, 20_000), st.integers(0, 6)), min_size=1,
                       max_size=5),
              st.tuples(st.integers(0, 4), st.integers(1, 40)), st.integers(0, 9)),
    min_size=1, max_size=30)

Row = dict[str, Any]


def export_rows(orders: list) -> list[Row]:
    rows: list[Row] = []
    for number, (customer, day, second, referrer, lines, refund, repeat) in enumerate(orders):
        stamp = START + timedelta(days=day, seconds=second)
        order_rows = [{"order_id": str(5000 + number), "customer_id": customer, "order_date": stamp,
                       "product": f"SKU{product}", "quantity": quantity, "unit_price": cents / 100,
                       "referred_by": referrer} for quantity, cents, product in lines]
        if repeat == 0:
            order_rows.append(dict(order_rows[0]))
        rows += order_rows
        if refund[0] == 0:
            quantity, cents, product = lines[0]
            rows.append({"order_id": f"C{5000 + number}", "customer_id": customer,
                         "order_date": stamp + timedelta(days=refund[1]), "product": f"SKU{product}",
                         "quantity": -quantity, "unit_price": cents / 100, "referred_by": None})
    return rows


def versions(rows: list[Row], seed: int) -> dict[str, list[Row]]:
    """The same rows shuffled, in date order (lines of an order together), grouped by customer,
    and with order ids that are not numbers."""
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    by_date = sorted(rows, key=lambda r: r["order_date"])  # stable: an order's lines stay together
    by_customer = sorted(rows, key=lambda r: (r["customer_id"] or "").strip())
    # Order ids that are not plain numbers (5000A, C5000A) take the text path, not the integer keys.
    text_ids = [dict(r, order_id=r["order_id"] + "A") for r in shuffled]
    return {"as generated": rows, "shuffled": shuffled, "date order": by_date, "by customer": by_customer,
            "text order ids": text_ids}


def write(rows: list[Row], path: Path) -> None:
    table = pa.table({
        "order_id": pa.array([r["order_id"] for r in rows], pa.string()),
        "customer_id": pa.array([r["customer_id"] for r in rows], pa.string()),
        "order_date": pa.array([r["order_date"] for r in rows], pa.timestamp("s")),
        "product": pa.array([r["product"] for r in rows], pa.string()),
        "quantity": pa.array([r["quantity"] for r in rows], pa.int64()),
        "unit_price": pa.array([r["unit_price"] for r in rows], pa.float64()),
        "referred_by": pa.array([r["referred_by"] for r in rows], pa.string()),
    })
    if path.suffix == ".parquet":  # row groups of 5 rows: ids read through many dictionaries
        pq.write_table(table, path, row_group_size=5)
    else:
        pacsv.write_csv(table, path)


def kpis_of(path: Path) -> dict[str, Any]:
    document = kpi_report(read_orders(str(path)))
    document.pop("files", None)
    return document


def same(a: Any, b: Any, where: str = "") -> None:
    """Equal documents; floats equal up to the order in which they were summed."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (where, a, b)
    else:
        assert a == b, (where, a, b)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders=ORDERS, seed=st.integers(0, 2**16), suffix=st.sampled_from([".csv", ".parquet"]))
def test_row_order_does_not_change_kpis_or_data_quality(tmp_path: Path, orders: list, seed: int,
                                                         suffix: str) -> None:
    assume(any(order[0] is not None for order in orders))  # an export of guests only has no KPIs
    rows = export_rows(orders)
    documents = {}
    for name, version in versions(rows, seed).items():
        path = tmp_path / f"{name.replace(' ', '_')}{suffix}"
        write(version, path)
        documents[name] = kpis_of(path)
    reference = documents.pop("as generated")
    for name, document in documents.items():
        same(document, reference, name)


@settings(max_examples=200, deadline=None)
@given(runs=st.lists(st.tuples(st.integers(1, 20), st.lists(st.integers(0, 3), min_size=20, max_size=20)),
                     min_size=1, max_size=40),
       shuffle=st.booleans(), seed=st.integers(0, 2**16))
def test_duplicate_candidates_in_runs_are_those_of_the_sort(runs: list, shuffle: bool, seed: int) -> None:
    """Rows sharing (group, hash) with another: compared within runs of a group (an order's
    lines together, runs up to 16 rows) or by sorting — the same rows either way."""
    import numpy as np

    from retainkit.duplicates import _candidates_in_runs, _candidates_sorted

    group = np.repeat(np.arange(len(runs), dtype=np.int64), [length for length, _ in runs])
    hashed = np.concatenate([np.array(values[:length], dtype=np.uint64) for length, values in runs])
    if shuffle:
        order = np.random.default_rng(seed).permutation(len(group))
        group, hashed = group[order], hashed[order]
    in_runs = _candidates_in_runs(group, hashed)
    sorted_ = _candidates_sorted(group, hashed)
    longest = max(length for length, _ in runs)
    if in_runs is None:
        assert (shuffle and not np.all(group[1:] >= group[:-1])) or longest > 16
    else:
        assert in_runs.tolist() == sorted_.tolist()


def test_the_row_hash_on_two_threads_is_the_row_hash(monkeypatch) -> None:
    import numpy as np

    from retainkit import duplicates

    rng = np.random.default_rng(3)
    columns = [rng.integers(-5, 5, 1001).astype(np.int32), rng.normal(size=1001), rng.integers(0, 2**62, 1001)]
    columns[1][:3] = [0.0, -0.0, np.nan]
    whole = duplicates._row_hash(columns, 1001)
    monkeypatch.setattr(duplicates, "_SPLIT_ROWS", 2)
    assert duplicates._row_hash(columns, 1001).tolist() == whole.tolist()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders=ORDERS, seed=st.integers(0, 2**16), bits=st.integers(0, 2))
def test_reductions_block_by_block_are_those_of_one_block(tmp_path: Path, orders: list, seed: int,
                                                          bits: int) -> None:
    """Customers in blocks of 1–4 (the rows reordered block by block, as over 131,072
    customers) give the per-customer frame and the over-time counts of one block, bit for
    bit: a sum per customer adds the same numbers in the same order."""
    assume(any(order[0] is not None for order in orders))
    path = tmp_path / "orders.csv"
    write(versions(export_rows(orders), seed)["shuffled"], path)
    frame = read_orders(str(path)).orders
    period = resolve_period(frame)
    one_block = reductions.customer_windows(frame, period).frame
    over_time = activity.period_activity(frame, period, "month")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reductions, "_BLOCK_BITS", bits)
        blocks = reductions.customer_windows(frame, period).frame
        blocks_over_time = activity.period_activity(frame, period, "month")
    pd.testing.assert_frame_equal(blocks, one_block, check_exact=True)
    for name in activity.PERIOD_COUNTS:
        assert getattr(blocks_over_time, name).tolist() == getattr(over_time, name).tolist(), name
    assert np.array_equal(blocks_over_time.revenue, over_time.revenue, equal_nan=True)


def test_block_order_keeps_each_blocks_rows_in_order_past_256_blocks() -> None:
    customer = np.array([700, 3, 700, 0, 299, 3])
    assert reductions.customer_block_order(customer, 701, bits=0).tolist() == [3, 1, 5, 4, 0, 2]
    assert reductions.customer_block_order(customer, 701, bits=2).tolist() == [1, 3, 5, 4, 0, 2]
    assert reductions.customer_block_order(customer, 701, bits=10) is None
