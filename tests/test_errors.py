"""Bad input: exit 2 and one line on stderr naming the file, column, row and value (SPEC §7)."""

from __future__ import annotations

import gzip

import pyarrow as pa
import pyarrow.parquet as pq

from tests.conftest import GOLDEN, run_cli, write_csv


def fails(*args, stdin=None):
    run = run_cli("kpis", *args, stdin=stdin)
    assert run.code == 2, (run.code, run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout
    return lines[0]


def test_missing_path(tmp_path):
    assert "no-such.csv: no such file or folder" in fails(tmp_path / "no-such.csv")


def test_folder_without_data_files(tmp_path):
    (tmp_path / "notes.txt.bak").write_text("x")
    assert "folder holds no data files" in fails(tmp_path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert "empty.csv: file is empty" in fails(path)


def test_header_only(tmp_path):
    path = write_csv(tmp_path / "head.csv", "customer_id,order_date,amount")
    assert "head.csv: no data rows" in fails(path)


def test_no_customer_column_lists_headers_and_option(tmp_path):
    path = write_csv(tmp_path / "x.csv", "buyer,order_date,amount\nA,2024-01-01,1")
    line = fails(path)
    assert "no customer_id column" in line and "buyer, order_date, amount" in line and "--customer" in line


def test_no_date_column(tmp_path):
    path = write_csv(tmp_path / "x.csv", "customer_id,when,amount\nA,2024-01-01,1")
    line = fails(path)
    assert "no order_date column" in line and "--date" in line


def test_option_naming_an_absent_column(tmp_path):
    path = write_csv(tmp_path / "x.csv", "customer_id,order_date,amount\nA,2024-01-01,1")
    assert "no column 'Price' for --amount" in fails(path, "--amount", "Price")


def test_ambiguous_day_month_is_never_guessed(tmp_path):
    path = write_csv(tmp_path / "x.csv", "customer_id,order_date,amount\nA,03/04/2024,1\nB,05/06/2024,2")
    line = fails(path)
    assert "ambiguous dates" in line and "'03/04/2024'" in line and "--dayfirst" in line


def test_date_errors_name_the_file_and_the_rows(tmp_path):
    two_digit = write_csv(tmp_path / "y.csv", "customer_id,order_date\nA,2024-01-05\nB,15/01/24\n")
    assert fails(two_digit).startswith(f"retainkit: error: {two_digit}, line 3, column order_date: two-digit years "
                                       "such as '15/01/24'")
    ambiguous = write_csv(tmp_path / "a.csv", "customer_id,order_date\nA,2024-01-05\nB,03/04/2024\n")
    assert f"{ambiguous}, line 3, column order_date: ambiguous dates such as '03/04/2024'" in fails(ambiguous)
    mixed = write_csv(tmp_path / "m.csv", "customer_id,order_date\nA,03/04/2024\nB,25/06/2024\nC,06/25/2024\n")
    line = fails(mixed)
    assert f"'25/06/2024' ({mixed}, line 3) but '06/25/2024' ({mixed}, line 4)" in line


def test_iso_dates_are_read_beside_day_first_ones(tmp_path):
    """SPEC §1: ISO 8601 always — beside dates in day/month order, with or without --dayfirst."""
    path = write_csv(tmp_path / "x.csv", "customer_id,order_date,amount\nA,2024-01-05,10\nB,25/01/2024,20\n"
                                         "C,06/02/2024,5\n")
    for extra in ((), ("--dayfirst",)):
        run = run_cli("customers", path, *extra, "--format", "csv")
        assert run.code == 0, run.stderr
        firsts = sorted(line.split(",")[1] for line in run.stdout.splitlines()[1:])
        assert firsts == ["2024-01-05", "2024-01-25", "2024-02-06"]
    # A third form beside them (YYYYMMDD, or DDMMYYYY?) is not guessed: its row is named.
    third = write_csv(tmp_path / "t.csv", path.read_text() + "D,20240301,1\n")
    assert f"{third}, line 5, column order_date: cannot read date '20240301'" in fails(third)


def test_ambiguous_dates_read_with_dayfirst(tmp_path):
    path = write_csv(tmp_path / "x.csv", "customer_id,order_date,amount\nA,03/04/2024,1\nB,05/06/2024,2")
    document = run_cli("kpis", path, "--dayfirst", "-f", "json").json()
    assert document["period"] == document["period"] | {"from": "2024-04-03", "to": "2024-06-05"}
    document = run_cli("kpis", path, "--monthfirst", "-f", "json").json()
    assert (document["period"]["from"], document["period"]["to"]) == ("2024-03-04", "2024-05-06")


def test_unparseable_date_names_file_line_and_value(tmp_path):
    path = write_csv(tmp_path / "x.csv", "customer_id,order_date,amount\nA,2024-01-01,1\nB,2024-02-30,2")
    line = fails(path)
    assert "x.csv, line 3, column order_date: cannot read date '2024-02-30'" in line


def test_unparseable_amount_names_file_line_and_value(tmp_path):
    path = write_csv(tmp_path / "x.csv", "customer_id,order_date,amount\nA,2024-01-01,1\nB,2024-01-02,12abc")
    line = fails(path)
    assert "x.csv, line 3, column amount: cannot read number '12abc'" in line


def test_corrupt_parquet(tmp_path):
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"customer_id": ["a"], "order_date": ["2024-01-01"]}), path)
    data = path.read_bytes()
    path.write_bytes(data[:8] + b"\0" * (len(data) - 16) + data[-8:])
    assert "corrupt Parquet file" in fails(path)


def test_csv_named_parquet(tmp_path):
    path = tmp_path / "orders.parquet"
    path.write_text("customer_id,order_date\nA,2024-01-01\n")
    line = fails(path)
    assert "orders.parquet: not a Parquet file (it starts like CSV text)" in line and ".csv" in line


def test_order_id_shared_by_two_customers(tmp_path):
    path = write_csv(
        tmp_path / "x.csv",
        "order_id,customer_id,order_date,amount\n1,A,2024-01-01,1\n2,B,2024-01-02,2\n2,C,2024-01-02,3",
    )
    line = fails(path)
    assert "x.csv, line 4, column order_id: order '2'" in line
    assert "'C'" in line and "'B'" in line and "line 3" in line


def test_a_non_utf8_byte_in_the_date_column_past_the_head_names_its_line(tmp_path):
    # Past the first 64 KiB (the part checked as the header is read) Arrow types the date
    # column as bytes; the message is the encoding one, with the line, not "dates of type binary".
    rows = "".join(f"c{i},2024-01-{1 + i % 28:02d},{i}\n" for i in range(5000)).encode()
    path = tmp_path / "x.csv"
    path.write_bytes(b"customer_id,order_date,amount\n" + rows.replace(b"c4000,2024-01-25", b"c4000,2024-01-2\xff"))
    assert "x.csv: not UTF-8 text (line 4002: byte 0xFF) (read as UTF-8)" in fails(path)


def test_non_utf8_bytes_ask_for_encoding(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("customer_id,order_date,amount\nJosé,2024-01-01,1\n".encode("latin-1"))
    line = fails(path)
    assert "latin.csv: not UTF-8 text (line 2: byte 0xE9) (read as UTF-8)" in line and "--encoding" in line
    run = run_cli("kpis", path, "--encoding", "latin-1", "-f", "json")
    assert run.code == 0 and run.json()["metrics"]["customers"] == 1


def test_unknown_encoding(tmp_path):
    path = write_csv(tmp_path / "x.csv", "customer_id,order_date\nA,2024-01-01")
    assert "unknown encoding 'nope'" in fails(path, "--encoding", "nope")


def test_bad_option_values():
    assert "--from '2024-13-01' is not a date" in fails(GOLDEN / "shop_small.csv", "--from", "2024-13-01")
    assert "is after --to" in fails(GOLDEN / "shop_small.csv", "--from", "2024-06-01", "--to", "2024-01-01")
    assert "--decimal ';' must be . or ," in fails(GOLDEN / "shop_small.csv", "--decimal", ";")


def test_no_row_has_a_customer(tmp_path):
    path = write_csv(tmp_path / "x.csv", "customer_id,order_date,amount\n,2024-01-01,1")
    assert "no orders with a customer id" in fails(path)


def test_bad_config_key(tmp_path):
    config = tmp_path / "retainkit.toml"
    config.write_text("[columns]\nbuyer = 'x'\n")
    assert "unknown key 'buyer' in [columns]" in fails(GOLDEN / "shop_small.csv", "--config", config)


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "x.csv.gz"
    path.write_bytes(gzip.compress(b"customer_id,order_date\nA,2024-01-01\n")[:20])
    line = fails(path)
    assert "x.csv.gz" in line


def test_debug_shows_the_traceback_and_keeps_the_exit_code(tmp_path):
    run = run_cli("kpis", tmp_path / "missing.csv", "--debug")
    assert run.code == 2
    assert "Traceback" in run.stderr
    assert run.stderr.strip().splitlines()[-1].endswith("missing.csv: no such file or folder")


def test_to_and_as_of_must_agree():
    assert "--to and --as-of disagree" in fails(GOLDEN / "shop_small.csv", "--to", "2024-06-01", "--as-of", "2024-07-01")


def test_unknown_time_zone(tmp_path):
    path = write_csv(tmp_path / "x.csv", "customer_id,order_date\nA,2024-01-01T10:00:00+07:00")
    assert "--tz 'Mars/Olympus' is not a time zone" in fails(path, "--tz", "Mars/Olympus")


def test_dates_mixing_day_first_and_month_first(tmp_path):
    path = write_csv(tmp_path / "x.csv", "customer_id,order_date\nA,13/01/2024\nB,01/13/2024")
    line = fails(path)
    assert "dates mix day-first and month-first order" in line and "--date-format" in line


def test_date_format_reads_what_iso_cannot(tmp_path):
    path = write_csv(tmp_path / "x.csv", "customer_id,order_date,amount\nA,05 Mar 2024,1\nA,2 Apr 2024,2")
    line = fails(path)
    assert "x.csv, line 2, column order_date: cannot read date '05 Mar 2024'" in line and "--date-format" in line
    document = run_cli("kpis", path, "--date-format", "%d %b %Y", "-f", "json").json()
    assert (document["period"]["from"], document["period"]["to"]) == ("2024-03-05", "2024-04-02")
    line = fails(path, "--date-format", "%d/%m/%Y")
    assert "x.csv, line 2, column order_date: cannot read date '05 Mar 2024'" in line
    assert "--date-format %d/%m/%Y does not fit it" in line


def test_churn_window_must_be_positive():
    assert "--churn-window 0 is out of range: from 1 to 36500" in fails(GOLDEN / "shop_small.csv", "--churn-window", "0")


def test_config_unknown_section_and_option(tmp_path):
    config = tmp_path / "retainkit.toml"
    config.write_text("[colums]\ncustomer = 'x'\n")
    assert "unknown section [colums]" in fails(GOLDEN / "shop_small.csv", "--config", config)
    config.write_text("[options]\nchurn_alrt = 0.1\n")
    line = fails(GOLDEN / "shop_small.csv", "--config", config)
    assert "unknown key 'churn_alrt' in [options]" in line and "churn_alert" in line
    config.write_text("[options\n")
    assert "not valid TOML" in fails(GOLDEN / "shop_small.csv", "--config", config)


def other_command_fails(*args):
    run = run_cli(*args)
    assert run.code == 2, (run.code, run.stderr)
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
    return run.stderr


def test_customer_and_report_options():
    shop = GOLDEN / "shop_small.csv"
    line = other_command_fails("customers", shop, "--segment", "Sleepy")
    assert "--segment 'Sleepy' is not an RFM segment" in line and "Champions" in line
    line = other_command_fails("report", shop, "--every", "month", "--to", "2023-02-20")
    assert "no complete month between 2023-02-14 and 2023-02-20" in line
    assert "--output r.pdf: cannot tell the format" in other_command_fails("report", shop, "--output", "r.pdf")
    line = other_command_fails("predict", shop, "--holdout", "2030-01-01")
    assert "--holdout 2030-01-01 leaves no day to check after it: the data ends 2024-12-31" in line
    line = other_command_fails("predict", shop, "--holdout", "2023-02-14")  # the first order's day
    assert "--holdout 2023-02-14 leaves no day to fit on before it: the data starts 2023-02-14" in line
