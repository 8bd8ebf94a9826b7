"""A large CSV is read as two halves side by side (``load_blocks.split_point``): the same rows,
the same numbers and the same error lines as one reader, whatever the quoting and line ends.

Blocks are made tiny here so that a few kilobytes make a "large" file.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import retainkit.load_csv
from retainkit.config import ReadOptions
from retainkit.load_blocks import plan_blocks, split_point
from tests.conftest import one_line, run_cli, write_csv


def shop_csv(rows: int, *, eol: str = "\n", bad: dict[int, str] | None = None) -> str:
    """Orders with quoted notes holding commas and quotes; row ``i`` replaced by ``bad[i]``."""
    lines = ["customer_id,order_date,note,amount"]
    for i in range(rows):
        line = f'c{i % 37},2024-{1 + i % 12:02d}-{1 + i % 28:02d},"n, ""{i}""",{i}.5'
        lines.append((bad or {}).get(i, line))
    return eol.join(lines) + eol


def kpis_json(path, monkeypatch, block: int) -> dict:
    monkeypatch.setattr(retainkit.load_csv, "BLOCK_SIZE", block)
    run = run_cli("kpis", path, "--format", "json")
    assert run.code == 0, run.stderr
    return run.json()


def spy_on_halves(monkeypatch) -> list[int]:
    splits: list[int] = []
    real = retainkit.load_csv._read_halves

    def spy(csv_input, split, *args):
        splits.append(split)
        return real(csv_input, split, *args)

    monkeypatch.setattr(retainkit.load_csv, "_read_halves", spy)
    return splits


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
@pytest.mark.parametrize("prefix", ["", "\ufeff", "sep=,\n"])
def test_two_halves_give_what_one_reader_gives(monkeypatch, tmp_path, eol, prefix):
    path = write_csv(tmp_path / "x.csv", prefix + shop_csv(600, eol=eol))
    splits = spy_on_halves(monkeypatch)
    halves = kpis_json(path, monkeypatch, 512)
    assert len(splits) == 1 and 0 < splits[0] < path.stat().st_size
    whole = kpis_json(path, monkeypatch, 1 << 24)
    assert len(splits) == 1  # one block: one reader
    assert halves == whole
    assert halves["data_quality"]["rows"] == 600
    assert halves["metrics"]["revenue"] == sum(i + 0.5 for i in range(600))


def test_bytes_from_stdin_are_read_in_halves_too(monkeypatch):
    text = shop_csv(400)
    splits = spy_on_halves(monkeypatch)
    monkeypatch.setattr(retainkit.load_csv, "BLOCK_SIZE", 500)
    table, _, _ = retainkit.load_csv.read_csv(retainkit.load_csv.CsvInput("-", text.encode()), ReadOptions())
    assert len(splits) == 1
    assert table.column("amount").to_pylist() == [f"{i}.5" for i in range(400)]


def test_an_error_in_the_second_half_names_its_own_line(monkeypatch, tmp_path):
    bad_date = write_csv(tmp_path / "d.csv", shop_csv(600, bad={550: "c1,2024-02-30,x,1"}))
    monkeypatch.setattr(retainkit.load_csv, "BLOCK_SIZE", 512)
    assert f"{bad_date}, line 552, column order_date: cannot read date '2024-02-30'" in one_line(
        run_cli("kpis", bad_date))
    ragged = write_csv(tmp_path / "r.csv", shop_csv(600, bad={500: "c1,2024-02-03,x,1,extra"}))
    assert f"{ragged}, line 502: 5 fields where the header has 4" in one_line(run_cli("kpis", ragged))


def test_a_header_repeated_in_the_second_half_is_dropped_and_counted(monkeypatch, tmp_path):
    path = write_csv(tmp_path / "x.csv", shop_csv(600, bad={450: "customer_id,order_date,note,amount"}))
    document = kpis_json(path, monkeypatch, 512)
    assert document["data_quality"]["rows"] == 599


@pytest.mark.parametrize("later", ["2024-02-03 10:00:00", "2024-02-03 10:00:00.5+02", ""])
def test_a_second_half_whose_dates_do_not_fit_the_first_halfs_type_is_read_as_one_file(monkeypatch, tmp_path, later):
    # The first half's dates are whole-second stamps with an offset; further down one gains
    # a fraction (or the time, or goes empty): read as one file, Arrow types the whole column.
    first = [f"c{i % 37},2024-01-{1 + i % 28:02d} 10:00:00+02,{i}.5" for i in range(300)]
    bad = {250: f"c1,{later},1"} if later else {i: f"c{i % 37},,{i}.5" for i in range(150, 300)}
    text = "customer_id,order_date,amount\n" + "\n".join(bad.get(i, line) for i, line in enumerate(first)) + "\n"
    path = write_csv(tmp_path / "x.csv", text)
    assert kpis_json(path, monkeypatch, 512) == kpis_json(path, monkeypatch, 1 << 24)


def test_the_readers_files_are_closed_even_when_the_second_half_is_wrong(monkeypatch, tmp_path):
    opened: list[retainkit.load_csv.ByteRange] = []

    class Recorded(retainkit.load_csv.ByteRange):
        def __init__(self, *args):
            super().__init__(*args)
            opened.append(self)

    monkeypatch.setattr(retainkit.load_csv, "ByteRange", Recorded)
    monkeypatch.setattr(retainkit.load_csv, "BLOCK_SIZE", 512)
    good = write_csv(tmp_path / "good.csv", shop_csv(600))
    ragged = write_csv(tmp_path / "ragged.csv", shop_csv(600, bad={500: "c1,2024-02-03,x,1,extra"}))
    assert run_cli("kpis", good).code == 0 and run_cli("kpis", ragged).code == 2
    assert len(opened) == 4 and all(reader.closed for reader in opened)


def test_no_split_at_a_record_that_starts_with_a_byte_order_mark():
    # A reader drops a BOM at its start, where one reader keeps it (files joined with cat).
    data = b"".join(b"c%d,2024-01-01,%d\n" % (i, i) for i in range(100))
    split = split_point(data, 256)
    assert split is not None
    assert split_point(data[:split] + "\ufeff".encode() + data[split:], 256) is None


def test_no_split_where_a_reader_would_cut_inside_quotes():
    rows = "".join(f'c{i},"a\nb",{i}\n' for i in range(200)).encode()  # a quoted newline on every row
    assert split_point(rows, 64, ",", window=0) is None
    plan = plan_blocks(rows, 64, ",", window=0)
    assert plan.split is None and plan.track_quotes


def test_no_split_in_a_file_under_a_block_for_each_reader():
    data = b"".join(b"c%d,%d\n" % (i, i) for i in range(30))
    assert split_point(data, len(data) // 2 + 1) is None
    assert split_point(data, len(data) // 3) is not None


def _rows(data: bytes, block: int, track_quotes: bool, names: list[str] | None = None) -> list[dict]:
    return pacsv.read_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(block_size=block, column_names=names or ["f0", "f1", "f2"]),
        parse_options=pacsv.ParseOptions(newlines_in_values=track_quotes),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(["f0", "f1", "f2"], pa.string())),
    ).to_pylist()


def _halves(data: bytes, block: int, split: int) -> list[dict] | None:
    try:
        return _rows(data[:split], block, False) + _rows(data[split:], block, False)
    except pa.ArrowInvalid:
        return None


_FIELD = st.one_of(
    st.lists(st.sampled_from(["a", " ", '12"', 'x"y']), max_size=3).map("".join),
    st.builds(lambda inner, tail: f'"{inner}"{tail}',
              st.lists(st.sampled_from(["a", ",", "\n", "\r\n", "\r", '""']), max_size=5).map("".join),
              st.sampled_from(["", "", "z", '"'])),
)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.lists(_FIELD, min_size=3, max_size=3), min_size=4, max_size=40),
       eol=st.sampled_from(["\n", "\r\n", "\r"]), bom=st.booleans(), block=st.integers(8, 160))
def test_a_split_is_offered_only_where_the_halves_read_as_the_whole(rows, eol, bom, block):
    # Arrow itself is the judge: whenever a split point is offered, reading the bytes before
    # it and the bytes from it, each without quote tracking, gives the rows of one exact read.
    # Rows are shorter than a block, as with the reader's 16 MiB blocks (Arrow refuses a row
    # that spans three blocks, split or not).
    assume(max(len(",".join(r).encode()) for r in rows) + 3 < block)
    data = (("\ufeff" if bom else "") + eol.join(",".join(r) for r in rows) + eol).encode()
    split = split_point(data, block, ",", window=0)
    if split is None:
        return
    try:
        exact = _rows(data, 1 << 20, True)
    except pa.ArrowInvalid:
        return
    assert _halves(data, block, split) == exact


def test_a_file_with_classic_mac_line_ends_larger_than_a_block_is_read(monkeypatch, tmp_path):
    # Bare \r ends every line: the header is found by it (it was looked for by \n alone, so a
    # file over one block was "a header longer than the block"), and the halves split at one.
    path = write_csv(tmp_path / "x.csv", shop_csv(3000, eol="\r"))
    assert path.stat().st_size > 65536
    splits = spy_on_halves(monkeypatch)
    document = kpis_json(path, monkeypatch, 8192)
    assert len(splits) == 1
    assert document["data_quality"]["rows"] == 3000
    assert document["metrics"]["revenue"] == sum(i + 0.5 for i in range(3000))
