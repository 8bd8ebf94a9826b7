"""Where the time of ``retainkit kpis`` goes, step by step, on one file.

    python benchmarks/stages.py /tmp/bench-data/real_10000000.parquet

Each step is one function of the pipeline, wrapped with a timer: wall seconds and the
process's CPU seconds (user + system, all threads) between its start and its end. Steps
run one after the other, except where normalise runs them side by side: ids, dates and
amounts (one row for the three), and the date check beside the duplicate search (its row
includes both of theirs, listed above it).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from retainkit import process_setup  # loads neither NumPy nor pyarrow

# As the command line does, before NumPy, pyarrow or any thread starts.
process_setup.single_threaded_blas()
process_setup.keep_freed_memory()

from retainkit import actions, kernel, metrics, normalise, pipeline, reductions  # noqa: E402

TIMES: list[tuple[str, float, float]] = []
#: normalise's thread pools, in the order it opens them.
POOL_LABELS = ("ids, dates, amounts (side by side)", "duplicates with the date check beside them")


def cpu() -> float:
    times = os.times()
    return times.user + times.system


def timed(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wall, used = time.perf_counter(), cpu()
        try:
            return function(*args, **kwargs)
        finally:
            TIMES.append((label, time.perf_counter() - wall, cpu() - used))
    return wrapper


def instrument() -> None:
    """Wrap the steps where the modules that call them look them up."""
    pipeline.load_export = timed("read the mapped columns", pipeline.load_export)
    normalise.ThreadPoolExecutor = _timed_pool(normalise.ThreadPoolExecutor)
    normalise._fill_from_order = timed("order's customer and date on every line", normalise._fill_from_order)
    normalise.check_plausible_dates = timed("implausible-date check", normalise.check_plausible_dates)
    normalise.mark_duplicates = timed("exact duplicates and overlap", normalise.mark_duplicates)
    normalise._events = timed("lines -> orders, refunds, data quality", normalise._events)
    kernel.customer_windows = timed("per-customer reductions", reductions.customer_windows)
    pipeline.kpis_from_windows = timed("every KPI from the reductions", metrics.kpis_from_windows)
    pipeline.action_columns = timed("the columns 'act on this' counts", actions.action_columns)


def _timed_pool(pool_class: type) -> type:
    class TimedPool(pool_class):  # type: ignore[misc, valid-type]
        count = 0

        def __enter__(self) -> Any:
            self._number, TimedPool.count = TimedPool.count, TimedPool.count + 1
            self._started = (time.perf_counter(), cpu())
            return super().__enter__()

        def __exit__(self, *exc: Any) -> Any:
            result = super().__exit__(*exc)
            wall, used = self._started
            label = POOL_LABELS[min(self._number, len(POOL_LABELS) - 1)]
            TIMES.append((label, time.perf_counter() - wall, cpu() - used))
            return result
    return TimedPool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    args = parser.parse_args()
    process_setup.choose_arrow_pool()
    process_setup.choose_page_size([args.file])
    instrument()
    wall, used = time.perf_counter(), cpu()
    data = pipeline.read_orders(args.file)
    pipeline.kpi_report(data, files=[args.file])
    total_wall, total_cpu = time.perf_counter() - wall, cpu() - used
    print(f"{'step':<44} {'wall s':>7} {'CPU s':>7}")
    for label, seconds, cpu_seconds in TIMES:
        print(f"{label:<44} {seconds:7.2f} {cpu_seconds:7.2f}")
    print(f"{'total (after imports)':<44} {total_wall:7.2f} {total_cpu:7.2f}")


if __name__ == "__main__":
    main()
