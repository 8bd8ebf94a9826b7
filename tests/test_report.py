"""The periodic report: content, determinism, escaping, and a real browser rendering it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import DATA, GOLDEN, need, run_cli, write_csv

SHOP = GOLDEN / "shop_small.csv"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_monthly_report_json_compares_last_complete_month():
    run = run_cli("report", SHOP, "--every", "month", "--format", "json")
    assert run.code == 0, run.stderr
    report = run.json()
    # to = 2024-12-31 closes December; compared with November and December 2023.
    assert (report["period"]["label"], report["previous"]["label"], report["year_before"]["label"]) == (
        "2024-12", "2024-11", "2023-12")
    headline = {item["key"]: item for item in report["headline"]}
    assert (headline["customers"]["value"], headline["customers"]["previous"]) == (1, 1)  # G; I in November
    assert headline["revenue"]["value"] == 25.0 and headline["revenue"]["year_before"] == 50.0  # I in Dec 2023
    assert headline["revenue"]["change_year_before"] == -0.5
    assert headline["churn_rate"]["value"] == 1.0  # I (November) did not come back in December
    assert [a["key"] for a in report["alerts"]] == ["churn"]  # annual churn 50% > 7%
    assert report["at_risk"][0]["customer_id"] == "E" and report["vips"][0]["customer_id"] == "F"
    # The last 12 monthly cohorts with customers: nobody first ordered in January 2024 (E: February).
    assert report["cohorts"]["rows"][0]["cohort"] == "2024-02" and len(report["series"]["period"]) == 13


def test_weekly_report_uses_the_last_complete_week():
    report = run_cli("report", SHOP, "--format", "json", "--to", "2024-12-28").json()
    assert report["period"]["label"] == "2024-W51"  # 2024-12-28 is a Saturday: W52 is not over
    assert report["as_of"] == "2024-12-22"


def test_fail_on_alert_and_markdown():
    run = run_cli("report", SHOP, "--every", "month", "--fail-on-alert")
    assert run.code == 1 and "Annual churn rate 50.0% is above the 7.0% limit." in run.stderr
    assert run.stdout.startswith("# Retention report: 2024-12")
    assert "| Customers | 1 | +0.0% |" in run.stdout
    assert run_cli("report", SHOP, "--every", "month", "--churn-alert", "0.6", "--fail-on-alert").code == 0


def test_html_is_self_contained_and_deterministic(tmp_path):
    first, second = tmp_path / "a.html", tmp_path / "b.html"
    assert run_cli("report", SHOP, "--every", "month", "--output", first).code == 1 - 1
    run_cli("report", SHOP, "--every", "month", "--output", second)
    html = first.read_text()
    assert first.read_bytes() == second.read_bytes()
    assert html.count("<svg") == 8 and "<script" not in html
    for external in ("http://", "https://", "<link", "@import", "url(http", "url(//"):
        assert external not in html.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
            'xmlns:xlink="http://www.w3.org/1999/xlink"', ""), external
    assert oct(first.stat().st_mode & 0o777) != oct(0o600)


def test_output_suffix_decides_the_format(tmp_path):
    run_cli("report", SHOP, "--every", "month", "--output", tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text())["every"] == "month"
    assert run_cli("report", SHOP, "--output", tmp_path / "r.txt").code == 2


def test_script_in_a_customer_id_is_text(tmp_path):
    path = write_csv(tmp_path / "x.csv", "customer_id,order_date,amount\n"
                                         "\"<script>alert(1)</script>\",2024-01-01,500\n"
                                         "\"<script>alert(1)</script>\",2024-02-01,500\nb,2024-06-30,1")
    out = tmp_path / "r.html"
    run_cli("report", path, "--every", "month", "--output", out)
    html = out.read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html


@pytest.mark.slow
def test_html_report_renders_in_headless_chromium(tmp_path):
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium); .ci/run installs it")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    source = need(DATA / "online-retail" / "online_retail.parquet")
    report = tmp_path / "report.html"
    run = run_cli("report", source, "--every", "month", "--output", report)
    assert run.code == 0, run.stderr
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri())
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        sizes = page.eval_on_selector_all("svg", "els => els.map(e => [e.getBoundingClientRect().width, "
                                                 "e.getBoundingClientRect().height])")
        heading = page.inner_text("h1")
        browser.close()
    assert errors == []
    assert heading == "Retention report: 2011-11"
    assert len(sizes) == 8 and all(w > 100 and h > 20 for w, h in sizes)
    _assert_not_blank(shot)


def _assert_not_blank(png: Path) -> None:
    from PIL import Image

    image = Image.open(png).convert("L")
    assert image.width >= 1000 and image.height > 1500
    low, high = image.getextrema()
    assert high - low > 150  # text and charts, not a flat page
    assert sum(1 for count in image.resize((60, 120)).histogram() if count) > 20  # many shades
