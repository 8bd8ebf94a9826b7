"""Generate a synthetic order-line export for benchmarks.

Two shapes (``--shape``):

``real`` (default) — shaped like real shop exports (Shopify, WooCommerce, UCI, POS dumps):
rows in date order (an order's 1–5 lines together, customers interleaved over the whole
file), refunds as their own ``C``-prefixed documents on later dates mixed in by date,
``quantity`` × ``unit_price`` instead of an amount, string customer ids (e-mails and
``CU00123456``), ~1 % guest orders with no customer, a ``product`` column and a
``referred_by`` column filled on ~30 % of customers' first orders. 10M lines ≈ 4M orders
of ≈ 0.8M customers over three years. Files: ``real_<lines>.{parquet,csv}``.

``grouped`` — the earlier benchmark shape: numeric ``C``-ids, a ready ``amount``, rows in
order-id order. Files: ``lines_<lines>.{parquet,csv}``.

Grouped shape: customers buy at different rates (gamma-distributed), orders have one or more lines,
about 2% of orders are later refunded in part (a negative line under a ``C``-prefixed
order id, the UCI convention). Fully vectorised and deterministic for a given seed.

    python benchmarks/generate.py 10_000_000 --out /tmp/bench --seed 7 [--shape grouped]

writes ``/tmp/bench/real_10000000.parquet`` and ``.csv`` (``lines_…`` for ``grouped``).
A Parquet dataset of many files, 100M lines in ten pieces of ten files each (ids of each
piece apart, so the pieces are one export of 8M customers):

    for k in 0 1 2 3 4 5 6 7 8 9; do
        python benchmarks/generate.py 10_000_000 --out /tmp/lake --seed $((7 + k)) --offset $k \
            --files 10 --formats parquet
    done
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

LINES_PER_ORDER = 2.56
ORDERS_PER_CUSTOMER = 5.0
SPAN_DAYS = 3 * 365
START = np.datetime64("2022-01-01T00:00:00", "s")


def _prefixed(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")


def _orders(rng: np.random.Generator, n_lines: int, lines_per_order: float,
            orders_per_customer: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Each order's customer and second: heterogeneous purchase rates (each order picks a
    customer with probability ∝ a gamma rate), from the customer's first day to the end."""
    n_orders = max(1, int(n_lines / lines_per_order))
    n_customers = max(1, int(n_orders / orders_per_customer))
    rates = rng.gamma(shape=0.7, scale=1.0, size=n_customers)
    order_customer = rng.choice(n_customers, size=n_orders, p=rates / rates.sum())
    first_day = rng.integers(0, SPAN_DAYS, size=n_customers)
    span_left = SPAN_DAYS - first_day
    order_day = first_day[order_customer] + (rng.random(n_orders) * span_left[order_customer]).astype(np.int64)
    order_second = order_day * 86_400 + rng.integers(8 * 3600, 22 * 3600, size=n_orders)
    return order_customer, order_second, n_customers


def generate(n_lines: int, seed: int = 7) -> pa.Table:
    """Return a table of about ``n_lines`` order lines."""
    rng = np.random.default_rng(seed)
    order_customer, order_second, n_customers = _orders(rng, n_lines, LINES_PER_ORDER, ORDERS_PER_CUSTOMER)
    n_orders = len(order_customer)

    lines_per_order = 1 + rng.poisson(LINES_PER_ORDER - 1, size=n_orders)
    line_order = np.repeat(np.arange(n_orders), lines_per_order)[:n_lines]
    n_orders = int(line_order[-1]) + 1  # orders cut off by the line budget are dropped

    n = len(line_order)
    quantity = 1 + rng.poisson(1.0, size=n)
    unit_price = np.round(rng.lognormal(mean=2.5, sigma=0.8, size=n), 2)
    amount = np.round(quantity * unit_price, 2)

    refunded = rng.random(n_orders) < 0.02
    refund_orders = np.flatnonzero(refunded)
    refund_line = np.searchsorted(line_order, refund_orders)  # first line of each refunded order

    customer_ids = rng.permutation(n_customers) + 1_000_000
    order_numbers = np.arange(n_orders) + 100_000_000
    product_ids = rng.zipf(1.3, size=n) % 5000

    stamps = START + order_second[line_order]
    refund_stamps = START + order_second[refund_orders] + 86_400 * rng.integers(1, 30, size=len(refund_orders))
    table = pa.table(
        {
            "order_id": pa.concat_arrays(
                [_prefixed("", order_numbers[line_order]), _prefixed("C", order_numbers[refund_orders])]
            ),
            "customer_id": pa.concat_arrays(
                [
                    _prefixed("C", customer_ids[order_customer[line_order]]),
                    _prefixed("C", customer_ids[order_customer[refund_orders]]),
                ]
            ),
            "order_date": pa.array(np.concatenate([stamps, refund_stamps])),
            "product_id": pa.concat_arrays(
                [_prefixed("SKU", product_ids), _prefixed("SKU", product_ids[refund_line])]
            ),
            "amount": pa.array(np.concatenate([amount, -amount[refund_line]])),
        }
    )
    return table


REAL_LINES_PER_ORDER = 2.5  # 1 + Binomial(4, 0.375): 1–5 lines
REAL_ORDERS_PER_CUSTOMER = 5.0


def _customer_names(numbers: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """Half e-mails (``u123456@example.com``), half ``CU00123456``."""
    email = rng.random(len(numbers)) < 0.5
    padded = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), 8, "0")
    return pc.if_else(
        pa.array(email),
        pc.binary_join_element_wise("u", pc.cast(pa.array(numbers), pa.string()), "@example.com", ""),
        pc.binary_join_element_wise("CU", padded, ""),
    )


def generate_real(n_lines: int, seed: int = 7, *, offset: int = 0) -> pa.Table:
    """About ``n_lines`` order lines shaped like a real shop export (see the module docstring).
    ``offset`` > 0 gives another shop's customers and orders (ids shifted by ``offset`` × 10⁷
    and × 10⁸): pieces of a larger export generated one at a time."""
    rng = np.random.default_rng(seed)
    order_customer, order_second, n_customers = _orders(rng, n_lines, REAL_LINES_PER_ORDER,
                                                        REAL_ORDERS_PER_CUSTOMER)
    n_orders = len(order_customer)
    by_date = np.argsort(order_second, kind="stable")  # order numbers follow the date, as shops number them
    order_customer, order_second = order_customer[by_date], order_second[by_date]
    guest = rng.random(n_orders) < 0.01

    lines_per_order = 1 + rng.binomial(4, 0.375, size=n_orders)
    line_order = np.repeat(np.arange(n_orders), lines_per_order)[:n_lines]
    n_orders = int(line_order[-1]) + 1
    n = len(line_order)
    quantity = 1 + rng.poisson(0.6, size=n)
    unit_price = np.round(rng.lognormal(mean=2.5, sigma=0.8, size=n), 2)
    product = rng.zipf(1.3, size=n) % 20_000

    # ~30 % of customers' first orders name a referrer (another customer), on every line.
    first_order = np.full(n_customers, n_orders, dtype=np.int64)
    np.minimum.at(first_order, order_customer[:n_orders], np.arange(n_orders))
    has_first = first_order < n_orders
    referred = has_first & (rng.random(n_customers) < 0.3)
    order_referrer = np.full(n_orders, -1, dtype=np.int64)
    order_referrer[first_order[referred]] = rng.integers(0, n_customers, size=int(referred.sum()))

    refund_orders = np.flatnonzero(rng.random(n_orders) < 0.02)
    refund_line = np.searchsorted(line_order, refund_orders)
    refund_second = order_second[refund_orders] + 86_400 * rng.integers(1, 30, size=len(refund_orders))

    customer_numbers = rng.permutation(n_customers) + 100_000 + offset * 10_000_000
    names = _customer_names(customer_numbers, rng)
    line_customer = np.where(guest[line_order], -1, order_customer[line_order])
    row_customer = np.concatenate([line_customer, np.where(guest[refund_orders], -1, order_customer[refund_orders])])
    row_second = np.concatenate([order_second[line_order], refund_second])
    row_order = np.concatenate([line_order, refund_orders])
    row_is_refund = np.concatenate([np.zeros(n, dtype=bool), np.ones(len(refund_orders), dtype=bool)])
    row_referrer = np.concatenate([order_referrer[line_order], np.full(len(refund_orders), -1)])
    row_quantity = np.concatenate([quantity, -quantity[refund_line]])
    row_price = np.concatenate([unit_price, unit_price[refund_line]])
    row_product = np.concatenate([product, product[refund_line]])
    rows = np.argsort(row_second, kind="stable")  # date order; an order's lines stay together

    def taken(values: np.ndarray) -> np.ndarray:
        return values[rows]

    customer, referrer = taken(row_customer), taken(row_referrer)
    order_text = pc.cast(pa.array(taken(row_order) + 1_000_001 + offset * 100_000_000), pa.string())
    return pa.table(
        {
            "order_id": pc.if_else(pa.array(taken(row_is_refund)), pc.binary_join_element_wise("C", order_text, ""),
                                   order_text),
            "customer_id": pc.if_else(pa.array(customer >= 0), names.take(pa.array(np.maximum(customer, 0))),
                                      pa.scalar(None, pa.string())),
            "order_date": pa.array(START + taken(row_second)),
            "product": _prefixed("SKU", taken(row_product)),
            "quantity": pa.array(taken(row_quantity)),
            "unit_price": pa.array(taken(row_price)),
            "referred_by": pc.if_else(pa.array(referrer >= 0), names.take(pa.array(np.maximum(referrer, 0))),
                                      pa.scalar(None, pa.string())),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lines", type=lambda s: int(s.replace("_", "")))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--formats", default="parquet,csv")
    parser.add_argument("--shape", choices=("real", "grouped"), default="real",
                        help="real: date order, quantity × unit price, string ids (default); grouped: the older shape")
    parser.add_argument("--files", type=int, default=1,
                        help="Parquet only: write N files of consecutive rows (a dataset folder), not one")
    parser.add_argument("--offset", type=int, default=0,
                        help="real shape: another shop's ids (customers + N×10^7, orders + N×10^8), so that "
                             "pieces generated one at a time make one larger export")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.shape == "real":
        table = generate_real(args.lines, args.seed, offset=args.offset)
    else:
        table = generate(args.lines, args.seed)
    stem = args.out / f"{'real' if args.shape == 'real' else 'lines'}_{args.lines}"
    formats = args.formats.split(",")
    if args.files > 1:
        if formats != ["parquet"]:
            parser.error("--files writes Parquet only: add --formats parquet")
        step = -(-table.num_rows // args.files)
        for part, start in enumerate(range(0, table.num_rows, step)):
            pq.write_table(table.slice(start, step), f"{stem}_{args.offset:03d}_{part:03d}.parquet",
                           compression="snappy")
        return
    if "parquet" in formats:
        pq.write_table(table, f"{stem}.parquet", compression="snappy")
    if "csv" in formats:
        pacsv.write_csv(table, f"{stem}.csv")
    print(f"{table.num_rows} rows -> {stem}.{{{','.join(formats)}}}")


if __name__ == "__main__":
    main()
