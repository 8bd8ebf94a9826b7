"""Outputs that cannot be turned against their reader (issue 10, item 3).

Customer ids, product names, headers and file names come from someone else's export. On a
terminal their control characters (ESC/OSC/CSI sequences, BEL, C1) are shown as escapes,
never sent; in Markdown their HTML and link syntax is text, never a tag or a link; the HTML
report stays autoescaped; JSON and CSV keep the data as it is.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from retainkit.safe_text import md_text, visible
from tests.conftest import run_cli

OSC_LINK = "\x1b]8;;http://evil\x07link\x1b]8;;\x07"
CLEAR = "\x1b[2J"
C1_CSI = "\x9b31m"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
JS_LINK = "[x](javascript:alert(1))"
PIPE = "a|b`c`"
PAYLOADS = (OSC_LINK, CLEAR, C1_CSI, SCRIPT, IMG, JS_LINK, PIPE)
#: What a reader sees of each: control characters as escapes, the rest as it is.
SHOWN = {p: visible(p) for p in PAYLOADS}
#: Raw control characters (C0 but tab and newline, DEL, C1).
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: The colours Rich itself sends to a terminal (SGR): the only escape sequences allowed.
SGR = re.compile(r"\x1b\[[0-9;]*m")

MONTHS = [f"{year}-{month:02d}-10" for year in (2023, 2024) for month in range(1, 13)]


def export(folder: Path, name: str = "orders.csv") -> Path:
    """An export whose hostile customers (ids = :data:`PAYLOADS`, each buying a product of
    the same name) buy a lot every month until 2024-06 and then stop: at risk, VIP, lapsed,
    high in every table. The plain customers before them carry a long remark, so that the
    control characters are too few for the file to be taken for binary data."""
    lines = ["customer_id,order_date,amount,product,remark"]
    remark = "plain text " * 110
    for n, date in enumerate(MONTHS):
        lines.append(f"plain{n % 4},{date},{10 + n % 5},tea,{remark}")
    for n, payload in enumerate(PAYLOADS):
        quoted = '"' + payload.replace('"', '""') + '"'
        for date in MONTHS[:18]:
            lines.append(f"{quoted},{date},{900 + 10 * n},{quoted},")
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def orders(tmp_path):
    return export(tmp_path)


@pytest.fixture(params=["pipe", "tty"])
def terminal(request, monkeypatch):
    """Standard output as a pipe, or as a terminal that takes colours (Rich's FORCE_COLOR)."""
    monkeypatch.setenv("COLUMNS", "200")
    if request.param == "tty":
        monkeypatch.setenv("FORCE_COLOR", "1")
    else:
        monkeypatch.delenv("FORCE_COLOR", raising=False)
    return request.param


def assert_no_raw_control(text: str, *, tty: bool = False) -> None:
    """No raw control character in ``text`` (on a terminal, Rich's own colours aside)."""
    left = SGR.sub("", text) if tty else text
    found = RAW_CONTROL.search(left)
    assert found is None, f"raw {found[0]!r} in …{left[max(0, found.start() - 40):found.end() + 40]!r}…"


TABLE_COMMANDS = {
    "kpis": ("kpis",),
    "customers": ("customers",),
    "at-risk": ("at-risk",),
    "at-risk --products": ("at-risk", "--products"),
    "segments": ("segments",),
    "trend": ("trend",),
    "cohorts": ("cohorts",),
    "predict": ("predict", "--penalizer", "0.001"),  # a fit that converges on so few customers
    "inspect": ("inspect",),
}
#: Commands whose table shows customer ids (the others show periods and counts).
SHOWS_IDS = {"customers", "at-risk", "at-risk --products", "predict", "inspect"}


@pytest.mark.parametrize("command", TABLE_COMMANDS, ids=str)
def test_tables_show_control_characters_as_escapes(orders, terminal, command):
    run = run_cli(*TABLE_COMMANDS[command], orders)
    assert run.code == 0, run.stderr
    assert_no_raw_control(run.stdout, tty=terminal == "tty")
    assert_no_raw_control(run.stderr)
    if command in SHOWS_IDS:
        plain = SGR.sub("", run.stdout)
        for payload in (OSC_LINK, CLEAR, C1_CSI):
            assert SHOWN[payload] in plain, (payload, plain)
        assert SCRIPT in plain  # on a terminal, HTML is text


@pytest.mark.parametrize("command", TABLE_COMMANDS, ids=str)
@pytest.mark.parametrize("columns", ["40", "80"])
def test_narrow_tables_and_records_send_no_control_character(orders, monkeypatch, command, columns):
    monkeypatch.setenv("COLUMNS", columns)
    run = run_cli(*TABLE_COMMANDS[command], orders)
    assert run.code == 0, run.stderr
    assert_no_raw_control(run.stdout)


def test_a_table_written_to_a_file_shows_escapes(orders, tmp_path):
    out = tmp_path / "customers.txt"
    assert run_cli("customers", orders, "--output", out).code == 0
    text = out.read_text(encoding="utf-8")
    assert_no_raw_control(text)
    assert SHOWN[CLEAR] in text


# ---------------------------------------------------------------- Markdown

MD_COMMANDS = {
    "kpis": ("kpis", "--format", "md"),
    "customers": ("customers", "--format", "md"),
    "at-risk": ("at-risk", "--format", "md"),
    "at-risk --products": ("at-risk", "--products", "--format", "md"),
    "segments": ("segments", "--format", "md"),
    "trend": ("trend", "--format", "md"),
    "cohorts": ("cohorts", "--format", "md"),
    "predict": ("predict", "--format", "md", "--penalizer", "0.001"),
    "report": ("report", "--format", "md", "--every", "month"),
}
MD_SHOWS_IDS = {"customers", "at-risk", "at-risk --products", "predict", "report"}


def rendered(markdown: str) -> str:
    """``markdown`` as a CommonMark renderer with GFM tables and raw HTML turns it into HTML."""
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(markdown)


def assert_inert(page: str) -> None:
    """No tag or link in ``page`` (rendered HTML) that the data could have made."""
    assert "<script" not in page and "<img" not in page, page
    assert "<a " not in page and "href" not in page, page


def text_of(page: str) -> str:
    """The text a reader sees in rendered HTML."""
    return html_lib.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.mark.parametrize("command", MD_COMMANDS, ids=str)
def test_markdown_makes_no_tag_link_or_control_sequence(orders, command):
    run = run_cli(*MD_COMMANDS[command], orders)
    assert run.code in (0, 1), run.stderr  # report: 1 is not possible without --fail-on-alert
    assert_no_raw_control(run.stdout)
    assert_no_raw_control(run.stderr)
    page = rendered(run.stdout)
    assert_inert(page)
    if command in MD_SHOWS_IDS:
        shown = text_of(page)
        for payload in PAYLOADS:
            assert SHOWN[payload] in shown, (payload, shown)  # whole: no cell broken by | or `
        assert "http://evil" not in run.stdout  # a bare URL is not one a renderer links


def test_markdown_cells_keep_their_columns(orders):
    """Every row of a Markdown table has as many cells as its header: ``|`` from the data
    breaks none."""
    markdown = run_cli("at-risk", orders, "--products", "--format", "md").stdout
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    cells = [len(re.split(r"(?<!\\)\|", row)) for row in rows]
    assert len(set(cells)) == 1, rows


def test_markdown_notes_and_file_names_are_escaped(tmp_path):
    """Two copies of an export named with a payload: the overlap lines and notes of ``kpis
    --format md`` name the files as text."""
    folder = tmp_path / "exports"
    folder.mkdir()
    export(folder, f"{IMG}.csv")  # a file name holds no /
    export(folder, f"{JS_LINK}.csv")
    run = run_cli("kpis", folder, "--format", "md")
    assert run.code == 0, run.stderr
    page = rendered(run.stdout)
    assert_inert(page)
    assert f"{IMG}.csv" in text_of(page) and f"{JS_LINK}.csv" in text_of(page)


def test_md_text_escapes_what_markdown_would_read():
    for payload in PAYLOADS:
        page = rendered(f"| a |\n|---|\n| {md_text(payload)} |\n\n{md_text(payload, line_start=True)}\n")
        assert_inert(page)
        assert text_of(page).count(SHOWN[payload]) == 2, page
    for payload in ("# heading", "> quote", "- item", "1. item", "---", "*em* _em_ ~~s~~", "<!-- c -->",
                    "&lt;b&gt;", "www.evil.example", "https://evil.example", "a@evil.example", "\\`x\\`"):
        page = rendered(md_text(payload, line_start=True) + "\n")
        assert page.startswith("<p>") and page.count("<") == 2, (payload, page)  # one paragraph, nothing inside
        assert text_of(page).strip() == payload, (payload, page)


# ---------------------------------------------------------------- HTML


def test_html_report_is_autoescaped(orders, tmp_path):
    run = run_cli("report", orders, "--format", "html", "--every", "month")
    assert run.code == 0, run.stderr
    page = run.stdout
    assert "<script" not in page and "<img" not in page
    assert not re.search(r"""href\s*=\s*["']?\s*javascript""", page, re.I)
    assert not re.search(r"<a\b", page)
    assert_no_raw_control(page)
    for payload in (SCRIPT, IMG, JS_LINK):
        assert html_lib.escape(payload, quote=False) in page or html_lib.escape(payload) in page, payload
    assert html_lib.escape(SHOWN[OSC_LINK]) in page


# ---------------------------------------------------------------- data files keep the data


def test_json_and_csv_keep_the_data_as_it_is(orders):
    rows = run_cli("customers", orders, "--format", "json").json()["rows"]
    ids = {row[0] for row in rows}
    assert set(PAYLOADS) <= ids
    csv_text = run_cli("customers", orders, "--format", "csv").stdout
    assert OSC_LINK in csv_text and SCRIPT in csv_text
    jsonl = [json.loads(line) for line in run_cli("customers", orders, "--format", "jsonl").stdout.splitlines()]
    assert set(PAYLOADS) <= {row["customer_id"] for row in jsonl}


# ---------------------------------------------------------------- errors


def padded(path: Path, header: str, *first: str) -> Path:
    """A small export under ``header`` (its ``first`` rows, then plain ones), with enough
    plain text for its control characters not to make it look binary."""
    lines = [header, *first] + [f"c{n},2024-01-{n + 1:02d},{10 + n},{'x' * 60}" for n in range(20)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_an_error_echoing_a_header_shows_its_escapes(tmp_path):
    path = padded(tmp_path / "a.csv", "cust\x1b[31momer,order_date,amount,remark")
    run = run_cli("kpis", path)
    assert run.code == 2
    assert "\x1b" not in run.stderr and "\\x1b[31m" in run.stderr, run.stderr
    assert run.stderr.count("\n") == 1


def test_an_error_echoing_a_value_shows_its_escapes(orders):
    run = run_cli("customers", orders, "--sort", f"revenue{OSC_LINK}")
    assert run.code == 2
    assert_no_raw_control(run.stderr)
    assert SHOWN[OSC_LINK] in run.stderr and run.stderr.count("\n") == 1


def test_a_usage_error_shows_its_escapes(orders):
    run = run_cli("trend", orders, "--every", f"month{CLEAR}\n{C1_CSI}")
    assert run.code == 2
    assert_no_raw_control(run.stderr)
    assert SHOWN[CLEAR] in run.stderr and ("\\x9b31m" in run.stderr or SHOWN[C1_CSI] in run.stderr)
    assert run.stderr.count("\n") == 1


def test_inspect_shows_hostile_headers_and_file_names_as_text(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    folder = tmp_path / f"in{CLEAR}"
    folder.mkdir()
    path = padded(folder / f"orders{C1_CSI}.csv", f'customer_id,order_date,amount,"{SCRIPT}{CLEAR}{C1_CSI}"',
                  f'"{OSC_LINK}",2024-02-01,10,x')
    run = run_cli("inspect", path)
    assert run.code == 0, run.stderr
    assert_no_raw_control(run.stdout)
    assert_no_raw_control(run.stderr)
    for shown in (visible(f"{SCRIPT}{CLEAR}{C1_CSI}"), f"in{SHOWN[CLEAR]}", f"orders{SHOWN[C1_CSI]}.csv",
                  SHOWN[OSC_LINK]):
        assert shown in run.stdout, (shown, run.stdout)
