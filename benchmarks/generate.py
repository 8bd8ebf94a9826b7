"""Generate a synthetic order-line export for benchmarks.

Customers buy at different rates (gamma-distributed), orders have one or more lines,
about 2% of orders are later refunded in part (a negative line under a ``C``-prefixed
order id, the UCI convention). Fully vectorised and deterministic for a given seed.

    python benchmarks/generate.py 10_000_000 --out /tmp/bench --seed 7

writes ``/tmp/bench/lines_10000000.parquet`` and ``.csv``.
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


def generate(n_lines: int, seed: int = 7) -> pa.Table:
    """Return a table of about ``n_lines`` order lines."""
    rng = np.random.default_rng(seed)
    n_orders = max(1, int(n_lines / LINES_PER_ORDER))
    n_customers = max(1, int(n_orders / ORDERS_PER_CUSTOMER))

    # Heterogeneous purchase rates: each order picks a customer with probability ∝ rate.
    rates = rng.gamma(shape=0.7, scale=1.0, size=n_customers)
    order_customer = rng.choice(n_customers, size=n_orders, p=rates / rates.sum())
    first_day = rng.integers(0, SPAN_DAYS, size=n_customers)
    span_left = SPAN_DAYS - first_day
    order_day = first_day[order_customer] + (rng.random(n_orders) * span_left[order_customer]).astype(np.int64)
    order_second = order_day * 86_400 + rng.integers(8 * 3600, 22 * 3600, size=n_orders)

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lines", type=lambda s: int(s.replace("_", "")))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--formats", default="parquet,csv")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    table = generate(args.lines, args.seed)
    stem = args.out / f"lines_{args.lines}"
    formats = args.formats.split(",")
    if "parquet" in formats:
        pq.write_table(table, f"{stem}.parquet", compression="snappy")
    if "csv" in formats:
        pacsv.write_csv(table, f"{stem}.csv")
    print(f"{table.num_rows} rows -> {stem}.{{{','.join(formats)}}}")


if __name__ == "__main__":
    main()
