"""Numbers a shop can trust (SPEC §1–§3, §5): amounts never guessed, overlapping exports,
windows the data covers, rhythm by purchase days. Every answer is worked out by hand here."""

from __future__ import annotations

import json
import unicodedata

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from retainkit.amounts import read_numbers
from retainkit.errors import RetainkitError
from tests.conftest import run_cli, write_csv


def kpis(*args):
    run = run_cli("kpis", *args, "--format", "json")
    assert run.code == 0, run.stderr
    return run.json()


def customer_rows(path) -> dict[str, dict]:
    document = json.loads(run_cli("customers", path, "--format", "json").stdout)
    return {row[0]: dict(zip(document["columns"], row, strict=True)) for row in document["rows"]}


def revenue_of(tmp_path, name: str, text: str, *args: str) -> float:
    return kpis(write_csv(tmp_path / name, text), *args)["metrics"]["revenue"]


# ---------------------------------------------------------------- amounts (SPEC §1)


@pytest.mark.parametrize(("text", "revenue"), [
    # 10,50 + 20,00: a mark followed by two digits is the decimal mark -> 30.50, not 3050.
    ("customer;date;amount\nA;2024-01-01;10,50\nB;2024-01-02;20,00", 30.50),
    # 1.234,56 + 7,5 + 12,00 = 1254.06 (not 1276.23).
    ("customer;date;amount\nA;2024-01-01;1.234,56\nB;2024-01-02;7,5\nC;2024-01-03;12,00", 1254.06),
    # ₫ has no minor unit: 250.000 ₫ is 250000. 250000 + 99500 + 120000 = 469500.
    ('customer,date,amount\nA,2024-01-01,"250.000 ₫"\nB,2024-01-02,"99.500 ₫"\nC,2024-01-03,"120.000 ₫"', 469_500),
    # The ISO code and the sign after a space or none: 1250000 + 45000.
    ('Khách hàng,Ngày,Thành tiền\nA,2024-01-01,1.250.000 VND\nB,2024-01-02,"45.000đ"', 1_295_000),
], ids=["decimal-commas", "thousands-dots", "dong-sign", "vnd-code"])
def test_amounts_as_shops_write_them(tmp_path, text, revenue):
    assert revenue_of(tmp_path, "a.csv", text) == revenue


def test_accounting_negatives_are_refunds(tmp_path):
    # (12.50) is -12.50: a refund. Orders 100.00 + 50.25, refund 12.50 -> net 137.75.
    text = 'customer,date,amount\nA,2024-01-01,"$100.00"\nA,2024-01-02,"(12.50)"\nB,2024-01-02,"$50.25"'
    document = kpis(write_csv(tmp_path / "a.csv", text))
    assert document["metrics"]["revenue"] == 137.75
    assert document["data_quality"]["refund_rows"] == 1
    assert document["data_quality"]["refund_amount"] == -12.5


def test_an_unsettled_column_is_an_error_asking_for_decimal(tmp_path):
    path = write_csv(tmp_path / "a.csv", "customer,date,amount\nA,2024-01-01,\"1,250\"\nB,2024-01-02,300")
    run = run_cli("kpis", path)
    assert run.code == 2
    assert "line 2" in run.stderr and "'1,250'" in run.stderr and "--decimal" in run.stderr
    assert "Traceback" not in run.stderr
    # The user's --decimal always wins: with "." the comma groups thousands (1250 + 300); with "," 1.25 + 300.
    assert kpis(path, "--decimal", ".")["metrics"]["revenue"] == 1550
    assert kpis(path, "--decimal", ",")["metrics"]["revenue"] == 301.25


def test_a_column_settled_both_ways_names_one_row_of_each(tmp_path):
    text = 'customer,date,amount\nA,2024-01-01,"1,234.56"\nB,2024-01-02,"10,50"'
    run = run_cli("kpis", write_csv(tmp_path / "a.csv", text))
    assert run.code == 2
    assert "'1,234.56'" in run.stderr and "line 2" in run.stderr
    assert "'10,50'" in run.stderr and "line 3" in run.stderr and "--decimal" in run.stderr


def test_the_delimiter_is_not_evidence(tmp_path):
    # A ;-file with dot decimals: 12.5 + 7.25 = 19.75.
    assert revenue_of(tmp_path, "a.csv", "customer;date;amount\nA;2024-01-01;12.5\nB;2024-01-02;7.25") == 19.75


def test_three_decimals_alone_are_ambiguous_even_with_a_dot(tmp_path):
    # 1.250 alone could be 1.25 or 1250: an error, never a silent 1.25.
    run = run_cli("kpis", write_csv(tmp_path / "a.csv", "customer;date;amount\nA;2024-01-01;1.250\nB;2024-01-02;12.000"))
    assert run.code == 2 and "--decimal" in run.stderr


@pytest.mark.parametrize("value", ["1e400", "inf", "NaN", "-Infinity"])
def test_non_finite_amounts_are_an_error_naming_the_row(tmp_path, value):
    path = write_csv(tmp_path / "a.csv", f"customer,date,amount\nA,2024-01-01,10\nB,2024-01-02,{value}")
    run = run_cli("kpis", path)
    assert run.code == 2
    assert "line 3" in run.stderr and value in run.stderr and "finite" in run.stderr


def test_non_finite_in_a_numeric_parquet_column_is_an_error(tmp_path):
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"customer_id": ["A", "B"], "order_date": ["2024-01-01", "2024-01-02"],
                             "amount": [1.0, float("inf")]}), path)
    run = run_cli("kpis", path)
    assert run.code == 2 and "row 2" in run.stderr and "finite" in run.stderr


@pytest.mark.parametrize(("texts", "cents"), [
    (["1,234.50", "7.5", "12"], [123450, 750, 1200]),
    (["1.234,50", "7,5", "12"], [123450, 750, 1200]),
    (["1 234,50 €", "7,5 €", "12 €"], [123450, 750, 1200]),
    (["$1,234.50", "($7.50)", "12.00-"], [123450, -750, -1200]),
    (["1'234.50", "7.50", "12"], [123450, 750, 1200]),
    (["12,34,567.00", "1.5", "0"], [123456700, 150, 0]),
    (["¥1,500", "¥300", "¥12,000"], [150000000 // 1000, 30000, 1200000]),
])
def test_conventions_read_to_the_same_cents(texts, cents):
    read = read_numbers(pa.chunked_array([texts]), field="amount", decimal=None, locate=str)
    assert [round(v * 100) for v in read.values] == cents


def test_missing_markers_in_an_amount_read_as_empty():
    read = read_numbers(pa.chunked_array([["NULL", "N/A", "12,5"]]), field="amount", decimal=None, locate=str)
    assert read.values[2] == 12.5 and all(v != v for v in read.values[:2])


def test_read_numbers_error_names_the_first_row_of_the_bad_value():
    with pytest.raises(RetainkitError, match=r"line 4, column amount: cannot read number '12 apples'"):
        read_numbers(pa.chunked_array([["1", "2", "12 apples", "12 apples"]]), field="amount", decimal=None,
                     locate=lambda row: f"line {row + 2}")


def test_inspect_shows_each_sample_beside_the_number_read(tmp_path):
    path = write_csv(tmp_path / "vn.csv", 'customer,date,amount\nA,2024-01-01,"250.000 ₫"\nB,2024-01-02,"99.500 ₫"')
    document = json.loads(run_cli("inspect", path, "--format", "json").stdout)
    assert document["samples"]["amount"][:2] == ["250.000 ₫ → 250000", "99.500 ₫ → 99500"]


# ---------------------------------------------------------------- overlapping exports (SPEC §1)


SHOP = "order_id,customer,date,amount\n1,A,2024-01-01,10.50\n2,B,2024-01-02,20.00\n3,A,2024-02-01,5.00"


def test_a_copy_of_the_export_in_the_folder_is_counted_once(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    write_csv(folder / "orders.csv", SHOP)
    write_csv(folder / "orders (1).csv", SHOP)
    run = run_cli("kpis", folder, "--format", "json")
    assert run.code == 0
    document = run.json()
    assert document["metrics"]["revenue"] == 35.5 and document["metrics"]["orders"] == 3
    quality = document["data_quality"]
    assert quality["rows"] == 6 and quality["overlap_rows"] == 3 and quality["overlap_amount"] == 35.5
    assert len(quality["overlap_files"]) == 1 and quality["overlap_files"][0]["rows"] == 3
    assert "3 rows repeated from an earlier file" in run.stderr
    table = run_cli("kpis", folder).stdout
    assert "Rows repeated from an earlier file" in table


def test_overlapping_monthly_exports_and_a_duplicate_inside_one_file(tmp_path):
    # jan has order 2 twice (a real duplicate, kept and reported); feb repeats order 3 of jan (overlap).
    jan = write_csv(tmp_path / "jan.csv", "order_id,customer,date,amount\n1,A,2024-01-01,10\n2,B,2024-01-20,5\n"
                                          "2,B,2024-01-20,5\n3,C,2024-01-31,7")
    feb = write_csv(tmp_path / "feb.csv", "order_id,customer,date,amount\n3,C,2024-01-31,7\n4,A,2024-02-03,3")
    document = kpis(jan, feb)
    quality = document["data_quality"]
    assert quality["overlap_rows"] == 1 and quality["overlap_amount"] == 7
    assert quality["duplicate_rows"] == 1
    assert document["metrics"]["revenue"] == 10 + 5 + 5 + 7 + 3
    assert quality["overlap_files"] == [{"file": str(feb), "earlier_file": str(jan), "rows": 1}]


def test_rows_without_an_order_id_are_duplicates_and_overlap_too(tmp_path):
    """An empty order id makes a row an order of its own (SPEC §1), but two such rows equal
    in every field read are still one row repeated: counted as a duplicate inside a file, and
    a copy of the file in the folder never doubles the revenue."""
    text = "customer_id,order_date,order_id,amount\nA,2024-01-05,,10\nA,2024-01-05,NA,10\nB,2024-01-06,2,5\n" \
           "A,2024-01-07,,10\nA,2024-01-07,,12\n"
    one = kpis(write_csv(tmp_path / "one.csv", text))
    assert one["data_quality"]["duplicate_rows"] == 1 and one["data_quality"]["duplicate_amount"] == 10
    assert one["metrics"]["orders"] == 5 and one["metrics"]["revenue"] == 47  # kept without --dedupe
    folder = tmp_path / "exports"
    folder.mkdir()
    write_csv(folder / "jan.csv", text)
    write_csv(folder / "jan (1).csv", text)
    both = run_cli("kpis", folder, "--format", "json").json()
    assert both["data_quality"]["overlap_rows"] == 5 and both["data_quality"]["overlap_amount"] == 47
    # The copy repeats the export, not the other way round (a space sorts before a dot).
    assert both["data_quality"]["overlap_files"] == [
        {"file": str(folder / "jan (1).csv"), "earlier_file": str(folder / "jan.csv"), "rows": 5}]
    assert both["metrics"]["revenue"] == 47 and both["metrics"]["orders"] == 5


def test_a_single_file_has_no_overlap(tmp_path):
    document = kpis(write_csv(tmp_path / "a.csv", SHOP + "\n3,A,2024-02-01,5.00"))
    assert document["data_quality"]["overlap_rows"] == 0 and document["data_quality"]["duplicate_rows"] == 1


def test_integer_ids_in_parquet_and_float_ids_in_csv_are_one_customer(tmp_path):
    pq.write_table(pa.table({"InvoiceNo": ["536365"], "CustomerID": pa.array([17850], pa.int64()),
                             "InvoiceDate": ["2010-12-01"], "Amount": [15.3]}), tmp_path / "a.parquet")
    write_csv(tmp_path / "b.csv", "InvoiceNo,CustomerID,InvoiceDate,Amount\n536365,17850.0,2010-12-01,15.3\n"
                                  "536400,17850.0,2010-12-05,4")
    document = kpis(tmp_path / "a.parquet", tmp_path / "b.csv")
    assert document["metrics"]["customers"] == 1 and document["metrics"]["orders"] == 2
    assert document["data_quality"]["overlap_rows"] == 1 and document["metrics"]["revenue"] == 19.3


# ---------------------------------------------------------------- coverage (SPEC §2)


def test_default_churn_window_is_the_longest_the_data_covers(tmp_path):
    # Data from 2024-03-01 to 2024-12-31: two 365-day windows need 2023-01-02, two 180-day
    # windows need 2024-01-07; two 90-day windows need 2024-07-05 -> L = 90.
    path = write_csv(tmp_path / "a.csv", "customer,date,amount\nA,2024-03-01,10\nA,2024-08-01,10\nB,2024-09-01,5\n"
                                         "A,2024-12-31,10")
    document = kpis(path)
    period = document["period"]
    assert period["churn_window_days"] == 90
    assert period["base_window"] == {"from": "2024-07-05", "to": "2024-10-02"}
    assert any("churn window 90 days: the data starts 2024-03-01" in note for note in period["notes"])
    # S = {A (08-01), B (09-01)}, E = {A (12-31)}: lost 1 of 2.
    assert document["metrics"]["churn_rate"] == 0.5
    # (to − 365, to] starts 2024-01-01, before the data: annual revenue per customer and CLV are null.
    assert document["metrics"]["annual_revenue_per_customer"] is None
    assert document["metrics"]["customer_lifetime_value"] is None


def test_too_short_for_any_window_gives_null_churn_and_no_alert(tmp_path):
    # 40 days of data: not even two 30-day windows -> 365 days and every churn key null.
    path = write_csv(tmp_path / "a.csv", "customer,date,amount\nA,2024-01-01,10\nB,2024-01-20,5\nA,2024-02-09,10")
    run = run_cli("kpis", path, "--format", "json", "--fail-on-alert")
    assert run.code == 0
    document = run.json()
    assert document["period"]["churn_window_days"] == 365
    for key in ("customers_start", "customers_lost", "retention_rate", "churn_rate", "churn_rate_net",
                "annual_churn_rate", "churn_alert", "avg_lifespan_years", "customer_lifetime_value"):
        assert document["metrics"][key] is None, key
    assert document["metrics"]["customers"] == 2
    assert "alert" not in run.stderr


def test_a_given_churn_window_is_used_as_given_and_null_where_not_covered(tmp_path):
    path = write_csv(tmp_path / "a.csv", "customer,date,amount\nA,2024-03-01,10\nA,2024-12-31,10")
    document = kpis(path, "--churn-window", "365")
    assert document["period"]["churn_window_days"] == 365
    # Both 365-day windows start before the data (2024-03-01): churn and customers_end are null.
    assert document["metrics"]["churn_rate"] is None and document["metrics"]["customers_end"] is None
    assert any("--churn-window" in note for note in document["period"]["notes"])


def test_notes_are_printed_under_the_table_and_in_markdown(tmp_path):
    path = write_csv(tmp_path / "a.csv", "customer,date,amount\nA,2024-03-01,10\nA,2024-12-31,10")
    assert "churn window 90 days" in run_cli("kpis", path).stdout.replace("\n", " ")
    assert "churn window 90 days" in run_cli("kpis", path, "--format", "md").stdout


# ---------------------------------------------------------------- rhythm (SPEC §3, §5)


def test_two_invoices_minutes_apart_are_one_purchase_day(tmp_path):
    # A: 2024-01-01 08:00 and 08:06 (one purchase day), then 2024-03-01 (60 days later).
    path = write_csv(tmp_path / "a.csv", "order_id,customer,date,amount\n1,A,2024-01-01 08:00,10\n"
                                         "2,A,2024-01-01 08:06,10\n3,A,2024-03-01 09:00,10\n4,B,2024-06-30,1")
    assert kpis(path)["metrics"]["avg_days_between_orders"] == 60.0
    rows = customer_rows(path)
    a = rows["A"]
    assert a["orders"] == 3 and a["purchase_days"] == 2
    assert a["avg_days_between_orders"] == 60.0
    # Expected next order 2024-03-01 + 60 = 2024-04-30; to = 2024-06-30 -> 61 days overdue.
    assert a["expected_next_order"] == "2024-04-30" and a["days_overdue"] == 61
    # Recency 121 ≥ 60 and ≥ 1.5 × 60 = 90: at risk.
    assert a["at_risk"] is True
    # B: one purchase day, no rhythm: no gap, no expected order, never at risk.
    assert rows["B"]["avg_days_between_orders"] is None and rows["B"]["expected_next_order"] is None
    assert rows["B"]["days_overdue"] is None and rows["B"]["at_risk"] is False


def test_same_day_orders_alone_are_no_rhythm(tmp_path):
    # C bought twice on one day long ago: 2 orders, 1 purchase day: not at risk (no usual gap).
    path = write_csv(tmp_path / "a.csv", "order_id,customer,date,amount\n1,C,2024-01-01,10\n2,C,2024-01-01,10\n"
                                         "3,D,2024-06-30,1")
    rows = customer_rows(path)
    assert rows["C"]["orders"] == 2 and rows["C"]["purchase_days"] == 1
    assert rows["C"]["at_risk"] is False and rows["C"]["avg_days_between_orders"] is None


# ---------------------------------------------------------------- missing-value markers (SPEC §1)


def test_missing_markers_are_missing_and_each_spelling_counted(tmp_path):
    # Customer NA and null are no customer (2 rows, 5 + 7); date NULL is no date (1 row); order id
    # N/A makes its row an order of its own.
    text = ("order_id,customer,date,amount\n1,A,2024-01-01,10\n2,NA,2024-01-02,5\n3,null,2024-01-03,7\n"
            "4,B,NULL,3\nN/A,B,2024-01-04,4\nN/A,B,2024-01-05,6")
    document = kpis(write_csv(tmp_path / "a.csv", text))
    quality = document["data_quality"]
    assert quality["missing_customer_rows"] == 2 and quality["missing_customer_amount"] == 12
    assert quality["missing_date_rows"] == 1
    assert quality["missing_markers"] == {"customer_id": {"NA": 1, "null": 1}, "order_date": {"NULL": 1},
                                          "order_id": {"N/A": 2}}
    assert quality["empty_order_id_rows"] == 2
    assert document["metrics"]["orders"] == 3 and document["metrics"]["revenue"] == 20


def test_order_and_product_ids_are_cleaned_and_counted_like_customer_ids(tmp_path):
    """SPEC §1 for every text id: trimmed and compared in NFC (an order id typed precomposed
    and decomposed is one order), each change counted, and the missing-value spellings of
    the order id and product columns counted too."""
    nfc = "HĐ-Nguyễn-1"
    nfd = unicodedata.normalize("NFD", nfc)
    text = (f"order_id,customer_id,order_date,amount,sku\n{nfc},A,2024-01-05,10,NA\n{nfd},A,2024-01-05,5,P\n"
            "X2,B,2024-01-06,5,null\nNA,B ,2024-01-07,5,P\n N/A,C,2024-01-08,5,P\n")
    document = kpis(write_csv(tmp_path / "a.csv", text))
    quality = document["data_quality"]
    assert document["metrics"]["orders"] == 4 and document["metrics"]["customers"] == 3  # HĐ-… once; B once
    assert quality["ids_normalised_rows"] == 2  # the decomposed order id, and "B " trimmed
    assert quality["missing_markers"] == {"order_id": {"NA": 1, "N/A": 1}, "product": {"NA": 1, "null": 1}}
    assert quality["empty_order_id_rows"] == 2


def test_to_before_the_first_order_says_so(tmp_path):
    run = run_cli("kpis", write_csv(tmp_path / "a.csv", SHOP), "--to", "2023-12-31")
    assert run.code == 2
    assert "--to 2023-12-31 is before the first order (2024-01-01)" in run.stderr and "swap" not in run.stderr


@pytest.mark.parametrize("command", ["customers", "at-risk", "segments", "trend", "cohorts"])
def test_every_tabular_command_reports_the_overlap(tmp_path, command):
    folder = tmp_path / "exports"
    folder.mkdir()
    write_csv(folder / "orders.csv", SHOP)
    write_csv(folder / "orders (1).csv", SHOP)
    run = run_cli(command, folder, "--format", "json")
    assert run.code == 0, run.stderr
    document = run.json()
    assert document["data_quality"]["overlap_rows"] == 3
    assert any("3 rows repeated from an earlier file" in note for note in document["notes"])
    assert "3 rows repeated from an earlier file" in run.stderr
    assert "repeated from an earlier file" in run_cli(command, folder).stdout.replace("\n", " ")


@pytest.mark.parametrize("fmt", ["html", "md", "json"])
def test_the_report_reports_the_overlap(tmp_path, fmt):
    folder = tmp_path / "exports"
    folder.mkdir()
    write_csv(folder / "orders.csv", SHOP)
    write_csv(folder / "orders (1).csv", SHOP)
    run = run_cli("report", folder, "--format", fmt)
    assert run.code == 0, run.stderr
    if fmt == "json":
        assert run.json()["data_quality"]["overlap_rows"] == 3
    else:
        assert "3 rows repeated from an earlier file (counted once)" in run.stdout


# ---------------------------------------------------------------- dates and ids (SPEC §1; issues 10, 11)


SIX_MONTHS = "".join(f"{c},2011-{m:02d}-01,1\n" for m, c in zip(range(1, 7), "ABCABC", strict=True))


@pytest.mark.parametrize(("date", "why"), [
    ("2204-03-15", "after 2100-12-31"), ("1969-12-31", "before 1970-01-01"), ("2013-06-01", "more than 365 days"),
])
def test_implausible_order_dates_stop_the_run_unless_allowed(tmp_path, date, why):
    path = write_csv(tmp_path / "a.csv", f"customer,date,amount\n{SIX_MONTHS}A,{date},1")
    run = run_cli("kpis", path)
    assert run.code == 2 and why in run.stderr and f"{date} ({path}, line 8)" in run.stderr
    assert "--allow-dates" in run.stderr
    allowed = run_cli("kpis", path, "--allow-dates", "--format", "json")
    assert allowed.code == 0 and allowed.json()["metrics"]["orders"] == 7


def test_a_lone_date_needs_five_others_to_be_called_lone(tmp_path):
    # Four other dates only: a date two years later is not called a typo.
    text = "customer,date,amount\nA,2011-01-01,1\nB,2011-02-01,1\nA,2011-03-01,1\nB,2011-04-01,1\nA,2013-06-01,1"
    assert run_cli("kpis", write_csv(tmp_path / "a.csv", text)).code in (0, 1)


@pytest.mark.parametrize("command", ["kpis", "customers", "trend", "cohorts", "report", "segments", "at-risk"])
def test_dates_at_the_calendar_ends_with_allow_dates(tmp_path, command):
    # Year 1 and year 9999: every command answers, sized by the periods with data (not 120,000 months).
    path = write_csv(tmp_path / "a.csv", "customer,date,amount\nA,0001-02-01,1\nB,9999-01-01,2\nA,9999-01-01,3")
    every = ("--every", "year") if command in ("trend", "cohorts") else ()  # 10,000 years, not 120,000 months
    run = run_cli(command, path, "--allow-dates", "--format", "json", *every)
    assert run.code == 0, run.stderr
    if command == "cohorts":
        cohorts = {row[0] for row in run.json()["rows"]}
        assert cohorts == {"0001", "9999"}
    if command == "trend":  # only the years with orders: the span is mostly empty
        assert [row[0] for row in run.json()["rows"]] == ["0001", "9999"]


@pytest.mark.parametrize("text", ["24-01-15", "15/01/24", "1/2/24 10:00"])
def test_two_digit_years_are_never_guessed(tmp_path, text):
    run = run_cli("kpis", write_csv(tmp_path / "a.csv", f"customer,date,amount\nA,{text},1\nB,{text},2"))
    assert run.code == 2 and "two-digit years" in run.stderr and "--date-format" in run.stderr
    ok = run_cli("kpis", write_csv(tmp_path / "b.csv", "customer,date,amount\nA,15/01/24,1"), "--date-format",
                 "%d/%m/%y", "--format", "json")
    assert ok.json()["period"]["from"] == "2024-01-15"


def test_a_bad_date_format_and_time_zone_are_one_line(tmp_path):
    path = write_csv(tmp_path / "a.csv", "customer,date,amount\nA,2024-01-01,1")
    run = run_cli("kpis", path, "--date-format", "%Q")
    assert run.code == 2 and "--date-format '%Q' is not a date format" in run.stderr
    run = run_cli("kpis", path, "--tz", "Mars/Base")
    assert run.code == 2 and "--tz 'Mars/Base' is not a time zone" in run.stderr


def test_stamps_without_offset_among_stamps_with_one_are_local_time(tmp_path):
    # 23:30+00:00 is 06:30 next day in Ho Chi Minh City (+07:00); 2024-01-01 23:30 without offset is
    # already local: that day. Two purchase days: 2024-01-01 (naive) and 2024-01-02 (converted).
    text = "customer,date,amount\nA,2024-01-01T23:30:00+00:00,1\nA,2024-01-01 23:30:00,1"
    document = kpis(write_csv(tmp_path / "a.csv", text), "--tz", "Asia/Ho_Chi_Minh")
    assert document["period"]["from"] == "2024-01-01" and document["period"]["to"] == "2024-01-02"
    assert document["data_quality"]["naive_local_rows"] == 1
    assert any("read as local time in Asia/Ho_Chi_Minh" in note for note in document["data_quality"]["notes"])


def test_hour_only_offsets_as_postgresql_writes_them_are_offsets(tmp_path):
    # 2024-01-01 23:30:00+00 is 2024-01-02 06:30 in Ho Chi Minh City; +07 is already local. Mixed
    # with a stamp without offset (local), and with a fraction Arrow's reader does not type.
    text = ("customer,date,amount\nA,2024-01-01 23:30:00+00,1\nA,2024-01-01 23:30:00.5+07,1\n"
            "B,2024-01-03 10:00:00,1\nB,2024-01-03,1")
    document = kpis(write_csv(tmp_path / "a.csv", text), "--tz", "Asia/Ho_Chi_Minh")
    assert document["period"]["from"] == "2024-01-01" and document["period"]["to"] == "2024-01-03"
    assert document["data_quality"]["naive_local_rows"] == 2
    assert document["metrics"]["customers"] == 2


def test_ids_compare_in_nfc(tmp_path):
    import unicodedata

    composed = "Nguyễn"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    text = f"customer,date,amount\n{composed},2024-01-01,1\n{decomposed},2024-02-01,2\nAn,2024-01-03,1\nÂn,2024-01-04,1"
    document = kpis(write_csv(tmp_path / "a.csv", text))
    assert document["metrics"]["customers"] == 3  # Nguyễn once; An and Ân stay two
    assert document["data_quality"]["ids_normalised_rows"] == 1


@pytest.mark.parametrize("args", [(), ("--date-format", "%Y")])
def test_an_export_whose_dates_are_all_empty_says_so(tmp_path, args):
    run = run_cli("kpis", write_csv(tmp_path / "a.csv", "customer,date,amount\nA,,1\nB,,2"), *args)
    assert run.code == 2 and "no orders with a customer id and a date" in run.stderr


def test_a_huge_error_line_is_cut_and_says_so(tmp_path):
    header = ",".join(f"col{i}" for i in range(5000))
    run = run_cli("kpis", write_csv(tmp_path / "a.csv", f"{header}\n" + ",".join("1" * 5000)))
    assert run.code == 2 and len(run.stderr) < 800 and "more" in run.stderr
