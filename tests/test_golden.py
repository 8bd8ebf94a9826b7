"""The hand-computed golden example (kept in tests/golden, a copy of ../shared/golden), end to
end through the CLI: a bare clone runs these with nothing beside it."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from tests.conftest import GOLDEN, SHARED, need, run_cli

SHOP = GOLDEN / "shop_small.csv"


def assert_matches(actual: dict, expected: dict, where: str) -> None:
    for key, want in expected.items():
        got = actual[key]
        if isinstance(want, float) and not isinstance(want, bool):
            assert got is not None and math.isclose(got, want, rel_tol=0, abs_tol=1e-9), (where, key, got, want)
        else:
            assert got == want, (where, key, got, want)


@pytest.mark.parametrize(
    ("expected_file", "args"),
    [("expected_kpis.json", []), ("expected_kpis_from_2024-01-02.json", ["--from", "2024-01-02"])],
)
def test_golden_kpis_json(expected_file, args):
    expected = json.loads((GOLDEN / expected_file).read_text())
    run = run_cli("kpis", SHOP, "--format", "json", *args)
    assert run.code == 0, run.stderr
    document = run.json()
    assert document["schema_version"] == 1
    assert_matches(document["period"], expected["period"], "period")
    assert_matches(document["metrics"], expected["metrics"], "metrics")
    assert_matches(document["data_quality"], expected["data_quality"], "data_quality")
    assert set(document["metrics"]) == set(expected["metrics"])


def test_golden_csv_is_one_row_with_the_same_numbers():
    run = run_cli("kpis", SHOP, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    assert len(rows) == 1
    row = rows[0]
    assert row["period_from"] == "2023-02-14"
    assert float(row["customer_lifetime_value"]) == pytest.approx(173.18484104047604, abs=1e-9)
    assert row["churn_alert"] == "true"
    assert row["dq_missing_customer_rows"] == "1"


def test_golden_table_groups_kpis_and_shows_quality():
    run = run_cli("kpis", SHOP)
    assert run.code == 0
    for text in ("Volume", "Repeat", "Churn and retention", "Value", "Data quality",
                 "2023-02-14", "2024-12-31", "60.00%", "1,495.00", "Churn window 180 days",
                 "current 2024-07-05..2024-12-31, base 2024-01-07..2024-07-04"):
        assert text in run.stdout
    assert "Rows without customer" in run.stdout


def test_golden_markdown():
    run = run_cli("kpis", SHOP, "--format", "md")
    assert run.stdout.startswith("# Retention KPIs, 2023-02-14 to 2024-12-31")
    assert "| Repeat customer rate | 60.00% |" in run.stdout


def test_json_has_no_nan_and_nulls_for_undefined(tmp_path):
    # One customer, one order: churn base empty -> churn null, alert null.
    path = tmp_path / "one.csv"
    path.write_text("customer_id,order_date,amount\nA,2024-01-01,10\n")
    document = run_cli("kpis", path, "--format", "json").json()
    assert document["metrics"]["churn_rate"] is None
    assert document["metrics"]["churn_alert"] is None
    assert document["metrics"]["avg_days_between_orders"] is None
    assert document["metrics"]["referral_rate"] is None
    assert "NaN" not in json.dumps(document)


def test_cli_json_equals_library_call():
    import retainkit

    data = retainkit.read_orders(str(SHOP))
    library = retainkit.kpi_report(data, files=[str(SHOP)])
    assert run_cli("kpis", SHOP, "--format", "json").json() == json.loads(json.dumps(library))


def test_golden_copy_is_current():
    """The golden files kept with the tests are byte-identical to ../shared/golden when it is present."""
    original = need(SHARED / "golden")
    for path in sorted(original.iterdir()):
        assert (GOLDEN / path.name).read_bytes() == path.read_bytes(), f"tests/golden/{path.name} is out of date"
