"""Hostile files (issue 10 items 2, 4, 5 and Parquet types of item 1; issue 11 item 5): every
input gets a right answer or one clear line with exit 2, never exit 3, and no file is lost.

Each case builds its own small file. Exit codes and whole one-line messages are checked.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import gzip
import io
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import threading

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import retainkit.load_csv
import retainkit.pipeline
from retainkit.load_blocks import cut_inside_quotes
from tests.conftest import GOLDEN, one_line, run_cli, write_csv


def kpis(*args, stdin=None):
    run = run_cli("kpis", *args, "--format", "json", stdin=stdin)
    assert run.code == 0, run.stderr
    return run.json()


# ---------------------------------------------------------------- CSV read exactly (issue 10 item 2)

HEADER = "customer_id,order_date,note,amount\n"


def straddling_csv(block: int, newline_at: int, edges: int = 12, inside: str = "\n") -> tuple[str, int]:
    """A CSV whose quoted note holds ``inside`` at ``newline_at`` bytes from every block end
    (``-1``: the newline is the block's last byte); returns the text and its number of rows."""
    text, rows, edge = HEADER, 0, block
    while edge <= block * edges:
        prefix = f'c{rows},2024-01-{1 + rows % 28:02d},"'
        target = edge + newline_at
        while target - len(text) - len(prefix) > 24:
            text += f"c{rows},2024-02-{1 + rows % 28:02d},plain,{rows}\n"
            rows += 1
            prefix = f'c{rows},2024-01-{1 + rows % 28:02d},"'
        pad = target - len(text) - len(prefix)
        if pad >= 0:
            text += f'{prefix}{"n" * pad}{inside}x",{rows}\n'
            rows += 1
        edge += block
    return text, rows


@pytest.mark.parametrize("newline_at", [-3, -2, -1, 0, 1, 2])
@pytest.mark.parametrize("inside", ["\n", "\r\n", "\r"])
def test_a_quoted_newline_straddling_every_block_edge_is_read(monkeypatch, tmp_path, newline_at, inside):
    block = 128
    text, rows = straddling_csv(block, newline_at, inside=inside)
    path = tmp_path / "x.csv"
    path.write_bytes(text.encode())
    monkeypatch.setattr(retainkit.load_csv, "BLOCK_SIZE", block)
    monkeypatch.setattr(retainkit.load_csv, "_END_WINDOW", 0)  # only where Arrow really cuts
    document = kpis(path)
    assert (document["data_quality"]["rows"], document["metrics"]["revenue"]) == (rows, sum(range(rows)))


def test_a_quote_inside_an_unquoted_value_does_not_fool_the_check(monkeypatch, tmp_path):
    # 5" tv and 7" tv are text (a quote opens a value only at its start): quote parity would
    # call the newline after "a outside quotes, and Arrow would cut the row there.
    block = 96
    text = "customer_id,order_date,product,note,other,amount\n"
    rows = 0
    while len(text) < block * 10:
        prefix = f'c{rows},2024-01-{1 + rows % 28:02d},5" tv,"a'
        edge = (len(text) // block + 1) * block
        pad = edge - 1 - len(text) - len(prefix)
        text += f'{prefix}{"n" * pad}\nb",7" tv,{rows}\n' if 0 <= pad < 40 else f"c{rows},2024-02-01,x,y,z,{rows}\n"
        rows += 1
    path = tmp_path / "x.csv"
    path.write_bytes(text.encode())
    monkeypatch.setattr(retainkit.load_csv, "BLOCK_SIZE", block)
    monkeypatch.setattr(retainkit.load_csv, "_END_WINDOW", 0)
    assert cut_inside_quotes(text.encode(), block)
    document = kpis(path)
    assert (document["data_quality"]["rows"], document["metrics"]["revenue"]) == (rows, sum(range(rows)))


def _arrow_rows(data: bytes, block: int, track_quotes: bool) -> object:
    try:
        return pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(block_size=block, autogenerate_column_names=True),
            parse_options=pacsv.ParseOptions(newlines_in_values=track_quotes),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(["f0", "f1", "f2"], pa.string())),
        ).to_pylist()
    except pa.ArrowInvalid:
        return None


def _joined(parts: list[str]) -> str:
    return "".join(parts)


_FIELD = st.one_of(
    st.lists(st.sampled_from(["a", " ", '12"', 'x"y']), max_size=3).map(_joined),
    st.builds(lambda inner, tail: f'"{inner}"{tail}',
              st.lists(st.sampled_from(["a", ",", "\n", "\r\n", "\r", '""']), max_size=5).map(_joined),
              st.sampled_from(["", "", "z", '"'])),
)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.lists(_FIELD, min_size=3, max_size=3), min_size=2, max_size=25),
       eol=st.sampled_from(["\n", "\r\n", "\r"]), bom=st.booleans(), block=st.integers(8, 90))
def test_reading_without_quote_tracking_only_when_arrow_cuts_no_quoted_value(rows, eol, bom, block):
    # The model of Arrow's blocks and quoting, checked against Arrow itself: whenever the
    # check says no cut falls inside quotes, the fast reading gives the same rows.
    data = (("\ufeff" if bom else "") + eol.join(",".join(r) for r in rows) + eol).encode()
    if not cut_inside_quotes(data, block, ",", window=0):
        exact = _arrow_rows(data, block, True)
        assert exact is None or _arrow_rows(data, block, False) == exact


# ---------------------------------------------------------------- files never lost (issue 10 item 4)

SHOP = GOLDEN / "shop_small.csv"


def shop_copy(tmp_path, name="orders.csv"):
    path = tmp_path / name
    shutil.copy(SHOP, path)
    return path


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_output_naming_the_input_is_refused_before_anything_is_read(monkeypatch, tmp_path):
    orders = shop_copy(tmp_path)
    monkeypatch.setattr(retainkit.pipeline, "read_orders", lambda *a, **k: pytest.fail("read before checking"))
    line = one_line(run_cli("kpis", orders, "--output", orders))
    assert line == (f"retainkit: error: --output {orders} is the input file {orders}: writing would replace "
                    "the export — name another file for the result")
    assert orders.read_bytes() == SHOP.read_bytes()


@pytest.mark.parametrize("how", ["symlink", "hard link", "dot path", "in a folder"])
def test_output_reaching_an_input_another_way_is_refused(tmp_path, how):
    orders = shop_copy(tmp_path)
    given, output = [str(orders)], tmp_path / "other.csv"
    if how == "symlink":
        output.symlink_to(orders)
    elif how == "hard link":
        os.link(orders, output)
    elif how == "dot path":
        output = tmp_path / "." / "sub" / ".." / "orders.csv"
        (tmp_path / "sub").mkdir()
    else:
        given, output = [str(tmp_path)], orders
    for command in ("kpis", "customers", "inspect"):
        line = one_line(run_cli(command, *given, "--output", output, "--format", "json"))
        assert f"--output {output} is the input file " in line and "writing would replace the export" in line
    assert orders.read_bytes() == SHOP.read_bytes()


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    target = tmp_path / "reports" / "kpis.json"
    target.parent.mkdir()
    target.write_text("old report\n")
    link = tmp_path / "latest.json"
    link.symlink_to(target)
    assert run_cli("kpis", SHOP, "--output", link).code == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert json.loads(target.read_text())["metrics"]["customers"] > 0
    assert leftovers(tmp_path) == leftovers(target.parent) == []


def test_a_device_is_written_to_never_replaced(tmp_path):
    assert run_cli("kpis", SHOP, "--output", "/dev/null", "--format", "json").code == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    piped = subprocess.run([sys.executable, "-m", "retainkit", "kpis", str(SHOP), "-f", "json", "-o", "/dev/stdout"],
                           capture_output=True, text=True, timeout=120)  # stdout: a pipe
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["metrics"] == kpis(SHOP)["metrics"]
    assert os.path.islink("/dev/stdout")


def test_a_full_disk_is_one_line_and_the_previous_report_is_intact(monkeypatch, tmp_path):
    report = tmp_path / "kpis.json"
    report.write_text("previous report\n")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    line = one_line(run_cli("kpis", SHOP, "--output", report))
    assert line == (f"retainkit: error: --output {report}: cannot write (No space left on device)"
                    " — check the free space and permissions, or write elsewhere")
    assert report.read_text() == "previous report\n" and leftovers(tmp_path) == []


def test_dev_full_is_one_line_for_a_file_and_for_stdout():
    line = one_line(run_cli("kpis", SHOP, "--output", "/dev/full", "--format", "json"))
    assert line == ("retainkit: error: --output /dev/full: cannot write (No space left on device)"
                    " — check the free space and permissions, or write elsewhere")
    with open("/dev/full", "wb") as full:
        done = subprocess.run([sys.executable, "-m", "retainkit", "kpis", str(SHOP), "-f", "json"],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr == (
        "retainkit: error: cannot write to standard output (No space left on device)"
        " — check the free space where it goes, or give --output FILE\n")


def _limited_file_size():  # runs in the child: files may not grow past 256 bytes
    resource.setrlimit(resource.RLIMIT_FSIZE, (256, 256))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_a_write_that_fails_half_way_leaves_the_previous_report(tmp_path):
    report = tmp_path / "customers.csv"
    report.write_text("previous report\n")
    done = subprocess.run([sys.executable, "-m", "retainkit", "customers", str(SHOP), "--output", str(report)],
                          capture_output=True, text=True, timeout=120, preexec_fn=_limited_file_size,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"retainkit: error: --output {report}: cannot write (File too large)"
                           " — check the free space and permissions, or write elsewhere\n")
    assert report.read_text() == "previous report\n" and leftovers(tmp_path) == []


_STALLED_WRITE = """
import os, sys, time
def stalled(fd):
    print("writing", flush=True)
    time.sleep(60)
os.fsync = stalled  # the report is in its temporary file, not yet renamed
from retainkit.cli import main
sys.argv = ["retainkit", "kpis", sys.argv[1], "--output", sys.argv[2]]
main()
"""


@pytest.mark.parametrize(("sent", "status"), [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, 130),
                                               (signal.SIGHUP, -signal.SIGHUP)])
def test_a_signal_while_writing_removes_the_temporary_file(tmp_path, sent, status):
    report = tmp_path / "kpis.json"
    report.write_text("previous report\n")
    child = subprocess.Popen([sys.executable, "-c", _STALLED_WRITE, str(SHOP), str(report)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "writing\n"
        assert len(leftovers(tmp_path)) == 1
        child.send_signal(sent)
        _, stderr = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == status, stderr
    assert report.read_text() == "previous report\n" and leftovers(tmp_path) == []


# ---------------------------------------------------------------- shell inputs (issue 10 item 5)


def test_a_named_pipe_is_read_like_stdin(tmp_path):
    fifo = tmp_path / "orders.pipe"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(SHOP.read_bytes(),))
    writer.start()
    try:
        assert kpis(fifo)["metrics"] == kpis(SHOP)["metrics"]
    finally:
        writer.join(timeout=30)


def _retainkit_in_bash(command: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f'"{sys.executable}" -m retainkit {command}'], capture_output=True,
                          text=True, timeout=120, **kwargs)


def test_process_substitution_and_dev_stdin(tmp_path):
    packed = tmp_path / "orders.csv.gz"
    packed.write_bytes(gzip.compress(SHOP.read_bytes()))
    expected = kpis(SHOP)["metrics"]
    substituted = _retainkit_in_bash(f"kpis <(zcat '{packed}') -f json")
    assert substituted.returncode == 0, substituted.stderr
    assert json.loads(substituted.stdout)["metrics"] == expected
    with open(SHOP, "rb") as shop:
        piped = subprocess.run([sys.executable, "-m", "retainkit", "kpis", "/dev/stdin", "-f", "json"],
                               stdin=shop, capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["metrics"] == expected


@pytest.mark.parametrize("make", ["/dev/null", "empty file", "blank lines"])
def test_no_bytes_is_no_orders(tmp_path, make):
    path = make if make == "/dev/null" else tmp_path / "orders.csv"
    if make != "/dev/null":
        path.write_text("" if make == "empty file" else "\n \n")
    assert one_line(run_cli("kpis", path)) == (
        f"retainkit: error: {path}: file is empty, no orders to read — export some orders first")


def test_a_folder_reads_its_exports_and_notes_the_rest(tmp_path):
    folder = tmp_path / "exports"
    (folder / "2024").mkdir(parents=True)
    shutil.copy(SHOP, folder / "2024" / "orders.csv")
    for name in ("README.txt", ".DS_Store", "notes.pdf", "~$orders.xlsx"):
        (folder / name).write_text("not orders\n")
    (folder / "old.csv").symlink_to(tmp_path / "gone.csv")
    document = kpis(folder)
    assert document["metrics"] == kpis(SHOP)["metrics"]
    assert document["data_quality"]["notes"] == [
        f"{folder}: 4 files not read (not an export by its suffix): .DS_Store, README.txt, notes.pdf, ~$orders.xlsx",
        f"{folder}: 1 broken link skipped (the file linked to is missing): old.csv",
    ]


def test_a_broken_link_named_on_the_command_line(tmp_path):
    link = tmp_path / "orders.csv"
    link.symlink_to(tmp_path / "gone.csv")
    assert one_line(run_cli("kpis", link)) == (
        f"retainkit: error: {link}: a symbolic link to {tmp_path / 'gone.csv'}, which does not exist")


# ---------------------------------------------------------------- Parquet types (issue 10 item 1)

IDS = pa.array(["A", "B", "A", "C"])
DATES = pa.array([dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1), dt.date(2024, 3, 5)])
AMOUNTS = pa.array([10.0, 20.0, 30.5, 4.0])


def parquet(tmp_path, name="orders.parquet", **columns):
    table = pa.table({"customer_id": IDS, "order_date": DATES, "amount": AMOUNTS, **columns})
    pq.write_table(table, tmp_path / name)
    return tmp_path / name


@pytest.mark.parametrize("columns", [
    {"customer_id": IDS.dictionary_encode()},
    {"order_date": DATES.dictionary_encode()},
    {"order_date": pa.array([d.isoformat() for d in DATES.to_pylist()]).dictionary_encode()},
    {"amount": AMOUNTS.dictionary_encode()},
    {"customer_id": pa.array([s.encode() for s in IDS.to_pylist()], pa.binary())},
    {"customer_id": pa.array([s.encode() for s in IDS.to_pylist()], pa.binary()).dictionary_encode()},
    {"customer_id": IDS.cast(pa.large_string())},
    {"order_date": pa.array([d.isoformat().encode() for d in DATES.to_pylist()], pa.large_binary())},
], ids=["dict ids", "dict dates", "dict text dates", "dict amounts", "binary ids", "dict binary ids",
        "large string ids", "binary dates"])
def test_parquet_encodings_are_read_right(tmp_path, columns):
    assert kpis(parquet(tmp_path, **columns))["metrics"] == kpis(parquet(tmp_path, "plain.parquet"))["metrics"]


_HINT = "or export it as text"


@pytest.mark.parametrize(("columns", "message"), [
    ({"customer_id": pa.array([{"x": 1}] * 4)}, "column customer_id: nested records (struct<x: int64>) where ids "
     "(text or whole numbers) are expected — name the customer id column with --customer COLUMN, " + _HINT),
    ({"customer_id": pa.array([[1]] * 4)}, "column customer_id: lists (list<element: int64>) where ids (text or "
     "whole numbers) are expected — name the customer id column with --customer COLUMN, " + _HINT),
    ({"product": pa.array([[1, 2]] * 4)}, "column product: lists (list<element: int64>) where ids (text or whole "
     "numbers) are expected — name the product column with --product COLUMN, " + _HINT),
    ({"amount": pa.array([True, False, True, True])}, "column amount: true/false values (bool) where numbers are "
     "expected — name the amount column with --amount COLUMN, " + _HINT),
    ({"amount": pa.array([True, False, True, True]).dictionary_encode()}, "column amount: true/false values (bool) "
     "where numbers are expected — name the amount column with --amount COLUMN, " + _HINT),
    ({"order_date": pa.array([{"d": 1}] * 4)}, "column order_date: nested records (struct<d: int64>) where order "
     "dates (dates, timestamps, or text such as 2024-01-31) are expected — name the order date column with "
     "--date COLUMN, " + _HINT),
    ({"order_date": pa.array([1.5] * 4)}, "column order_date: numbers with decimals (double) where order dates "
     "(dates, timestamps, or text such as 2024-01-31) are expected — name the order date column with --date "
     "COLUMN, " + _HINT),
    ({"customer_id": pa.array([b"A\xff", b"B", b"A\xff", b"C"])}, "row 1, column customer_id: bytes that are not "
     "UTF-8 text (41 FF) where customer ids as text are expected — export that column as text (UTF-8)"),
    ({"order_id": pa.array([b"1", b"2", b"3", b"\x80\x81"])}, "row 4, column order_id: bytes that are not UTF-8 "
     "text (80 81) where order ids as text are expected — export that column as text (UTF-8)"),
], ids=["struct id", "list id", "list product", "bool amount", "dict bool amount", "struct date", "float date",
        "binary id", "binary order id"])
def test_parquet_types_that_cannot_be_read_are_one_line(tmp_path, columns, message):
    path = parquet(tmp_path, **columns)
    assert one_line(run_cli("kpis", path)) == f"retainkit: error: {path}, {message}"


def test_two_parquet_columns_of_one_name(tmp_path):
    path = tmp_path / "orders.parquet"
    pq.write_table(pa.Table.from_arrays([IDS, DATES, AMOUNTS, AMOUNTS, IDS, IDS],
                                        names=["customer_id", "order_date", "amount", "amount", "note", "note"]), path)
    assert one_line(run_cli("kpis", path)) == (
        f"retainkit: error: {path}: two columns named 'amount', so which is the amount cannot be told"
        " — rename one of them in the export")
    pq.write_table(pa.Table.from_arrays([IDS, DATES, AMOUNTS, IDS, IDS],
                                        names=["customer_id", "order_date", "amount", "note", "note"]), path)
    assert kpis(path)["metrics"]["revenue"] == 64.5  # an unread column may repeat


# ---------------------------------------------------------------- headers (issue 11 item 5)


def test_rows_repeating_the_header_are_dropped_and_counted(tmp_path):
    path = write_csv(tmp_path / "orders.csv", "customer_id,order_date,amount\nA,2024-01-01,10\nB,2024-01-05,20\n"
                     "customer_id,order_date,amount\nC,2024-02-01,30\n\ncustomer_id,order_date,amount\nA,2024-03-01,5")
    document = kpis(path)
    assert (document["data_quality"]["rows"], document["metrics"]["revenue"]) == (4, 65.0)
    assert document["data_quality"]["notes"] == [
        f"{path}: 2 rows repeating the header inside the data dropped (exports pasted together?), the first on line 4"]
    bad = write_csv(tmp_path / "bad.csv", path.read_text().replace("2024-03-01", "2024-13-01"))
    assert f"{bad}, line 8, column order_date: cannot read date '2024-13-01'" in one_line(run_cli("kpis", bad))


def test_a_header_longer_than_64_kib_is_read_whole(tmp_path):
    others = ",".join(f"column_{i}" for i in range(10_000))
    filler = "," * 9_999
    path = write_csv(tmp_path / "wide.csv", f"{others},customer_id,order_date,amount\n"
                     f"{filler},A,2024-01-01,10\n{filler},A,2024-02-01,5")
    assert len(path.read_text().split("\n")[0]) > 1 << 16
    assert kpis(path)["metrics"]["revenue"] == 15.0


def test_a_message_listing_100000_headers_stays_readable(tmp_path):
    path = write_csv(tmp_path / "wide.csv", ",".join(f"h{i}" for i in range(100_000)) + "\n" + "x," * 99_999 + "x")
    line = one_line(run_cli("kpis", path))
    assert line == (f"retainkit: error: {path}: no customer_id and order_date column found among headers: "
                    "h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11 … and 99,988 more headers"
                    " — name it with --customer COLUMN / --date COLUMN (or in retainkit.toml)")


def test_commas_inside_a_quoted_header_do_not_fool_the_delimiter(tmp_path):
    path = write_csv(tmp_path / "orders.csv", '"customer_id";"order_date";"amount";"Note, as typed, by staff"\n'
                     "A;2024-01-01;10;x\nA;2024-02-01;5;y")
    assert kpis(path)["metrics"]["revenue"] == 15.0


def test_two_csv_columns_of_one_name(tmp_path):
    path = write_csv(tmp_path / "orders.csv", "customer_id,order_date,amount,amount\nA,2024-01-01,10,1")
    assert one_line(run_cli("kpis", path)) == (
        f"retainkit: error: {path}: two columns named 'amount', so which is the amount cannot be told"
        " — rename one of them in the export")


# ---------------------------------------------------------------- anything at all: 0 or 2, never 3

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)


@st.composite
def dialects(draw):
    """A small CSV in a random dialect: delimiter, quoting, line ends, encoding, header spelling."""
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC, csv.QUOTE_NONE]))
    header = draw(st.sampled_from([["customer_id", "order_date", "amount"], ["Mã khách hàng", "Ngày", "Thành tiền"],
                                   ["CustomerID", "InvoiceDate", "Quantity", "UnitPrice"], ["email", "date"]]))
    value = st.one_of(_TEXT, st.dates(dt.date(1990, 1, 1), dt.date(2030, 1, 1)).map(str),
                      st.decimals(-1e6, 1e6, places=2).map(str), st.sampled_from(["", "NA", "null", "1,5", "1e400"]))
    rows = draw(st.lists(st.lists(value, min_size=len(header), max_size=len(header) + 1), max_size=6))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, quoting=quoting, escapechar="\\",
                        lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"])))
    for row in [header, *rows]:
        writer.writerow(row)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"]))
    return out.getvalue().encode(encoding, errors="replace"), draw(st.sampled_from([None, encoding, "utf-8"]))


def _never_a_crash(run) -> None:
    assert run.code in (0, 2), (run.code, run.stderr)
    assert "internal error" not in run.stderr and "Traceback" not in run.stderr, run.stderr


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".csv", ".parquet", ".xlsx", ".csv.gz", ".txt"]))
def test_random_bytes_are_read_or_refused_in_one_line(tmp_path_factory, data, suffix):
    path = tmp_path_factory.mktemp("bytes") / f"orders{suffix}"
    path.write_bytes(data)
    _never_a_crash(run_cli("kpis", path))
    _never_a_crash(run_cli("kpis", "-", stdin=data))


@settings(max_examples=100, deadline=None)
@given(case=dialects())
def test_random_csv_dialects_are_read_or_refused_in_one_line(tmp_path_factory, case):
    data, encoding = case
    path = tmp_path_factory.mktemp("dialect") / "orders.csv"
    path.write_bytes(data)
    _never_a_crash(run_cli("kpis", path, *(["--encoding", encoding] if encoding else [])))


def test_a_reader_that_stops_early_is_no_error(tmp_path):
    rows = "".join(f"c{i},2024-01-{1 + i % 28:02d},{i}\n" for i in range(3000))
    path = write_csv(tmp_path / "orders.csv", "customer_id,order_date,amount\n" + rows)
    child = subprocess.Popen([sys.executable, "-m", "retainkit", "customers", str(path), "-f", "csv"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout.readline().startswith(b"customer_id,")  # then close, as `| head -1` does
    child.stdout.close()
    stderr = child.stderr.read()
    assert child.wait(timeout=120) == 0 and stderr == b""


def _column(kind: str, draw, size: int) -> pa.Array:
    """``size`` random values of Parquet column type ``kind``."""
    nulls = st.none() | st.just(None)
    if kind in ("text", "dict text", "large text", "binary", "bad binary"):
        values = draw(st.lists(nulls | _TEXT | st.dates().map(str), min_size=size, max_size=size))
        array = pa.array(values, pa.string())
        if kind == "dict text":
            return array.dictionary_encode()
        if kind == "large text":
            return array.cast(pa.large_string())
        if kind == "binary":
            return array.cast(pa.binary())
        return pa.array([None if v is None else v.encode() + b"\xff" for v in values], pa.binary())
    if kind in ("int", "uint"):
        low = 0 if kind == "uint" else -(2**63)
        return pa.array(draw(st.lists(nulls | st.integers(low, 2**63 - 1), min_size=size, max_size=size)),
                        pa.uint64() if kind == "uint" else pa.int64())
    if kind == "float":
        return pa.array(draw(st.lists(nulls | st.floats(), min_size=size, max_size=size)), pa.float64())
    if kind == "bool":
        return pa.array(draw(st.lists(nulls | st.booleans(), min_size=size, max_size=size)), pa.bool_())
    if kind in ("date", "dict date"):
        array = pa.array(draw(st.lists(nulls | st.dates(), min_size=size, max_size=size)), pa.date32())
        return array.dictionary_encode() if kind == "dict date" else array
    if kind in ("timestamp", "timestamp tz"):
        stamps = draw(st.lists(nulls | st.datetimes(dt.datetime(1700, 1, 1), dt.datetime(2250, 1, 1)),
                               min_size=size, max_size=size))
        return pa.array(stamps, pa.timestamp("us", tz="Asia/Ho_Chi_Minh" if kind == "timestamp tz" else None))
    if kind == "decimal":
        return pa.array(draw(st.lists(nulls | st.decimals(-1e9, 1e9, places=2), min_size=size, max_size=size)),
                        pa.decimal128(14, 2))
    if kind == "struct":
        return pa.array([{"x": i} for i in range(size)])
    if kind == "list":
        return pa.array([[i] for i in range(size)])
    return pa.nulls(size)


_KINDS = ["text", "dict text", "large text", "binary", "bad binary", "int", "uint", "float", "bool", "date",
          "dict date", "timestamp", "timestamp tz", "decimal", "struct", "list", "null"]


@settings(max_examples=100, deadline=None)
@given(data=st.data(), kinds=st.tuples(*[st.sampled_from(_KINDS)] * 3), size=st.integers(1, 6))
def test_random_parquet_schemas_are_read_or_refused_in_one_line(tmp_path_factory, data, kinds, size):
    columns = {name: _column(kind, data.draw, size) for name, kind in zip(("customer_id", "order_date", "amount"),
                                                                            kinds, strict=True)}
    path = tmp_path_factory.mktemp("parquet") / "orders.parquet"
    pq.write_table(pa.table(columns), path)
    _never_a_crash(run_cli("kpis", path))


def test_one_stray_control_character_in_a_small_csv_is_not_binary_data(tmp_path):
    """A ten-line CSV with one ESC in an id is text: read, not refused as "binary data"."""
    path = tmp_path / "orders.csv"
    path.write_bytes(b"order_id,customer_id,order_date,amount\n1,A,2024-01-01,5\n2,B\x1b,2024-01-02,6\n")
    run = run_cli("kpis", path, "--format", "json")
    assert run.code == 0, run.stderr
    assert run.json()["metrics"]["orders"] == 2
