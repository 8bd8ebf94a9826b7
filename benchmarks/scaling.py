"""Cost per line at several sizes, measured so that the machine's drift cannot pass for growth.

    python benchmarks/scaling.py --lines 1000000 10000000 30000000 --rounds 3 --data /tmp/bench-data

``run.py`` times one file after another, so a machine that slows down during the batch
(these virtual machines drift by up to 1.5× within an hour) makes the later, larger files
look dearer per line. Here every round runs every size, retainkit then DuckDB on each
(``kpis``, the real-export shape), the sizes in a rotated order; the growth in cost per
line from one size to the next is taken within each round and its median reported.

Per size: medians of wall, user and system CPU per line (µs), page faults per thousand
lines, and peak bytes per line (the largest resident set). Page faults count the pages
the program touched first (each a fault and a zeroing); what one costs is the machine's,
not the program's, so the script also times first touches of fresh memory in the same
run (``--calibrate``, at 2 and 6 GiB by default), as a yardstick for the system time. On a
virtual machine whose host takes back the memory the guest frees (virtio-balloon free page
reporting), that cost depends on how much is touched: the first few GiB come from memory
the guest freed a moment ago, the rest from the host, at many times the price per page.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import commands_for, run_once  # noqa: E402

TOUCH = """
import resource, sys, time, numpy as np
size = int(sys.argv[1]) << 20
start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_stime
np.ones(size, dtype=np.uint8)
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_stime - before)
"""


def rows_of(path: Path) -> int:
    """Data rows of a generated file: the Parquet twin's metadata, else the CSV's newlines."""
    twin = path.with_suffix(".parquet")
    if twin.exists():
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(twin).metadata.num_rows)
    with open(path, "rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b"")) - 1


def measure(paths: list[Path], rounds: int) -> dict[str, dict[Path, list[tuple[float, ...]]]]:
    """Per tool and file, one (wall, user, sys, peak GiB, exit, faults) per round."""
    runs: dict[str, dict[Path, list[tuple[float, ...]]]] = {"retainkit": {}, "duckdb": {}}
    for round_number in range(rounds):
        shift = round_number % len(paths)
        for path in paths[shift:] + paths[:shift]:
            ours, reference = commands_for(path, "kpis")
            for name, argv in (("retainkit", ours), ("duckdb", reference)):
                result = run_once(argv)
                if result[4] not in (0, 1):
                    raise SystemExit(f"{name} failed on {path} (exit {result[4]})")
                runs[name].setdefault(path, []).append(result)
    return runs


def calibrate(mib: int, times: int) -> list[tuple[float, float]]:
    """(wall s, system s) of first touching ``mib`` MiB of fresh memory, ``times`` times."""
    out = []
    for _ in range(times):
        printed = subprocess.run([sys.executable, "-c", TOUCH, str(mib)], capture_output=True, text=True, check=True)
        wall, system = (float(x) for x in printed.stdout.split())
        out.append((wall, system))
    return out


def per_line(rows: list[tuple[float, ...]], column: int, scale: float, lines: int) -> float:
    """The median of one column over the rounds, times ``scale``, per line."""
    return statistics.median(r[column] for r in rows) * scale / lines


def report(paths: list[Path], lines: dict[Path, int], runs: dict[str, dict[Path, list[tuple[float, ...]]]]) -> None:
    print(f"{'file':26} {'lines':>11} {'wall µs':>8} {'user µs':>8} {'sys µs':>7} {'faults/1k':>9} "
          f"{'bytes/line':>10} {'duckdb wall µs':>14} {'duckdb bytes':>12}")
    for path in paths:
        n = lines[path]
        ours, theirs = runs["retainkit"][path], runs["duckdb"][path]
        print(f"{path.name:26} {n:11,} {per_line(ours, 0, 1e6, n):8.3f} {per_line(ours, 1, 1e6, n):8.3f} "
              f"{per_line(ours, 2, 1e6, n):7.3f} {per_line(ours, 5, 1e3, n):9.1f} "
              f"{per_line(ours, 3, 2**30, n):10.0f} {per_line(theirs, 0, 1e6, n):14.3f} "
              f"{per_line(theirs, 3, 2**30, n):12.0f}")
    for small, large in itertools.pairwise(paths):
        scale = lines[small] / lines[large]
        for name in ("retainkit", "duckdb"):
            pairs = list(zip(runs[name][small], runs[name][large], strict=True))
            growth = [(b[0] / a[0]) * scale - 1 for a, b in pairs]
            user = [(b[1] / a[1]) * scale - 1 for a, b in pairs]
            system = [(b[2] / a[2]) * scale - 1 for a, b in pairs]
            print(f"{name:9} per line {small.name} → {large.name}: wall {statistics.median(growth):+.0%} "
                  f"(rounds: {', '.join(f'{g:+.0%}' for g in growth)}), user {statistics.median(user):+.0%}, "
                  f"system {statistics.median(system):+.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", nargs="+", type=int, default=[1_000_000, 10_000_000, 30_000_000])
    parser.add_argument("--formats", default="parquet,csv")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--calibrate", type=int, nargs="*", default=[2048, 6144], metavar="MIB",
                        help="first-touch this much fresh memory three times, for each size given "
                             "(none: skip); on a virtual machine the cost per GiB may depend on the size")
    args = parser.parse_args()
    for mib in args.calibrate:
        for wall, system in calibrate(mib, 3):
            print(f"first touch of {mib} MiB: {wall:.2f} s wall, {system:.2f} s system "
                  f"({wall / mib * 1024:.2f} s per GiB)")
    for fmt in args.formats.split(","):
        paths = [args.data / f"real_{n}.{fmt}" for n in args.lines]
        for path in paths:
            if not path.exists():
                subprocess.run([sys.executable, str(HERE / "generate.py"), str(path.name.split("_")[1].split(".")[0]),
                                "--out", str(args.data), "--formats", fmt, "--shape", "real"], check=True)
        lines = {path: rows_of(path) for path in paths}
        report(paths, lines, measure(paths, args.rounds))


if __name__ == "__main__":
    main()
