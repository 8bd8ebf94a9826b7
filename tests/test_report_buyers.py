"""The report's "Who will buy again" section (issue 14 item 6, SPEC §6): the tracking chart,
expected against actual by frequency and the P(alive) map on data that supports a fit; one
sentence instead where the data cannot; the reader's language; the sample that keeps the
report's cost that of ``kpis`` plus a little."""

from __future__ import annotations

import re

import pandas as pd

from retainkit import report_buyers
from retainkit.periods import day_number
from retainkit.report import ReportOptions, build_report
from tests.conftest import GOLDEN, ROOT, orders_frame, run_cli, write_csv

EXAMPLE = ROOT / "examples"
ARGS = ("report", EXAMPLE / "orders.csv", "--config", EXAMPLE / "retainkit.toml", "--every", "month")


def _section(html: str) -> str:
    """The HTML from the section's heading to the next heading."""
    start = html.index("<h2>", html.index("Ai sẽ mua lại" if 'lang="vi"' in html else "Who will buy again") - 10)
    return html[start:html.index("<h2>", start + 4)]


def _titles(svg: str) -> list[str]:
    """The words of a chart: matplotlib writes each text's characters as a comment beside its glyphs."""
    return re.findall(r"<!-- (.*?) -->", svg)


def test_the_section_has_its_three_charts_on_data_that_supports_a_fit():
    run = run_cli(*ARGS, "--format", "html")
    assert run.code == 0, run.stderr
    section = _section(run.stdout)
    charts = re.findall(r"<svg .*?</svg>", section, flags=re.S)
    assert len(charts) == 3 and all('style="display:block;width:100%;max-width:100%;height:auto"' in c for c in charts)
    tracking, by_frequency, alive = (_titles(c) for c in charts)
    assert "Tracking: predicted against actual" in tracking and "calibration | holdout" in tracking
    assert {"actual", "naive guess", "BG/NBD"} <= set(tracking)
    assert "Expected against actual by frequency" in by_frequency and "7+" in by_frequency
    assert "P(alive) after 1,064 days" in alive and "days from first to last purchase" in alive
    # The examples' 900 customers, the last quarter (to 2024-11-30) held out: BG/NBD beats the guess.
    assert ("BG/NBD, fitted on the orders up to 2024-03-09, predicted 1,355 repeat purchases in the 38 weeks after "
            "(2024-03-10 – 2024-11-30); there were 1,051.") in section
    assert "Its error per customer (RMSE) is 2.82 against 11.50 for the naive guess" in section
    assert "1 in" not in section  # every customer: under the sample's size


def test_markdown_has_the_short_text_version():
    md = run_cli(*ARGS).stdout
    section = md[md.index("## Who will buy again"):md.index("## 180 customers at risk")]
    assert "predicted 1,355 repeat purchases in the 38 weeks after" in section
    assert "| Repeat purchases before | BG/NBD | Naive guess | Actual |" in section
    assert "| 0 | 0.84 | 0.00 | 0.73 |" in section and "| 7+ | 5.13 | 9.49 | 3.96 |" in section
    assert "<svg" not in md


def test_the_json_document_is_unchanged():
    document = run_cli(*ARGS, "--format", "json").json()
    assert not any("buy" in key for key in document)


NO_REPEATERS = "customer_id,order_date,amount\n" + "\n".join(
    f"c{i},2024-{1 + i % 12:02d}-{1 + i % 28:02d},10" for i in range(40))


def test_one_line_instead_when_nobody_bought_twice(tmp_path):
    path = write_csv(tmp_path / "once.csv", NO_REPEATERS)
    html = run_cli("report", path, "--every", "month", "--format", "html")
    assert html.code == 0, html.stderr
    section = _section(html.stdout)
    assert "<svg" not in section
    note = re.findall(r'<p class="note">(.*?)</p>', section)
    # Period 2024-01-01 .. 2024-11-30 (the last whole month), 335 days: the last 83 from 2024-09-09.
    assert note == ["No prediction: 0 of 29 customers bought more than once before 2024-09-09, too few to fit a "
                    "purchase model."]
    md = run_cli("report", path, "--every", "month").stdout
    assert "## Who will buy again\n\nNo prediction: 0 of 29 customers bought more than once" in md
    vi = run_cli("report", path, "--every", "month", "--lang", "vi").stdout
    assert ("## Ai sẽ mua lại\n\nKhông có dự báo: 0 trên 29 khách mua hơn một lần trước 09/09/2024, quá ít để ước "
            "lượng mô hình mua hàng.") in vi


def test_one_line_instead_when_the_period_is_too_short_to_hold_out():
    rows = [("a", "2024-03-04", 10), ("a", "2024-03-06", 10), ("b", "2024-03-05", 10), ("b", "2024-03-09", 10),
            ("c", "2024-03-10", 10)]
    report = build_report(orders_frame(rows), {}, ReportOptions(), end=pd.Timestamp("2024-03-10").date())
    assert report["_buy_again"] == {"note": "No prediction: the data covers 7 days; checking a model needs at least "
                                            "28 days, the last quarter held out."}


def test_the_section_in_vietnamese():
    html = run_cli(*ARGS, "--lang", "vi", "--format", "html").stdout
    section = _section(html)
    assert section.startswith("<h2>Ai sẽ mua lại</h2>")
    assert "dự báo 1.355 lượt mua lại trong 38 tuần sau đó (10/03/2024 – 30/11/2024); thực tế có 1.051." in section
    tracking, by_frequency, alive = (_titles(c) for c in re.findall(r"<svg .*?</svg>", section, flags=re.S))
    assert {"Theo dõi: dự báo so với thực tế", "thực tế", "đoán đơn giản", "ước lượng | đối chiếu"} <= set(tracking)
    assert "Dự báo so với thực tế theo số lần mua" in by_frequency
    assert "P(alive) sau 1.064 ngày" in alive
    md = run_cli(*ARGS, "--lang", "vi").stdout
    assert "| Số lần mua lại trước đó | BG/NBD | Đoán đơn giản | Thực tế |" in md and "| 0 | 0,84 | 0,00 | 0,73 |" in md


def test_a_large_base_is_fitted_on_a_fixed_sample(monkeypatch):
    # With room for 300 customers the examples' 900 are fitted 1 in 3: those whose code (ids in
    # sorted order) is a multiple of 3 — the same ones every run; the report says so.
    from retainkit.config import ReadOptions
    from retainkit.pipeline import read_orders

    monkeypatch.setattr(report_buyers, "SAMPLE", 300)
    data = read_orders([str(EXAMPLE / "orders.csv")], ReadOptions(columns={"customer_id": "customer_email",
                                                                          "order_date": "created_at"}))
    orders = data.orders
    assert report_buyers.step_of(len(orders["customer_id"].cat.categories)) == 3
    days = orders["order_date"].to_numpy(dtype="datetime64[D]").astype("int64")
    first = report_buyers.buy_again(orders, start_day=int(days.min()), end_day=day_number(pd.Timestamp(
        "2024-11-30").date()))
    again = report_buyers.buy_again(orders, start_day=int(days.min()), end_day=day_number(pd.Timestamp(
        "2024-11-30").date()))
    assert first["step"] == 3 and first["customers"] == 290 and first == again
    assert first["board"]["customers"] < 290 and [s["model"] for s in first["board"]["scores"]] == ["naive", "bgnbd"]
    md = run_cli(*ARGS).stdout
    assert "Fitted on 1 in 3 customers (290), to keep the report fast; retainkit predict fits every customer" in md


def test_golden_shop_report_is_the_same_bytes_with_its_section(tmp_path):
    first, second = tmp_path / "a.html", tmp_path / "b.html"
    for out in (first, second):
        assert run_cli("report", GOLDEN / "shop_small.csv", "--every", "month", "--output", out).code == 0
    assert first.read_bytes() == second.read_bytes()
    assert len(re.findall(r"<svg ", _section(first.read_text(encoding="utf-8")))) == 3


def test_no_scipy_is_one_line(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def without_scipy(name, *args, **kwargs):
        if name.startswith("retainkit.models"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_scipy)
    section = report_buyers.buy_again(orders_frame([("a", "2024-01-01", 1)]), start_day=0, end_day=400)
    assert section == {"note": "No prediction: it needs SciPy (pip install 'retainkit[predict]')."}


def test_the_sample_is_every_step_th_customer_code():
    # Codes are ranks among the sorted ids; with 1 in 2, codes 0 and 2 ("An", "Ân"), and
    # only their ids stay categories; "Bo" (code 1) and "Đào" (code 3) are left out.
    orders = orders_frame([("Ân", "2024-01-02", 5), ("Bo", "2024-01-01", 1), ("An", "2024-01-03", 2),
                           ("Đào", "2024-01-04", 3), ("An", "2024-02-01", 4)])
    assert list(orders["customer_id"].cat.categories) == ["An", "Bo", "Ân", "Đào"]  # code-point order
    assert report_buyers.step_of(4, sample=2) == 2
    assert report_buyers.step_of(4, sample=3) == 2 and report_buyers.step_of(4, sample=4) == 1
    assert report_buyers.step_of(0) == 1
    sample = report_buyers.sample_of(orders, step=2)
    assert list(sample["customer_id"]) == ["Ân", "An", "An"] and list(sample["amount"]) == [5.0, 2.0, 4.0]
    assert list(sample["customer_id"].cat.categories) == ["An", "Ân"]
    assert report_buyers.sample_of(orders, step=1) is orders


def test_the_sample_is_drawn_only_when_the_period_can_hold_out():
    def draw():
        raise AssertionError("drawn")

    section = report_buyers.buy_again_on_sample(draw, start_day=0, end_day=6)
    assert section["note"].startswith("No prediction: the data covers 7 days")
