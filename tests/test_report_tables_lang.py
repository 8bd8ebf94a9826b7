"""``--lang vi`` on the terminal tables (issue 15, point 3): Vietnamese words, digits, dates
and notes; the files for machines (JSON, CSV) the same in every language."""

from __future__ import annotations

import datetime as dt

import pytest

from retainkit.render_locale import Style
from retainkit.values import Note, joined
from tests.conftest import GOLDEN, run_cli

SHOP = GOLDEN / "shop_small.csv"


def _table(tmp_path, *args: str) -> str:
    """A command's table as written to a ``.txt`` file (100 columns wide, no colour)."""
    out = tmp_path / "table.txt"
    run = run_cli(*args, "--output", out)
    assert run.code in (0, 1), run.stderr
    return out.read_text(encoding="utf-8")


def test_kpis_table_in_vietnamese(tmp_path):
    text = _table(tmp_path, "kpis", SHOP, "--lang", "vi")
    assert "Chỉ số giữ chân khách hàng 14/02/2023 → 31/12/2024" in text
    assert "Khung tính rời bỏ 180 ngày" in text and "hiện tại 05/07/2024..31/12/2024" in text
    assert "Tỷ lệ rời bỏ hằng năm" in text and "75,48%" in text  # 75.48% in English
    assert "Chất lượng dữ liệu" in text and "Số dòng đã đọc" in text
    # The library's note on the churn window, in Vietnamese with Vietnamese dates.
    assert ("ghi chú: khung tính rời bỏ 180 ngày: dữ liệu bắt đầu từ 14/02/2023, quá muộn để có hai khung 365 "
            "ngày kết thúc 31/12/2024") in " ".join(text.split())
    english = _table(tmp_path, "kpis", SHOP)
    assert "Retention KPIs 2023-02-14 → 2024-12-31" in english and "75.48%" in english
    assert "note: churn window 180 days: the data starts 2023-02-14" in english


def test_kpis_markdown_in_vietnamese():
    md = run_cli("kpis", SHOP, "--format", "md", "--lang", "vi").stdout
    assert md.startswith("# Chỉ số giữ chân khách hàng, 14/02/2023 đến 31/12/2024\n")
    assert "| Tỷ lệ rời bỏ hằng năm | 75,48% |" in md and "## Ghi chú" in md
    assert "- khung tính rời bỏ 180 ngày: dữ liệu bắt đầu từ 14/02/2023" in md
    assert run_cli("kpis", SHOP, "--format", "md").stdout.startswith("# Retention KPIs, 2023-02-14 to 2024-12-31\n")


def test_customer_and_at_risk_tables_in_vietnamese(tmp_path):
    at_risk = _table(tmp_path, "at-risk", SHOP, "--lang", "vi")
    assert at_risk.startswith("Khách có nguy cơ rời bỏ (1)")
    assert "Lý do" in at_risk and "Phân khúc" in at_risk
    assert "315 ngày chưa mua; thường mua mỗi 19 ngày" in at_risk and "Có nguy cơ" in at_risk
    assert "100,00" in at_risk and "days" not in at_risk
    customers = _table(tmp_path, "customers", SHOP, "--lang", "vi", "--sort", "customer_id", "--ascending")
    assert "Trung thành" in customers and "người giới thiệu" in customers and "330,00" in customers


def test_trend_and_cohorts_in_vietnamese(tmp_path):
    trend = _table(tmp_path, "trend", SHOP, "--lang", "vi")
    assert trend.startswith("Xu hướng theo tháng (* = kỳ chưa trọn vẹn)")
    assert "Kỳ" in trend and "Giữ chân" in trend and "02/2023 *" in trend and "12/2024" in trend
    assert "* kỳ chưa trọn vẹn: 02/2023 — dữ liệu bắt đầu từ 14/02/2023, giữa kỳ" in trend
    assert "2024-12" not in trend
    cohorts = _table(tmp_path, "cohorts", SHOP, "--lang", "vi")
    assert cohorts.startswith("Nhóm khách theo tháng: giữ chân theo khách hàng (trống = sau --to)")
    assert "Nhóm khách" in cohorts and "02/2023 *" in cohorts and "12/2024" in cohorts
    assert "nhóm khách chưa trọn vẹn: 02/2023" in cohorts


def test_files_for_machines_never_change_with_the_language(tmp_path):
    for command in ("kpis", "customers", "at-risk", "trend", "cohorts", "segments"):
        for fmt in ("json", "csv"):
            english = run_cli(command, SHOP, "--format", fmt).stdout
            assert run_cli(command, SHOP, "--format", fmt, "--lang", "vi").stdout == english, (command, fmt)
    for command in ("customers", "trend"):
        files = {lang: tmp_path / f"{command}-{lang}.parquet" for lang in ("en", "vi")}
        for lang, path in files.items():
            assert run_cli(command, SHOP, "--lang", lang, "-o", path).code == 0
        assert files["en"].read_bytes()[:4] == b"PAR1" and files["en"].read_bytes() == files["vi"].read_bytes()


def test_lang_from_the_config_file_for_tables(tmp_path):
    config = tmp_path / "retainkit.toml"
    config.write_text('[options]\nlang = "vi"\n', encoding="utf-8")
    assert "Lý do" in _table(tmp_path, "at-risk", SHOP, "--config", config)
    assert "Why" in _table(tmp_path, "at-risk", SHOP, "--config", config, "--lang", "en")
    bad = tmp_path / "bad.toml"
    bad.write_text('[options]\nlang = "fr"\n', encoding="utf-8")
    run = run_cli("trend", SHOP, "--config", bad)
    assert run.code == 2 and "lang = 'fr' must be one of en, vi" in run.stderr


def test_notes_keep_their_english_text_and_translate_with_their_values():
    start = dt.date(2024, 1, 10)
    note = Note("the data starts %(start)s, inside it", start=start)
    both = joined([note, Note("--from %(start)s is inside it", start=start)])
    assert both == "the data starts 2024-01-10, inside it; --from 2024-01-10 is inside it"
    vi = Style("vi")
    assert vi.note(both) == "dữ liệu bắt đầu từ 10/01/2024, giữa kỳ; --from 10/01/2024 nằm trong kỳ này"
    assert Style().note(both) == str(both) and vi.note("plain text") == "plain text"
    assert vi.labels("2024-01-01..2024-06-30, 2024-12, 2024-W51") == "01/01/2024..30/06/2024, 12/2024, tuần 51/2024"


@pytest.mark.parametrize(("value", "kind", "english", "vietnamese"), [
    (1234.5, "money", "1,234.50", "1.234,50"), (0.4286, "rate", "42.86%", "42,86%"), (12345, "count", "12,345", "12.345"),
    (38.7, "days", "38.7 days", "38,7 ngày"), (True, "alert", "yes", "có"), (None, "rate", "—", "—"),
])
def test_table_values_in_the_readers_digits(value, kind, english, vietnamese):
    from retainkit.render import format_value

    assert (format_value(value, kind), format_value(value, kind, style=Style("vi"))) == (english, vietnamese)
