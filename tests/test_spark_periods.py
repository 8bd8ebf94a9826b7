"""Trend, cohorts and the report on Spark give exactly the local JSON (issue 13, SPEC §4, §6, §7).

The shards' per-period and per-cell counts and exact sums, added (:mod:`retainkit.spark.periods`),
then the local functions: the same bytes for any number of shards. One Spark session for
the run, in the xdist worker of the ``spark`` group; skipped without pyspark or Java.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import GOLDEN, SPARK_MARKS, need_spark, run_cli
from tests.test_properties import READ_DAYS, START, exports

need_spark()

from retainkit import report_buyers  # noqa: E402
from retainkit.calendar import EVERY  # noqa: E402
from retainkit.cohorts import METRICS, cohort_wide  # noqa: E402
from retainkit.pipeline import cohort_report, read_orders, report_data, trend_report  # noqa: E402
from retainkit.render_frames import frame_json  # noqa: E402
from retainkit.spark.session import SparkOptions  # noqa: E402
from tests.test_report_buyers import NO_REPEATERS  # noqa: E402
from tests.test_spark import export_csv  # noqa: E402

pytestmark = SPARK_MARKS
GOLDEN_CSV = GOLDEN / "shop_small.csv"


@pytest.fixture(scope="module")
def golden():
    """The golden example read by each engine (Spark: three shards)."""
    return read_orders(str(GOLDEN_CSV)), read_orders(str(GOLDEN_CSV), engine="spark", spark=SparkOptions(
        "local[2]", shards=3))


def documents(data, every: str, metric: str, start: date | None = None, end: date | None = None) -> list[str]:
    """The JSON of the trend and of the cohorts, long and wide, as the command line writes them."""
    long = cohort_report(data, every=every, metric=metric, start=start, end=end)
    return [frame_json(trend_report(data, every=every, start=start, end=end)), frame_json(long),
            frame_json(cohort_wide(long))]


@pytest.mark.parametrize("every", EVERY)
def test_trend_and_every_cohort_metric_give_the_local_json_on_the_golden_example(golden, every):
    local, remote = golden
    for metric in METRICS:
        assert documents(remote, every, metric) == documents(local, every, metric)


def test_the_command_line_gives_the_local_json_with_from_and_to():
    """``--from``/``--to`` inside periods: partial periods, their notes, null comparisons."""
    for command in (("trend", "--every", "week"), ("cohorts", "--every", "month", "--metric", "revenue")):
        args = (*command, GOLDEN_CSV, "--from", "2024-01-10", "--to", "2024-03-20", "--format", "json")
        local = run_cli(*args)
        remote = run_cli(*args, "--engine", "spark", "--quiet")
        assert local.code == 0, local.stderr
        assert remote.code == 0, remote.stderr
        assert remote.stdout == local.stdout
        assert "partial" in local.stdout


@pytest.mark.parametrize("every", ["week", "month"])
def test_the_first_row_compared_with_the_period_before_from_as_locally(every):
    """``--from`` on a period's first day (2023-05-01, a Monday) with the period before it whole
    and covered (the data starts 2023-03-10): the first row has its changes, on both engines."""
    args = ("trend", GOLDEN_CSV, "--every", every, "--from", "2023-05-01", "--to", "2024-03-20", "--format", "json")
    local = run_cli(*args)
    remote = run_cli(*args, "--engine", "spark", "--quiet")
    assert local.code == 0, local.stderr
    assert remote.stdout == local.stdout
    document = json.loads(local.stdout)
    first = dict(zip(document["columns"], document["rows"][0], strict=True))
    assert first["start"] == "2023-05-01" and first["customers_start"] is not None
    if every == "month":  # April 2023: 1 order of 50.00; May: 1 of 200.00 (no order the week before)
        assert first["revenue_change"] == 3.0 and first["customers_change"] == 0.0


def test_an_export_without_amounts_gives_the_local_json(tmp_path):
    """No amount column: revenue is null in every period and cell, as locally."""
    path = tmp_path / "no-amounts.csv"
    path.write_text("order_id,customer_id,order_date\n1,A,2024-01-05\n2,B,2024-01-20\n3,A,2024-02-03\n"
                    "4,C,2024-03-09\n5,B,2024-03-30\n")
    local = read_orders(str(path))
    remote = read_orders(str(path), engine="spark", spark=SparkOptions("local[2]", shards=2))
    assert documents(remote, "month", "revenue") == documents(local, "month", "revenue")


@pytest.mark.parametrize("shard_count", [1, 2, 7, 64])
@settings(max_examples=1, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=exports(READ_DAYS), repeated=st.integers(0, 2), every=st.sampled_from(EVERY),
       metric=st.sampled_from(METRICS), cut=st.integers(0, READ_DAYS))
def test_any_sharding_gives_the_local_json(tmp_path, shard_count, rows, repeated, every, metric, cut):
    """Random small exports — multi-line orders, refunds (some alone in a cohort cell),
    duplicates — give the local trend and cohorts, byte for byte, on 1, 2, 7 and 64 shards;
    with a ``--from`` inside the data half of the time."""
    path = export_csv(tmp_path / f"orders-{shard_count}.csv", rows, repeated=repeated)
    start = START + timedelta(days=cut) if cut % 2 else None
    local = read_orders(str(path))
    remote = read_orders(str(path), engine="spark", spark=SparkOptions("local[2]", shards=shard_count))
    if start is not None and start > local.orders["order_date"].max().date():
        start = None  # --from after the last order: an error of the period, the same on both
    assert documents(remote, every, metric, start) == documents(local, every, metric, start)


@pytest.mark.parametrize("every", ["week", "month"])
def test_the_report_is_the_local_one(golden, every):
    """Every key of the report — the JSON document and what only HTML and Markdown show
    (normal ranges, who became at risk, the lapsed VIP, "who will buy again": the scoreboard
    and P(alive) grid of the same fit, floats equal) — as locally."""
    local, remote = (report_data(data, every=every) for data in golden)
    assert remote == local
    assert remote["at_risk"] and remote["vips"] and remote["cohorts"]["rows"]  # the example has something to list
    assert local["_buy_again"]["note"] is None and local["_buy_again"]["step"] == 1


#: Customer names that sort differently by UTF-16 unit (Java's String order) and by code
#: point (Python's, and UTF-8 bytes): an emoji after U+FF5E; composed Vietnamese letters.
NAMES = ("Nguyễn Văn An", "Đặng Thị Ánh", "Ân", "An", "Zoë", "zoe", "😀 fan", "～tilde", "Ωmega", "Émile")


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """A year of orders of 400 customers, most buying again, ids with accents and an emoji."""
    rng = np.random.default_rng(3)
    lines, order = ["order_id,customer_id,order_date,amount"], 0
    for customer in range(400):
        name = f"{NAMES[customer % len(NAMES)]} {customer:03d}" if customer % 3 else f"c{customer:03d}"
        first = int(rng.integers(0, 300))
        days = np.sort(first + rng.integers(0, 365 - first, 1 + rng.poisson(2.0))) if rng.uniform() < 0.8 else [first]
        for day in days:
            order += 1
            lines.append(f"{order},{name},{np.datetime64('2024-01-01') + int(day)},{rng.gamma(2.0, 20.0):.2f}")
    path = tmp_path_factory.mktemp("many") / "orders.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("shard_count", [1, 7])
def test_the_model_section_fits_on_the_local_sample(many, monkeypatch, shard_count):
    """Room for 50 of 400 customers: 1 in 8, found by Spark's sort of the ids, their orders
    fitted on the driver — the local section exactly, on 1 and 7 shards."""
    monkeypatch.setattr(report_buyers, "SAMPLE", 50)
    local = read_orders(str(many))
    remote = read_orders(str(many), engine="spark", spark=SparkOptions("local[2]", shards=shard_count))
    names = local.orders["customer_id"].cat.categories
    assert list(names) == sorted(names) and len(names) == 400  # the local codes: ranks in code-point order
    section = report_data(local, every="month")["_buy_again"]
    assert report_data(remote, every="month")["_buy_again"] == section
    assert section["note"] is None and section["step"] == 8 and 0 < section["customers"] <= 50


def test_the_model_section_says_why_not_as_locally(tmp_path):
    """Data that cannot support a fit (nobody bought twice): the same sentence on both."""
    path = tmp_path / "once.csv"
    path.write_text(NO_REPEATERS + "\n", encoding="utf-8")
    local = report_data(read_orders(str(path)), every="month")["_buy_again"]
    remote = report_data(read_orders(str(path), engine="spark", spark=SparkOptions("local[2]", shards=3)),
                         every="month")["_buy_again"]
    assert remote == local and local["note"].startswith("No prediction: 0 of 29 customers bought more than once")


def test_the_sample_is_every_step_th_id_in_python_order(spark):
    """Spark's ranks of the ids (a sort over several range partitions) are their places in
    Python's sorted order; only the ids at multiples of the step are chosen."""
    from retainkit.spark.buyers import every_step

    ids = [f"{name} {i}" for i, name in enumerate(NAMES * 3)]
    frame = spark.createDataFrame([(i,) for i in reversed(ids)], "customer_id string")
    spark.conf.set("spark.sql.shuffle.partitions", "5")
    try:
        chosen = every_step(frame, 4)
        found = [r["customer_id"] for r in chosen.collect()]
        chosen.unpersist()
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", "2")
    assert sorted(found) == sorted(ids)[::4] and len(found) == 8
