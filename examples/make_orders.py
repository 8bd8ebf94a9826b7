"""Regenerate ``examples/orders.csv``: a small shop's export over three years.

    python examples/make_orders.py

Fixed seed, standard library only: the same file on every machine. About 900 customers
and 3,000 orders (several lines each), stamped in Vietnam time (+07:00); some customers
were referred by others, about 3% of orders were later refunded in part (a ``C``-prefixed
refund line), and a few rows were exported without a customer.
"""

from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

SEED = 20240101
START = datetime(2022, 1, 1, tzinfo=timezone(timedelta(hours=7)))
DAYS = 3 * 365
PRODUCTS = {f"SKU-{i:03d}": round(random.Random(i).uniform(4, 120), 2) for i in range(1, 61)}
HEADER = ["order_id", "customer_email", "created_at", "sku", "quantity", "unit_price", "referred_by"]


OUTPUT = Path(__file__).with_name("orders.csv")


def main(path: Path = OUTPUT) -> None:
    rnd = random.Random(SEED)
    rows = []
    order_number = 10_000
    customers = []
    for c in range(900):
        email = f"customer{c:04d}@example.vn"
        first = rnd.randrange(DAYS)
        rate = rnd.choice([0.002, 0.005, 0.01, 0.02, 0.05])  # orders per day while active
        lifetime = rnd.expovariate(1 / 500)
        referrer = rnd.choice(customers) if customers and rnd.random() < 0.25 else ""
        customers.append(email)
        day = first
        while day < min(DAYS, first + lifetime):
            order_number += 1
            stamp = START + timedelta(days=day, seconds=rnd.randrange(8 * 3600, 22 * 3600))
            skus = rnd.sample(sorted(PRODUCTS), rnd.choice([1, 1, 2, 3]))
            refer = referrer if day == first else ""
            for sku in skus:
                rows.append([str(order_number), email, stamp.isoformat(timespec="seconds"), sku,
                             rnd.choice([1, 1, 1, 2, 3]), PRODUCTS[sku], refer])
            if rnd.random() < 0.03:
                later = stamp + timedelta(days=rnd.randrange(1, 20))
                rows.append([f"C{order_number}", email, later.isoformat(timespec="seconds"), skus[0], -1,
                             PRODUCTS[skus[0]], ""])
            day += max(1, int(rnd.expovariate(rate)))
    for r in rnd.sample(range(len(rows)), 12):
        rows[r][1] = ""  # exported without a customer
    rows.sort(key=lambda r: (r[2], r[0]))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    print(f"{len(rows)} rows -> {path}")


if __name__ == "__main__":
    main()
