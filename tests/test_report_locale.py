"""The report in the reader's language and money (issue 15): gettext catalogs, Babel's
digits and dates, alerts that state their rule, the "what changed" paragraph."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from retainkit import render_locale
from retainkit.render_locale import Style
from tests.conftest import GOLDEN, ROOT, run_cli

SHOP = GOLDEN / "shop_small.csv"
EXAMPLE = ROOT / "examples"
PACKAGE = ROOT / "retainkit"
KEYWORDS = {"_": None, "gettext": None, "noop": None, "ngettext": (1, 2), "Note": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _messages() -> set[str | tuple[str, str]]:
    """Every message of the templates and of the package's code (``_``, ``gettext``,
    ``ngettext``, ``noop`` and the library's notes, ``Note``), as ``pybabel extract`` finds them."""
    found: set[str | tuple[str, str]] = set()
    sources = [*((path, "python", {}) for path in sorted(PACKAGE.rglob("*.py"))),
               *((t, "jinja2.ext:babel_extract", {"extensions": "jinja2.ext.i18n"})
                 for t in sorted((PACKAGE / "templates").glob("*.j2")))]
    for path, method, options in sources:
        for _, message, _, _ in extract_from_file(method, str(path), keywords=KEYWORDS, options=options):
            found.add(message if isinstance(message, str) else tuple(message))
    return {m for m in found if not _only_placeholders(m)}


def _only_placeholders(message: str | tuple[str, str]) -> bool:
    """A message with no words (``%(period)s: %(why)s``): nothing to translate."""
    text = message if isinstance(message, str) else message[0]
    return not re.search(r"[A-Za-z]", PLACEHOLDER.sub("", text))


def _library_words() -> set[str]:
    """Words the library's results carry and the output layer shows through gettext: KPI
    labels and groups, segment and level names, table titles."""
    from retainkit.customers import LEVEL_NAMES, SEGMENTS
    from retainkit.metrics import kpi_views
    from retainkit.output import SEGMENT_TITLES
    from retainkit.report import HEADLINE

    views = kpi_views()
    return ({label for _, label, _ in HEADLINE} | set(SEGMENTS) | set(LEVEL_NAMES.values()) | set(views)
            | {label for items in views.values() for _, label, _ in items} | set(SEGMENT_TITLES.values()))


def _catalog(lang: str):
    with (PACKAGE / "locales" / lang / "LC_MESSAGES" / "retainkit.po").open("rb") as po:
        return read_po(po, locale=lang)


@pytest.mark.parametrize("lang", [lang for lang in render_locale.LANGS if lang != "en"])
def test_every_label_has_a_translation(lang):
    catalog = _catalog(lang)
    messages = _messages() | _library_words()
    assert len(messages) > 150
    assert {"Customer", "Why", "Retention KPIs", "Data quality", "the data starts %(start)s, inside it",
            "Repeat customers (≥2 orders in period)"} <= messages  # tables, notes, the metric registry
    for message in messages:
        entry = catalog.get(message[0] if isinstance(message, tuple) else message)
        assert entry is not None, f"no {lang} translation of {message!r}"
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        assert all(strings) and not entry.fuzzy, message
        wanted = sorted(PLACEHOLDER.findall(message if isinstance(message, str) else message[1]))
        assert all(sorted(PLACEHOLDER.findall(s)) == wanted for s in strings), (message, strings)
    stale = {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog if m.id} - {
        m[0] if isinstance(m, tuple) else m for m in messages}
    assert not stale, f"messages no longer used: {stale}"


def test_numbers_money_and_dates_in_the_readers_digits():
    vi, en = Style("vi", "VND"), Style("en")
    assert vi.number(614_719.62, "money") == "614.720\u00a0₫"  # VND has no minor unit; never split from ₫
    assert Style("vi").number(1_234_567.5, "money") == "1.234.567,50"
    assert en.number(614_719.62, "money") == "614,719.62" and Style("en", "USD").number(5, "money") == "$5.00"
    assert (vi.number(0.755, "rate"), en.number(0.755, "rate")) == ("75,5%", "75.5%")
    assert (vi.change(-0.012, "rate"), en.change(0.125, "money"), en.change(None, "count")) == (
        "-1,2 điểm %", "+12.5%", "—")
    assert (vi.date("2026-12-02"), en.date("2026-12-02")) == ("02/12/2026", "2026-12-02")
    assert (vi.period("2024-12"), vi.period("2024-W51"), en.period("2024-W51")) == (
        "12/2024", "tuần 51/2024", "2024-W51")


def test_vietnamese_report_and_json_that_never_changes_with_the_language(tmp_path):
    run = run_cli("report", SHOP, "--every", "month", "--lang", "vi", "--currency", "vnd")
    assert run.code == 0, run.stderr
    md = run.stdout
    assert md.startswith("# Báo cáo giữ chân khách hàng: 12/2024")
    assert "| Doanh thu (thuần) | 25\u00a0₫ | -50,0% |" in md and "Tỷ lệ rời bỏ hằng năm 75,5% cao hơn ngưỡng 7,0%" in md
    assert "1 khách có nguy cơ rời bỏ · 100\u00a0₫ doanh thu trong 365 ngày qua" in md
    html = run_cli("report", SHOP, "--every", "month", "--lang", "vi", "--format", "html").stdout
    assert '<html lang="vi">' in html and "Số tháng kể từ lần mua đầu" in html
    jsons = {lang: run_cli("report", SHOP, "--every", "month", "--lang", lang, "--currency", "VND", "-f", "json").stdout
             for lang in ("en", "vi")}
    assert jsons["en"] == jsons["vi"] == run_cli("report", SHOP, "--every", "month", "-f", "json").stdout
    assert '"_' not in jsons["en"]  # the renderer's facts (keys starting with _) are not in the document


def test_lang_and_currency_from_the_config_file_and_checked(tmp_path):
    config = tmp_path / "retainkit.toml"
    config.write_text('[options]\nlang = "vi"\ncurrency = "VND"\n', encoding="utf-8")
    run = run_cli("report", SHOP, "--every", "month", "--config", config)
    assert run.code == 0, run.stderr
    assert run.stdout.startswith("# Báo cáo")
    assert "| Doanh thu (thuần) | 25\u00a0₫ |" in run.stdout
    assert run_cli("report", SHOP, "--every", "month", "--config", config, "--lang", "en").stdout.startswith(
        "# Retention report")
    bad = run_cli("report", SHOP, "--currency", "XYZ")
    assert bad.code == 2 and "--currency XYZ: not an ISO 4217 currency code" in bad.stderr
    assert run_cli("report", SHOP, "--lang", "fr").code == 2


def test_labels_that_cannot_be_misread():
    md = run_cli("report", SHOP, "--every", "month", "--currency", "USD").stdout
    assert "## 1 customer at risk · $100.00 of revenue in the last 365 days" in md
    assert "Amounts in USD." in md
    # Sparklines with their scale; cohort columns named by the months since the first order.
    assert "| Revenue (net) | $25.00 | -50.0% | -50.0% | `▂▁▃▃▁▆▁█▁▁▄▂▂` min $0.00 · max $300.00 |" in md
    assert "Columns: months since the first order." in md and "Charts: the last 13 periods, 2023-12 to 2024-12." in md
    html = run_cli("report", SHOP, "--every", "month", "-f", "html").stdout
    assert html.count("2023-12 – 2024-12 · min") == 4 and "Months since the first order" in html


def test_alerts_state_their_rule_and_fire_only_beyond_normal_variation():
    report = run_cli("report", EXAMPLE / "orders.csv", "--config", EXAMPLE / "retainkit.toml", "--every", "month",
                     "-f", "json").json()
    # November 2024: customers −24.2 % and orders −27.0 %, past their falls of the 13 months
    # before (worst −17.0 % and −22.5 %); repeat rate −1.0 pp is inside its range: no alert.
    assert [a["key"] for a in report["alerts"]] == ["churn", "customers_falling", "orders_falling"]
    churn, customers, _ = (a["message"] for a in report["alerts"])
    assert churn.startswith("Annual churn rate 49.9% is above the 30.0% limit. Rule: ")
    assert "5%–7% a year is the figure for businesses with contracts" in churn and "retainkit.toml" in churn
    assert customers == ("Customers fell 24.2% to 122, outside its normal range of -17.0% to +19.3% from one "
                         "period to the next over the last 13 periods.")
    md = run_cli("report", EXAMPLE / "orders.csv", "--config", EXAMPLE / "retainkit.toml", "--every", "month").stdout
    assert "Rule: an alert when a change from the period before is outside the range of the changes over the " \
           "last 13 periods." in md


def test_a_drop_within_normal_variation_raises_no_alert():
    import pandas as pd

    from retainkit.report import ReportOptions, build_report
    from tests.conftest import orders_frame

    # Weekly orders swinging 10 ↔ 6 for months; the last week's 6 is a fall like many before.
    rows = [(f"c{w}-{i}", (pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=w)).date().isoformat(), 10)
            for w in range(30) for i in range(10 if w % 2 == 0 else 6)]
    report = build_report(orders_frame(rows), {}, ReportOptions(churn_alert=1.0), end=pd.Timestamp("2024-07-28").date())
    assert report["period"]["label"] == "2024-W30"
    assert report["headline"][0]["change_previous"] == -0.4 and report["alerts"] == []
    band = report["_normal"]["customers"]
    assert (round(band["low"], 3), round(band["high"], 3), band["periods"]) == (-0.4, 0.667, 13)


def test_what_changed_paragraph():
    args = ("report", EXAMPLE / "orders.csv", "--config", EXAMPLE / "retainkit.toml", "--every", "month")
    md = run_cli(*args).stdout
    assert ("**What changed:** Beyond their normal change from one period to the next: Customers -24.2%, "
            "Orders -27.0%") in md
    assert "25 customers became at risk in this period." in md
    assert "The biggest VIP at risk: customer0770&#64;example.vn, 4,156.88 in the last 365 days" in md
    vi = run_cli(*args, "--lang", "vi").stdout
    assert "25 khách hàng mới rơi vào nhóm có nguy cơ rời bỏ trong kỳ này." in vi


def test_html_reads_without_its_style_block_and_is_the_same_bytes_each_time(tmp_path):
    first, second = tmp_path / "a.html", tmp_path / "b.html"
    for out in (first, second):
        run_cli("report", SHOP, "--every", "month", "--lang", "vi", "--currency", "VND", "--output", out)
    assert first.read_bytes() == second.read_bytes()
    html = re.sub(r"<style>.*?</style>", "", first.read_text(encoding="utf-8"), flags=re.S)
    # What a mail client that strips <style> still gets: tables that scroll in their own box,
    # charts no wider than their card, cards and alerts drawn inline.
    assert all("overflow-x:auto" in div for div in re.findall(r'<div class="scroll"[^>]*>', html))
    assert all("border-collapse:collapse" in t for t in re.findall(r"<table[^>]*>", html))
    cells = re.findall(r"<t[dh][ >][^>]*>", html)  # spaced apart, not "12/202324" and "100%25%29%"
    assert len(cells) > 100 and all('style="padding:' in cell for cell in cells)
    assert all("width:100%" in svg for svg in re.findall(r"<svg [^>]*>", html))
    assert len(re.findall(r'<div class="card" style="[^"]*border', html)) == 6
    assert 'style="background:#fef2f2' in html and "<script" not in html


def test_partial_facts_stay_out_of_json_files(tmp_path):
    out = tmp_path / "r.json"
    assert run_cli("report", SHOP, "--every", "month", "--lang", "vi", "--output", out).code == 1 - 1
    text = Path(out).read_text(encoding="utf-8")
    assert '"_' not in text and '"message": "Annual churn rate 75.5% is above the 7.0% limit.' in text


def test_a_change_alert_set_by_the_user_replaces_the_normal_range():
    from retainkit.config import ReadOptions
    from retainkit.pipeline import read_orders, report_data
    from retainkit.render_report import report_markdown

    data = read_orders([str(EXAMPLE / "orders.csv")], ReadOptions(columns={"customer_id": "customer_email",
                                                                          "order_date": "created_at"}))
    # November 2024: customers −24.2 %, orders −27.0 %, revenue −18.8 %, repeat rate −1.0 pp.
    at_20 = report_data(data, every="month", churn_alert=1.0, change_alert=0.2)
    assert [a["key"] for a in at_20["alerts"]] == ["customers_falling", "orders_falling"]
    assert at_20["alerts"][0]["message"] == ("Customers fell 24.2% to 122, more than the change_alert limit of "
                                             "20.0% set in retainkit.toml.")
    at_15 = report_data(data, every="month", churn_alert=1.0, change_alert=0.15)
    assert [a["key"] for a in at_15["alerts"]] == ["customers_falling", "orders_falling", "revenue_falling"]
    # The repeat rate's limit is in points: a fall of 1.0 pp passes 0.005 (0.5 pp), not 0.02.
    assert "repeat_customer_rate_falling" in [a["key"] for a in report_data(
        data, every="month", churn_alert=1.0, change_alert=0.005)["alerts"]]
    assert report_data(data, every="month", churn_alert=1.0, change_alert=0.3)["alerts"] == []
    vi = report_markdown(at_20 | {"_style": {"lang": "vi"}})
    assert ("Khách hàng giảm 24,2%, xuống 122. Quy tắc: cảnh báo khi một chỉ số giảm so với kỳ trước nhiều hơn "
            "20,0% (change_alert trong retainkit.toml).") in vi


def test_change_alert_from_the_config_file_and_checked(tmp_path):
    config = tmp_path / "retainkit.toml"
    config.write_text((EXAMPLE / "retainkit.toml").read_text(encoding="utf-8") + "change_alert = 0.15\n",
                      encoding="utf-8")
    report = run_cli("report", EXAMPLE / "orders.csv", "--config", config, "--every", "month", "-f", "json").json()
    assert [a["key"] for a in report["alerts"]] == ["churn", "customers_falling", "orders_falling", "revenue_falling"]
    assert "more than the change_alert limit of 15.0%" in report["alerts"][3]["message"]
    config.write_text("[options]\nchange_alert = 20\n", encoding="utf-8")
    run = run_cli("report", EXAMPLE / "orders.csv", "--config", config)
    assert run.code == 2 and "change_alert = 20 is out of range: from 0 to 1 (a fraction: 0.05 is 5 %)" in run.stderr


VND_EXPORT = """customer_id,order_date,amount
a,2024-01-03,"250.000 ₫"
a,2024-02-05,"1.200.000 ₫"
b,2024-02-06,"90.000₫"
b,2024-03-04,"300.000 ₫"
c,2024-03-05,"50.000 ₫"
"""


def test_the_currency_is_read_from_the_amounts_signs(tmp_path):
    from tests.conftest import write_csv

    path = write_csv(tmp_path / "vnd.csv", VND_EXPORT)
    vi = run_cli("report", path, "--every", "month", "--lang", "vi").stdout
    assert "Số tiền tính bằng VND." in vi and "| Doanh thu (thuần) | 1.290.000\u00a0₫ |" in vi
    english = run_cli("report", path, "--every", "month").stdout
    assert "Amounts in VND." in english and "| Revenue (net) | ₫1,290,000 |" in english
    assert "Amounts in USD." in run_cli("report", path, "--every", "month", "--currency", "USD").stdout
    # Signs that name no one currency ($ is several), or none at all: no currency is claimed.
    dollars = write_csv(tmp_path / "usd.csv", VND_EXPORT.replace("₫", "$"))
    assert "Amounts in" not in run_cli("report", dollars, "--every", "month").stdout
    # The JSON documents keep their shape: the currency is for the renderer only.
    assert '"currency"' not in run_cli("report", path, "--every", "month", "-f", "json").stdout
    assert '"currency"' not in run_cli("kpis", path, "-f", "json").stdout
