"""Tables for the width they get (issue 9, item 3): every command's table at 40, 80 and 120
columns: no line wider than the width, numbers and dates whole on one line, ids shortened
with an ellipsis, the least important columns dropped with a note, records below 60."""

from __future__ import annotations

import csv
import functools
import io

import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from retainkit.metrics import kpi_views
from retainkit.render import format_value, rich_to_text
from retainkit.render_frames import TREND_SHOWN, _cell, frame_table
from retainkit.render_width import Col, FitTable, shorten, wrap_atoms
from tests.conftest import DATA, GOLDEN, ROOT, need, run_cli

SHOP = GOLDEN / "shop_small.csv"
EXAMPLE = ROOT / "examples" / "orders.csv"
WIDTHS = (40, 80, 120)
INPUTS = pytest.mark.parametrize("path", [SHOP, EXAMPLE], ids=["golden", "example"])
#: Every command's table view, as the command line is given it.
COMMANDS = {
    "kpis": ["kpis"], "customers": ["customers"], "at-risk": ["at-risk"], "lapses": ["at-risk", "--products"],
    "segments": ["segments"], "trend": ["trend"], "cohorts": ["cohorts"], "inspect": ["inspect"],
    "predict": ["predict", "--penalizer", "0.01"],
}
DROPPED = "not shown at this width"


@functools.cache
def at_width(width: int, *args: object) -> str:
    """``retainkit ARGS`` on stdout at ``COLUMNS=width`` (Rich's width in a pipe), run once."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLUMNS", str(width))
        run = run_cli(*args)
    assert run.code == 0, run.stderr
    return run.stdout


@functools.cache
def csv_rows(*args: object) -> list[dict[str, str]]:
    """The rows of ``retainkit ARGS --format csv``, run once."""
    return list(csv.DictReader(io.StringIO(run_cli(*args, "--format", "csv").stdout)))


def whole(value: str, text: str) -> bool:
    """``value`` appears intact on one line of ``text``."""
    return any(value in line for line in text.splitlines())


def money(value: str) -> str:
    return f"{float(value):,.2f}"


def render(renderable: object, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.file.getvalue()


# ---------------------------------------------------------------- every command, every width


@INPUTS
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_no_line_is_wider_than_the_width(command, width, path):
    out = at_width(width, COMMANDS[command][0], path, *COMMANDS[command][1:])
    wide = [line for line in out.splitlines() if cell_len(line) > width]
    assert not wide, "\n".join(wide)
    assert out.strip()


@INPUTS
@pytest.mark.parametrize("width", WIDTHS)
def test_customers_revenue_recency_and_orders_are_whole(width, path):
    out = at_width(width, "customers", path)
    for row in csv_rows("customers", path)[:50]:
        for value in (money(row["revenue"]), f"{int(row['recency_days']):,}", row["orders"]):
            assert whole(value, out), (value, row["customer_id"])


@pytest.mark.parametrize("width", WIDTHS)
def test_golden_revenues_appear_intact(width):
    out = at_width(width, "customers", SHOP)
    with (GOLDEN / "expected_customers.csv").open() as handle:
        for row in csv.DictReader(handle):
            assert whole(money(row["revenue"]), out), row


@INPUTS
@pytest.mark.parametrize("width", WIDTHS)
def test_at_risk_and_lapses_numbers_and_dates_are_whole(width, path):
    out = at_width(width, "at-risk", path)
    for row in csv_rows("at-risk", path)[:50]:
        assert whole(money(row["revenue_365"]), out), row
    lapses = at_width(width, "at-risk", path, "--products")
    for row in csv_rows("at-risk", path, "--products")[:50]:
        assert whole(row["last_purchase"], lapses) and whole(f"{int(row['days_since']):,}", lapses), row


@INPUTS
@pytest.mark.parametrize("width", WIDTHS)
def test_kpis_values_are_whole(width, path):
    out = at_width(width, "kpis", path)
    metrics = run_cli("kpis", path, "--format", "json").json()["metrics"]
    for items in kpi_views().values():
        for key, label, kind in items:
            assert whole(format_value(metrics[key], kind), out), (key, label)


@INPUTS
@pytest.mark.parametrize("width", WIDTHS)
def test_trend_keeps_its_most_important_kpis_whole(width, path):
    out = at_width(width, "trend", path)
    kinds = {key: kind for key, _, kind in TREND_SHOWN}
    for row in csv_rows("trend", path):
        assert whole(row["period"], out)
        for key in ("customers", "revenue"):
            assert whole(format_value(float(row[key]), kinds[key]), out), (row["period"], key)


@INPUTS
@pytest.mark.parametrize("width", WIDTHS)
def test_segments_counts_and_shares_are_whole(width, path):
    out = at_width(width, "segments", path)
    for row in csv_rows("segments", path):
        assert whole(f"{int(row['customers']):,}", out)
        assert whole(_cell("share_of_customers", float(row["share_of_customers"])), out), row


@pytest.mark.parametrize("width", WIDTHS)
def test_predict_values_are_whole(width):
    out = at_width(width, "predict", EXAMPLE, "--penalizer", "0.01")
    for row in csv_rows("predict", EXAMPLE, "--penalizer", "0.01")[:20]:
        assert whole(_cell("clv", float(row["clv"])), out) and whole(_cell("p_alive", float(row["p_alive"])), out)


@pytest.mark.parametrize("width", WIDTHS)
def test_inspect_keeps_counts_dates_and_samples_whole(width):
    out = at_width(width, "inspect", EXAMPLE)
    for value in ("10,113", "2022-01-01", "2024-12-30", "customer0574@example.vn", "-10,644.23"):
        assert whole(value, out), value


@INPUTS
@pytest.mark.parametrize("width", WIDTHS)
def test_cohort_cells_are_never_cut(width, path):
    out = at_width(width, "cohorts", path)
    assert "…" not in out
    assert whole("100%", out)


# ---------------------------------------------------------------- dropping, records


@INPUTS
def test_columns_that_do_not_fit_are_dropped_and_named(path):
    out = at_width(80, "customers", path)
    flat = " ".join(out.split())
    assert DROPPED in flat and "see them all with --format csv" in flat
    named = flat.split(f"{DROPPED}: ", 1)[1].split(";", 1)[0].split(", ")
    assert named and set(named) <= set(csv_rows("customers", path)[0])
    assert "customer_id" not in named and "revenue" not in named  # the least important go first


def test_nothing_is_dropped_when_the_table_fits():
    out = at_width(120, "customers", SHOP)
    assert DROPPED not in out
    for header in ("Customer", "Revenue", "Usual gap", "Revenue 365d", "Segment", "VIP", "Level"):
        assert header in out


@INPUTS
def test_below_60_columns_each_record_is_a_block(path):
    out = at_width(40, "customers", path)
    first = csv_rows("customers", path)[0]
    lines = out.splitlines()
    assert f"customer_id: {first['customer_id']}" in lines
    assert f"  revenue: {money(first['revenue'])}" in lines
    assert "┃" not in out and DROPPED not in out


def test_records_wrap_prose_between_words_only():
    out = at_width(40, "at-risk", EXAMPLE)
    assert any(line.startswith("  why: ") for line in out.splitlines())
    assert "customer_id: customer0770@example.vn" in out.splitlines()


def test_ids_are_shortened_on_one_line_never_broken():
    out = at_width(60, "at-risk", EXAMPLE, "--products")
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert rows and all("@" in line or "…" in line for line in rows)  # every row keeps its id on its line


def test_uci_cohorts_fit_80_columns_without_cut_cells():
    path = need(DATA / "online-retail" / "online_retail.parquet")
    for width in WIDTHS:
        out = at_width(width, "cohorts", path)
        assert "…" not in out and all(cell_len(line) <= width for line in out.splitlines())
        assert ("37%" in out) and (DROPPED in " ".join(out.split())) == (width == 40)


def test_written_output_is_rendered_at_a_fixed_width(tmp_path):
    target = tmp_path / "customers.txt"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLUMNS", "40")
        assert run_cli("customers", EXAMPLE, "--format", "table", "--output", target).code == 0
    lines = target.read_text().splitlines()
    assert any(line.startswith("┏") for line in lines)  # a table, not records: not the terminal's 40
    assert all(cell_len(line) <= 100 for line in lines)


# ---------------------------------------------------------------- the renderable itself


def test_one_renderable_fits_every_width():
    columns = [Col("id", "Customer", "short"), Col("amount", "Amount", justify="right"),
               Col("day", "Last order"), Col("why", "Why", "wrap")]
    rows = [(f"someone{n}@example.com", f"{n * 1234.5:,.2f}", f"2024-0{n}-1{n}", "no order for a long while now")
            for n in range(1, 6)]
    table = FitTable(columns, rows, title="People", importance=("id", "amount", "day", "why"))
    for width in range(24, 131, 7):
        out = render(table, width)
        assert all(cell_len(line) <= width for line in out.splitlines()), width
        for _, amount, day, _ in rows:
            assert whole(amount, out) and whole(day, out), width
    assert rich_to_text(table, width=100) == render(table, 100)


def test_least_important_columns_go_first_and_are_named():
    columns = [Col(k, k.upper()) for k in ("a", "b", "c", "d")]
    table = FitTable(columns, [("1" * 20, "2" * 20, "3" * 20, "4" * 20)], importance=("a", "c", "b", "d"))
    out = render(table, 66)
    assert "1" * 20 in out and "3" * 20 in out and "2" * 20 not in out
    assert "2 columns not shown at this width: b, d; see them all with --format csv" in " ".join(out.split())


def test_text_is_wrapped_between_parts_and_shortened_never_broken():
    assert wrap_atoms("2022-01-01 08:00, 2022-01-02 09:00", 18, ", ") == ["2022-01-01 08:00,", "2022-01-02 09:00"]
    assert wrap_atoms("a verylongword b", 6) == ["a", "veryl…", "b"]
    assert shorten(Text("customer0770@example.vn"), 10).plain == "customer0…"
    assert shorten("abc", 10).plain == "abc"


def test_frame_table_keeps_its_signature_and_notes():
    import pandas as pd

    frame = pd.DataFrame({"customer_id": ["a", "b", "c"], "revenue": [1418.32, 2.0, 3.0]})
    frame.attrs["notes"] = ["a note"]
    out = render(frame_table(frame, title="T", limit=2, bars=None), 80)
    assert "1,418.32" in out and "1 more rows" in out and "a note" in out


def test_an_empty_table_shows_its_headers_and_no_note():
    table = FitTable([Col(k, k.upper() * 8) for k in "abcd"], [], importance="abcd")
    out = render(table, 40)
    assert "AAAAAAAA" in out and DROPPED not in out and all(cell_len(line) <= 40 for line in out.splitlines())
