"""The real exports in ../shared/data against an independent DuckDB query."""

from __future__ import annotations

import math

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
