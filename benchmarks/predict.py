"""Time the models on about a million customers: summary, BG/NBD fit, Gamma-Gamma fit and
every customer's predictions (target: under 60 s on 2 cores).

    python benchmarks/predict.py --customers 1000000

The orders come from ``generate.py`` (its customers buy at gamma-distributed rates) and
are normalised in memory; only the model work is timed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

from retainkit.config import ReadOptions  # noqa: E402
from retainkit.load import RawExport, Source  # noqa: E402
from retainkit.models.predict import PredictOptions, predict  # noqa: E402
from retainkit.models.summary import summarise  # noqa: E402
from retainkit.normalise import normalise  # noqa: E402
from retainkit.periods import resolve_period  # noqa: E402
from retainkit.schema import ColumnMapping  # noqa: E402

#: Order lines per customer who ordered: the generator's gamma-distributed rates leave some
#: customers without orders, so 12.9M lines gave 770k buyers.
LINES_PER_BUYER = 16.75


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    lines = int(args.customers * LINES_PER_BUYER)
    table = generate(lines, args.seed).rename_columns(["order_id", "customer_id", "order_date", "product", "amount"])
    mapping = ColumnMapping({name: name for name in table.column_names})
    data = normalise(RawExport(table, (Source("generated", "parquet", 0, table.num_rows),), mapping), ReadOptions())
    end_day = resolve_period(data.orders).end_day

    start = time.perf_counter()
    summary = summarise(data.orders, end_day=end_day, time_unit_days=7)
    summarised = time.perf_counter()
    result = predict(summary, PredictOptions(horizon_days=365))
    done = time.perf_counter()
    fit, gg = result.model, result.gamma_gamma
    print(f"{len(summary.frame):,} customers from {table.num_rows:,} order lines")
    print(f"summary {summarised - start:.1f} s; fits and predictions {done - summarised:.1f} s; "
          f"total {done - start:.1f} s (target: under 60 s)")
    print(f"{fit.model.label} {fit.params.round(4).tolist()} LL={fit.log_likelihood:,.1f}")
    print(f"Gamma-Gamma p={gg.p:.4f} q={gg.q:.4f} gamma={gg.gamma:.4f} on {gg.customers:,} repeat buyers")


if __name__ == "__main__":
    main()
