"""Excel exports and formats read by content (SPEC §1): each rule on a tiny hand-made file."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli, write_csv

openpyxl = pytest.importorskip("openpyxl")

HEADER = ("Mã khách hàng", "Ngày đặt hàng", "Mã đơn hàng", "Thành tiền")
ROWS = (
    (17850.0, dt.datetime(2024, 1, 2, 9, 30), 1001.0, 120.5),
    (17850.0, dt.date(2024, 2, 3), 1002.0, 80.0),
    ("KH02", dt.date(2024, 2, 4), 1003.0, 50.25),
)


def workbook(path, rows=ROWS, *, header=HEADER, sheet="Orders", above=(), extra_sheets=()):
    """Write an .xlsx: optional title rows ``above`` the header, then ``rows``."""
    book = openpyxl.Workbook()
    first = book.active
    first.title = sheet
    for row in (*above, header, *rows):
        first.append(list(row))
    for name, sheet_rows in extra_sheets:
        other = book.create_sheet(name)
        for row in sheet_rows:
            other.append(list(row))
    book.save(path)
    return path


def kpis(*args, stdin=None):
    run = run_cli("kpis", *args, "--format", "json", "--to", "2024-02-29", stdin=stdin)
    assert run.code == 0, run.stderr
    return run.json()


def fails(*args, stdin=None):
    run = run_cli("kpis", *args, stdin=stdin)
    assert run.code == 2, (run.code, run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    return lines[0]


def test_xlsx_reads_like_the_same_csv(tmp_path):
    book = workbook(tmp_path / "orders.xlsx")
    csv = write_csv(tmp_path / "orders.csv", "Mã khách hàng,Ngày đặt hàng,Mã đơn hàng,Thành tiền\n"
                    "17850,2024-01-02 09:30:00,1001,120.5\n17850,2024-02-03,1002,80\nKH02,2024-02-04,1003,50.25")
    from_excel, from_csv = kpis(book), kpis(csv)
    assert from_excel["metrics"] == from_csv["metrics"]
    m = from_excel["metrics"]
    assert (m["customers"], m["orders"], m["revenue"], m["repeat_customers"]) == (2, 3, 250.75, 1)
    assert from_excel["period"]["from"] == "2024-01-02"


def test_whole_number_ids_are_text_without_point_zero(tmp_path):
    run = run_cli("inspect", workbook(tmp_path / "orders.xlsx"), "--format", "json")
    assert run.code == 0, run.stderr
    report = run.json()
    assert "17850" in report["samples"]["customer_id"] and "1001" in report["samples"]["order_id"]
    assert report["sources"] == [{"file": str(tmp_path / "orders.xlsx"), "format": "excel", "rows": 3}]


def test_sheet_option_and_config_key(tmp_path):
    other = (HEADER, ("Z", dt.date(2024, 1, 5), 9.0, 7.0))
    book = workbook(tmp_path / "orders.xlsx", extra_sheets=[("Tháng 1", other)])
    assert kpis(book)["metrics"]["revenue"] == 250.75  # the first sheet
    assert kpis(book, "--sheet", "Tháng 1")["metrics"]["revenue"] == 7.0
    assert kpis(book, "--sheet", " tháng 1 ")["metrics"]["revenue"] == 7.0  # case and spaces ignored
    config = tmp_path / "retainkit.toml"
    config.write_text('[options]\nsheet = "Tháng 1"\n', encoding="utf-8")
    assert kpis(book, "--config", config)["metrics"]["revenue"] == 7.0


def test_the_first_visible_sheet_and_a_sheet_named_by_a_number(tmp_path):
    other = (HEADER, ("Z", dt.date(2024, 1, 5), 9.0, 7.0))
    book = workbook(tmp_path / "orders.xlsx", extra_sheets=[("2024", other)])
    loaded = openpyxl.load_workbook(book)
    loaded["Orders"].sheet_state = "hidden"
    loaded.save(book)
    assert kpis(book)["metrics"]["revenue"] == 7.0
    config = tmp_path / "retainkit.toml"
    config.write_text("[options]\nsheet = 2024\n", encoding="utf-8")
    assert kpis(book, "--config", config)["metrics"]["revenue"] == 7.0


def test_missing_sheet_lists_the_sheets(tmp_path):
    book = workbook(tmp_path / "orders.xlsx", extra_sheets=[("Tháng 1", [HEADER])])
    assert fails(book, "--sheet", "Feb") == ("retainkit: error: " + f"{book}: no sheet 'Feb' — its sheets: Orders, Tháng 1")


def test_errors_name_sheet_and_spreadsheet_row(tmp_path):
    rows = [("A", "2024-01-05", 1.0, 10.0), ("B", "2024-02-30", 2.0, 20.0)]
    book = workbook(tmp_path / "orders.xlsx", rows)
    line = fails(book)
    assert f"{book}, sheet Orders, row 3, column order_date: cannot read date '2024-02-30'" in line


def test_title_rows_above_the_header_are_skipped_and_rows_still_counted_right(tmp_path):
    above = [("Báo cáo đơn hàng",), ()]
    rows = [("A", dt.date(2024, 1, 5), 1.0, 10.0), ("B", "05 Mar 2024", 2.0, 20.0)]
    book = workbook(tmp_path / "orders.xlsx", rows, above=above)
    assert f"{book}, sheet Orders, row 5, column order_date: cannot read date '05 Mar 2024'" in fails(book)


def test_blank_rows_at_the_end_are_not_data(tmp_path):
    rows = [*ROWS, (None, None, None, None), (" ", None, "", None)]
    document = kpis(workbook(tmp_path / "orders.xlsx", rows))
    assert document["data_quality"]["rows"] == 3 and document["data_quality"]["missing_customer_rows"] == 0


def test_date_cells_and_text_dates_in_one_column(tmp_path):
    rows = [("A", dt.date(2024, 1, 5), 1.0, 10.0), ("B", "2024-02-07", 2.0, 20.0),
            ("C", dt.datetime(2024, 2, 9, 23, 59), 3.0, 5.0)]
    document = kpis(workbook(tmp_path / "orders.xlsx", rows))
    assert (document["period"]["from"], document["metrics"]["orders"]) == ("2024-01-05", 3)
    run = run_cli("customers", tmp_path / "orders.xlsx", "--format", "json")
    assert sorted(r[run.json()["columns"].index("last_order")] for r in run.json()["rows"]) == [
        "2024-01-05", "2024-02-07", "2024-02-09"]


def test_date_cells_beside_day_first_dates_typed_as_text(tmp_path):
    """Excel keeps some dates as date cells (read as ISO) and leaves others typed as text
    (``25/01/2024``): ISO is always read, the text by the order its own values prove."""
    rows = [("A", dt.date(2024, 1, 5), 1.0, 10.0), ("B", "25/01/2024", 2.0, 20.0), ("C", "26/01/2024", 3.0, 5.0)]
    document = kpis(workbook(tmp_path / "orders.xlsx", rows))
    assert (document["period"]["from"], document["period"]["to"]) == ("2024-01-05", "2024-02-29")
    assert document["metrics"]["orders"] == 3 and document["metrics"]["revenue"] == 35


def test_amounts_mixing_number_cells_and_text_cells(tmp_path):
    # Number cells carry no decimal mark; the text cell "7,5" settles the comma for the column.
    rows = [("A", dt.date(2024, 1, 5), 1.0, 10.5), ("B", dt.date(2024, 1, 6), 2.0, "7,5"),
            ("C", dt.date(2024, 1, 7), 3.0, 1.25)]
    assert kpis(workbook(tmp_path / "orders.xlsx", rows))["metrics"]["revenue"] == 19.25


def test_text_amounts_keep_the_decimal_mark_rules(tmp_path):
    rows = [("A", dt.date(2024, 1, 5), 1.0, "250.000 ₫"), ("B", dt.date(2024, 1, 6), 2.0, "99.500 ₫")]
    assert kpis(workbook(tmp_path / "orders.xlsx", rows))["metrics"]["revenue"] == 349500.0


def test_a_folder_with_an_xlsx_and_a_csv(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    workbook(folder / "jan.xlsx", [("A", dt.date(2024, 1, 5), 1.0, 10.5)])
    write_csv(folder / "feb.csv", "Mã khách hàng;Ngày đặt hàng;Mã đơn hàng;Thành tiền\nA;2024-02-05;2;7,25")
    (folder / "~$jan.xlsx").write_bytes(b"lock")  # Excel's lock file is not data
    document = kpis(folder)
    assert (document["metrics"]["orders"], document["metrics"]["revenue"]) == (2, 17.75)


def test_xlsx_on_stdin_and_under_a_csv_name(tmp_path):
    book = workbook(tmp_path / "orders.xlsx")
    assert kpis("-", stdin=book.read_bytes())["metrics"]["revenue"] == 250.75
    renamed = tmp_path / "orders.csv"
    renamed.write_bytes(book.read_bytes())
    assert kpis(renamed)["metrics"]["revenue"] == 250.75


# ---------------------------------------------------------------- formats read by their bytes

CSV = b"customer_id,order_date,amount\nA,2024-01-05,10.50\nA,2024-02-05,2.25\n"


def parquet_bytes():
    sink = io.BytesIO()
    pq.write_table(pa.table({"customer_id": ["A", "A"], "order_date": ["2024-01-05", "2024-02-05"],
                             "amount": [10.5, 2.25]}), sink)
    return sink.getvalue()


@pytest.mark.parametrize("data", [gzip.compress(CSV), parquet_bytes(), gzip.compress(parquet_bytes())],
                         ids=["gzip csv", "parquet", "gzip parquet"])
def test_binary_formats_on_stdin_are_read(data):
    assert kpis("-", stdin=data)["metrics"]["revenue"] == 12.75


@pytest.mark.parametrize("name", ["orders.csv", "orders.txt"])
def test_a_file_read_by_its_bytes_not_its_name(tmp_path, name):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / name).write_bytes(parquet_bytes())
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / name).write_bytes(gzip.compress(CSV))
    assert kpis(tmp_path / "p" / name)["metrics"]["revenue"] == 12.75
    assert kpis(tmp_path / "g" / name)["metrics"]["revenue"] == 12.75


def test_utf16_text_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "unicode.txt"  # Excel's "Unicode Text": UTF-16, tab-separated
    path.write_bytes(CSV.decode().replace(",", "\t").encode("utf-16"))
    assert kpis(path)["metrics"]["revenue"] == 12.75


def zipped(members):
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        for member in members:
            archive.writestr(member, b"x")
    return sink.getvalue()


@pytest.mark.parametrize(("data", "named"), [
    (zipped(["Index/Document.iwa", "Metadata/Properties.plist"]), "cannot read an Apple Numbers file"),
    (zipped(["orders.csv"]), "cannot read a zip archive (holding orders.csv)"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "cannot read a PDF document"),
    (b"BZh91AY&SY\x00\x01\x02", "cannot read bzip2-compressed data"),
    (bytes(range(256)) * 4, "cannot read binary data"),
], ids=["numbers", "zip", "pdf", "bzip2", "binary"])
def test_unreadable_formats_on_stdin_are_named_never_not_utf8(data, named):
    line = fails("-", stdin=data)
    assert f"retainkit: error: -: {named}" in line and "UTF-8" not in line


def test_unreadable_files_are_named(tmp_path):
    numbers = tmp_path / "orders.numbers"
    numbers.write_bytes(zipped(["Index/Document.iwa"]))
    assert "orders.numbers: cannot read an Apple Numbers file" in fails(numbers)
    package = tmp_path / "old.numbers"  # older Numbers documents are folders
    package.mkdir()
    (package / "index.xml.gz").write_bytes(b"")
    assert "old.numbers: cannot read an Apple Numbers file" in fails(package)
    html = tmp_path / "export.xls"
    html.write_text("<html><body><table><tr><td>Mã KH</td></tr></table></body></html>")
    assert "export.xls: cannot read an HTML page" in fails(html)
    text = tmp_path / "orders.xlsx"
    text.write_bytes(CSV)
    line = fails(text)
    assert "orders.xlsx: not an Excel workbook (it holds text, like CSV)" in line and "rename it to .csv" in line
    broken = tmp_path / "broken.xls"
    broken.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    assert "broken.xls: cannot read this workbook" in fails(broken)


def test_date_cells_meet_text_dates_of_another_file_in_the_date_format(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    workbook(folder / "jan.xlsx", [("A", dt.date(2024, 1, 5), 1.0, 10.0)])
    write_csv(folder / "feb.csv", "Mã khách hàng,Ngày đặt hàng,Mã đơn hàng,Thành tiền\nA,05/02/2024,2,5")
    document = kpis(folder, "--date-format", "%d/%m/%Y")
    assert (document["period"]["from"], document["metrics"]["orders"]) == ("2024-01-05", 2)
    assert document["metrics"]["repeat_customers"] == 1


def ods(path, rows):
    """A minimal OpenDocument spreadsheet, written by hand (``D:`` marks a date cell)."""

    def cell(value):
        if isinstance(value, float):
            return f'<table:table-cell office:value-type="float" office:value="{value}"><text:p>{value}</text:p></table:table-cell>'
        if value.startswith("D:"):
            return (f'<table:table-cell office:value-type="date" office:date-value="{value[2:]}">'
                    f"<text:p>{value[2:]}</text:p></table:table-cell>")
        return f'<table:table-cell office:value-type="string"><text:p>{value}</text:p></table:table-cell>'

    body = "".join("<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>" for row in rows)
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content '
               'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body>'
               f'<office:spreadsheet><table:table table:name="Orders">{body}</table:table></office:spreadsheet>'
               "</office:body></office:document-content>")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml", (
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
            'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
            '<manifest:file-entry manifest:full-path="/" '
            'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/></manifest:manifest>'))
    return path


def test_opendocument_spreadsheets_are_read_too(tmp_path):
    rows = [["customer_id", "order_date", "amount"], ["A", "D:2024-01-05", 10.5], ["A", "D:2024-02-05", 2.25]]
    document = kpis(ods(tmp_path / "orders.ods", rows))
    assert (document["metrics"]["orders"], document["metrics"]["revenue"]) == (2, 12.75)
