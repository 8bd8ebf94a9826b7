"""Exit codes that mean what they say (SPEC §7), and the CSV misreadings of issue 8 item 8.

2: bad input or usage, a file that cannot be read or written, an optional extra missing —
one line ``retainkit: error: …`` with a hint. 3: a bug. ``--debug`` adds the traceback
and keeps the status.
"""

from __future__ import annotations

import sys

import pyarrow as pa
import pytest

import retainkit.load
import retainkit.load_csv
import retainkit.pipeline
from retainkit.config import ReadOptions
from tests.conftest import GOLDEN, ROOT, one_line, run_cli, write_csv

SHOP = GOLDEN / "shop_small.csv"
EXAMPLE = ROOT / "examples"


# ---------------------------------------------------------------- --output


def test_output_into_a_missing_folder(tmp_path):
    target = tmp_path / "no" / "such" / "kpis.json"
    line = one_line(run_cli("kpis", SHOP, "-f", "json", "--output", target))
    assert line == (f"retainkit: error: --output {target}: folder {target.parent} does not exist"
                    f" — create it first: mkdir -p {target.parent}")
    assert not (tmp_path / "no").exists()


def test_output_naming_a_folder(tmp_path):
    line = one_line(run_cli("customers", SHOP, "-f", "csv", "--output", tmp_path))
    assert f"--output {tmp_path} is a folder" in line and "name a file in it" in line
    assert list(tmp_path.iterdir()) == []


def test_output_inside_a_file_used_as_folder(tmp_path):
    blocker = tmp_path / "report"
    blocker.write_text("x")
    line = one_line(run_cli("report", SHOP, "-f", "md", "--output", blocker / "week.md"))
    assert f"folder {blocker} is not a folder" in line


# ---------------------------------------------------------------- optional extras


def _without(monkeypatch, *modules):
    """Make ``modules`` fail to import, as when the extra is not installed."""
    for name in list(sys.modules):
        if name.split(".")[0] in modules or name.startswith(("retainkit.models", "retainkit.render_report")):
            monkeypatch.delitem(sys.modules, name)
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


@pytest.mark.parametrize(("module", "line"), [
    ("scipy.special", "predict needs SciPy, which is not installed — pip install 'retainkit[predict]'"),
    ("jinja2", "a report needs Jinja2, which is not installed — pip install 'retainkit[report]'"),
    ("matplotlib.backends", "a chart needs matplotlib, which is not installed — pip install 'retainkit[report]'")])
def test_an_optional_module_missing_deep_inside_is_one_line_and_exit_2(module, line):
    from retainkit.cli_runtime import describe

    assert describe(ModuleNotFoundError(f"No module named {module!r}", name=module)) == (line, 2)


def test_predict_without_scipy(monkeypatch):
    _without(monkeypatch, "scipy")
    line = one_line(run_cli("predict", SHOP))
    assert "predict needs SciPy" in line and line.endswith(" — pip install 'retainkit[predict]'")


@pytest.mark.parametrize(("module", "needs"), [("matplotlib", "charts need matplotlib"),
                                               ("jinja2", "reports need Jinja2")])
def test_html_report_without_its_extra(monkeypatch, tmp_path, module, needs):
    _without(monkeypatch, module)
    line = one_line(run_cli("report", EXAMPLE / "orders.csv", "--config", EXAMPLE / "retainkit.toml",
                            "--format", "html", "--output", tmp_path / "r.html"))
    assert needs in line and "pip install 'retainkit[report]'" in line


def test_html_report_without_a_model_section_needs_no_matplotlib(monkeypatch, tmp_path):
    # One customer: the section is one sentence, and the sparklines need no plotting library.
    _without(monkeypatch, "matplotlib")
    one = write_csv(tmp_path / "one.csv", "customer_id,order_date,amount\na,2024-01-03,10\na,2024-03-05,12")
    assert run_cli("report", one, "--format", "html", "--output", tmp_path / "r.html").code == 0
    assert (tmp_path / "r.html").read_text(encoding="utf-8").count("<svg") == 4


# ---------------------------------------------------------------- inputs that vanish


def test_a_file_that_vanished_after_listing(monkeypatch, tmp_path):
    gone = tmp_path / "gone.csv"
    monkeypatch.setattr(retainkit.load, "expand_paths", lambda paths: [str(gone)])
    line = one_line(run_cli("kpis", tmp_path))
    assert line == (f"retainkit: error: {gone}: cannot read (No such file or directory)"
                    " — check that the file is still there and readable")


def test_a_file_that_cannot_be_opened(monkeypatch, tmp_path):
    path = write_csv(tmp_path / "locked.csv", "customer_id,order_date\nA,2024-01-01")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(retainkit.load, "open", denied, raising=False)
    assert f"{path}: cannot read (Permission denied)" in one_line(run_cli("kpis", path))


def test_an_os_error_anywhere_is_bad_input_not_a_bug(monkeypatch):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", "/tmp/x")

    monkeypatch.setattr(retainkit.pipeline, "read_orders", full)
    line = one_line(run_cli("kpis", SHOP))
    assert line.startswith("retainkit: error: /tmp/x: No space left on device — ")


# ---------------------------------------------------------------- bugs and --debug


def test_a_bug_is_exit_3_and_debug_keeps_each_status(monkeypatch, tmp_path):
    def bug(*args, **kwargs):
        raise ZeroDivisionError("boom")

    line = one_line(run_cli("kpis", tmp_path / "missing.csv"))
    assert line.endswith("missing.csv: no such file or folder")
    debug = run_cli("kpis", tmp_path / "missing.csv", "--debug")
    assert debug.code == 2 and "Traceback" in debug.stderr
    monkeypatch.setattr(retainkit.pipeline, "read_orders", bug)
    line = one_line(run_cli("kpis", SHOP), code=3)
    assert "internal error (ZeroDivisionError: boom); rerun with --debug and report it" in line
    debug = run_cli("kpis", SHOP, "--debug")
    assert debug.code == 3 and "Traceback" in debug.stderr and "ZeroDivisionError: boom" in debug.stderr


# ---------------------------------------------------------------- CSV misreadings (item 8)


def test_quoted_headers_padded_with_spaces(tmp_path):
    path = write_csv(tmp_path / "x.csv", '"  CUSTOMER ID ","Order Date "," Amount"\nA,2024-01-01,10.5\nA,2024-02-01,2')
    run = run_cli("kpis", path, "-f", "json")
    assert run.code == 0, run.stderr
    assert (run.json()["metrics"]["customers"], run.json()["metrics"]["revenue"]) == (1, 12.5)


def test_a_ragged_row_names_its_line(tmp_path):
    path = write_csv(tmp_path / "x.csv", 'customer_id,order_date,note,amount\nA,2024-01-01,"two\nlines",1\n\n'
                     "B,2024-01-02,ok,2\nC,2024-01-03,1,000,3\n")
    line = one_line(run_cli("kpis", path))
    assert line.startswith(f"retainkit: error: {path}, line 6: 5 fields where the header has 4 ('C,2024-01-03,1,000,3')")


def test_errors_after_a_value_spanning_lines_name_the_physical_line(tmp_path):
    path = write_csv(tmp_path / "x.csv", 'customer_id,order_date,note\nA,2024-01-01,"one\ntwo\nthree"\nB,2024-02-30,x')
    assert f"{path}, line 5, column order_date: cannot read date '2024-02-30'" in one_line(run_cli("kpis", path))


def test_quoted_newlines_across_reading_blocks(monkeypatch, tmp_path):
    rows = [f'c{i},2024-01-{1 + i % 28:02d},"note\n{i},x",{i}' for i in range(200)]
    path = write_csv(tmp_path / "x.csv", "customer_id,order_date,note,amount\n" + "\n".join(rows))
    monkeypatch.setattr(retainkit.load_csv, "BLOCK_SIZE", 97)  # many block boundaries inside quotes
    run = run_cli("kpis", path, "-f", "json")
    assert run.code == 0, run.stderr
    assert (run.json()["data_quality"]["rows"], run.json()["metrics"]["revenue"]) == (200, sum(range(200)))


@pytest.mark.parametrize("block_size", [61, 97, 150, 233])
@pytest.mark.parametrize("window", [16, 1 << 16])
def test_quotes_are_tracked_exactly_when_a_quoted_newline_meets_a_block_end(monkeypatch, block_size, window):
    # Quoted newlines in a few rows only: at some block ends Arrow must track quotes, at
    # others the fast reading is exact; either way every row and amount is read.
    notes = ['"a\nb"' if i % 17 == 3 else '"q, ""x"""' for i in range(120)]
    text = "customer_id,order_date,note,amount\n" + "".join(
        f"c{i},2024-01-{1 + i % 28:02d},{note},{i}\n" for i, note in enumerate(notes))
    monkeypatch.setattr(retainkit.load_csv, "BLOCK_SIZE", block_size)
    monkeypatch.setattr(retainkit.load_csv, "_END_WINDOW", window)
    table, _, _ = retainkit.load_csv.read_csv(retainkit.load_csv.CsvInput("x", text.encode()), ReadOptions())
    assert table.column("amount").to_pylist() == [str(i) for i in range(120)]


def test_a_quoted_file_without_quoted_newlines_is_read_the_fast_way(monkeypatch):
    text = "".join(f'"c{i}","2024-01-01","{i}"\n' for i in range(100)).encode()
    monkeypatch.setattr(retainkit.load_csv, "BLOCK_SIZE", 200)
    assert not retainkit.load_csv._block_plan(retainkit.load_csv.CsvInput("x", text)).track_quotes
    multiline = text.replace(b'"c50"', b'"c\n50"')  # 200-byte blocks: every byte is near a block end
    assert retainkit.load_csv._block_plan(retainkit.load_csv.CsvInput("x", multiline)).track_quotes


def test_excels_sep_hint_line_sets_the_delimiter_and_lines_still_count(tmp_path):
    path = write_csv(tmp_path / "x.csv", "sep=;\ncustomer_id;order_date;amount\nA;2024-01-01;1,5\nA;2024-02-01;2,25")
    run = run_cli("kpis", path, "-f", "json")
    assert run.code == 0, run.stderr
    assert run.json()["metrics"]["revenue"] == 3.75
    bad = write_csv(tmp_path / "y.csv", 'sep=,\ncustomer_id,order_date,note\nA,2024-01-01,"x\ny"\nB,2024-13-01,z')
    assert f"{bad}, line 5, column order_date: cannot read date '2024-13-01'" in one_line(run_cli("kpis", bad))


def test_a_key_error_in_the_reader_is_not_an_encoding_problem(monkeypatch, tmp_path):
    def missing_column(*args, **kwargs):
        raise pa.ArrowKeyError("Column 'x' in include_columns does not exist in CSV file")

    monkeypatch.setattr(retainkit.load_csv.pacsv, "read_csv", missing_column)
    run = run_cli("kpis", write_csv(tmp_path / "x.csv", "customer_id,order_date\nA,2024-01-01"))
    assert run.code == 3 and "encoding" not in run.stderr and "ArrowKeyError" in run.stderr


def test_an_unknown_encoding_is_named_before_reading(tmp_path):
    path = write_csv(tmp_path / "x.csv", "customer_id,order_date\nA,2024-01-01")
    assert one_line(run_cli("kpis", path, "--encoding", "klingon")) == (
        f"retainkit: error: {path}: unknown encoding 'klingon' — e.g. --encoding cp1252")
