"""Hostile files (issue 10 items 2, 4, 5 and Parquet types of item 1; issue 11 item 5): every
input gets a right answer or one clear line with exit 2, never exit 3, and no file is lost.

Each case builds its own small file. Exit codes and whole one-line messages are checked.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import retainkit.load_csv
import retainkit.pipeline
from retainkit.load_blocks import cut_inside_quotes
from tests.conftest import GOLDEN, run_cli


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
