"""Time retainkit against DuckDB computing the same results in SQL, on the same file.

    python benchmarks/run.py --lines 1000000 10000000 --repeat 5                 # kpis
    python benchmarks/run.py --lines 10000000 --command customers --formats parquet

``kpis``: the headline KPIs and data-quality counts. ``customers``: the per-customer table
(scores and segments included) written as Parquet by both. ``report``: the weekly HTML
report against ``retainkit kpis`` on the same file.

For each size and format (Parquet, CSV) both run as separate processes, alternating, so
that machine noise hits both alike; wall time is the median of ``--repeat`` runs and peak
memory the largest resident set seen (``getrusage`` of the child). The ratio is retainkit's
median over DuckDB's. Data comes from ``generate.py`` (made once, kept in ``--data``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.duckdb_reference import Source, customers_sql, kpi_sql  # noqa: E402

DUCKDB_SCRIPT = """
import duckdb, sys
con = duckdb.connect()
con.execute(sys.argv[1]).fetchall()
"""


OUT = Path("/tmp/retainkit-bench-customers.parquet")


def source_for(path: Path) -> Source:
    """The reference's view of a generated file: ``real_*`` (quantity × unit price, product,
    referral) or ``lines_*`` (the grouped shape, a ready amount)."""
    real = path.name.startswith("real_")
    types = "{'order_id': 'VARCHAR', 'customer_id': 'VARCHAR'" + (", 'referred_by': 'VARCHAR'}" if real else "}")
    relation = f"read_parquet('{path}')" if path.suffix == ".parquet" else f"read_csv('{path}', types={types})"
    return Source(
        relation=relation,
        customer="customer_id",
        day="CAST(order_date AS DATE)",
        amount="quantity * unit_price" if real else "amount",
        order_id="order_id",
        duplicate_columns=("order_id, customer_id, order_date, product, quantity, unit_price, referred_by" if real
                           else "order_id, customer_id, order_date, amount, product_id"),
    )


def commands_for(path: Path, command: str) -> tuple[list[str], list[str]]:
    """(retainkit's command line, the reference's) on ``path``: DuckDB doing the same job in
    SQL, or for ``report`` retainkit's own ``kpis`` (the report's budget is 3× kpis)."""
    kpis = [sys.executable, "-m", "retainkit", "kpis", str(path), "--format", "json"]
    if command == "report":
        return [sys.executable, "-m", "retainkit", "report", str(path), "--every", "week", "--output",
                "/tmp/retainkit-bench-report.html"], kpis
    if command == "customers":
        ours = [sys.executable, "-m", "retainkit", "customers", str(path), "--format", "parquet", "--output", str(OUT)]
        sql = f"COPY ({customers_sql(source_for(path))}) TO '{OUT}.duckdb' (FORMAT parquet)"
        return ours, [sys.executable, "-c", DUCKDB_SCRIPT, sql]
    return kpis, [sys.executable, "-c", DUCKDB_SCRIPT, kpi_sql(source_for(path))]


def run_once(command: list[str]) -> tuple[float, float, float, float, int, int]:
    """(wall s, user CPU s, system CPU s, peak RSS GiB, exit code, page faults) of one whole
    process (``wait4``'s accounting). User time is the program's own work; system time is
    mostly the kernel giving it fresh pages (a fault and a zeroing per page first touched)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    return (wall, usage.ru_utime, usage.ru_stime, usage.ru_maxrss / (1 << 20), os.waitstatus_to_exitcode(status),
            usage.ru_minflt)


def bench(path: Path, repeat: int, command: str = "kpis") -> dict:
    """Alternate retainkit and the reference ``repeat`` times; medians of wall, user and
    system CPU, peak memory, and the median of the pair-by-pair wall ratios."""
    ours, reference = commands_for(path, command)
    runs: dict[str, list[tuple[float, float, float, float, int, int]]] = {"retainkit": [], "duckdb": []}
    for _ in range(repeat):
        for name, argv in (("retainkit", ours), ("duckdb", reference)):
            runs[name].append(run_once(argv))
            if runs[name][-1][4] not in (0, 1):
                raise SystemExit(f"{name} failed on {path} (exit {runs[name][-1][4]})")
    result: dict = {"file": path.name, "size_mb": round(path.stat().st_size / 1e6, 1)}
    for name in runs:
        for column, suffix in enumerate(("s", "user_s", "sys_s", "peak_gib")):
            result[f"{name}_{suffix}"] = statistics.median(r[column] for r in runs[name])
        result[f"{name}_cpu_s"] = result[f"{name}_user_s"] + result[f"{name}_sys_s"]
    result["ratio"] = statistics.median(a[0] / b[0] for a, b in zip(runs["retainkit"], runs["duckdb"], strict=True))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", nargs="+", type=int, default=[1_000_000, 10_000_000])
    parser.add_argument("--formats", default="parquet,csv")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--json", action="store_true", help="print results as JSON lines")
    parser.add_argument("--command", choices=("kpis", "customers", "report"), default="kpis")
    parser.add_argument("--shapes", default="real,grouped", help="real (real_*.…) and/or grouped (lines_*.…)")
    args = parser.parse_args()
    print(f"retainkit {args.command} vs {'retainkit kpis' if args.command == 'report' else 'DuckDB'}"
          f" (the 'duckdb' columns are the reference)")
    print(f"{'file':28} {'MB':>7} {'retainkit s':>12} {'duckdb s':>9} {'ratio':>6} {'user s':>7} {'sys s':>6} "
          f"{'duckdb user':>11} {'duckdb sys':>10} {'peak GiB':>9} {'duckdb GiB':>10}")
    for shape in args.shapes.split(","):
        for lines in args.lines:
            for fmt in args.formats.split(","):
                path = args.data / f"{'real' if shape == 'real' else 'lines'}_{lines}.{fmt}"
                if not path.exists():
                    subprocess.run([sys.executable, str(HERE / "generate.py"), str(lines), "--out", str(args.data),
                                    "--formats", fmt, "--shape", shape], check=True)
                r = bench(path, args.repeat, args.command)
                if args.json:
                    print(json.dumps(r), flush=True)
                else:
                    print(f"{r['file']:28} {r['size_mb']:7.1f} {r['retainkit_s']:12.2f} {r['duckdb_s']:9.2f} "
                          f"{r['ratio']:6.2f} {r['retainkit_user_s']:7.1f} {r['retainkit_sys_s']:6.1f} "
                          f"{r['duckdb_user_s']:11.1f} {r['duckdb_sys_s']:10.1f} "
                          f"{r['retainkit_peak_gib']:9.2f} {r['duckdb_peak_gib']:10.2f}", flush=True)


if __name__ == "__main__":
    main()
