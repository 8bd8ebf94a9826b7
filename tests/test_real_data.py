"""The real exports in ../shared/data against an independent DuckDB query."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

from tests.conftest import DATA, need, run_cli

duckdb_reference = pytest.importorskip("tests.duckdb_reference")
pytestmark = pytest.mark.slow

CDNOW = DATA / "cdnow" / "cdnow_master.csv"
UCI_CSV = DATA / "online-retail" / "online_retail.csv.gz"
UCI_PARQUET = DATA / "online-retail" / "online_retail.parquet"


def compare(ours: dict, reference: dict) -> None:
    for key, want in reference.items():
        got = ours[key]
        if want is None or got is None or isinstance(want, bool | int):
            assert got == want, (key, got, want)
        else:
            assert math.isclose(got, float(want), rel_tol=1e-9, abs_tol=1e-6), (key, got, want)


def kpis(*args):
    run = run_cli("kpis", *args, "--format", "json")
    assert run.code == 0, run.stderr
    return run.json()


def uci_source(relation: str, *, csv: bool) -> duckdb_reference.Source:
    return duckdb_reference.Source(
        relation=relation,
        customer="CAST(CAST(CustomerID AS BIGINT) AS VARCHAR)" if csv else "CustomerID",
        day="CAST(InvoiceDate AS DATE)",
        amount="Quantity * UnitPrice",
        order_id="InvoiceNo",
        duplicate_columns="InvoiceNo, StockCode, Quantity, InvoiceDate, UnitPrice, CustomerID",
    )


@pytest.mark.parametrize("args", [[], ["--from", "1997-07-01", "--to", "1998-03-31"]])
def test_cdnow_matches_duckdb(args):
    need(CDNOW)
    document = kpis(CDNOW, "--amount", "dollar_value", *args)
    start = args[1] if args else None
    end = args[3] if args else None
    reference, quality = duckdb_reference.run(
        duckdb_reference.Source(
            relation=f"read_csv('{CDNOW}', types={{'customer_id': 'VARCHAR', 'date': 'VARCHAR'}})",
            customer="customer_id",
            day="CAST(strptime(date, '%Y%m%d') AS DATE)",
            amount="dollar_value",
        ),
        start=start, end=end,
    )
    compare(document["metrics"], reference)
    assert document["data_quality"]["rows"] == quality["rows"] == 69_659
    assert document["data_quality"]["duplicate_rows"] == quality["duplicate_rows"]


@pytest.mark.parametrize("path", [UCI_CSV, UCI_PARQUET], ids=["csv.gz", "parquet"])
def test_online_retail_matches_duckdb_with_no_options(path):
    need(path)
    document = kpis(path)
    relation = (f"read_csv('{path}', types={{'InvoiceNo': 'VARCHAR', 'StockCode': 'VARCHAR'}})"
                if path.suffix == ".gz" else f"read_parquet('{path}')")
    reference, quality = duckdb_reference.run(uci_source(relation, csv=path.suffix == ".gz"))
    compare(document["metrics"], reference)
    dq = document["data_quality"]
    assert dq["rows"] == quality["rows"] == 541_909
    assert dq["missing_customer_rows"] == quality["missing_customer_rows"] == 135_080
    assert dq["refund_rows"] == quality["refund_rows"]
    assert dq["orders"] == quality["orders"]
    assert dq["duplicate_rows"] == quality["duplicate_rows"]


def test_online_retail_csv_and_parquet_agree():
    need(UCI_CSV), need(UCI_PARQUET)
    assert kpis(UCI_CSV)["metrics"] == kpis(UCI_PARQUET)["metrics"]


def test_online_retail_customers_match_duckdb():
    need(UCI_PARQUET)
    import duckdb

    run = run_cli("customers", UCI_PARQUET, "--format", "csv")
    assert run.code == 0, run.stderr
    ours = pd.read_csv(io.StringIO(run.stdout), dtype={"customer_id": str}).set_index("customer_id")
    reference = duckdb.sql(f"""
        WITH lines AS (
            SELECT CAST(CustomerID AS VARCHAR) AS customer, InvoiceNo AS invoice, CAST(InvoiceDate AS DATE) AS day,
                   Quantity * UnitPrice AS amount,
                   (Quantity * UnitPrice < 0 OR regexp_matches(InvoiceNo, '^[Cc][0-9]')) AS is_refund
            FROM read_parquet('{UCI_PARQUET}') WHERE CustomerID IS NOT NULL
        ),
        orders AS (SELECT invoice, any_value(customer) AS customer, min(day) AS day
                   FROM lines WHERE NOT is_refund GROUP BY invoice),
        last_day AS (SELECT max(day) AS t FROM orders)
        SELECT o.customer, count(*) AS orders, max(day) AS last_order,
               (SELECT t FROM last_day) - max(day) AS recency_days,
               (SELECT sum(amount) FROM lines l WHERE l.customer = o.customer) AS revenue
        FROM orders o GROUP BY o.customer
    """).df().set_index("customer")
    assert len(ours) == len(reference) == 4339
    joined = ours.merge(reference, left_index=True, right_index=True, suffixes=("", "_sql"))
    assert len(joined) == len(reference)
    assert (joined["orders"] == joined["orders_sql"]).all()
    assert (joined["recency_days"] == joined["recency_days_sql"]).all()
    assert np.allclose(joined["revenue"], joined["revenue_sql"], atol=0.006)  # ours is rounded to the cent


@pytest.mark.parametrize("args", [["customers"], ["at-risk", "--products"], ["segments"]])
def test_online_retail_customer_commands_run_with_no_options(args):
    need(UCI_CSV)
    run = run_cli(*args, UCI_CSV, "--format", "json")
    assert run.code == 0, run.stderr
    assert run.json()["rows"]


def test_online_retail_scores_segments_and_levels_match_sql():
    need(UCI_PARQUET)
    import retainkit
    from tests.test_customers import compare_with_sql

    data = retainkit.read_orders(str(UCI_PARQUET))
    source = duckdb_reference.Source(
        relation=f"read_parquet('{UCI_PARQUET}')", customer="CustomerID", day="CAST(InvoiceDate AS DATE)",
        amount="Quantity * UnitPrice", order_id="InvoiceNo",
    )
    compare_with_sql(retainkit.customer_report(data), duckdb_reference.customers_sql(source))
