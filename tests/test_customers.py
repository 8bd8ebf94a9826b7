"""SPEC §5 on hand-made frames: RFM, at risk, the ladder, VIPs, product lapses; and the CLI."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from retainkit.customers import (
    CustomerOptions,
    customer_table,
    product_lapses,
    rfm_scores,
    select_customers,
    vip_flags,
)
from retainkit.errors import RetainkitError
from retainkit.periods import Period
from retainkit.reductions import customer_windows
from tests.conftest import GOLDEN, orders_frame, run_cli, write_csv

TO = date(2024, 12, 31)


def table_of(rows, *, referrals=False, options=None):
    frame = orders_frame(rows, referrals=referrals)
    return customer_table(customer_windows(frame, Period(date(2020, 1, 1), TO)), options).set_index("customer_id")


def ago(days: int) -> str:
    return (TO - timedelta(days=days)).isoformat()


# ---------------------------------------------------------------- golden


def test_golden_customers_csv_column_by_column():
    run = run_cli("customers", GOLDEN / "shop_small.csv", "--format", "csv")
    assert run.code == 0, run.stderr
    ours = list(csv.DictReader(io.StringIO(run.stdout)))
    expected = list(csv.DictReader((GOLDEN / "expected_customers.csv").open()))
    assert [r["customer_id"] for r in ours] == [r["customer_id"] for r in expected]
    for column in expected[0]:
        for mine, want in zip(ours, expected, strict=True):
            if column in ("revenue", "avg_days_between_orders") and want[column]:
                assert math.isclose(float(mine[column]), float(want[column]), abs_tol=1e-9), (column, mine, want)
            else:
                assert mine[column] == want[column], (column, mine["customer_id"], mine[column], want[column])


# ---------------------------------------------------------------- RFM


def test_rfm_ties_many_one_order_customers():
    # Orders 1,1,1,1,2,5 (n = 6): the four one-order customers have nobody worse -> F = 1;
    # 2 orders: 4 worse -> 1 + ⌊20/6⌋ = 4; 5 orders: 5 worse -> 1 + ⌊25/6⌋ = 5.
    assert rfm_scores(np.array([1, 1, 1, 1, 2, 5]), higher_is_better=True).tolist() == [1, 1, 1, 1, 4, 5]
    # Recency (lower is better) 10, 10, 400: the two 10s have one worse -> 1 + ⌊5/3⌋ = 2.
    assert rfm_scores(np.array([10, 10, 400]), higher_is_better=False).tolist() == [2, 2, 1]


def test_rfm_segment_grid_is_applied():
    rows = [("a", ago(0), 1), ("b", ago(300), 1), ("b", ago(200), 1), ("b", ago(100), 1)]
    t = table_of(rows)
    # a: R 1+⌊5·1/2⌋ = 3, F 1 -> About to sleep; b: R 1, F 1+⌊5·1/2⌋ = 3 -> At risk.
    assert (t.loc["a", "r_score"], t.loc["a", "f_score"], t.loc["a", "rfm_segment"]) == (3, 1, "About to sleep")
    assert (t.loc["b", "r_score"], t.loc["b", "f_score"], t.loc["b", "rfm_segment"]) == (1, 3, "At risk")


# ---------------------------------------------------------------- at risk


@pytest.mark.parametrize(
    ("gap", "recency", "expected"),
    [
        (60, 90, True),     # exactly 1.5 × the usual gap (and ≥ 60 days)
        (60, 89, False),    # a day short of 1.5 × gap
        (10, 60, True),     # exactly --inactive-days, well past 1.5 × gap
        (10, 59, False),    # a day short of --inactive-days
        (10, 364, True),    # not yet lost
        (10, 365, False),   # lost: recency reached --lost-days
    ],
)
def test_at_risk_boundaries(gap, recency, expected):
    t = table_of([("x", ago(recency + gap), 5), ("x", ago(recency), 5)])
    assert bool(t.loc["x", "at_risk"]) is expected


def test_at_risk_needs_two_orders():
    assert not table_of([("x", ago(200), 5)]).loc["x", "at_risk"]


def test_thresholds_are_options():
    t = table_of([("x", ago(130), 5), ("x", ago(100), 5)], options=CustomerOptions(inactive_days=120))
    assert not t.loc["x", "at_risk"]


# ---------------------------------------------------------------- loyalty ladder


def test_every_ladder_rule():
    rows = [
        ("adv", ago(500), 5), ("adv", ago(10), 5),                       # referred someone, not lost -> 5
        ("kid", ago(20), 5, False, "adv"),
        ("det", ago(400), 5), ("det", ago(399), -5, True),               # lost, last event a refund -> −1
        ("lap", ago(700), 5), ("lap", ago(400), 5),                      # lost -> 0
        ("old", ago(500), 5), ("old", ago(300), 5), ("old", ago(30), 5), # 3 orders over ≥365 days -> 4
        ("reg", ago(100), 5), ("reg", ago(60), 5), ("reg", ago(20), 5),  # 3 orders, young -> 3
        ("rep", ago(300), 5), ("rep", ago(20), 5),                       # 2 orders -> 2
        ("ris", ago(200), 5), ("ris", ago(190), 5), ("ris", ago(180), 5),  # 3 orders but at risk -> 2
        ("one", ago(5), 5),                                              # one order -> 1
        ("lostadv", ago(900), 5), ("lostadv", ago(800), 5),             # referred someone but lost -> 0
        ("kid2", ago(850), 5, False, "lostadv"),
    ]
    t = table_of(rows, referrals=True)
    expected = {"adv": 5, "kid": 1, "det": -1, "lap": 0, "old": 4, "reg": 3, "rep": 2, "ris": 2, "one": 1,
                "lostadv": 0}
    assert {k: int(t.loc[k, "level"]) for k in expected} == expected
    assert t.loc["adv", "level_name"] == "advocate" and t.loc["det", "level_name"] == "detractor"
    assert t.loc["ris", "at_risk"]


def test_self_referral_does_not_make_an_advocate():
    t = table_of([("a", ago(10), 5, False, "a")], referrals=True)
    assert t.loc["a", "level"] == 1


def test_refund_as_last_event():
    # Lost, refund after the last order (or on its day) -> −1; refund before it -> 0.
    after = table_of([("x", ago(400), 50), ("x", ago(395), -50, True)])
    same_day = table_of([("x", ago(400), 50), ("x", ago(400), -50, True)])
    before = table_of([("x", ago(500), 50), ("x", ago(450), -50, True), ("x", ago(400), 20)])
    assert after.loc["x", "level"] == -1 and after.loc["x", "revenue"] == 0.0
    assert after.loc["x", "recency_days"] == 400  # recency counts orders, not refunds
    assert same_day.loc["x", "level"] == -1
    assert before.loc["x", "level"] == 0


# ---------------------------------------------------------------- VIP


@pytest.mark.parametrize(("n", "vips"), [(0, 0), (1, 1), (19, 1), (20, 1), (21, 2), (40, 2), (41, 3)])
def test_vip_count_is_an_exact_ceiling(n, vips):
    revenue = np.arange(1, n + 1, dtype=float)
    flags = vip_flags(np.concatenate([revenue, [0.0, -5.0]]), np.array([f"c{i:03d}" for i in range(n + 2)]), 0.05)
    assert flags.sum() == vips
    assert not flags[-2:].any()  # no positive revenue: never a VIP
    if vips:
        assert flags[n - vips:n].all()  # the highest revenues


def test_vip_ties_go_to_the_lower_id():
    flags = vip_flags(np.array([5.0, 9.0, 9.0]), np.array(["c", "b", "a"]), 0.05)
    assert flags.tolist() == [False, False, True]


def test_vip_uses_revenue_of_the_last_365_days():
    t = table_of([("old", ago(400), 1000), ("new", ago(10), 10)])
    assert t["is_vip"].to_dict() == {"new": True, "old": False}


# ---------------------------------------------------------------- product lapses


def test_product_lapses():
    lines = pd.DataFrame({
        "customer_id": pd.Categorical(["a", "a", "a", "a", "a", "b", "b", "c", "c"]),
        "product": pd.Categorical(["tea", "tea", "mug", "cup", "cup", "tea", "tea", "tea", "tea"]),
        "order_date": pd.to_datetime([ago(200), ago(100), ago(90), ago(70), ago(70),
                                      ago(30), ago(10), ago(800), ago(500)]).astype("datetime64[s]"),
    })
    orders = orders_frame([("a", ago(200), 5), ("a", ago(100), 5), ("a", ago(70), 5), ("b", ago(30), 5),
                           ("b", ago(10), 5), ("c", ago(800), 5), ("c", ago(500), 5)])
    period = Period(date(2020, 1, 1), TO)
    table = customer_table(customer_windows(orders, period))
    lapses = product_lapses(lines, table, period.end_day)
    # a/tea: two days, last 100 days ago -> lapse. a/mug: one day. a/cup: bought twice on ONE day.
    # b/tea: last 10 days ago. c/tea: c is lost (500 days).
    assert lapses[["customer_id", "product", "purchase_days", "days_since"]].values.tolist() == [["a", "tea", 2, 100]]
    assert lapses.loc[0, "usual_gap_days"] == 100.0
    assert select_customers(lapses, sort="days_since", top=1)["product"].tolist() == ["tea"]
    with pytest.raises(RetainkitError, match="no rfm_segment column to filter by segment"):
        select_customers(lapses, segment="loyal")  # lapses have no segment: one line, not a KeyError


def test_product_lapses_date_each_line_by_its_order(tmp_path):
    """SPEC §1: an order's date is its earliest line's. a's order 1 has P on two lines dated
    01-01 and 01-02: one purchase day, no lapse (``customers`` says 1 purchase day too). b
    bought Q on 01-01 and 01-20, last 81 days before ``to`` (04-10): a lapse."""
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,order_date,amount,sku\n1,a,2024-01-01,10,P\n1,a,2024-01-02,10,P\n"
                    "2,b,2024-01-01,10,Q\n3,b,2024-01-20,10,Q\n4,b,2024-04-01,10,R\n7,z,2024-04-10,1,Z\n")
    rows = list(csv.DictReader(io.StringIO(run_cli("at-risk", path, "--products", "--format", "csv").stdout)))
    assert [(r["customer_id"], r["product"], r["purchase_days"], r["days_since"]) for r in rows] == [
        ("b", "Q", "2", "81")]


# ---------------------------------------------------------------- CLI and exports


def test_customers_filters_sort_and_top():
    run = run_cli("customers", GOLDEN / "shop_small.csv", "--sort", "revenue", "--top", "3", "--format", "json")
    document = run.json()
    assert [row[0] for row in document["rows"]] == ["B", "A", "F"]
    assert document["columns"][0] == "customer_id"
    at_risk = run_cli("customers", GOLDEN / "shop_small.csv", "--at-risk", "--format", "jsonl").stdout
    assert [json.loads(line)["customer_id"] for line in at_risk.splitlines()] == ["E"]
    level = run_cli("customers", GOLDEN / "shop_small.csv", "--level", "0", "-f", "csv").stdout
    assert [r["customer_id"] for r in csv.DictReader(io.StringIO(level))] == ["C", "D"]
    seg = run_cli("customers", GOLDEN / "shop_small.csv", "--segment", "loyal", "--vip", "-f", "csv").stdout
    assert list(csv.DictReader(io.StringIO(seg))) == []
    assert "--sort 'nope' is not a column" in run_cli("customers", GOLDEN / "shop_small.csv", "--sort", "nope").stderr


def test_customers_parquet_export(tmp_path):
    out = tmp_path / "customers.parquet"
    run = run_cli("customers", GOLDEN / "shop_small.csv", "--format", "parquet", "--output", out)
    assert run.code == 0
    table = pq.read_table(out).to_pandas()
    assert len(table) == 10 and table.loc[0, "last_order"] == date(2024, 10, 5)
    assert table["is_vip"].dtype == bool


def test_at_risk_command_and_products():
    run = run_cli("at-risk", GOLDEN / "shop_small.csv", "--format", "json")
    document = run.json()
    row = dict(zip(document["columns"], document["rows"][0], strict=True))
    assert len(document["rows"]) == 1
    assert row["customer_id"] == "E" and row["why"] == "315 days since the last order; usually every 19 days"
    lapses = run_cli("at-risk", GOLDEN / "shop_small.csv", "--products", "--format", "csv").stdout
    pairs = [(r["customer_id"], r["product"]) for r in csv.DictReader(io.StringIO(lapses))]
    assert pairs == [("B", "P4"), ("A", "P1"), ("E", "P2"), ("J", "P3"), ("I", "P1")]


def test_at_risk_products_needs_a_product_column(tmp_path):
    path = write_csv(tmp_path / "x.csv", "customer_id,order_date,amount\nA,2024-01-01,1")
    run = run_cli("at-risk", path, "--products")
    assert run.code == 2 and "--products needs a product column" in run.stderr


def test_segments_command():
    document = run_cli("segments", GOLDEN / "shop_small.csv", "--format", "json").json()
    rows = [dict(zip(document["columns"], r, strict=True)) for r in document["rows"]]
    loyal = next(r for r in rows if r["group"] == "rfm_segment" and r["name"] == "Loyal")
    assert loyal["customers"] == 2 and loyal["share_of_customers"] == 0.2  # A and J
    assert loyal["revenue_share"] == pytest.approx((330 + 60) / 1495)
    assert loyal["median_recency_days"] == 89.0 and loyal["average_order_value"] == pytest.approx(390 / 7)
    levels = {r["name"]: r["customers"] for r in rows if r["group"] == "loyalty_level"}
    assert levels == {"advocate": 1, "loyal": 1, "regular": 1, "repeat": 2, "first-time": 2, "lapsed": 2,
                      "detractor": 1}
    table = run_cli("segments", GOLDEN / "shop_small.csv").stdout
    assert "RFM segments" in table and "Loyalty ladder" in table and "█" in table


def test_kpis_act_on_this():
    document = run_cli("kpis", GOLDEN / "shop_small.csv", "--format", "json").json()
    actions = document["act_on_this"]
    assert (actions["at_risk_customers"], actions["at_risk_revenue_365"]) == (1, 100.0)  # E
    assert actions["vip_customers"] == 1 and actions["vip_revenue_share_365"] == pytest.approx(300 / 915)  # F
    assert actions["customers_per_level"]["advocate"] == 1 and actions["customers_per_level"]["detractor"] == 1
    assert "Act on this" in run_cli("kpis", GOLDEN / "shop_small.csv").stdout


def test_csv_exports_cannot_run_formulas(tmp_path):
    evil = ['=HYPERLINK("http://evil.example","click")', "+31234", "-2+3", "@SUM(A1:A9)"]
    lines = ["order_id,customer_id,order_date,product,amount"]
    for i, name in enumerate(evil):
        lines += [f"{10 * i},{_csv(name)},2024-01-01,{_csv(name)},5", f"{10 * i + 1},{_csv(name)},2024-02-01,{_csv(name)},5"]
    path = write_csv(tmp_path / "evil.csv", "\n".join(lines))
    for args in (["customers"], ["at-risk", "--products", "--to", "2024-06-01"]):
        run = run_cli(*args, path, "--format", "csv")
        assert run.code == 0, run.stderr
        for row in csv.reader(io.StringIO(run.stdout)):
            for cell in row:
                assert not cell.startswith(("=", "+", "@")) and not (cell.startswith("-") and not _number(cell)), cell
        assert "'=HYPERLINK(" in run.stdout and "'@SUM" in run.stdout and "'+31234" in run.stdout


def _csv(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


COMPARED = ("orders", "revenue", "recency_days", "tenure_days", "r_score", "f_score", "m_score", "rfm_segment",
            "is_vip", "at_risk", "level")


def compare_with_sql(ours: pd.DataFrame, sql: str) -> None:
    import duckdb

    reference = duckdb.sql(sql).df().set_index("customer_id")
    mine = ours.set_index("customer_id")
    assert list(mine.index) == list(reference.index)
    for column in COMPARED:
        a, b = mine[column].astype(str if column == "rfm_segment" else float), reference[column]
        if column == "revenue":
            assert np.allclose(a, b.astype(float), atol=1e-6), column
        else:
            assert (a.to_numpy() == b.astype(a.dtype).to_numpy()).all(), column


def test_golden_customers_match_an_independent_sql_query():
    pytest.importorskip("duckdb")
    import retainkit
    from tests.duckdb_reference import Source, customers_sql

    data = retainkit.read_orders(str(GOLDEN / "shop_small.csv"))
    source = Source(relation=f"read_csv('{GOLDEN / 'shop_small.csv'}', all_varchar=true)", customer="customer_id",
                    day="CAST(order_date AS DATE)", amount="amount", order_id="order_id")
    compare_with_sql(retainkit.customer_report(data), customers_sql(source, referrer="referred_by"))


def test_tables_show_markup_in_data_as_text(tmp_path):
    path = write_csv(tmp_path / "x.csv", "customer_id,order_date,amount,product\n[red]x[/],2024-01-01,5,[/]\n"
                                         "[bold]y,2024-01-02,5,p")
    for args in (["customers"], ["at-risk", "--products"], ["inspect"]):
        run = run_cli(*args, path)
        assert run.code == 0, (args, run.stderr)
    assert "[red]" in run_cli("customers", path).stdout  # markup would have been consumed
    assert "[red]x[/]" in run_cli("inspect", path).stdout


def test_without_amounts_money_m_and_vip_are_unknown_not_zero(tmp_path):
    path = write_csv(tmp_path / "x.csv", "customer_id,order_date\na,2024-01-01\na,2024-03-01\nb,2024-02-01")
    rows = list(csv.DictReader(io.StringIO(run_cli("customers", path, "-f", "csv").stdout)))
    assert [(r["revenue"], r["m_score"], r["is_vip"], r["f_score"]) for r in rows] == [("", "", "", "3"), ("", "", "", "1")]
    document = run_cli("kpis", path, "-f", "json").json()["act_on_this"]
    assert (document["at_risk_revenue_365"], document["vip_customers"], document["vip_revenue_share_365"]) == (
        None, None, None)
    segments = run_cli("segments", path, "-f", "json").json()
    row = dict(zip(segments["columns"], segments["rows"][6], strict=True))  # "Need attention": customer a
    assert (row["customers"], row["revenue_share"], row["average_order_value"]) == (1, None, None)
    assert run_cli("customers", path, "--vip", "-f", "json").json()["rows"] == []
    assert run_cli("report", path, "--every", "month", "-f", "json").code == 0


def test_threshold_options_reach_every_customer_command():
    shop = GOLDEN / "shop_small.csv"
    assert len(run_cli("at-risk", shop, "--inactive-days", "400", "-f", "json").json()["rows"]) == 0  # E: 315 days
    assert len(run_cli("customers", shop, "--at-risk", "--lost-days", "300", "-f", "json").json()["rows"]) == 0
    assert run_cli("kpis", shop, "--vip-top", "0.5", "-f", "json").json()["act_on_this"]["vip_customers"] == 4


def test_expected_next_order_and_days_overdue_by_hand():
    rows = {r["customer_id"]: r for r in csv.DictReader(io.StringIO(
        run_cli("customers", GOLDEN / "shop_small.csv", "-f", "csv").stdout))}
    # A: last order 2024-10-05, usual gap 575 / 3 = 191.67 days -> next order 192 days later; not yet due.
    assert (rows["A"]["expected_next_order"], rows["A"]["days_overdue"]) == ("2025-04-15", "0.0")
    # E: 2024-02-20 + 19 days = 2024-03-10; 315 days since the last order - 19 = 296 days overdue.
    assert (rows["E"]["expected_next_order"], rows["E"]["days_overdue"]) == ("2024-03-10", "296.0")
    # J: 2024-10-01 + 61 = 2024-12-01; 91 − 61 = 30 days overdue. One-order customers: empty.
    assert (rows["J"]["expected_next_order"], rows["J"]["days_overdue"]) == ("2024-12-01", "30.0")
    assert (rows["F"]["expected_next_order"], rows["F"]["days_overdue"]) == ("", "")
    assert rows["B"]["average_order_value"] == "200.0"  # (200 + 150 + 50) / 2 orders
