"""``inspect --engine spark`` shows what the local engine shows (issue 13: every command).

Tiny inputs, the one Spark session of the run (the ``spark`` xdist group).
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import GOLDEN, SPARK_MARKS, need_spark, run_cli

need_spark()


pytestmark = SPARK_MARKS


def inspect_both(*args: object) -> tuple[dict, dict]:
    local = run_cli("inspect", *args, "--format", "json")
    remote = run_cli("inspect", *args, "--format", "json", "--engine", "spark", "--quiet")
    assert local.code == remote.code, (local.stderr, remote.stderr)
    return local.json(), remote.json()


def test_the_golden_example_is_inspected_as_locally():
    local, remote = inspect_both(GOLDEN / "shop_small.csv")
    assert remote == local
    assert remote["sources"] == [{"file": str(GOLDEN / "shop_small.csv"), "format": "csv", "rows": 25}]
    assert remote["date_range"]["first_order"] == "2023-02-14"


def test_parquet_with_stamps_text_numbers_and_refunds(tmp_path):
    """Zone-less stamps (Spark's UTC session must not shift them), a dictionary column,
    quantity × unit price, a refund (the refund dates), in two files of a folder."""
    stamps = [datetime(2024, 1, 5, 23, 30), datetime(2024, 2, 1, 0, 15), datetime(2024, 3, 9, 12, 0)]
    first = pa.table({
        "Order ID": ["1", "2", "C1"],
        "Customer": pa.array(["ann@x.vn", "bob@x.vn", "ann@x.vn"]).dictionary_encode(),
        "Created at": pa.array(stamps, pa.timestamp("ms")),
        "Lineitem quantity": pa.array([2, 1, -1], pa.int64()),
        "Lineitem price": [12.5, 40.0, 12.5],
    })
    folder = tmp_path / "lake"
    folder.mkdir()
    pq.write_table(first, folder / "part-0.parquet")
    second = first.slice(0, 2).set_column(0, "Order ID", pa.array(["3", "4"]))
    second = second.set_column(2, "Created at", pa.array([datetime(2024, 4, 1, 8), datetime(2024, 5, 2, 9)],
                                                         pa.timestamp("ms")))
    pq.write_table(second, folder / "part-1.parquet")

    local, remote = inspect_both(folder)
    assert remote == local
    assert [s["rows"] for s in remote["sources"]] == [3, 2]
    assert remote["samples"]["order_date"][0] == "2024-01-05 23:30:00"
    assert remote["date_range"] == {"first_order": "2024-01-05", "last_order": "2024-05-02",
                                    "first_refund": "2024-03-09", "last_refund": "2024-03-09"}


def test_a_problem_in_the_orders_still_shows_the_mapping_and_the_samples(tmp_path):
    """An order id shared by two customers: both engines print the report, then exit 2."""
    shared = tmp_path / "shared.csv"
    shared.write_text("order_id,customer_id,order_date,amount\n1,A,2024-01-01,10\n1,B,2024-01-01,5\n")
    local = run_cli("inspect", shared, "--format", "json")
    remote = run_cli("inspect", shared, "--format", "json", "--engine", "spark", "--quiet")
    assert local.code == remote.code == 2
    left, right = local.json(), remote.json()
    assert right["problem"] and "order" in right["problem"]
    assert {k: v for k, v in right.items() if k != "problem"} == {k: v for k, v in left.items() if k != "problem"}


# ---------------------------------------------------------------- at-risk --products


def lapses_both(*args: object) -> tuple[list, list]:
    local = run_cli("at-risk", "--products", *args, "--format", "json")
    remote = run_cli("at-risk", "--products", *args, "--format", "json", "--engine", "spark", "--quiet")
    assert local.code == 0, local.stderr
    assert remote.code == 0, remote.stderr
    return local.json(), remote.json()


def test_product_lapses_on_spark_are_the_local_ones_in_the_local_order(tmp_path):
    """Ties on revenue, customer and days since (two products last bought on one day) are
    settled as locally; a customer with no amount-bearing history; a lost customer left out."""
    rows = ["order_id,customer_id,order_date,amount,product"]
    for n, (customer, day, product, amount) in enumerate([
        ("A", "2024-01-02", "soap", 10), ("A", "2024-01-02", "tea", 5), ("A", "2024-02-01", "soap", 10),
        ("A", "2024-02-01", "tea", 5), ("B", "2024-01-05", "rice", 30), ("B", "2024-01-20", "rice", 30),
        ("B", "2024-06-20", "milk", 3), ("C", "2023-01-05", "rice", 7), ("C", "2023-02-05", "rice", 7),
        ("D", "2024-03-01", "tea", 5), ("D", "2024-04-01", "tea", 5), ("D", "2024-04-01", "milk", 2),
        ("E", "2024-06-30", "tea", 1),
    ]):
        rows.append(f"{n + 1},{customer},{day},{amount},{product}")
    export = tmp_path / "shop.csv"
    export.write_text("\n".join(rows) + "\n")
    local, remote = lapses_both(export)
    assert remote == local
    assert [(r[0], r[1]) for r in local["rows"]] == [("B", "rice"), ("A", "soap"), ("A", "tea"), ("D", "tea")]
    local, remote = lapses_both(export, "--sort", "days_since", "--top", "2")
    assert remote == local and len(remote["rows"]) == 2


def test_product_lapses_of_the_golden_example_and_their_parquet_folder(tmp_path):
    import pandas as pd

    local, remote = lapses_both(GOLDEN / "shop_small.csv")
    assert remote == local and local["rows"]
    run_cli("at-risk", "--products", GOLDEN / "shop_small.csv", "--format", "parquet", "--output",
            tmp_path / "local.parquet")
    written = run_cli("at-risk", "--products", GOLDEN / "shop_small.csv", "--format", "parquet", "--output",
                      tmp_path / "lake", "--engine", "spark", "--quiet")
    assert written.code == 0, written.stderr
    mine = pd.read_parquet(tmp_path / "local.parquet")
    theirs = pd.read_parquet(tmp_path / "lake").sort_values(["customer_id", "product"], ignore_index=True)
    mine = mine.sort_values(["customer_id", "product"], ignore_index=True)
    pd.testing.assert_frame_equal(theirs[mine.columns], mine, check_dtype=False)


def test_lapses_held_by_spark_refuse_a_customer_filter_as_locally():
    from retainkit.customers import select_customers
    from retainkit.errors import RetainkitError
    from retainkit.pipeline import at_risk_report, read_orders

    lines = {engine: at_risk_report(read_orders(str(GOLDEN / "shop_small.csv"), engine=engine, product_lines=True),
                                    products=True) for engine in ("local", "spark")}
    errors = []
    for table in lines.values():
        with pytest.raises(RetainkitError) as raised:
            select_customers(table, vip=True)
        errors.append(str(raised.value))
    assert errors[0] == errors[1] and "no is_vip column to filter by vip" in errors[0]


def test_products_without_a_product_column_is_the_local_line(tmp_path):
    export = tmp_path / "no_products.csv"
    export.write_text("customer_id,order_date,amount\nA,2024-01-01,5\n")
    local = run_cli("at-risk", "--products", export)
    remote = run_cli("at-risk", "--products", export, "--engine", "spark", "--quiet")
    assert remote.code == local.code == 2
    assert remote.stderr == local.stderr


@pytest.mark.slow
def test_inspect_of_cdnow_and_product_lapses_of_online_retail_are_the_local_ones():
    from tests.conftest import DATA, need

    local, remote = inspect_both(need(DATA / "cdnow" / "cdnow_master.csv"))
    assert remote == local
    local, remote = lapses_both(need(DATA / "online-retail" / "online_retail.parquet"), "--top", "50")
    assert remote == local and len(remote["rows"]) == 50
