"""Time the models on about a million customers: the summary, the fit of each purchase
model, and the whole of ``predict`` — the scoreboard (every model and the naive guess on
the last quarter), the chosen model's fit on all data, Gamma-Gamma, every customer's
predictions with 80 % intervals (target: under 60 s on 2 cores). With ``--lifetimes
PYTHON`` (a Python with lifetimes installed), BG/NBD is also fitted by lifetimes on the
same summary, in that interpreter, side by side.

    python benchmarks/predict.py --customers 1000000 [--lifetimes /tmp/lt-venv/bin/python]

The orders come from ``generate.py`` (its customers buy at gamma-distributed rates) and
are normalised in memory; only the model work is timed.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

from retainkit.config import ReadOptions  # noqa: E402
from retainkit.errors import RetainkitError  # noqa: E402
from retainkit.load import RawExport, Source  # noqa: E402
from retainkit.models.catalogue import MODELS  # noqa: E402
from retainkit.models.predict import PredictOptions, predict_orders  # noqa: E402
from retainkit.models.summary import summarise  # noqa: E402
from retainkit.models.transaction import fit_model  # noqa: E402
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
    parser.add_argument("--lifetimes", metavar="PYTHON", help="a Python with lifetimes installed")
    parser.add_argument("--models", default=",".join(MODELS), help="the models to fit one by one (comma-separated)")
    parser.add_argument("--no-predict", action="store_true", help="skip the whole predict run (scoreboard, intervals)")
    parser.add_argument("--simulated", action="store_true",
                        help="a summary drawn from BG/NBD with CDNOW's parameters instead of generated orders "
                             "(fits and predictions with intervals; no scoreboard, which needs orders)")
    args = parser.parse_args()
    if args.simulated:
        _simulated(args)
        return
    lines = int(args.customers * LINES_PER_BUYER)
    table = generate(lines, args.seed).rename_columns(["order_id", "customer_id", "order_date", "product", "amount"])
    mapping = ColumnMapping({name: name for name in table.column_names})
    data = normalise(RawExport(table, (Source("generated", "parquet", 0, table.num_rows),), mapping), ReadOptions())
    end_day = resolve_period(data.orders).end_day

    start_day = int(data.orders["order_date"].min().normalize().value // 86_400_000_000_000)

    start = Clock()
    summary = summarise(data.orders, end_day=end_day, time_unit_days=7)
    summarised = start.lap()
    print(f"{len(summary.frame):,} customers from {table.num_rows:,} order lines; summary {summarised}")
    f = summary.frame
    x, t_x, T = (f[c].to_numpy(float) for c in ("frequency", "recency", "T"))  # noqa: N806
    for model in (MODELS[name] for name in args.models.split(",") if name):
        began = Clock()
        try:
            fit = fit_model(model, x, t_x, T)
        except RetainkitError as error:
            print(f"fit {model.label}: {began.lap()}  {error.args[0][:90]}")
            continue
        print(f"fit {model.label}: {began.lap()}  {fit.params.round(4).tolist()} "
              f"LL={fit.log_likelihood:,.1f} {fit.note[:60]}")
    if args.lifetimes:
        _lifetimes(args.lifetimes, f)
    if args.no_predict:
        return
    began = Clock()
    result = predict_orders(data.orders, start_day=start_day, end_day=end_day, holdout_day=None,
                            options=PredictOptions(horizon_days=365, model="auto"))
    done = began.lap()
    print(f"predict --model auto (scoreboard of 3 models + naive, refit, Gamma-Gamma, predictions with 80 % "
          f"intervals): {done}; with the summary {done + summarised} (target: under 60 s)")
    print("; ".join(result.notes) or "no notes")


class Clock:
    """Wall and CPU time (this process and the children it waited for) since it was made."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), _cpu()

    def lap(self) -> Lap:
        return Lap(time.perf_counter() - self.wall, _cpu() - self.cpu)


class Lap:
    """A wall and a CPU time, printed as "12.3 s (CPU 11.9 s)"; two laps add up."""

    def __init__(self, wall: float, cpu: float) -> None:
        self.wall, self.cpu = wall, cpu

    def __add__(self, other: Lap) -> Lap:
        return Lap(self.wall + other.wall, self.cpu + other.cpu)

    def __str__(self) -> str:
        return f"{self.wall:.1f} s (CPU {self.cpu:.1f} s)"


def _cpu() -> float:
    mine, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def _simulated(args: argparse.Namespace) -> None:
    """Fits, lifetimes and predictions with intervals on a BG/NBD-shaped summary of
    ``args.customers`` customers: first purchases spread over 78 weeks, times in whole days."""
    import numpy as np
    import pandas as pd

    from retainkit.models.predict import predict
    from retainkit.models.summary import Summary

    rng = np.random.default_rng(args.seed)
    n = args.customers
    rate, dropout = rng.gamma(0.243, 1 / 4.414, n), rng.beta(0.793, 2.426, n)
    age = rng.integers(1, 78 * 7, n) / 7
    times = np.cumsum(rng.exponential(1.0, (n, 40)) / rate[:, None], axis=1)
    made = np.minimum((times <= age[:, None]).sum(axis=1), rng.geometric(dropout))
    last = np.where(made > 0, times[np.arange(n), np.maximum(made - 1, 0)], 0.0)
    frame = pd.DataFrame({"customer_id": np.arange(n).astype(str), "frequency": made,
                          "recency": np.floor(last * 7) / 7, "T": age, "monetary_value": np.nan,
                          "first_purchase_day": 0})
    x, t_x, T = (frame[c].to_numpy(float) for c in ("frequency", "recency", "T"))  # noqa: N806
    print(f"{n:,} simulated customers, {len(np.unique(np.column_stack((x, t_x, T)), axis=0)):,} distinct rows")
    for model in (MODELS[name] for name in args.models.split(",") if name):
        began = Clock()
        fit = fit_model(model, x, t_x, T)
        print(f"fit {model.label}: {began.lap()}  {fit.params.round(4).tolist()}")
    if args.lifetimes:
        _lifetimes(args.lifetimes, frame)
    if not args.no_predict:
        began = Clock()
        predict(Summary(frame, 0, 7.0, 0, has_amounts=False), PredictOptions(horizon_days=365))
        print(f"predict (BG/NBD fit, predictions with 80 % intervals): {began.lap()}")


LIFETIMES = """
import sys, time
import pandas as pd
from lifetimes import BetaGeoFitter
frame = pd.read_csv(sys.argv[1])
began, cpu = time.perf_counter(), time.process_time()
fit = BetaGeoFitter().fit(frame["frequency"], frame["recency"], frame["T"])
print(f"lifetimes BetaGeoFitter: {time.perf_counter() - began:.1f} s (CPU {time.process_time() - cpu:.1f} s)  "
      f"{[round(v, 4) for v in fit.params_]}")
"""


def _lifetimes(python: str, frame) -> None:
    """BG/NBD by lifetimes on the same summary, in its own interpreter; and by retainkit again, just after."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "summary.csv"
        frame[["frequency", "recency", "T"]].to_csv(path, index=False, float_format="%.17g")
        run = subprocess.run([python, "-c", LIFETIMES, str(path)], capture_output=True, text=True, check=False)
        print(run.stdout.strip() or f"lifetimes did not run: {run.stderr.strip().splitlines()[-1:]}")
    x, t_x, T = (frame[c].to_numpy(float) for c in ("frequency", "recency", "T"))  # noqa: N806
    began = Clock()
    fit = fit_model(MODELS["bgnbd"], x, t_x, T)
    print(f"retainkit BG/NBD, same summary: {began.lap()}  {fit.params.round(4).tolist()}")


if __name__ == "__main__":
    main()
