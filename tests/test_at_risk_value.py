"""``at-risk --by value``: the at-risk customers priced by predict's default models (issue 14, item 5)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from retainkit.pipeline import AT_RISK_COLUMNS, AT_RISK_VALUE_COLUMNS
from tests.conftest import one_line, run_cli, write_csv

END = date(2024, 12, 31)
#: (customer, days between orders, orders, days before END of the last order, amount): steady buyers and
#: repeaters who stopped 60 to 150 days ago, so revenue and value rank the at-risk customers differently.
RHYTHMS = [
    ("c00", 14, 6, 0, 40), ("c01", 7, 3, 90, 41), ("c02", 7, 5, 120, 30), ("c03", 10, 8, 0, 25),
    ("c04", 14, 4, 150, 90), ("c05", 10, 3, 90, 49), ("c06", 14, 3, 60, 44), ("c07", 30, 4, 90, 49),
    ("c08", 21, 7, 0, 60), ("c09", 7, 5, 150, 68), ("c10", 30, 5, 0, 35), ("c11", 21, 5, 120, 62),
    ("c12", 14, 7, 120, 55), ("c13", 7, 4, 150, 39),
]


def export(tmp_path: Path, *, amounts: bool = True) -> Path:
    """A small hand-made export: the customers of :data:`RHYTHMS`, one one-time buyer, and one order on END."""
    rows = [(name, END - timedelta(days=stop + gap * k), amount + k % 3)
            for name, gap, count, stop, amount in RHYTHMS for k in range(count)]
    rows += [("solo", date(2024, 3, 3), 30), ("last", END, 20)]
    header = "customer_id,order_date,amount" if amounts else "customer_id,order_date"
    lines = [f"{c},{d}," + str(a) if amounts else f"{c},{d}" for c, d, a in sorted(rows, key=lambda r: (r[1], r[0]))]
    return write_csv(tmp_path / "orders.csv", "\n".join([header, *lines]))


@pytest.fixture(autouse=True)
def no_user_config(tmp_path, monkeypatch):
    """Tests never read the machine's own config files."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("RETAINKIT_CONFIG", raising=False)


def records(document: dict) -> list[dict]:
    return [dict(zip(document["columns"], row, strict=True)) for row in document["rows"]]


def test_by_value_is_predict_s_value_if_alive_in_order(tmp_path):
    path = export(tmp_path)
    by_value = run_cli("at-risk", path, "--by", "value", "--format", "json")
    assert by_value.code == 0, by_value.stderr
    assert by_value.json()["columns"] == [*AT_RISK_COLUMNS, *AT_RISK_VALUE_COLUMNS]
    predicted = {row["customer_id"]: row for row in records(run_cli("predict", path, "--format", "json").json()
                                                             ["customers"])}
    rows = records(by_value.json())
    ids = [row["customer_id"] for row in rows]
    assert len(ids) >= 5
    assert ids == sorted(ids, key=lambda c: (-predicted[c]["value_if_alive"], c))
    for row in rows:
        expected = predicted[row["customer_id"]]
        assert row["p_alive"] == pytest.approx(expected["p_alive"], rel=1e-9)
        assert row["value_if_alive"] == pytest.approx(expected["value_if_alive"], rel=1e-9)
        assert row["expected_value"] == pytest.approx(expected["clv"], rel=1e-9)
        assert row["expected_value"] == pytest.approx(row["p_alive"] * row["value_if_alive"], rel=1e-9)
    by_revenue = records(run_cli("at-risk", path, "--format", "json").json())
    assert sorted(ids) == sorted(row["customer_id"] for row in by_revenue)  # the same customers
    assert ids != [row["customer_id"] for row in by_revenue]  # ranked differently on this export


def test_the_default_is_by_revenue_and_unchanged(tmp_path):
    path = export(tmp_path)
    default = run_cli("at-risk", path, "--format", "csv")
    assert default.code == 0, default.stderr
    assert default.stdout == run_cli("at-risk", path, "--by", "revenue", "--format", "csv").stdout
    document = run_cli("at-risk", path, "--format", "json").json()
    assert document["columns"] == list(AT_RISK_COLUMNS)
    revenue = [(-row["revenue_365"], row["customer_id"]) for row in records(document)]
    assert revenue == sorted(revenue)
    assert run_cli("at-risk", path).stdout == run_cli("at-risk", path, "--by", "revenue").stdout


def test_by_value_without_amounts_is_one_line(tmp_path):
    line = one_line(run_cli("at-risk", export(tmp_path, amounts=False), "--by", "value"))
    assert "needs amounts" in line and "--amount" in line and "--by revenue" in line


def test_by_value_with_too_few_repeat_buyers_is_one_line(tmp_path):
    path = write_csv(tmp_path / "few.csv", "customer_id,order_date,amount\na,2024-01-01,5\na,2024-02-01,7\n"
                     "b,2024-01-05,3\nc,2024-12-01,4")
    line = one_line(run_cli("at-risk", path, "--by", "value"))
    assert "too few" in line and "--by revenue" in line and "--holdout" not in line


def test_by_value_ranks_customers_not_product_lapses(tmp_path):
    path = write_csv(tmp_path / "p.csv", "customer_id,order_date,amount,sku\na,2024-01-01,5,x\na,2024-02-01,7,x")
    assert "--products" in one_line(run_cli("at-risk", path, "--products", "--by", "value"))


def test_by_from_the_config_file_and_the_command_line_wins(tmp_path, monkeypatch):
    path = export(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "retainkit.toml").write_text('[options]\nby = "value"\n')
    configured = run_cli("at-risk", path, "--format", "json")
    assert configured.code == 0, configured.stderr
    assert configured.json()["columns"][-3:] == list(AT_RISK_VALUE_COLUMNS)
    given = run_cli("at-risk", path, "--by", "revenue", "--format", "json").json()
    assert given["columns"] == list(AT_RISK_COLUMNS)
    (tmp_path / "retainkit.toml").write_text('[options]\nby = "cost"\n')
    assert "must be one of revenue, value" in one_line(run_cli("at-risk", path))


def test_the_help_states_the_horizon():
    text = " ".join(run_cli("at-risk", "--help").stdout.split())
    assert "365 days" in text and "--by" in text
