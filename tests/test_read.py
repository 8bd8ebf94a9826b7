"""Loading and normalisation (SPEC §1): formats, header aliases, line items, refunds, dates."""

from __future__ import annotations

import gzip
import shutil

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import retainkit
from retainkit.config import ReadOptions
from retainkit.schema import fold_header, resolve_mapping
from tests.conftest import GOLDEN, run_cli, write_csv

SHOPIFY = """\
Name,Email,Financial Status,Paid at,Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Refunded Amount,Id
#1001,ann@example.com,paid,2024-01-15 10:23:45 -0500,USD,50.00,5.00,0.00,55.00,,2024-01-15 10:23:45 -0500,2,Mug,20.00,MUG-1,0.00,5001
#1001,,,,,,,,,,,1,Tea,10.00,TEA-1,,
#1002,bob@example.com,partially_refunded,2024-02-20 23:30:00 -0500,USD,100.00,0.00,0.00,100.00,,2024-02-20 23:30:00 -0500,1,Pot,100.00,POT-1,30.00,5002
#1003,ann@example.com,paid,2024-03-01 09:00:00 -0500,USD,40.00,0.00,0.00,40.00,WELCOME,2024-03-01 09:00:00 -0500,1,Tea,40.00,TEA-1,0.00,5003
"""


def kpis_json(*args):
    run = run_cli("kpis", *args, "--format", "json")
    assert run.code == 0, run.stderr
    return run.json()


def test_shopify_export_needs_no_options(tmp_path):
    path = write_csv(tmp_path / "orders_export.csv", SHOPIFY)
    document = kpis_json(path)
    m, q = document["metrics"], document["data_quality"]
    assert (m["customers"], m["orders"]) == (2, 3)
    assert m["revenue"] == 55 + 100 + 40 - 30  # order totals once per order, minus the refund
    assert m["repeat_customers"] == 1  # ann
    assert q["refund_rows"] == 1 and q["refund_amount"] == -30.0 and q["refunds_from_column"] == 1
    assert q["empty_amount_rows"] == 1  # the second line of #1001 carries no Total
    assert (q["customer_filled_rows"], q["date_filled_rows"]) == (1, 1)  # ... nor Email, Created at
    assert document["period"]["to"] == "2024-03-01"
    assert document["period"]["from"] == "2024-01-15"


def test_shopify_mapping_and_time_zone(tmp_path):
    path = write_csv(tmp_path / "orders_export.csv", SHOPIFY)
    mapping = resolve_mapping(SHOPIFY.splitlines()[0].split(","))
    assert mapping.fields == {
        "customer_id": "Email", "order_date": "Created at", "order_id": "Name", "amount": "Total",
        "quantity": "Lineitem quantity", "unit_price": "Lineitem price", "product": "Lineitem sku",
        "refund_amount": "Refunded Amount",
    }
    data = retainkit.read_orders(str(path))
    assert data.orders["order_date"].dt.strftime("%Y-%m-%d").tolist()[:3] == ["2024-01-15", "2024-02-21", "2024-03-01"]
    local = retainkit.read_orders(str(path), tz="America/New_York")
    assert local.orders["order_date"].dt.strftime("%Y-%m-%d").tolist()[1] == "2024-02-20"


def test_header_folding_and_vietnamese_headers(tmp_path):
    assert fold_header("Ngày đặt hàng") == "ngaydathang"
    path = write_csv(
        tmp_path / "vn.csv",
        "Mã đơn hàng;Mã khách hàng;Ngày đặt hàng;Thành tiền\nD1;KH01;2024-01-02;1.234.567,5 ₫\nD2;KH01;2024-02-03;100 ₫",
    )
    document = kpis_json(path, "--decimal", ",")
    assert document["metrics"]["revenue"] == 1234667.5
    assert document["metrics"]["repeat_customers"] == 1


def test_quantity_times_price_and_c_prefixed_refunds(tmp_path):
    path = write_csv(
        tmp_path / "uci.csv",
        "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
        "536365,A,6,2010-12-01 08:26:00,2.55,17850.0\n"
        "536365,B,2,2010-12-01 08:26:00,1.50,17850.0\n"
        "C536379,A,-1,2010-12-02 09:41:00,2.55,17850.0\n"
        "536380,B,1,2010-12-03 10:00:00,3.00,\n",
    )
    document = kpis_json(path, "--to", "2010-12-31")  # default period is the one order day
    m, q = document["metrics"], document["data_quality"]
    assert m["orders"] == 1 and m["revenue"] == pytest.approx(6 * 2.55 + 2 * 1.5 - 2.55, abs=1e-9)
    assert (q["refund_rows"], q["missing_customer_rows"], q["missing_customer_amount"]) == (1, 1, 3.0)
    data = retainkit.read_orders(str(path))
    assert list(data.orders["customer_id"].cat.categories) == ["17850"]  # the float-formatted id, tidied


def test_c_prefixed_id_with_positive_amount_is_a_refund(tmp_path):
    path = write_csv(tmp_path / "x.csv", "order_id,customer_id,order_date,amount\n1,A,2024-01-01,10\nC1,A,2024-01-01,4")
    document = kpis_json(path)
    assert document["metrics"]["revenue"] == 6.0
    assert any("positive amount" in n for n in document["data_quality"]["notes"])


def test_duplicates_are_counted_and_kept_unless_dedupe(tmp_path):
    text = "order_id,customer_id,order_date,amount\n1,A,2024-01-01,10\n1,A,2024-01-01,10\n2,A,2024-02-01,5"
    path = write_csv(tmp_path / "x.csv", text)
    kept = kpis_json(path)
    assert kept["data_quality"]["duplicate_rows"] == 1 and kept["data_quality"]["duplicate_amount"] == 10.0
    assert kept["metrics"]["revenue"] == 25.0 and kept["metrics"]["orders"] == 2
    dropped = kpis_json(path, "--dedupe")
    assert dropped["data_quality"]["duplicates_dropped"] is True
    assert dropped["metrics"]["revenue"] == 15.0


def test_duplicates_without_order_ids_and_with_different_quantities(tmp_path):
    path = write_csv(
        tmp_path / "x.csv",
        "customer_id,order_date,quantity,price\nA,2024-01-01,2,1\nA,2024-01-01,1,2\nA,2024-01-01,2,1",
    )
    document = kpis_json(path)
    assert document["data_quality"]["duplicate_rows"] == 1  # 2×1 twice; 1×2 is another row
    assert document["metrics"]["orders"] == 3


def test_rows_without_a_date_are_counted(tmp_path):
    path = write_csv(tmp_path / "x.csv", "customer_id,order_date,amount\nA,2024-01-01,1\nB,,7")
    q = kpis_json(path)["data_quality"]
    assert (q["missing_date_rows"], q["missing_date_amount"]) == (1, 7.0)
    assert q["rows"] == q["order_lines"] + q["refund_rows"] + q["missing_customer_rows"] + q["missing_date_rows"]


def test_stdin_tsv_gzip_and_parquet_give_the_same_kpis(tmp_path):
    source = GOLDEN / "shop_small.csv"
    expected = kpis_json(source)["metrics"]
    frame = pd.read_csv(source, dtype=str)
    frame.to_csv(tmp_path / "shop.tsv", sep="\t", index=False)
    with gzip.open(tmp_path / "shop.csv.gz", "wb") as handle:
        handle.write(source.read_bytes())
    folder = tmp_path / "parts"
    folder.mkdir()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table.slice(0, 10), folder / "part-0.parquet")
    pq.write_table(table.slice(10), folder / "part-1.parquet")
    assert kpis_json(tmp_path / "shop.tsv")["metrics"] == expected
    assert kpis_json(tmp_path / "shop.csv.gz")["metrics"] == expected
    assert kpis_json(folder)["metrics"] == expected
    run = run_cli("kpis", "-", "--format", "json", stdin=source.read_bytes())
    assert run.json()["metrics"] == expected


def test_config_file_maps_columns_and_sets_options(tmp_path):
    path = write_csv(tmp_path / "x.csv", "buyer,when,paid\nA,03/04/2024,1\nA,05/06/2024,2")
    config = tmp_path / "retainkit.toml"
    config.write_text('[columns]\ncustomer = "buyer"\ndate = "when"\namount = "paid"\n\n[options]\ndayfirst = true\n')
    document = kpis_json(path, "--config", config)
    assert document["period"]["from"] == "2024-04-03" and document["metrics"]["revenue"] == 3.0
    # The command line wins over the file.
    assert kpis_json(path, "--config", config, "--monthfirst")["period"]["from"] == "2024-03-04"


def test_config_in_working_directory_is_found(tmp_path, monkeypatch):
    path = write_csv(tmp_path / "x.csv", "buyer,order_date\nA,2024-01-01")
    (tmp_path / "retainkit.toml").write_text('[columns]\ncustomer = "buyer"\n')
    monkeypatch.chdir(tmp_path)
    assert kpis_json("x.csv")["metrics"]["customers"] == 1
    assert path.exists()


def test_yyyymmdd_integers_and_text_ids_keep_leading_zeros(tmp_path):
    path = write_csv(tmp_path / "cd.csv", "customer_id,date,number_of_cds,dollar_value\n00001,19970101,1,11.77\n00001,19970105,1,5")
    data = retainkit.read_orders(str(path), columns={"amount": "dollar_value"})
    assert list(data.orders["customer_id"].cat.categories) == ["00001"]
    assert data.orders["order_date"].dt.strftime("%Y-%m-%d").tolist() == ["1997-01-01", "1997-01-05"]


def test_integer_customer_ids_in_parquet_read_as_text(tmp_path):
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"CustomerID": pa.array([17850, None, 17850]),
                             "InvoiceDate": pa.array(pd.to_datetime(["2011-01-01", "2011-01-02", "2011-01-03"])),
                             "amount": [1.0, 2.0, 3.0]}), path)
    data = retainkit.read_orders(str(path))
    assert list(data.orders["customer_id"].cat.categories) == ["17850"]
    assert data.quality.missing_customer_rows == 1


def test_unsorted_order_ids_still_group_lines(tmp_path):
    path = write_csv(
        tmp_path / "x.csv",
        "order_id,customer_id,order_date,amount\nB,A,2024-01-02,1\nA,A,2024-01-01,2\nB,A,2024-01-02,3\nA,A,2024-01-01,4",
    )
    data = retainkit.read_orders(str(path))
    orders = data.orders.sort_values("order_date")
    assert orders["amount"].tolist() == [6.0, 4.0]


def test_a_customer_only_on_the_first_line_of_an_order(tmp_path):
    path = write_csv(tmp_path / "x.csv", "order_id,customer_id,order_date,amount\n9,A,2024-01-01,1\n9,,,2")
    data = retainkit.read_orders(str(path))
    assert data.orders["amount"].tolist() == [3.0] and data.quality.missing_customer_rows == 0
    assert (data.quality.customer_filled_rows, data.quality.date_filled_rows) == (1, 1)


def test_inspect_shows_mapping_samples_and_quality(tmp_path):
    path = write_csv(tmp_path / "orders_export.csv", SHOPIFY)
    run = run_cli("inspect", path, "--format", "json")
    assert run.code == 0, run.stderr
    report = run.json()
    assert report["mapping"]["customer_id"] == "Email"
    assert "Financial Status" in report["ignored"]
    assert "ann@example.com" in report["samples"]["customer_id"]
    assert report["date_range"]["first_order"] == "2024-01-15"
    assert report["quality"]["rows"] == 4
    table = run_cli("inspect", path)
    assert "Email" in table.stdout and "Headers not read" in table.stdout


def test_inspect_has_the_amounts_of_every_other_command(tmp_path):
    """The data-quality amounts are to the cent in inspect too: a refund of −0.004 is 0.00 (and
    0.0 in JSON), as kpis has it, never "-0.00"."""
    path = write_csv(tmp_path / "x.csv", "order_id,customer_id,order_date,amount\n1,A,2024-01-01,10\n"
                                         "C1,A,2024-01-01,-0.004\n")
    assert run_cli("inspect", path, "--format", "json").json()["quality"]["refund_amount"] == 0.0
    assert kpis_json(path)["data_quality"]["refund_amount"] == 0.0
    refunds = next(line for line in run_cli("inspect", path).stdout.splitlines() if "Refund rows" in line)
    assert refunds.split()[-1] == "0.00"


def test_inspect_reports_a_problem_after_the_mapping(tmp_path):
    path = write_csv(tmp_path / "x.csv", "customer_id,order_date\nA,03/04/2024")
    run = run_cli("inspect", path)
    assert run.code == 2 and "customer_id" in run.stdout and "ambiguous" in run.stderr


def test_output_file_is_written_atomically(tmp_path):
    out = tmp_path / "kpis.json"
    run = run_cli("kpis", GOLDEN / "shop_small.csv", "--format", "json", "--output", out)
    assert run.code == 0 and run.stdout == ""
    assert '"customers": 10' in out.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["kpis.json"]
    table = tmp_path / "kpis.txt"
    run_cli("kpis", GOLDEN / "shop_small.csv", "--output", table)
    assert "Repeat customer rate" in table.read_text()


def test_fail_on_alert_exit_code():
    assert run_cli("kpis", GOLDEN / "shop_small.csv", "--fail-on-alert").code == 1
    assert run_cli("kpis", GOLDEN / "shop_small.csv", "--fail-on-alert", "--churn-alert", "0.8").code == 0


def test_read_options_are_plain_data():
    assert ReadOptions().tz == "UTC" and shutil.which  # the defaults of SPEC §1


def test_order_ids_are_trimmed_like_customer_ids(tmp_path):
    # Spaces only after the first 1000 rows: the same order must still merge.
    lines = ["order_id,customer_id,order_date,amount"]
    lines += [f"{i},c{i},2024-01-01,1" for i in range(1200)]
    lines += ['"5000",z,2024-02-01,2', '"5000 ",z,2024-02-01,3', '" 5001",z,2024-02-02,4', '"  ",y,2024-02-03,5',
              '" ",y,2024-02-03,6']
    data = __import__("retainkit").read_orders(str(write_csv(tmp_path / "x.csv", "\n".join(lines))))
    z = data.orders[data.orders["customer_id"] == "z"]
    assert sorted(z["amount"].tolist()) == [4.0, 5.0]  # 5000 and "5000 " are one order of 2 + 3
    y = data.orders[data.orders["customer_id"] == "y"]
    assert sorted(y["amount"].tolist()) == [5.0, 6.0]  # blank ids: each row is an order of its own
