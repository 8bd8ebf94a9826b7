"""``predict --engine spark`` gives exactly the local engine's JSON (issue 13).

The fits run on the driver on the shards' distinct rows, added; the customers stay in the
shards. One Spark session for the run (the JVM is slow to start), tiny inputs.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import GOLDEN, SPARK_MARKS, need_spark, one_line, run_cli

need_spark()

from retainkit.customers import select_customers  # noqa: E402
from retainkit.pipeline import prediction_report, read_orders  # noqa: E402
from retainkit.render_predict import prediction_document  # noqa: E402
from retainkit.spark.session import SparkOptions  # noqa: E402

pytestmark = SPARK_MARKS
GOLDEN_CSV = GOLDEN / "shop_small.csv"


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    """A year of orders of 300 customers who buy and drop out as BG/NBD has it (a Gamma of
    purchase rates, a Beta of dropout chances): every model's likelihood has its maximum
    inside, so the fits have intervals on any CPU; a few refunds and several orders on one
    day. (Customers who never drop out put the BG/NBD maximum on a ridge, where the
    optimiser's end depends on the CPU's rounding.)"""
    rng = np.random.default_rng(5)
    lines, order = ["order_id,customer_id,order_date,amount"], 0
    for customer in range(300):
        day, rate, dropout = float(rng.integers(0, 300)), rng.gamma(2.0, 1 / 60), rng.beta(2.0, 5.0)
        while day < 365:
            order += 1
            amount = rng.gamma(2.0, 20.0) * (-0.5 if rng.uniform() < 0.03 else 1.0)
            lines.append(f"{order},C{customer:04d},{np.datetime64('2024-01-01') + int(day)},{amount:.2f}")
            if rng.uniform() < dropout:
                break
            day += rng.exponential(1 / rate)
    path = tmp_path_factory.mktemp("shop") / "orders.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def on_both(*args: object) -> tuple[dict, dict]:
    local = run_cli("predict", *args, "--format", "json")
    remote = run_cli("predict", *args, "--format", "json", "--engine", "spark", "--quiet")
    assert local.code == 0, local.stderr
    assert remote.code == 0, remote.stderr
    return local.json(), remote.json()


@pytest.mark.parametrize("extra", [(), ("--model", "auto", "--horizons", "30,90", "--sort", "p_alive")],
                         ids=["default", "auto"])
def test_predict_gives_the_local_json_on_the_golden_example(extra):
    local, remote = on_both(GOLDEN_CSV, *extra)
    assert remote == local
    assert local["customers"]["rows"] and local["scoreboard"] is not None


def test_predict_gives_the_local_json_on_a_shop_with_a_holdout(shop):
    local, remote = on_both(shop, "--holdout", "2024-10-01", "--top", "25")
    assert remote == local
    assert local["holdout"]["actual_total"] > 0 and len(remote["customers"]["rows"]) == 25


def document(result) -> dict:
    """The ``predict`` JSON of a result, every customer, by CLV then id (as the command sorts)."""
    rows = select_customers(result.customers, sort="clv")
    return prediction_document(result, rows if isinstance(rows, pd.DataFrame) else rows.to_pandas())


@pytest.mark.parametrize("shard_count", [1, 2, 7])
@pytest.mark.parametrize("holdout", [None, date(2024, 10, 1)], ids=["all", "holdout"])
def test_any_sharding_gives_the_local_prediction(shop, shard_count, holdout):
    """The totals, fits, intervals, scoreboard and holdout check, and every customer's row,
    on 1, 2 and 7 shards."""
    local = prediction_report(read_orders(str(shop)), holdout=holdout)
    remote = prediction_report(read_orders(str(shop), engine="spark",
                                           spark=SparkOptions("local[2]", shards=shard_count)), holdout=holdout)
    assert document(remote) == document(local)
    assert local.gamma_gamma is not None and local.scoreboard is not None and local.intervals is not None


def parquet_rows(source: Path) -> list[dict]:
    """The rows of a Parquet file or folder (Spark's parts), by customer id."""
    import pyarrow.dataset as ds

    return ds.dataset(source).to_table().sort_by("customer_id").to_pylist()


def test_the_customers_are_written_by_spark_as_the_local_parquet(tmp_path, shop):
    local = tmp_path / "local.parquet"
    folder = tmp_path / "predictions"
    assert run_cli("predict", shop, "-o", local).code == 0
    done = run_cli("predict", shop, "--engine", "spark", "--quiet", "--format", "parquet", "-o", folder)
    assert done.code == 0, done.stderr
    assert folder.is_dir() and list(folder.glob("*.parquet"))
    assert parquet_rows(folder) == parquet_rows(local)


def test_a_terminal_table_of_predictions_is_the_local_one():
    local = run_cli("predict", GOLDEN_CSV)
    remote = run_cli("predict", GOLDEN_CSV, "--engine", "spark", "--quiet")
    assert remote.code == 0, remote.stderr
    assert remote.stdout == local.stdout


@pytest.mark.parametrize("extra", [(), ("--top", "5", "--sort", "p_alive", "--ascending")], ids=["all", "top"])
def test_at_risk_by_value_gives_the_local_json(shop, extra):
    """The at-risk rows held by Spark, priced by predictions held by Spark, joined there."""
    local = run_cli("at-risk", shop, "--by", "value", *extra, "--format", "json")
    remote = run_cli("at-risk", shop, "--by", "value", *extra, "--format", "json", "--engine", "spark", "--quiet")
    assert local.code == 0, local.stderr
    assert remote.code == 0, remote.stderr
    assert remote.json() == local.json()
    assert local.json()["rows"] and "value_if_alive" in local.json()["columns"]


def test_at_risk_by_value_without_amounts_is_the_local_error(tmp_path):
    path = tmp_path / "no-amounts.csv"
    path.write_text("customer_id,order_date\nA,2024-01-01\nA,2024-02-01\nB,2024-01-05\n", encoding="utf-8")
    local = one_line(run_cli("at-risk", path, "--by", "value"))
    assert one_line(run_cli("at-risk", path, "--by", "value", "--engine", "spark", "--quiet")) == local
    assert "needs amounts" in local
