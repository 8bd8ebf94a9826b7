"""Hostile files (issue 10 items 2, 4, 5 and Parquet types of item 1; issue 11 item 5): every
input gets a right answer or one clear line with exit 2, never exit 3, and no file is lost.

Each case builds its own small file. Exit codes and whole one-line messages are checked.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import retainkit.load_csv
from retainkit.load_blocks import cut_inside_quotes
from tests.conftest import run_cli


def one_line(run, code=2):
    """The single stderr line of a run that exited with ``code`` (and no traceback)."""
    assert run.code == code, (run.code, run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    assert lines[0].startswith("retainkit: error: ")
    return lines[0]


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
